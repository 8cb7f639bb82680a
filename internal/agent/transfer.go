package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// progressInterval is how often a transfer reports progress.
const progressInterval = 200 * time.Millisecond

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// job is one file of a transfer.
type job struct {
	key  string // relative to the transfer's prefix
	path string // on this host
	size int64  // bytes expected
	crc  uint32 // expected CRC-32C (downloads)
}

// transfer moves a set of files in parallel, streaming progress.
type transfer struct {
	s           *Server
	store       objstore.Store
	prefix      string
	secrets     []string
	concurrency int

	bytesTotal, filesTotal atomic.Int64 // grow while a stream adds jobs
	bytesDone, filesDone   atomic.Int64
}

func (s *Server) newTransfer(store objstore.Store, prefix string, secrets []string, concurrency int32) *transfer {
	n := int(concurrency)
	if n <= 0 {
		n = DefaultConcurrency
	}
	if n > maxConcurrency {
		n = maxConcurrency
	}
	return &transfer{s: s, store: store, prefix: prefix, secrets: secrets, concurrency: n}
}

// progressSender is the Send of a Progress stream.
type progressSender interface {
	Send(*pb.Progress) error
}

func (t *transfer) progress() *pb.Progress {
	return &pb.Progress{
		BytesDone:  t.bytesDone.Load(),
		BytesTotal: t.bytesTotal.Load(),
		FilesDone:  int32(t.filesDone.Load()),
		FilesTotal: int32(t.filesTotal.Load()),
	}
}

// run applies fn to every job, concurrency at a time, each with retries,
// sending progress every progressInterval and, once all succeeded, a final
// message with done set and every FileSum (ordered by key). The first
// failure cancels the rest and is returned as a status error.
func (t *transfer) run(ctx context.Context, jobs []job, out progressSender, fn func(context.Context, job) (*pb.FileSum, error)) error {
	// Big files first: the transfer then ends with small ones in parallel.
	sorted := append([]job(nil), jobs...)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].size > sorted[b].size })
	return t.stream(ctx, func(ctx context.Context, add func(job) bool) error {
		for _, j := range sorted {
			if !add(j) {
				return ctx.Err()
			}
		}
		return nil
	}, out, fn)
}

// stream is run over the jobs produce adds while the transfer runs (files
// written as they are uploaded: a checkpoint exported part by part). add
// reports false once the transfer is cancelled. It ends when produce has
// returned and every job it added is done; produce's error fails it.
func (t *transfer) stream(ctx context.Context, produce func(ctx context.Context, add func(job) bool) error, out progressSender, fn func(context.Context, job) (*pb.FileSum, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
		sumsMu   sync.Mutex
		sums     []*pb.FileSum
	)
	fail := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			cancel()
		})
	}
	next := make(chan job)
	var wg sync.WaitGroup
	for range t.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				sum, err := t.withRetry(ctx, j, fn)
				if err != nil {
					fail(err)
					continue
				}
				sumsMu.Lock()
				sums = append(sums, sum)
				sumsMu.Unlock()
				t.filesDone.Add(1)
			}
		}()
	}
	go func() {
		defer close(next)
		err := produce(ctx, func(j job) bool {
			t.bytesTotal.Add(j.size)
			t.filesTotal.Add(1)
			select {
			case next <- j:
				return true
			case <-ctx.Done():
				return false
			}
		})
		if err != nil {
			fail(err)
		}
	}()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			if err := out.Send(t.progress()); err != nil {
				fail(fmt.Errorf("send progress: %w", err))
			}
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err() // the caller went away
	}
	if firstErr != nil {
		return toStatus(firstErr, t.secrets)
	}
	final := t.progress()
	final.Done = true
	final.Files = sums
	sort.Slice(final.Files, func(a, b int) bool { return final.Files[a].Key < final.Files[b].Key })
	return out.Send(final)
}

// withRetry runs fn for one file, retrying failures that may be transient
// after each of the configured backoffs. The error names the file.
func (t *transfer) withRetry(ctx context.Context, j job, fn func(context.Context, job) (*pb.FileSum, error)) (*pb.FileSum, error) {
	backoff := t.s.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		sum, err := fn(ctx, j)
		if err == nil {
			return sum, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !retryable(err) || attempt >= len(backoff) {
			if attempt > 0 {
				return nil, annotate(err, fmt.Sprintf("after %d attempts", attempt+1))
			}
			return nil, err
		}
		t.s.log.Warn("transfer: retrying file", "file", j.path, "key", joinKey(t.prefix, j.key),
			"attempt", attempt+1, "backoff", backoff[attempt], "err", scrub(err.Error(), t.secrets))
		select {
		case <-time.After(backoff[attempt]):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// annotate appends a note to an error's message, keeping its code.
func annotate(err error, note string) error {
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return status.Error(st.Code(), st.Message()+" ("+note+")")
	}
	return fmt.Errorf("%w (%s)", err, note)
}

// hashingReader computes the CRC-32C of what passes through it and counts
// it into the transfer's progress. It reads exactly want bytes from r: a
// source that ends early is an error (io.ErrUnexpectedEOF) kept in srcErr.
type hashingReader struct {
	r      io.Reader
	want   int64
	n      int64
	crc    uint32
	done   *atomic.Int64
	srcErr error
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if h.n >= h.want {
		return 0, io.EOF
	}
	if rest := h.want - h.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := h.r.Read(p)
	if n > 0 {
		h.crc = crc32.Update(h.crc, castagnoli, p[:n])
		h.n += int64(n)
		h.done.Add(int64(n))
	}
	if errors.Is(err, io.EOF) && h.n < h.want {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !errors.Is(err, io.EOF) {
		h.srcErr = err
	}
	if err == nil && h.n >= h.want {
		err = io.EOF
	}
	return n, err
}
