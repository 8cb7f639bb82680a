// Package raftpart replicates a part of a space with replica_factor > 1:
// one raft group (go.etcd.io/raft) per part, whose log is the part's WAL
// (entry index = log id, the entry's term in the WAL record) and whose
// committed entries are applied to Pebble exactly as an unreplicated
// write is (package kv). Replicas of one storaged share a Transport.
package raftpart

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/lite/wal"
)

// NotLeaderError answers a write or read sent to a replica that does not
// lead its part; Leader is the leader's storage address when known.
type NotLeaderError struct{ Leader string }

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "not the part's leader (no leader known)"
	}
	return "not the part's leader; the leader is " + e.Leader
}

// ErrStopped is returned by a closed replica.
var ErrStopped = errors.New("raftpart: replica closed")

// keepEntries bounds the in-memory log when the WAL is kept for long.
const keepEntries = 20000

// Replica is this host's member of one part's raft group.
type Replica struct {
	part  *kv.Part
	peers []string // storage addresses; raft id i+1 is peers[i]
	self  uint64
	tr    *Transport
	log   *slog.Logger
	state string // hard state file

	mu      sync.Mutex
	rn      *raft.RawNode
	storage *logStorage
	waiters map[uint64]chan error // proposal id -> its proposer
	leader  uint64
	closed  bool

	stop chan struct{}
	done chan struct{}
}

// Open starts the replica of part at peers[self]; the other peers are
// reached through tr. tick is raft's tick (election after 10 ticks).
func Open(part *kv.Part, peers []string, self string, tr *Transport, tick time.Duration, log *slog.Logger) (*Replica, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Replica{part: part, peers: peers, tr: tr, log: log, state: hardStatePath(part),
		waiters: map[uint64]chan error{}, stop: make(chan struct{}), done: make(chan struct{})}
	voters := &raftpb.ConfState{}
	for i, p := range peers {
		voters.Voters = append(voters.Voters, uint64(i+1))
		if p == self {
			r.self = uint64(i + 1)
		}
	}
	if r.self == 0 {
		return nil, fmt.Errorf("raftpart: %s is not among the part's peers %v", self, peers)
	}
	part.Replicated()
	ms := raft.NewMemoryStorage()
	applied, term := part.Applied(), part.AppliedTerm()
	if applied > 0 {
		// raft's log starts at what is applied (the part replayed every
		// committed entry when it opened) ...
		if err := ms.ApplySnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
			Index: proto.Uint64(applied), Term: proto.Uint64(term), ConfState: voters,
		}}); err != nil {
			return nil, err
		}
	}
	// ... and goes on with the WAL's entries not known to be committed.
	var tail []*raftpb.Entry
	err := part.WAL().Iterate(applied+1, func(e wal.Entry) error {
		tail = append(tail, &raftpb.Entry{
			Index: proto.Uint64(e.LogID), Term: proto.Uint64(e.Term),
			Type: raftpb.EntryType_EntryNormal.Enum(), Data: append(make([]byte, 8), e.Payload...),
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("raftpart: read the log of space %d part %d: %w", part.SpaceID(), part.ID(), err)
	}
	if err := ms.Append(tail); err != nil {
		return nil, err
	}
	hs, err := loadHardState(r.state)
	if err != nil {
		return nil, fmt.Errorf("raftpart: %s: %w", r.state, err)
	}
	hs.Commit = proto.Uint64(applied)
	hs.Term = proto.Uint64(max(hs.GetTerm(), term))
	if err := ms.SetHardState(hs); err != nil {
		return nil, err
	}
	// The state file marks the WAL as a raft log (see ReplayBound) before
	// any entry that may be uncommitted reaches it.
	if err := saveHardState(r.state, hs); err != nil {
		return nil, fmt.Errorf("raftpart: %s: %w", r.state, err)
	}
	r.storage = &logStorage{MemoryStorage: ms, part: part, voter: voters}
	r.rn, err = raft.NewRawNode(&raft.Config{
		ID: r.self, ElectionTick: 10, HeartbeatTick: 1, Storage: r.storage, Applied: applied,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum: true, PreVote: true, DisableProposalForwarding: true, Logger: quietLogger{log},
	})
	if err != nil {
		return nil, err
	}
	tr.add(r)
	go r.run(tick)
	return r, nil
}

// Part is the replicated part.
func (r *Replica) Part() *kv.Part { return r.part }

func (r *Replica) key() partKey { return partKey{r.part.SpaceID(), r.part.ID()} }

func (r *Replica) run(tick time.Duration) {
	defer close(r.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.rn.Tick()
			r.ready()
			r.mu.Unlock()
		}
	}
}

// Close stops the replica (the part stays open: kv owns it).
func (r *Replica) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	for id, w := range r.waiters {
		w <- ErrStopped
		delete(r.waiters, id)
	}
	r.mu.Unlock()
	r.tr.remove(r)
	close(r.stop)
	<-r.done
}

