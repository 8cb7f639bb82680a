package br

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// The keys of both layouts, spelled out: these are the paths upstream's
// nebula-br v3.6.0 writes and ours.
func TestLayoutKeys(t *testing.T) {
	const n = "BACKUP_2026_01_01_00_00_00"
	h := &nebula.HostAddr{Host: "127.0.7.1", Port: 9779}
	for _, tc := range []struct{ got, want string }{
		{LayoutUpstream.spaceDirKey(n, 3, h, 0), n + "/data/127.0.7.1:9779/data0/3"},
		{LayoutUpstream.spaceDirKey(n, 3, h, 1), n + "/data/127.0.7.1:9779/data1/3"},
		{LayoutUpstream.dataKey(n, 3, h, 0), n + "/data/127.0.7.1:9779/data0/3/data"},
		{LayoutUpstream.walKey(n, 3, h, 0, 5), n + "/data/127.0.7.1:9779/data0/3/wal/5"},
		{LayoutNative.dataKey(n, 3, h, 0), n + "/data/3/127.0.7.1_9779/data"},
		{dataKey(n, 3, h), n + "/data/3/127.0.7.1_9779/data"},
		{walKey(n, 3, h, 5), n + "/data/3/127.0.7.1_9779/wal/5"},
		{metaKey(n), n + "/" + n + ".meta"},
		{manifestKey(n), n + "/" + n + ".manifest"},
		{metaDirKey(n), n + "/meta"},
		{LayoutUpstream.String(), "nebula-br v3.6.0"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s, want %s", tc.got, tc.want)
		}
	}
	if LayoutUpstream.Checksums() || !LayoutNative.Checksums() {
		t.Error("only the native layout has checksums")
	}
}

func TestDetectLayout(t *testing.T) {
	const n = "BACKUP_2026_01_01_00_00_00"
	abs := &meta.BackupMeta{MetaFiles: [][]byte{[]byte("/data/meta/export/a.sst")}}
	base := &meta.BackupMeta{MetaFiles: [][]byte{[]byte("a.sst"), []byte("b.sst")}}
	for what, tc := range map[string]struct {
		keys []string
		bm   *meta.BackupMeta
		want Layout
		err  string
	}{
		"manifest":                 {[]string{n + "/data/127.0.7.1:9779/data0/1/data/x", manifestKey(n)}, base, LayoutNative, ""},
		"space first":              {[]string{n + "/data/1/127.0.7.1_9779/data/x", metaKey(n)}, base, LayoutNative, ""},
		"host first":               {[]string{n + "/data/127.0.7.1:9779/data0/1/data/x", metaKey(n)}, abs, LayoutUpstream, ""},
		"host name first":          {[]string{n + "/data/storaged-0.nebula:9779/data0/1/wal/1/x"}, nil, LayoutUpstream, ""},
		"both":                     {[]string{n + "/data/1/h_1/data/x", n + "/data/h:1/data0/1/data/x"}, nil, LayoutNative, "both by space"},
		"no data, basenames":       {[]string{metaKey(n), n + "/meta/a.sst"}, base, LayoutUpstream, ""},
		"no data, paths":           {[]string{metaKey(n), n + "/meta/a.sst"}, abs, LayoutNative, ""},
		"no data, unreadable meta": {[]string{metaKey(n)}, nil, LayoutNative, ""},
		"other names":              {[]string{n + "/data/x/y", n + "/datax/1:2/z", "BACKUP_2026_01_01_00_00_01/data/h:1/x"}, abs, LayoutNative, ""},
		"bad port":                 {[]string{n + "/data/h:x/data0/1/data/x"}, abs, LayoutNative, ""},
	} {
		got, err := detectLayout(n, tc.keys, tc.bm)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error saying %q", what, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", what, got, err, tc.want)
		}
	}
}

