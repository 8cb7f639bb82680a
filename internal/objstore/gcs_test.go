package objstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/gcstest"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
	"github.com/nebula-open/nebula-br/internal/objstore/objstoretest"
)

func TestGSContract(t *testing.T) {
	srv := gcstest.Shared(t)
	bucket := srv.Bucket(t, "contract")
	n := 0
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		// Every subtest its own prefix in one bucket; a prefix must isolate.
		n++
		return openGS(t, fmt.Sprintf("gs://%s/run/%d", bucket, n), srv.Config())
	})
}

func TestGSContractBucketRoot(t *testing.T) {
	srv := gcstest.Shared(t)
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		if strings.HasPrefix(t.Name(), "TestGSContractBucketRoot/Large") || strings.Contains(t.Name(), "Cancelled") {
			t.Skip("covered with a prefix by TestGSContract")
		}
		return openGS(t, "gs://"+srv.Bucket(t, "root"), srv.Config())
	})
}

// The contract again with a service account key: every request carries a
// token the key obtained from the token endpoint.
func TestGSContractServiceAccount(t *testing.T) {
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	creds := auth.ServiceAccount(t, "backup@nebula-br-test.iam.gserviceaccount.com")
	bucket := srv.Bucket(t, "contract-sa")
	n := 0
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		if strings.HasPrefix(t.Name(), "TestGSContractServiceAccount/Large") {
			t.Skip("covered without credentials by TestGSContract")
		}
		n++
		return openGS(t, fmt.Sprintf("gs://%s/sa/%d", bucket, n), auth.Config(creds))
	})
	if auth.Requests() == 0 {
		t.Fatal("no request went through the token check")
	}
}

// The prefix is a directory: gs://b/p does not see gs://b/p2.
func TestGSPrefixIsolation(t *testing.T) {
	srv := gcstest.Shared(t)
	bucket := srv.Bucket(t, "iso")
	a := openGS(t, "gs://"+bucket+"/p", srv.Config())
	b := openGS(t, "gs://"+bucket+"/p2", srv.Config())
	root := openGS(t, "gs://"+bucket, srv.Config())
	objstoretest.Put(t, a, "x", []byte("a"))
	objstoretest.Put(t, b, "x", []byte("b"))
	if got := objstoretest.Keys(t, a, ""); strings.Join(got, " ") != "x" {
		t.Fatalf("gs://%s/p lists %q", bucket, got)
	}
	if got := objstoretest.Keys(t, root, ""); strings.Join(got, " ") != "p/x p2/x" {
		t.Fatalf("gs://%s lists %q", bucket, got)
	}
	if got := objstoretest.Get(t, root, "p2/x"); string(got) != "b" {
		t.Fatalf("p2/x = %q", got)
	}
}

