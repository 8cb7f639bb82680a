package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// DefaultFileSize is the rotation size used when Options.FileSize is not set.
const DefaultFileSize = 16 << 20

var (
	// ErrClosed is returned by operations on a closed WAL.
	ErrClosed = errors.New("wal: closed")
	// ErrLocked is returned by Open when another WAL has the directory open.
	ErrLocked = errors.New("wal: directory is locked by another WAL")
	// ErrLogID is returned (wrapped) by Append for an id that does not fit.
	ErrLogID = errors.New("wal: log id out of order")
	// ErrTooLarge is returned (wrapped) by Append for a payload larger than
	// MaxPayloadSize.
	ErrTooLarge = errors.New("wal: payload too large")
)

// Options configures a WAL. The zero value is usable.
type Options struct {
	// FileSize is the size a file may reach: an Append that would make the
	// current file larger starts a new one (a batch is never split, so a
	// single batch larger than FileSize gets a file of its own).
	// Default DefaultFileSize.
	FileSize int64
	// Sync makes every Append fsync the file before returning. Without it an
	// acknowledged entry has been written to the operating system: it
	// survives the process being killed, not a power failure.
	Sync bool
	// Logf, if set, is told about recovery actions taken by Open (a torn
	// tail truncated, an empty file removed).
	Logf func(format string, args ...any)
}

// WAL is the write-ahead log of one partition.
type WAL struct {
	dir     string
	opts    Options
	dirFile *os.File // the directory, held open for its lock and for fsync

	// rmMu keeps CleanTTL from deleting files that LinkInto is linking.
	// Lock order: rmMu, wmu, mu.
	rmMu sync.Mutex

	// wmu serializes writers. The fields below are only used with it held.
	wmu   sync.Mutex
	f     *os.File // the file being appended to; nil when none is open
	size  int64    // size of f
	floor uint64   // set by SetNext: the next id must be >= floor
	buf   []byte   // encoding buffer, reused
	err   error    // sticky: a failure that leaves the file state unknown

	// Files sealed without an fsync (LinkInto) are fsynced in the
	// background; every later fsync waits for those first, so a file is
	// never durable before the ones it follows. sealMu guards sealErr.
	sealing sync.WaitGroup
	sealMu  sync.Mutex
	sealErr error

	// mu guards the published view. Writers change it with wmu and mu
	// held, so a writer may read it with wmu alone.
	mu     sync.Mutex
	files  []FileInfo // oldest first; when f != nil, the last one is f
	last   uint64     // last log id on disk, 0 if none
	closed bool
}

