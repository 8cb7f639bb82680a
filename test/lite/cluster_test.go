// Package lite tests nebula-lite as real processes on loopback: the
// binary is built once, and every cluster runs on its own 127.0.0.x
// addresses with NebulaGraph's standard ports.
package lite

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/nebula/graphtest"
	"github.com/nebula-open/nebula-br/internal/testbin"
)

var binary string

func TestMain(m *testing.M) {
	dir := testbin.MustBuild("nebula-lite")
	binary = filepath.Join(dir, "nebula-lite")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func up(t *testing.T, base string, storaged int, flags map[string][]string) *cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := cluster.Up(ctx, cluster.Spec{Root: t.TempDir(), Storaged: storaged, AddrBase: base, Binary: binary, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range c.Hosts {
				logs, _ := filepath.Glob(filepath.Join(h.Root, "logs", "*"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					t.Logf("--- %s\n%s", l, tail(string(b), 20))
				}
			}
		}
		c.Down()
	})
	return c
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// load writes n vertices and 3n edges.
func load(s *graphtest.Session, space string, from, n int) {
	s.Must(fmt.Sprintf("USE %s", space))
	for lo := from; lo < from+n; lo += 200 {
		var v, e strings.Builder
		for i := lo; i < min(lo+200, from+n); i++ {
			if i > lo {
				v.WriteByte(',')
				e.WriteByte(',')
			}
			fmt.Fprintf(&v, `"p%d":("name %d", %d)`, i, i, i%90)
			fmt.Fprintf(&e, `"p%d"->"p%d":(%d),"p%d"->"p%d"@1:(%d),"p%d"->"p%d":(%d)`, i, (i+1)%(from+n), i, i, (i+7)%(from+n), i+1, i, (i*13)%(from+n), i+2)
		}
		s.Must("INSERT VERTEX person(name, age) VALUES " + v.String())
		s.Must("INSERT EDGE knows(w) VALUES " + e.String())
	}
}

func TestRestartEveryProcessKeepsData(t *testing.T) {
	c := up(t, "127.0.0.40", 3, nil)
	s := graphtest.Connect(t, c.GraphAddr())
	s.Must(`CREATE SPACE g (partition_num = 12, replica_factor = 1, vid_type = FIXED_STRING(16))`)
	s.Must(`USE g; CREATE TAG person(name string, age int); CREATE EDGE knows(w int)`)
	load(s, "g", 0, 2000)
	before, n := s.Fingerprint("g")
	if n != 2000+6000 {
		t.Fatalf("loaded %d items, want 8000", n)
	}
	// Every process, in reverse start order, then back up.
	for i := len(c.Hosts) - 1; i >= 0; i-- {
		for _, role := range []string{"graphd", "storaged", "metad"} {
			if c.Running(i, role) != 0 {
				if err := c.StopService(i, role); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c2, err := cluster.Up(ctx, cluster.Spec{Root: c.Root, Storaged: 3, AddrBase: "127.0.0.40", Binary: binary})
	if err != nil {
		t.Fatal(err)
	}
	s2 := graphtest.Connect(t, c2.GraphAddr())
	after, _ := s2.Fingerprint("g")
	if after != before {
		t.Fatalf("fingerprint after restart %s, before %s", after, before)
	}
}

// A storaged killed with SIGKILL in the middle of a stream of writes loses
// none that it acknowledged: its WAL is replayed on start.
func TestKill9DuringWritesLosesNoAcknowledgedWrite(t *testing.T) {
	c := up(t, "127.0.0.50", 1, nil)
	s := graphtest.Connect(t, c.GraphAddr())
	s.Must(`CREATE SPACE k (partition_num = 4, vid_type = INT64); USE k; CREATE TAG t(x int)`)
	var acked atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := graphtest.Connect(t, c.GraphAddr())
		w.Must("USE k")
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if w.Exec(fmt.Sprintf("INSERT VERTEX t(x) VALUES %d:(%d)", i, i)) != nil {
				return // the storaged is gone
			}
			acked.Store(i)
		}
	}()
	time.Sleep(700 * time.Millisecond)
	if err := c.Kill(0, "storaged"); err != nil {
		t.Fatal(err)
	}
	<-done
	close(stop)
	n := acked.Load()
	if n < 10 {
		t.Fatalf("only %d writes before the kill", n)
	}
	if err := c.StartService(0, "storaged"); err != nil {
		t.Fatal(err)
	}
	var got int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.G.Execute(context.Background(), "USE k; SHOW FINGERPRINT")
		if err == nil {
			got = *resp.Data.Rows[len(resp.Data.Rows)-1].Values[2].IVal
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("storaged does not serve after restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got < n {
		t.Fatalf("%d vertices after kill -9 and restart, but %d writes were acknowledged", got, n)
	}
	t.Logf("%d acknowledged writes, %d vertices after replay", n, got)
}

// Garbage on every port gets the connection closed; the services go on.
func TestGarbageOnEveryPort(t *testing.T) {
	c := up(t, "127.0.0.60", 1, nil)
	ip := c.Hosts[0].IP
	rng := rand.New(rand.NewSource(1))
	for _, port := range []int{9559, 9669, 9778, 9779, 9780} { // 9778 admin, 9780 raft
		for _, payload := range [][]byte{
			[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
			{0x7f, 0xff, 0xff, 0xff, 1, 2, 3}, // a huge frame length
			randomBytes(rng, 4096),
		} {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, fmt.Sprint(port)), 2*time.Second)
			if err != nil {
				t.Fatalf("port %d: %v", port, err)
			}
			conn.Write(payload)
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 64)
			_, err = conn.Read(buf)
			conn.Close()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("port %d kept a garbage connection open", port)
			}
		}
	}
	s := graphtest.Connect(t, c.GraphAddr())
	s.Must(`CREATE SPACE ok (partition_num = 2, vid_type = INT64); USE ok; CREATE TAG t(x int)`)
	s.Must(`INSERT VERTEX t(x) VALUES 1:(1)`)
	if _, n := s.Fingerprint("ok"); n != 1 {
		t.Fatalf("after garbage, count %d", n)
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}
