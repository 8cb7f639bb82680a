// Package kv is storaged's engine: one Pebble database per graph space and
// one write-ahead log per partition, laid out as NebulaGraph lays out its
// data directories:
//
//	<data_path>/nebula/<spaceId>/data/                   Pebble (all parts of the space)
//	<data_path>/nebula/<spaceId>/wal/<partId>/*.wal      one WAL per part
//	<data_path>/nebula/<spaceId>/checkpoints/<name>/     data/ + wal/<partId>/
//
// Every write is appended to the part's WAL first and then applied to Pebble
// in one batch together with the part's last applied log id. Pebble's own WAL
// is disabled: ours is the source of truth, and on open every part replays
// the entries past its persisted applied id. That replay is also what restore
// builds on: a checkpoint plus later WAL files is a consistent state.
package kv

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Options configure a Store.
type Options struct {
	DataPath    string        // storaged --data_path
	WALFileSize int64         // rotate WAL files beyond this size
	WALSync     bool          // fsync every WAL append
	BlockTTL    time.Duration // BLOCK_ON lifts itself after this long (metad may die mid-backup)

	// ReplayBound, if set, tells for a part's WAL directory whether the WAL
	// is a raft log that may end in uncommitted entries, and up to which
	// id it is committed: a part replays only that far on open.
	ReplayBound func(walDir string) (commit uint64, bounded bool)

	// CrashAfterWALAppend is a named fault injection for tests: the process
	// kills itself after an entry reaches the WAL and before it is applied,
	// a window the real process leaves too small to hit from outside.
	CrashAfterWALAppend bool
}

// Errors for spaces and parts this host does not hold.
var (
	ErrSpaceNotFound = errors.New("space not found on this host")
	ErrPartNotFound  = errors.New("part not found on this host")
)

// Store holds the spaces of one storaged.
type Store struct {
	opts Options

	mu     sync.Mutex
	spaces map[int32]*Space
}

// Open opens every space found under the data path and replays their WALs.
func Open(opts Options) (*Store, error) {
	if opts.BlockTTL == 0 {
		opts.BlockTTL = 2 * time.Minute
	}
	s := &Store{opts: opts, spaces: map[int32]*Space{}}
	root := filepath.Join(opts.DataPath, "nebula")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		id, err := strconv.Atoi(e.Name())
		if err != nil || id <= 0 || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), "data")); err != nil {
			continue
		}
		if _, err := s.openSpace(int32(id)); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// SpaceDir is where a space's files live.
func (s *Store) SpaceDir(space int32) string {
	return filepath.Join(s.opts.DataPath, "nebula", strconv.Itoa(int(space)))
}

// Space returns an open space, or nil.
func (s *Store) Space(id int32) *Space {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spaces[id]
}

// Spaces lists the open spaces' ids in order.
func (s *Store) Spaces() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.spaces))
}

// AddPart makes sure the space is open and holds the part.
func (s *Store) AddPart(space, part int32) (*Part, error) {
	sp, err := s.openSpace(space)
	if err != nil {
		return nil, err
	}
	return sp.addPart(part)
}

// DropSpace closes a space and deletes its files.
func (s *Store) DropSpace(id int32) error {
	s.mu.Lock()
	sp := s.spaces[id]
	delete(s.spaces, id)
	s.mu.Unlock()
	if sp != nil {
		sp.close(false)
	}
	return os.RemoveAll(s.SpaceDir(id))
}

func (s *Store) openSpace(id int32) (*Space, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp := s.spaces[id]; sp != nil {
		return sp, nil
	}
	sp, err := openSpace(s, id)
	if err != nil {
		return nil, err
	}
	s.spaces[id] = sp
	return sp, nil
}

// Flush makes everything applied so far durable in Pebble and returns, per
// space and part, the applied ids it covers (the bound for WAL deletion).
func (s *Store) Flush() (map[int32]map[int32]uint64, error) {
	out := map[int32]map[int32]uint64{}
	for _, id := range s.Spaces() {
		sp := s.Space(id)
		if sp == nil {
			continue
		}
		applied := sp.appliedIDs()
		if err := sp.db.Flush(); err != nil {
			return nil, fmt.Errorf("flush space %d: %w", id, err)
		}
		out[id] = applied
	}
	return out, nil
}

// CleanWAL deletes WAL files older than ttl whose entries are durable.
func (s *Store) CleanWAL(ttl time.Duration, now time.Time) ([]string, error) {
	durable, err := s.Flush()
	if err != nil {
		return nil, err
	}
	var removed []string
	for spaceID, parts := range durable {
		sp := s.Space(spaceID)
		if sp == nil {
			continue
		}
		for partID, applied := range parts {
			p := sp.Part(partID)
			if p == nil {
				continue
			}
			r, err := p.wal.CleanTTL(ttl, applied, now)
			removed = append(removed, r...)
			if err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// Close flushes and closes every space.
func (s *Store) Close() error {
	s.mu.Lock()
	spaces := s.spaces
	s.spaces = map[int32]*Space{}
	s.mu.Unlock()
	var first error
	for _, sp := range spaces {
		if err := sp.close(true); err != nil && first == nil {
			first = err
		}
	}
	return first
}
