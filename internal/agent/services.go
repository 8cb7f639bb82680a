package agent

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/engine"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// HealthCheck answers "ok" and the agent's version.
func (s *Server) HealthCheck(ctx context.Context, _ *pb.Empty) (*pb.HealthCheckResponse, error) {
	return &pb.HealthCheckResponse{Status: "ok", Version: s.cfg.Version, RestoreInit: s.cfg.RestoreInit, DataPaths: s.cfg.DataPaths, Engine: s.engine.Name()}, nil
}

// RestoreInitMarker is the file a restore-init agent leaves in each data
// path when its stage is over.
const RestoreInitMarker = ".nebula-restore-init-done"

// RestoreInitDone reports whether a restore-init agent already finished
// for these data paths: a restarted pod must not wait for the operator.
func RestoreInitDone(dataPaths []string) bool {
	for _, p := range dataPaths {
		if _, err := os.Stat(filepath.Join(p, RestoreInitMarker)); err == nil {
			return true
		}
	}
	return false
}

// StopAgent replies, then stops the agent gracefully.
func (s *Server) StopAgent(ctx context.Context, _ *pb.Empty) (*pb.Empty, error) {
	if s.cfg.RestoreInit {
		for _, p := range s.cfg.DataPaths {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, status.Errorf(codes.Internal, "mark %s restored: %v", p, err)
			}
			if err := os.WriteFile(filepath.Join(p, RestoreInitMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
				return nil, status.Errorf(codes.Internal, "mark %s restored: %v", p, err)
			}
		}
		s.log.Info("restore init stage done: stopping", "data_paths", s.cfg.DataPaths)
	}
	go func() {
		// Let the reply go out first; GracefulStop waits for this call too.
		time.Sleep(50 * time.Millisecond)
		s.Stop(30 * time.Second)
	}()
	return &pb.Empty{}, nil
}

// StartService starts a role through the engine adapter.
func (s *Server) StartService(ctx context.Context, req *pb.ServiceRequest) (*pb.Empty, error) {
	role, root, err := s.serviceTarget("start", req.Role, req.Root)
	if err != nil {
		return nil, err
	}
	if err := s.engine.Start(ctx, role, root); err != nil {
		return nil, s.onHost(err)
	}
	s.hb.nudge()
	return &pb.Empty{}, nil
}

// StopService stops a role through the engine adapter.
func (s *Server) StopService(ctx context.Context, req *pb.ServiceRequest) (*pb.Empty, error) {
	role, root, err := s.serviceTarget("stop", req.Role, req.Root)
	if err != nil {
		return nil, err
	}
	if err := s.engine.Stop(ctx, role, root); err != nil {
		return nil, s.onHost(err)
	}
	return &pb.Empty{}, nil
}

// ServiceStatus reports whether a role runs, and its pid when known.
func (s *Server) ServiceStatus(ctx context.Context, req *pb.ServiceRequest) (*pb.ServiceStatusResponse, error) {
	role, root, err := s.serviceTarget("status", req.Role, req.Root)
	if err != nil {
		return nil, err
	}
	st, err := s.engine.Status(ctx, role, root)
	if err != nil {
		return nil, s.onHost(err)
	}
	return &pb.ServiceStatusResponse{Running: st.Running, Pid: int32(st.Pid)}, nil
}

func roleName(r pb.ServiceRole) (engine.Role, meta.HostRole, error) {
	switch r {
	case pb.ServiceRole_METAD:
		return engine.Metad, meta.HostRole_META, nil
	case pb.ServiceRole_STORAGED:
		return engine.Storaged, meta.HostRole_STORAGE, nil
	case pb.ServiceRole_GRAPHD:
		return engine.Graphd, meta.HostRole_GRAPH, nil
	}
	return "", 0, status.Errorf(codes.InvalidArgument, "role %v: use METAD, STORAGED or GRAPHD", r)
}

// serviceTarget resolves a request's role and install root; no root means
// the one metad reported for this host's service of that role.
func (s *Server) serviceTarget(action string, r pb.ServiceRole, root string) (engine.Role, string, error) {
	role, hostRole, err := roleName(r)
	if err != nil {
		return "", "", err
	}
	if root != "" {
		return role, root, nil
	}
	root, hbErr := s.hb.root(hostRole)
	if root != "" {
		return role, root, nil
	}
	if s.cfg.MetaAddr == "" {
		return "", "", status.Errorf(codes.FailedPrecondition,
			"%s %s: no root given, and the agent runs without --meta, so metad cannot tell it the install root", action, role)
	}
	why := "no heartbeat answered yet"
	if hbErr != nil {
		why = "last heartbeat: " + hbErr.Error()
	}
	return "", "", status.Errorf(codes.FailedPrecondition,
		"%s %s: no root given and metad %s has reported no install root for %s (%s)", action, role, s.cfg.MetaAddr, s.cfg.Addr, why)
}

// onHost adds the agent's address to an engine error, keeping its code.
func (s *Server) onHost(err error) error {
	st := status.Convert(err)
	return status.Errorf(st.Code(), "on %s (%s engine): %s", s.cfg.Addr, s.engine.Name(), st.Message())
}

// chooseEngine is Config.Engine, else nebula-lite when its binary is
// found (--nebula-lite, beside br-agent, on PATH), else NebulaGraph.
func chooseEngine(cfg Config) engine.Engine {
	if cfg.Engine != nil {
		return cfg.Engine
	}
	if bin, err := engine.FindNebulaLite(cfg.NebulaLite); err == nil {
		return engine.NebulaLite{Bin: bin}
	}
	return engine.NebulaGraph{}
}