// step takes a message from a peer.
func (r *Replica) step(m *raftpb.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if err := r.rn.Step(m); err != nil {
		return // a message for an old term or a stopped peer: raft says why only at debug level
	}
	r.ready()
}

// ready persists, sends and applies what raft has ready. Requires mu.
func (r *Replica) ready() {
	for r.rn.HasReady() {
		rd := r.rn.Ready()
		if rd.SoftState != nil {
			r.leader = rd.SoftState.Lead
			if rd.SoftState.RaftState != raft.StateLeader {
				r.failWaiters()
			}
		}
		// Durable before anything is sent: the snapshot, the entries (the
		// WAL is the log), then term, vote and commit.
		if !raft.IsEmptySnap(rd.Snapshot) {
			md := rd.Snapshot.GetMetadata()
			if err := r.part.InstallSnapshot(md.GetIndex(), md.GetTerm(), rd.Snapshot.GetData()); err != nil {
				r.log.Error("raft: install snapshot", "space", r.part.SpaceID(), "part", r.part.ID(), "err", err)
			}
			r.storage.ApplySnapshot(rd.Snapshot)
			r.log.Info("raft: installed a snapshot", "space", r.part.SpaceID(), "part", r.part.ID(), "index", md.GetIndex())
		}
		if err := r.part.AppendLog(walEntries(rd.Entries)); err != nil {
			// Not acknowledged: stop here, raft sends them again.
			r.log.Error("raft: log entries", "space", r.part.SpaceID(), "part", r.part.ID(), "err", err)
			return
		}
		r.storage.Append(rd.Entries)
		if !raft.IsEmptyHardState(rd.HardState) {
			if err := saveHardState(r.state, rd.HardState); err != nil {
				r.log.Error("raft: save hard state", "file", r.state, "err", err)
			}
			r.storage.SetHardState(rd.HardState)
		}
		for _, m := range rd.Messages {
			r.tr.send(r, m)
		}
		for _, e := range rd.CommittedEntries {
			r.apply(e)
		}
		r.rn.Advance(rd)
	}
	r.compact()
}

// walEntries are raft entries as the WAL logs them: index as log id,
// the term, the batch without the proposal id.
func walEntries(es []*raftpb.Entry) []wal.Entry {
	out := make([]wal.Entry, len(es))
	for i, e := range es {
		var batch []byte
		if e.GetType() == raftpb.EntryType_EntryNormal && len(e.Data) >= 8 {
			batch = e.Data[8:]
		}
		out[i] = wal.Entry{LogID: e.GetIndex(), Term: e.GetTerm(), Payload: kv.LogPayload(batch)}
	}
	return out
}

// apply applies a committed entry and answers its proposer.
func (r *Replica) apply(e *raftpb.Entry) {
	var id uint64
	var payload []byte
	if e.GetType() == raftpb.EntryType_EntryNormal && len(e.Data) >= 8 {
		id, payload = binary.BigEndian.Uint64(e.Data), e.Data[8:]
	}
	err := r.part.ApplyCommitted(e.GetIndex(), e.GetTerm(), payload)
	if err != nil {
		r.log.Error("raft: apply", "space", r.part.SpaceID(), "part", r.part.ID(), "index", e.GetIndex(), "err", err)
	}
	if w := r.waiters[id]; w != nil {
		w <- err
		delete(r.waiters, id)
	}
}

// compact drops from memory the entries the WAL no longer holds (a
// follower needing them gets a snapshot) and bounds the rest.
func (r *Replica) compact() {
	first, _ := r.storage.FirstIndex()
	applied := r.part.Applied()
	upTo := first - 1
	if walFirst := r.part.WAL().FirstLogID(); walFirst > 0 {
		upTo = max(upTo, walFirst-1)
	}
	if applied > keepEntries {
		upTo = max(upTo, applied-keepEntries)
	}
	upTo = min(upTo, applied)
	if upTo >= first {
		r.storage.Compact(upTo)
	}
}

