package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
	"github.com/nebula-open/nebula-br/internal/objstore/objstoretest"
)

const partSize = 5 << 20 // S3's minimum, set by objstore.SetS3PartLimits

// partCounter is a loopback proxy in front of MinIO that notes every part
// a client sends: what the store put on the wire.
type partCounter struct {
	URL   string
	mu    sync.Mutex
	parts []int
}

func newPartCounter(t *testing.T, srv *miniotest.Server) *partCounter {
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	pc := &partCounter{}
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps the Host header the client signed
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := r.URL.Query().Get("partNumber"); r.Method == http.MethodPut && n != "" {
			i, _ := strconv.Atoi(n)
			pc.mu.Lock()
			pc.parts = append(pc.parts, i)
			pc.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	pc.URL = hs.URL
	return pc
}

// sent returns the part numbers sent since the last call, in order.
func (pc *partCounter) sent() []int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	p := slices.Sorted(slices.Values(pc.parts))
	pc.parts = nil
	return p
}

// logRecorder keeps the attributes of the "S3 upload resumed" records.
type logRecorder struct {
	mu      sync.Mutex
	resumed []map[string]int64
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "S3 upload resumed" {
		return nil
	}
	m := map[string]int64{}
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindInt64 {
			m[a.Key] = a.Value.Int64()
		}
		return true
	})
	l.mu.Lock()
	l.resumed = append(l.resumed, m)
	l.mu.Unlock()
	return nil
}

// failAfter reads r until n bytes, then fails with err.
type failAfter struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// writeFile writes size deterministic bytes and returns the path.
func writeFile(t *testing.T, size int64, seed byte) string {
	var s [32]byte
	s[0] = seed
	path := filepath.Join(t.TempDir(), "data.sst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.NewChaCha8(s), size); err != nil {
		t.Fatal(err)
	}
	return path
}

// putFile puts the file at path under key, through wrap if not nil.
func putFile(ctx context.Context, t *testing.T, s objstore.Store, key, path string, wrap func(io.Reader) io.Reader) error {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = f
	if wrap != nil {
		r = wrap(f)
	}
	return s.Put(ctx, key, r, st.Size())
}

