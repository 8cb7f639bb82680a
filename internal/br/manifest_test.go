package br

import (
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// A backup's manifest must hold what its .meta says the restore needs:
// a WAL object removed together with its manifest line, or a host's data,
// is named.
func TestIncompleteAgainstMeta(t *testing.T) {
	h := &nebula.HostAddr{Host: "h", Port: 9779}
	space := func(commit, log nebula.LogID) map[nebula.GraphSpaceID]*meta.SpaceBackupInfo {
		return map[nebula.GraphSpaceID]*meta.SpaceBackupInfo{1: {HostBackups: []*meta.HostBackupInfo{{Host: h, Checkpoints: []*nebula.CheckpointInfo{{
			Parts: map[nebula.PartitionID]*nebula.LogInfo{1: {LogID: log, CommitLogID: commit}, 2: {LogID: 5, CommitLogID: 5}}}}}}}}
	}
	const f, i = "F", "I"
	full := &link{Name: f, Meta: &meta.BackupMeta{MetaFiles: [][]byte{[]byte("/x/m.sst")}, SpaceBackups: space(5, 5)},
		Sums: []fileSum{{Key: "F/F.meta"}, {Key: "F/meta/m.sst"}, {Key: "F/data/1/h_9779/data/000001.sst"}}}
	if got := full.incomplete(nil); len(got) != 0 {
		t.Fatalf("complete full backup: %v", got)
	}
	incr := &link{Name: i, Meta: &meta.BackupMeta{MetaFiles: [][]byte{[]byte("/x/m.sst")}, SpaceBackups: space(9, 9)},
		Sums: []fileSum{{Key: "I/I.meta"}, {Key: "I/meta/m.sst"}, {Key: "I/data/1/h_9779/wal/1/0001.wal"}}}
	if got := incr.incomplete(full); len(got) != 0 {
		t.Fatalf("complete incremental: %v", got)
	}
	// Part 1 advanced from 5 to 9: its WAL is needed; part 2 did not move.
	incr.Sums = incr.Sums[:2]
	if got := strings.Join(incr.incomplete(full), "; "); !strings.Contains(got, "part 1 of space 1 on h:9779 advanced (log 5 to 9) but no WAL") || strings.Contains(got, "part 2") {
		t.Fatalf("missing WAL: %q", got)
	}
	full.Sums = full.Sums[:2]
	if got := strings.Join(full.incomplete(nil), "; "); !strings.Contains(got, "no data of space 1 on h:9779") {
		t.Fatalf("missing data: %q", got)
	}
	full.Sums = full.Sums[1:]
	if got := strings.Join(full.incomplete(nil), "; "); !strings.Contains(got, "F/F.meta is not in the manifest") {
		t.Fatalf("manifest without .meta: %q", got)
	}
}
