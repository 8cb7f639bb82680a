package wal

import "testing"

// BenchmarkAppend appends single entries with a 200-byte payload, without
// fsync (the default).
func BenchmarkAppend(b *testing.B) {
	w := openT(b, b.TempDir(), Options{})
	defer closeT(b, w)
	payload := make([]byte, 200)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	id := uint64(1)
	for b.Loop() {
		if err := w.Append(Entry{LogID: id, Term: 1, Payload: payload}); err != nil {
			b.Fatal(err)
		}
		id++
	}
}

// BenchmarkAppendBatch appends batches of 16 entries of 200 bytes.
func BenchmarkAppendBatch(b *testing.B) {
	w := openT(b, b.TempDir(), Options{})
	defer closeT(b, w)
	batch := make([]Entry, 16)
	for i := range batch {
		batch[i] = Entry{Term: 1, Payload: make([]byte, 200)}
	}
	b.SetBytes(int64(len(batch) * 200))
	b.ReportAllocs()
	id := uint64(1)
	for b.Loop() {
		for i := range batch {
			batch[i].LogID = id
			id++
		}
		if err := w.AppendBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIterate reads 10,000 entries of 200 bytes.
func BenchmarkIterate(b *testing.B) {
	w := openT(b, b.TempDir(), Options{})
	defer closeT(b, w)
	payload := make([]byte, 200)
	for id := uint64(1); id <= 10000; id++ {
		if err := w.Append(Entry{LogID: id, Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(10000 * 200)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := w.Iterate(0, func(Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != 10000 {
			b.Fatalf("%d entries", n)
		}
	}
}
