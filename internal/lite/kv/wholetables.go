package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/sstable"
)

// wholeTable is a table of a checkpoint that the export takes as it is
// stored (a hard link) instead of rewriting its keys: all of them lie in
// one part, no other table of the checkpoint holds a key in its range, and
// the table ingests as is (every key a put at sequence number 0, as an
// ingested table or a bottom-level compaction's output stores them).
type wholeTable struct {
	part              int32
	path              string
	smallest, largest []byte
	keys              int64
	size              int64
}

// wholeTables finds the checkpoint's whole tables of the wanted parts, in
// key order.
func wholeTables(db *pebble.DB, dataDir string, wanted func(int32) bool) ([]wholeTable, error) {
	levels, err := db.SSTables(pebble.WithProperties())
	if err != nil {
		return nil, fmt.Errorf("export parts: %s: list tables: %w", dataDir, err)
	}
	var all []pebble.SSTableInfo
	for _, l := range levels {
		all = append(all, l...)
	}
	slices.SortFunc(all, func(a, b pebble.SSTableInfo) int { return bytes.Compare(a.Smallest.UserKey, b.Smallest.UserKey) })
	readers := tableReaders{dir: dataDir, open: map[string]*sstable.Reader{}}
	defer readers.close()
	var whole []wholeTable
	for i, t := range all {
		part, inOnePart := tablePart(t)
		if !inOnePart || !wanted(part) || !storedAsIngested(t) {
			continue
		}
		ok, err := readers.zeroSeqNumBounds(t)
		if err != nil {
			return nil, err
		}
		for j := 0; ok && j < len(all) && bytes.Compare(all[j].Smallest.UserKey, t.Largest.UserKey) <= 0; j++ {
			if j != i && bytes.Compare(all[j].Largest.UserKey, t.Smallest.UserKey) >= 0 {
				// The bounds overlap. A table of writes spans from its
				// first key to the applied ids past every part, so it
				// overlaps many parts it has no key in: look inside.
				var holds bool
				if holds, err = readers.holdsKeyIn(all[j], t.Smallest.UserKey, t.Largest.UserKey); err != nil {
					return nil, err
				}
				ok = !holds
			}
		}
		if ok {
			whole = append(whole, wholeTable{part: part, path: readers.path(t),
				smallest: t.Smallest.UserKey, largest: t.Largest.UserKey,
				keys: int64(t.Properties.NumEntries), size: int64(t.Size)})
		}
	}
	return whole, nil
}

// tablePart is the part all of a table's keys lie in, if there is one.
func tablePart(t pebble.SSTableInfo) (int32, bool) {
	lo, hi := t.Smallest.UserKey, t.Largest.UserKey
	if len(lo) < 4 || len(hi) < 4 || !bytes.Equal(lo[:4], hi[:4]) || bytes.HasPrefix(lo, sysPrefix) {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(lo)), true
}

// storedAsIngested reports whether the table's metadata says it holds puts
// only, all at one sequence number (Pebble then reads every key at that
// number, whatever the file stores).
func storedAsIngested(t pebble.SSTableInfo) bool {
	p := t.Properties
	return !t.Virtual && t.BackingType == pebble.BackingTypeLocal && t.SmallestSeqNum == t.LargestSeqNum &&
		p != nil && p.NumEntries > 0 && p.NumDeletions == 0 && p.NumRangeDeletions == 0 &&
		p.NumMergeOperands == 0 && p.NumRangeKeys() == 0
}

// tableReaders opens the checkpoint's tables, each once.
type tableReaders struct {
	dir  string
	open map[string]*sstable.Reader
}

func (r *tableReaders) path(t pebble.SSTableInfo) string {
	return filepath.Join(r.dir, t.BackingSSTNum.String()+".sst")
}

func (r *tableReaders) reader(t pebble.SSTableInfo) (*sstable.Reader, error) {
	path := r.path(t)
	if rd := r.open[path]; rd != nil {
		return rd, nil
	}
	rd, err := openTable(path)
	if err != nil {
		return nil, fmt.Errorf("export parts: %w", err)
	}
	r.open[path] = rd
	return rd, nil
}

// iter opens an iterator over the table as stored.
func (r *tableReaders) iter(t pebble.SSTableInfo) (sstable.Iterator, error) {
	rd, err := r.reader(t)
	if err != nil {
		return nil, err
	}
	it, err := rd.NewIter(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("export parts: %s: %w", r.path(t), err)
	}
	return it, nil
}

// openTable opens a table file for reading.
func openTable(path string) (*sstable.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rd, err := sstable.NewReader(readable, sstable.ReaderOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rd, nil
}

func (r *tableReaders) close() {
	for _, rd := range r.open {
		rd.Close()
	}
}

// zeroSeqNumBounds reports whether the table stores its first and last
// keys as puts at sequence number 0: what Pebble's ingest checks (a table
// cut from a flush stores its keys' own numbers, and is rewritten).
func (r *tableReaders) zeroSeqNumBounds(t pebble.SSTableInfo) (bool, error) {
	it, err := r.iter(t)
	if err != nil {
		return false, err
	}
	defer it.Close()
	zeroPut := func(k *pebble.InternalKey) bool {
		return k != nil && k.SeqNum() == 0 && k.Kind() == pebble.InternalKeyKindSet
	}
	if first, _ := it.First(); !zeroPut(first) {
		return false, it.Error()
	}
	last, _ := it.Last()
	return zeroPut(last), it.Error()
}

// holdsKeyIn reports whether the table holds a key in [lo, hi], or may
// (a range deletion or range key).
func (r *tableReaders) holdsKeyIn(t pebble.SSTableInfo, lo, hi []byte) (bool, error) {
	if p := t.Properties; p == nil || p.NumRangeDeletions > 0 || p.NumRangeKeys() > 0 {
		return true, nil
	}
	it, err := r.iter(t)
	if err != nil {
		return false, err
	}
	defer it.Close()
	key, _ := it.SeekGE(lo, 0)
	if key == nil {
		return false, it.Error()
	}
	return bytes.Compare(key.UserKey, hi) <= 0, nil
}

// linkWholeTables links a part's whole tables into dir as table-<n>.sst,
// in key order, and adds their keys and bytes to p.
func linkWholeTables(dir string, tables []wholeTable, p *ExportedPart) error {
	for i, t := range tables {
		dst := filepath.Join(dir, fmt.Sprintf("%s%d.sst", wholeTablePrefix, i+1))
		if err := os.Link(t.path, dst); err != nil {
			return fmt.Errorf("export parts: %w", err)
		}
		p.Keys += t.keys
		p.Bytes += t.size
	}
	return nil
}

// wholeTablePrefix names the tables an export takes as stored.
const wholeTablePrefix = "table-"
