// Package storaged is nebula-lite's storage service: partitioned data with
// a WAL per part (package kv), graphd's data calls (LiteStorageService on
// the service port) and the backup side (StorageAdminService on port - 1, as in NebulaGraph).
package storaged

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/lite/raftpart"
	"github.com/nebula-open/nebula-br/internal/lite/rpc"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

// Config of a storaged (NebulaGraph's flag names in comments).
type Config struct {
	LocalIP           string        // --local_ip: identity, an IP or a DNS name
	Port              int           // --port (admin service on port-1, raft on port+1)
	MetaAddr          string        // --meta_server_addrs (first one)
	DataPath          string        // --data_path
	Root              string        // install root, reported to metad
	WALTTL            time.Duration // --wal_ttl
	WALFileSize       int64         // --wal_file_size
	WALSync           bool          // --wal_sync
	HeartbeatInterval time.Duration // --heartbeat_interval_secs
	Version           string
	RaftTick          time.Duration // raft's tick (elections after 10); default 100ms
	Kv                kv.Options    // fault injection and tuning
	Logger            *slog.Logger
}

// Server is a running storaged.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *kv.Store
	meta  *client.MetaClient
	raft  *raftpart.Transport // replicas of the parts of spaces with replica_factor > 1

	refreshMu sync.Mutex
	known     map[int32]bool // spaces metad has listed since start

	servers []*rpc.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Addr is the storaged's identity as metad knows it.
func (c Config) Addr() *nebula.HostAddr {
	return &nebula.HostAddr{Host: c.LocalIP, Port: nebula.Port(c.Port)}
}

// Start opens the store, registers with metad and serves.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 10 * time.Second
	}
	kvOpts := cfg.Kv
	kvOpts.DataPath, kvOpts.WALFileSize, kvOpts.WALSync = cfg.DataPath, cfg.WALFileSize, cfg.WALSync
	kvOpts.ReplayBound = raftpart.ReplayBound // replicated parts replay only committed entries
	store, err := kv.Open(kvOpts)
	if err != nil {
		return nil, err
	}
	if cfg.RaftTick <= 0 {
		cfg.RaftTick = 100 * time.Millisecond
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: store, known: map[int32]bool{}}
	s.meta, err = client.NewMetaClient(cfg.MetaAddr, client.Options{})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("storaged: reach metad: %w", err)
	}
	s.raft, err = raftpart.Listen(rpc.ListenAddr(cfg.LocalIP, rpc.StorageRaftPort(cfg.Port)), s.log)
	if err != nil {
		s.meta.Close()
		store.Close()
		return nil, err
	}
	for _, svc := range []struct {
		port int
		proc thrift.TProcessor
	}{
		{cfg.Port, storage.NewLiteStorageServiceProcessor(dataHandler{s})},
		{rpc.StorageAdminPort(cfg.Port), storage.NewStorageAdminServiceProcessor(adminHandler{s})},
	} {
		srv, err := rpc.Listen(rpc.ListenAddr(cfg.LocalIP, svc.port), svc.proc, s.log)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.servers = append(s.servers, srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	// Register before answering: metad places parts only on live hosts.
	if err := s.heartbeat(ctx); err != nil {
		s.log.Warn("first heartbeat failed; retrying", "err", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rpc.Every(ctx, cfg.HeartbeatInterval, func() {
			if err := s.heartbeat(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("heartbeat failed", "meta", cfg.MetaAddr, "err", err)
			}
		})
	}()
	if cfg.WALTTL > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			interval := min(max(cfg.WALTTL/4, time.Second), time.Minute)
			rpc.Every(ctx, interval, func() {
				removed, err := s.store.CleanWAL(cfg.WALTTL, time.Now())
				if err != nil {
					s.log.Warn("wal cleanup failed", "err", err)
				}
				if len(removed) > 0 {
					s.log.Info("wal files expired", "removed", len(removed), "wal_ttl", cfg.WALTTL)
				}
			})
		}()
	}
	s.log.Info("storaged serving", "addr", net.JoinHostPort(cfg.LocalIP, strconv.Itoa(cfg.Port)), "data_path", cfg.DataPath)
	return s, nil
}

