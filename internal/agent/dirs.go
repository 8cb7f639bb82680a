package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// MoveDir renames src to dst; dst must not exist (its parent is created).
func (s *Server) MoveDir(ctx context.Context, req *pb.MoveDirRequest) (*pb.Empty, error) {
	src, err := absPath("src", req.Src)
	if err != nil {
		return nil, err
	}
	dst, err := absPath("dst", req.Dst)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(src); err != nil {
		return nil, status.Errorf(codeOf(err), "move %s to %s: %v", src, dst, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return nil, status.Errorf(codes.AlreadyExists, "move %s to %s: destination exists", src, dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codeOf(err), "move %s to %s: %v", src, dst, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, status.Errorf(codeOf(err), "move %s to %s: %v", src, dst, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return nil, status.Errorf(codeOf(err), "move %s to %s: %v", src, dst, err)
	}
	return &pb.Empty{}, nil
}

// RemoveDir removes a path and everything under it; a missing path is fine.
func (s *Server) RemoveDir(ctx context.Context, req *pb.RemoveDirRequest) (*pb.Empty, error) {
	p, err := absPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	if p == "/" {
		return nil, status.Error(codes.InvalidArgument, "refusing to remove /")
	}
	if err := os.RemoveAll(p); err != nil {
		return nil, status.Errorf(codeOf(err), "remove %s: %v", p, err)
	}
	return &pb.Empty{}, nil
}

// ExistDir reports whether a path exists (a directory or anything else).
func (s *Server) ExistDir(ctx context.Context, req *pb.ExistDirRequest) (*pb.ExistDirResponse, error) {
	p, err := absPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	_, err = os.Stat(p)
	switch {
	case err == nil:
		return &pb.ExistDirResponse{Exists: true}, nil
	case errors.Is(err, fs.ErrNotExist):
		return &pb.ExistDirResponse{Exists: false}, nil
	}
	return nil, status.Errorf(codeOf(err), "stat %s: %v", p, err)
}
