package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/vfs"
	"golang.org/x/sync/errgroup"
)

// PartCheckpoint is what a checkpoint records for one part.
type PartCheckpoint struct {
	Part    int32
	LogID   uint64 // last log id contained in the checkpoint
	Term    uint64
	WALDir  string // hard links of the part's WAL files
	WALFrom uint64 // first log id in those files (0 if none)
}

// SpaceCheckpoint is one space's checkpoint on this host.
type SpaceCheckpoint struct {
	Space int32
	Dir   string // .../checkpoints/<name>: data/ and wal/<part>/
	Parts []PartCheckpoint
}

// CheckpointDir is where a named checkpoint of a space lives.
func (s *Store) CheckpointDir(space int32, name string) string {
	return filepath.Join(s.SpaceDir(space), "checkpoints", name)
}

// Checkpoint cuts a consistent checkpoint of the space: a Pebble checkpoint
// (hard-linked SSTs) and hard links of every part's WAL files, sealed so
// that later appends go to new files. Writes to the space wait while it is
// cut; the cost is a memtable flush plus links, independent of data size.
func (s *Store) Checkpoint(space int32, name string) (*SpaceCheckpoint, error) {
	return s.cut(space, name, false)
}

// CheckpointWAL cuts what an incremental backup takes: only every part's
// WAL links and log ids, under the same quiesce, with no memtable flush
// and no data/.
func (s *Store) CheckpointWAL(space int32, name string) (*SpaceCheckpoint, error) {
	return s.cut(space, name, true)
}

func (s *Store) cut(space int32, name string, walOnly bool) (*SpaceCheckpoint, error) {
	sp := s.Space(space)
	if sp == nil {
		return nil, fmt.Errorf("space %d: %w", space, ErrSpaceNotFound)
	}
	dir := s.CheckpointDir(space, name)
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("checkpoint %s of space %d already exists", name, space)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	cp, err := sp.checkpoint(dir, walOnly)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return cp, nil
}

func (sp *Space) checkpoint(dir string, walOnly bool) (*SpaceCheckpoint, error) {
	// Holding every part's write lock quiesces the space without touching
	// the blocking-writes gate, which belongs to metad's BLOCK_ON/OFF.
	var parts []*Part
	for _, id := range sp.Parts() {
		p := sp.Part(id)
		p.mu.Lock()
		defer p.mu.Unlock()
		parts = append(parts, p)
	}
	// The data's and each part's WAL links are made side by side, and the
	// cut of a host holding many parts costs about what one part's does.
	var g errgroup.Group
	if !walOnly {
		if err := sp.db.Flush(); err != nil {
			return nil, fmt.Errorf("flush space %d: %w", sp.id, err)
		}
		g.Go(func() error {
			if err := sp.db.Checkpoint(filepath.Join(dir, "data")); err != nil {
				return fmt.Errorf("checkpoint space %d: %w", sp.id, err)
			}
			return nil
		})
	}
	cp := &SpaceCheckpoint{Space: sp.id, Dir: dir, Parts: make([]PartCheckpoint, len(parts))}
	for i, p := range parts {
		g.Go(func() error {
			walDir := filepath.Join(dir, "wal", strconv.Itoa(int(p.id)))
			if _, err := p.wal.LinkInto(walDir); err != nil {
				return fmt.Errorf("space %d part %d: link wal: %w", sp.id, p.id, err)
			}
			pc := PartCheckpoint{Part: p.id, LogID: p.applied, Term: p.term, WALDir: walDir}
			if files := p.wal.Files(); len(files) > 0 {
				pc.WALFrom = files[0].FirstLogID
			}
			cp.Parts[i] = pc
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return cp, nil
}

// DropCheckpoint removes a named checkpoint of a space (missing is fine).
func (s *Store) DropCheckpoint(space int32, name string) error {
	return os.RemoveAll(s.CheckpointDir(space, name))
}

// checkpointFS is a space's file system for Pebble: what Pebble writes
// under the space's checkpoints directory (the copied MANIFEST and OPTIONS,
// the directories) is never fsynced. A checkpoint is cut while writes
// wait, uploaded and dropped, and a crash before its upload fails the
// backup whatever was on disk; an fsync under other I/O can take tens of
// milliseconds, each of them a stall.
type checkpointFS struct {
	vfs.FS
	root string
}

func (fs checkpointFS) under(name string) bool {
	return name == fs.root || strings.HasPrefix(name, fs.root+string(filepath.Separator))
}

func (fs checkpointFS) Create(name string) (vfs.File, error) {
	return fs.noSync(name)(fs.FS.Create(name))
}

func (fs checkpointFS) OpenDir(name string) (vfs.File, error) {
	return fs.noSync(name)(fs.FS.OpenDir(name))
}

func (fs checkpointFS) noSync(name string) func(vfs.File, error) (vfs.File, error) {
	return func(f vfs.File, err error) (vfs.File, error) {
		if err != nil || !fs.under(name) {
			return f, err
		}
		return noSyncFile{f}, nil
	}
}

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error                { return nil }
func (noSyncFile) SyncData() error            { return nil }
func (noSyncFile) SyncTo(int64) (bool, error) { return true, nil }
