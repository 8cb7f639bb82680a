// Package litetest starts a whole nebula-lite cluster inside the test
// process, on loopback ports, for tests that need a real cluster but not
// separate processes (those use package cluster).
package litetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/graphd"
	"github.com/nebula-open/nebula-br/internal/lite/metad"
	"github.com/nebula-open/nebula-br/internal/lite/storaged"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// Cluster is an in-process cluster.
type Cluster struct {
	t         testing.TB
	Dir       string
	Meta      *metad.Server
	MetaAddr  string
	Storaged  []*storaged.Server
	SCfg      []storaged.Config
	Graph     *graphd.Server
	GraphAddr string
}

// FreePort returns a port free on 127.0.0.1 with port-1 and port+1 free
// as well (storaged's admin and raft ports).
func FreePort(t testing.TB) int {
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p > 1 && free(p-1) && free(p+1) {
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// Logger discards logs unless NEBULA_LITE_LOG is set.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("NEBULA_LITE_LOG") != "" {
		return slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Start runs metad, n storaged and graphd; everything stops at cleanup.
func Start(t testing.TB, n int, tweak func(*storaged.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Dir: t.TempDir()}
	log := Logger(t)
	mport := FreePort(t)
	var err error
	c.Meta, err = metad.Start(metad.ServeConfig{LocalIP: "127.0.0.1", Port: mport, DataPath: filepath.Join(c.Dir, "meta"), Root: c.Dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	c.MetaAddr = fmt.Sprintf("127.0.0.1:%d", mport)
	t.Cleanup(func() { c.Meta.Stop() })
	for i := 0; i < n; i++ {
		cfg := storaged.Config{LocalIP: "127.0.0.1", Port: FreePort(t), MetaAddr: c.MetaAddr,
			DataPath: filepath.Join(c.Dir, fmt.Sprintf("storage%d", i)), Root: c.Dir,
			HeartbeatInterval: 200 * time.Millisecond, Logger: log}
		if tweak != nil {
			tweak(&cfg)
		}
		c.SCfg = append(c.SCfg, cfg)
		s, err := storaged.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.Storaged = append(c.Storaged, s)
	}
	t.Cleanup(func() {
		for _, s := range c.Storaged {
			if s != nil {
				s.Stop()
			}
		}
	})
	gport := FreePort(t)
	c.Graph, err = graphd.Start(graphd.Config{LocalIP: "127.0.0.1", Port: gport, MetaAddr: c.MetaAddr, Root: c.Dir, HeartbeatInterval: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	c.GraphAddr = fmt.Sprintf("127.0.0.1:%d", gport)
	t.Cleanup(func() { c.Graph.Stop() })
	return c
}

// RestartStoraged stops and starts storaged i on the same data.
func (c *Cluster) RestartStoraged(i int) {
	c.t.Helper()
	if c.Storaged[i] != nil {
		c.Storaged[i].Stop()
	}
	s, err := storaged.Start(c.SCfg[i])
	if err != nil {
		c.t.Fatal(err)
	}
	c.Storaged[i] = s
}

// Session is a logged-in graph client.
func (c *Cluster) Session() *Session {
	c.t.Helper()
	g, err := client.NewGraphClient(c.GraphAddr, client.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := g.Authenticate(context.Background(), "root", "nebula"); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { g.Close() })
	return &Session{t: c.t, G: g}
}

// Session runs nGQL for a test.
type Session struct {
	t testing.TB
	G *client.GraphClient
}

// Exec runs a query that must succeed.
func (s *Session) Exec(q string) *nebula.DataSet {
	s.t.Helper()
	resp, err := s.G.Execute(context.Background(), q)
	if err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	return resp.Data
}

// Fail runs a query that must fail and returns the response.
func (s *Session) Fail(q string) *graph.ExecutionResponse {
	s.t.Helper()
	resp, err := s.G.Execute(context.Background(), q)
	if err == nil {
		s.t.Fatalf("%s: succeeded, want an error", q)
	}
	if resp == nil {
		s.t.Fatalf("%s: %v (no response)", q, err)
	}
	return resp
}

// Fingerprint returns the space's whole hash and count.
func (s *Session) Fingerprint(space string) (string, int64) {
	s.t.Helper()
	ds := s.Exec("USE " + space + "; SHOW FINGERPRINT")
	last := ds.Rows[len(ds.Rows)-1]
	return string(last.Values[3].SVal), *last.Values[2].IVal
}

// WaitStorage waits until metad sees n storage hosts online.
func (c *Cluster) WaitStorage(n int) {
	c.t.Helper()
	m, err := client.NewMetaClient(c.MetaAddr, client.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	defer m.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		hosts, err := m.ListHosts(context.Background(), meta.ListHostType_STORAGE)
		online := 0
		for _, h := range hosts {
			if h.Status == meta.HostStatus_ONLINE {
				online++
			}
		}
		if err == nil && online >= n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("storage hosts online: %d, want %d (err %v)", online, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func free(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
