package kv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/sstable"
	"github.com/cockroachdb/pebble/vfs"
)

// Per-part layout: a space's data cut into one directory per part, so that
// a part can be restored on any host.
//
//	<dir>/<partId>/data.sst   the part's keys as stored (prefix included), rewritten; absent when none
//	<dir>/<partId>/table-<n>.sst  tables of the checkpoint that hold only the part's keys, as stored
//	<dir>/<partId>/applied    {"log_id":N,"term":T}
//	<dir>/<partId>/wal/       (import only) the part's WAL files
//
// ExportParts writes it from a checkpoint; ImportParts assembles a space
// from it under <spaceDir>/parts/.

// ExportedPart is one part written by ExportParts.
type ExportedPart struct {
	Part  int32  `json:"part_id"`
	LogID uint64 `json:"log_id"` // applied log id in the checkpoint
	Term  uint64 `json:"term"`
	Keys  int64  `json:"keys"`
	Bytes int64  `json:"bytes"` // size of its tables, 0 if none
}

// partApplied is the applied file of a part.
type partApplied struct {
	LogID uint64 `json:"log_id"`
	Term  uint64 `json:"term"`
}

const (
	partSSTName     = "data.sst"
	partAppliedName = "applied"
	importingName   = "data.importing"
)

// ExportParts writes every part of the checkpoint at checkpointDir (data/
// and wal/<part>/, as Store.Checkpoint cuts it), or only the parts listed
// in only (each must be there: a backup takes each part from one host), to
// outDir/<part>/. The checkpoint is only read.
func ExportParts(checkpointDir, outDir string, only ...int32) ([]ExportedPart, error) {
	dataDir := filepath.Join(checkpointDir, "data")
	o := spaceOptions()
	o.ReadOnly = true
	o.FS = noLockFS{vfs.Default}
	db, err := pebble.Open(dataDir, o)
	if err != nil {
		return nil, fmt.Errorf("export parts: open checkpoint %s: %w", dataDir, err)
	}
	defer db.Close()

	parts := map[int32]*ExportedPart{}
	add := func(id int32) *ExportedPart {
		if parts[id] == nil {
			parts[id] = &ExportedPart{Part: id, Term: Term}
		}
		return parts[id]
	}
	// Applied ids.
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: sysPrefix})
	if err != nil {
		return nil, fmt.Errorf("export parts: %s: %w", dataDir, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != len(sysPrefix)+4 {
			continue // not an applied key
		}
		if len(v) != 8 {
			it.Close()
			return nil, fmt.Errorf("export parts: %s: applied key %x holds %d bytes, want 8", dataDir, k, len(v))
		}
		add(int32(binary.BigEndian.Uint32(k[len(sysPrefix):]))).LogID = binary.BigEndian.Uint64(v)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("export parts: %s: %w", dataDir, err)
	}
	// Parts with a WAL but nothing applied yet.
	walRoot := filepath.Join(checkpointDir, "wal")
	ents, err := os.ReadDir(walRoot)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("export parts: %w", err)
	}
	for _, e := range ents {
		if id, ok := partDirID(e); ok {
			add(id)
		}
	}

	wanted := func(id int32) bool { return len(only) == 0 || slices.Contains(only, id) }
	for _, id := range only {
		if parts[id] == nil {
			return nil, fmt.Errorf("export parts: part %d is not in checkpoint %s", id, checkpointDir)
		}
	}
	for id := range parts {
		if !wanted(id) {
			delete(parts, id)
		}
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("export parts: %w", err)
	}
	// Tables that hold one part's keys and that nothing else overlaps are
	// linked as they are (an ingested graph is mostly such tables); the
	// rest is rewritten.
	whole, err := wholeTables(db, dataDir, wanted)
	if err != nil {
		return nil, err
	}
	wholeOf := map[int32][]wholeTable{}
	for _, w := range whole {
		add(w.part)
		wholeOf[w.part] = append(wholeOf[w.part], w)
	}
	partDir := func(id int32) string { return filepath.Join(outDir, strconv.Itoa(int(id))) }
	pending := slices.Sorted(maps.Keys(parts)) // in key order, each until its export is whole
	for _, id := range pending {
		// Tables left by an earlier export into outDir are not this one's.
		if err := os.RemoveAll(partDir(id)); err != nil {
			return nil, fmt.Errorf("export parts: %w", err)
		}
		if err := os.MkdirAll(partDir(id), 0o755); err != nil {
			return nil, fmt.Errorf("export parts: %w", err)
		}
		if err := linkWholeTables(partDir(id), wholeOf[id], parts[id]); err != nil {
			return nil, err
		}
	}

	// One pass over the rest in key order: parts are contiguous ranges, so
	// each part's table is written in turn, and a part is whole once the
	// pass has left its range.
	format := db.FormatMajorVersion().MaxTableFormat()
	withData := map[int32]bool{}
	passed := func(id int64) error { // every pending part before id
		for len(pending) > 0 && int64(pending[0]) < id {
			p := pending[0]
			pending = pending[1:]
			if !withData[p] { // (its table's finish wrote it)
				if err := writeApplied(partDir(p), parts[p]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	nextWhole := 0 // the first whole table not before the key
	var cur *sstOut
	defer func() { cur.abort() }()
	it, err = db.NewIter(&pebble.IterOptions{UpperBound: sysPrefix})
	if err != nil {
		return nil, fmt.Errorf("export parts: %s: %w", dataDir, err)
	}
	defer it.Close()
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 4 {
			return nil, fmt.Errorf("export parts: %s: key %x has no part prefix", dataDir, k)
		}
		id := int32(binary.BigEndian.Uint32(k))
		if cur != nil && cur.part != id {
			if err := cur.finish(parts); err != nil {
				return nil, err
			}
			cur = nil
		}
		if err := passed(int64(id)); err != nil {
			return nil, err
		}
		if !wanted(id) {
			ok = it.SeekGE(partPrefix(id + 1)) // on to the next part's range
			continue
		}
		for nextWhole < len(whole) && bytes.Compare(whole[nextWhole].largest, k) < 0 {
			nextWhole++
		}
		if nextWhole < len(whole) && bytes.Compare(whole[nextWhole].smallest, k) <= 0 {
			// Linked already; no other table holds a key in its range.
			ok = it.SeekGE(append(slices.Clip(whole[nextWhole].largest), 0))
			continue
		}
		if cur == nil {
			if err := os.MkdirAll(partDir(id), 0o755); err != nil { // a part with keys only
				return nil, fmt.Errorf("export parts: %w", err)
			}
			if cur, err = createSST(filepath.Join(partDir(id), partSSTName), id, format); err != nil {
				return nil, err
			}
			add(id)
			withData[id] = true
		}
		if err := cur.w.Set(k, it.Value()); err != nil {
			return nil, fmt.Errorf("export parts: write %s: %w", cur.tmp, err)
		}
		parts[id].Keys++
		ok = it.Next()
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("export parts: %s: %w", dataDir, err)
	}
	if err := cur.finish(parts); err != nil {
		return nil, err
	}
	cur = nil
	if err := passed(1 << 31); err != nil {
		return nil, err
	}

	out := make([]ExportedPart, 0, len(parts))
	for _, id := range slices.Sorted(maps.Keys(parts)) {
		out = append(out, *parts[id])
	}
	return out, nil
}

// ImportParts builds the space at spaceDir from spaceDir/parts/<part>/ (as
// ExportParts writes them, plus an optional wal/): it creates the space's
// Pebble from the parts' tables and applied ids, moves each part's WAL to
// spaceDir/wal/<part>/ and removes parts/. Renaming data.importing to data
// commits the build, so a rerun after a crash at any point finishes the
// job. Without parts/ it does nothing and returns nil.
func ImportParts(spaceDir string) ([]int32, error) {
	partsDir := filepath.Join(spaceDir, "parts")
	ents, err := os.ReadDir(partsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import parts: %w", err)
	}
	ids := []int32{}
	applied := map[int32]uint64{}
	for _, e := range ents {
		id, ok := partDirID(e)
		if !ok {
			continue
		}
		path := filepath.Join(partsDir, e.Name(), partAppliedName)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("import parts: %w", err)
		}
		var a partApplied
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("import parts: %s: %w", path, err)
		}
		ids = append(ids, id)
		applied[id] = a.LogID
	}
	slices.Sort(ids)

	dataDir := filepath.Join(spaceDir, "data")
	switch _, err := os.Stat(dataDir); {
	case err == nil:
		// A committed build, or data the space had before: only the
		// former holds every part's applied id.
		if err := checkImported(dataDir, partsDir, ids, applied); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		if len(ids) > 0 {
			if err := buildFromParts(spaceDir, partsDir, ids, applied); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("import parts: %w", err)
	}

	walRoot := filepath.Join(spaceDir, "wal")
	if err := os.MkdirAll(walRoot, 0o755); err != nil {
		return nil, fmt.Errorf("import parts: %w", err)
	}
	for _, id := range ids {
		src := filepath.Join(partsDir, strconv.Itoa(int(id)), "wal")
		dst := filepath.Join(walRoot, strconv.Itoa(int(id)))
		if err := moveWAL(src, dst); err != nil {
			return nil, err
		}
	}
	if err := syncDir(walRoot); err != nil {
		return nil, fmt.Errorf("import parts: %w", err)
	}
	if err := os.RemoveAll(partsDir); err != nil {
		return nil, fmt.Errorf("import parts: %w", err)
	}
	if err := syncDir(spaceDir); err != nil {
		return nil, fmt.Errorf("import parts: %w", err)
	}
	return ids, nil
}

// buildFromParts creates data.importing from the parts and renames it to
// data. A leftover data.importing is an interrupted build: it starts over.
func buildFromParts(spaceDir, partsDir string, ids []int32, applied map[int32]uint64) error {
	tmp := filepath.Join(spaceDir, importingName)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("import parts: %w", err)
	}
	var ssts []string
	for _, id := range ids {
		dir := filepath.Join(partsDir, strconv.Itoa(int(id)))
		tables, err := filepath.Glob(filepath.Join(dir, wholeTablePrefix+"*.sst"))
		if err != nil {
			return fmt.Errorf("import parts: %w", err)
		}
		for _, path := range append(tables, filepath.Join(dir, partSSTName)) {
			ok, err := checkPartSST(path, id)
			if err != nil {
				return err
			}
			if ok {
				ssts = append(ssts, path)
			}
		}
	}
	db, err := pebble.Open(tmp, spaceOptions())
	if err != nil {
		return fmt.Errorf("import parts: create %s: %w", tmp, err)
	}
	fail := func(err error) error {
		db.Close()
		return fmt.Errorf("import parts: build %s: %w", tmp, err)
	}
	// Ingest links the tables in (copies across devices); the sources stay
	// untouched, so a rerun can ingest them again.
	if len(ssts) > 0 {
		if err := db.Ingest(ssts); err != nil {
			return fail(err)
		}
	}
	b := db.NewBatch()
	for _, id := range ids {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], applied[id])
		b.Set(appliedKey(id), v[:], nil)
	}
	// Pebble's WAL is off (a synced commit is refused): the flush below
	// makes the applied ids durable.
	if err := b.Commit(pebble.NoSync); err != nil {
		b.Close()
		return fail(err)
	}
	b.Close()
	if err := db.Flush(); err != nil {
		return fail(err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("import parts: close %s: %w", tmp, err)
	}
	dataDir := filepath.Join(spaceDir, "data")
	if err := os.Rename(tmp, dataDir); err != nil {
		return fmt.Errorf("import parts: %w", err)
	}
	if err := syncDir(spaceDir); err != nil {
		return fmt.Errorf("import parts: %w", err)
	}
	return nil
}

