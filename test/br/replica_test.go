package br

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// Replicated spaces: this file's clusters live in 127.0.12.x and 127.0.13.x.

// replicated creates space g with replica_factor 3 and the usual schema,
// waiting out what a fresh replicated space needs (its parts open and
// elect leaders at the storaged's next heartbeat; graphd's schema cache).
func replicated(t *testing.T, s *session) {
	t.Helper()
	s.Must(`CREATE SPACE g (partition_num = 6, replica_factor = 3, vid_type = FIXED_STRING(12))`)
	time.Sleep(3 * time.Second)
	s.Must(`USE g; CREATE TAG p(name string, n int); CREATE EDGE r(w int)`)
	time.Sleep(2500 * time.Millisecond)
}

// A space with replica_factor 3: each part is backed up once, from its
// leader, in full and incrementally; the chain restores into 5 hosts and
// the full backup into 3, every replica of every part getting the data
// (exact fingerprints; every host ONLINE, the 18 replicas spread evenly);
// with one storaged of the restored cluster killed, every part is still
// readable; fewer hosts than the replica factor are refused.
func TestReplicatedSpaceRestoresIntoAnyTopology(t *testing.T) {
	for _, a := range []struct {
		subnet byte
		base   string
		n      int
	}{{12, "127.0.12.40", 3}, {13, "127.0.13.40", 5}, {12, "127.0.12.60", 3}, {13, "127.0.13.60", 2}} {
		requireFree(t, a.subnet, a.base, a.n)
	}
	st := localStorage(t)
	src := up(t, "127.0.12.40", 3, true, nil)
	s := connect(t, src)
	replicated(t, s)
	s.load("g", 0, 1000)
	full := backupName(t, brOK(t, st.env, st.flags("backup", "full", "--meta", src.MetaAddr())...))
	atFull := s.fingerprint("g")
	s.load("g", 1000, 1300)
	s.Must(`USE g; DELETE VERTEX "v5" WITH EDGE`)
	incr := backupName(t, brOK(t, st.env, st.flags("backup", "incr", "--meta", src.MetaAddr())...))
	atIncr := s.fingerprint("g")

	five := up(t, "127.0.13.40", 5, true, nil)
	brOK(t, st.env, st.flags("restore", "full", "--meta", five.MetaAddr(), "--name", incr)...)
	d := connect(t, five)
	if got := d.fingerprint("g"); got != atIncr {
		t.Fatalf("chain %s restored into 5 hosts: fingerprint %s, source had %s", incr, got, atIncr)
	}
	assertSpread(t, d, 5, 18)
	// Any storaged may go: every part keeps a majority of its replicas.
	if err := five.Kill(4, "storaged"); err != nil {
		t.Fatal(err)
	}
	if got := d.fingerprint("g"); got != atIncr {
		t.Fatalf("restored cluster with a storaged killed: fingerprint %s, want %s", got, atIncr)
	}
	d.Must(`USE g; INSERT VERTEX p(name, n) VALUES "new":("x", 1)`)

	three := up(t, "127.0.12.60", 3, true, nil)
	brOK(t, st.env, st.flags("restore", "full", "--meta", three.MetaAddr(), "--name", full)...)
	d3 := connect(t, three)
	if got := d3.fingerprint("g"); got != atFull {
		t.Fatalf("%s restored into 3 hosts: fingerprint %s, source had %s", full, got, atFull)
	}
	assertSpread(t, d3, 3, 18)

	two := up(t, "127.0.13.60", 2, true, nil)
	r := brRun(t, st.env, st.flags("restore", "full", "--meta", two.MetaAddr(), "--name", full)...)
	if r.err == nil || !strings.Contains(r.out, "replica_factor 3; the target has 2 storage hosts: restore into at least 3") {
		t.Fatalf("restore of a replica_factor 3 space into 2 hosts: %v\n%s", r.err, r.out)
	}
	if spaces := connect(t, two).spaces(); len(spaces) != 0 {
		t.Fatalf("a refused restore changed the target: spaces %v", spaces)
	}
}