// secretsOf is what of a credentials JSON must never be shown.
func secretsOf(t *testing.T, creds []byte) []string {
	t.Helper()
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(creds, &f); err != nil {
		t.Fatal(err)
	}
	out := []string{f.PrivateKey}
	for _, line := range strings.Split(f.PrivateKey, "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

// A credentials file works as its content does, and the key's text never
// shows.
func TestGSCredentialsFile(t *testing.T) {
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	creds := auth.ServiceAccount(t, "file@nebula-br-test.iam.gserviceaccount.com")
	file := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(file, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	bucket := srv.Bucket(t, "file")
	cfg := objstore.Config{GS: objstore.GSConfig{Endpoint: auth.Endpoint, CredentialsFile: file}}
	s := openGS(t, "gs://"+bucket+"/b", cfg)
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	objstoretest.Put(t, s, "k", []byte("v"))
	if got := objstoretest.Get(t, s, "k"); string(got) != "v" {
		t.Fatalf("Get = %q", got)
	}
	text := fmt.Sprintf("%v %+v %v %+v", s, cfg, auth.Config(creds), auth.Config(creds).GS)
	assertNoSecrets(t, text, secretsOf(t, creds)...)

	cfg.GS.CredentialsFile = filepath.Join(t.TempDir(), "missing.json")
	if _, err := objstore.Open(context.Background(), "gs://"+bucket, cfg); !errors.Is(err, objstore.ErrAccessDenied) || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("Open with a missing credentials file = %v", err)
	}
}

// A key the token endpoint does not know (deleted, or of another project).
func TestGSForeignKey(t *testing.T) {
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	bucket := srv.Bucket(t, "foreign")
	auth.ServiceAccount(t, "backup@nebula-br-test.iam.gserviceaccount.com")
	creds := auth.ForeignKey(t, "backup@nebula-br-test.iam.gserviceaccount.com")
	s := openGS(t, "gs://"+bucket+"/backups", auth.Config(creds))
	err := within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	want := fmt.Sprintf("credentials for bucket %q rejected by the token endpoint (400 invalid_grant: Invalid JWT Signature.): check --gs.credentials or GOOGLE_APPLICATION_CREDENTIALS (a service account key JSON)", bucket)
	if !errors.Is(err, objstore.ErrAccessDenied) || err.Error() != want {
		t.Fatalf("Check = %v\nwant   %s", err, want)
	}
	for op, err := range every(s) {
		if !errors.Is(err, objstore.ErrAccessDenied) {
			t.Errorf("%s = %v, want ErrAccessDenied", op, err)
			continue
		}
		assertNoSecrets(t, err.Error(), secretsOf(t, creds)...)
	}
	if n := auth.Requests(); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
}

// An account the bucket refuses (403), and a request without a token (401).
func TestGSAccessDenied(t *testing.T) {
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	bucket := srv.Bucket(t, "denied")
	creds := auth.ServiceAccount(t, "reader@nebula-br-test.iam.gserviceaccount.com")
	auth.Deny("reader@nebula-br-test.iam.gserviceaccount.com")
	s := openGS(t, "gs://"+bucket+"/backups", auth.Config(creds))
	err := within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	wantPrefix := fmt.Sprintf("access to bucket %q denied by %s (403 reader@nebula-br-test.iam.gserviceaccount.com does not have storage.objects.list access", bucket, auth.Endpoint)
	if !errors.Is(err, objstore.ErrAccessDenied) || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), "grant the credentials' account roles/storage.objectAdmin on the bucket") {
		t.Fatalf("Check = %v\nwant   %s...", err, wantPrefix)
	}
	for op, err := range every(s) {
		if !errors.Is(err, objstore.ErrAccessDenied) {
			t.Errorf("%s = %v, want ErrAccessDenied", op, err)
			continue
		}
		assertNoSecrets(t, err.Error(), secretsOf(t, creds)...)
	}

	// No credentials at all: the endpoint wants a token.
	anon := openGS(t, "gs://"+bucket, objstore.Config{GS: objstore.GSConfig{Endpoint: auth.Endpoint}})
	err = anon.Check(context.Background())
	t.Logf("Check without credentials: %v", err)
	if !errors.Is(err, objstore.ErrAccessDenied) || !strings.HasPrefix(err.Error(), fmt.Sprintf("credentials rejected by %s for bucket %q (401 ", auth.Endpoint, bucket)) {
		t.Fatalf("Check without credentials = %v", err)
	}
}

// Credentials that are not a service account key are refused at Open,
// without quoting them.
func TestGSBadCredentials(t *testing.T) {
	srv := gcstest.Shared(t)
	for name, tc := range map[string]struct{ creds, want string }{
		"not json":  {`-----BEGIN PRIVATE KEY-----MIIsecretsecretsecret`, "not a credentials JSON (invalid JSON at byte "},
		"no type":   {`{"private_key": "secretsecretsecret"}`, `the JSON has no "type"`},
		"external":  {`{"type": "external_account", "credential_source": {"executable": {"command": "secretsecretsecret"}}}`, `credentials of type "external_account" are not supported`},
		"truncated": {`{"type": "service_account", "private_key": "secretsecretsecret`, "not a credentials JSON"},
	} {
		_, err := objstore.Open(context.Background(), "gs://bucket", objstore.Config{GS: objstore.GSConfig{Endpoint: srv.Endpoint, Credentials: tc.creds}})
		if !errors.Is(err, objstore.ErrAccessDenied) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--gs.credentials") {
			t.Errorf("%s: Open = %v, want ErrAccessDenied saying %q", name, err, tc.want)
			continue
		}
		assertNoSecrets(t, err.Error(), "secretsecretsecret")
	}
}

