package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// trackingStore wraps a store: it counts Puts, records the most Puts in
// flight at once, and fails the first fails[key] Puts of a key (-1: all).
type trackingStore struct {
	objstore.Store
	delay time.Duration
	err   error // what a failing Put returns

	mu       sync.Mutex
	fails    map[string]int
	calls    map[string]int
	inFlight int
	maxIn    int
}

func (s *trackingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[key]++
	fail := s.fails[key]
	if fail > 0 {
		s.fails[key]--
	}
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	time.Sleep(s.delay)
	if fail != 0 {
		io.CopyN(io.Discard, r, size/2) // a transfer cut in the middle
		return s.err
	}
	return s.Store.Put(ctx, key, r, size)
}

func (s *trackingStore) opener() agent.OpenFunc {
	return func(ctx context.Context, uri string, cfg objstore.Config) (objstore.Store, error) {
		return s, nil
	}
}

func openLocal(t *testing.T, dir string) objstore.Store {
	t.Helper()
	st, err := objstore.Open(context.Background(), localURI(dir), objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// makeTree lays out a checkpoint-like tree and returns its files.
func makeTree(t *testing.T, dir string, big bool) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	add := func(rel string, n int) {
		files[rel] = writeFile(t, filepath.Join(dir, filepath.FromSlash(rel)), n, uint64(len(files)+1))
	}
	add("data/MANIFEST-000001", 1234)
	add("data/CURRENT", 16)
	add("data/empty", 0)
	add("data/one", 1)
	add("wal/1/0000000000000000001.wal", 100<<10)
	add("wal/2/0000000000000000001.wal", 3<<10)
	add("wal/2/deep/er/still/x", 777)
	for i := range 20 {
		add(fmt.Sprintf("data/%06d.sst", i), 1000+i*513)
	}
	if big {
		add("data/big.sst", 30<<20)
	}
	return files
}

func TestUploadDownloadRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "checkpoint")
	want := makeTree(t, src, true)
	storeDir := t.TempDir()
	ts := &trackingStore{Store: openLocal(t, storeDir), delay: 5 * time.Millisecond}
	a := startAgent(t, agent.Config{Open: ts.opener()})

	backend := &pb.Backend{Uri: localURI(storeDir)}
	var prog progressLog
	sums, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "BACKUP_1/data/1/1/", Concurrency: 3}, prog.add)
	if err != nil {
		t.Fatal(err)
	}
	// Every file, with its size and CRC-32C, keyed relative to the prefix.
	got := map[string]*pb.FileSum{}
	for _, s := range sums {
		got[s.Key] = s
	}
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("uploaded keys %q, want %q", keys(got), keys(want))
	}
	var total int64
	for k, b := range want {
		if got[k].Size != int64(len(b)) || got[k].Crc32C != crc(b) {
			t.Errorf("%s: size %d crc %08x, want %d %08x", k, got[k].Size, got[k].Crc32C, len(b), crc(b))
		}
		total += int64(len(b))
	}
	// The objects are the files.
	stored := readTree(t, filepath.Join(storeDir, "BACKUP_1", "data", "1", "1"))
	if !reflect.DeepEqual(keys(stored), keys(want)) {
		t.Fatalf("stored %q", keys(stored))
	}
	for k, b := range want {
		if string(stored[k]) != string(b) {
			t.Errorf("object %s differs from the file", k)
		}
	}
	// Concurrency: several files at once, never more than asked.
	if ts.maxIn < 2 || ts.maxIn > 3 {
		t.Errorf("%d Puts in flight at most, want 2..3", ts.maxIn)
	}
	for k, n := range ts.calls {
		if n != 1 {
			t.Errorf("%s put %d times", k, n)
		}
	}
	last := prog.last()
	if last == nil || !last.Done || last.BytesDone != total || last.BytesTotal != total ||
		int(last.FilesDone) != len(want) || int(last.FilesTotal) != len(want) || len(last.Files) != len(want) {
		t.Errorf("final progress %v, want done with %d bytes, %d files", last, total, len(want))
	}

	// Download into a fresh directory: the same tree.
	dst := filepath.Join(t.TempDir(), "restore", "nebula", "1")
	prog = progressLog{}
	err = a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, Prefix: "BACKUP_1/data/1/1", TargetPath: dst, Files: sums, Concurrency: 5}, prog.add)
	if err != nil {
		t.Fatal(err)
	}
	back := readTree(t, dst)
	if !reflect.DeepEqual(keys(back), keys(want)) {
		t.Fatalf("downloaded %q", keys(back))
	}
	for k, b := range want {
		if string(back[k]) != string(b) {
			t.Errorf("downloaded %s differs", k)
		}
	}
	if last := prog.last(); last == nil || !last.Done || last.BytesDone != total {
		t.Errorf("final download progress %v", last)
	}

	// An empty list fetches everything under the prefix.
	dst2 := t.TempDir()
	if err := a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, Prefix: "BACKUP_1/data/1/1", TargetPath: dst2}, nil); err != nil {
		t.Fatal(err)
	}
	if len(readTree(t, dst2)) != len(want) {
		t.Errorf("download of the whole prefix: %q", keys(readTree(t, dst2)))
	}
	err = a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, Prefix: "NOPE", TargetPath: dst2}, nil)
	wantCode(t, err, codes.NotFound, "NOPE")
}