// Leaders move all the while backups of a replicated space are taken,
// full then incremental, under a steady stream of writes: each backup
// either completes or fails saying to run it again (never a mixture), and
// each restores into a new cluster exactly a prefix of the writes that
// holds every write acknowledged before br started. One writer writes
// w0, w1, ... in order, each once the last is acknowledged, spread over
// every part: a backup mixing cuts of different moments would show a hole.
func TestLeadersMoveDuringBackup(t *testing.T) {
	requireFree(t, 15, "127.0.15.10", 3)
	requireFree(t, 15, "127.0.15.30", 3)
	st := localStorage(t)
	src := up(t, "127.0.15.10", 3, true, nil)
	s := connect(t, src)
	replicated(t, s)
	s.load("g", 0, 300)
	atLoad := s.fingerprint("g")

	w := startWriter(t, connect(t, src), "g")
	stopMover := moveLeaders(t, src, "g", 6)
	for deadline := time.Now().Add(30 * time.Second); w.count() < 10; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes acknowledged in 30 s while leaders move", w.count())
		}
	}
	type taken struct {
		name         string
		acked, tried int
	}
	var backups []taken
	for _, kind := range []string{"full", "incr"} {
		for try := 1; ; try++ {
			acked, start := w.count(), time.Now()
			r := brRun(t, st.env, st.flags("backup", kind, "--meta", src.MetaAddr())...)
			tried, end := w.count()+1, time.Now()
			moves := transfersBetween(t, src, start, end)
			t.Logf("%s backup, try %d: %d leader moves while it ran, %d writes acknowledged before: %s", kind, try, moves, acked, lastLine(r.out))
			if moves == 0 {
				t.Fatalf("no leader moved while the %s backup ran: the test did not test", kind)
			}
			if r.err == nil {
				backups = append(backups, taken{backupName(t, r.out), acked, tried})
				break
			}
			if !strings.Contains(r.out, "run the backup again") || try == 3 {
				t.Fatalf("%s backup while leaders move: %v\n%s", kind, r.err, r.out)
			}
		}
	}
	stopMover()
	w.stop()

	dst := up(t, "127.0.15.30", 3, true, nil)
	for _, b := range backups {
		brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", b.name)...)
		d := connect(t, dst) // a restore ends every session
		n := writtenPrefix(t, d, "g", b.tried)
		if n < b.acked {
			t.Fatalf("%s restores writes w0..w%d, but w0..w%d were acknowledged before the backup began", b.name, n-1, b.acked-1)
		}
		t.Logf("%s: writes w0..w%d (acknowledged before: %d, tried until the end: %d)", b.name, n-1, b.acked, b.tried)
		if n > 0 {
			d.Must(`USE g; DELETE VERTEX ` + wIDs(n))
		}
		if got := d.fingerprint("g"); got != atLoad {
			t.Fatalf("%s: the loaded data restores as %s, want %s", b.name, got, atLoad)
		}
	}
}

// writer writes vertices w0, w1, ... of tag p one after the other, each
// retried until acknowledged.
type writer struct {
	mu    sync.Mutex
	acked int
	quit  chan struct{}
	done  chan struct{}
}

func startWriter(t *testing.T, s *session, space string) *writer {
	w := &writer{quit: make(chan struct{}), done: make(chan struct{})}
	s.Must("USE " + space)
	go func() {
		defer close(w.done)
		for i := 0; ; {
			select {
			case <-w.quit:
				return
			default:
			}
			if err := s.Exec(fmt.Sprintf(`INSERT VERTEX p(name, n) VALUES "w%d":("w", %d)`, i, i)); err != nil {
				time.Sleep(50 * time.Millisecond) // a leader moving: the same write again
				continue
			}
			i++
			w.mu.Lock()
			w.acked = i
			w.mu.Unlock()
		}
	}()
	return w
}

// count is how many writes are acknowledged: w0..w(count-1).
func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

func (w *writer) stop() { close(w.quit); <-w.done }

