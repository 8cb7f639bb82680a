package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	fileSuffix = ".wal"
	tmpSuffix  = ".tmp"
)

// FileInfo describes one WAL file.
type FileInfo struct {
	Path       string
	FirstLogID uint64
	LastLogID  uint64
	Size       int64 // bytes of complete records
	ModTime    time.Time
}

// FileName returns the name of the file whose first entry has id firstLogID.
func FileName(firstLogID uint64) string {
	return fmt.Sprintf("%019d%s", firstLogID, fileSuffix)
}

// parseFileName returns the first log id encoded in a WAL file name. Only
// canonical names (as produced by FileName) are accepted.
func parseFileName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, fileSuffix)
	if !ok || len(digits) < 19 {
		return 0, false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || id == 0 || FileName(id) != name {
		return 0, false
	}
	return id, true
}

// walFile is a WAL file known by name only.
type walFile struct {
	path  string
	first uint64
}

// listNames returns the WAL files in dir, ordered by first log id. Other
// files are ignored.
func listNames(dir string) ([]walFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var files []walFile
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		if id, ok := parseFileName(de.Name()); ok {
			files = append(files, walFile{path: filepath.Join(dir, de.Name()), first: id})
		}
	}
	slices.SortFunc(files, func(a, b walFile) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return files, nil
}

// removeTemps deletes files left behind by a file creation that was
// interrupted before its rename; their entries were never acknowledged.
func removeTemps(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	for _, de := range des {
		base, ok := strings.CutSuffix(de.Name(), tmpSuffix)
		if !ok || de.IsDir() {
			continue
		}
		if _, ok := parseFileName(base); !ok {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: %w", err)
		}
	}
	return nil
}

// readInfo validates the file and returns its description. If lenientTail is
// set, an incomplete record at the end of the file is ignored instead of
// reported, and ok is false when the file holds no complete record at all.
func readInfo(wf walFile, lenientTail bool) (fi FileInfo, ok bool, err error) {
	f, err := os.Open(wf.path)
	if err != nil {
		return FileInfo{}, false, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return FileInfo{}, false, fmt.Errorf("wal: %w", err)
	}
	s := newScanner(wf.path, io.NewSectionReader(f, 0, st.Size()), st.Size(), wf.first)
	res, err := s.scan(0, 0, nil)
	if err != nil {
		var ce *CorruptError
		if !lenientTail || !errors.As(err, &ce) || ce.kind != kindTruncated {
			return FileInfo{}, false, err
		}
	}
	if res.count == 0 {
		if lenientTail {
			return FileInfo{}, false, nil
		}
		return FileInfo{}, false, &CorruptError{Path: wf.path, Reason: "file holds no records"}
	}
	return FileInfo{
		Path:       wf.path,
		FirstLogID: wf.first,
		LastLogID:  res.last,
		Size:       res.good,
		ModTime:    st.ModTime(),
	}, true, nil
}

// recoverTail validates the newest file of a WAL being opened and truncates
// a torn tail. It returns the bytes cut off; ok is false if no complete
// record remains.
func recoverTail(wf walFile) (fi FileInfo, ok bool, cut int64, err error) {
	f, err := os.OpenFile(wf.path, os.O_RDWR, 0)
	if err != nil {
		return FileInfo{}, false, 0, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return FileInfo{}, false, 0, fmt.Errorf("wal: %w", err)
	}
	size := st.Size()
	s := newScanner(wf.path, io.NewSectionReader(f, 0, size), size, wf.first)
	res, err := s.scan(0, 0, nil)
	if err != nil {
		torn, terr := isTornTail(f, size, err)
		if terr != nil {
			return FileInfo{}, false, 0, terr
		}
		if !torn {
			return FileInfo{}, false, 0, err
		}
		if err := f.Truncate(res.good); err != nil {
			return FileInfo{}, false, 0, fmt.Errorf("wal: truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return FileInfo{}, false, 0, fmt.Errorf("wal: %w", err)
		}
		cut = size - res.good
		if st, err = f.Stat(); err != nil {
			return FileInfo{}, false, 0, fmt.Errorf("wal: %w", err)
		}
	}
	if res.count == 0 {
		return FileInfo{}, false, cut, nil
	}
	return FileInfo{
		Path:       wf.path,
		FirstLogID: wf.first,
		LastLogID:  res.last,
		Size:       res.good,
		ModTime:    st.ModTime(),
	}, true, cut, nil
}

// isTornTail reports whether err, met while scanning the newest file, is a
// torn tail: an incomplete last record, or a checksum mismatch in the last
// record (one followed by nothing but zero bytes counts as last).
func isTornTail(f *os.File, size int64, err error) (bool, error) {
	var ce *CorruptError
	if !errors.As(err, &ce) {
		return false, nil
	}
	switch ce.kind {
	case kindTruncated:
		return true, nil
	case kindChecksum:
		return allZero(f, ce.end, size)
	}
	return false, nil
}

// allZero reports whether bytes [from, to) of f are all zero.
func allZero(f *os.File, from, to int64) (bool, error) {
	buf := make([]byte, 32<<10)
	for from < to {
		n := int64(len(buf))
		if to-from < n {
			n = to - from
		}
		if _, err := f.ReadAt(buf[:n], from); err != nil {
			return false, fmt.Errorf("wal: %w", err)
		}
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		from += n
	}
	return true, nil
}

// checkOrder reports a file whose ids do not follow the previous file's.
func checkOrder(prev, cur *FileInfo) error {
	if cur.FirstLogID <= prev.LastLogID {
		return &CorruptError{Path: cur.Path, Reason: fmt.Sprintf(
			"first log id %d overlaps %s, which ends at log id %d", cur.FirstLogID, prev.Path, prev.LastLogID)}
	}
	return nil
}