// serverParts lists, straight from MinIO, the incomplete uploads of object
// and the part numbers of each.
func serverParts(t *testing.T, srv *miniotest.Server, bucket, object string) [][]int {
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	core := minio.Core{Client: c}
	ctx := context.Background()
	res, err := core.ListMultipartUploads(ctx, bucket, object, "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]int
	for _, u := range res.Uploads {
		if u.Key != object {
			continue
		}
		lp, err := core.ListObjectParts(ctx, bucket, object, u.UploadID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, p := range lp.ObjectParts {
			nums = append(nums, p.PartNumber)
		}
		out = append(out, nums)
	}
	return out
}

func sameContent(t *testing.T, s objstore.Store, key, path string) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, sha256 %x; the file: %d bytes, sha256 %x", key, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// A Put of a file that fails after 3 of its 12 parts leaves those 3 on the
// server; the next Put of the file sends only the other 9, says so in the
// log, and the object is the file. Then a changed part is sent again.
func TestS3ResumeFailedPut(t *testing.T) {
	objstore.SetS3PartLimits(t, partSize, 10000)
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "resume")
	pc := newPartCounter(t, srv)
	logs := &logRecorder{}
	cfg := srv.Config()
	cfg.S3.Endpoint = pc.URL
	cfg.Log = slog.New(logs)
	s := openS3(t, "s3://"+bucket+"/p", cfg)
	ctx := context.Background()
	const size, nparts = 60 << 20, 12
	path := writeFile(t, size, 1)

	boom := errors.New("disk read failed")
	err := putFile(ctx, t, s, "data.sst", path, func(r io.Reader) io.Reader {
		return &failAfter{r: r, n: 3*partSize + 1<<20, err: boom}
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Put failing after 16 MiB = %v, want the reader's error", err)
	}
	if got := pc.sent(); !slices.Equal(got, seq(1, 3)) {
		t.Fatalf("the failed Put sent parts %v, want 1-3", got)
	}
	if got := serverParts(t, srv, bucket, "p/data.sst"); len(got) != 1 || !slices.Equal(got[0], seq(1, 3)) {
		t.Fatalf("after the failed Put the server holds uploads %v, want one with parts 1-3", got)
	}
	if _, err := s.Stat(ctx, "data.sst"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Stat after the failed Put = %v, want ErrNotFound", err)
	}

	if err := putFile(ctx, t, s, "data.sst", path, nil); err != nil {
		t.Fatal(err)
	}
	if got := pc.sent(); !slices.Equal(got, seq(4, nparts)) {
		t.Fatalf("the resumed Put sent parts %v, want 4-%d", got, nparts)
	}
	want := map[string]int64{"parts_kept": 3, "parts": nparts, "bytes_kept": 3 * partSize, "bytes_sent": size - 3*partSize}
	if len(logs.resumed) != 1 || !maps.Equal(logs.resumed[0], want) {
		t.Fatalf("resume logged %v, want %v", logs.resumed, want)
	}
	sameContent(t, s, "data.sst", path)
	if got := serverParts(t, srv, bucket, "p/data.sst"); len(got) != 0 {
		t.Fatalf("uploads left after the resumed Put: %v", got)
	}

	// The file changes between a failed Put and its rerun: the part whose
	// bytes differ is sent again, not kept.
	path2 := writeFile(t, size, 2)
	err = putFile(ctx, t, s, "second.sst", path2, func(r io.Reader) io.Reader {
		return &failAfter{r: r, n: 3*partSize + 1<<20, err: boom}
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Put failing after 16 MiB = %v", err)
	}
	pc.sent()
	f, err := os.OpenFile(path2, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("changed"), partSize+4096); err != nil { // in part 2
		t.Fatal(err)
	}
	f.Close()
	if err := putFile(ctx, t, s, "second.sst", path2, nil); err != nil {
		t.Fatal(err)
	}
	if got := pc.sent(); !slices.Equal(got, append([]int{2}, seq(4, nparts)...)) {
		t.Fatalf("the Put of the changed file sent parts %v, want 2 and 4-%d", got, nparts)
	}
	sameContent(t, s, "second.sst", path2)
}

// A failed Put of unknown size (a stream: a rerun cannot send the same
// bytes) is never resumed: its upload is aborted, and the next Put of the
// key starts a new one.
func TestS3StreamNotResumed(t *testing.T) {
	objstore.SetS3PartLimits(t, partSize, 10000)
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "stream")
	pc := newPartCounter(t, srv)
	cfg := srv.Config()
	cfg.S3.Endpoint = pc.URL
	s := openS3(t, "s3://"+bucket, cfg)
	ctx := context.Background()
	path := writeFile(t, 30<<20, 3)
	boom := errors.New("pipe broke")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Put(ctx, "s", &failAfter{r: f, n: 3*partSize + 1<<20, err: boom}, -1); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	if got := pc.sent(); len(got) == 0 {
		t.Fatal("the failed stream sent no part: the fault came too early to test anything")
	}
	if got := serverParts(t, srv, bucket, "s"); len(got) != 0 {
		t.Fatalf("a failed stream left uploads %v", got)
	}
	f.Seek(0, io.SeekStart)
	if err := s.Put(ctx, "s", f, -1); err != nil {
		t.Fatal(err)
	}
	if got := pc.sent(); !slices.Equal(got, seq(1, 6)) {
		t.Fatalf("the stream sent parts %v, want 1-6", got)
	}
	sameContent(t, s, "s", path)
}

// An upload of unknown size holds at most streamMaxSize (its parts grow);
// a longer stream fails saying so, and leaves nothing. A known size of the
// same length fits, with larger parts.
func TestS3StreamLimit(t *testing.T) {
	objstore.SetS3PartLimits(t, partSize, 2) // parts of 5 MiB then 20 MiB: 25 MiB
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "limit")
	s := openS3(t, "s3://"+bucket, srv.Config())
	ctx := context.Background()
	const max = 25 << 20
	path := writeFile(t, max+1, 4)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Put(ctx, "fits", io.LimitReader(f, max), -1); err != nil {
		t.Fatalf("Put of a %d-byte stream: %v", max, err)
	}
	f.Seek(0, io.SeekStart)
	err = s.Put(ctx, "too-long", f, -1)
	t.Logf("Put of a stream one byte longer: %v", err)
	if err == nil || !strings.Contains(err.Error(), `put "too-long": the stream is longer than the 25 MiB an upload of unknown size can hold (2 parts): give its size`) {
		t.Fatalf("Put of a too long stream = %v", err)
	}
	if got := serverParts(t, srv, bucket, "too-long"); len(got) != 0 {
		t.Fatalf("uploads left: %v", got)
	}
	if err := putFile(ctx, t, s, "known", path, nil); err != nil {
		t.Fatalf("Put of %d bytes of known size in 2 parts: %v", max+1, err)
	}
	sameContent(t, s, "known", path)
	if got := objstoretest.Keys(t, s, ""); !slices.Equal(got, []string{"fits", "known"}) {
		t.Fatalf("objects: %q", got)
	}
}

// The parts a failed Put keeps for its rerun are removed by DeleteDir (br
// cleanup) of a directory above them, and only there. MinIO lists uploads
// by exact key only, so a listing by the directory's prefix would miss them.
func TestS3DeleteDirRemovesFailedUploads(t *testing.T) {
	objstore.SetS3PartLimits(t, partSize, 10000)
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "cleanup")
	s := openS3(t, "s3://"+bucket+"/p", srv.Config())
	ctx := context.Background()
	path := writeFile(t, 12<<20, 5)
	boom := errors.New("boom")
	for _, key := range []string{"d/x/data.sst", "d2/data.sst"} {
		err := putFile(ctx, t, s, key, path, func(r io.Reader) io.Reader { return &failAfter{r: r, n: partSize + 1, err: boom} })
		if !errors.Is(err, boom) {
			t.Fatalf("Put(%s) = %v", key, err)
		}
		if got := serverParts(t, srv, bucket, "p/"+key); len(got) != 1 || !slices.Equal(got[0], []int{1}) {
			t.Fatalf("after the failed Put of %s: uploads %v, want one with part 1", key, got)
		}
	}
	if _, err := s.DeleteDir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if got := serverParts(t, srv, bucket, "p/d/x/data.sst"); len(got) != 0 {
		t.Fatalf("DeleteDir(d) left uploads %v", got)
	}
	if got := serverParts(t, srv, bucket, "p/d2/data.sst"); len(got) != 1 {
		t.Fatalf("DeleteDir(d) removed d2's upload: %v", got)
	}
}