// moveLeaders hands the leadership of the space's parts around the hosts,
// one part after the other, until the returned stop is called.
func moveLeaders(t *testing.T, c *cluster.Cluster, space string, parts int) (stop func()) {
	t.Helper()
	m, err := client.NewMetaClient(c.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	item, err := m.GetSpace(context.Background(), space)
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	var admins []*client.StorageAdminClient
	for _, h := range c.Hosts {
		a, err := client.NewStorageAdminClient(net.JoinHostPort(h.IP, fmt.Sprint(cluster.StoragePort-1)), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		admins = append(admins, a)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			case <-time.After(40 * time.Millisecond):
			}
			to := &nebula.HostAddr{Host: c.Hosts[rand.IntN(len(c.Hosts))].IP, Port: cluster.StoragePort}
			for _, a := range admins { // only the leader acts
				a.TransLeader(context.Background(), item.SpaceID, nebula.PartitionID(i%parts+1), to)
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		for _, a := range admins {
			a.Close()
		}
	}
}

// transfersBetween counts the leader transfers the storage hosts logged
// between from and to.
func transfersBetween(t *testing.T, c *cluster.Cluster, from, to time.Time) int {
	t.Helper()
	n := 0
	re := regexp.MustCompile(`^time=(\S+) .*msg="leader transferred"`)
	for _, h := range c.Hosts {
		logs, _ := filepath.Glob(filepath.Join(h.Root, "logs", "*storaged*"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			for _, line := range strings.Split(string(b), "\n") {
				if m := re.FindStringSubmatch(line); m != nil {
					if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && !at.Before(from) && !at.After(to) {
						n++
					}
				}
			}
		}
	}
	return n
}

// writtenPrefix checks that of w0..w(tried-1) the space holds exactly
// w0..w(n-1), and returns n.
func writtenPrefix(t *testing.T, s *session, space string, tried int) int {
	t.Helper()
	resp, err := s.G.Execute(context.Background(), "USE "+space+"; FETCH PROP ON p "+wIDs(tried)+" YIELD p.n AS n")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, r := range resp.Data.Rows {
		got = append(got, int(*r.Values[0].IVal))
	}
	sort.Ints(got)
	for i, n := range got {
		if n != i {
			t.Fatalf("writes restored %v: w%d is missing though later writes are there (a mixture of cuts)", got, i)
		}
	}
	return len(got)
}

func wIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"w%d"`, i)
	}
	return strings.Join(ids, ", ")
}

// A storaged of a replica_factor 3 space dies in the middle of a backup
// (after the cut, during the upload): its agent uploads from the cut
// checkpoint and the backup completes. A backup right after either names
// the dead host or, once metad counts it offline, completes from the
// leaders elected on the others. Both restore exactly, into a cluster one
// of whose storaged is killed in the middle of the restore, and another
// of whose storaged is down when the restore starts: the restore starts
// them again, and every host is ONLINE with its share of the replicas.
func TestStoragedDownDuringReplicatedBackupAndRestore(t *testing.T) {
	requireFree(t, 15, "127.0.15.50", 3)
	requireFree(t, 15, "127.0.15.70", 3)
	st := localStorage(t)
	src := upSpec(t, cluster.Spec{Storaged: 3, AddrBase: "127.0.15.50", Agents: true, AgentArgs: []string{"--ratelimit", "1"}})
	s := connect(t, src)
	replicated(t, s)
	s.load("g", 0, 3000)
	want := s.fingerprint("g")

	run := brStart(t, st.env, st.flags("backup", "full", "--debug", "--meta", src.MetaAddr())...)
	run.waitLine(t, `msg="snapshot created"`)
	if err := src.Kill(1, "storaged"); err != nil {
		t.Fatal(err)
	}
	run.mu.Lock()
	uploaded := strings.Contains(run.out.String(), `msg="data uploaded"`)
	run.mu.Unlock()
	if uploaded {
		t.Fatal("the storaged was killed after the upload: the test did not test")
	}
	r := run.wait()
	if r.err != nil {
		t.Fatalf("backup with a storaged killed after the cut: %v\n%s", r.err, r.out)
	}
	first := backupName(t, r.out)

	// Right after: refused naming the host, until metad counts it offline.
	var second string
	for deadline := time.Now().Add(time.Minute); second == ""; {
		r := brRun(t, st.env, st.flags("backup", "full", "--meta", src.MetaAddr())...)
		switch {
		case r.err == nil:
			second = backupName(t, r.out)
		case !strings.Contains(r.out, src.Hosts[1].IP):
			t.Fatalf("backup with a storaged down: the error does not name it: %v\n%s", r.err, r.out)
		case time.Now().After(deadline):
			t.Fatalf("backup with a storaged down did not complete from the other replicas in a minute:\n%s", r.out)
		default:
			t.Logf("refused in %s: %s", r.dur, lastLine(r.out))
			time.Sleep(time.Second)
		}
	}

	dst := up(t, "127.0.15.70", 3, true, nil)
	for i, name := range []string{first, second} {
		if i == 0 {
			// Killed while the hosts download.
			run := brStart(t, []string{"NEBULA_BR_TEST_PAUSE_AT=data", "NEBULA_BR_TEST_PAUSE_FOR=1s"}, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
			run.waitLine(t, "test hook: pausing at step 3 (data)")
			if err := dst.Kill(2, "storaged"); err != nil {
				t.Fatal(err)
			}
			if r := run.wait(); r.err != nil {
				t.Fatalf("restore with a storaged killed mid-restore: %v\n%s", r.err, r.out)
			}
		} else {
			// Down from the start.
			if err := dst.Kill(0, "storaged"); err != nil {
				t.Fatal(err)
			}
			brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
		}
		d := connect(t, dst)
		if got := d.fingerprint("g"); got != want {
			t.Fatalf("%s restored: fingerprint %s, source had %s", name, got, want)
		}
		assertSpread(t, d, 3, 18)
	}
}
