package br

import (
	"context"
	"io"
	"regexp"
	"testing"

	"github.com/nebula-open/nebula-br/internal/lite/bulkload"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// This file's clusters live in 127.0.16.0/24.

// TestBulkLoadedBackupRestores: a bulk-loaded space (ingested tables, which
// a backup keeps as they are stored) with writes through graphd on top
// restores exactly into other numbers of hosts, full and incremental.
func TestBulkLoadedBackupRestores(t *testing.T) {
	for _, b := range []string{"127.0.16.10", "127.0.16.20", "127.0.16.30"} {
		requireFree(t, 16, b, 3)
	}
	st := localStorage(t)
	src := up(t, "127.0.16.10", 3, true, nil)
	spec := bulkload.Spec{Space: "g", Parts: 6, Vertices: 20000, Fanout: 3, NameBytes: 20}
	if _, err := bulkload.Load(context.Background(), src, spec, io.Discard); err != nil {
		t.Fatal(err)
	}
	waitServing(t, src)
	s := connect(t, src)
	// A vertex inside an ingested table's range and one past every table.
	s.Must(`USE g; INSERT VERTEX p(name, n) VALUES 5:("rewritten", 5), 1000000:("new", 1)`)
	full := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...))
	atFull := s.fingerprint("g")

	// Some parts' ingested tables are kept as stored, and the writes on
	// top are rewritten.
	store, err := objstore.Open(context.Background(), st.uri, objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, k := range objectKeys(t, store, full+"/data/") {
		if m := regexp.MustCompile(`/\d+/(table-\d+|data)\.sst$`).FindStringSubmatch(k); m != nil {
			kinds[regexp.MustCompile(`\d+$`).ReplaceAllString(m[1], "N")]++
		}
	}
	if kinds["table-N"] == 0 || kinds["data"] == 0 {
		t.Fatalf("full backup %s: %d tables kept as stored, %d rewritten; want some of each", full, kinds["table-N"], kinds["data"])
	}

	s.Must(`USE g; INSERT VERTEX p(name, n) VALUES 7:("later", 7), 1000001:("later", 2); DELETE VERTEX 9 WITH EDGE`)
	incr := backupName(t, brOK(t, nil, st.flags("backup", "incr", "--meta", src.MetaAddr())...))
	atIncr := s.fingerprint("g")
	if atIncr == atFull {
		t.Fatal("writes after the full backup left the fingerprint unchanged")
	}

	for _, r := range []struct {
		name, base string
		hosts      int
		want       string
	}{{full, "127.0.16.20", 2, atFull}, {incr, "127.0.16.30", 1, atIncr}} {
		dst := up(t, r.base, r.hosts, true, nil)
		out := brOK(t, nil, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", r.name)...)
		if got := connect(t, dst).fingerprint("g"); got != r.want {
			t.Fatalf("%s restored into %d hosts: fingerprint %s, want %s\n%s", r.name, r.hosts, got, r.want, out)
		}
	}
}