// Open opens (creating it if needed) the WAL in dir. It validates the files,
// truncates a torn tail of the newest one and removes leftovers of an
// interrupted file creation. Damage elsewhere makes it fail with a
// *CorruptError. The first Append after Open starts a new file.
func Open(dir string, opts Options) (*WAL, error) {
	if opts.FileSize <= 0 {
		opts.FileSize = DefaultFileSize
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	if err := lockDir(d); err != nil {
		d.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("wal: lock %s: %w", dir, err)
	}
	w := &WAL{dir: dir, opts: opts, dirFile: d}
	if err := w.load(); err != nil {
		d.Close()
		return nil, err
	}
	return w, nil
}

func (w *WAL) logf(format string, args ...any) {
	if w.opts.Logf != nil {
		w.opts.Logf(format, args...)
	}
}

// load builds the file index.
func (w *WAL) load() error {
	if err := removeTemps(w.dir); err != nil {
		return err
	}
	names, err := listNames(w.dir)
	if err != nil {
		return err
	}
	files := make([]FileInfo, 0, len(names))
	// Sealed files first: if one is damaged, the newest stays untouched.
	for _, wf := range names[:max(len(names)-1, 0)] {
		fi, _, err := readInfo(wf, false)
		if err != nil {
			return err
		}
		if len(files) > 0 {
			if err := checkOrder(&files[len(files)-1], &fi); err != nil {
				return err
			}
		}
		files = append(files, fi)
	}
	if len(names) > 0 {
		wf := names[len(names)-1]
		fi, ok, cut, err := recoverTail(wf)
		if err != nil {
			return err
		}
		if cut > 0 {
			w.logf("wal: truncated a torn tail of %d bytes from %s (at offset %d)", cut, wf.path, fi.Size)
		}
		if ok {
			if len(files) > 0 {
				if err := checkOrder(&files[len(files)-1], &fi); err != nil {
					return err
				}
			}
			files = append(files, fi)
		} else {
			// Only possible after a power failure: the file lost its
			// first record. Its ids may have been handed out, so do not
			// reuse them.
			if err := os.Remove(wf.path); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			w.floor = wf.first
			w.logf("wal: removed %s, which held no complete record", wf.path)
		}
	}
	w.files = files
	if len(files) > 0 {
		w.last = files[len(files)-1].LastLogID
	}
	return nil
}

// Dir returns the WAL's directory.
func (w *WAL) Dir() string { return w.dir }

// Append appends one entry. Its LogID must be LastLogID()+1; when the WAL is
// empty, or SetNext moved the next id past LastLogID()+1, any id that is at
// least NextLogID() is accepted. When Append returns nil the entry has been
// written to the operating system (and fsynced with Options.Sync).
func (w *WAL) Append(e Entry) error {
	return w.AppendBatch([]Entry{e})
}

// AppendBatch appends entries with consecutive ids (the first following the
// rules of Append) with a single write. The batch is all or nothing: it is
// never split across files and, if the write fails, nothing of it remains.
//
// If the outcome is unknown (an fsync failed, or undoing a failed write did
// not work), the error is sticky: every later write fails and the WAL must be
// reopened, after which the batch may or may not be present.
func (w *WAL) AppendBatch(es []Entry) error {
	if len(es) == 0 {
		return nil
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := w.check(es); err != nil {
		return err
	}

	buf := w.buf[:0]
	for i := range es {
		buf = appendRecord(buf, &es[i])
	}
	if cap(buf) <= 1<<20 {
		w.buf = buf[:0]
	} else {
		w.buf = nil // do not pin a large buffer after a large batch
	}

	first, last := es[0].LogID, es[len(es)-1].LogID
	if w.f != nil && (first != w.last+1 || w.size+int64(len(buf)) > w.opts.FileSize) {
		if err := w.seal(); err != nil {
			return err
		}
	}
	if w.f == nil {
		return w.create(first, last, buf)
	}
	return w.write(last, buf)
}

// check validates the ids and sizes of a batch.
func (w *WAL) check(es []Entry) error {
	first := es[0].LogID
	if w.last == 0 || w.floor > w.last+1 {
		if min := w.next(); first < min {
			return fmt.Errorf("%w: got %d, want at least %d", ErrLogID, first, min)
		}
	} else if first != w.last+1 {
		return fmt.Errorf("%w: got %d, want %d", ErrLogID, first, w.last+1)
	}
	for i := range es {
		if i > 0 && es[i].LogID != es[i-1].LogID+1 {
			return fmt.Errorf("%w: %d follows %d in a batch", ErrLogID, es[i].LogID, es[i-1].LogID)
		}
		if len(es[i].Payload) > MaxPayloadSize {
			return fmt.Errorf("%w: entry %d has %d bytes, at most %d allowed",
				ErrTooLarge, es[i].LogID, len(es[i].Payload), MaxPayloadSize)
		}
	}
	return nil
}

// next returns the smallest id Append accepts. Requires wmu.
func (w *WAL) next() uint64 {
	return max(w.last+1, w.floor, 1)
}

// create writes the first batch of a new file. The file is written under a
// temporary name and renamed afterwards, so it never exists without a
// complete record. Requires wmu.
func (w *WAL) create(first, last uint64, buf []byte) error {
	path := filepath.Join(w.dir, FileName(first))
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("wal: %s already exists", path)
	}
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("wal: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		return fail(err)
	}
	if w.opts.Sync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if w.opts.Sync {
		if err := w.dirFile.Sync(); err != nil {
			f.Close()
			w.err = fmt.Errorf("wal: fsync directory %s: %w (the WAL must be reopened)", w.dir, err)
			return w.err
		}
	}
	w.f, w.size = f, int64(len(buf))
	w.mu.Lock()
	w.files = append(w.files, FileInfo{
		Path:       path,
		FirstLogID: first,
		LastLogID:  last,
		Size:       w.size,
		ModTime:    time.Now(),
	})
	w.last = last
	w.mu.Unlock()
	return nil
}

// write appends buf to the current file. Requires wmu.
func (w *WAL) write(last uint64, buf []byte) error {
	path := w.files[len(w.files)-1].Path
	if n, err := w.f.Write(buf); err != nil {
		if n > 0 {
			// Leave the file ending on a record boundary (O_APPEND puts
			// the next write at the new end).
			if terr := w.f.Truncate(w.size); terr != nil {
				w.err = fmt.Errorf("wal: write %s: %v; truncating the partial write failed: %w (the WAL must be reopened)", path, err, terr)
				return w.err
			}
		}
		return fmt.Errorf("wal: write %s: %w", path, err)
	}
	if w.opts.Sync {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("wal: fsync %s: %w (the WAL must be reopened)", path, err)
			return w.err
		}
	}
	w.size += int64(len(buf))
	w.mu.Lock()
	fi := &w.files[len(w.files)-1]
	fi.LastLogID = last
	fi.Size = w.size
	fi.ModTime = time.Now()
	w.last = last
	w.mu.Unlock()
	return nil
}

