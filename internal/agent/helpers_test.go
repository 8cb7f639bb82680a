package agent_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/engine"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testAgent is an agent served on loopback with a client connected to it.
type testAgent struct {
	srv  *agent.Server
	c    *client.Client
	logs *syncBuffer
	done chan error
}

// startAgent serves an agent on 127.0.0.1 with cfg (Addr and Logger are
// filled in) and connects a client.
func startAgent(t *testing.T, cfg agent.Config) *testAgent {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg.Addr = lis.Addr().String()
	if cfg.Engine == nil && cfg.NebulaLite == "" && binDir != "" {
		// The simulator's adapter, through the nebula-lite built by TestMain.
		cfg.Engine = engine.NebulaLite{Bin: filepath.Join(binDir, "nebula-lite")}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAgent{srv: srv, logs: logs, done: make(chan error, 1)}
	go func() { ta.done <- srv.Serve(lis) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ta.c, err = client.Dial(ctx, cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ta.c.Close()
		srv.Stop(5 * time.Second)
		<-ta.done
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})
	return ta
}

func localURI(dir string) string { return "local://" + dir }

func crc(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// writeFile writes n pseudo-random bytes (seeded) and returns them.
func writeFile(t *testing.T, path string, n int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// readTree maps the relative slash paths of the regular files under dir
// to their contents.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// wantCode fails unless err has the code and its text contains every part.
func wantCode(t *testing.T, err error, code codes.Code, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got success", code)
	}
	t.Logf("error: %v", err)
	if got := status.Code(err); got != code {
		t.Fatalf("want code %s, got %s: %v", code, got, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// progressLog records what a transfer streamed.
type progressLog struct {
	mu   sync.Mutex
	msgs []*pb.Progress
}

func (p *progressLog) add(m *pb.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
}

func (p *progressLog) last() *pb.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.msgs) == 0 {
		return nil
	}
	return p.msgs[len(p.msgs)-1]
}

// countingReader counts bytes (for asserting a file is read once).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
