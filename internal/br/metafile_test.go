package br

import (
	"context"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

func TestChecksumsRoundTrip(t *testing.T) {
	in := []fileSum{{"B/data/1/h_1/data/000004.sst", 26623, 0xd9df6c7c}, {"B/meta/CURRENT", 16, 1}}
	out, err := decodeChecksums(encodeChecksums(in))
	if err != nil || len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("round trip: %v %v", out, err)
	}
	if _, err := decodeChecksums([]byte("zz 1 k\n")); err == nil {
		t.Fatal("bad checksum line accepted")
	}
}

func store(t *testing.T) objstore.Store {
	st, err := objstore.Open(context.Background(), "local://"+t.TempDir(), objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func writeBackup(t *testing.T, st objstore.Store, name, base string, cluster int64) {
	t.Helper()
	bm := &meta.BackupMeta{BackupName: []byte(name), Full: base == "", BaseBackupName: []byte(base), ClusterID: meta.ClusterID(cluster)}
	b, err := encodeMeta(bm)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := put(ctx, st, checksumsKey(name), encodeChecksums([]fileSum{{name + "/meta/x", 1, 2}})); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, st, metaKey(name), b); err != nil {
		t.Fatal(err)
	}
}

func TestLoadChain(t *testing.T) {
	ctx := context.Background()
	st := store(t)
	const f, i1, i2 = "BACKUP_2026_01_01_00_00_00", "BACKUP_2026_01_01_00_00_01", "BACKUP_2026_01_01_00_00_02"
	writeBackup(t, st, f, "", 7)
	writeBackup(t, st, i1, f, 7)
	writeBackup(t, st, i2, i1, 7)
	chain, err := loadChain(ctx, st, i2)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 || chain[0].Name != f || chain[2].Name != i2 || chain[1].under(i1 + "/meta")[0].Key != "x" {
		t.Fatalf("chain %v", chain)
	}

	const foreign, orphan = "BACKUP_2026_01_01_00_00_03", "BACKUP_2026_01_01_00_00_04"
	writeBackup(t, st, foreign, f, 8)
	if _, err := loadChain(ctx, st, foreign); err == nil || !strings.Contains(err.Error(), "another cluster") {
		t.Fatalf("foreign base: %v", err)
	}
	writeBackup(t, st, orphan, "BACKUP_2000_01_01_00_00_00", 7)
	if _, err := loadChain(ctx, st, orphan); err == nil || !strings.Contains(err.Error(), "needs its base") {
		t.Fatalf("missing base: %v", err)
	}
	// Without its .meta a backup is incomplete, whatever else is there.
	st.Delete(ctx, metaKey(i1))
	if _, err := loadChain(ctx, st, i2); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("incomplete link: %v", err)
	}
	list, err := List(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range list {
		if b.Name == i1 && b.Complete {
			t.Fatal("List calls a backup without .meta complete")
		}
	}
}

func TestValidName(t *testing.T) {
	for s, ok := range map[string]bool{"BACKUP_2023_02_12_10_04_16": true, "BACKUP_2023_02_12": false, "../x": false, "": false} {
		if ValidName(s) != ok {
			t.Errorf("ValidName(%q) = %v", s, !ok)
		}
	}
}
