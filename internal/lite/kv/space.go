package kv

import (
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// Space is one graph space on this host: a Pebble database shared by the
// space's parts, and the parts' WALs.
type Space struct {
	store *Store
	id    int32
	dir   string
	db    *pebble.DB
	gate  *writeGate

	mu    sync.Mutex
	parts map[int32]*Part
}

// spaceOptions are the Pebble options of a space's database; ImportParts
// builds one with them too, so that it opens as any other.
func spaceOptions() *pebble.Options {
	o := &pebble.Options{
		DisableWAL:   true, // our per-part WAL is the log of record
		MemTableSize: 32 << 20,
		Levels:       make([]pebble.LevelOptions, 7),
	}
	for i := range o.Levels {
		// NebulaGraph's storaged.conf: block_size 8192 (RocksDB's default
		// is 4096): half the reads of a scan, as a backup's export is.
		// Table sizes as Pebble's defaults: 2 MB, doubling per level.
		o.Levels[i].BlockSize = tableBlockSize
		o.Levels[i].TargetFileSize = 2 << 20 << i
	}
	return o
}

const tableBlockSize = 8 << 10

// Test seams: the file system under every space's Pebble (tests wrap it),
// and whether Pebble compacts on its own (a test of which tables a cut
// holds turns it off).
var (
	spaceFS              = vfs.Default
	spaceAutoCompactions = true
)

func openSpace(s *Store, id int32) (*Space, error) {
	dir := s.SpaceDir(id)
	o := spaceOptions()
	o.FS = checkpointFS{FS: spaceFS, root: filepath.Join(dir, "checkpoints")}
	o.DisableAutomaticCompactions = !spaceAutoCompactions
	db, err := pebble.Open(filepath.Join(dir, "data"), o)
	if err != nil {
		return nil, fmt.Errorf("open space %d: %w", id, err)
	}
	sp := &Space{store: s, id: id, dir: dir, db: db, gate: newWriteGate(s.opts.BlockTTL), parts: map[int32]*Part{}}
	// Parts with a WAL directory existed before: reopen and replay them.
	walRoot := filepath.Join(dir, "wal")
	entries, err := os.ReadDir(walRoot)
	if err != nil && !os.IsNotExist(err) {
		db.Close()
		return nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if _, err := sp.addPart(int32(pid)); err != nil {
			sp.close(false)
			return nil, err
		}
	}
	return sp, nil
}

// ID is the space id.
func (sp *Space) ID() int32 { return sp.id }

// Part returns a part this host holds, or nil.
func (sp *Space) Part(id int32) *Part {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.parts[id]
}

// Parts lists the held parts' ids in order.
func (sp *Space) Parts() []int32 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return slices.Sorted(maps.Keys(sp.parts))
}

func (sp *Space) addPart(id int32) (*Part, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if p := sp.parts[id]; p != nil {
		return p, nil
	}
	p, err := openPart(sp, id)
	if err != nil {
		return nil, err
	}
	sp.parts[id] = p
	return p, nil
}

func (sp *Space) appliedIDs() map[int32]uint64 {
	out := map[int32]uint64{}
	for _, id := range sp.Parts() {
		if p := sp.Part(id); p != nil {
			out[id] = p.Applied()
		}
	}
	return out
}

// Flush writes the memtable out and fsyncs the parts' WALs. Called before
// Block, it leaves the checkpoint's own flush and WAL seals (under the
// block) almost nothing to write, however much was written since the last.
func (sp *Space) Flush() error {
	err := sp.db.Flush()
	for _, id := range sp.Parts() {
		if p := sp.Part(id); p != nil {
			if serr := p.wal.Sync(); serr != nil && err == nil {
				err = fmt.Errorf("space %d part %d: %w", sp.id, id, serr)
			}
		}
	}
	return err
}

// MemtableBytes is how much the memtables hold: what a flush would write.
func (sp *Space) MemtableBytes() uint64 { return sp.db.Metrics().MemTable.Size }

// Block holds new writes to the space until Unblock (or the block TTL);
// it returns once writes already in flight have finished.
func (sp *Space) Block() { sp.gate.block() }

// Unblock lets held writes proceed.
func (sp *Space) Unblock() { sp.gate.unblock() }

func (sp *Space) close(flush bool) error {
	sp.mu.Lock()
	parts := sp.parts
	sp.parts = map[int32]*Part{}
	sp.mu.Unlock()
	var first error
	if flush {
		first = sp.db.Flush()
	}
	for _, p := range parts {
		if err := p.wal.Close(); err != nil && first == nil {
			first = err
		}
	}
	if err := sp.db.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// Key layout inside a space's Pebble: user keys are prefixed with their
// part id, so a part is one contiguous range; the applied log id of each
// part lives under a system prefix that no part id can take.
var sysPrefix = []byte{0xff, 0xff, 0xff, 0xff}

func partPrefix(part int32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(part))
	return b[:]
}

func dataKey(part int32, key []byte) []byte {
	return append(partPrefix(part), key...)
}

func appliedKey(part int32) []byte {
	return append(append([]byte{}, sysPrefix...), partPrefix(part)...)
}
