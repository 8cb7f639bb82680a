package writeback

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// What goes through the writer lands in the file as written, across many
// writeback requests and a tail shorter than Every.
func TestWriterWritesThrough(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	w := New(f)
	want := bytes.Repeat([]byte("0123456789abcdef"), (3*Every+12345)/16)
	for rest := want; len(rest) > 0; {
		k := min(len(rest), 1<<20+7)
		if n, err := w.Write(rest[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		rest = rest[k:]
	}
	if w.started < 3*Every || w.started > w.written {
		t.Errorf("writeback started up to byte %d of %d, want at least %d", w.started, w.written, 3*Every)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes (%v), want the %d written", len(got), err, len(want))
	}
}
