package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/writeback"
)

// DownloadFile fetches the listed objects under prefix into target_path,
// same relative paths, verifying each one's size and CRC-32C before it
// takes its final name (sizes only with no_checksums). An empty list
// fetches every object under prefix, checking sizes only.
func (s *Server) DownloadFile(req *pb.DownloadFileRequest, stream pb.StorageService_DownloadFileServer) error {
	ctx := stream.Context()
	target, err := absPath("target_path", req.TargetPath)
	if err != nil {
		return err
	}
	for _, f := range req.Files {
		if err := checkKey(f.Key); err != nil {
			return err
		}
	}
	store, sec, err := s.openBackend(ctx, req.Backend)
	if err != nil {
		return err
	}
	files := req.Files
	verifyCRC := !req.NoChecksums // no_checksums: the listed CRC-32C are not known, sizes only
	if len(files) == 0 {
		verifyCRC = false
		if files, err = listUnder(ctx, store, req.Prefix); err != nil {
			return toStatus(err, sec)
		}
	}
	jobs := make([]job, 0, len(files))
	for _, f := range files {
		jobs = append(jobs, job{key: f.Key, path: filepath.Join(target, filepath.FromSlash(f.Key)), size: f.Size, crc: f.Crc32C})
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return status.Errorf(codeOf(err), "target_path: %v", err)
	}
	t := s.newTransfer(store, req.Prefix, sec, req.Concurrency)
	return t.run(ctx, jobs, stream, func(ctx context.Context, j job) (*pb.FileSum, error) {
		return t.get(ctx, j, verifyCRC)
	})
}

// listUnder describes every object under prefix, keyed relative to it.
func listUnder(ctx context.Context, store objstore.Store, prefix string) ([]*pb.FileSum, error) {
	root := joinKey(prefix, "")
	var out []*pb.FileSum
	err := store.List(ctx, root, func(oi objstore.ObjectInfo) error {
		rel := oi.Key[len(root):]
		if rel == "" {
			return nil
		}
		if err := checkKey(rel); err != nil {
			return err
		}
		out = append(out, &pb.FileSum{Key: rel, Size: oi.Size})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s under %s: %w", root, store.URI(), err)
	}
	if len(out) == 0 {
		return nil, status.Errorf(codes.NotFound, "no object under %q in %s", root, store.URI())
	}
	return out, nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// writerOnly hides os.File's ReadFrom so io.CopyBuffer uses our buffer.
type writerOnly struct{ io.Writer }

// get downloads one object into a temporary file beside its destination,
// checks it, and renames it into place.
func (t *transfer) get(ctx context.Context, j job, verifyCRC bool) (*pb.FileSum, error) {
	key := joinKey(t.prefix, j.key)
	dir := filepath.Dir(j.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &localError{fmt.Errorf("download %s: %w", key, err)}
	}
	body, err := t.store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "object %s: not found in %s", key, t.store.URI())
		}
		return nil, fmt.Errorf("object %s: %w", key, err)
	}
	defer body.Close()
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(j.path)+".download-*")
	if err != nil {
		return nil, &localError{fmt.Errorf("download %s: %w", key, err)}
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	cw := &countingWriter{w: writeback.New(tmp), done: &t.bytesDone}
	buf := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(writerOnly{cw}, t.s.limiter.reader(ctx, body), *buf)
	copyBufs.Put(buf)
	if err != nil {
		t.bytesDone.Add(-cw.n)
		if cw.werr != nil {
			return nil, &localError{fmt.Errorf("download %s to %s: %w", key, j.path, cw.werr)}
		}
		return nil, fmt.Errorf("object %s: read: %w", key, err)
	}
	if cw.n != j.size {
		return nil, status.Errorf(codes.DataLoss, "object %s: size mismatch (want %d bytes, got %d)", key, j.size, cw.n)
	}
	if verifyCRC && cw.crc != j.crc {
		return nil, status.Errorf(codes.DataLoss, "object %s: checksum mismatch (want crc32c %08x, got %08x)", key, j.crc, cw.crc)
	}
	if err := tmp.Sync(); err != nil {
		return nil, &localError{fmt.Errorf("download %s: sync %s: %w", key, tmp.Name(), err)}
	}
	if err := tmp.Close(); err != nil {
		return nil, &localError{fmt.Errorf("download %s: close %s: %w", key, tmp.Name(), err)}
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return nil, &localError{fmt.Errorf("download %s: %w", key, err)}
	}
	ok = true
	return &pb.FileSum{Key: j.key, Size: cw.n, Crc32C: cw.crc}, nil
}

// countingWriter computes the CRC-32C and size of what is written through
// it and counts it into the transfer's progress.
type countingWriter struct {
	w    io.Writer
	n    int64
	crc  uint32
	done interface{ Add(int64) int64 }
	werr error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if n > 0 {
		c.crc = crc32.Update(c.crc, castagnoli, p[:n])
		c.n += int64(n)
		c.done.Add(int64(n))
	}
	if err != nil {
		c.werr = err
	}
	return n, err
}
