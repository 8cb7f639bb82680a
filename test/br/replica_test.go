package br

import (
	"strings"
	"testing"
	"time"
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
