// Package writeback writes large files without piling up dirty pages: every
// few megabytes written, it asks the kernel to start writing them out (as
// Pebble's BytesPerSync and RocksDB's bytes_per_sync do). The final fsync
// then has little left to do, and the kernel does not throttle the other
// writers on the machine (a service's WAL appends) while a backup's files
// are copied in.
package writeback

import "os"

// Every is how many bytes are written between two writeback requests.
const Every = 8 << 20

// Writer writes to a file, starting the writeback of every Every bytes.
type Writer struct {
	f                *os.File
	written, started int64
}

// New writes to f from its current offset, which must be 0.
func New(f *os.File) *Writer { return &Writer{f: f} }

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= Every {
		startWriteback(w.f, w.started, w.written-w.started) // advice: an error changes nothing
		w.started = w.written
	}
	return n, err
}
