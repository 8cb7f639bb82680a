package kv

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/nebula-open/nebula-br/internal/lite/wal"
)

// What a replicated part (package raftpart) needs from the engine: its
// raft log is the part's WAL (entry index = log id, the entry's term in
// the record), and committed entries are applied exactly as Write applies
// them, so checkpoints, backups and playback see the same keys and ids.

// Replicated marks the part as driven by raft: its applied term then comes
// from the WAL, not the constant Term.
func (p *Part) Replicated() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.term = 0
	if p.applied > 0 && p.wal.LastLogID() >= p.applied {
		p.wal.Iterate(p.applied, func(e wal.Entry) error {
			if e.LogID == p.applied {
				p.term = e.Term
			}
			return errReplayDone
		})
	}
	if p.term == 0 {
		p.term = p.storedTerm()
	}
	if p.term == 0 && p.applied > 0 {
		p.term = Term // data restored without its log: any term, the same on every replica
	}
}

// AppliedTerm is the term of the last applied entry.
func (p *Part) AppliedTerm() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.term
}

// LogPayload is what the WAL holds for a raft entry's batch: the batch as
// Write logs it, or an empty batch for raft's own entries.
func LogPayload(batch []byte) []byte {
	if len(batch) == 0 {
		return encodeBatch(Batch{})
	}
	return batch
}

// AppendLog writes raft entries to the WAL before they are acknowledged.
// Entries from one already logged on replace the old tail (a new
// leader's log won over uncommitted entries).
func (p *Part) AppendLog(es []wal.Entry) error {
	if len(es) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	first := es[0].LogID
	if first <= p.applied {
		return fmt.Errorf("space %d part %d: raft rewrites applied entry %d (applied %d)", p.space.id, p.id, first, p.applied)
	}
	if first <= p.wal.LastLogID() {
		if err := p.wal.TruncateFrom(first); err != nil {
			return fmt.Errorf("space %d part %d: truncate wal: %w", p.space.id, p.id, err)
		}
	}
	if err := p.wal.AppendBatch(es); err != nil {
		return fmt.Errorf("space %d part %d: append wal: %w", p.space.id, p.id, err)
	}
	p.next = es[len(es)-1].LogID + 1
	return nil
}

// ApplyCommitted applies a committed raft entry that AppendLog wrote
// (payload: as in the WAL). Entries at or below the applied id were
// applied already.
func (p *Part) ApplyCommitted(index, term uint64, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if index <= p.applied {
		return nil
	}
	b, err := decodeBatch(LogPayload(payload))
	if err != nil {
		return fmt.Errorf("space %d part %d log %d: %w", p.space.id, p.id, index, err)
	}
	return p.applyTerm(index, term, b)
}

func (p *Part) applyTerm(index, term uint64, b Batch) error {
	if err := p.apply(index, b); err != nil {
		return err
	}
	p.term = term
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], term)
	return p.space.db.Set(termKey(p.id), v[:], pebble.NoSync)
}

func (p *Part) storedTerm() uint64 {
	v, closer, err := p.space.db.Get(termKey(p.id))
	if err != nil {
		return 0
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v)
}

// Snapshot encodes the part's keys (a batch of puts) with the applied id
// and term they reflect: what a follower whose log the WAL no longer
// covers installs.
func (p *Part) Snapshot() (index, term uint64, data []byte, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b Batch
	lower := partPrefix(p.id)
	it, err := p.space.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return 0, 0, nil, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		b.Puts = append(b.Puts, KeyValue{append([]byte(nil), it.Key()[4:]...), append([]byte(nil), it.Value()...)})
	}
	return p.applied, p.term, encodeBatch(b), it.Error()
}

// InstallSnapshot replaces the part's keys with a snapshot's; the WAL goes
// on after its index.
func (p *Part) InstallSnapshot(index, term uint64, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if index <= p.applied {
		return nil
	}
	b, err := decodeBatch(data)
	if err != nil {
		return fmt.Errorf("space %d part %d snapshot %d: %w", p.space.id, p.id, index, err)
	}
	// The log past what was applied here is superseded by the snapshot.
	if err := p.wal.TruncateFrom(p.applied + 1); err != nil {
		return err
	}
	lower := partPrefix(p.id)
	if err := p.space.db.DeleteRange(lower, prefixEnd(lower), pebble.NoSync); err != nil {
		return err
	}
	// Flushed so that a restart replays nothing from before the snapshot.
	if err := p.applyTerm(index, term, b); err != nil {
		return err
	}
	if err := p.space.db.Flush(); err != nil {
		return err
	}
	p.wal.SetNext(index + 1)
	p.next = max(p.next, index+1)
	return nil
}

func termKey(part int32) []byte {
	return append(append(append([]byte{}, sysPrefix...), partPrefix(part)...), 't')
}

// Hold lets one write through the space's write gate (BLOCK_ON holds it);
// call the returned func when the write has been applied.
func (p *Part) Hold() func() {
	p.space.gate.enter()
	return p.space.gate.exit
}

// SpaceID is the id of the part's space.
func (p *Part) SpaceID() int32 { return p.space.id }

// EncodeBatch is the WAL payload of a batch (what ApplyCommitted takes).
func EncodeBatch(b Batch) []byte { return encodeBatch(b) }
