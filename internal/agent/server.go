// Package agent is br-agent's server: the daemon beside every metad and
// storaged that moves files between the host's data directories and
// external storage (StorageService), plays restored data back and manages
// the host's services in local mode (AgentService). It serves two APIs on
// one port: ours, versioned (internal/agent/pb/agent.proto), and
// nebula-agent's as upstream defines it (upstream.go). The services and the
// playback go through an engine adapter (internal/agent/engine);
// internal/agent/client is the client.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/nebula-open/nebula-br/internal/agent/engine"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	upb "github.com/nebula-open/nebula-br/internal/agent/upstreampb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// DefaultPort is the agent's standard port.
const DefaultPort = 8888

// DefaultConcurrency is how many files one transfer moves in parallel when
// the request does not say.
const DefaultConcurrency = 4

// maxConcurrency caps a request's concurrency.
const maxConcurrency = 64

// MaxMsgSize bounds gRPC messages both ways: a transfer's file list (the
// final Progress, a DownloadFileRequest) can be large.
const MaxMsgSize = 256 << 20

// OpenFunc opens a storage root; objstore.Open by default.
type OpenFunc func(ctx context.Context, uri string, cfg objstore.Config) (objstore.Store, error)

// Config configures a Server.
type Config struct {
	// Addr is the agent's identity, host:port, as reported to metad. The
	// host must be the name metad knows this host's services by.
	Addr string
	// MetaAddr is metad's host:port; empty: no heartbeat.
	MetaAddr string
	// HeartbeatInterval between agentHeartbeat calls (default 60s).
	HeartbeatInterval time.Duration
	// RateLimitMbps bounds the bytes moved by all transfers together, in
	// megabits per second; 0: unlimited.
	RateLimitMbps float64
	// Engine manages the services beside the agent (nil: chooseEngine).
	Engine engine.Engine
	// NebulaLite is the nebula-lite binary, for the nebula-lite engine.
	NebulaLite string
	// Version is reported by HealthCheck and in heartbeats.
	Version string
	// Logger receives the agent's log (default slog.Default()).
	Logger *slog.Logger
	// Open opens storage roots (default objstore.Open); tests inject faults.
	Open OpenFunc
	// RestoreInit runs the agent as a restore's init container: it serves
	// until StopAgent, which marks every data path as restored (so a pod
	// restart does not wait again) and stops it.
	RestoreInit bool
	// DataPaths are the data directories of the service beside the agent.
	DataPaths []string
	// UpstreamOnly serves nebula-agent's API alone, as upstream's agent
	// does: to check clients against such an agent (br-agent --api upstream).
	UpstreamOnly bool
	// RetryBackoff are the waits before each retry of a failed file
	// (default 100ms, 400ms, 1.6s: three retries).
	RetryBackoff []time.Duration
}

// DefaultRetryBackoff is Config.RetryBackoff's default.
var DefaultRetryBackoff = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 1600 * time.Millisecond}

// Server implements both services of agent.proto.
type Server struct {
	pb.UnimplementedStorageServiceServer
	pb.UnimplementedAgentServiceServer

	cfg     Config
	engine  engine.Engine
	log     *slog.Logger
	limiter *limiter
	grpc    *grpc.Server
	hb      *heartbeat

	stopOnce sync.Once
	stopped  chan struct{}

	// writeMu serialises WriteFile (its compare-and-swap).
	writeMu sync.Mutex

	// RestoreData jobs by id; jobCtx is their parent (not any call's),
	// cancelled when the agent stops.
	jobsMu    sync.Mutex
	jobs      map[string]*restoreJob
	jobCtx    context.Context
	jobCancel context.CancelFunc
	jobsWG    sync.WaitGroup
}

// New makes a server; Serve runs it.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("agent: address (--agent host:port) not set")
	}
	if host, _, err := splitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("agent: --agent %q: %w", cfg.Addr, err)
	} else if host == "" {
		return nil, fmt.Errorf("agent: --agent %q: the identity needs a host (the name metad knows this host by)", cfg.Addr)
	}
	if cfg.RateLimitMbps < 0 {
		return nil, fmt.Errorf("agent: --ratelimit %v: must be >= 0", cfg.RateLimitMbps)
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Open == nil {
		cfg.Open = objstore.Open
	}
	if cfg.RetryBackoff == nil {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		limiter: newLimiter(cfg.RateLimitMbps),
		stopped: make(chan struct{}),
		jobs:    map[string]*restoreJob{},
		engine:  chooseEngine(cfg),
	}
	s.jobCtx, s.jobCancel = context.WithCancel(context.Background())
	s.hb = newHeartbeat(s)
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMsgSize),
		grpc.MaxSendMsgSize(MaxMsgSize),
		grpc.ChainUnaryInterceptor(s.logUnary),
		grpc.ChainStreamInterceptor(s.logStream),
	)
	if !cfg.UpstreamOnly {
		pb.RegisterStorageServiceServer(s.grpc, s)
		pb.RegisterAgentServiceServer(s.grpc, s)
	}
	upb.RegisterStorageServiceServer(s.grpc, &upstreamStorage{s: s})
	upb.RegisterAgentServiceServer(s.grpc, &upstreamAgent{s: s})
	return s, nil
}

// Addr is the agent's identity.
func (s *Server) Addr() string { return s.cfg.Addr }

// Serve serves on lis and heartbeats to metad until Stop (or StopAgent).
// It returns nil after a stop.
func (s *Server) Serve(lis net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the heartbeat loop
	if s.cfg.MetaAddr != "" {
		go s.hb.run(ctx)
	}
	s.log.Info("br-agent serving", "agent", s.cfg.Addr, "listen", lis.Addr().String(), "meta", s.cfg.MetaAddr,
		"ratelimit_mbps", s.cfg.RateLimitMbps, "engine", s.engine.Name(), "version", s.cfg.Version)
	err := s.grpc.Serve(lis)
	select {
	case <-s.stopped:
		return nil
	default:
	}
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop stops gracefully: running transfers finish first (up to grace,
// after which they are cut off). RestoreData jobs still running are then
// cancelled (their journals let a new request resume them) and waited for
// up to grace.
func (s *Server) Stop(grace time.Duration) {
	s.stopOnce.Do(func() {
		close(s.stopped)
		s.log.Info("br-agent stopping")
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(grace):
			s.log.Warn("br-agent: grace period over, cutting off running calls", "grace", grace)
			s.grpc.Stop()
			<-done
		}
		s.stopJobs(grace)
	})
}

// Stopped is closed once a stop has begun.
func (s *Server) Stopped() <-chan struct{} { return s.stopped }

// splitHostPort checks host:port; the host may be empty (all interfaces).
func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, p, nil
}
