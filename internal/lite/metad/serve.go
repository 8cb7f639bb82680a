package metad

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/rpc"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

// ServeConfig configures a metad process (NebulaGraph's flag names).
type ServeConfig struct {
	LocalIP  string // --local_ip
	Port     int    // --port
	DataPath string // --data_path
	Root     string
	// HostTimeout: a host without a heartbeat for this long is offline
	// (default 30s: three of NebulaGraph's default 10s heartbeats).
	HostTimeout time.Duration
	// AgentTimeout: the same for agents (default 300s, NebulaGraph's).
	AgentTimeout time.Duration
	Logger       *slog.Logger
}

// Server is a running metad.
type Server struct {
	*Metad
	srv *rpc.Server
}

// Start opens the state and serves MetaService.
func Start(cfg ServeConfig) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := Open(Config{
		Addr:     Addr{Host: cfg.LocalIP, Port: int32(cfg.Port)},
		DataPath: cfg.DataPath, Root: cfg.Root, Logger: cfg.Logger,
		HostTimeout: cfg.HostTimeout, AgentTimeout: cfg.AgentTimeout, Admin: dialAdmin,
	})
	if err != nil {
		return nil, err
	}
	srv, err := rpc.Listen(rpc.ListenAddr(cfg.LocalIP, cfg.Port), meta.NewMetaServiceProcessor(NewHandler(m)), cfg.Logger)
	if err != nil {
		m.Close()
		return nil, err
	}
	cfg.Logger.Info("metad serving", "addr", net.JoinHostPort(cfg.LocalIP, strconv.Itoa(cfg.Port)), "cluster_id", m.ClusterID())
	return &Server{Metad: m, srv: srv}, nil
}

// Stop stops serving and closes the state.
func (s *Server) Stop() error {
	s.srv.Stop()
	return s.Metad.Close()
}

// adminClient adapts the typed storage admin client to Admin.
type adminClient struct{ c *client.StorageAdminClient }

func dialAdmin(ctx context.Context, a Addr) (Admin, error) {
	c, err := client.NewStorageAdminClient(net.JoinHostPort(a.Host, strconv.Itoa(rpc.StorageAdminPort(int(a.Port)))), client.Options{})
	if err != nil {
		return nil, err
	}
	return adminClient{c}, nil
}

func spaceIDs(ids []int32) []nebula.GraphSpaceID {
	out := make([]nebula.GraphSpaceID, len(ids))
	for i, id := range ids {
		out[i] = nebula.GraphSpaceID(id)
	}
	return out
}

func (a adminClient) BlockingWrites(ctx context.Context, spaces []int32, on bool, o client.CutOptions) error {
	sign := storage.EngineSignType_BLOCK_OFF
	if on {
		sign = storage.EngineSignType_BLOCK_ON
	}
	return a.c.BlockingWritesWith(ctx, spaceIDs(spaces), sign, o)
}

func (a adminClient) CreateCheckpoint(ctx context.Context, spaces []int32, name string, o client.CutOptions) ([]CheckpointInfo, error) {
	infos, err := a.c.CreateCheckpointWith(ctx, spaceIDs(spaces), name, o)
	if err != nil {
		return nil, err
	}
	var out []CheckpointInfo
	for _, in := range infos {
		cp := CheckpointInfo{SpaceID: int32(in.SpaceID), DataPath: string(in.DataPath), Parts: map[int32]LogInfo{}}
		for p, li := range in.Parts {
			cp.Parts[int32(p)] = LogInfo{LogID: int64(li.LogID), TermID: int64(li.TermID), CommitLogID: int64(li.CommitLogID), CheckpointPath: string(li.CheckpointPath)}
		}
		out = append(out, cp)
	}
	return out, nil
}

func (a adminClient) DropCheckpoint(ctx context.Context, spaces []int32, name string) error {
	return a.c.DropCheckpoint(ctx, spaceIDs(spaces), name)
}

func (a adminClient) Close() error { return a.c.Close() }

func (a adminClient) TransLeader(ctx context.Context, space, part int32, to Addr) error {
	return a.c.TransLeader(ctx, nebula.GraphSpaceID(space), nebula.PartitionID(part), &nebula.HostAddr{Host: to.Host, Port: nebula.Port(to.Port)})
}