func (r *Replica) failWaiters() {
	for id, w := range r.waiters {
		w <- &NotLeaderError{Leader: r.addr(r.leader)}
		delete(r.waiters, id)
	}
}

func (r *Replica) addr(id uint64) string {
	if id == 0 || id > uint64(len(r.peers)) {
		return ""
	}
	return r.peers[id-1]
}

// Write replicates the batch and returns once a majority has it and this
// replica has applied it. Only the leader takes writes.
func (r *Replica) Write(ctx context.Context, b kv.Batch) error {
	release := r.part.Hold()
	defer release()
	var id [8]byte
	rand.Read(id[:])
	data := append(id[:], kv.EncodeBatch(b)...)
	w := make(chan error, 1)
	r.mu.Lock()
	if err := r.leading(); err != nil {
		r.mu.Unlock()
		return err
	}
	if err := r.rn.Propose(data); err != nil {
		r.mu.Unlock()
		return &NotLeaderError{Leader: r.addr(r.leader)}
	}
	r.waiters[binary.BigEndian.Uint64(id[:])] = w
	r.ready()
	r.mu.Unlock()
	select {
	case err := <-w:
		return err
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.waiters, binary.BigEndian.Uint64(id[:]))
		r.mu.Unlock()
		return fmt.Errorf("raftpart: write not committed: %w", ctx.Err())
	}
}

// leading checks that reads and writes may be served here: this replica
// leads and has applied everything committed. Requires mu.
func (r *Replica) leading() error {
	if r.closed {
		return ErrStopped
	}
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		return &NotLeaderError{Leader: r.addr(st.Lead)}
	}
	if r.part.Applied() < st.GetCommit() {
		return &NotLeaderError{Leader: r.addr(r.self)} // a new leader catching up: retry shortly
	}
	return nil
}

// CheckRead tells whether a read may be served here (see leading).
func (r *Replica) CheckRead() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading()
}

// IsLeader reports whether this replica leads its part.
func (r *Replica) IsLeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.closed && r.rn.BasicStatus().RaftState == raft.StateLeader
}

// HoldsCommitted reports whether a cut of the part's data that reflects
// log id applied, of term term, holds everything the part has committed:
// this replica leads in that very term, so the cut has an entry of its
// own term and with it every entry committed before, and nothing
// committed lies beyond it. A backup takes such a cut only.
func (r *Replica) HoldsCommitted(applied, term uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	st := r.rn.BasicStatus()
	return st.RaftState == raft.StateLeader && st.GetTerm() == term && applied >= st.GetCommit()
}

// Term is the replica's current term.
func (r *Replica) Term() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rn.BasicStatus().GetTerm()
}

// Leader is the leader's storage address, "" when none is known.
func (r *Replica) Leader() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr(r.rn.BasicStatus().Lead)
}

// TransferLeader asks raft to hand leadership to the peer at addr.
func (r *Replica) TransferLeader(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.peers {
		if p == addr {
			r.rn.TransferLeader(uint64(i + 1))
			r.ready()
		}
	}
}

func (r *Replica) reportUnreachable(to uint64, snap bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.rn.ReportUnreachable(to)
	if snap {
		r.rn.ReportSnapshot(to, raft.SnapshotFailure)
	}
}

func (r *Replica) reportSnapshotDone(to uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.rn.ReportSnapshot(to, raft.SnapshotFinish)
	}
}

// quietLogger sends raft's chatter to slog at debug level and its
// warnings and errors at theirs.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Debug(v ...any)                 {}
func (q quietLogger) Debugf(format string, v ...any) {}
func (q quietLogger) Info(v ...any)                  {}
func (q quietLogger) Infof(format string, v ...any)  {}
func (q quietLogger) Warning(v ...any)               { q.l.Warn(fmt.Sprint(v...)) }
func (q quietLogger) Warningf(format string, v ...any) {
	q.l.Warn(fmt.Sprintf(format, v...))
}
func (q quietLogger) Error(v ...any)                 { q.l.Error(fmt.Sprint(v...)) }
func (q quietLogger) Errorf(format string, v ...any) { q.l.Error(fmt.Sprintf(format, v...)) }
func (q quietLogger) Fatal(v ...any)                 { panic(fmt.Sprint(v...)) }
func (q quietLogger) Fatalf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }
func (q quietLogger) Panic(v ...any)                 { panic(fmt.Sprint(v...)) }
func (q quietLogger) Panicf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }
