package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// serviceTimeout bounds one nebula-lite service command (start waits up to
// 30s for a daemon to listen, stop up to 10s before SIGKILL).
const serviceTimeout = 2 * time.Minute

// HealthCheck answers "ok" and the agent's version.
func (s *Server) HealthCheck(ctx context.Context, _ *pb.Empty) (*pb.HealthCheckResponse, error) {
	return &pb.HealthCheckResponse{Status: "ok", Version: s.cfg.Version, RestoreInit: s.cfg.RestoreInit, DataPaths: s.cfg.DataPaths}, nil
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

// StartService starts a role through `nebula-lite service start`.
func (s *Server) StartService(ctx context.Context, req *pb.ServiceRequest) (*pb.Empty, error) {
	if _, err := s.serviceCmd(ctx, "start", req); err != nil {
		return nil, err
	}
	s.hb.nudge()
	return &pb.Empty{}, nil
}

// StopService stops a role through `nebula-lite service stop`.
func (s *Server) StopService(ctx context.Context, req *pb.ServiceRequest) (*pb.Empty, error) {
	if _, err := s.serviceCmd(ctx, "stop", req); err != nil {
		return nil, err
	}
	return &pb.Empty{}, nil
}

var pidRE = regexp.MustCompile(`running, pid (\d+)`)

// ServiceStatus asks `nebula-lite service status`: exit 0 is running (with
// the pid it prints), exit 3 is not running.
func (s *Server) ServiceStatus(ctx context.Context, req *pb.ServiceRequest) (*pb.ServiceStatusResponse, error) {
	out, err := s.serviceCmd(ctx, "status", req)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			return &pb.ServiceStatusResponse{Running: false}, nil
		}
		return nil, err
	}
	resp := &pb.ServiceStatusResponse{Running: true}
	if m := pidRE.FindStringSubmatch(out); m != nil {
		pid, _ := strconv.Atoi(m[1])
		resp.Pid = int32(pid)
	}
	return resp, nil
}

func roleName(r pb.ServiceRole) (string, meta.HostRole, error) {
	switch r {
	case pb.ServiceRole_METAD:
		return "metad", meta.HostRole_META, nil
	case pb.ServiceRole_STORAGED:
		return "storaged", meta.HostRole_STORAGE, nil
	case pb.ServiceRole_GRAPHD:
		return "graphd", meta.HostRole_GRAPH, nil
	}
	return "", 0, status.Errorf(codes.InvalidArgument, "role %v: use METAD, STORAGED or GRAPHD", r)
}

// serviceError carries the exec error for ServiceStatus's exit code check.
type serviceError struct {
	st  *status.Status
	err error
}

func (e *serviceError) Error() string              { return e.st.Err().Error() }
func (e *serviceError) GRPCStatus() *status.Status { return e.st }
func (e *serviceError) Unwrap() error              { return e.err }

// serviceCmd runs `nebula-lite service ACTION ROLE --root ROOT` and returns
// its output; a failure is a status error carrying that output.
func (s *Server) serviceCmd(ctx context.Context, action string, req *pb.ServiceRequest) (string, error) {
	role, hostRole, err := roleName(req.Role)
	if err != nil {
		return "", err
	}
	root := req.Root
	if root == "" {
		r, hbErr := s.hb.root(hostRole)
		if r == "" {
			if s.cfg.MetaAddr == "" {
				return "", status.Errorf(codes.FailedPrecondition,
					"%s %s: no root given, and the agent runs without --meta, so metad cannot tell it the install root", action, role)
			}
			why := "no heartbeat answered yet"
			if hbErr != nil {
				why = "last heartbeat: " + hbErr.Error()
			}
			return "", status.Errorf(codes.FailedPrecondition,
				"%s %s: no root given and metad %s has reported no install root for %s (%s)", action, role, s.cfg.MetaAddr, s.cfg.Addr, why)
		}
		root = r
	}
	if !filepath.IsAbs(root) {
		return "", status.Errorf(codes.InvalidArgument, "root %q is not an absolute path", root)
	}
	bin, err := s.nebulaLite()
	if err != nil {
		return "", status.Errorf(codes.FailedPrecondition, "%s %s: %v", action, role, err)
	}
	ctx, cancel := context.WithTimeout(ctx, serviceTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "service", action, role, "--root", root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Daemons started here must not die with the agent (nebula-lite
	// detaches them itself); the command's own output is all we keep.
	err = cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		code := codes.Internal
		if ctx.Err() != nil {
			code = codes.DeadlineExceeded
		}
		return text, &serviceError{
			st:  status.Newf(code, "%s service %s %s --root %s on %s: %v: %s", filepath.Base(bin), action, role, root, s.cfg.Addr, err, text),
			err: err,
		}
	}
	s.log.Debug("service command", "action", action, "role", role, "root", root, "output", text)
	return text, nil
}

// nebulaLite finds the nebula-lite binary: --nebula-lite, else beside our
// executable, else on PATH.
func (s *Server) nebulaLite() (string, error) {
	if s.cfg.NebulaLite != "" {
		return s.cfg.NebulaLite, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "nebula-lite")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("nebula-lite")
	if err != nil {
		return "", fmt.Errorf("nebula-lite binary not found (set --nebula-lite): %w", err)
	}
	return p, nil
}
