package wal

import (
	"testing"
)

func TestTruncateFromMiddleOfAFileAndAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	appendFiles(t, w, 1, 30, 10) // files 1-10, 11-20, 21-30
	if err := w.TruncateFrom(15); err != nil {
		t.Fatal(err)
	}
	if w.LastLogID() != 14 || len(w.Files()) != 2 {
		t.Fatalf("after TruncateFrom(15): last %d, %d files", w.LastLogID(), len(w.Files()))
	}
	checkEntries(t, collect(t, w, 1), 1, 14)
	if err := w.Append(entryFor(16)); err == nil {
		t.Fatal("append of 16 after truncating from 15 accepted")
	}
	appendRange(t, w, 15, 22) // the replacement tail
	closeT(t, w)

	w = openT(t, dir, Options{})
	defer closeT(t, w)
	checkEntries(t, collect(t, w, 1), 1, 22)
	// Truncating at a file's first id removes the file; past the end does nothing.
	if err := w.TruncateFrom(99); err != nil || w.LastLogID() != 22 {
		t.Fatalf("TruncateFrom(99): %v, last %d", err, w.LastLogID())
	}
	if err := w.TruncateFrom(1); err != nil {
		t.Fatal(err)
	}
	if w.LastLogID() != 0 || len(w.Files()) != 0 {
		t.Fatalf("after TruncateFrom(1): last %d, %d files", w.LastLogID(), len(w.Files()))
	}
	appendRange(t, w, 1, 3)
	checkEntries(t, collect(t, w, 1), 1, 3)
}
