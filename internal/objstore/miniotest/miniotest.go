// Package miniotest runs a real MinIO server for tests.
//
// The server is the repository's bin/minio, built from the version pinned in
// hack/tools/go.mod by hack/tools/install.sh (make tools). If bin/minio is
// missing or stale, Start runs that script first, so a plain `go test ./...`
// works too, once slower (about three minutes on two cores). Set
// NEBULA_MINIO_BIN to use another minio binary.
//
// One server per test package is plenty:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		miniotest.Cleanup()
//		os.Exit(code)
//	}
//
//	func TestX(t *testing.T) {
//		srv := miniotest.Shared(t)
//		bucket := srv.Bucket(t, "x")
//		store, err := objstore.Open(ctx, "s3://"+bucket, srv.Config())
//		...
//	}
//
// A package that does not call Cleanup still leaves no server behind: the
// server is started with a parent-death signal and dies with the test binary.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Server is one MinIO process serving a data directory.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string

	bin     string
	dataDir string
	addr    string // 127.0.0.1:PORT
	ownsDir bool   // remove dataDir at Close

	mu      sync.Mutex
	started bool     // once: later starts keep the address
	proc    *Process // while running
	logs    string   // the last process's output, once stopped
}

// Start runs a new server on free loopback ports with random credentials and
// stops it (and removes its data) when t's test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := newServer(t.TempDir(), false)
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
		dir, err := os.MkdirTemp("", "miniotest-")
		if err == nil {
			var s *Server
			if s, err = newServer(dir, true); err == nil {
				if err = s.start(); err == nil {
					shared.srv = s
				} else {
					s.Close()
				}
			}
		}
		shared.err = err
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// Cleanup stops the shared server, if one was started, and removes its data.
func Cleanup() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Close()
		shared.srv = nil
	}
}

func newServer(dataDir string, ownsDir bool) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return &Server{
		Endpoint:  "http://" + addr,
		AccessKey: "test-" + randHex(8),
		SecretKey: "secret-" + randHex(16),
		bin:       bin,
		dataDir:   filepath.Join(dataDir, "data"),
		addr:      addr,
		ownsDir:   ownsDir,
	}, nil
}

// Config is the objstore configuration that reaches this server.
func (s *Server) Config() objstore.Config {
	return objstore.Config{S3: objstore.S3Config{
		AccessKey: s.AccessKey,
		SecretKey: s.SecretKey,
		Endpoint:  s.Endpoint,
		Region:    "us-east-1",
	}}
}

// Client is a minio-go client with the server's root credentials.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(s.addr, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: "us-east-1",
	})
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
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("create bucket %s at %s: %v", bucket, s.Endpoint, err)
	}
	return bucket
}

// Start starts the server again after Stop, on the same address with the
// same credentials and data.
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
		return fmt.Errorf("minio at %s is already running", s.Endpoint)
	}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = s.launch(); lastErr == nil {
			s.started = true
			return nil
		}
		if !s.started {
			// The port may have been taken since it was picked: pick another.
			port, err := freePort()
			if err != nil {
				return err
			}
			s.addr = fmt.Sprintf("127.0.0.1:%d", port)
			s.Endpoint = "http://" + s.addr
		}
	}
	return lastErr
}

// launch runs minio once and waits until it answers.
func (s *Server) launch() error {
	consolePort, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "server", s.dataDir,
		"--address", s.addr,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", consolePort),
		"--quiet")
	cmd.Env = append(filterEnv(os.Environ()),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	)
	// Live answers 200 as soon as it listens; until the object layer is
	// up it adds "x-minio-server-status: offline".
	proc, err := StartProcess(cmd, "minio", s.addr, func(client *http.Client) bool {
		resp, err := client.Get(s.Endpoint + "/minio/health/live")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && resp.Header.Get("x-minio-server-status") != "offline"
	})
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// Stop ends the server (data is kept for Start). Safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Stop()
	s.logs, s.proc = s.proc.Logs(), nil
}

// Close stops the server and removes the data directory it created.
func (s *Server) Close() {
	s.Stop()
	if s.ownsDir {
		os.RemoveAll(filepath.Dir(s.dataDir))
	}
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

// filterEnv drops variables that would change the server (MINIO_*) or the
// credentials a test means to test (AWS_*).
func filterEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "MINIO_") || strings.HasPrefix(kv, "AWS_") {
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

// Binary returns the path of the minio binary, building it with
// hack/tools/install.sh if needed (once per test binary).
func Binary() (string, error) {
	binary.once.Do(func() {
		if p := os.Getenv("NEBULA_MINIO_BIN"); p != "" {
			binary.path = p
			return
		}
		root, err := RepoRoot()
		if err != nil {
			binary.err = err
			return
		}
		script := filepath.Join(root, "hack", "tools", "install.sh")
		cmd := exec.Command("bash", script, "minio")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		binary.path = filepath.Join(root, "bin", "minio")
		if err != nil {
			if st, serr := os.Stat(binary.path); serr == nil && st.Mode()&0o111 != 0 {
				return // could not check its version, but there is one
			}
			binary.err = fmt.Errorf("%s minio: %v\n%s", script, err, out)
		}
	})
	return binary.path, binary.err
}

// RepoRoot walks up from the working directory to the directory whose go.mod
// declares the main module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/nebula-open/nebula-br\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("miniotest: no go.mod of github.com/nebula-open/nebula-br above the working directory")
		}
		dir = parent
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort() (string, error) {
	p, err := freePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", p), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
