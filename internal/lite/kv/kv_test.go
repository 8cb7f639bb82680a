package kv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
)

func open(t *testing.T, dir string, mod func(*Options)) *Store {
	t.Helper()
	o := Options{DataPath: dir, WALFileSize: 4 << 10}
	if mod != nil {
		mod(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t *testing.T, p *Part, k, v string) uint64 {
	t.Helper()
	id, err := p.Write(Batch{Puts: []KeyValue{{[]byte(k), []byte(v)}}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func get(t *testing.T, p *Part, k string) (string, bool) {
	t.Helper()
	v, ok, err := p.Get([]byte(k))
	if err != nil {
		t.Fatal(err)
	}
	return string(v), ok
}

// The child half of TestCrashBetweenAppendAndApply: it writes one key
// normally, then one with the crash injection, and is killed by SIGKILL
// after that entry reached the WAL but before it reached Pebble.
func TestMain(m *testing.M) {
	if dir := os.Getenv("KV_CRASH_CHILD"); dir != "" {
		s, _ := Open(Options{DataPath: dir})
		p, _ := s.AddPart(1, 1)
		p.Write(Batch{Puts: []KeyValue{{[]byte("before"), []byte("1")}}})
		s.Close()
		s, _ = Open(Options{DataPath: dir, CrashAfterWALAppend: true})
		p = s.Space(1).Part(1)
		p.Write(Batch{Puts: []KeyValue{{[]byte("crash"), []byte("2")}}})
		os.Exit(0) // not reached: the write kills the process
	}
	os.Exit(m.Run())
}

func TestCrashBetweenAppendAndApply(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KV_CRASH_CHILD="+dir)
	err := cmd.Run()
	if ws, ok := err.(*exec.ExitError); !ok || ws.ExitCode() != -1 {
		t.Fatalf("child should die by signal, got %v", err)
	}
	// Pebble never saw "crash"; the WAL did.
	db, err := pebble.Open(filepath.Join(dir, "nebula", "1", "data"), &pebble.Options{DisableWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	// The crash hit between append and apply: only the WAL holds "crash",
	// so finding it after reopening proves the replay.
	if _, c, err := db.Get(dataKey(1, []byte("crash"))); err == nil {
		c.Close()
		t.Fatal("the entry reached Pebble before the crash: the fault did not land between append and apply")
	}
	db.Close()
	s := open(t, dir, nil)
	defer s.Close()
	p := s.Space(1).Part(1)
	if v, ok := get(t, p, "crash"); !ok || v != "2" {
		t.Fatalf("entry logged before the crash was not replayed: %q %v", v, ok)
	}
	if v, ok := get(t, p, "before"); !ok || v != "1" {
		t.Fatalf("earlier entry lost: %q %v", v, ok)
	}
	if p.Applied() != 2 {
		t.Fatalf("applied = %d, want 2", p.Applied())
	}
	if id := put(t, p, "after", "3"); id != 3 {
		t.Fatalf("next log id = %d, want 3", id)
	}
}

func TestLogIDsIncreaseAcrossRestartsAndTTL(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	p, err := s.AddPart(7, 3)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	big := string(make([]byte, 1000))
	for i := 0; i < 40; i++ { // 40 KB over 4 KB files: several files
		id := put(t, p, fmt.Sprintf("k%03d", i), big)
		if id <= last {
			t.Fatalf("log id %d after %d", id, last)
		}
		last = id
	}
	files := p.WAL().Files()
	if len(files) < 3 {
		t.Fatalf("%d wal files, want rotation", len(files))
	}
	// Age every file, then clean: all but the newest go.
	old := time.Now().Add(-time.Hour)
	for _, f := range files {
		os.Chtimes(f.Path, old, old)
	}
	removed, err := s.CleanWAL(time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != len(files)-1 || len(p.WAL().Files()) != 1 {
		t.Fatalf("removed %d of %d files, %d left; want all but the newest", len(removed), len(files), len(p.WAL().Files()))
	}
	// Fresh files stay.
	put(t, p, "fresh", "x")
	if r, _ := s.CleanWAL(time.Minute, time.Now()); len(r) != 0 {
		t.Fatalf("young files removed: %v", r)
	}
	s.Close()

	s = open(t, dir, nil)
	defer s.Close()
	p = s.Space(7).Part(3)
	if v, ok := get(t, p, "k000"); !ok || v != big {
		t.Fatal("data of expired WAL files lost after restart")
	}
	if id := put(t, p, "next", "y"); id != last+2 {
		t.Fatalf("log id after restart = %d, want %d", id, last+2)
	}
}

func TestCheckpointIsConsistentAndIsolated(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	defer s.Close()
	p1, _ := s.AddPart(2, 1)
	p2, _ := s.AddPart(2, 2)
	put(t, p1, "a", "1")
	put(t, p2, "b", "2")
	cp, err := s.Checkpoint(2, "BACKUP_X")
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Parts) != 2 || cp.Parts[0].LogID != 1 || cp.Parts[1].LogID != 1 {
		t.Fatalf("checkpoint parts %+v", cp.Parts)
	}
	put(t, p1, "late", "3")
	// The checkpoint holds what was there at the cut, not what came after.
	db, err := pebble.Open(filepath.Join(cp.Dir, "data"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, c, err := db.Get(dataKey(1, []byte("a"))); err != nil {
		t.Fatalf("checkpoint lacks data cut: %v", err)
	} else {
		c.Close()
	}
	if _, _, err := db.Get(dataKey(1, []byte("late"))); err != pebble.ErrNotFound {
		t.Fatalf("checkpoint sees a later write: %v", err)
	}
	// WAL links are sealed files: the later write went to a new file.
	ents, _ := os.ReadDir(filepath.Join(cp.Dir, "wal", "1"))
	if len(ents) != 1 {
		t.Fatalf("checkpoint wal files: %d", len(ents))
	}
	if _, err := s.Checkpoint(2, "BACKUP_X"); err == nil {
		t.Fatal("second checkpoint with the same name succeeded")
	}
	if err := s.DropCheckpoint(2, "BACKUP_X"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cp.Dir); !os.IsNotExist(err) {
		t.Fatal("checkpoint not dropped")
	}
}