// checkPartSST reports whether path exists and holds keys, and refuses a
// table with keys outside the part's range (another part's data, or the
// applied ids') or with range deletions.
func checkPartSST(path string, id int32) (bool, error) {
	r, err := openTable(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("import parts: %w", err)
	}
	defer r.Close()
	if r.Properties.NumRangeDeletions > 0 || r.Properties.NumRangeKeys() > 0 {
		return false, fmt.Errorf("import parts: %s holds range deletions or range keys", path)
	}
	it, err := r.NewIter(nil, nil)
	if err != nil {
		return false, fmt.Errorf("import parts: %s: %w", path, err)
	}
	defer it.Close()
	lower := partPrefix(id)
	upper := prefixEnd(lower)
	first, _ := it.First()
	if first == nil {
		return false, it.Error()
	}
	last, _ := it.Last()
	if last == nil {
		return false, fmt.Errorf("import parts: %s: %v", path, it.Error())
	}
	if bytes.Compare(first.UserKey, lower) < 0 || bytes.Compare(last.UserKey, upper) >= 0 {
		return false, fmt.Errorf("import parts: %s holds keys outside part %d (%x..%x)", path, id, first.UserKey, last.UserKey)
	}
	return true, nil
}

// checkImported refuses data that is not the import of partsDir: every
// part's applied id must be there as its applied file says.
func checkImported(dataDir, partsDir string, ids []int32, applied map[int32]uint64) error {
	o := spaceOptions()
	o.ReadOnly = true
	db, err := pebble.Open(dataDir, o)
	if err != nil {
		return fmt.Errorf("import parts: %s and %s both exist, and %s does not open: %w", dataDir, partsDir, dataDir, err)
	}
	defer db.Close()
	for _, id := range ids {
		there := "none"
		v, closer, err := db.Get(appliedKey(id))
		switch {
		case err == nil:
			if len(v) == 8 {
				there = strconv.FormatUint(binary.BigEndian.Uint64(v), 10)
			}
			closer.Close()
		case !errors.Is(err, pebble.ErrNotFound):
			return fmt.Errorf("import parts: %s: %w", dataDir, err)
		}
		if want := strconv.FormatUint(applied[id], 10); there != want {
			return fmt.Errorf("import parts: %s already exists and is not the import of %s (part %d: applied log id %s there, %s to import); remove one of them",
				dataDir, filepath.Join(partsDir, strconv.Itoa(int(id))), id, there, want)
		}
	}
	return nil
}

