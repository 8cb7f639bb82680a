// Package objstoretest is the contract every objstore.Store implementation
// passes: Run it with a function that returns a fresh, empty store.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/objstore"
)

// LargeSize is the size of the multi-part objects (several parts of 16 MiB).
const LargeSize = 40 << 20

// Run runs the contract's subtests; newStore is called once per subtest and
// must return an empty store that nothing else uses.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objstore.Store)
	}{
		{"PutGetStat", testPutGetStat},
		{"Empty", testEmpty},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"NestedKeys", testNestedKeys},
		{"ListOrder", testListOrder},
		{"ListPrefix", testListPrefix},
		{"ListStop", testListStop},
		{"Delete", testDelete},
		{"DeleteDir", testDeleteDir},
		{"InvalidKeys", testInvalidKeys},
		{"SizeMismatch", testSizeMismatch},
		{"FailedPut", testFailedPut},
		{"CancelledPut", testCancelledPut},
		{"CancelledLargePut", testCancelledLargePut},
		{"LargeKnownSize", func(t *testing.T, s objstore.Store) { testLarge(t, s, true) }},
		{"LargeUnknownSize", func(t *testing.T, s objstore.Store) { testLarge(t, s, false) }},
		{"Check", testCheck},
		{"URI", testURI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Put stores data under key, failing the test on error.
func Put(t testing.TB, s objstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// Get reads the object under key, failing the test on error.
func Get(t testing.TB, s objstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

// Keys lists the keys under prefix.
func Keys(t testing.TB, s objstore.Store, prefix string) []string {
	t.Helper()
	keys := []string{}
	err := s.List(context.Background(), prefix, func(oi objstore.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func testPutGetStat(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	data := []byte("hello, object store\n")
	before := time.Now().Add(-time.Minute)
	Put(t, s, "hello.txt", data)
	if got := Get(t, s, "hello.txt"); !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, want %q", got, data)
	}
	oi, err := s.Stat(ctx, "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if oi.Key != "hello.txt" || oi.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, want key hello.txt size %d", oi, len(data))
	}
	if oi.ModTime.Before(before) || oi.ModTime.After(time.Now().Add(time.Minute)) {
		t.Fatalf("Stat ModTime = %v, not about now", oi.ModTime)
	}
	var listed []objstore.ObjectInfo
	if err := s.List(ctx, "", func(oi objstore.ObjectInfo) error { listed = append(listed, oi); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Key != "hello.txt" || listed[0].Size != int64(len(data)) || listed[0].ModTime.IsZero() {
		t.Fatalf("List = %+v, want hello.txt of %d bytes", listed, len(data))
	}
	// Size -1 for a small object.
	if err := s.Put(ctx, "unknown-size", strings.NewReader("abc"), -1); err != nil {
		t.Fatal(err)
	}
	if got := Get(t, s, "unknown-size"); string(got) != "abc" {
		t.Fatalf("Get(unknown-size) = %q", got)
	}
}

func testEmpty(t *testing.T, s objstore.Store) {
	if keys := Keys(t, s, ""); len(keys) != 0 {
		t.Fatalf("new store lists %q", keys)
	}
	Put(t, s, "empty", nil)
	if got := Get(t, s, "empty"); len(got) != 0 {
		t.Fatalf("Get(empty) = %q", got)
	}
	oi, err := s.Stat(context.Background(), "empty")
	if err != nil || oi.Size != 0 {
		t.Fatalf("Stat(empty) = %+v, %v", oi, err)
	}
	if err := s.Put(context.Background(), "empty2", strings.NewReader(""), -1); err != nil {
		t.Fatal(err)
	}
	if got := Keys(t, s, ""); !slices.Equal(got, []string{"empty", "empty2"}) {
		t.Fatalf("List = %q", got)
	}
}

func testOverwrite(t *testing.T, s objstore.Store) {
	Put(t, s, "k", []byte("first version, longer"))
	Put(t, s, "k", []byte("second"))
	if got := Get(t, s, "k"); string(got) != "second" {
		t.Fatalf("Get after overwrite = %q", got)
	}
	if oi, err := s.Stat(context.Background(), "k"); err != nil || oi.Size != 6 {
		t.Fatalf("Stat after overwrite = %+v, %v", oi, err)
	}
	if keys := Keys(t, s, ""); !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("List after overwrite = %q", keys)
	}
}

func testNotFound(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	Put(t, s, "dir/present", []byte("x"))
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/present/below", "nodir/x"} {
		if _, err := s.Get(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		} else if !strings.Contains(err.Error(), key) {
			t.Errorf("Get(%q) error %q does not name the key", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
	}
	if err := s.Delete(ctx, "missing"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
}

func testNestedKeys(t *testing.T, s objstore.Store) {
	keys := []string{"a/b/c/d/e.sst", "a/b/f", "a/g", "with space/ü-nicode.txt"}
	for i, k := range keys {
		Put(t, s, k, []byte(fmt.Sprint(i)))
	}
	for i, k := range keys {
		if got := Get(t, s, k); string(got) != fmt.Sprint(i) {
			t.Errorf("Get(%q) = %q", k, got)
		}
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := Keys(t, s, ""); !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
}

// The keys in byte order; "a.txt" < "a/b" < "a0" as '.' < '/' < '0'.
var orderKeys = []string{"A", "a-b", "a.txt", "a/b", "a/b/c", "a/c", "a0", "a0/x", "a0x", "b", "backup_1/meta", "backup_10/meta", "backup_2/meta", "z"}

func testListOrder(t *testing.T, s objstore.Store) {
	// A file system cannot make "a" both an object and a directory as S3
	// can: leave out keys that are directories of others.
	var keys []string
	for _, k := range orderKeys {
		if !slices.ContainsFunc(orderKeys, func(o string) bool { return strings.HasPrefix(o, k+"/") }) {
			keys = append(keys, k)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(keys)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, k := range shuffled {
		Put(t, s, k, []byte(k))
	}
	if got := Keys(t, s, ""); !slices.Equal(got, keys) {
		t.Fatalf("List = %q\nwant   %q", got, keys)
	}
	var sizes []int64
	_ = s.List(context.Background(), "", func(oi objstore.ObjectInfo) error { sizes = append(sizes, oi.Size); return nil })
	for i, k := range keys {
		if sizes[i] != int64(len(k)) {
			t.Fatalf("List size of %q = %d, want %d", k, sizes[i], len(k))
		}
	}
}

func testListPrefix(t *testing.T, s objstore.Store) {
	for _, k := range []string{"backup_1/meta", "backup_1/data/1.sst", "backup_10/meta", "backup_2/meta", "backups.txt", "b", "other/backup_1/meta"} {
		Put(t, s, k, []byte(k))
	}
	cases := map[string][]string{
		"":              {"b", "backup_1/data/1.sst", "backup_1/meta", "backup_10/meta", "backup_2/meta", "backups.txt", "other/backup_1/meta"},
		"backup_1/":     {"backup_1/data/1.sst", "backup_1/meta"},
		"backup_1":      {"backup_1/data/1.sst", "backup_1/meta", "backup_10/meta"},
		"backup":        {"backup_1/data/1.sst", "backup_1/meta", "backup_10/meta", "backup_2/meta", "backups.txt"},
		"b":             {"b", "backup_1/data/1.sst", "backup_1/meta", "backup_10/meta", "backup_2/meta", "backups.txt"},
		"backup_1/da":   {"backup_1/data/1.sst"},
		"backup_1/m":    {"backup_1/meta"},
		"backup_1/meta": {"backup_1/meta"},
		"other/":        {"other/backup_1/meta"},
		"nothing":       {},
		"nothing/":      {},
		"backup_3/":     {},
	}
	for prefix, want := range cases {
		if got := Keys(t, s, prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func testListStop(t *testing.T, s objstore.Store) {
	for _, k := range []string{"1", "2", "3"} {
		Put(t, s, k, []byte(k))
	}
	stop := errors.New("stop here")
	var seen []string
	err := s.List(context.Background(), "", func(oi objstore.ObjectInfo) error {
		seen = append(seen, oi.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List = %v, want the callback's error", err)
	}
	if !slices.Equal(seen, []string{"1", "2"}) {
		t.Fatalf("List called back with %q after the error", seen)
	}
}

func testDelete(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	Put(t, s, "x/y/z", []byte("1"))
	Put(t, s, "x/keep", []byte("2"))
	if err := s.Delete(ctx, "x/y/z"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "x/y/z"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "x/y/z"); err != nil {
		t.Fatalf("second Delete = %v, want nil", err)
	}
	if got := Keys(t, s, ""); !slices.Equal(got, []string{"x/keep"}) {
		t.Fatalf("List after Delete = %q", got)
	}
	// The emptied "directory" can hold an object of that name now.
	Put(t, s, "x/y", []byte("3"))
	if err := s.Delete(ctx, "x/keep"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "x/y"); err != nil {
		t.Fatal(err)
	}
	if got := Keys(t, s, ""); len(got) != 0 {
		t.Fatalf("List after deleting all = %q", got)
	}
	Put(t, s, "x", []byte("4"))
	if got := Get(t, s, "x"); string(got) != "4" {
		t.Fatalf("Get(x) = %q", got)
	}
}

func testInvalidKeys(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	for _, key := range []string{"", "/abs", "a//b", "../up", "a/../b", "./a", "a/", "a/."} {
		if err := s.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if err := s.List(ctx, "../", func(objstore.ObjectInfo) error { return nil }); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("List(../) = %v, want ErrInvalidKey", err)
	}
	if got := Keys(t, s, ""); len(got) != 0 {
		t.Fatalf("invalid keys left %q", got)
	}
}

func testSizeMismatch(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	if err := s.Put(ctx, "short", strings.NewReader("12345"), 10); err == nil {
		t.Error("Put of 5 bytes with size 10 succeeded")
	}
	if err := s.Put(ctx, "long", strings.NewReader("12345"), 3); err == nil {
		t.Error("Put of 5 bytes with size 3 succeeded")
	}
	if got := Keys(t, s, ""); len(got) != 0 {
		t.Fatalf("failed Puts left %q", got)
	}
}

// failingReader yields n bytes then fails.
type failingReader struct {
	n   int64
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, r.err
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	clear(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func testFailedPut(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	boom := errors.New("disk on fire")
	for _, tc := range []struct {
		key  string
		n    int64
		size int64
	}{
		{"small", 1000, 2000},
		{"small-unknown", 1000, -1},
		{"large", 20 << 20, 30 << 20},
		{"large-unknown", 20 << 20, -1},
	} {
		err := s.Put(ctx, tc.key, &failingReader{n: tc.n, err: boom}, tc.size)
		if !errors.Is(err, boom) {
			t.Errorf("Put(%s) = %v, want the reader's error", tc.key, err)
		}
	}
	if got := Keys(t, s, ""); len(got) != 0 {
		t.Fatalf("failed Puts left %q", got)
	}
	// Nor over an existing object.
	Put(t, s, "kept", []byte("old"))
	if err := s.Put(ctx, "kept", &failingReader{n: 10, err: boom}, 100); !errors.Is(err, boom) {
		t.Fatalf("Put over kept = %v", err)
	}
	if got := Get(t, s, "kept"); string(got) != "old" {
		t.Fatalf("failed Put changed kept to %q", got)
	}
}

// cancellingReader yields n bytes, then cancels and waits for the context.
type cancellingReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	n      int64
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
		<-r.ctx.Done()
		return 0, r.ctx.Err()
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	clear(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func testCancelledPut(t *testing.T, s objstore.Store) {
	for _, size := range []int64{4096, -1} {
		ctx, cancel := context.WithCancel(context.Background())
		err := s.Put(ctx, "cancelled/obj", &cancellingReader{ctx: ctx, cancel: cancel, n: 1000}, size)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Put (size %d) = %v, want context.Canceled", size, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "cancelled/before", strings.NewReader("x"), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
	}
	if got := Keys(t, s, ""); len(got) != 0 {
		t.Fatalf("cancelled Puts left %q", got)
	}
}

func testCancelledLargePut(t *testing.T, s objstore.Store) {
	for _, size := range []int64{LargeSize, -1} {
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		err := s.Put(ctx, "cancelled/large", &cancellingReader{ctx: ctx, cancel: cancel, n: 20 << 20}, size)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled large Put (size %d) = %v, want context.Canceled", size, err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("cancelled large Put took %v", d)
		}
	}
	if got := Keys(t, s, ""); len(got) != 0 {
		t.Fatalf("cancelled Puts left %q", got)
	}
}

// dataReader is a deterministic pseudo-random stream.
type dataReader struct {
	r *rand.ChaCha8
	n int64
}

func newData(seed byte, n int64) *dataReader {
	var s [32]byte
	s[0] = seed
	return &dataReader{r: rand.NewChaCha8(s), n: n}
}

func (d *dataReader) Read(p []byte) (int, error) {
	if d.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > d.n {
		p = p[:d.n]
	}
	n, _ := d.r.Read(p)
	d.n -= int64(n)
	return n, nil
}

func testLarge(t *testing.T, s objstore.Store, knownSize bool) {
	ctx := ctxFor(t)
	size := int64(-1)
	if knownSize {
		size = LargeSize
	}
	want := sha256.New()
	io.Copy(want, newData(7, LargeSize))
	start := time.Now()
	if err := s.Put(ctx, "large/object.sst", newData(7, LargeSize), size); err != nil {
		t.Fatal(err)
	}
	t.Logf("put %d MiB (size %d) in %v", LargeSize>>20, size, time.Since(start).Round(time.Millisecond))
	oi, err := s.Stat(ctx, "large/object.sst")
	if err != nil || oi.Size != LargeSize {
		t.Fatalf("Stat = %+v, %v; want size %d", oi, err, LargeSize)
	}
	rc, err := s.Get(ctx, "large/object.sst")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := sha256.New()
	n, err := io.Copy(got, rc)
	if err != nil {
		t.Fatal(err)
	}
	if n != LargeSize || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("Get returned %d bytes, sha256 %x; want %d bytes, %x", n, got.Sum(nil), LargeSize, want.Sum(nil))
	}
}

func testCheck(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := Keys(t, s, ""); len(got) != 0 {
		t.Fatalf("Check left %q", got)
	}
	Put(t, s, "after-check", []byte("x"))
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func testURI(t *testing.T, s objstore.Store) {
	u := s.URI()
	if !strings.HasPrefix(u, "s3://") && !strings.HasPrefix(u, "gs://") && !strings.HasPrefix(u, "local:///") {
		t.Fatalf("URI() = %q", u)
	}
	if strings.Contains(u, "@") {
		t.Fatalf("URI() = %q carries userinfo", u)
	}
}

// testDeleteDir: everything under the directory goes, nothing beside it.
func testDeleteDir(t *testing.T, s objstore.Store) {
	ctx := ctxFor(t)
	for _, k := range []string{"d/a", "d/x/b", "d/x/y/c", "d2/a", "dx", "e/d/a"} {
		Put(t, s, k, []byte(k))
	}
	n, err := s.DeleteDir(ctx, "d")
	if err != nil || n != 3 {
		t.Fatalf("DeleteDir(d) = %d, %v; want 3 objects", n, err)
	}
	var left []string
	if err := s.List(ctx, "", func(oi objstore.ObjectInfo) error { left = append(left, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(left, ",") != "d2/a,dx,e/d/a" {
		t.Fatalf("after DeleteDir(d): %v", left)
	}
	if n, err := s.DeleteDir(ctx, "d"); err != nil || n != 0 {
		t.Fatalf("DeleteDir of nothing = %d, %v", n, err)
	}
	if _, err := s.DeleteDir(ctx, "../x"); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("DeleteDir(../x): %v, want ErrInvalidKey", err)
	}
}
