package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// makeDir writes entries 1..100 into a closed WAL, ten per file.
func makeDir(t *testing.T) (string, []FileInfo) {
	t.Helper()
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	appendFiles(t, w, 1, 100, 10)
	files := w.Files()
	closeT(t, w)
	return dir, files
}

func TestReadDir(t *testing.T) {
	dir, files := makeDir(t)
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a wal file"), 0o644); err != nil {
		t.Fatal(err)
	}

	checkEntries(t, collectDir(t, dir, 0, 0), 1, 100)
	checkEntries(t, collectDir(t, dir, 1, 100), 1, 100)
	checkEntries(t, collectDir(t, dir, 37, 64), 37, 64)
	checkEntries(t, collectDir(t, dir, 0, 5), 1, 5)
	checkEntries(t, collectDir(t, dir, 100, 0), 100, 100)
	checkEntries(t, collectDir(t, dir, 20, 21), 20, 21)
	checkEntries(t, collectDir(t, dir, 101, 0), 101, 100)

	noCall := func(Entry) error { t.Fatal("fn called for a range that cannot be served"); return nil }
	if ge := asGap(t, ReadDir(dir, 50, 150, noCall)); ge.From != 101 || ge.To != 150 {
		t.Fatalf("gap %d..%d", ge.From, ge.To)
	}
	if err := ReadDir(dir, 64, 37, noCall); err == nil {
		t.Fatal("reversed range accepted")
	}

	stop := errors.New("stop")
	var seen []uint64
	err := ReadDir(dir, 8, 0, func(e Entry) error {
		seen = append(seen, e.LogID)
		if e.LogID == 12 {
			return stop
		}
		return nil
	})
	if err != stop || len(seen) != 5 {
		t.Fatalf("stop: %v after %v", err, seen)
	}

	// A missing file in the middle is a gap for ranges that cross it, and
	// only for them.
	gap := copyDir(t, dir, func(name string) bool { return name == filepath.Base(files[3].Path) })
	if ge := asGap(t, ReadDir(gap, 0, 0, noCall)); ge.From != 31 || ge.To != 40 {
		t.Fatalf("gap %d..%d", ge.From, ge.To)
	}
	if ge := asGap(t, ReadDir(gap, 35, 45, noCall)); ge.From != 35 || ge.To != 40 {
		t.Fatalf("gap %d..%d", ge.From, ge.To)
	}
	checkEntries(t, collectDir(t, gap, 0, 30), 1, 30)
	checkEntries(t, collectDir(t, gap, 41, 0), 41, 100)

	// Missing at the start.
	head := copyDir(t, dir, func(name string) bool { return name == filepath.Base(files[0].Path) })
	if ge := asGap(t, ReadDir(head, 1, 0, noCall)); ge.From != 1 || ge.To != 10 {
		t.Fatalf("gap %d..%d", ge.From, ge.To)
	}
	checkEntries(t, collectDir(t, head, 0, 0), 11, 100)

	// An empty directory holds nothing, which is a gap only if ids are
	// asked for explicitly.
	empty := t.TempDir()
	checkEntries(t, collectDir(t, empty, 5, 0), 5, 4)
	if ge := asGap(t, ReadDir(empty, 5, 9, noCall)); ge.From != 5 || ge.To != 9 {
		t.Fatalf("gap %d..%d", ge.From, ge.To)
	}
	if err := ReadDir(filepath.Join(empty, "missing"), 0, 0, noCall); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestReadLiveDirectory(t *testing.T) {
	// The newest file of a running WAL may end with a record being
	// written; plain readers stop before it and leave the file alone.
	dir, _ := makeDir(t)
	newest := filepath.Join(dir, FileName(91))
	partial := encode(entryFor(101))
	appendBytes(t, newest, partial[:len(partial)/2])
	size := fileSize(t, newest)

	files, err := ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	last := files[len(files)-1]
	if last.LastLogID != 100 || last.Size != recordOffset(91, 101) {
		t.Fatalf("newest file listed as %+v", last)
	}
	checkEntries(t, collectDir(t, dir, 0, 0), 1, 100)
	if ge := asGap(t, ReadDir(dir, 0, 101, func(Entry) error { return nil })); ge.From != 101 {
		t.Fatalf("gap %d..%d", ge.From, ge.To)
	}
	if fileSize(t, newest) != size {
		t.Fatal("reader modified the file")
	}

	// In a sealed file the same damage is an error.
	sealed := filepath.Join(dir, FileName(81))
	appendBytes(t, sealed, partial[:10])
	if _, err := ListFiles(dir); asCorrupt(t, err).Path != sealed {
		t.Fatalf("ListFiles: %v", err)
	}
}

