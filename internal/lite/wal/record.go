package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	// headerSize is the size of the fixed record header: payload length,
	// CRC, log id, term.
	headerSize = 24

	// MaxPayloadSize is the largest payload a record may carry.
	MaxPayloadSize = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Entry is one log entry.
type Entry struct {
	LogID   uint64
	Term    uint64
	Payload []byte
}

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("wal: corrupt data")

// corruptKind classifies damage for the torn-tail decision of Open.
type corruptKind uint8

const (
	kindOther     corruptKind = iota
	kindTruncated             // the data ends inside a record
	kindChecksum              // a complete record whose CRC does not match
)

// CorruptError reports damaged or inconsistent data in a WAL file.
type CorruptError struct {
	Path   string // the file
	Offset int64  // byte offset of the damaged record in the file
	Reason string

	kind corruptKind
	end  int64 // kindChecksum: offset just past the damaged record
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: corrupt file %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// appendRecord appends the encoding of e to b.
func appendRecord(b []byte, e *Entry) []byte {
	n := len(b)
	b = append(b, make([]byte, headerSize)...)
	h := b[n:]
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(e.Payload)))
	binary.LittleEndian.PutUint64(h[8:16], e.LogID)
	binary.LittleEndian.PutUint64(h[16:24], e.Term)
	crc := crc32.Update(0, crcTable, h[8:24])
	crc = crc32.Update(crc, crcTable, e.Payload)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	return append(b, e.Payload...)
}

// scanner decodes the records of one file, checking checksums and that the
// ids are consecutive starting at the id in the file name.
type scanner struct {
	path string
	br   *bufio.Reader
	size int64  // bytes available
	off  int64  // offset of the next record
	next uint64 // id the next record must carry
	hdr  [headerSize]byte
	buf  []byte // scratch payload space for entries that are not kept
}

const readBufferSize = 64 << 10

func newScanner(path string, r io.Reader, size int64, first uint64) *scanner {
	return &scanner{path: path, br: bufio.NewReaderSize(r, readBufferSize), size: size, next: first}
}

func (s *scanner) corrupt(kind corruptKind, format string, args ...any) *CorruptError {
	return &CorruptError{Path: s.path, Offset: s.off, Reason: fmt.Sprintf(format, args...), kind: kind}
}

// read decodes the next record. It returns io.EOF at the end of the data, a
// *CorruptError for damaged data, or another error for a failed read. When
// keep is false the payload aliases scratch space that the next call reuses.
func (s *scanner) read(keep bool) (Entry, error) {
	if s.off == s.size {
		return Entry{}, io.EOF
	}
	if rest := s.size - s.off; rest < headerSize {
		return Entry{}, s.corrupt(kindTruncated, "incomplete record header (%d of %d bytes)", rest, headerSize)
	}
	if _, err := io.ReadFull(s.br, s.hdr[:]); err != nil {
		return Entry{}, s.ioError(err)
	}
	n := int64(binary.LittleEndian.Uint32(s.hdr[0:4]))
	end := s.off + headerSize + n
	if end > s.size {
		return Entry{}, s.corrupt(kindTruncated, "incomplete record: payload of %d bytes, %d available", n, s.size-s.off-headerSize)
	}
	if n > MaxPayloadSize {
		return Entry{}, s.corrupt(kindOther, "payload length %d exceeds the maximum %d", n, MaxPayloadSize)
	}
	var payload []byte
	if keep {
		payload = make([]byte, n)
	} else {
		if int64(cap(s.buf)) < n {
			s.buf = make([]byte, n)
		}
		payload = s.buf[:n]
	}
	if _, err := io.ReadFull(s.br, payload); err != nil {
		return Entry{}, s.ioError(err)
	}
	want := binary.LittleEndian.Uint32(s.hdr[4:8])
	crc := crc32.Update(0, crcTable, s.hdr[8:24])
	crc = crc32.Update(crc, crcTable, payload)
	if crc != want {
		e := s.corrupt(kindChecksum, "checksum mismatch (stored %08x, computed %08x)", want, crc)
		e.end = end
		return Entry{}, e
	}
	id := binary.LittleEndian.Uint64(s.hdr[8:16])
	if id != s.next {
		return Entry{}, s.corrupt(kindOther, "log id %d where %d was expected", id, s.next)
	}
	s.off = end
	s.next = id + 1
	return Entry{LogID: id, Term: binary.LittleEndian.Uint64(s.hdr[16:24]), Payload: payload}, nil
}

func (s *scanner) ioError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("file shrank while being read: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("wal: read %s at offset %d: %w", s.path, s.off, err)
}

// scanResult summarizes a scan.
type scanResult struct {
	count int    // records read
	last  uint64 // id of the last record read (0 if none)
	good  int64  // offset just past the last good record
}

// scan reads every record, calling fn for those with from <= LogID <= to
// (to == 0: no upper bound) and stopping after to. Errors from fn are
// returned unchanged.
func (s *scanner) scan(from, to uint64, fn func(Entry) error) (scanResult, error) {
	var res scanResult
	for {
		deliver := fn != nil && s.next >= from
		e, err := s.read(deliver)
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.count++
		res.last = e.LogID
		res.good = s.off
		if to != 0 && e.LogID > to {
			return res, nil
		}
		if deliver {
			if err := fn(e); err != nil {
				return res, err
			}
		}
		if to != 0 && e.LogID == to {
			return res, nil
		}
	}
}
