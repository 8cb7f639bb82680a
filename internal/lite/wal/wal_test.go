package wal

import (
	"bytes"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func crcOf(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func TestAppendIterateAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{FileSize: 1024})
	defer closeT(t, w)

	// Mix single appends and batches of up to 5 entries.
	id := uint64(1)
	for id <= 300 {
		n := id%5 + 1
		if id+n-1 > 300 {
			n = 300 - id + 1
		}
		if n == 1 {
			if err := w.Append(entryFor(id)); err != nil {
				t.Fatal(err)
			}
		} else {
			batch := make([]Entry, n)
			for i := range batch {
				batch[i] = entryFor(id + uint64(i))
			}
			if err := w.AppendBatch(batch); err != nil {
				t.Fatal(err)
			}
		}
		id += n
	}
	if got := w.LastLogID(); got != 300 {
		t.Fatalf("LastLogID = %d", got)
	}
	if got := w.FirstLogID(); got != 1 {
		t.Fatalf("FirstLogID = %d", got)
	}

	files := w.Files()
	if len(files) < 5 {
		t.Fatalf("only %d files with FileSize 1024", len(files))
	}
	var prev uint64
	for _, fi := range files {
		if filepath.Base(fi.Path) != FileName(fi.FirstLogID) {
			t.Errorf("%s holds first id %d", fi.Path, fi.FirstLogID)
		}
		if fi.FirstLogID != prev+1 {
			t.Errorf("%s starts at %d after %d", fi.Path, fi.FirstLogID, prev)
		}
		if fi.Size > 1024 {
			t.Errorf("%s is %d bytes, more than FileSize", fi.Path, fi.Size)
		}
		if got := fileSize(t, fi.Path); got != fi.Size {
			t.Errorf("%s: Files says %d bytes, disk %d", fi.Path, fi.Size, got)
		}
		prev = fi.LastLogID
	}
	if prev != 300 {
		t.Errorf("files end at %d", prev)
	}

	all := collect(t, w, 0)
	checkEntries(t, all, 1, 300)
	checkEntries(t, collect(t, w, 1), 1, 300)
	checkEntries(t, collect(t, w, 150), 150, 300)
	checkEntries(t, collect(t, w, 300), 300, 300)
	checkEntries(t, collect(t, w, 301), 301, 300)
	// Payloads handed to fn are the caller's to keep.
	checkEntries(t, all, 1, 300)

	// Listing the live directory agrees with the index.
	listed, err := ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(files) {
		t.Fatalf("ListFiles: %d files, Files: %d", len(listed), len(files))
	}
	for i := range listed {
		a, b := listed[i], files[i]
		if a.Path != b.Path || a.FirstLogID != b.FirstLogID || a.LastLogID != b.LastLogID || a.Size != b.Size {
			t.Errorf("ListFiles %+v, Files %+v", a, b)
		}
	}

	// Stopping early returns fn's error unchanged.
	stop := errors.New("stop")
	n := 0
	err = w.Iterate(10, func(Entry) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("Iterate stop: err %v after %d entries", err, n)
	}
}

func TestBigBatchGetsOwnFile(t *testing.T) {
	w := openT(t, t.TempDir(), Options{FileSize: 512})
	defer closeT(t, w)
	appendRange(t, w, 1, 3)
	big := make([]Entry, 10)
	for i := range big {
		big[i] = Entry{LogID: uint64(4 + i), Payload: bytes.Repeat([]byte{byte(i)}, 100)}
	}
	if err := w.AppendBatch(big); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(Entry{LogID: 14}); err != nil {
		t.Fatal(err)
	}
	files := w.Files()
	if len(files) != 3 || files[1].FirstLogID != 4 || files[1].LastLogID != 13 || files[2].FirstLogID != 14 {
		t.Fatalf("files %+v", files)
	}
}