// Stop shuts the services down and closes the store (flushing it).
func (s *Server) Stop() error {
	if s.cancel != nil {
		s.cancel()
	}
	for _, srv := range s.servers {
		srv.Stop()
	}
	s.wg.Wait()
	if s.meta != nil {
		s.meta.Close()
	}
	if s.raft != nil {
		for _, r := range s.raft.Replicas() {
			r.Close()
		}
		s.raft.Close()
	}
	return s.store.Close()
}

// Store exposes the engine (tests).
func (s *Server) Store() *kv.Store { return s.store }

func (s *Server) heartbeat(ctx context.Context) error {
	dir := &nebula.DirInfo{Root: []byte(s.cfg.Root), Data: [][]byte{[]byte(s.cfg.DataPath)}}
	// The parts this host leads, as NebulaGraph's storaged reports them.
	leaders := map[nebula.GraphSpaceID][]*meta.LeaderInfo{}
	for _, r := range s.raft.Replicas() {
		if r.IsLeader() {
			sp := nebula.GraphSpaceID(r.Part().SpaceID())
			leaders[sp] = append(leaders[sp], &meta.LeaderInfo{PartID: nebula.PartitionID(r.Part().ID()), Term: int64(r.Term())})
		}
	}
	_, err := s.meta.HeartBeat(ctx, &meta.HBReq{
		Role: meta.HostRole_STORAGE, Host: s.cfg.Addr(), Dir: dir,
		GitInfoSha: []byte("nebula-lite"), Version: []byte(s.cfg.Version), LeaderPartIds: leaders,
	})
	if err != nil {
		return err
	}
	return s.refreshParts(ctx)
}

// refreshParts opens the parts metad places on this host and drops the
// spaces metad has dropped (only those it listed before: a store is never
// wiped because it talks to a metad that does not know it yet).
func (s *Server) refreshParts(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	spaces, err := s.meta.ListSpaces(ctx)
	if err != nil {
		return err
	}
	self := s.cfg.Addr()
	listed := map[int32]bool{}
	for _, sp := range spaces {
		if sp.ID == nil || sp.ID.SpaceID == nil {
			continue
		}
		id := int32(*sp.ID.SpaceID)
		listed[id] = true
		s.known[id] = true
		alloc, err := s.meta.GetPartsAlloc(ctx, nebula.GraphSpaceID(id))
		if err != nil {
			return err
		}
		for part, hosts := range alloc {
			for _, h := range hosts {
				if h.Host == self.Host && h.Port == self.Port {
					p, err := s.store.AddPart(id, int32(part))
					if err != nil {
						return err
					}
					if len(hosts) > 1 {
						if err := s.openReplica(p, hosts); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	for id := range s.known {
		if !listed[id] {
			delete(s.known, id)
			s.log.Info("space dropped by metad: removing its data", "space", id)
			for _, r := range s.raft.Replicas() {
				if r.Part().SpaceID() == id {
					r.Close()
				}
			}
			if err := s.store.DropSpace(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// part finds a part, asking metad once when this host does not hold it
// yet (a space created a moment ago).
func (s *Server) part(ctx context.Context, space, part int32) (*kv.Part, error) {
	if sp := s.store.Space(space); sp != nil {
		if p := sp.Part(part); p != nil {
			return p, nil
		}
	}
	if err := s.refreshParts(ctx); err != nil {
		return nil, err
	}
	if sp := s.store.Space(space); sp != nil {
		if p := sp.Part(part); p != nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("space %d part %d: %w", space, part, kv.ErrPartNotFound)
}

// openReplica starts this host's member of a replicated part's raft group,
// once.
func (s *Server) openReplica(p *kv.Part, hosts []*nebula.HostAddr) error {
	if s.raft.Replica(p.SpaceID(), p.ID()) != nil {
		return nil
	}
	peers := make([]string, len(hosts))
	for i, h := range hosts {
		peers[i] = net.JoinHostPort(h.Host, strconv.Itoa(int(h.Port)))
	}
	self := net.JoinHostPort(s.cfg.LocalIP, strconv.Itoa(s.cfg.Port))
	_, err := raftpart.Open(p, peers, self, s.raft, s.cfg.RaftTick, s.log)
	return err
}

// Raft exposes the replicas (tests, BALANCE LEADER).
func (s *Server) Raft() *raftpart.Transport { return s.raft }