// upstreamMeta is the .meta of an upstream backup of space 1 ("g") on two
// storage hosts, as metad returns it.
func upstreamMeta(name string) *meta.BackupMeta {
	hosts := []*nebula.HostAddr{{Host: "127.0.7.2", Port: 9779}, {Host: "127.0.7.1", Port: 9779}}
	sb := &meta.SpaceBackupInfo{Space: &meta.SpaceDesc{SpaceName: []byte("g"), PartitionNum: 1, ReplicaFactor: 1,
		VidType: &meta.ColumnTypeDef{Type: nebula.PropertyType_FIXED_STRING, TypeLength: 12}}}
	for _, h := range hosts {
		sb.HostBackups = append(sb.HostBackups, &meta.HostBackupInfo{Host: h, Checkpoints: []*nebula.CheckpointInfo{{
			SpaceID: 1, Parts: map[nebula.PartitionID]*nebula.LogInfo{1: {LogID: 7, CommitLogID: 7}},
			DataPath: []byte("/d/" + h.Host + "/nebula/1/checkpoints/" + name)}}})
	}
	return &meta.BackupMeta{BackupName: []byte(name), Full: true, AllSpaces: true, CreateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli(),
		MetaFiles:    [][]byte{[]byte("/d/meta/checkpoints/" + name + "/__meta__.sst"), []byte("/d/meta/checkpoints/" + name + "/__spaces__.sst")},
		SpaceBackups: map[nebula.GraphSpaceID]*meta.SpaceBackupInfo{1: sb}, StorageHosts: hosts, ClusterID: 9}
}

// writeUpstream stores a backup as upstream's br v3.6.0 lays it out: the
// meta files' directory, each host's checkpoint directory under
// data/<host:port>/data0/<spaceId>/, then the framed .meta with meta_files
// cut to basenames. No manifest.
func writeUpstream(t *testing.T, st objstore.Store, bm *meta.BackupMeta) (objects int, size int64) {
	t.Helper()
	ctx := context.Background()
	name := string(bm.BackupName)
	putKey := func(key string, b []byte) {
		if err := put(ctx, st, key, b); err != nil {
			t.Fatal(err)
		}
		objects++
		size += int64(len(b))
	}
	for _, f := range bm.MetaFiles {
		putKey(path.Join(name, "meta", path.Base(string(f))), []byte("meta file "+string(f)))
	}
	for id, sb := range bm.SpaceBackups {
		for _, hb := range sb.HostBackups {
			for i := range hb.Checkpoints {
				dir := LayoutUpstream.spaceDirKey(name, id, hb.Host, i)
				putKey(dir+"/data/000001.sst", []byte("sst of "+addr(hb.Host)))
				putKey(dir+"/data/CURRENT", []byte("MANIFEST-000001\n"))
				putKey(dir+"/wal/1/0000000000000000001.wal", []byte("wal"))
			}
		}
	}
	up := *bm
	up.MetaFiles = nil
	for _, f := range bm.MetaFiles {
		up.MetaFiles = append(up.MetaFiles, []byte(path.Base(string(f))))
	}
	b, err := encodeMeta(&up)
	if err != nil {
		t.Fatal(err)
	}
	putKey(metaKey(name), b)
	return objects, size
}