// moveWAL moves a part's downloaded WAL into place, or makes an empty WAL
// directory: openSpace finds parts by their WAL directories.
func moveWAL(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("import parts: %w", err)
		}
		return nil
	} else if err != nil {
		return fmt.Errorf("import parts: %w", err)
	}
	if ents, err := os.ReadDir(dst); err == nil {
		if len(ents) > 0 {
			return fmt.Errorf("import parts: both %s and %s hold a WAL; remove one of them", src, dst)
		}
		if err := os.Remove(dst); err != nil {
			return fmt.Errorf("import parts: %w", err)
		}
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("import parts: %w", err)
	}
	return nil
}

// exportFile is a table being exported: written through a large buffer
// (the table writer's own is 4 KiB: a write call per block), and never
// fsynced. An export is uploaded as it is written and then removed: a
// crash before its upload fails the backup (run again) whatever was on
// disk, and an fsync would only hold the export up while the kernel writes
// out what the upload reads back from the page cache.
type exportFile struct {
	vfs.File
	bw *bufio.Writer
}

func newExportFile(f vfs.File) *exportFile {
	return &exportFile{File: f, bw: bufio.NewWriterSize(f, 1<<20)}
}

func (f *exportFile) Write(p []byte) (int, error) { return f.bw.Write(p) }
func (f *exportFile) Sync() error                 { return f.bw.Flush() }
func (f *exportFile) Close() error {
	err := f.bw.Flush()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}

