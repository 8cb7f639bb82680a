package wal

import (
	"fmt"
	"io"
	"os"
	"slices"
)

// TruncateFrom removes the entries with ids >= id: raft replaces a
// follower's uncommitted tail when a new leader's log disagrees with it.
// Files wholly past id are deleted, the one holding id is cut just before
// it and sealed; the next Append must carry id (or, with SetNext, more).
func (w *WAL) TruncateFrom(id uint64) error {
	w.rmMu.Lock()
	defer w.rmMu.Unlock()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if id > w.last {
		return nil
	}
	if err := w.seal(); err != nil {
		return err
	}
	files := slices.Clone(w.files)
	for len(files) > 0 {
		fi := &files[len(files)-1]
		if fi.FirstLogID >= id {
			if err := os.Remove(fi.Path); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("wal: %w", err)
			}
			files = files[:len(files)-1]
			continue
		}
		if fi.LastLogID >= id {
			size, err := offsetAfter(fi, id-1)
			if err != nil {
				return err
			}
			if err := os.Truncate(fi.Path, size); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			fi.LastLogID, fi.Size = id-1, size
		}
		break
	}
	if err := w.dirFile.Sync(); err != nil {
		w.err = fmt.Errorf("wal: fsync directory %s: %w (the WAL must be reopened)", w.dir, err)
		return w.err
	}
	w.mu.Lock()
	w.files = files
	w.last = 0
	if len(files) > 0 {
		w.last = files[len(files)-1].LastLogID
	}
	w.mu.Unlock()
	w.floor = id // the next id is id, also across a gap left by SetNext
	return nil
}

// offsetAfter is the size of the file up to and including the record of
// id last.
func offsetAfter(fi *FileInfo, last uint64) (int64, error) {
	f, err := os.Open(fi.Path)
	if err != nil {
		return 0, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	s := newScanner(fi.Path, io.NewSectionReader(f, 0, fi.Size), fi.Size, fi.FirstLogID)
	res, err := s.scan(0, last, nil)
	if err != nil {
		return 0, err
	}
	if res.last != last {
		return 0, &CorruptError{Path: fi.Path, Reason: fmt.Sprintf("record %d not found to truncate after", last)}
	}
	return res.good, nil
}
