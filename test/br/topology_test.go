package br

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// This file's clusters live in 127.0.11.0/24.

// TestRestoreIntoAnyTopology: a backup kept per part restores into any
// number of storage hosts, its parts spread evenly, the data exact: a
// chain (full + incremental) of 3 hosts into 5, a full backup of those 5
// into 3, and the first full backup of 3 into 1. Each restored cluster
// takes writes, and every host is ONLINE.
func TestRestoreIntoAnyTopology(t *testing.T) {
	for _, b := range []string{"127.0.11.10", "127.0.11.20", "127.0.11.30", "127.0.11.40"} {
		requireFree(t, 11, b, 5)
	}
	st := localStorage(t)
	src := up(t, "127.0.11.10", 3, true, nil)
	s := connect(t, src)
	s.schema("g")
	s.load("g", 0, 1500)
	full := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...))
	atFull := s.fingerprint("g")
	s.load("g", 1500, 2000)
	s.Must(`USE g; DELETE VERTEX "v11" WITH EDGE`)
	incr := backupName(t, brOK(t, nil, st.flags("backup", "incr", "--meta", src.MetaAddr())...))
	atIncr := s.fingerprint("g")

	// The full backup keeps each of the 6 parts on its own.
	store, err := objstore.Open(context.Background(), st.uri, objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys := objectKeys(t, store, full+"/data/")
	partDirs := map[string]bool{}
	for _, k := range keys {
		if m := regexp.MustCompile(`^` + full + `/data/\d+/(\d+)/applied$`).FindStringSubmatch(k); m != nil {
			partDirs[m[1]] = true
		}
		if strings.Contains(k, "_9779/") {
			t.Errorf("a per-host key in a backup kept per part: %s", k)
		}
	}
	if len(partDirs) != 6 {
		t.Fatalf("full backup %s: parts stored on their own: %v, want 6 (keys %v)", full, partDirs, keys)
	}

	restore := func(name, base string, hosts int, want string) (*cluster.Cluster, *session) {
		t.Helper()
		dst := up(t, base, hosts, true, nil)
		out := brOK(t, nil, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
		d := connect(t, dst)
		if got := d.fingerprint("g"); got != want {
			t.Fatalf("%s restored into %d hosts: fingerprint %s, want %s\n%s", name, hosts, got, want, out)
		}
		assertSpread(t, d, hosts, 6)
		d.Must(`USE g; INSERT VERTEX p(name, n) VALUES "restored":("x", 1)`)
		return dst, d
	}
	five, d5 := restore(incr, "127.0.11.20", 5, atIncr)

	// A backup of those 5 hosts, into 3.
	d5.load("g", 2000, 2300)
	full5 := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", five.MetaAddr())...))
	restore(full5, "127.0.11.40", 3, d5.fingerprint("g"))

	// The first full backup of 3 hosts, into 1.
	restore(full, "127.0.11.30", 1, atFull)
}

// assertSpread checks SHOW HOSTS: hosts storage hosts, every one ONLINE,
// holding parts parts of space g between them, as evenly as can be.
func assertSpread(t *testing.T, s *session, hosts, parts int) {
	t.Helper()
	resp, err := s.G.Execute(context.Background(), "SHOW HOSTS")
	if err != nil {
		t.Fatal(err)
	}
	var counts []int
	total := 0
	for _, r := range resp.Data.Rows {
		host, status, dist := string(r.Values[0].SVal), string(r.Values[2].SVal), string(r.Values[5].SVal)
		if status != "ONLINE" {
			t.Errorf("storage host %s is %s after the restore", host, status)
		}
		n := 0
		if m := regexp.MustCompile(`\bg:(\d+)`).FindStringSubmatch(dist); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		counts = append(counts, n)
		total += n
	}
	lo, hi := parts, 0
	for _, n := range counts {
		lo, hi = min(lo, n), max(hi, n)
	}
	if len(counts) != hosts || total != parts || hi-lo > 1 {
		t.Fatalf("parts per storage host %v (%d hosts): want %d parts over %d hosts, evenly", counts, len(counts), parts, hosts)
	}
}