// seal fsyncs and closes the current file, if any. Requires wmu.
func (w *WAL) seal() error { return w.sealFile(true) }

// sealFile closes the current file, if any, fsyncing it first if sync.
// Requires wmu.
func (w *WAL) sealFile(sync bool) error {
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	path := w.files[len(w.files)-1].Path
	if sync {
		if err := w.waitSealed(); err != nil {
			f.Close()
			w.err = err
			return w.err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			w.err = fmt.Errorf("wal: fsync %s: %w (the WAL must be reopened)", path, err)
			return w.err
		}
	}
	if err := f.Close(); err != nil {
		w.err = fmt.Errorf("wal: close %s: %w (the WAL must be reopened)", path, err)
		return w.err
	}
	if st, err := os.Stat(path); err == nil {
		w.mu.Lock()
		w.files[len(w.files)-1].ModTime = st.ModTime()
		w.mu.Unlock()
	}
	return nil
}

// syncSealed fsyncs a file sealed without it (sealing counts it). A
// failure poisons the WAL at its next fsync, as a failed fsync on append
// does; a file removed meanwhile needs none.
func (w *WAL) syncSealed(path string) {
	defer w.sealing.Done()
	f, err := os.Open(path)
	if err == nil {
		err = syncSealedFile(f)
		f.Close()
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.sealMu.Lock()
		if w.sealErr == nil {
			w.sealErr = fmt.Errorf("wal: fsync %s: %w (the WAL must be reopened)", path, err)
		}
		w.sealMu.Unlock()
	}
}

// syncSealedFile is the background fsync (tests delay or fail it).
var syncSealedFile = (*os.File).Sync

// waitSealed waits for the background fsyncs of sealed files.
func (w *WAL) waitSealed() error {
	w.sealing.Wait()
	w.sealMu.Lock()
	defer w.sealMu.Unlock()
	return w.sealErr
}

// Rotate seals the current file: it is fsynced and never written again, and
// the next Append starts a new file. It does nothing if no file is open for
// appending.
func (w *WAL) Rotate() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	return w.seal()
}

// Sync fsyncs what has been appended to the current file, without holding
// appends back for the fsync's duration. A backup calls it before blocking
// writes, so that the seal under the block has almost nothing to write.
// A failed fsync poisons the WAL as any other: the kernel may have dropped
// the pages, and a later fsync would not say so.
func (w *WAL) Sync() error {
	w.wmu.Lock()
	f, err := w.f, w.err
	closed := w.closed
	w.wmu.Unlock()
	if closed {
		return ErrClosed
	}
	if err != nil || f == nil {
		return err
	}
	if err := w.waitSealed(); err != nil {
		w.wmu.Lock()
		defer w.wmu.Unlock()
		if w.err == nil {
			w.err = err
		}
		return w.err
	}
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) { // closed: sealed (and fsynced) meanwhile
		w.wmu.Lock()
		defer w.wmu.Unlock()
		if w.err == nil {
			w.err = fmt.Errorf("wal: fsync %s: %w (the WAL must be reopened)", f.Name(), err)
		}
		return w.err
	}
	return nil
}

