package agent

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	upb "github.com/nebula-open/nebula-br/internal/agent/upstreampb"
)

// quiet methods are logged at debug level only (they are frequent).
var quiet = map[string]bool{
	pb.AgentService_HealthCheck_FullMethodName:   true,
	pb.AgentService_ServiceStatus_FullMethodName: true,
	pb.StorageService_ExistDir_FullMethodName:    true,
	// Polled, and the journal's lease renewals (a failure is still a warning).
	pb.AgentService_RestoreDataStatus_FullMethodName: true,
	pb.StorageService_ReadFile_FullMethodName:        true,
	pb.StorageService_WriteFile_FullMethodName:       true,
	pb.StorageService_StatDisk_FullMethodName:        true,
	upb.AgentService_HealthCheck_FullMethodName:      true,
	upb.AgentService_ServiceStatus_FullMethodName:    true,
	upb.StorageService_ExistDir_FullMethodName:       true,
}

func shortMethod(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[i+1:]
	}
	return full
}

// logCall logs one finished call with its (redacted) request.
func (s *Server) logCall(ctx context.Context, method string, req proto.Message, start time.Time, err error) {
	level := slog.LevelInfo
	if quiet[method] {
		level = slog.LevelDebug
	}
	attrs := []any{"method", shortMethod(method), "req", logText(req), "elapsed", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		st := status.Convert(err)
		level = slog.LevelWarn
		if st.Code() == codes.Canceled {
			level = slog.LevelInfo
		}
		attrs = append(attrs, "code", st.Code().String(), "err", st.Message())
	}
	s.log.Log(ctx, level, "call", attrs...)
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	m, _ := req.(proto.Message)
	s.logCall(ctx, info.FullMethod, m, start, err)
	return resp, err
}

func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	w := &recordingStream{ServerStream: ss}
	err := handler(srv, w)
	s.logCall(ss.Context(), info.FullMethod, w.request(), start, err)
	return err
}

// recordingStream remembers the request of a server-streaming call.
type recordingStream struct {
	grpc.ServerStream
	mu  sync.Mutex
	req proto.Message
}

func (r *recordingStream) RecvMsg(m any) error {
	err := r.ServerStream.RecvMsg(m)
	if err == nil {
		if pm, ok := m.(proto.Message); ok {
			r.mu.Lock()
			if r.req == nil {
				r.req = pm
			}
			r.mu.Unlock()
		}
	}
	return err
}

func (r *recordingStream) request() proto.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.req
}