func TestUpstreamBackupShowVerifyPlan(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	storage := Storage{URI: "local://" + root}
	st, err := objstore.Open(ctx, storage.URI, objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	const name = "BACKUP_2026_01_02_03_04_05"
	bm := upstreamMeta(name)
	objects, size := writeUpstream(t, st, bm)
	writeBackup(t, st, "BACKUP_2026_01_01_00_00_00", "", 7) // one of ours beside it
	putObj(t, st, "BACKUP_2026_01_01_00_00_00/meta/x", []byte{1})

	list, err := List(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Status != StatusComplete || list[0].Layout != LayoutNative {
		t.Fatalf("our backup: %+v", list)
	}
	b := list[1]
	if b.Name != name || b.Status != StatusCompleteNoManifest || !b.Complete || b.Layout != LayoutUpstream || !b.Full ||
		!b.CreateTime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || !slices.Equal(b.Spaces, []string{"g"}) ||
		b.Size != size || b.Objects != objects || b.ClusterID != 9 || !strings.Contains(b.Note, "no checksums") {
		t.Fatalf("show: %+v", b)
	}

	o := Options{Storage: storage}
	for _, quick := range []bool{false, true} {
		r, err := Verify(ctx, o, name, quick)
		if err != nil || !r.OK() {
			t.Fatalf("verify: %+v %v", r, err)
		}
		if r.Objects != objects || r.Bytes != size || !slices.Equal(r.NoChecksums, []string{name}) || len(r.Notes) != 1 ||
			!strings.Contains(r.Notes[0], "no checksums to verify") {
			t.Fatalf("verify: %+v", r)
		}
		if s := r.Summary(name); !strings.Contains(s, "checksums NOT verified") || strings.Contains(s, "intact") {
			t.Fatalf("summary: %s", s)
		}
	}

	p, err := PlanRestore(ctx, storage, name)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{addr(p.Hosts[0]), addr(p.Hosts[1])}; !slices.Equal(got, []string{"127.0.7.1:9779", "127.0.7.2:9779"}) {
		t.Fatalf("hosts %v", got)
	}
	mreq, files := p.metaDownload("/m/stage", 3)
	if mreq.Prefix != name+"/meta" || mreq.TargetPath != "/m/stage" || !mreq.NoChecksums || len(mreq.Files) != 2 ||
		!slices.Equal(files, []string{"/m/stage/__meta__.sst", "/m/stage/__spaces__.sst"}) {
		t.Fatalf("meta download %v, files %v", mreq, files)
	}
	a, err := p.Assign([]*nebula.HostAddr{{Host: "10.0.0.2", Port: 9779}, {Host: "10.0.0.1", Port: 9779}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Assign([]*nebula.HostAddr{{Host: "10.0.0.1", Port: 9779}}); !errors.Is(err, ErrTopology) {
		t.Fatalf("a backup of 2 hosts kept per host assigned to 1: %v, want ErrTopology", err)
	}
	dls := p.dataDownloads(a, &nebula.HostAddr{Host: "10.0.0.2", Port: 9779}, "/s/data", 3)
	if len(dls) != 1 {
		t.Fatalf("data downloads: %v", dls)
	}
	d := dls[0]
	want := map[string]int64{"data/000001.sst": int64(len("sst of 127.0.7.2:9779")), "data/CURRENT": 16, "wal/1/0000000000000000001.wal": 3}
	got := map[string]int64{}
	for _, f := range d.Files {
		got[f.Key] = f.Size
		if f.Crc32C != 0 {
			t.Errorf("%s: a checksum nobody knows: %08x", f.Key, f.Crc32C)
		}
	}
	if d.Prefix != name+"/data/127.0.7.2:9779/data0/1" || d.TargetPath != filepath.FromSlash("/s/data/nebula/1") || !d.NoChecksums || len(got) != len(want) {
		t.Fatalf("data download %v", d)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d bytes listed, want %d", k, got[k], n)
		}
	}
	if job := p.HostJob("r", a, a.Targets[0], "/s/data", 1); bytesOf(job) == 0 {
		t.Error("a host job downloads nothing: the disk check would see 0 bytes")
	}

	// Ours still verifies checksums.
	pn, err := PlanRestore(ctx, storage, "BACKUP_2026_01_01_00_00_00")
	if err != nil {
		t.Fatal(err)
	}
	if req, _ := pn.metaDownload("/m", 1); req.NoChecksums || req.Files[0].Crc32C != 2 {
		t.Fatalf("native meta download %v", req)
	}
}

// An incremental backup of ours on an upstream full one: the full one
// gives its checkpoint data (not its own WAL: the incremental brings the
// WAL since), checked by size; the incremental its WAL, by checksum.
func TestIncrementalOnUpstream(t *testing.T) {
	ctx := context.Background()
	storage := Storage{URI: "local://" + t.TempDir()}
	st, _ := objstore.Open(ctx, storage.URI, objstore.Config{})
	const full, incr = "BACKUP_2026_01_02_03_04_05", "BACKUP_2026_01_02_03_04_06"
	writeUpstream(t, st, upstreamMeta(full))
	bm := upstreamMeta(incr)
	bm.Full, bm.BaseBackupName = false, []byte(full)
	var sums []fileSum
	add := func(key string, b []byte) {
		putObj(t, st, key, b)
		sums = append(sums, fileSum{Key: key, Size: int64(len(b)), CRC32C: crc32c(b)})
	}
	for _, f := range bm.MetaFiles {
		add(path.Join(incr, "meta", path.Base(string(f))), []byte("m"))
	}
	for _, hb := range bm.SpaceBackups[1].HostBackups {
		hb.Checkpoints[0].Parts[1] = &nebula.LogInfo{LogID: 9, CommitLogID: 9}
		add(walKey(incr, 1, hb.Host, 1)+"/0000000000000000008.wal", []byte("wal 8-9"))
	}
	mb, _ := encodeMeta(bm)
	sums = append(sums, fileSum{Key: metaKey(incr), Size: int64(len(mb)), CRC32C: crc32c(mb)})
	putObj(t, st, manifestKey(incr), encodeManifest(incr, sums))
	putObj(t, st, metaKey(incr), mb)

	list, err := List(ctx, st)
	if err != nil || len(list) != 2 || list[1].Status != StatusComplete || list[1].Base != full {
		t.Fatalf("show: %+v %v", list, err)
	}
	p, err := PlanRestore(ctx, storage, incr)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Assign(p.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	dls := p.dataDownloads(a, p.Hosts[0], "/s", 1)
	if len(dls) != 2 {
		t.Fatalf("downloads %v", dls)
	}
	if d := dls[0]; d.Prefix != full+"/data/127.0.7.1:9779/data0/1/data" || d.TargetPath != "/s/nebula/1/data" || !d.NoChecksums || len(d.Files) != 2 {
		t.Fatalf("base data: %v", d)
	}
	if d := dls[1]; d.Prefix != incr+"/data/1/127.0.7.1_9779/wal/1" || d.TargetPath != "/s/nebula/1/wal/1" || d.NoChecksums || len(d.Files) != 1 || d.Files[0].Crc32C == 0 {
		t.Fatalf("incremental WAL: %v", d)
	}
	r, err := Verify(ctx, Options{Storage: storage}, incr, false)
	if err != nil || !r.OK() || !slices.Equal(r.NoChecksums, []string{full}) || !strings.Contains(r.Summary(incr), "except the checksums of ["+full+"]") {
		t.Fatalf("verify: %+v %v", r, err)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Without StorageHosts (upstream's metad need not fill them), the hosts are
// those of the spaces.
func TestUpstreamHostsFromSpaces(t *testing.T) {
	bm := upstreamMeta("B")
	bm.StorageHosts = nil
	got := storageHosts(bm)
	sortHosts(got)
	if len(got) != 2 || addr(got[0]) != "127.0.7.1:9779" || addr(got[1]) != "127.0.7.2:9779" {
		t.Fatalf("%v", got)
	}
}

// What `br verify` checks of an upstream backup: each meta file, each
// host's checkpoint data; a host with two data paths is refused by the
// restore with the reason.
func TestUpstreamDamage(t *testing.T) {
	ctx := context.Background()
	const name = "BACKUP_2026_01_02_03_04_05"
	for what, tc := range map[string]struct {
		change func(*meta.BackupMeta)
		remove string
		want   string
	}{
		"meta file": {remove: name + "/meta/__spaces__.sst", want: "meta file " + name + "/meta/__spaces__.sst is not stored"},
		"host data": {remove: name + "/data/127.0.7.1:9779/data0/1/data/", want: "no data of space 1 on 127.0.7.1:9779 (" + name + "/data/127.0.7.1:9779/data0/1/data/...)"},
		"incremental": {change: func(bm *meta.BackupMeta) { bm.Full, bm.BaseBackupName = false, []byte("BACKUP_2026_01_01_00_00_00") },
			want: "holds full backups only"},
		"other name": {change: func(bm *meta.BackupMeta) { bm.BackupName = []byte("BACKUP_2026_01_01_00_00_00") }, want: "names backup"},
	} {
		t.Run(what, func(t *testing.T) {
			root := t.TempDir()
			storage := Storage{URI: "local://" + root}
			st, err := objstore.Open(ctx, storage.URI, objstore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			bm := upstreamMeta(name)
			writeUpstream(t, st, bm)
			if tc.change != nil {
				tc.change(bm)
				mf := bm.MetaFiles
				bm.MetaFiles = [][]byte{[]byte("__meta__.sst"), []byte("__spaces__.sst")}
				b, _ := encodeMeta(bm)
				bm.MetaFiles = mf
				putObj(t, st, metaKey(name), b)
			}
			if tc.remove != "" {
				if strings.HasSuffix(tc.remove, "/") {
					if _, err := st.DeleteDir(ctx, strings.TrimSuffix(tc.remove, "/")); err != nil {
						t.Fatal(err)
					}
				} else if err := st.Delete(ctx, tc.remove); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Verify(ctx, Options{Storage: storage}, name, false)
			if err != nil || r.OK() || !strings.Contains(strings.Join(r.Damaged, "; "), tc.want) {
				t.Fatalf("verify: %+v %v; want damaged: %q", r, err, tc.want)
			}
			list, err := List(ctx, st)
			if err != nil || len(list) != 1 || list[0].Complete || list[0].Status != StatusDamaged || !strings.Contains(list[0].Problem, tc.want) {
				t.Fatalf("show: %+v %v", list, err)
			}
			if _, err := PlanRestore(ctx, storage, name); !errors.Is(err, ErrBackupDamaged) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore plan: %v", err)
			}
		})
	}
	t.Run("two data paths", func(t *testing.T) {
		root := t.TempDir()
		storage := Storage{URI: "local://" + root}
		st, _ := objstore.Open(ctx, storage.URI, objstore.Config{})
		bm := upstreamMeta(name)
		hb := bm.SpaceBackups[1].HostBackups[0]
		hb.Checkpoints = append(hb.Checkpoints, hb.Checkpoints[0])
		writeUpstream(t, st, bm)
		if r, err := Verify(ctx, Options{Storage: storage}, name, false); err != nil || !r.OK() {
			t.Fatalf("verify: %+v %v", r, err)
		}
		st.DeleteDir(ctx, name+"/data/127.0.7.2:9779/data1")
		if r, err := Verify(ctx, Options{Storage: storage}, name, false); err != nil || !strings.Contains(strings.Join(r.Damaged, ";"), "/data/127.0.7.2:9779/data1/1/data/...") {
			t.Fatalf("verify without data1: %+v %v", r, err)
		}
		writeUpstream(t, st, bm)
		if _, err := PlanRestore(ctx, storage, name); !errors.Is(err, ErrTopology) || !strings.Contains(err.Error(), "2 data paths") {
			t.Fatalf("restore plan: %v", err)
		}
	})
}

// An unreadable .meta is named, never shown as a backup of defaults
// (1970, no spaces): garbage, truncated, a frame whose length is wrong, a
// struct without a creation time, an empty file.
func TestGarbageMetaIsNamed(t *testing.T) {
	ctx := context.Background()
	const name = "BACKUP_2026_01_02_03_04_05"
	up := upstreamMeta(name)
	up.MetaFiles = [][]byte{[]byte("__meta__.sst"), []byte("__spaces__.sst")}
	good, err := encodeMeta(up)
	if err != nil {
		t.Fatal(err)
	}
	noTime := *up
	noTime.CreateTime = 0
	noTimeB, _ := encodeMeta(&noTime)
	ours := upstreamMeta(name) // paths as metad wrote them: ours, were it not for the data keyed by host
	ours.CreateTime = 0
	oursB, _ := encodeMeta(ours)
	longer := binary.BigEndian.AppendUint32(nil, uint32(len(good)))
	longer = append(longer, good[4:]...)
	for what, b := range map[string][]byte{
		"garbage":       []byte("this is not a BackupMeta at all, just text"),
		"truncated":     good[:len(good)/2],
		"frame length":  longer,
		"bare struct":   good[4:],
		"no time":       noTimeB,
		"ours, no time": oursB,
		"empty":         {},
		"zeros":         make([]byte, 64),
		"frame of zero": {0, 0, 0, 1, 0},
	} {
		for _, data := range []bool{true, false} { // with upstream data beside it, and alone
			root := t.TempDir()
			storage := Storage{URI: "local://" + root}
			st, _ := objstore.Open(ctx, storage.URI, objstore.Config{})
			if data {
				writeUpstream(t, st, upstreamMeta(name))
			}
			putObj(t, st, metaKey(name), b)
			list, err := List(ctx, st)
			if err != nil || len(list) != 1 {
				t.Fatalf("%s: %v %v", what, list, err)
			}
			got := list[0]
			if got.Status != StatusDamaged || got.Complete || !got.CreateTime.IsZero() || len(got.Spaces) != 0 || !strings.Contains(got.Problem, metaKey(name)) {
				t.Errorf("%s (data %v): show %+v, want damaged naming %s", what, data, got, metaKey(name))
			}
			r, err := Verify(ctx, Options{Storage: storage}, name, false)
			if err != nil || r.OK() || !strings.Contains(strings.Join(r.Damaged, ";"), metaKey(name)) {
				t.Errorf("%s (data %v): verify %+v %v", what, data, r, err)
			}
			if _, err := PlanRestore(ctx, storage, name); !errors.Is(err, ErrBackupDamaged) || !strings.Contains(err.Error(), metaKey(name)) {
				t.Errorf("%s (data %v): restore plan %v", what, data, err)
			}
		}
	}
}

func putObj(t *testing.T, st objstore.Store, key string, b []byte) {
	t.Helper()
	if err := put(context.Background(), st, key, b); err != nil {
		t.Fatal(err)
	}
}
