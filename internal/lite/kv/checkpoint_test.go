package kv

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/nebula-open/nebula-br/internal/lite/wal"
)

// syncLog is a file system that records the paths it fsyncs.
type syncLog struct {
	vfs.FS
	mu    sync.Mutex
	paths []string
}

func (l *syncLog) Create(name string) (vfs.File, error) {
	f, err := l.FS.Create(name)
	return loggedFile{f, l, name}, err
}

func (l *syncLog) OpenDir(name string) (vfs.File, error) {
	f, err := l.FS.OpenDir(name)
	return loggedFile{f, l, name}, err
}

func (l *syncLog) synced(name string) {
	l.mu.Lock()
	l.paths = append(l.paths, name)
	l.mu.Unlock()
}

type loggedFile struct {
	vfs.File
	log  *syncLog
	name string
}

func (f loggedFile) Sync() error     { f.log.synced(f.name); return f.File.Sync() }
func (f loggedFile) SyncData() error { f.log.synced(f.name); return f.File.SyncData() }
func (f loggedFile) SyncTo(n int64) (bool, error) {
	f.log.synced(f.name)
	return f.File.SyncTo(n)
}

// A checkpoint's files are never fsynced (the cut runs while writes wait),
// the space's own still are, and the checkpoint reads back whole.
func TestCheckpointIsNotFsynced(t *testing.T) {
	l := &syncLog{FS: vfs.Default}
	spaceFS = l
	defer func() { spaceFS = vfs.Default }()
	dataPath := t.TempDir()
	s := open(t, dataPath, nil)
	p, err := s.AddPart(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	put(t, p, "a", "1")
	want := readPart(t, p)
	l.mu.Lock()
	l.paths = nil
	l.mu.Unlock()
	cp, err := s.Checkpoint(3, "NOSYNC")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var inCheckpoint, inSpace int
	for _, path := range l.paths {
		if strings.HasPrefix(path, filepath.Dir(cp.Dir)) {
			inCheckpoint++
			t.Errorf("fsynced %s, in the checkpoint", path)
		} else {
			inSpace++
		}
	}
	if inSpace == 0 {
		t.Errorf("the cut's memtable flush fsynced nothing (syncs seen: %v): the test sees no fsync at all", l.paths)
	}

	// The checkpoint is a space of its own, as a restore places it.
	restored := t.TempDir()
	copyTree(t, filepath.Join(cp.Dir, "data"), filepath.Join(restored, "nebula", "3", "data"))
	copyTree(t, filepath.Join(cp.Dir, "wal"), filepath.Join(restored, "nebula", "3", "wal"))
	if got := readSpace(t, restored, 3); len(got) != 1 || got[1].Applied != want.Applied || got[1].KVs["a"] != "1" {
		t.Fatalf("checkpoint read back as %v, want part 1 %v", got, want)
	}
}

// An incremental backup's cut takes only the WAL: no flush, no data, not
// one fsync, and the log ids of every write before it.
func TestCheckpointWALOnly(t *testing.T) {
	l := &syncLog{FS: vfs.Default}
	spaceFS = l
	defer func() { spaceFS = vfs.Default }()
	s := open(t, t.TempDir(), nil)
	defer s.Close()
	p, err := s.AddPart(4, 1)
	if err != nil {
		t.Fatal(err)
	}
	put(t, p, "a", "1")
	last := put(t, p, "b", "2")
	l.mu.Lock()
	l.paths = nil
	l.mu.Unlock()
	cp, err := s.CheckpointWAL(4, "INCR")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.paths) != 0 {
		t.Errorf("the cut fsynced %v", l.paths)
	}
	if _, err := os.Stat(filepath.Join(cp.Dir, "data")); !os.IsNotExist(err) {
		t.Errorf("a WAL-only cut has data/: %v", err)
	}
	if len(cp.Parts) != 1 || cp.Parts[0].LogID != last {
		t.Fatalf("cut parts %+v, want part 1 at log id %d", cp.Parts, last)
	}
	put(t, p, "c", "3") // after the cut: in a new WAL file, not linked
	var ids []uint64
	if err := wal.ReadDir(cp.Parts[0].WALDir, 0, 0, func(e wal.Entry) error { ids = append(ids, e.LogID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 || ids[len(ids)-1] != last {
		t.Fatalf("linked WAL holds log ids %v, want up to %d", ids, last)
	}
}