func TestGSMissingBucket(t *testing.T) {
	srv := gcstest.Shared(t)
	s := openGS(t, "gs://no-such-bucket-here/backups", srv.Config())
	err := within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	want := fmt.Sprintf(`bucket "no-such-bucket-here" does not exist at %s: create it or fix --storage`, srv.Endpoint)
	if !errors.Is(err, objstore.ErrBucketNotFound) || err.Error() != want {
		t.Fatalf("Check = %v\nwant   %s", err, want)
	}
	for op, err := range every(s) {
		if op == "Delete" && err == nil {
			continue // GCS answers a delete in a missing bucket as of a missing object
		}
		if !errors.Is(err, objstore.ErrBucketNotFound) {
			t.Errorf("%s = %v, want ErrBucketNotFound", op, err)
		}
	}
}

func TestGSUnreachable(t *testing.T) {
	addr, err := miniotest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	s := openGS(t, "gs://bucket/p", objstore.Config{GS: objstore.GSConfig{Endpoint: "http://" + addr}})
	err = within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	wantPrefix := fmt.Sprintf(`cannot reach GCS endpoint http://%s (bucket "bucket"): `, addr)
	if !errors.Is(err, objstore.ErrUnreachable) || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Check = %v\nwant   %s...connection refused", err, wantPrefix)
	}
	start := time.Now()
	for op, err := range every(s) {
		t.Logf("%s: %v", op, err)
		if !errors.Is(err, objstore.ErrUnreachable) {
			t.Errorf("%s = %v, want ErrUnreachable", op, err)
		}
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("7 operations against a closed port took %v", took)
	}
}

// A token endpoint that does not answer: the error names it, not storage.
func TestGSTokenEndpointUnreachable(t *testing.T) {
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	addr, err := miniotest.ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	creds := strings.Replace(string(auth.ServiceAccount(t, "x@nebula-br-test.iam.gserviceaccount.com")), auth.TokenURL(), "http://"+addr+"/token", 1)
	bucket := srv.Bucket(t, "tokenless")
	s := openGS(t, "gs://"+bucket, auth.Config([]byte(creds)))
	err = within(t, 5*time.Second, "Check", func() error { return s.Check(context.Background()) })
	t.Logf("Check: %v", err)
	if !errors.Is(err, objstore.ErrUnreachable) || !strings.HasPrefix(err.Error(), fmt.Sprintf("cannot reach the token endpoint http://%s (bucket %q): ", addr, bucket)) {
		t.Fatalf("Check = %v, want ErrUnreachable naming the token endpoint %s", err, addr)
	}
	assertNoSecrets(t, err.Error(), secretsOf(t, []byte(creds))...)
}

// STORAGE_EMULATOR_HOST, as the library honours it, when no endpoint is
// configured.
func TestGSEmulatorHostEnv(t *testing.T) {
	srv := gcstest.Shared(t)
	bucket := srv.Bucket(t, "env")
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(srv.Endpoint, "http://"))
	s := openGS(t, "gs://"+bucket+"/e", objstore.Config{})
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	objstoretest.Put(t, s, "k", []byte("v"))
	if got := objstoretest.Get(t, s, "k"); string(got) != "v" {
		t.Fatalf("Get = %q", got)
	}
	if !strings.Contains(fmt.Sprint(s), srv.Endpoint) {
		t.Errorf("store %v does not name the emulator", s)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", "http://h:1/some/path")
	if _, err := objstore.Open(context.Background(), "gs://"+bucket, objstore.Config{}); !errors.Is(err, objstore.ErrInvalidURI) || !strings.Contains(err.Error(), "STORAGE_EMULATOR_HOST") {
		t.Fatalf("Open with a bad STORAGE_EMULATOR_HOST = %v", err)
	}
}

// A cancelled Check returns at once with the context's error.
func TestGSCheckCancelled(t *testing.T) {
	srv := gcstest.Shared(t)
	s := openGS(t, "gs://"+srv.Bucket(t, "cancel"), srv.Config())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled context = %v", err)
	}
}

