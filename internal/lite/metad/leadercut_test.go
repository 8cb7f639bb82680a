package metad

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
)

// electionAdmins are the admin services of storage hosts whose replicated
// parts' leadership the test scripts per cut: what a real cluster shows
// only by chance (a leader election under way while the checkpoints are
// cut), named fake for that reason. Every other call is recorded.
type electionAdmins struct {
	mu sync.Mutex
	// leads[cut][host] are the parts host lists at that cut (a cut past
	// the script repeats the last), each with its term.
	leads    []map[string]map[int32]int64
	cuts     map[string]int
	drops    map[string]int
	blocked  map[string]int // BLOCK_ON minus BLOCK_OFF
	unreach  map[string]bool
	dialed   map[string]bool
	hosts    int  // hosts taking part in each cut (3 unless set)
	ons      int  // BLOCK_ON calls so far
	offEarly bool // a host was unblocked before every host was blocked
}

func (e *electionAdmins) dial(_ context.Context, h Addr) (Admin, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dialed[h.String()] = true
	if e.unreach[h.String()] {
		return nil, fmt.Errorf("dial %s: connection refused", h)
	}
	return electionAdmin{e, h.String()}, nil
}

type electionAdmin struct {
	e    *electionAdmins
	host string
}

func (a electionAdmin) BlockingWrites(_ context.Context, _ []int32, on bool, o client.CutOptions) error {
	if o.PrepareOnly {
		return nil // a flush, writes still flowing
	}
	if on && a.host == h3 {
		time.Sleep(50 * time.Millisecond) // the last to block, by far
	}
	a.e.mu.Lock()
	defer a.e.mu.Unlock()
	if on {
		a.e.blocked[a.host]++
		a.e.ons++
	} else {
		a.e.blocked[a.host]--
		a.e.offEarly = a.e.offEarly || a.e.ons%a.e.hosts != 0
	}
	return nil
}

func (a electionAdmin) CreateCheckpoint(_ context.Context, spaces []int32, name string, _ client.CutOptions) ([]CheckpointInfo, error) {
	a.e.mu.Lock()
	defer a.e.mu.Unlock()
	n := a.e.cuts[a.host]
	a.e.cuts[a.host]++
	script := a.e.leads[min(n, len(a.e.leads)-1)]
	var out []CheckpointInfo
	for _, s := range spaces {
		cp := CheckpointInfo{SpaceID: s, DataPath: "/cp/" + a.host + "/" + name, Parts: map[int32]LogInfo{}}
		for p, term := range script[a.host] {
			cp.Parts[p] = LogInfo{LogID: 10, TermID: term, CommitLogID: 10}
		}
		out = append(out, cp)
	}
	return out, nil
}

func (a electionAdmin) DropCheckpoint(context.Context, []int32, string) error {
	a.e.mu.Lock()
	defer a.e.mu.Unlock()
	a.e.drops[a.host]++
	return nil
}

func (electionAdmin) Close() error { return nil }

