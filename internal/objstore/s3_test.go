package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
	"github.com/nebula-open/nebula-br/internal/objstore/objstoretest"
)

func openS3(t *testing.T, uri string, cfg objstore.Config) objstore.Store {
	t.Helper()
	s, err := objstore.Open(context.Background(), uri, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Contract(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "contract")
	n := 0
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		// Every subtest its own prefix in one bucket; a prefix must isolate.
		n++
		return openS3(t, fmt.Sprintf("s3://%s/run/%d", bucket, n), srv.Config())
	})
}

func TestS3ContractBucketRoot(t *testing.T) {
	srv := miniotest.Shared(t)
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		if strings.HasPrefix(t.Name(), "TestS3ContractBucketRoot/Large") || strings.Contains(t.Name(), "Cancelled") {
			t.Skip("covered with a prefix by TestS3Contract")
		}
		return openS3(t, "s3://"+srv.Bucket(t, "root"), srv.Config())
	})
}

// The prefix is a directory: s3://b/p does not see s3://b/p2.
func TestS3PrefixIsolation(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "iso")
	a := openS3(t, "s3://"+bucket+"/p", srv.Config())
	b := openS3(t, "s3://"+bucket+"/p2", srv.Config())
	root := openS3(t, "s3://"+bucket, srv.Config())
	objstoretest.Put(t, a, "x", []byte("a"))
	objstoretest.Put(t, b, "x", []byte("b"))
	if got := objstoretest.Keys(t, a, ""); strings.Join(got, " ") != "x" {
		t.Fatalf("s3://%s/p lists %q", bucket, got)
	}
	if got := objstoretest.Keys(t, root, ""); strings.Join(got, " ") != "p/x p2/x" {
		t.Fatalf("s3://%s lists %q", bucket, got)
	}
	if got := objstoretest.Get(t, root, "p2/x"); string(got) != "b" {
		t.Fatalf("p2/x = %q", got)
	}
}

// Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when the config
// has none (set here, so the chain never gets as far as IAM).
func TestS3EnvCredentials(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "env")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("HOME", t.TempDir()) // no ~/.aws/credentials
	cfg := srv.Config()
	cfg.S3.AccessKey, cfg.S3.SecretKey = "", ""
	s := openS3(t, "s3://"+bucket, cfg)
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	objstoretest.Put(t, s, "k", []byte("v"))

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-"+srv.SecretKey)
	s = openS3(t, "s3://"+bucket, cfg)
	err := s.Check(context.Background())
	if !errors.Is(err, objstore.ErrAccessDenied) {
		t.Fatalf("Check with a wrong AWS_SECRET_ACCESS_KEY = %v, want ErrAccessDenied", err)
	}
	assertNoSecrets(t, err.Error(), srv.AccessKey, srv.SecretKey, "wrong-"+srv.SecretKey)
}

// assertNoSecrets fails if text holds any of the secrets.
func assertNoSecrets(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("text shows a credential (%q...): %q", s[:4], text)
		}
	}
}

// within runs fn and fails if it takes longer than d.
func within(t *testing.T, d time.Duration, what string, fn func() error) error {
	t.Helper()
	start := time.Now()
	err := fn()
	if took := time.Since(start); took > d {
		t.Errorf("%s took %v, want under %v", what, took.Round(time.Millisecond), d)
	}
	return err
}

// every runs each store operation and returns its error.
func every(s objstore.Store) map[string]error {
	ctx := context.Background()
	errs := map[string]error{}
	errs["Check"] = s.Check(ctx)
	errs["Put"] = s.Put(ctx, "some/key", strings.NewReader("data"), 4)
	errs["PutUnknown"] = s.Put(ctx, "some/key", strings.NewReader("data"), -1)
	_, errs["Get"] = s.Get(ctx, "some/key")
	_, errs["Stat"] = s.Stat(ctx, "some/key")
	errs["List"] = s.List(ctx, "", func(objstore.ObjectInfo) error { return nil })
	errs["Delete"] = s.Delete(ctx, "some/key")
	return errs
}

func TestS3WrongSecretKey(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "wrong-secret")
	cfg := srv.Config()
	cfg.S3.SecretKey = "not-" + srv.SecretKey
	s := openS3(t, "s3://"+bucket+"/backups", cfg)
	err := within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	want := fmt.Sprintf("credentials rejected by %s (SignatureDoesNotMatch): check --s3.access_key/--s3.secret_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", srv.Endpoint)
	if !errors.Is(err, objstore.ErrAccessDenied) || err.Error() != want {
		t.Fatalf("Check = %v\nwant   %s", err, want)
	}
	for op, err := range every(s) {
		if !errors.Is(err, objstore.ErrAccessDenied) {
			t.Errorf("%s = %v, want ErrAccessDenied", op, err)
			continue
		}
		assertNoSecrets(t, err.Error(), srv.AccessKey, srv.SecretKey, cfg.S3.SecretKey)
	}
	assertNoSecrets(t, fmt.Sprint(s), srv.AccessKey, cfg.S3.SecretKey)
	assertNoSecrets(t, fmt.Sprintf("%v %+v", cfg, cfg), cfg.S3.SecretKey)
}

