package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ExpiredError is returned by Covering when entries that are needed have
// been deleted (by CleanTTL): a new full backup is needed.
type ExpiredError struct {
	Dir    string
	Need   uint64 // the first id needed
	Oldest uint64 // the first id still on disk
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("wal: %s: log id %d is no longer available (oldest is %d); a new full backup is needed",
		e.Dir, e.Need, e.Oldest)
}

// GapError reports log ids missing from a range that should be complete.
type GapError struct {
	Dir      string
	From, To uint64 // the missing ids, inclusive
}

func (e *GapError) Error() string {
	if e.From == e.To {
		return fmt.Sprintf("wal: %s: log id %d is missing", e.Dir, e.From)
	}
	return fmt.Sprintf("wal: %s: log ids %d to %d are missing", e.Dir, e.From, e.To)
}

// ListFiles describes the WAL files in a plain directory (a checkpoint, a
// downloaded backup, or the directory of a WAL, open or not), oldest first.
// Every file is read and validated; see the package documentation for how
// damage is treated. Other files in dir are ignored.
func ListFiles(dir string) ([]FileInfo, error) {
	_, files, err := loadDir(dir, 0, 0)
	return files, err
}

// loadDir lists the WAL files in dir and reads and validates those that may
// hold ids in [lo, hi] (hi == 0: no upper bound; the newest file is then
// always included). It returns all names, and the validated files.
func loadDir(dir string, lo, hi uint64) ([]walFile, []FileInfo, error) {
	for attempt := 1; ; attempt++ {
		names, files, err := loadDirOnce(dir, lo, hi)
		// In the directory of a running WAL, CleanTTL may delete a file
		// between listing and reading it: list again.
		if errors.Is(err, os.ErrNotExist) && attempt < 3 {
			if _, serr := os.Stat(dir); serr == nil {
				continue
			}
		}
		return names, files, err
	}
}

func loadDirOnce(dir string, lo, hi uint64) ([]walFile, []FileInfo, error) {
	names, err := listNames(dir)
	if err != nil {
		return nil, nil, err
	}
	var files []FileInfo
	for i, wf := range names {
		newest := i == len(names)-1
		if !newest && names[i+1].first <= lo {
			continue // every id in wf is below lo
		}
		if hi != 0 && wf.first > hi {
			break
		}
		fi, ok, err := readInfo(wf, newest)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if len(files) > 0 {
			if err := checkOrder(&files[len(files)-1], &fi); err != nil {
				return nil, nil, err
			}
		}
		files = append(files, fi)
	}
	return names, files, nil
}

// Covering returns the files of the WAL directory dir that hold entries in
// (after, upTo], oldest first; upTo == 0 means up to the last entry. Nothing
// is returned if the range is empty. If the oldest file starts after after+1
// (the entries were deleted by TTL) it returns an *ExpiredError; if ids are
// missing elsewhere in the range (a gap left by SetNext, or upTo past the
// last entry) a *GapError.
//
// The newest file may be that of a running WAL and still grow; the files
// returned hold at least the entries up to upTo.
func Covering(dir string, after, upTo uint64) ([]FileInfo, error) {
	names, files, err := loadDir(dir, after+1, upTo)
	if err != nil {
		return nil, err
	}
	var oldest uint64
	if len(names) > 0 {
		oldest = names[0].first
	}
	return cover(dir, oldest, files, after, upTo)
}

// cover implements Covering on files, which must include every file that
// may hold ids in (after, upTo] and, if upTo == 0, the newest file. oldest
// is the first id of the oldest file on disk (0 if none).
func cover(dir string, oldest uint64, files []FileInfo, after, upTo uint64) ([]FileInfo, error) {
	hi := upTo
	if hi == 0 && len(files) > 0 {
		hi = files[len(files)-1].LastLogID
	}
	if hi <= after {
		return nil, nil
	}
	need := after + 1
	if oldest > need {
		return nil, &ExpiredError{Dir: dir, Need: need, Oldest: oldest}
	}
	return span(dir, files, need, hi)
}

// span returns the files holding ids in [lo, hi] (lo <= hi), checking that
// together they hold all of them. files must be ordered and must not
// overlap.
func span(dir string, files []FileInfo, lo, hi uint64) ([]FileInfo, error) {
	var out []FileInfo
	expect := lo
	for _, fi := range files {
		if fi.LastLogID < lo {
			continue
		}
		if fi.FirstLogID > hi {
			break
		}
		if fi.FirstLogID > expect {
			return nil, &GapError{Dir: dir, From: expect, To: fi.FirstLogID - 1}
		}
		out = append(out, fi)
		expect = fi.LastLogID + 1
	}
	if len(out) == 0 || out[len(out)-1].LastLogID < hi {
		return nil, &GapError{Dir: dir, From: expect, To: hi}
	}
	return out, nil
}

// ReadDir calls fn, in order, for the entries with from <= LogID <= to in the
// WAL files of dir (from == 0: from the oldest entry; to == 0: up to the last
// one). Every id in the range must be present: if one is missing (the files
// start after from, end before to, or have a gap between them) it returns a
// *GapError. The files concerned are validated before fn is first called, so
// a range that cannot be served fully is not served at all. The entry's
// Payload belongs to fn; an error from fn stops the reading and is returned
// unchanged.
func ReadDir(dir string, from, to uint64, fn func(Entry) error) error {
	if to != 0 && from > to {
		return fmt.Errorf("wal: ReadDir: empty range [%d, %d]", from, to)
	}
	_, files, err := loadDir(dir, from, to)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		if to != 0 {
			return &GapError{Dir: dir, From: max(from, 1), To: to}
		}
		return nil
	}
	lo, hi := from, to
	if lo == 0 {
		lo = files[0].FirstLogID
	}
	if hi == 0 {
		hi = files[len(files)-1].LastLogID
		if lo > hi {
			return nil // nothing at or after from
		}
	}
	need, err := span(dir, files, lo, hi)
	if err != nil {
		return err
	}
	for _, fi := range need {
		if err := readRange(fi, lo, hi, fn); err != nil {
			return err
		}
	}
	return nil
}

// readRange calls fn for the entries of a validated file with ids in [lo, hi].
func readRange(fi FileInfo, lo, hi uint64, fn func(Entry) error) error {
	f, err := os.Open(fi.Path)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	s := newScanner(fi.Path, io.NewSectionReader(f, 0, fi.Size), fi.Size, fi.FirstLogID)
	_, err = s.scan(lo, hi, fn)
	return err
}
