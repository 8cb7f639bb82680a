package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LinkInto seals the current file without waiting for its fsync; the next
// fsync of the WAL (Rotate here) waits for it, so no file is durable
// before the one it follows, and a failure of it poisons the WAL.
func TestLinkIntoSyncsSealedFileFirst(t *testing.T) {
	release := make(chan struct{})
	syncing := make(chan string, 1)
	syncSealedFile = func(f *os.File) error {
		syncing <- f.Name()
		<-release
		return errors.New("disk gone")
	}
	defer func() { syncSealedFile = (*os.File).Sync }()

	w := openT(t, t.TempDir(), Options{FileSize: 1 << 20})
	appendRange(t, w, 1, 10)
	sealed := w.Files()[0].Path
	linked := make(chan error, 1)
	go func() {
		_, err := w.LinkInto(filepath.Join(t.TempDir(), "ckpt"))
		linked <- err
	}()
	select {
	case err := <-linked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LinkInto waited for the sealed file's fsync")
	}
	if got := <-syncing; got != sealed {
		t.Fatalf("background fsync of %s, want the sealed %s", got, sealed)
	}

	appendRange(t, w, 11, 12) // a new file
	rotated := make(chan error, 1)
	go func() { rotated <- w.Rotate() }()
	select {
	case err := <-rotated:
		t.Fatalf("Rotate returned (%v) before the earlier file's fsync", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-rotated; err == nil || !strings.Contains(err.Error(), "disk gone") || !strings.Contains(err.Error(), sealed) {
		t.Fatalf("Rotate after a failed background fsync: %v, want the failure naming %s", err, sealed)
	}
	if err := w.Append(entryFor(13)); err == nil {
		t.Fatal("the WAL took an append after a failed fsync")
	}
	w.Close()
}
