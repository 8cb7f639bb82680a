// Package gcstest runs a real Google Cloud Storage API server for tests:
// fake-gcs-server (github.com/fsouza/fake-gcs-server), which serves GCS's
// JSON API, its resumable uploads and its XML downloads as the
// cloud.google.com/go/storage library uses them.
//
// The server is the repository's bin/fake-gcs-server, built from the version
// pinned in hack/tools/go.mod by hack/tools/install.sh (make tools). If it is
// missing or stale, Start runs that script first (about a minute on two
// cores), so a plain `go test ./...` works too. Set NEBULA_FAKE_GCS_BIN to use
// another binary.
//
// One server per test package is plenty:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		gcstest.Cleanup()
//		os.Exit(code)
//	}
//
//	func TestX(t *testing.T) {
//		srv := gcstest.Shared(t)
//		bucket := srv.Bucket(t, "x")
//		store, err := objstore.Open(ctx, "gs://"+bucket, srv.Config())
//		...
//	}
//
// fake-gcs-server takes any request without looking at credentials. NewAuth
// puts Google's side of credentials in front of it (a token endpoint and a
// check of every request's token), for tests of service account keys.
//
// A package that does not call Cleanup still leaves no server behind: the
// server is started with a parent-death signal and dies with the test binary.
package gcstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

// Project is the project buckets are created in.
const Project = "nebula-br-test"

// Server is one fake-gcs-server process (in-memory storage).
type Server struct {
	Endpoint string // http://127.0.0.1:PORT

	bin  string
	addr string // 127.0.0.1:PORT

	mu      sync.Mutex
	started bool               // once: later starts keep the address
	proc    *miniotest.Process // while running
	logs    string             // the last process's output, once stopped
}

// Start runs a new server on a free loopback port and stops it when t's
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// Shared returns the package's one server, starting it on first use. Stop it
// with Cleanup from TestMain; tests must not Stop it.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		s, err := newServer()
		if err == nil {
			if err = s.start(); err == nil {
				shared.srv = s
			}
		}
		shared.err = err
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// Cleanup stops the shared server, if one was started.
func Cleanup() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		shared.srv = nil
	}
}

func newServer() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	addr, err := miniotest.ClosedPort()
	if err != nil {
		return nil, err
	}
	return &Server{Endpoint: "http://" + addr, bin: bin, addr: addr}, nil
}

// Config is the objstore configuration that reaches this server (an
// emulator: no credentials).
func (s *Server) Config() objstore.Config {
	return objstore.Config{GS: objstore.GSConfig{Endpoint: s.Endpoint}}
}

// Client is a storage client of this server, without credentials.
func (s *Server) Client(ctx context.Context) (*storage.Client, error) {
	return storage.NewClient(ctx, option.WithEndpoint(s.Endpoint+"/storage/v1/"), option.WithoutAuthentication())
}

var bucketChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Bucket creates a new bucket and returns its name: name (lower-cased, other
// characters than a-z, 0-9 and '-' replaced) plus a random suffix, so tests
// sharing a server never collide.
func (s *Server) Bucket(t testing.TB, name string) string {
	t.Helper()
	base := strings.Trim(bucketChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	if len(base) < 3 {
		base = "test" + base
	}
	bucket := base + "-" + randHex(4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bucket(bucket).Create(ctx, Project, nil); err != nil {
		t.Fatalf("create bucket %s at %s: %v", bucket, s.Endpoint, err)
	}
	return bucket
}

// Start starts the server again after Stop, on the same address. Its
// storage is in memory: the buckets and objects are gone.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("fake-gcs-server at %s is already running", s.Endpoint)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = s.launch(); lastErr == nil {
			s.started = true
			return nil
		}
		if !s.started {
			// The port may have been taken since it was picked: pick another.
			addr, err := miniotest.ClosedPort()
			if err != nil {
				return err
			}
			s.addr, s.Endpoint = addr, "http://"+addr
		}
	}
	return lastErr
}

// launch runs the server once and waits until it answers.
func (s *Server) launch() error {
	host, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(s.bin,
		"-scheme", "http",
		"-host", host,
		"-port", port,
		"-backend", "memory",
		// Its XML API (downloads) answers path-style requests only on the
		// public host; uploads' session URLs use the external URL.
		"-public-host", s.addr,
		"-external-url", s.Endpoint,
		"-location", "US",
		"-log-level", "error",
	)
	cmd.Env = filterEnv(os.Environ())
	proc, err := miniotest.StartProcess(cmd, "fake-gcs-server", s.addr, func(client *http.Client) bool {
		resp, err := client.Get(s.Endpoint + "/_internal/healthcheck")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// Stop ends the server. Safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Stop()
	s.logs, s.proc = s.proc.Logs(), nil
}

// Logs returns what the server printed (for failing tests).
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return s.proc.Logs()
	}
	return s.logs
}

// filterEnv drops variables that would change the server (FAKE_GCS_*) or
// point it elsewhere (GOOGLE_*, STORAGE_EMULATOR_HOST).
func filterEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "FAKE_GCS_") || strings.HasPrefix(kv, "GOOGLE_") || strings.HasPrefix(kv, "STORAGE_EMULATOR_HOST=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the fake-gcs-server binary, building it with
// hack/tools/install.sh if needed (once per test binary).
func Binary() (string, error) {
	binary.once.Do(func() {
		if p := os.Getenv("NEBULA_FAKE_GCS_BIN"); p != "" {
			binary.path = p
			return
		}
		root, err := miniotest.RepoRoot()
		if err != nil {
			binary.err = err
			return
		}
		script := filepath.Join(root, "hack", "tools", "install.sh")
		cmd := exec.Command("bash", script, "fake-gcs-server")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		binary.path = filepath.Join(root, "bin", "fake-gcs-server")
		if err != nil {
			if st, serr := os.Stat(binary.path); serr == nil && st.Mode()&0o111 != 0 {
				return // could not check its version, but there is one
			}
			binary.err = fmt.Errorf("%s fake-gcs-server: %v\n%s", script, err, out)
		}
	})
	return binary.path, binary.err
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// gcsError writes an error as GCS's JSON API does.
func gcsError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"errors": []map[string]any{{"domain": "global", "reason": reason, "message": msg}},
	}})
}