// A server that goes away and comes back: errors while it is down say so.
func TestGSServerRestart(t *testing.T) {
	srv := gcstest.Start(t)
	bucket := srv.Bucket(t, "restart")
	s := openGS(t, "gs://"+bucket, srv.Config())
	objstoretest.Put(t, s, "survivor", []byte("here"))
	srv.Stop()
	err := within(t, 5*time.Second, "Check while stopped", func() error { return s.Check(context.Background()) })
	if !errors.Is(err, objstore.ErrUnreachable) {
		t.Fatalf("Check while stopped = %v, want ErrUnreachable", err)
	}
	err = within(t, 10*time.Second, "Get while stopped", func() error {
		_, err := s.Get(context.Background(), "survivor")
		return err
	})
	if !errors.Is(err, objstore.ErrUnreachable) || !strings.HasPrefix(err.Error(), `get "survivor": cannot reach GCS endpoint `+srv.Endpoint) {
		t.Fatalf("Get while stopped = %v", err)
	}
	srv.Start(t)
	// The server keeps its storage in memory: the bucket is gone, and
	// once made again the store works on.
	if err := s.Check(context.Background()); !errors.Is(err, objstore.ErrBucketNotFound) {
		t.Fatalf("Check after restart = %v, want ErrBucketNotFound", err)
	}
	c, err := srv.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bucket(bucket).Create(context.Background(), gcstest.Project, nil); err != nil {
		t.Fatal(err)
	}
	objstoretest.Put(t, s, "again", []byte("there"))
	rc, err := s.Get(context.Background(), "again")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "there" {
		t.Fatalf("after restart: %q", b)
	}
}

func TestGSOpenForms(t *testing.T) {
	ctx := context.Background()
	for uri, want := range map[string]string{
		"gs://bucket":            "gs://bucket",
		"gs://bucket/":           "gs://bucket",
		"GS://bucket/pre/fix/":   "gs://bucket/pre/fix",
		"gs://my.bucket_1/a b/c": "gs://my.bucket_1/a b/c",
	} {
		s, err := objstore.Open(ctx, uri, objstore.Config{GS: objstore.GSConfig{Endpoint: "http://127.0.0.1:1"}})
		if err != nil {
			t.Errorf("Open(%q): %v", uri, err)
			continue
		}
		if s.URI() != want {
			t.Errorf("Open(%q).URI() = %q, want %q", uri, s.URI(), want)
		}
	}
	for uri, want := range map[string]string{
		"gs://":                "missing bucket name",
		"gs:///prefix":         "missing bucket name",
		"gs://Bad_Bucket":      "bad bucket name",
		"gs://ab":              "bad bucket name",
		"gs://-bucket":         "bad bucket name",
		"gs://b:443/x":         "may not have a port",
		"gs://bucket/x/../y":   "prefix",
		"gs://u:s3cr3tXYZ@b/x": "credentials do not belong",
	} {
		_, err := objstore.Open(ctx, uri, objstore.Config{})
		if !errors.Is(err, objstore.ErrInvalidURI) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "gs://BUCKET[/prefix]") {
			t.Errorf("Open(%q) = %v, want ErrInvalidURI saying %q", uri, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3tXYZ") {
			t.Errorf("Open(%q) error shows the credentials: %v", uri, err)
		}
	}
	for _, ep := range []string{"ftp://h:1", "http://", "http://h:1/path", "http://u:p@h:1"} {
		_, err := objstore.Open(ctx, "gs://bucket", objstore.Config{GS: objstore.GSConfig{Endpoint: ep}})
		if !errors.Is(err, objstore.ErrInvalidURI) {
			t.Errorf("Open with endpoint %q = %v, want ErrInvalidURI", ep, err)
		} else if strings.Contains(err.Error(), "u:p") {
			t.Errorf("endpoint error shows credentials: %v", err)
		}
	}
}

func openGS(t *testing.T, uri string, cfg objstore.Config) objstore.Store {
	t.Helper()
	return openS3(t, uri, cfg)
}