func TestUploadSingleFileAndBadRequests(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := writeFile(t, filepath.Join(dir, "meta", "x.sst"), 5000, 7)
	storeDir := t.TempDir()
	a := startAgent(t, agent.Config{})
	backend := &pb.Backend{Uri: localURI(storeDir)}
	sums, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: filepath.Join(dir, "meta", "x.sst"), Backend: backend, Prefix: "B/meta"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].Key != "x.sst" || sums[0].Size != 5000 || sums[0].Crc32C != crc(b) {
		t.Fatalf("single file: %v", sums)
	}
	if _, err := os.Stat(filepath.Join(storeDir, "B", "meta", "x.sst")); err != nil {
		t.Fatal(err)
	}

	_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: "rel/dir", Backend: backend}, nil)
	wantCode(t, err, codes.InvalidArgument, "rel/dir", "absolute", a.srv.Addr())
	_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: filepath.Join(dir, "missing"), Backend: backend}, nil)
	wantCode(t, err, codes.NotFound, "missing")
	_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: dir, Backend: &pb.Backend{Uri: "ftp://x"}}, nil)
	wantCode(t, err, codes.InvalidArgument, "ftp://x")
	_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: dir}, nil)
	wantCode(t, err, codes.InvalidArgument, "backend")
	err = a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, TargetPath: t.TempDir(), Files: []*pb.FileSum{{Key: "../escape"}}}, nil)
	wantCode(t, err, codes.InvalidArgument, "../escape")
	err = a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, TargetPath: "relative", Files: sums}, nil)
	wantCode(t, err, codes.InvalidArgument, "target_path")
}

