package br

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

func TestManifestRoundTripAndDamage(t *testing.T) {
	const name = "B"
	in := []fileSum{{"B/data/1/h_1/data/000004.sst", 26623, 0xd9df6c7c}, {"B/meta/CURRENT", 16, 1}, {"B/B.meta", 9, 3}}
	good := encodeManifest(name, in)
	out, err := decodeManifest(name, good)
	if err != nil || len(out) != 3 || out[0] != in[2] || out[1] != in[0] || out[2] != in[1] {
		t.Fatalf("round trip: %v %v", out, err)
	}
	flipped := bytes.Clone(good)
	flipped[len(manifestMagic)+20] ^= 1
	for what, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":      {nil, "empty"},
		"truncated":  {good[:len(good)-10], "truncated"},
		"cut a line": {good[:bytes.Index(good, []byte("B/meta"))], "truncated"},
		"flipped":    {flipped, "changed or damaged"},
		"other name": {encodeManifest("C", nil), "not the manifest of B"},
		"not ours":   {[]byte("00000001 1 B/x\nend 00000000\n"), "checksum is"},
		"outside":    {encodeManifest(name, []fileSum{{"C/x", 1, 1}}), "not under B/"},
		"twice":      {encodeManifest(name, []fileSum{{"B/x", 1, 1}, {"B/x", 1, 1}}), "listed twice"},
		"escape":     {encodeManifest(name, []fileSum{{"B/../C/x", 1, 1}}), "not under B/"},
		"bad size":   {encodeManifest(name, []fileSum{{"B/x", -1, 1}}), "bad checksum or size"},
	} {
		if _, err := decodeManifest(name, tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", what, err, tc.want)
		}
	}
	// A count that does not match, with a valid end line.
	body := []byte(manifestMagic + "\nbackup B\nobjects 2\n00000001 1 B/x\n")
	b := append(body, []byte(fmt.Sprintf("end %08x\n", crc32.Checksum(body, castagnoli)))...)
	if _, err := decodeManifest(name, b); err == nil || !strings.Contains(err.Error(), "header says 2") {
		t.Errorf("wrong count: %v", err)
	}
}

// The .meta is framed as NebulaGraph's br writes it: a 4-byte big-endian
// length, then the thrift binary-protocol BackupMeta; the bare struct of
// this project's first versions still reads.
func TestMetaFraming(t *testing.T) {
	bm := &meta.BackupMeta{BackupName: []byte("BACKUP_2026_01_01_00_00_00"), Full: true, ClusterID: 7}
	b, err := encodeMeta(bm)
	if err != nil {
		t.Fatal(err)
	}
	// The length (0x60), then: 1 space_backups (empty map), 2 meta_files
	// (empty list), 3 backup_name, 4 full, 5 all_spaces, 6 create_time,
	// 7 base_backup_name, 8 storage_hosts, 9 cluster_id = 7, stop.
	golden, _ := hex.DecodeString("000000600d0001080c000000000f00020b000000000b00030000001a4241434b55505f323032365f30315f30315f30305f30305f3030" +
		"02000401020005000a000600000000000000000b0007000000000f00080c000000000a0009000000000000000700")
	if !bytes.Equal(b, golden) {
		t.Fatalf(".meta bytes\n%x\nwant\n%x", b, golden)
	}
	for what, in := range map[string][]byte{"framed": b, "bare": b[4:]} {
		got, err := decodeMeta(in)
		if err != nil || string(got.BackupName) != string(bm.BackupName) || got.ClusterID != 7 || !got.Full {
			t.Errorf("%s: %+v, %v", what, got, err)
		}
	}
	if _, err := decodeMeta([]byte{0, 0, 0, 1, 0}); err == nil {
		t.Error("a frame holding an empty struct decodes")
	}
	if _, err := decodeMeta([]byte("garbage that is no thrift")); err == nil || !strings.Contains(err.Error(), "neither a framed") {
		t.Errorf("garbage: %v", err)
	}
}

// FuzzDecodeManifest: the parser never panics, and what it accepts
// encodes back to the same bytes.
func FuzzDecodeManifest(f *testing.F) {
	f.Add(encodeManifest("B", []fileSum{{"B/meta/x", 1, 2}, {"B/B.meta", 3, 4}}))
	f.Add([]byte("nebula-br manifest 1\nbackup B\nobjects 0\nend 00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sums, err := decodeManifest("B", b)
		if err != nil {
			return
		}
		if again := encodeManifest("B", sums); !bytes.Equal(again, b) {
			t.Fatalf("accepted %q, which encodes back as %q", b, again)
		}
	})
}

// FuzzDecodeMeta: a damaged .meta is an error, never a panic.
func FuzzDecodeMeta(f *testing.F) {
	bm := &meta.BackupMeta{BackupName: []byte("BACKUP_2026_01_01_00_00_00"), Full: true, ClusterID: 7, MetaFiles: [][]byte{[]byte("/d/x.sst")}}
	b, err := encodeMeta(bm)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeMeta(b)
	})
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
	bm := &meta.BackupMeta{BackupName: []byte(name), Full: base == "", BaseBackupName: []byte(base), ClusterID: meta.ClusterID(cluster),
		MetaFiles: [][]byte{[]byte("/export/x")}, CreateTime: 1_790_000_000_000}
	b, err := encodeMeta(bm)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sums := []fileSum{{name + "/meta/x", 1, 2}, {metaKey(name), int64(len(b)), crc32.Checksum(b, castagnoli)}}
	if err := put(ctx, st, manifestKey(name), encodeManifest(name, sums)); err != nil {
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
