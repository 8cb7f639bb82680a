package objstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/gcstest"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
	"github.com/nebula-open/nebula-br/internal/objstore/objstoretest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	miniotest.Cleanup()
	gcstest.Cleanup()
	os.Exit(code)
}

func openLocal(t *testing.T, dir string) objstore.Store {
	t.Helper()
	s, err := objstore.Open(context.Background(), "local://"+dir, objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLocalContract(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		// A root that does not exist yet: Put and Check create it.
		return openLocal(t, filepath.Join(t.TempDir(), "store"))
	})
}

// files lists every file and directory under dir (relative, "/" for dirs).
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	return out
}

func TestLocalLayoutAndPrune(t *testing.T) {
	root := t.TempDir()
	s := openLocal(t, root)
	ctx := context.Background()
	objstoretest.Put(t, s, "a/b/c/file", []byte("x"))
	objstoretest.Put(t, s, "a/keep", []byte("y"))
	b, err := os.ReadFile(filepath.Join(root, "a", "b", "c", "file"))
	if err != nil || string(b) != "x" {
		t.Fatalf("key a/b/c/file is not the file root/a/b/c/file: %q, %v", b, err)
	}
	if err := s.Delete(ctx, "a/b/c/file"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(files(t, root), " "); got != "a/ a/keep" {
		t.Fatalf("after Delete the tree is %q, want emptied dirs pruned", got)
	}
	if err := s.Delete(ctx, "a/keep"); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Fatalf("after deleting all the tree is %q", got)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("the root itself was pruned: %v", err)
	}
}

func TestLocalFailedPutLeavesNothing(t *testing.T) {
	root := t.TempDir()
	s := openLocal(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	r := &blockingReader{n: 1 << 20, cancel: cancel, ctx: ctx}
	if err := s.Put(ctx, "deep/dir/obj", r, -1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Fatalf("cancelled Put left %q (temp file or created dirs)", got)
	}
}

type blockingReader struct {
	n      int
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
		<-r.ctx.Done()
		return 0, r.ctx.Err()
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestLocalListSkipsTempFiles(t *testing.T) {
	root := t.TempDir()
	s := openLocal(t, root)
	objstoretest.Put(t, s, "d/obj", []byte("x"))
	// An unfinished Put's temp file, as left by a crash.
	if err := os.WriteFile(filepath.Join(root, "d", ".objstore-tmp-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := objstoretest.Keys(t, s, ""); strings.Join(got, " ") != "d/obj" {
		t.Fatalf("List = %q", got)
	}
	if err := s.Put(context.Background(), "d/.objstore-tmp-x", strings.NewReader("x"), 1); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("Put of a temp-file name = %v, want ErrInvalidKey", err)
	}
}

func TestLocalDeleteDirTakesTempFiles(t *testing.T) {
	root := t.TempDir()
	s := openLocal(t, root)
	objstoretest.Put(t, s, "d/sub/obj", []byte("x"))
	if err := os.WriteFile(filepath.Join(root, "d", "sub", ".objstore-tmp-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteDir(context.Background(), "d"); err != nil || n != 1 {
		t.Fatalf("DeleteDir = %d, %v", n, err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Fatalf("DeleteDir left %q", got)
	}
}

func TestLocalReadOnlyCheckCreatesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")
	s, err := objstore.Open(context.Background(), "local://"+root, objstore.Config{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check(context.Background())
	if !errors.Is(err, objstore.ErrBucketNotFound) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("read-only Check of a missing root = %v", err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("read-only Check created %s (%v)", root, err)
	}
}

func TestLocalCheck(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "root")
	s := openLocal(t, root)
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		t.Fatalf("Check did not create the root: %v", err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Fatalf("Check left %q", got)
	}
	if os.Geteuid() == 0 {
		// root writes anywhere; a file in the way fails for everyone.
		blocked := filepath.Join(t.TempDir(), "file")
		os.WriteFile(blocked, nil, 0o644)
		s = openLocal(t, filepath.Join(blocked, "sub"))
	} else {
		ro := filepath.Join(t.TempDir(), "ro")
		os.Mkdir(ro, 0o555)
		s = openLocal(t, ro)
	}
	err := s.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not usable") || !strings.Contains(err.Error(), s.URI()) {
		t.Fatalf("Check of an unusable root = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for uri, want := range map[string]string{
		"":                              "missing scheme",
		"/abs/path":                     "missing scheme",
		"ftp://host/x":                  `unsupported scheme "ftp"`,
		"local://relative/path":         "must be absolute",
		"local:relative":                "must be absolute",
		"s3://":                         "missing bucket name",
		"s3:///prefix":                  "missing bucket name",
		"s3://Bad_Bucket":               "bad bucket name",
		"s3://b/x/../y":                 "prefix",
		"s3://AKIAXX:s3cr3tXYZ@bucket/": "credentials do not belong",
	} {
		_, err := objstore.Open(ctx, uri, objstore.Config{})
		if !errors.Is(err, objstore.ErrInvalidURI) {
			t.Errorf("Open(%q) = %v, want ErrInvalidURI", uri, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || !strings.Contains(msg, "s3://BUCKET[/prefix]") || !strings.Contains(msg, "local:///") {
			t.Errorf("Open(%q) = %q, want it to say %q and name the accepted forms", uri, msg, want)
		}
		if strings.Contains(msg, "s3cr3tXYZ") || strings.Contains(msg, "AKIAXX") {
			t.Errorf("Open(%q) error shows the credentials: %q", uri, msg)
		}
	}
	for uri, want := range map[string]string{
		"local:///tmp/x/":        "local:///tmp/x",
		"local:///tmp//y/../x":   "local:///tmp/x",
		"s3://bucket":            "s3://bucket",
		"s3://bucket/":           "s3://bucket",
		"s3://bucket/pre/fix/":   "s3://bucket/pre/fix",
		"S3://bucket/backups":    "s3://bucket/backups",
		"local:///":              "local:///",
		"s3://my.bucket-1/a b/c": "s3://my.bucket-1/a b/c",
	} {
		s, err := objstore.Open(ctx, uri, objstore.Config{})
		if err != nil {
			t.Errorf("Open(%q): %v", uri, err)
			continue
		}
		if s.URI() != want {
			t.Errorf("Open(%q).URI() = %q, want %q", uri, s.URI(), want)
		}
	}
	for _, ep := range []string{"ftp://h:1", "http://", "http://h:1/path", "http://u:p@h:1"} {
		_, err := objstore.Open(ctx, "s3://bucket", objstore.Config{S3: objstore.S3Config{Endpoint: ep}})
		if !errors.Is(err, objstore.ErrInvalidURI) {
			t.Errorf("Open with endpoint %q = %v, want ErrInvalidURI", ep, err)
		} else if strings.Contains(err.Error(), "u:p") {
			t.Errorf("endpoint error shows credentials: %v", err)
		}
	}
}
