package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/nebula-open/nebula-br/internal/writeback"
)

// tmpPrefix names the temporary files of unfinished Puts (and Check's probe);
// List skips them and keys may not use it.
const tmpPrefix = ".objstore-tmp-"

// localStore keeps each object in a file under root: key "a/b" is root/a/b.
// A key cannot be both an object and a "directory" of others (S3 allows "a"
// and "a/b" side by side; a file system does not).
type localStore struct {
	root     string
	readOnly bool // Check creates nothing
}

func openLocal(root string, readOnly bool) *localStore {
	return &localStore{root: root, readOnly: readOnly}
}

func (s *localStore) URI() string { return "local://" + s.root }

func (s *localStore) String() string { return s.URI() }

func (s *localStore) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

func (s *localStore) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
	}
	dst := s.path(key)
	dir := filepath.Dir(dst)
	var f *os.File
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
		}
		f, err = os.CreateTemp(dir, tmpPrefix+"*")
		if err == nil {
			break
		}
		// A concurrent Delete may prune the directory between MkdirAll and
		// CreateTemp: make it again.
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
		}
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			s.prune(dir)
		}
	}()
	src := &ctxReader{ctx: ctx, r: r}
	dstw := writeback.New(f) // the fsync below then has little left
	var n int64
	if size >= 0 {
		// Read one byte past size to notice a reader that is too long.
		n, err = io.Copy(dstw, io.LimitReader(src, size+1))
	} else {
		n, err = io.Copy(dstw, src)
	}
	if err != nil {
		return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("put %q in %s: reader gave %s bytes, want %d", key, s.URI(), countText(n, size), size)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
	}
	if err = os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, s.URI(), err)
	}
	return nil
}

func countText(n, size int64) string {
	if n > size {
		return "more"
	}
	return fmt.Sprint(n)
}

func (s *localStore) notFound(op, key string) error {
	return newError(fmt.Sprintf("%s %q: object not found in %s", op, key, s.URI()), ErrNotFound)
}

func (s *localStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %q in %s: %w", key, s.URI(), err)
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		if isNotExist(err) {
			return nil, s.notFound("get", key)
		}
		return nil, fmt.Errorf("get %q in %s: %w", key, s.URI(), err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %q in %s: %w", key, s.URI(), err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, s.notFound("get", key)
	}
	return &ctxReadCloser{ctxReader: ctxReader{ctx: ctx, r: f}, c: f}, nil
}

func (s *localStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %q in %s: %w", key, s.URI(), err)
	}
	st, err := os.Stat(s.path(key))
	if err != nil {
		if isNotExist(err) {
			return ObjectInfo{}, s.notFound("stat", key)
		}
		return ObjectInfo{}, fmt.Errorf("stat %q in %s: %w", key, s.URI(), err)
	}
	if !st.Mode().IsRegular() {
		return ObjectInfo{}, s.notFound("stat", key)
	}
	return ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// List walks the directories in key order: within a directory, entries sort
// by name, a directory's name followed by "/" (so "a.txt" comes before
// "a/b", as in S3's byte order).
func (s *localStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	dirKey := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dirKey = prefix[:i+1]
	}
	err := s.walk(ctx, dirKey, prefix, fn)
	var cb callbackError
	if errors.As(err, &cb) {
		return cb.err // the caller's own error, as it was
	}
	if err != nil {
		return fmt.Errorf("list %q in %s: %w", prefix, s.URI(), err)
	}
	return nil
}

// callbackError carries an error of List's fn out of the walk.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// walk lists the directory holding keys that start with dirKey ("" or
// ending in "/").
func (s *localStore) walk(ctx context.Context, dirKey, prefix string, fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := s.root
	if dirKey != "" {
		dir = s.path(strings.TrimSuffix(dirKey, "/"))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	type entry struct {
		name  string // with "/" for a directory
		isDir bool
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		mode := e.Type()
		if mode&fs.ModeSymlink != 0 {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil || !st.Mode().IsRegular() {
				continue // dangling links and linked directories are not objects
			}
			mode = 0
		}
		switch {
		case mode.IsDir():
			list = append(list, entry{name + "/", true})
		case mode.IsRegular():
			list = append(list, entry{name, false})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	for _, e := range list {
		key := dirKey + e.name
		if e.isDir {
			// Descend only where keys can match the prefix.
			if strings.HasPrefix(key, prefix) || strings.HasPrefix(prefix, key) {
				if err := s.walk(ctx, key, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, e.name))
		if err != nil {
			if isNotExist(err) {
				continue // deleted meanwhile
			}
			return err
		}
		if err := fn(ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}); err != nil {
			return callbackError{err}
		}
	}
	return nil
}

func (s *localStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q in %s: %w", key, s.URI(), err)
	}
	p := s.path(key)
	st, err := os.Lstat(p)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("delete %q in %s: %w", key, s.URI(), err)
	}
	if st.IsDir() {
		return nil // not an object
	}
	if err := os.Remove(p); err != nil && !isNotExist(err) {
		return fmt.Errorf("delete %q in %s: %w", key, s.URI(), err)
	}
	s.prune(filepath.Dir(p))
	return nil
}

// prune removes dir and its parents up to (not including) the root while
// they are empty.
func (s *localStore) DeleteDir(ctx context.Context, dir string) (int, error) {
	if err := checkKey(dir); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p := s.path(dir)
	n := 0
	err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), tmpPrefix) {
			n++
		}
		return nil
	})
	if err != nil && !isNotExist(err) {
		return 0, fmt.Errorf("delete %q in %s: %w", dir, s.URI(), err)
	}
	if err := os.RemoveAll(p); err != nil {
		return 0, fmt.Errorf("delete %q in %s: %w", dir, s.URI(), err)
	}
	s.prune(filepath.Dir(p))
	return n, nil
}

func (s *localStore) prune(dir string) {
	under := s.root
	if !strings.HasSuffix(under, string(filepath.Separator)) {
		under += string(filepath.Separator)
	}
	for dir != s.root && strings.HasPrefix(dir, under) {
		if os.Remove(dir) != nil {
			return // not empty (or gone)
		}
		dir = filepath.Dir(dir)
	}
}

func (s *localStore) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fail := func(err error) error {
		return newError(fmt.Sprintf("local storage %s is not usable: %v: fix --storage or the directory's permissions", s.URI(), err), err)
	}
	if s.readOnly {
		st, err := os.Stat(s.root)
		if err == nil && !st.IsDir() {
			err = fmt.Errorf("not a directory")
		}
		if isNotExist(err) {
			return newError(fmt.Sprintf("local storage %s does not exist: fix --storage", s.URI()), ErrBucketNotFound, err)
		}
		if err != nil {
			return fail(err)
		}
		return nil
	}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		return fail(err)
	}
	f, err := os.CreateTemp(s.root, tmpPrefix+"check-*")
	if err != nil {
		return fail(err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("check\n"))
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fail(err)
	}
	return nil
}

func isNotExist(err error) bool {
	// ENOTDIR: a path element is a file, so the object cannot exist.
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxReadCloser struct {
	ctxReader
	c io.Closer
}

func (c *ctxReadCloser) Close() error { return c.c.Close() }