// newElectionMetad is a metad with three storage hosts (h1..h3 at
// 127.0.0.1:1..3) online and a space s of 3 parts with replicaFactor.
func newElectionMetad(t *testing.T, replicaFactor int32, e *electionAdmins) *Metad {
	t.Helper()
	e.cuts, e.drops, e.blocked, e.dialed = map[string]int{}, map[string]int{}, map[string]int{}, map[string]bool{}
	if e.unreach == nil {
		e.unreach = map[string]bool{}
	}
	if e.hosts == 0 {
		e.hosts = 3
	}
	m, err := Open(Config{Addr: Addr{Host: "127.0.0.1", Port: 9}, DataPath: t.TempDir(), HostTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Admin: e.dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for port := int32(1); port <= 3; port++ {
		if _, err := m.Heartbeat(&Host{Addr: Addr{Host: "127.0.0.1", Port: port}, Role: RoleStorage}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.CreateSpace(SpaceSpec{Name: "s", PartitionNum: 3, ReplicaFactor: replicaFactor, VidType: propInt64}, false); err != nil {
		t.Fatal(err)
	}
	old := leaderWaits
	leaderWaits = []time.Duration{time.Millisecond, time.Millisecond}
	t.Cleanup(func() { leaderWaits = old })
	return m
}

const h1, h2, h3 = "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"

// partsOf maps each part of space s in bm to the host listing it, failing
// on a part listed twice.
func partsOf(t *testing.T, bm *BackupMeta) map[int32]string {
	t.Helper()
	out := map[int32]string{}
	for _, sb := range bm.Spaces {
		for _, hb := range sb.Hosts {
			for p := range hb.Checkpoints[0].Parts {
				if prev, ok := out[p]; ok {
					t.Fatalf("part %d listed by %s and %s", p, prev, hb.Host)
				}
				out[p] = hb.Host.String()
			}
		}
	}
	return out
}

func (e *electionAdmins) assertUnblocked(t *testing.T) {
	t.Helper()
	if e.offEarly {
		t.Error("a host was unblocked before every host was blocked")
	}
	for h, n := range e.blocked {
		if n != 0 {
			t.Errorf("host %s: BLOCK_ON minus BLOCK_OFF = %d", h, n)
		}
	}
}

// A cut in which a part has no up-to-date leader (an election under way)
// is dropped and cut again; when two hosts list a part (a leader change
// between their cuts), the later term's is kept; each part is backed up
// once, and every host's writes are unblocked.
func TestCutAgainUntilEveryPartHasALeader(t *testing.T) {
	e := &electionAdmins{leads: []map[string]map[int32]int64{
		{h1: {1: 2}, h2: {3: 2}},                   // part 2: no leader yet
		{h1: {1: 2, 2: 3}, h2: {3: 2}, h3: {2: 4}}, // part 2: h1 at term 3, h3 won term 4
	}}
	m := newElectionMetad(t, 3, e)
	bm, err := m.CreateBackup(context.Background(), nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := partsOf(t, bm)
	if want := map[int32]string{1: h1, 2: h3, 3: h2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parts backed up from %v, want %v", got, want)
	}
	for _, h := range []string{h1, h2, h3} {
		if e.cuts[h] != 2 || e.drops[h] != 1 {
			t.Errorf("host %s: %d cuts, %d drops; want 2 cuts and the first dropped", h, e.cuts[h], e.drops[h])
		}
	}
	e.assertUnblocked(t)
}

// A part that never gets a leader fails the backup after the retries,
// naming the part and what to do; nothing stays blocked or cut.
func TestPartWithoutLeaderFailsTheBackup(t *testing.T) {
	e := &electionAdmins{leads: []map[string]map[int32]int64{{h1: {1: 2}, h2: {3: 2}}}}
	m := newElectionMetad(t, 3, e)
	_, err := m.CreateBackup(context.Background(), nil, "", 0)
	if err == nil || !strings.Contains(err.Error(), "space s part 2") || !strings.Contains(err.Error(), "run the backup again") {
		t.Fatalf("backup with part 2 leaderless: %v", err)
	}
	for _, h := range []string{h1, h2, h3} {
		if e.cuts[h] != len(leaderWaits)+1 || e.drops[h] != e.cuts[h] {
			t.Errorf("host %s: %d cuts, %d drops", h, e.cuts[h], e.drops[h])
		}
	}
	e.assertUnblocked(t)
	if snaps := m.Snapshots(); len(snaps) != 0 {
		t.Errorf("a failed backup left snapshots %v", snaps)
	}
}

// An offline storage host holding only replicas of replicated spaces is
// left out (its parts come from the leaders elsewhere); one holding a
// space's only replica is not, and the backup fails naming it.
func TestOfflineHostLeftOutOnlyWhenReplicated(t *testing.T) {
	e := &electionAdmins{leads: []map[string]map[int32]int64{{h1: {1: 2, 2: 2}, h2: {3: 2}}}, unreach: map[string]bool{h3: true}, hosts: 2}
	m := newElectionMetad(t, 3, e)
	m.forgetHeartbeat(Addr{Host: "127.0.0.1", Port: 3})
	bm, err := m.CreateBackup(context.Background(), nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := partsOf(t, bm); len(got) != 3 || e.dialed[h3] {
		t.Fatalf("parts %v, dialed the offline host: %v", got, e.dialed[h3])
	}
	e.assertUnblocked(t)

	e1 := &electionAdmins{leads: []map[string]map[int32]int64{{h1: {1: 1}, h2: {2: 1}, h3: {3: 1}}}, unreach: map[string]bool{h3: true}}
	m1 := newElectionMetad(t, 1, e1)
	m1.forgetHeartbeat(Addr{Host: "127.0.0.1", Port: 3})
	if _, err := m1.CreateBackup(context.Background(), nil, "", 0); err == nil || !strings.Contains(err.Error(), h3) {
		t.Fatalf("backup of an unreplicated space with a host down: %v", err)
	}
}

// forgetHeartbeat makes a host offline, as if its heartbeats had stopped.
func (m *Metad) forgetHeartbeat(a Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, h := range m.st.hosts {
		if h.Addr == a {
			delete(m.lastSeen, key)
		}
	}
}
