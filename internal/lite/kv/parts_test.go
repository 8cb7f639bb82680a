package kv

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
)

// partState is what a part holds: its keys (without prefix) and applied id.
type partState struct {
	Applied uint64
	KVs     map[string]string
}

func readPart(t *testing.T, p *Part) partState {
	t.Helper()
	st := partState{Applied: p.Applied(), KVs: map[string]string{}}
	if _, err := p.Scan(nil, nil, 0, func(k, v []byte) error {
		st.KVs[string(k)] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// readSpace opens the store at dataPath and returns every part of space.
func readSpace(t *testing.T, dataPath string, space int32) map[int32]partState {
	t.Helper()
	s := open(t, dataPath, nil)
	defer s.Close()
	out := map[int32]partState{}
	sp := s.Space(space)
	if sp == nil {
		return out
	}
	for _, id := range sp.Parts() {
		out[id] = readPart(t, sp.Part(id))
	}
	return out
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// treeState lists every file and directory under dir with its size, mode,
// mtime and content hash.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if !d.IsDir() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", h.Sum(nil))
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = fmt.Sprintf("%d %v %d %s", info.Size(), info.Mode(), info.ModTime().UnixNano(), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exportFixture writes to space 5 (parts 1..5) of a store, cuts a
// checkpoint, writes more, exports the checkpoint and returns the export's
// directory, the checkpoint and each part's state at the cut.
func exportFixture(t *testing.T) (outDir string, cp *SpaceCheckpoint, want map[int32]partState, exported []ExportedPart) {
	t.Helper()
	s := open(t, t.TempDir(), nil)
	defer s.Close()
	parts := map[int32]*Part{}
	for id := int32(1); id <= 5; id++ {
		p, err := s.AddPart(5, id)
		if err != nil {
			t.Fatal(err)
		}
		parts[id] = p
	}
	big := strings.Repeat("x", 3000) // rotates the 4 KB WAL files
	for i := range 20 {
		put(t, parts[1], fmt.Sprintf("k%02d", i), fmt.Sprintf("v1-%d", i))
		put(t, parts[4], fmt.Sprintf("key/%d", i), big+strconv.Itoa(i))
	}
	put(t, parts[2], "a", "2a")
	put(t, parts[2], "b", "2b")
	if _, err := parts[4].Write(Batch{Removes: [][]byte{[]byte("key/3")}}); err != nil {
		t.Fatal(err)
	}
	// Part 5: applied but no keys left; part 3: nothing at all.
	put(t, parts[5], "gone", "x")
	if _, err := parts[5].Write(Batch{Removes: [][]byte{[]byte("gone")}}); err != nil {
		t.Fatal(err)
	}
	want = map[int32]partState{}
	for id, p := range parts {
		want[id] = readPart(t, p)
	}
	cp, err := s.Checkpoint(5, "BACKUP_P")
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the cut: not part of the export.
	put(t, parts[1], "late", "L")
	put(t, parts[4], "key/0", "overwritten")
	put(t, parts[3], "late3", "L")
	if _, err := parts[2].Write(Batch{Removes: [][]byte{[]byte("a")}}); err != nil {
		t.Fatal(err)
	}

	before := treeState(t, cp.Dir)
	outDir = filepath.Join(t.TempDir(), "out")
	exported, err = ExportParts(cp.Dir, outDir)
	if err != nil {
		t.Fatal(err)
	}
	if after := treeState(t, cp.Dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("ExportParts changed the checkpoint:\nbefore %v\nafter  %v", before, after)
	}
	return outDir, cp, want, exported
}

func TestExportImportParts(t *testing.T) {
	outDir, cp, want, exported := exportFixture(t)

	if len(exported) != 5 {
		t.Fatalf("exported %+v, want parts 1..5", exported)
	}
	for i, e := range exported {
		w := want[e.Part]
		if e.Part != int32(i+1) || e.LogID != w.Applied || e.LogID != cp.Parts[i].LogID || e.Term != Term || e.Keys != int64(len(w.KVs)) {
			t.Errorf("exported %+v; want part %d log id %d (checkpoint %d) term %d keys %d", e, i+1, w.Applied, cp.Parts[i].LogID, Term, len(w.KVs))
		}
		st, err := os.Stat(filepath.Join(outDir, strconv.Itoa(int(e.Part)), "data.sst"))
		if len(w.KVs) == 0 {
			if err == nil || e.Bytes != 0 {
				t.Errorf("part %d has no keys but a data.sst (%d bytes): %v", e.Part, e.Bytes, err)
			}
		} else if err != nil || st.Size() != e.Bytes || e.Bytes == 0 {
			t.Errorf("part %d data.sst: %v, reported %d bytes", e.Part, err, e.Bytes)
		}
		b, err := os.ReadFile(filepath.Join(outDir, strconv.Itoa(int(e.Part)), "applied"))
		if wantJSON := fmt.Sprintf(`{"log_id":%d,"term":%d}`+"\n", w.Applied, Term); err != nil || string(b) != wantJSON {
			t.Errorf("part %d applied file %q, %v; want %q", e.Part, b, err, wantJSON)
		}
	}
	if want[3].Applied != 0 || want[5].Applied == 0 || len(want[5].KVs) != 0 {
		t.Fatalf("fixture: part 3 %+v, part 5 %+v", want[3], want[5])
	}

	// A new host takes parts 1, 3, 4 and 5 (part 4 with its WAL).
	dataPath := t.TempDir()
	spaceDir := filepath.Join(dataPath, "nebula", "5")
	subset := []int32{1, 3, 4, 5}
	for _, id := range subset {
		copyTree(t, filepath.Join(outDir, strconv.Itoa(int(id))), filepath.Join(spaceDir, "parts", strconv.Itoa(int(id))))
	}
	copyTree(t, cp.Parts[3].WALDir, filepath.Join(spaceDir, "parts", "4", "wal"))
	ids, err := ImportParts(spaceDir)
	if err != nil || !reflect.DeepEqual(ids, subset) {
		t.Fatalf("ImportParts = %v, %v; want %v", ids, err, subset)
	}
	for _, p := range []string{"parts", "data.importing"} {
		if _, err := os.Stat(filepath.Join(spaceDir, p)); !os.IsNotExist(err) {
			t.Errorf("%s left after the import: %v", p, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(spaceDir, "wal", "4")); len(ents) == 0 {
		t.Error("part 4's WAL was not moved into wal/4")
	}
	got := readSpace(t, dataPath, 5)
	wantSubset := map[int32]partState{}
	for _, id := range subset {
		wantSubset[id] = want[id]
	}
	if !reflect.DeepEqual(got, wantSubset) {
		t.Fatalf("imported space:\n got  %v\n want %v", got, wantSubset)
	}
	if _, ok := got[1].KVs["late"]; ok {
		t.Error("a write after the checkpoint reached the export")
	}

	// Log ids continue past the imported applied id.
	s := open(t, dataPath, nil)
	if id := put(t, s.Space(5).Part(1), "next", "n"); id != want[1].Applied+1 {
		t.Errorf("next log id on an imported part = %d, want %d", id, want[1].Applied+1)
	}
	s.Close()
	// No parts/: nothing to do.
	if ids, err := ImportParts(spaceDir); ids != nil || err != nil {
		t.Errorf("ImportParts without parts/ = %v, %v", ids, err)
	}

	// parts/ again over data that is not its import (applied ids moved on):
	// refused, naming both.
	copyTree(t, filepath.Join(outDir, "1"), filepath.Join(spaceDir, "parts", "1"))
	_, err = ImportParts(spaceDir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(spaceDir, "data")) || !strings.Contains(err.Error(), filepath.Join(spaceDir, "parts", "1")) {
		t.Errorf("ImportParts over other data: %v; want a refusal naming data and parts/1", err)
	}
	if _, err := os.Stat(filepath.Join(spaceDir, "parts", "1", "data.sst")); err != nil {
		t.Errorf("a refused import touched parts/: %v", err)
	}
}

func TestImportPartsRerunAfterCrash(t *testing.T) {
	outDir, cp, want, _ := exportFixture(t)
	subset := []int32{1, 2, 4}
	prepare := func(t *testing.T) (dataPath, spaceDir string) {
		dataPath = t.TempDir()
		spaceDir = filepath.Join(dataPath, "nebula", "5")
		for _, id := range subset {
			copyTree(t, filepath.Join(outDir, strconv.Itoa(int(id))), filepath.Join(spaceDir, "parts", strconv.Itoa(int(id))))
		}
		copyTree(t, cp.Parts[3].WALDir, filepath.Join(spaceDir, "parts", "4", "wal"))
		return dataPath, spaceDir
	}
	// The state of a clean import.
	cleanPath, cleanDir := prepare(t)
	if _, err := ImportParts(cleanDir); err != nil {
		t.Fatal(err)
	}
	clean := readSpace(t, cleanPath, 5)
	if len(clean) != 3 || !reflect.DeepEqual(clean[4], want[4]) {
		t.Fatalf("clean import: %v", clean)
	}
	wals := func(spaceDir string) []string {
		var out []string
		for _, id := range subset {
			ents, err := os.ReadDir(filepath.Join(spaceDir, "wal", strconv.Itoa(int(id))))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				out = append(out, fmt.Sprintf("%d/%s", id, e.Name()))
			}
		}
		return out
	}
	cleanWALs := wals(cleanDir)
	// build runs ImportParts' build step alone (data renamed, parts/ left)
	// and returns parts/.
	build := func(t *testing.T, spaceDir string) string {
		partsDir := filepath.Join(spaceDir, "parts")
		applied := map[int32]uint64{}
		for _, id := range subset {
			applied[id] = want[id].Applied
		}
		if err := buildFromParts(spaceDir, partsDir, subset, applied); err != nil {
			t.Fatal(err)
		}
		return partsDir
	}

	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, spaceDir string)
	}{
		{"leftover data.importing", func(t *testing.T, spaceDir string) {
			// A build cut short: a key no part has, which a resumed build
			// must not keep.
			db, err := pebble.Open(filepath.Join(spaceDir, importingName), spaceOptions())
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Set(dataKey(1, []byte("half-built")), []byte("junk"), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"data renamed, parts/ left", func(t *testing.T, spaceDir string) {
			build(t, spaceDir)
		}},
		{"one WAL moved, parts/ left", func(t *testing.T, spaceDir string) {
			partsDir := build(t, spaceDir)
			os.MkdirAll(filepath.Join(spaceDir, "wal"), 0o755)
			if err := moveWAL(filepath.Join(partsDir, "4", "wal"), filepath.Join(spaceDir, "wal", "4")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataPath, spaceDir := prepare(t)
			tc.crash(t, spaceDir)
			ids, err := ImportParts(spaceDir)
			if err != nil || !reflect.DeepEqual(ids, subset) {
				t.Fatalf("rerun: %v, %v", ids, err)
			}
			if got := readSpace(t, dataPath, 5); !reflect.DeepEqual(got, clean) {
				t.Errorf("after the rerun:\n got  %v\n want %v", got, clean)
			}
			if got := wals(spaceDir); !reflect.DeepEqual(got, cleanWALs) {
				t.Errorf("WAL files after the rerun %v, want %v", got, cleanWALs)
			}
			for _, p := range []string{"parts", importingName} {
				if _, err := os.Stat(filepath.Join(spaceDir, p)); !os.IsNotExist(err) {
					t.Errorf("%s left after the rerun: %v", p, err)
				}
			}
		})
	}
}

func TestImportPartsRefusesForeignSST(t *testing.T) {
	outDir, _, _, _ := exportFixture(t)
	spaceDir := filepath.Join(t.TempDir(), "nebula", "5")
	// Part 1's table filed as part 2's: its keys belong to part 1.
	copyTree(t, filepath.Join(outDir, "1"), filepath.Join(spaceDir, "parts", "2"))
	_, err := ImportParts(spaceDir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(spaceDir, "parts", "2", "data.sst")) {
		t.Fatalf("ImportParts with part 1's keys under parts/2: %v", err)
	}
	if _, err := os.Stat(filepath.Join(spaceDir, "data")); !os.IsNotExist(err) {
		t.Errorf("a refused import created data: %v", err)
	}
}

// ExportParts of some parts (a backup takes each part from its leader)
// writes those only, each as the whole export does; a part the checkpoint
// does not hold is an error naming it.
func TestExportSomeParts(t *testing.T) {
	all, cp, _, _ := exportFixture(t)
	some := filepath.Join(t.TempDir(), "some")
	got, err := ExportParts(cp.Dir, some, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Part != 2 || got[1].Part != 4 {
		t.Fatalf("exported %+v, want parts 2 and 4", got)
	}
	ents, _ := os.ReadDir(some)
	if len(ents) != 2 {
		t.Fatalf("export of parts 2 and 4 wrote %d directories", len(ents))
	}
	for _, part := range []string{"2", "4"} {
		for _, f := range []string{partSSTName, partAppliedName} {
			a, errA := os.ReadFile(filepath.Join(all, part, f))
			b, errB := os.ReadFile(filepath.Join(some, part, f))
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				t.Errorf("part %s %s differs from the whole export's (%v, %v)", part, f, errA, errB)
			}
		}
	}
	if _, err := ExportParts(cp.Dir, t.TempDir(), 9); err == nil || !strings.Contains(err.Error(), "part 9") {
		t.Errorf("export of a part the checkpoint lacks: %v", err)
	}
}

// Tables that hold one part's keys, and that nothing else overlaps, are
// linked as they are; the rest of a part is rewritten; the import of both
// is exact.
func TestExportLinksWholeTables(t *testing.T) {
	// A compaction may merge the tables below into one over parts 2..4
	// (rewritten then: right, but not what this test looks at).
	spaceAutoCompactions = false
	defer func() { spaceAutoCompactions = true }()
	s := open(t, t.TempDir(), nil)
	defer s.Close()
	ingest := func(part int32, n int) {
		t.Helper()
		_, _, err := s.IngestPart(9, part, func(put func(k, v []byte) error) error {
			for i := range n {
				if err := put(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%d-%d", part, i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for part := int32(1); part <= 3; part++ {
		ingest(part, 200)
	}
	sp := s.Space(9)
	// Part 2: a key inside its ingested table overwritten. The flushed
	// table also holds part 2's applied id, so its bounds reach past part
	// 3's table, which it holds no key of.
	put(t, sp.Part(2), "k0100", "new")
	if err := sp.Flush(); err != nil {
		t.Fatal(err)
	}
	// Part 3: a key after its ingested table; part 4: written only.
	put(t, sp.Part(3), "z", "after")
	p4, err := s.AddPart(9, 4)
	if err != nil {
		t.Fatal(err)
	}
	put(t, p4, "a", "4a")
	want := map[int32]partState{}
	for _, id := range sp.Parts() {
		want[id] = readPart(t, sp.Part(id))
	}
	cp, err := s.Checkpoint(9, "WHOLE")
	if err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(t.TempDir(), "out")
	exported, err := ExportParts(cp.Dir, outDir)
	if err != nil {
		t.Fatal(err)
	}

	// What each part's directory holds, and whether table-1.sst is one of
	// the checkpoint's own files.
	cpTables := map[string]os.FileInfo{}
	ents, _ := os.ReadDir(filepath.Join(cp.Dir, "data"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".sst") {
			info, err := os.Stat(filepath.Join(cp.Dir, "data", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			cpTables[e.Name()] = info
		}
	}
	layout := func(part int32) string {
		var files []string
		ents, _ := os.ReadDir(filepath.Join(outDir, strconv.Itoa(int(part))))
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, "table-") {
				info, _ := os.Stat(filepath.Join(outDir, strconv.Itoa(int(part)), name))
				for _, c := range cpTables {
					if os.SameFile(info, c) {
						name += "(linked)"
					}
				}
			}
			files = append(files, name)
		}
		return strings.Join(files, " ")
	}
	for part, wantLayout := range map[int32]string{
		1: "applied table-1.sst(linked)",
		2: "applied data.sst",
		3: "applied data.sst table-1.sst(linked)",
		4: "applied data.sst",
	} {
		if got := layout(part); got != wantLayout {
			t.Errorf("part %d exported as %q, want %q", part, got, wantLayout)
		}
	}
	for _, e := range exported {
		var size int64
		ents, _ := os.ReadDir(filepath.Join(outDir, strconv.Itoa(int(e.Part))))
		for _, f := range ents {
			if info, _ := f.Info(); strings.HasSuffix(f.Name(), ".sst") {
				size += info.Size()
			}
		}
		if e.Keys != int64(len(want[e.Part].KVs)) || e.Bytes != size || e.LogID != want[e.Part].Applied {
			t.Errorf("exported %+v; want %d keys, %d bytes, log id %d", e, len(want[e.Part].KVs), size, want[e.Part].Applied)
		}
	}

	spaceDir := filepath.Join(t.TempDir(), "nebula", "9")
	for _, e := range exported {
		copyTree(t, filepath.Join(outDir, strconv.Itoa(int(e.Part))), filepath.Join(spaceDir, "parts", strconv.Itoa(int(e.Part))))
	}
	if _, err := ImportParts(spaceDir); err != nil {
		t.Fatal(err)
	}
	if got := readSpace(t, filepath.Dir(filepath.Dir(spaceDir)), 9); !reflect.DeepEqual(got, want) {
		t.Fatalf("imported space:\n got  %v\n want %v", got, want)
	}
}