func TestS3WrongAccessKey(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "wrong-access")
	cfg := srv.Config()
	cfg.S3.AccessKey = "nobody-" + srv.AccessKey
	s := openS3(t, "s3://"+bucket, cfg)
	err := within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	want := fmt.Sprintf("credentials rejected by %s (InvalidAccessKeyId): check --s3.access_key/--s3.secret_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", srv.Endpoint)
	if !errors.Is(err, objstore.ErrAccessDenied) || err.Error() != want {
		t.Fatalf("Check = %v\nwant   %s", err, want)
	}
	for op, err := range every(s) {
		if !errors.Is(err, objstore.ErrAccessDenied) {
			t.Errorf("%s = %v, want ErrAccessDenied", op, err)
			continue
		}
		assertNoSecrets(t, err.Error(), cfg.S3.AccessKey, srv.SecretKey)
	}
}

func TestS3MissingBucket(t *testing.T) {
	srv := miniotest.Shared(t)
	s := openS3(t, "s3://no-such-bucket-here/backups", srv.Config())
	err := within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	want := fmt.Sprintf(`bucket "no-such-bucket-here" does not exist at %s: create it or fix --storage`, srv.Endpoint)
	if !errors.Is(err, objstore.ErrBucketNotFound) || err.Error() != want {
		t.Fatalf("Check = %v\nwant   %s", err, want)
	}
	for op, err := range every(s) {
		if op == "Delete" && err == nil {
			continue // S3 may answer a delete in a missing bucket either way
		}
		if !errors.Is(err, objstore.ErrBucketNotFound) {
			t.Errorf("%s = %v, want ErrBucketNotFound", op, err)
		}
		assertNoSecrets(t, err.Error(), srv.AccessKey, srv.SecretKey)
	}
}

func TestS3Unreachable(t *testing.T) {
	addr, err := miniotest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := objstore.Config{S3: objstore.S3Config{
		Endpoint:  "http://" + addr,
		AccessKey: "AKIAUNREACHABLE0001",
		SecretKey: "unreachable-secret-key-0123456789",
	}}
	s := openS3(t, "s3://bucket/p", cfg)
	err = within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	wantPrefix := fmt.Sprintf("cannot reach S3 endpoint http://%s: ", addr)
	if !errors.Is(err, objstore.ErrUnreachable) || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Check = %v\nwant   %s...connection refused", err, wantPrefix)
	}
	start := time.Now()
	for op, err := range every(s) {
		t.Logf("%s: %v", op, err)
		if !errors.Is(err, objstore.ErrUnreachable) {
			t.Errorf("%s = %v, want ErrUnreachable", op, err)
			continue
		}
		assertNoSecrets(t, err.Error(), cfg.S3.AccessKey, cfg.S3.SecretKey)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("7 operations against a closed port took %v", took)
	}
}

// A cancelled Check returns at once with the context's error.
func TestS3CheckCancelled(t *testing.T) {
	srv := miniotest.Shared(t)
	s := openS3(t, "s3://"+srv.Bucket(t, "cancel"), srv.Config())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled context = %v", err)
	}
}

// A server that goes away and comes back: errors while it is down say so,
// and the data is there after.
func TestS3ServerRestart(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, "restart")
	s := openS3(t, "s3://"+bucket, srv.Config())
	objstoretest.Put(t, s, "survivor", []byte("still here"))
	srv.Stop()
	err := within(t, 5*time.Second, "Check while stopped", func() error { return s.Check(context.Background()) })
	if !errors.Is(err, objstore.ErrUnreachable) {
		t.Fatalf("Check while stopped = %v, want ErrUnreachable", err)
	}
	err = within(t, 10*time.Second, "Get while stopped", func() error {
		_, err := s.Get(context.Background(), "survivor")
		return err
	})
	if !errors.Is(err, objstore.ErrUnreachable) || !strings.HasPrefix(err.Error(), `get "survivor": cannot reach S3 endpoint `+srv.Endpoint) {
		t.Fatalf("Get while stopped = %v", err)
	}
	srv.Start(t)
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(context.Background(), "survivor")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "still here" {
		t.Fatalf("after restart: %q", b)
	}
}

// A failed or cancelled multipart Put aborts its upload: no parts are left
// behind to be billed.
func TestS3CancelledPutAbortsUpload(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "abort")
	s := openS3(t, "s3://"+bucket+"/p", srv.Config())
	for _, size := range []int64{objstoretest.LargeSize, -1} {
		ctx, cancel := context.WithCancel(context.Background())
		r := &blockingReader{n: 20 << 20, ctx: ctx, cancel: cancel}
		if err := s.Put(ctx, "big", r, size); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put = %v, want context.Canceled", err)
		}
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	for u := range c.ListIncompleteUploads(context.Background(), bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Errorf("incomplete upload left: %s (%s)", u.Key, u.UploadID)
	}
}

func TestS3Addressing(t *testing.T) {
	// Path-style vs virtual-host is visible only on the wire; here: the
	// accepted endpoint forms open, and URI() never shows the endpoint's
	// credentials or the keys.
	cfg := objstore.Config{S3: objstore.S3Config{AccessKey: "AKIAEXAMPLE", SecretKey: "secretEXAMPLE"}}
	for _, ep := range []string{"", "s3.us-west-2.amazonaws.com", "https://s3.amazonaws.com", "http://127.0.0.1:9000", "minio.local:9000", "https://storage.example.com/"} {
		cfg.S3.Endpoint = ep
		s, err := objstore.Open(context.Background(), "s3://bucket/prefix", cfg)
		if err != nil {
			t.Errorf("endpoint %q: %v", ep, err)
			continue
		}
		text := s.URI() + " " + fmt.Sprint(s)
		assertNoSecrets(t, text, "AKIAEXAMPLE", "secretEXAMPLE")
	}
}
