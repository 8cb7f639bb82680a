package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// payloadFor returns the deterministic payload of entry id: 0 to 99 bytes
// derived from id, so that any mix-up between entries is noticed.
func payloadFor(id uint64) []byte {
	n := int(id*2654435761%100) % 100
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(id>>(8*(i%8))) ^ byte(i*31)
	}
	return p
}

func entryFor(id uint64) Entry {
	return Entry{LogID: id, Term: id/10 + 1, Payload: payloadFor(id)}
}

// recordSize is the encoded size of entryFor(id).
func recordSize(id uint64) int64 {
	return headerSize + int64(len(payloadFor(id)))
}

func openT(t testing.TB, dir string, opts Options) *WAL {
	t.Helper()
	w, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return w
}

func closeT(t testing.TB, w *WAL) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// appendRange appends entryFor(from) .. entryFor(to), one by one.
func appendRange(t testing.TB, w *WAL, from, to uint64) {
	t.Helper()
	for id := from; id <= to; id++ {
		if err := w.Append(entryFor(id)); err != nil {
			t.Fatalf("Append(%d): %v", id, err)
		}
	}
}

// appendFiles appends from..to and rotates after every `per` entries, so
// each file holds exactly `per` entries (the last file may hold fewer).
func appendFiles(t testing.TB, w *WAL, from, to, per uint64) {
	t.Helper()
	for id := from; id <= to; id++ {
		if err := w.Append(entryFor(id)); err != nil {
			t.Fatalf("Append(%d): %v", id, err)
		}
		if (id-from+1)%per == 0 && id != to {
			if err := w.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func collect(t testing.TB, w *WAL, from uint64) []Entry {
	t.Helper()
	var es []Entry
	if err := w.Iterate(from, func(e Entry) error {
		es = append(es, e)
		return nil
	}); err != nil {
		t.Fatalf("Iterate(%d): %v", from, err)
	}
	return es
}

func collectDir(t testing.TB, dir string, from, to uint64) []Entry {
	t.Helper()
	var es []Entry
	if err := ReadDir(dir, from, to, func(e Entry) error {
		es = append(es, e)
		return nil
	}); err != nil {
		t.Fatalf("ReadDir(%d, %d): %v", from, to, err)
	}
	return es
}

// checkEntries verifies that es are exactly entryFor(from) .. entryFor(to).
func checkEntries(t testing.TB, es []Entry, from, to uint64) {
	t.Helper()
	want := 0
	if to >= from {
		want = int(to - from + 1)
	}
	if len(es) != want {
		first, last := uint64(0), uint64(0)
		if len(es) > 0 {
			first, last = es[0].LogID, es[len(es)-1].LogID
		}
		t.Fatalf("got %d entries (%d..%d), want %d (%d..%d)", len(es), first, last, want, from, to)
	}
	for i, e := range es {
		w := entryFor(from + uint64(i))
		if e.LogID != w.LogID || e.Term != w.Term || !bytes.Equal(e.Payload, w.Payload) {
			t.Fatalf("entry %d: got id %d term %d payload %d bytes, want id %d term %d payload %d bytes",
				i, e.LogID, e.Term, len(e.Payload), w.LogID, w.Term, len(w.Payload))
		}
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func readFileT(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func appendBytes(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// flipByte inverts one byte of the file at off.
func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	b := readFileT(t, path)
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// recordOffset returns the offset of the record with id in the file whose
// first id is first.
func recordOffset(first, id uint64) int64 {
	var off int64
	for i := first; i < id; i++ {
		off += recordSize(i)
	}
	return off
}

// copyDir copies the regular files of src into a new directory, skipping
// those for which skip returns true.
func copyDir(t testing.TB, src string, skip func(name string) bool) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if skip != nil && skip(de.Name()) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), readFileT(t, filepath.Join(src, de.Name())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func asCorrupt(t testing.TB, err error) *CorruptError {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v, want a *CorruptError", err)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("errors.Is(%v, ErrCorrupt) = false", err)
	}
	return ce
}

func asGap(t testing.TB, err error) *GapError {
	t.Helper()
	var ge *GapError
	if !errors.As(err, &ge) {
		t.Fatalf("got error %v, want a *GapError", err)
	}
	return ge
}

// encode returns the record of e.
func encode(e Entry) []byte { return appendRecord(nil, &e) }

func TestRecordLayout(t *testing.T) {
	rec := encode(Entry{LogID: 0x0102030405060708, Term: 9, Payload: []byte("abc")})
	if len(rec) != headerSize+3 {
		t.Fatalf("record is %d bytes, want %d", len(rec), headerSize+3)
	}
	if n := binary.LittleEndian.Uint32(rec[0:]); n != 3 {
		t.Errorf("length field %d", n)
	}
	if id := binary.LittleEndian.Uint64(rec[8:]); id != 0x0102030405060708 {
		t.Errorf("id field %x", id)
	}
	if term := binary.LittleEndian.Uint64(rec[16:]); term != 9 {
		t.Errorf("term field %d", term)
	}
	if string(rec[24:]) != "abc" {
		t.Errorf("payload %q", rec[24:])
	}
	// The CRC is CRC-32C over id, term and payload.
	crc := crcOf(rec[8:])
	if got := binary.LittleEndian.Uint32(rec[4:]); got != crc {
		t.Errorf("crc field %08x, want %08x", got, crc)
	}
	if FileName(42) != "0000000000000000042.wal" {
		t.Errorf("FileName(42) = %q", FileName(42))
	}
	for _, name := range []string{"0000000000000000042.wal", "18446744073709551615.wal"} {
		if _, ok := parseFileName(name); !ok {
			t.Errorf("parseFileName(%q) rejected", name)
		}
	}
	for _, name := range []string{"42.wal", "00000000000000000042.wal", "0000000000000000000.wal",
		"000000000000000004x.wal", "0000000000000000042.wal.tmp", "0000000000000000042.log"} {
		if _, ok := parseFileName(name); ok {
			t.Errorf("parseFileName(%q) accepted", name)
		}
	}
}
