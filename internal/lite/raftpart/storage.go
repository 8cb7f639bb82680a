package raftpart

import (
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
)

// logStorage is raft's view of the part's log: an in-memory mirror of the
// WAL from the applied id at open on (entries not known to be committed
// are reloaded from the WAL), trimmed as the WAL is, and snapshots cut from
// the part's keys when a follower needs entries the WAL no longer has. Membership is fixed by metad's
// placement, so the voters are given, never logged.
type logStorage struct {
	*raft.MemoryStorage
	part  *kv.Part
	voter *raftpb.ConfState
}

func (s *logStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	hs, _, err := s.MemoryStorage.InitialState()
	return hs, s.voter, err
}

// Snapshot is cut at the applied id; raft only asks for one from the
// replica's own goroutine, which is also the one applying, so the keys and
// the id match.
func (s *logStorage) Snapshot() (*raftpb.Snapshot, error) {
	index, term, data, err := s.part.Snapshot()
	if err != nil {
		return nil, err
	}
	return &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{
		Index: proto.Uint64(index), Term: proto.Uint64(term), ConfState: s.voter,
	}}, nil
}

// The hard state (term, vote, commit) lives in a small file next to the
// space's WAL directory: Pebble runs without its own WAL, so it would not
// survive a kill.
func hardStatePath(p *kv.Part) string { return statePath(p.WAL().Dir()) }

func statePath(walDir string) string { // walDir: <space>/wal/<part>
	return filepath.Join(filepath.Dir(filepath.Dir(walDir)), "raft", filepath.Base(walDir)+".state")
}

func loadHardState(path string) (*raftpb.HardState, error) {
	hs := &raftpb.HardState{}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return hs, nil
	}
	if err != nil {
		return nil, err
	}
	return hs, proto.Unmarshal(b, hs)
}

func saveHardState(path string, hs *raftpb.HardState) error {
	b, err := proto.Marshal(hs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReplayBound is kv.Options.ReplayBound for storaged: a part with a raft
// state file replays its WAL up to the commit recorded there, not into
// entries that may never have been committed.
func ReplayBound(walDir string) (uint64, bool) {
	path := statePath(walDir)
	if _, err := os.Stat(path); err != nil {
		return 0, false
	}
	hs, err := loadHardState(path)
	if err != nil {
		return 0, true // replay nothing doubtful: raft brings the part up to date
	}
	return hs.GetCommit(), true
}
