package raftpart

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
)

// host is one storaged's worth of a replicated part: a store, a transport
// on the storage port + 1 and the replica of space 1 part 1.
type host struct {
	addr  string
	dir   string
	store *kv.Store
	tr    *Transport
	rep   *Replica
}

const testTick = 20 * time.Millisecond

func openHost(t *testing.T, addr, dir string, peers []string) *host {
	t.Helper()
	store, err := kv.Open(kv.Options{DataPath: dir, WALFileSize: 256, ReplayBound: ReplayBound})
	if err != nil {
		t.Fatal(err)
	}
	raftAddr, _ := RaftAddr(addr)
	tr, err := Listen(raftAddr, nil)
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	part, err := store.AddPart(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Open(part, peers, addr, tr, testTick, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &host{addr: addr, dir: dir, store: store, tr: tr, rep: rep}
	t.Cleanup(h.close)
	return h
}

func (h *host) close() {
	if h.rep == nil {
		return
	}
	h.rep.Close()
	h.tr.Close()
	h.store.Close()
	h.rep = nil
}

// requireFree fails the test unless the storage and raft ports of addr
// are free.
func requireFree(t *testing.T, addr string) {
	t.Helper()
	raftAddr, _ := RaftAddr(addr)
	for _, a := range []string{addr, raftAddr} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s is not free: %v", a, err)
		}
		l.Close()
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(t *testing.T, hosts []*host) *host {
	t.Helper()
	var leader *host
	eventually(t, "a leader", func() bool {
		for _, h := range hosts {
			if h.rep != nil && h.rep.CheckRead() == nil {
				leader = h
				return true
			}
		}
		return false
	})
	return leader
}

func write(t *testing.T, hosts []*host, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		b := kv.Batch{Puts: []kv.KeyValue{{Key: []byte(fmt.Sprintf("k%05d", i)), Value: []byte(strconv.Itoa(i))}}}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := leaderOf(t, hosts).rep.Write(ctx, b)
			cancel()
			if err == nil {
				break
			}
			if attempt == 20 {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
}

// hasAll waits until the host's part holds keys [0, n) and applied as far
// as the leader.
func hasAll(t *testing.T, h *host, n int, applied uint64) {
	t.Helper()
	eventually(t, h.addr+" to catch up", func() bool { return h.rep.Part().Applied() >= applied })
	for i := 0; i < n; i++ {
		v, ok, err := h.rep.Part().Get([]byte(fmt.Sprintf("k%05d", i)))
		if err != nil || !ok || string(v) != strconv.Itoa(i) {
			t.Fatalf("%s: key %d = %q, %v, %v", h.addr, i, v, ok, err)
		}
	}
}

func startGroup(t *testing.T) ([]*host, []string) {
	peers := []string{"127.0.12.1:19779", "127.0.12.2:19779", "127.0.12.3:19779"}
	for _, p := range peers {
		requireFree(t, p)
	}
	root := t.TempDir()
	var hosts []*host
	for i, p := range peers {
		hosts = append(hosts, openHost(t, p, filepath.Join(root, strconv.Itoa(i)), peers))
	}
	return hosts, peers
}

func TestReplicationLeaderLossAndCatchUp(t *testing.T) {
	hosts, peers := startGroup(t)
	write(t, hosts, 0, 30)
	leader := leaderOf(t, hosts)
	for _, h := range hosts {
		hasAll(t, h, 30, leader.rep.Part().Applied())
	}
	// The WAL is the raft log: ids are raft indexes, the term recorded.
	if got := leader.rep.Part().WAL().LastLogID(); got != leader.rep.Part().Applied() {
		t.Fatalf("WAL last id %d, applied %d", got, leader.rep.Part().Applied())
	}
	if leader.rep.Part().AppliedTerm() == 0 {
		t.Fatal("applied term 0: the first leader's term is at least 1")
	}

	// A follower only answers with the leader's address.
	for _, h := range hosts {
		if h != leader {
			var nl *NotLeaderError
			err := h.rep.Write(context.Background(), kv.Batch{})
			if !asNotLeader(err, &nl) || nl.Leader != leader.addr {
				t.Fatalf("write to follower %s: %v, want the leader %s", h.addr, err, leader.addr)
			}
		}
	}

	// The leader goes away: another is elected and writes go on.
	i := indexOf(hosts, leader)
	leader.close()
	write(t, hosts, 30, 60)
	next := leaderOf(t, hosts)
	if next == leader {
		t.Fatal("the closed host still leads")
	}
	for _, h := range hosts {
		if h.rep != nil {
			hasAll(t, h, 60, next.rep.Part().Applied())
		}
	}

	// The old leader comes back and catches up from the leader's log.
	hosts[i] = openHost(t, leader.addr, leader.dir, peers)
	hasAll(t, hosts[i], 60, next.rep.Part().Applied())
}

func TestCatchUpFromSnapshotWhenWALTrimmed(t *testing.T) {
	hosts, peers := startGroup(t)
	write(t, hosts, 0, 10)
	leader := leaderOf(t, hosts)
	var follower *host
	for _, h := range hosts {
		if h != leader {
			follower = h
		}
	}
	hasAll(t, follower, 10, leader.rep.Part().Applied())
	i := indexOf(hosts, follower)
	missedFrom := follower.rep.Part().Applied() + 1
	follower.close()
	write(t, hosts, 10, 80)
	leader = leaderOf(t, hosts)
	// Trim every WAL that is left: the entries the follower misses are gone.
	for _, h := range hosts {
		if h.rep != nil {
			if _, err := h.store.CleanWAL(0, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if first := leader.rep.Part().WAL().FirstLogID(); first <= missedFrom {
		t.Fatalf("WAL still starts at %d", first)
	}
	write(t, hosts, 80, 81) // a ready round compacts the in-memory log
	hosts[i] = openHost(t, follower.addr, follower.dir, peers)
	hasAll(t, hosts[i], 81, leader.rep.Part().Applied())
	// Entries after the snapshot are logged under their raft index.
	write(t, hosts, 81, 90)
	hasAll(t, hosts[i], 90, leaderOf(t, hosts).rep.Part().Applied())
	if last := hosts[i].rep.Part().WAL().LastLogID(); last != hosts[i].rep.Part().Applied() {
		t.Fatalf("follower WAL last id %d, applied %d", last, hosts[i].rep.Part().Applied())
	}
}

func asNotLeader(err error, target **NotLeaderError) bool { return errors.As(err, target) }

func indexOf(hosts []*host, h *host) int {
	for i := range hosts {
		if hosts[i] == h {
			return i
		}
	}
	return -1
}

// A leader cut off from its followers logs a write it cannot commit; the
// others elect a leader and write the same indexes. Back, the old leader
// must not replay its uncommitted entry and must take the new leader's
// entries in its place (its WAL tail is replaced).
func TestUncommittedTailIsReplaced(t *testing.T) {
	hosts, peers := startGroup(t)
	write(t, hosts, 0, 5)
	old := leaderOf(t, hosts)
	for _, h := range hosts {
		hasAll(t, h, 5, old.rep.Part().Applied())
	}
	oldIdx := indexOf(hosts, old)
	for _, h := range hosts {
		if h != old {
			h.close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	lost := kv.Batch{Puts: []kv.KeyValue{{Key: []byte("lost"), Value: []byte("x")}}}
	if err := old.rep.Write(ctx, lost); err == nil {
		t.Fatal("a write without a majority was acknowledged")
	}
	cancel()
	uncommitted := old.rep.Part().WAL().LastLogID()
	if uncommitted <= old.rep.Part().Applied() {
		t.Fatalf("the uncommitted write is not in the WAL (last %d, applied %d)", uncommitted, old.rep.Part().Applied())
	}
	old.close()

	for i, h := range hosts {
		if i != oldIdx {
			hosts[i] = openHost(t, h.addr, h.dir, peers)
		}
	}
	write(t, hosts, 5, 15)
	hosts[oldIdx] = openHost(t, old.addr, old.dir, peers)
	if _, ok, _ := hosts[oldIdx].rep.Part().Get([]byte("lost")); ok {
		t.Fatal("the old leader replayed an entry that was never committed")
	}
	next := leaderOf(t, hosts)
	hasAll(t, hosts[oldIdx], 15, next.rep.Part().Applied())
	if _, ok, _ := hosts[oldIdx].rep.Part().Get([]byte("lost")); ok {
		t.Fatal("an uncommitted write survived")
	}
	if got, want := hosts[oldIdx].rep.Part().WAL().LastLogID(), next.rep.Part().WAL().LastLogID(); got != want {
		t.Fatalf("old leader's WAL ends at %d, the leader's at %d", got, want)
	}
}
