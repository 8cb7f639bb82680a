package agent

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// UploadFile uploads a directory (recursively) or one file to
// backend/prefix. Keys are the files' paths relative to the directory (the
// file's name for a single file).
func (s *Server) UploadFile(req *pb.UploadFileRequest, stream pb.StorageService_UploadFileServer) error {
	ctx := stream.Context()
	src, err := absPath("source_path", req.SourcePath)
	if err != nil {
		return err
	}
	store, sec, err := s.openBackend(ctx, req.Backend)
	if err != nil {
		return err
	}
	t := s.newTransfer(store, req.Prefix, sec, req.Concurrency)
	if req.ExportParts {
		return s.exportAndUpload(ctx, t, src, req.Parts, stream)
	}
	jobs, err := collect(src)
	if err != nil {
		return err
	}
	return t.run(ctx, jobs, stream, t.put)
}

// exportAndUpload has the engine export checkpoint per part beside its
// data (after the cut: writes are not blocked while the engine rewrites
// it) and uploads each part as soon as its export is whole (its applied
// file, written last, exists), while the next ones are written.
func (s *Server) exportAndUpload(ctx context.Context, t *transfer, checkpoint string, parts []int32, stream progressSender) error {
	out := filepath.Join(checkpoint, exportDir)
	if err := os.RemoveAll(out); err != nil {
		return status.Errorf(codeOf(err), "remove an earlier export %s: %v", out, err)
	}
	defer os.RemoveAll(out)
	return t.stream(ctx, func(ctx context.Context, add func(job) bool) error {
		exported := make(chan error, 1)
		go func() {
			got, err := s.engine.ExportParts(ctx, checkpoint, out, parts)
			if err == nil {
				s.log.Info("checkpoint exported per part", "checkpoint", checkpoint, "parts", len(got))
			}
			exported <- err
		}()
		taken := map[string]bool{}
		take := func() error { // every part whose export is whole, once
			ents, err := os.ReadDir(out)
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			for _, e := range ents {
				if taken[e.Name()] || !e.IsDir() {
					continue
				}
				if _, err := os.Stat(filepath.Join(out, e.Name(), exportLastFile)); err != nil {
					continue
				}
				taken[e.Name()] = true
				jobs, err := collect(filepath.Join(out, e.Name()))
				if err != nil {
					return err
				}
				for _, j := range jobs {
					j.key = e.Name() + "/" + j.key
					if !add(j) {
						return ctx.Err()
					}
				}
			}
			return nil
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case err := <-exported:
				if err != nil {
					return err
				}
				return take()
			case <-tick.C:
				if err := take(); err != nil {
					return err
				}
			}
		}
	}, stream, t.put)
}

// exportDir is where, inside a checkpoint, an export per part is written
// for the time of its upload; a part's directory is whole once
// exportLastFile is in it (the engine writes it last).
const (
	exportDir      = "br-parts"
	exportLastFile = "applied"
)

// collect lists the regular files to upload under src (or src itself).
// Symbolic links to regular files are followed; anything else that is not
// a directory or a regular file is refused rather than skipped, so that a
// backup is never silently incomplete.
func collect(src string) ([]job, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, status.Errorf(codeOf(err), "source_path: %v", err)
	}
	if st.Mode().IsRegular() {
		return []job{{key: filepath.Base(src), path: src, size: st.Size()}}, nil
	}
	if !st.IsDir() {
		return nil, status.Errorf(codes.InvalidArgument, "source_path %s is neither a directory nor a regular file", src)
	}
	var jobs []job
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(p) // follows links
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file (%s): refusing to upload", p, info.Mode().Type())
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		jobs = append(jobs, job{key: filepath.ToSlash(rel), path: p, size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, status.Errorf(codeOf(err), "list %s: %v", src, err)
	}
	return jobs, nil
}

// put uploads one file: its first j.size bytes, read once from disk while
// the CRC-32C is computed, through the agent's rate limit into Store.Put.
func (t *transfer) put(ctx context.Context, j job) (*pb.FileSum, error) {
	key := joinKey(t.prefix, j.key)
	f, err := os.Open(j.path)
	if err != nil {
		return nil, &localError{fmt.Errorf("upload %s: %w", j.path, err)}
	}
	defer f.Close()
	h := &hashingReader{r: f, want: j.size, done: &t.bytesDone}
	err = t.store.Put(ctx, key, t.s.limiter.reader(ctx, h), j.size)
	if err == nil && h.n != j.size {
		err = fmt.Errorf("read %d of %d bytes", h.n, j.size)
		h.srcErr = err
	}
	if err != nil {
		t.bytesDone.Add(-h.n)
		if h.srcErr != nil {
			return nil, &localError{fmt.Errorf("upload %s to %s: read %s: %w", j.path, key, j.path, h.srcErr)}
		}
		return nil, fmt.Errorf("upload %s to %s: %w", j.path, key, err)
	}
	return &pb.FileSum{Key: j.key, Size: j.size, Crc32C: h.crc}, nil
}
