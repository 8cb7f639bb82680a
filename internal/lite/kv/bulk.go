package kv

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/sstable"
	"github.com/cockroachdb/pebble/vfs"
)

// IngestPart bulk-loads a part of space: what gen puts (keys without the
// part prefix, in strictly increasing order) is written to a table under
// the space's download/ directory and ingested, as NebulaGraph's INGEST
// does with downloaded SST files, never through the WAL. The part's WAL
// and applied id are untouched, so a later write or restart goes on from
// them. Puts over keys the part already holds win.
func (s *Store) IngestPart(space, part int32, gen func(put func(k, v []byte) error) error) (keys, bytes int64, err error) {
	if _, err := s.AddPart(space, part); err != nil {
		return 0, 0, err
	}
	sp := s.Space(space)
	dir := filepath.Join(sp.dir, "download")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	path := filepath.Join(dir, fmt.Sprintf("%d.sst", part))
	f, err := vfs.Default.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(path) // ingested: linked into the store
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f),
		sstable.WriterOptions{TableFormat: sp.db.FormatMajorVersion().MaxTableFormat(), BlockSize: tableBlockSize})
	genErr := gen(func(k, v []byte) error {
		keys++
		return w.Set(dataKey(part, k), v)
	})
	if err := w.Close(); err != nil && genErr == nil {
		genErr = err
	}
	if genErr != nil {
		return 0, 0, fmt.Errorf("space %d part %d: write %s: %w", space, part, path, genErr)
	}
	if keys == 0 {
		return 0, 0, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	if err := sp.db.Ingest([]string{path}); err != nil {
		return 0, 0, fmt.Errorf("space %d part %d: ingest %s: %w", space, part, path, err)
	}
	return keys, st.Size(), nil
}
