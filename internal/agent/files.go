package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// maxReadFile bounds what ReadFile returns (it must fit in one message).
const maxReadFile = MaxMsgSize - 1<<20

// ReadFile returns a file's content and how long ago it was last written
// (its mtime, by this host's clock). A missing file is not an error.
func (s *Server) ReadFile(ctx context.Context, req *pb.ReadFileRequest) (*pb.ReadFileResponse, error) {
	p, err := absPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	b, mtime, exists, err := readFile(p)
	if err != nil {
		return nil, err
	}
	if !exists {
		return &pb.ReadFileResponse{Exists: false}, nil
	}
	return &pb.ReadFileResponse{Exists: true, Content: b, AgeMs: max(time.Since(mtime).Milliseconds(), 0)}, nil
}

// readFile reads a regular file and its mtime; exists is false (and err
// nil) when there is none. Errors are status errors naming the file.
func readFile(p string) (b []byte, mtime time.Time, exists bool, err error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, status.Errorf(codeOf(err), "read %s: %v", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, false, status.Errorf(codeOf(err), "read %s: %v", p, err)
	}
	if !st.Mode().IsRegular() {
		return nil, time.Time{}, false, status.Errorf(codes.FailedPrecondition, "read %s: not a regular file (%s)", p, st.Mode().Type())
	}
	if st.Size() > maxReadFile {
		return nil, time.Time{}, false, status.Errorf(codes.FailedPrecondition, "read %s: %d bytes, more than the %d one call returns", p, st.Size(), maxReadFile)
	}
	b, err = io.ReadAll(io.LimitReader(f, maxReadFile+1))
	if err != nil {
		return nil, time.Time{}, false, status.Errorf(codeOf(err), "read %s: %v", p, err)
	}
	return b, st.ModTime(), true, nil
}

// WriteFile replaces a file atomically. With check set it is a
// compare-and-swap against the file's current state, serialised with every
// other WriteFile of this agent.
func (s *Server) WriteFile(ctx context.Context, req *pb.WriteFileRequest) (*pb.Empty, error) {
	p, err := absPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if req.Check {
		b, mtime, exists, err := readFile(p)
		if err != nil {
			return nil, err
		}
		found := "no file"
		if exists {
			found = fmt.Sprintf("a file of %d bytes with crc32c %08x, written %s ago", len(b), crc32.Checksum(b, castagnoli),
				time.Since(mtime).Round(time.Millisecond))
		}
		switch {
		case !req.ExpectExists && exists:
			return nil, status.Errorf(codes.FailedPrecondition, "write %s: expected no file, found %s", p, found)
		case req.ExpectExists && !exists:
			return nil, status.Errorf(codes.FailedPrecondition, "write %s: expected content with crc32c %08x, found no file", p, req.ExpectCrc32C)
		case req.ExpectExists && crc32.Checksum(b, castagnoli) != req.ExpectCrc32C:
			return nil, status.Errorf(codes.FailedPrecondition, "write %s: expected content with crc32c %08x, found %s", p, req.ExpectCrc32C, found)
		}
	}
	if err := atomicWrite(p, req.Content); err != nil {
		return nil, err
	}
	return &pb.Empty{}, nil
}

// atomicWrite replaces path with content: a temporary file in the same
// directory (created if missing), synced, renamed over path, and the
// directory synced. A failure leaves the old file (or none) in place and
// is a status error naming path.
func atomicWrite(path string, content []byte) (err error) {
	dir := filepath.Dir(path)
	fail := func(err error) error { return status.Errorf(codeOf(err), "write %s: %v", path, err) }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(content); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return status.Errorf(codeOf(err), "write %s: sync directory: %v", path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// StatDisk reports the free and total bytes of the file system holding
// path, or its nearest existing parent.
func (s *Server) StatDisk(ctx context.Context, req *pb.StatDiskRequest) (*pb.StatDiskResponse, error) {
	p, err := absPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	for q := p; ; {
		var st unix.Statfs_t
		err := unix.Statfs(q, &st)
		if err == nil {
			return &pb.StatDiskResponse{
				FreeBytes:  int64(st.Bavail) * int64(st.Bsize),
				TotalBytes: int64(st.Blocks) * int64(st.Bsize),
			}, nil
		}
		parent := filepath.Dir(q)
		if (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) && parent != q {
			q = parent
			continue
		}
		return nil, status.Errorf(codeOf(err), "stat the file system of %s (at %s): %v", p, q, err)
	}
}