func TestCovering(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	defer closeT(t, w)
	appendFiles(t, w, 1, 100, 10)
	files := w.Files()

	check := func(after, upTo uint64, want ...int) {
		t.Helper()
		for _, src := range []string{"dir", "wal"} {
			var got []FileInfo
			var err error
			if src == "dir" {
				got, err = Covering(dir, after, upTo)
			} else {
				got, err = w.Covering(after, upTo)
			}
			if err != nil {
				t.Fatalf("%s Covering(%d, %d): %v", src, after, upTo, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s Covering(%d, %d): %d files, want %d", src, after, upTo, len(got), len(want))
			}
			for i, j := range want {
				if got[i].Path != files[j].Path || got[i].LastLogID != files[j].LastLogID {
					t.Fatalf("%s Covering(%d, %d)[%d] = %+v, want %+v", src, after, upTo, i, got[i], files[j])
				}
			}
		}
	}
	check(0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	check(20, 40, 2, 3)
	check(19, 41, 1, 2, 3, 4)
	check(10, 11, 1)
	check(95, 0, 9)
	check(99, 100, 9)
	check(100, 0)
	check(120, 0)
	check(50, 50)

	for _, src := range []string{"dir", "wal"} {
		var err error
		if src == "dir" {
			_, err = Covering(dir, 50, 200)
		} else {
			_, err = w.Covering(50, 200)
		}
		if ge := asGap(t, err); ge.From != 101 || ge.To != 200 {
			t.Fatalf("%s: gap %d..%d", src, ge.From, ge.To)
		}
	}

	// Files deleted by TTL: an incremental backup from before them needs
	// a new full backup.
	old := time.Now().Add(-time.Hour)
	for _, fi := range files[:3] {
		if err := os.Chtimes(fi.Path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.CleanTTL(time.Minute, 100, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"dir", "wal"} {
		var err error
		if src == "dir" {
			_, err = Covering(dir, 5, 0)
		} else {
			_, err = w.Covering(5, 0)
		}
		var ee *ExpiredError
		if !errors.As(err, &ee) || ee.Need != 6 || ee.Oldest != 31 || ee.Dir != dir {
			t.Fatalf("%s: got %v, want an ExpiredError for 6 (oldest 31)", src, err)
		}
	}
	check(30, 45, 3, 4)
	check(100, 0)
}

func TestConcurrentReaders(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{FileSize: 4096})
	defer closeT(t, w)
	const total = 3000

	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 16)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}

	wg.Add(1)
	go func() { // the writer
		defer wg.Done()
		defer close(done)
		for id := uint64(1); id <= total; id++ {
			if err := w.Append(entryFor(id)); err != nil {
				fail(err)
				return
			}
			if id%500 == 0 {
				if _, err := w.LinkInto(filepath.Join(t.TempDir(), "ckpt")); err != nil {
					fail(err)
					return
				}
			}
			if id%200 == 0 {
				// Deletes everything but the newest file; readers that
				// opened a file keep reading it.
				if _, err := w.CleanTTL(0, id, time.Now().Add(time.Hour)); err != nil {
					fail(err)
					return
				}
			}
		}
	}()

	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				last := w.LastLogID()
				files := w.Files()
				if len(files) > 0 && files[len(files)-1].LastLogID < last {
					fail(errors.New("Files is behind LastLogID read before it"))
					return
				}
				var prev uint64
				n := 0
				err := w.Iterate(0, func(e Entry) error {
					if prev != 0 && e.LogID != prev+1 {
						return errors.New("iteration not contiguous")
					}
					if !bytes.Equal(e.Payload, payloadFor(e.LogID)) {
						return errors.New("payload mismatch")
					}
					prev = e.LogID
					n++
					return nil
				})
				if err != nil {
					fail(err)
					return
				}
				if prev < last {
					fail(errors.New("Iterate missed entries appended before it started"))
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	fs := w.Files()
	checkEntries(t, collect(t, w, 0), fs[0].FirstLogID, total)
}

func FuzzScanner(f *testing.F) {
	var valid []byte
	for id := uint64(1); id <= 5; id++ {
		valid = append(valid, encode(entryFor(id))...)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(make([]byte, 40))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newScanner("fuzz", bytes.NewReader(data), int64(len(data)), 1)
		var es []Entry
		res, err := s.scan(0, 0, func(e Entry) error {
			es = append(es, e)
			return nil
		})
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("non-corruption error on in-memory data: %v", err)
			}
			if ce.Offset != res.good {
				t.Fatalf("error at %d, last good offset %d", ce.Offset, res.good)
			}
		}
		// Whatever was decoded re-encodes to the same bytes.
		var re []byte
		for _, e := range es {
			re = append(re, encode(e)...)
		}
		if !bytes.Equal(re, data[:res.good]) {
			t.Fatal("decoded records do not re-encode to the input")
		}
		if err == nil && res.good != int64(len(data)) {
			t.Fatal("clean scan stopped early")
		}
	})
}