// SetNext makes Append accept only ids >= next. Used after a restore, when
// ids must continue from the store's applied id; a next below LastLogID()+1
// has no effect. If it moves past LastLogID()+1, the next Append may use any
// id >= next and starts a new file, leaving a gap between files.
//
// SetNext is not persisted: call it again after reopening.
func (w *WAL) SetNext(next uint64) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.floor = max(w.floor, next)
}

// NextLogID returns the smallest id Append accepts now (1 for a new WAL).
// Unless the WAL is empty or SetNext moved past it, it is also the only one.
func (w *WAL) NextLogID() uint64 {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.next()
}

// LastLogID returns the id of the last entry on disk, 0 if there is none.
func (w *WAL) LastLogID() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// FirstLogID returns the first id of the oldest file on disk, 0 if there is
// none.
func (w *WAL) FirstLogID() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.files) == 0 {
		return 0
	}
	return w.files[0].FirstLogID
}

// Files describes the WAL's files, oldest first. The last one may still be
// growing (its Size and LastLogID are those at the time of the call).
func (w *WAL) Files() []FileInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.files)
}

// Covering returns the files holding entries in (after, upTo] (upTo == 0:
// up to LastLogID()), with the errors of the package-level Covering. The
// last file returned may be the one being appended to; call Rotate first if
// the files are to be copied and must not change.
func (w *WAL) Covering(after, upTo uint64) ([]FileInfo, error) {
	files := w.Files()
	var oldest uint64
	if len(files) > 0 {
		oldest = files[0].FirstLogID
	}
	return cover(w.dir, oldest, files, after, upTo)
}

// Iterate calls fn, in order, for every entry with LogID >= from that was on
// disk when Iterate was called. The entry's Payload belongs to fn. An error
// from fn stops the iteration and is returned unchanged. Iterate does not
// report gaps: compare FirstLogID with from to know whether older entries
// are gone.
func (w *WAL) Iterate(from uint64, fn func(Entry) error) error {
	type snap struct {
		f  *os.File
		fi FileInfo
	}
	var snaps []snap
	defer func() {
		for _, s := range snaps {
			if s.f != nil {
				s.f.Close()
			}
		}
	}()

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	for _, fi := range w.files {
		if fi.LastLogID < from {
			continue
		}
		// Opened under mu: CleanTTL removes files with mu held, so every
		// file in the index can be opened, and stays readable after.
		f, err := os.Open(fi.Path)
		if err != nil {
			w.mu.Unlock()
			return fmt.Errorf("wal: %w", err)
		}
		snaps = append(snaps, snap{f, fi})
	}
	w.mu.Unlock()

	for i := range snaps {
		s := &snaps[i]
		sc := newScanner(s.fi.Path, io.NewSectionReader(s.f, 0, s.fi.Size), s.fi.Size, s.fi.FirstLogID)
		if _, err := sc.scan(from, 0, fn); err != nil {
			return err
		}
		s.f.Close()
		s.f = nil
	}
	return nil
}

// CleanTTL deletes the oldest files whose entries are all durable in the
// store (LastLogID <= durable) and whose modification time is before
// now-ttl. It stops at the first file that does not qualify, so the
// remaining files always form an unbroken suffix of the log, and it never
// deletes the newest file. It returns the paths removed.
func (w *WAL) CleanTTL(ttl time.Duration, durable uint64, now time.Time) ([]string, error) {
	w.rmMu.Lock()
	defer w.rmMu.Unlock()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	cutoff := now.Add(-ttl)
	n := 0
	for ; n < len(w.files)-1; n++ {
		fi := w.files[n]
		if fi.LastLogID > durable {
			break
		}
		st, err := os.Stat(fi.Path)
		if err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		if !st.ModTime().Before(cutoff) {
			break
		}
	}
	if n == 0 {
		return nil, nil
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	var removed []string
	var err error
	for _, fi := range w.files[:n] {
		if e := os.Remove(fi.Path); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = fmt.Errorf("wal: %w", e)
			break
		}
		removed = append(removed, fi.Path)
	}
	w.files = slices.Clone(w.files[len(removed):])
	return removed, err
}

// Close seals the current file (fsyncing it, whatever Options.Sync says) and
// releases the directory.
func (w *WAL) Close() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return ErrClosed
	}
	var err error
	if w.f != nil {
		err = w.seal()
	} else {
		err = w.waitSealed()
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.buf = nil
	if cerr := w.dirFile.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("wal: %w", cerr)
	}
	return err
}