// sstOut is a part's table being written to a temporary name.
type sstOut struct {
	part      int32
	path, tmp string
	w         *sstable.Writer
}

func createSST(path string, part int32, format sstable.TableFormat) (*sstOut, error) {
	tmp := path + ".tmp"
	f, err := vfs.Default.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("export parts: %w", err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(newExportFile(f)), sstable.WriterOptions{TableFormat: format, BlockSize: tableBlockSize})
	return &sstOut{part: part, path: path, tmp: tmp, w: w}, nil
}

// finish closes the table, renames it into place and records its size.
func (s *sstOut) finish(parts map[int32]*ExportedPart) error {
	if s == nil {
		return nil
	}
	w := s.w
	s.w = nil
	if err := w.Close(); err != nil {
		os.Remove(s.tmp)
		return fmt.Errorf("export parts: write %s: %w", s.tmp, err)
	}
	if err := os.Rename(s.tmp, s.path); err != nil {
		return fmt.Errorf("export parts: %w", err)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("export parts: %w", err)
	}
	parts[s.part].Bytes += st.Size()
	return writeApplied(filepath.Dir(s.path), parts[s.part])
}

// writeApplied writes a part's applied file, the last of its export: a
// reader may take the part as soon as it exists (the agent uploads each
// part while the others are still being written).
func writeApplied(dir string, p *ExportedPart) error {
	b, _ := json.Marshal(partApplied{LogID: p.LogID, Term: p.Term})
	if err := writeWhole(filepath.Join(dir, partAppliedName), append(b, '\n')); err != nil {
		return fmt.Errorf("export parts: %w", err)
	}
	return nil
}

// abort drops a table left unfinished by an error.
func (s *sstOut) abort() {
	if s == nil || s.w == nil {
		return
	}
	s.w.Close()
	s.w = nil
	os.Remove(s.tmp)
}

// writeWhole writes path through a temporary name, so that a reader finds
// it absent or whole. Not fsynced, as the export's tables (unsynced).
func writeWhole(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// partDirID is the part id a directory entry names, as openSpace reads it.
func partDirID(e fs.DirEntry) (int32, bool) {
	id, err := strconv.Atoi(e.Name())
	if err != nil || id <= 0 || id > 1<<31-1 || !e.IsDir() {
		return 0, false
	}
	return int32(id), true
}

// noLockFS opens a checkpoint read-only without creating a LOCK file in
// it: a checkpoint never changes, so there is nothing to exclude.
type noLockFS struct{ vfs.FS }

func (noLockFS) Lock(string) (io.Closer, error) { return nopCloser{}, nil }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