func TestAppendValidation(t *testing.T) {
	w := openT(t, t.TempDir(), Options{})
	defer closeT(t, w)

	if got := w.NextLogID(); got != 1 {
		t.Fatalf("NextLogID of a new WAL = %d", got)
	}
	if err := w.Append(Entry{LogID: 0}); !errors.Is(err, ErrLogID) {
		t.Fatalf("Append(0): %v", err)
	}
	if err := w.AppendBatch(nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	// An empty WAL accepts any id.
	if err := w.Append(entryFor(5)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{5, 4, 7} {
		if err := w.Append(entryFor(id)); !errors.Is(err, ErrLogID) {
			t.Fatalf("Append(%d) after 5: %v", id, err)
		}
	}
	if err := w.AppendBatch([]Entry{entryFor(6), entryFor(8)}); !errors.Is(err, ErrLogID) {
		t.Fatalf("non-contiguous batch: %v", err)
	}
	if err := w.Append(Entry{LogID: 6, Payload: make([]byte, MaxPayloadSize+1)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge payload: %v", err)
	}
	if got := w.LastLogID(); got != 5 {
		t.Fatalf("LastLogID after rejected appends = %d", got)
	}
	if err := w.AppendBatch([]Entry{entryFor(6), entryFor(7)}); err != nil {
		t.Fatal(err)
	}
	if got := w.NextLogID(); got != 8 {
		t.Fatalf("NextLogID = %d", got)
	}
	checkEntries(t, collect(t, w, 0), 5, 7)
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	appendRange(t, w, 1, 50)
	closeT(t, w)
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Append(entryFor(51)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := w.Iterate(0, func(Entry) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Iterate after Close: %v", err)
	}
	first := filepath.Join(dir, FileName(1))
	before := readFileT(t, first)

	w = openT(t, dir, Options{})
	defer closeT(t, w)
	if w.LastLogID() != 50 || w.FirstLogID() != 1 || w.NextLogID() != 51 {
		t.Fatalf("after reopen: last %d first %d next %d", w.LastLogID(), w.FirstLogID(), w.NextLogID())
	}
	if err := w.Append(entryFor(52)); !errors.Is(err, ErrLogID) {
		t.Fatalf("Append(52) after reopen at 50: %v", err)
	}
	appendRange(t, w, 51, 60)
	// The old file is sealed: the appends went to a new one.
	if !bytes.Equal(readFileT(t, first), before) {
		t.Fatal("the file found by Open was modified")
	}
	files := w.Files()
	if len(files) != 2 || files[1].FirstLogID != 51 || files[1].LastLogID != 60 {
		t.Fatalf("files %+v", files)
	}
	checkEntries(t, collect(t, w, 0), 1, 60)
}

func TestOpenLocksDir(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	closeT(t, w)
	closeT(t, openT(t, dir, Options{}))
}

func TestOpenRemovesTempFiles(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	appendRange(t, w, 1, 5)
	closeT(t, w)
	// An interrupted creation of the file for id 6.
	tmp := filepath.Join(dir, FileName(6)+tmpSuffix)
	if err := os.WriteFile(tmp, encode(entryFor(6))[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	w = openT(t, dir, Options{})
	defer closeT(t, w)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file survived Open: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("unrelated file removed: %v", err)
	}
	appendRange(t, w, 6, 7)
	checkEntries(t, collect(t, w, 0), 1, 7)
}

func TestTornTail(t *testing.T) {
	next := encode(entryFor(21))
	cases := []struct {
		name string
		// damage changes the newest file (holding 16..20) and returns the
		// last id that must survive.
		damage func(t *testing.T, path string) uint64
	}{
		{"partial header", func(t *testing.T, path string) uint64 {
			appendBytes(t, path, next[:10])
			return 20
		}},
		{"header only", func(t *testing.T, path string) uint64 {
			appendBytes(t, path, next[:headerSize])
			return 20
		}},
		{"partial payload", func(t *testing.T, path string) uint64 {
			appendBytes(t, path, next[:len(next)-1])
			return 20
		}},
		{"bad crc in last record", func(t *testing.T, path string) uint64 {
			flipByte(t, path, fileSize(t, path)-1) // payload of 20 is not empty
			return 19
		}},
		{"bad crc in last record header", func(t *testing.T, path string) uint64 {
			flipByte(t, path, recordOffset(16, 20)+8) // its log id
			return 19
		}},
		{"zero-filled tail", func(t *testing.T, path string) uint64 {
			appendBytes(t, path, make([]byte, 4096))
			return 20
		}},
		{"bad crc then zeros", func(t *testing.T, path string) uint64 {
			flipByte(t, path, fileSize(t, path)-1)
			appendBytes(t, path, make([]byte, 100))
			return 19
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(payloadFor(20)) == 0 {
				t.Fatal("test needs a non-empty payload for entry 20")
			}
			dir := t.TempDir()
			w := openT(t, dir, Options{})
			appendFiles(t, w, 1, 20, 5)
			closeT(t, w)
			newest := filepath.Join(dir, FileName(16))
			want := tc.damage(t, newest)

			var logs []string
			w = openT(t, dir, Options{Logf: func(format string, args ...any) {
				logs = append(logs, format)
			}})
			defer closeT(t, w)
			if len(logs) == 0 || !strings.Contains(logs[0], "torn tail") {
				t.Errorf("no torn-tail message logged: %q", logs)
			}
			if got := w.LastLogID(); got != want {
				t.Fatalf("LastLogID = %d, want %d", got, want)
			}
			if got, wantSize := fileSize(t, newest), recordOffset(16, want+1); got != wantSize {
				t.Fatalf("newest file is %d bytes, want %d", got, wantSize)
			}
			appendRange(t, w, want+1, 25)
			checkEntries(t, collect(t, w, 0), 1, 25)
		})
	}
}

func TestTornOnlyRecord(t *testing.T) {
	// A newest file left without any complete record (power failure) is
	// removed, and its ids are not reused.
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	appendFiles(t, w, 1, 10, 5)
	closeT(t, w)
	newest := filepath.Join(dir, FileName(6))
	if err := os.Truncate(newest, 7); err != nil {
		t.Fatal(err)
	}
	w = openT(t, dir, Options{})
	defer closeT(t, w)
	if _, err := os.Stat(newest); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty newest file kept: %v", err)
	}
	if w.LastLogID() != 5 || w.NextLogID() != 6 {
		t.Fatalf("last %d next %d", w.LastLogID(), w.NextLogID())
	}
	appendRange(t, w, 6, 8)
	checkEntries(t, collect(t, w, 0), 1, 8)
}

func TestCorruption(t *testing.T) {
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		w := openT(t, dir, Options{})
		appendFiles(t, w, 1, 30, 10)
		closeT(t, w)
		return dir
	}

	t.Run("sealed file", func(t *testing.T) {
		dir := setup(t)
		path := filepath.Join(dir, FileName(11))
		off := recordOffset(11, 15)
		flipByte(t, path, off+headerSize-1) // term of entry 15
		newest := filepath.Join(dir, FileName(21))
		sizeBefore := fileSize(t, newest)

		_, err := Open(dir, Options{})
		ce := asCorrupt(t, err)
		if ce.Path != path || ce.Offset != off {
			t.Fatalf("error names %s at %d, want %s at %d", ce.Path, ce.Offset, path, off)
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("message %q does not name the file", err)
		}
		if fileSize(t, newest) != sizeBefore || fileSize(t, path) != recordOffset(11, 21) {
			t.Fatal("Open changed files although it failed")
		}
		// Plain-directory readers report it too.
		if _, err := ListFiles(dir); asCorrupt(t, err).Path != path {
			t.Fatalf("ListFiles: %v", err)
		}
		called := false
		err = ReadDir(dir, 0, 0, func(Entry) error { called = true; return nil })
		if asCorrupt(t, err).Path != path || called {
			t.Fatalf("ReadDir: %v (fn called: %v)", err, called)
		}
		if _, err := Covering(dir, 0, 0); asCorrupt(t, err).Path != path {
			t.Fatalf("Covering: %v", err)
		}
		// A range that does not involve the damaged file is still served.
		checkEntries(t, collectDir(t, dir, 21, 0), 21, 30)
	})

	t.Run("sealed file truncated", func(t *testing.T) {
		dir := setup(t)
		path := filepath.Join(dir, FileName(1))
		if err := os.Truncate(path, fileSize(t, path)-1); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if ce := asCorrupt(t, err); ce.Path != path || ce.Offset != recordOffset(1, 10) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("middle of newest file", func(t *testing.T) {
		dir := setup(t)
		path := filepath.Join(dir, FileName(21))
		size := fileSize(t, path)
		off := recordOffset(21, 25)
		flipByte(t, path, off+headerSize) // payload of entry 25
		if len(payloadFor(25)) == 0 {
			t.Fatal("test needs a non-empty payload for entry 25")
		}
		_, err := Open(dir, Options{})
		if ce := asCorrupt(t, err); ce.Path != path || ce.Offset != off {
			t.Fatalf("got %v", err)
		}
		if fileSize(t, path) != size {
			t.Fatal("newest file truncated despite damage before its last record")
		}
	})

	t.Run("file renamed", func(t *testing.T) {
		dir := setup(t)
		if err := os.Rename(filepath.Join(dir, FileName(11)), filepath.Join(dir, FileName(12))); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if ce := asCorrupt(t, err); ce.Path != filepath.Join(dir, FileName(12)) || ce.Offset != 0 {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("overlapping files", func(t *testing.T) {
		dir := setup(t)
		// A copy of 11..20 that claims to start at 5 would overlap 1..10;
		// build one holding 5..14 instead.
		var b []byte
		for id := uint64(5); id <= 14; id++ {
			b = append(b, encode(entryFor(id))...)
		}
		if err := os.WriteFile(filepath.Join(dir, FileName(5)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if ce := asCorrupt(t, err); ce.Path != filepath.Join(dir, FileName(5)) || !strings.Contains(ce.Reason, "overlaps") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("empty sealed file", func(t *testing.T) {
		dir := setup(t)
		if err := os.WriteFile(filepath.Join(dir, FileName(100)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, FileName(200)), encode(entryFor(200)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if ce := asCorrupt(t, err); ce.Path != filepath.Join(dir, FileName(100)) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestSetNext(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	w.SetNext(100)
	if err := w.Append(entryFor(99)); !errors.Is(err, ErrLogID) {
		t.Fatalf("Append(99) after SetNext(100): %v", err)
	}
	if w.NextLogID() != 100 || w.LastLogID() != 0 {
		t.Fatalf("next %d last %d", w.NextLogID(), w.LastLogID())
	}
	appendRange(t, w, 100, 105)

	w.SetNext(50) // below: no effect
	if err := w.Append(entryFor(107)); !errors.Is(err, ErrLogID) {
		t.Fatalf("Append(107) after 105: %v", err)
	}
	w.SetNext(106) // exactly the next id: no gap, same file
	appendRange(t, w, 106, 110)
	if n := len(w.Files()); n != 1 {
		t.Fatalf("%d files, want 1", n)
	}

	w.SetNext(200)
	if err := w.Append(entryFor(111)); !errors.Is(err, ErrLogID) {
		t.Fatalf("Append(111) after SetNext(200): %v", err)
	}
	// Any id >= next is accepted; it starts a new file.
	appendRange(t, w, 203, 210)
	files := w.Files()
	if len(files) != 2 || files[0].LastLogID != 110 || files[1].FirstLogID != 203 || files[1].LastLogID != 210 {
		t.Fatalf("files %+v", files)
	}
	got := collect(t, w, 0)
	checkEntries(t, got[:11], 100, 110)
	checkEntries(t, got[11:], 203, 210)
	checkEntries(t, collect(t, w, 150), 203, 210)
	closeT(t, w)

	// Ids continue after a reopen.
	w = openT(t, dir, Options{})
	if w.NextLogID() != 211 {
		t.Fatalf("NextLogID after reopen = %d", w.NextLogID())
	}
	appendRange(t, w, 211, 212)
	closeT(t, w)

	// Readers of the directory see the gap.
	err := ReadDir(dir, 0, 0, func(Entry) error { t.Fatal("fn called"); return nil })
	if ge := asGap(t, err); ge.From != 111 || ge.To != 202 {
		t.Fatalf("ReadDir gap %d..%d", ge.From, ge.To)
	}
	checkEntries(t, collectDir(t, dir, 203, 0), 203, 212)
	if _, err := Covering(dir, 105, 0); asGap(t, err).From != 111 {
		t.Fatalf("Covering: %v", err)
	}
	if fs, err := Covering(dir, 205, 0); err != nil || len(fs) != 2 || fs[0].FirstLogID != 203 {
		t.Fatalf("Covering(205, 0) = %+v, %v", fs, err)
	}
}

func TestCleanTTL(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	defer closeT(t, w)
	appendFiles(t, w, 1, 50, 10) // 1-10, 11-20, 21-30, 31-40, 41-50 (still open)
	files := w.Files()
	if len(files) != 5 {
		t.Fatalf("%d files", len(files))
	}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	ages := []time.Duration{5 * time.Hour, 4 * time.Hour, 3 * time.Hour, 2 * time.Hour, 10 * time.Hour}
	for i, fi := range files {
		mt := now.Add(-ages[i])
		if err := os.Chtimes(fi.Path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	clean := func(ttl time.Duration, durable uint64, want ...int) {
		t.Helper()
		removed, err := w.CleanTTL(ttl, durable, now)
		if err != nil {
			t.Fatal(err)
		}
		var wantPaths []string
		for _, i := range want {
			wantPaths = append(wantPaths, files[i].Path)
		}
		if strings.Join(removed, ",") != strings.Join(wantPaths, ",") {
			t.Fatalf("CleanTTL(%v, %d) removed %v, want %v", ttl, durable, removed, wantPaths)
		}
		for _, p := range removed {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s still there", p)
			}
		}
	}

	clean(6*time.Hour, 1000)                 // nothing is that old
	clean(3*time.Hour+30*time.Minute, 15, 0) // 1-10 is old and durable, 11-20 not durable
	if w.FirstLogID() != 11 {
		t.Fatalf("FirstLogID = %d", w.FirstLogID())
	}
	clean(3*time.Hour+30*time.Minute, 1000, 1) // 11-20; 21-30 is too young
	clean(time.Hour, 35, 2)                    // 21-30; 31-40 not durable
	clean(time.Hour, 1000, 3)                  // 31-40; the newest is kept although old and durable
	clean(0, 1000)
	if err := w.Rotate(); err != nil {
		t.Fatal(err)
	}
	clean(0, 1000) // sealed, but still the newest
	if fs := w.Files(); len(fs) != 1 || fs[0].FirstLogID != 41 {
		t.Fatalf("files left %+v", fs)
	}
	checkEntries(t, collect(t, w, 0), 41, 50)
	appendRange(t, w, 51, 52)
	checkEntries(t, collect(t, w, 0), 41, 52)
	if got := w.LastLogID(); got != 52 {
		t.Fatalf("LastLogID %d", got)
	}
}

func TestCleanTTLPrefixOnly(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	defer closeT(t, w)
	appendFiles(t, w, 1, 30, 10)
	files := w.Files()
	now := time.Now()
	old, young := now.Add(-48*time.Hour), now.Add(-time.Minute)
	for i, mt := range []time.Time{young, old, old} {
		if err := os.Chtimes(files[i].Path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	// 11-20 is old and durable, but deleting it would leave a hole.
	removed, err := w.CleanTTL(time.Hour, 1000, now)
	if err != nil || len(removed) != 0 {
		t.Fatalf("removed %v, %v", removed, err)
	}
}

func TestLinkInto(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{FileSize: 1024})
	defer closeT(t, w)
	appendRange(t, w, 1, 60)
	files := w.Files()

	ckpt := filepath.Join(t.TempDir(), "checkpoint", "wal", "1")
	paths, err := w.LinkInto(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(files) {
		t.Fatalf("%d paths for %d files", len(paths), len(files))
	}
	contents := make([][]byte, len(paths))
	for i, p := range paths {
		if filepath.Base(p) != filepath.Base(files[i].Path) || filepath.Dir(p) != ckpt {
			t.Fatalf("linked %s as %s", files[i].Path, p)
		}
		a, err := os.Stat(files[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(a, b) {
			t.Fatalf("%s is not a hard link of %s", p, files[i].Path)
		}
		contents[i] = readFileT(t, p)
	}

	// Later appends go to a new file; the linked ones never change.
	appendRange(t, w, 61, 120)
	after := w.Files()
	if after[len(files)].FirstLogID != 61 {
		t.Fatalf("the first file after LinkInto starts at %d", after[len(files)].FirstLogID)
	}
	for i, p := range paths {
		if !bytes.Equal(readFileT(t, p), contents[i]) {
			t.Fatalf("%s changed after LinkInto", p)
		}
	}
	checkEntries(t, collectDir(t, ckpt, 0, 0), 1, 60)

	// Linking again into the same directory accepts the existing links.
	paths2, err := w.LinkInto(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths2) != len(w.Files()) {
		t.Fatalf("second LinkInto: %d paths", len(paths2))
	}
	checkEntries(t, collectDir(t, ckpt, 0, 0), 1, 120)

	// A foreign file in the way is an error.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, filepath.Base(files[0].Path)), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.LinkInto(other); !errors.Is(err, os.ErrExist) {
		t.Fatalf("LinkInto over a foreign file: %v", err)
	}
}

func TestLinkIntoCopiesAcrossDevices(t *testing.T) {
	linkFile = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EXDEV}
	}
	t.Cleanup(func() { linkFile = os.Link })

	dir := t.TempDir()
	w := openT(t, dir, Options{FileSize: 1024})
	defer closeT(t, w)
	appendRange(t, w, 1, 40)
	files := w.Files()
	ckpt := t.TempDir()
	paths, err := w.LinkInto(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		a, _ := os.Stat(files[i].Path)
		b, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if os.SameFile(a, b) {
			t.Fatalf("%s is a link, want a copy", p)
		}
		if !bytes.Equal(readFileT(t, p), readFileT(t, files[i].Path)) {
			t.Fatalf("%s differs from %s", p, files[i].Path)
		}
		if !a.ModTime().Equal(b.ModTime()) {
			t.Fatalf("%s: mtime %v, original %v", p, b.ModTime(), a.ModTime())
		}
	}
	if _, err := os.Stat(paths[0] + tmpSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("temporary copy left behind")
	}
	checkEntries(t, collectDir(t, ckpt, 0, 0), 1, 40)

	// Other link errors are not papered over.
	linkFile = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EIO}
	}
	if _, err := w.LinkInto(t.TempDir()); !errors.Is(err, syscall.EIO) {
		t.Fatalf("LinkInto with EIO: %v", err)
	}
}
