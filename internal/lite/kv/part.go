package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/cockroachdb/pebble"

	"github.com/nebula-open/nebula-br/internal/lite/wal"
)

// Term is the term recorded with every log entry. nebula-lite runs one
// replica per part, so there is never an election and the term stays 1.
const Term = 1

// KeyValue is one put.
type KeyValue struct{ Key, Value []byte }

// Batch is what one write does to a part: removes first, then puts.
type Batch struct {
	Removes [][]byte
	Puts    []KeyValue
}

// Part is one partition: its WAL and its key range in the space's Pebble.
type Part struct {
	space *Space
	id    int32
	wal   *wal.WAL

	mu      sync.Mutex // serialises writes: log ids are assigned in order
	applied uint64
	term    uint64 // term of the applied entry: Term unless replicated
	next    uint64 // log id of the next write
}

func openPart(sp *Space, id int32) (*Part, error) {
	w, err := wal.Open(filepath.Join(sp.dir, "wal", strconv.Itoa(int(id))), wal.Options{
		FileSize: sp.store.opts.WALFileSize,
		Sync:     sp.store.opts.WALSync,
	})
	if err != nil {
		return nil, fmt.Errorf("space %d part %d: %w", sp.id, id, err)
	}
	p := &Part{space: sp, id: id, wal: w, term: Term}
	if err := p.recover(); err != nil {
		w.Close()
		return nil, err
	}
	return p, nil
}

// recover replays the WAL entries past the applied id persisted in Pebble.
func (p *Part) recover() error {
	v, closer, err := p.space.db.Get(appliedKey(p.id))
	switch {
	case err == nil:
		p.applied = binary.BigEndian.Uint64(v)
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	bound, bounded := uint64(0), false
	if rb := p.space.store.opts.ReplayBound; rb != nil {
		bound, bounded = rb(p.wal.Dir())
	}
	err = p.wal.Iterate(p.applied+1, func(e wal.Entry) error {
		if bounded && e.LogID > bound {
			return errReplayDone
		}
		b, err := decodeBatch(e.Payload)
		if err != nil {
			return fmt.Errorf("space %d part %d log %d: %w", p.space.id, p.id, e.LogID, err)
		}
		return p.apply(e.LogID, b)
	})
	if err != nil && !errors.Is(err, errReplayDone) {
		return err
	}
	// Ids continue past both: a restored checkpoint may hold an applied id
	// beyond the WAL files that were kept, and vice versa.
	next := p.applied + 1
	if last := p.wal.LastLogID(); last >= next {
		next = last + 1
	}
	p.wal.SetNext(next)
	p.next = next
	return nil
}

// ID is the part id.
func (p *Part) ID() int32 { return p.id }

// Applied is the last log id applied to the store.
func (p *Part) Applied() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applied
}

// WAL exposes the part's log (for checkpoints and tests).
func (p *Part) WAL() *wal.WAL { return p.wal }

// Write logs the batch and applies it. It waits while writes are blocked.
func (p *Part) Write(b Batch) (uint64, error) {
	p.space.gate.enter()
	defer p.space.gate.exit()
	p.mu.Lock()
	defer p.mu.Unlock()
	id := p.next
	if err := p.wal.Append(wal.Entry{LogID: id, Term: Term, Payload: encodeBatch(b)}); err != nil {
		return 0, fmt.Errorf("space %d part %d: append wal: %w", p.space.id, p.id, err)
	}
	if p.space.store.opts.CrashAfterWALAppend {
		syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
	}
	p.next++
	if err := p.apply(id, b); err != nil {
		return 0, err
	}
	return id, nil
}

func (p *Part) apply(id uint64, b Batch) error {
	batch := p.space.db.NewBatch()
	defer batch.Close()
	for _, k := range b.Removes {
		batch.Delete(dataKey(p.id, k), nil)
	}
	for _, kv := range b.Puts {
		batch.Set(dataKey(p.id, kv.Key), kv.Value, nil)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], id)
	batch.Set(appliedKey(p.id), v[:], nil)
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("space %d part %d: apply log %d: %w", p.space.id, p.id, id, err)
	}
	p.applied = id
	return nil
}

// Get reads one key; ok is false when it does not exist.
func (p *Part) Get(key []byte) (value []byte, ok bool, err error) {
	v, closer, err := p.space.db.Get(dataKey(p.id, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Scan calls fn for the keys with the prefix that sort after startAfter,
// in order, at most limit of them (0: no limit). more reports whether keys
// were left.
func (p *Part) Scan(prefix, startAfter []byte, limit int, fn func(k, v []byte) error) (more bool, err error) {
	lower := dataKey(p.id, prefix)
	upper := prefixEnd(lower)
	if len(startAfter) > 0 {
		after := append(dataKey(p.id, startAfter), 0)
		if bytes.Compare(after, lower) > 0 {
			lower = after
		}
	}
	it, err := p.space.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if limit > 0 && n == limit {
			return true, nil
		}
		if err := fn(it.Key()[4:], it.Value()); err != nil {
			return false, err
		}
		n++
	}
	return false, it.Error()
}

// prefixEnd is the smallest key greater than every key with the prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// Batch encoding in WAL payloads: count of removes, keys; count of puts,
// key/value pairs; every count and length a uvarint.
func encodeBatch(b Batch) []byte {
	n := 2 * binary.MaxVarintLen64
	for _, k := range b.Removes {
		n += binary.MaxVarintLen64 + len(k)
	}
	for _, kv := range b.Puts {
		n += 2*binary.MaxVarintLen64 + len(kv.Key) + len(kv.Value)
	}
	buf := make([]byte, 0, n)
	buf = binary.AppendUvarint(buf, uint64(len(b.Removes)))
	for _, k := range b.Removes {
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Puts)))
	for _, kv := range b.Puts {
		buf = binary.AppendUvarint(buf, uint64(len(kv.Key)))
		buf = append(buf, kv.Key...)
		buf = binary.AppendUvarint(buf, uint64(len(kv.Value)))
		buf = append(buf, kv.Value...)
	}
	return buf
}

var errBadBatch = errors.New("malformed batch in WAL entry")

// errReplayDone stops a replay at the last committed raft entry.
var errReplayDone = errors.New("replay done")

func decodeBatch(buf []byte) (Batch, error) {
	var b Batch
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(buf)
		if k <= 0 || uint64(len(buf)-k) < n {
			return nil, errBadBatch
		}
		v := buf[k : k+int(n)]
		buf = buf[k+int(n):]
		return v, nil
	}
	count := func() (int, error) {
		n, k := binary.Uvarint(buf)
		if k <= 0 || n > uint64(len(buf)) {
			return 0, errBadBatch
		}
		buf = buf[k:]
		return int(n), nil
	}
	nr, err := count()
	if err != nil {
		return b, err
	}
	for i := 0; i < nr; i++ {
		k, err := next()
		if err != nil {
			return b, err
		}
		b.Removes = append(b.Removes, k)
	}
	np, err := count()
	if err != nil {
		return b, err
	}
	for i := 0; i < np; i++ {
		k, err := next()
		if err != nil {
			return b, err
		}
		v, err := next()
		if err != nil {
			return b, err
		}
		b.Puts = append(b.Puts, KeyValue{k, v})
	}
	if len(buf) != 0 {
		return b, errBadBatch
	}
	return b, nil
}

// DecodeBatch exposes the WAL payload format to playback.
func DecodeBatch(payload []byte) (Batch, error) { return decodeBatch(payload) }
