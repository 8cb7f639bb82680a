package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// linkFile is os.Link; tests replace it to exercise the copy fallback.
var linkFile = os.Link

// LinkInto seals the current file (as Rotate) and then hard-links every WAL
// file into dir, which is created if needed, returning the new paths oldest
// first. Where a hard link is not possible (dir on another file system, or a
// file system without hard links) the file is copied instead, keeping its
// modification time. The linked files are never written again by the WAL;
// appends go to a new file. A file already present in dir is accepted only
// if it is the same file (a link made earlier).
//
// Neither dir nor the sealed file is fsynced here: the links serve a
// checkpoint, which is uploaded and dropped, and which a crash before its
// upload fails anyway (its backup is then run again). A backup cuts while
// writes are blocked, and an fsync under other I/O can take tens of
// milliseconds, each of them a stall. Unless every append is fsynced
// (Options.Sync: then the seal has nothing left to write), the sealed file
// is fsynced in the background, as Rotate would have, and every later
// fsync of the WAL waits for it.
func (w *WAL) LinkInto(dir string) ([]string, error) {
	w.rmMu.Lock() // CleanTTL must not delete what is being linked
	defer w.rmMu.Unlock()

	w.wmu.Lock()
	if w.closed {
		w.wmu.Unlock()
		return nil, ErrClosed
	}
	sealing := w.f != nil && !w.opts.Sync
	if err := w.sealFile(w.opts.Sync); err != nil {
		w.wmu.Unlock()
		return nil, err
	}
	files := slices.Clone(w.files)
	if sealing {
		w.sealing.Add(1)
		go w.syncSealed(files[len(files)-1].Path)
	}
	w.wmu.Unlock()

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	paths := make([]string, 0, len(files))
	for _, fi := range files {
		dst := filepath.Join(dir, filepath.Base(fi.Path))
		if err := linkOrCopy(fi.Path, dst); err != nil {
			return paths, err
		}
		paths = append(paths, dst)
	}
	return paths, nil
}

// linkOrCopy hard-links src to dst, copying when linking is not possible.
func linkOrCopy(src, dst string) error {
	err := linkFile(src, dst)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrExist):
		return checkSame(src, dst)
	case !linkUnsupported(err):
		return fmt.Errorf("wal: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return checkSame(src, dst)
	}
	return copyFile(src, dst)
}

func checkSame(src, dst string) error {
	a, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	b, err := os.Stat(dst)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if !os.SameFile(a, b) {
		return fmt.Errorf("wal: %s: %w and is not a link to %s", dst, os.ErrExist, src)
	}
	return nil
}

// linkUnsupported reports whether a link error means "cannot link here"
// rather than a real failure.
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EXDEV) || // another file system
		errors.Is(err, syscall.EPERM) || // file system without hard links
		errors.Is(err, syscall.EMLINK) || // too many links to the file
		errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP)
}

// copyFile copies src to dst (through a temporary file, fsynced) and gives
// the copy src's modification time.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	tmp := dst + tmpSuffix
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
			err = fmt.Errorf("wal: copy %s: %w", src, err)
		}
	}()
	if _, err = io.Copy(out, in); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	if err = os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