func TestDownloadDetectsCorruption(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	want := makeTree(t, src, false)
	storeDir := t.TempDir()
	a := startAgent(t, agent.Config{})
	backend := &pb.Backend{Uri: localURI(storeDir)}
	sums, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "B"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := func(key string) string { return filepath.Join(storeDir, "B", filepath.FromSlash(key)) }
	download := func() (string, error) {
		dst := t.TempDir()
		return dst, a.c.Download(ctx, &pb.DownloadFileRequest{Backend: backend, Prefix: "B", TargetPath: dst, Files: sums}, nil)
	}

	// A flipped byte: DataLoss naming the object; nothing half-written left.
	const victim = "data/000012.sst"
	b := append([]byte(nil), want[victim]...)
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(obj(victim), b, 0o644); err != nil {
		t.Fatal(err)
	}
	dst, err := download()
	wantCode(t, err, codes.DataLoss, "object B/"+victim+": checksum mismatch", a.srv.Addr())
	if _, serr := os.Stat(filepath.Join(dst, filepath.FromSlash(victim))); !os.IsNotExist(serr) {
		t.Errorf("a corrupt object must not land: %v", serr)
	}
	for k := range readTree(t, dst) {
		if strings.Contains(k, ".download-") {
			t.Errorf("temporary file left: %s", k)
		}
	}

	// A truncated object: DataLoss (size).
	if err := os.WriteFile(obj(victim), want[victim][:100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = download()
	wantCode(t, err, codes.DataLoss, "object B/"+victim+": size mismatch")

	// A missing object: NotFound naming it.
	os.WriteFile(obj(victim), want[victim], 0o644)
	if err := os.Remove(obj("wal/2/deep/er/still/x")); err != nil {
		t.Fatal(err)
	}
	_, err = download()
	wantCode(t, err, codes.NotFound, "object B/wal/2/deep/er/still/x")
}

func TestUploadRetriesAndFails(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), 10000, 1)
	writeFile(t, filepath.Join(src, "b"), 20000, 2)
	storeDir := t.TempDir()
	flaky := errors.New("connection reset by peer")
	ts := &trackingStore{Store: openLocal(t, storeDir), err: flaky, fails: map[string]int{"P/a": 2}}
	a := startAgent(t, agent.Config{Open: ts.opener(), RetryBackoff: []time.Duration{time.Millisecond, 4 * time.Millisecond, 16 * time.Millisecond}})
	backend := &pb.Backend{Uri: localURI(storeDir)}

	// Two failures, then success: the transfer succeeds, with honest progress.
	var prog progressLog
	sums, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "P"}, prog.add)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || ts.calls["P/a"] != 3 || ts.calls["P/b"] != 1 {
		t.Errorf("sums %v, calls %v", sums, ts.calls)
	}
	if last := prog.last(); last.BytesDone != 30000 {
		t.Errorf("bytes done %d after retries, want 30000", last.BytesDone)
	}
	if !strings.Contains(a.logs.String(), "retrying file") {
		t.Error("a retry is not logged")
	}

	// Failing for good: 1 + 3 attempts, then an error naming the file and
	// the cause; never a success.
	ts.fails = map[string]int{"Q/b": -1}
	ts.calls = nil
	_, err = a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: backend, Prefix: "Q"}, nil)
	wantCode(t, err, codes.Internal, filepath.Join(src, "b"), "Q/b", "connection reset by peer", "after 4 attempts")
	if ts.calls["Q/b"] != 4 {
		t.Errorf("Q/b put %d times, want 4", ts.calls["Q/b"])
	}
	if _, err := os.Stat(filepath.Join(storeDir, "Q", "b")); !os.IsNotExist(err) {
		t.Errorf("failed object exists: %v", err)
	}

	if got := agent.DefaultRetryBackoff; !reflect.DeepEqual(got, []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 1600 * time.Millisecond}) {
		t.Errorf("default backoff %v", got)
	}
}

func TestRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds")
	}
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), 2<<20, 1)
	writeFile(t, filepath.Join(src, "b"), 2<<20, 2)
	storeDir := t.TempDir()
	a := startAgent(t, agent.Config{RateLimitMbps: 8})
	start := time.Now()
	// 4 MiB at 8 Mbps (1 MB/s) is 4.2 s; two files in parallel share the bucket.
	var prog progressLog
	_, err := a.c.Upload(ctx, &pb.UploadFileRequest{SourcePath: src, Backend: &pb.Backend{Uri: localURI(storeDir)}, Concurrency: 2}, prog.add)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("4 MiB at 8 Mbps took %s, want at least 2s", el)
	}
	// Progress came every ~200 ms, never going backwards, done only at the end.
	if len(prog.msgs) < 6 {
		t.Errorf("%d progress messages in %s, want one every 200ms", len(prog.msgs), time.Since(start))
	}
	for i, m := range prog.msgs {
		if m.Done != (i == len(prog.msgs)-1) || m.BytesTotal != 4<<20 || (i > 0 && m.BytesDone < prog.msgs[i-1].BytesDone) {
			t.Errorf("progress %d: %v", i, m)
		}
	}
}
