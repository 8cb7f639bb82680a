package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A part's WAL directory, as NebulaGraph keeps it (and nebula-lite too):
// segment files named after the first log id they hold
// (fmt.Sprintf("%019d.wal", id)), ids rising from one file to the next,
// and, in NebulaGraph's checkpoints, a commitlog.id file. Which files hold
// a range of ids follows from the names alone, so the agent needs no
// engine to pick them.

const (
	walSuffix     = ".wal"
	commitLogFile = "commitlog.id"
)

type walFile struct {
	path  string
	first int64 // the first log id in the file (its name)
	size  int64
}

// expiredError: the entries wanted start before the oldest kept file.
type expiredError struct {
	dir    string
	after  int64
	oldest int64
}

func (e *expiredError) Error() string {
	return fmt.Sprintf("%s: log id %d is no longer kept (oldest file starts at %d)", e.dir, e.after+1, e.oldest)
}

// listWAL lists dir's segment files by first log id, and whether it holds
// a commitlog.id.
func listWAL(dir string) (files []walFile, commitLog bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	for _, e := range entries {
		name := e.Name()
		if name == commitLogFile {
			commitLog = true
			continue
		}
		id, ok := strings.CutSuffix(name, walSuffix)
		if !ok {
			continue
		}
		first, err := strconv.ParseInt(id, 10, 64)
		if err != nil || first < 0 {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return nil, false, err
		}
		if !info.Mode().IsRegular() {
			return nil, false, fmt.Errorf("%s: not a regular file", filepath.Join(dir, name))
		}
		files = append(files, walFile{path: filepath.Join(dir, name), first: first, size: info.Size()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].first < files[j].first })
	return files, commitLog, nil
}

// walCovering picks the files that hold the ids (after, upTo] (upTo 0:
// to the end): the last file starting at or before after+1, and every
// later one starting at or before upTo. No file starting that early means
// the entries have expired.
func walCovering(dir string, after, upTo int64) ([]walFile, error) {
	files, _, err := listWAL(dir)
	if err != nil {
		return nil, err
	}
	start := -1
	for i, f := range files {
		if f.first <= after+1 {
			start = i
		}
	}
	if start < 0 {
		oldest := int64(0)
		if len(files) > 0 {
			oldest = files[0].first
		}
		return nil, &expiredError{dir: dir, after: after, oldest: oldest}
	}
	var out []walFile
	for _, f := range files[start:] {
		if upTo != 0 && f.first > upTo {
			break
		}
		out = append(out, f)
	}
	return out, nil
}
