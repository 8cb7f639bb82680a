package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
)

// export-parts on a checkpoint, then playback on a data path that holds a
// subset of the parts under parts/: the space is assembled and reported.
func TestExportPartsAndPlayback(t *testing.T) {
	src := t.TempDir()
	store, err := kv.Open(kv.Options{DataPath: src})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]map[string]string{}
	applied := map[int32]uint64{}
	for part := int32(1); part <= 3; part++ {
		p, err := store.AddPart(3, part)
		if err != nil {
			t.Fatal(err)
		}
		want[part] = map[string]string{}
		for i := range int(part) * 4 {
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("p%d-v%d", part, i)
			if applied[part], err = p.Write(kv.Batch{Puts: []kv.KeyValue{{Key: []byte(k), Value: []byte(v)}}}); err != nil {
				t.Fatal(err)
			}
			want[part][k] = v
		}
	}
	cp, err := store.Checkpoint(3, "BACKUP_CLI")
	if err != nil {
		t.Fatal(err)
	}
	// After the cut: not exported.
	if _, err := store.Space(3).Part(1).Write(kv.Batch{Puts: []kv.KeyValue{{Key: []byte("late"), Value: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := nl(t, "export-parts", "--checkpoint", cp.Dir, "--out", out, "--json")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rep struct {
		Parts []kv.ExportedPart `json:"parts"`
	}
	if code != 0 || json.Unmarshal([]byte(lines[len(lines)-1]), &rep) != nil || len(rep.Parts) != 3 {
		t.Fatalf("export-parts --json: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for i, e := range rep.Parts {
		part := int32(i + 1)
		st, err := os.Stat(filepath.Join(out, strconv.Itoa(int(part)), "data.sst"))
		if e.Part != part || e.LogID != applied[part] || e.Term != kv.Term || e.Keys != int64(len(want[part])) || err != nil || st.Size() != e.Bytes {
			t.Errorf("exported %+v (data.sst %v); want part %d log id %d keys %d", e, err, part, applied[part], len(want[part]))
		}
	}
	if !strings.Contains(stdout, `"part_id":1,"log_id":4,"term":1,"keys":4,"bytes":`) {
		t.Errorf("export-parts --json: %q lacks part 1 in the documented shape", stdout)
	}
	// Text output: one line per part.
	stdout, _, code = nl(t, "export-parts", "--checkpoint", cp.Dir, "--out", filepath.Join(t.TempDir(), "o2"))
	if code != 0 || !strings.Contains(stdout, "part 2: log id 8 term 1, 8 key(s)") || !strings.Contains(stdout, "exported 3 part(s)") {
		t.Errorf("export-parts: exit %d, stdout %q", code, stdout)
	}

	// A host restoring parts 1 and 3, part 1 with its WAL.
	db := t.TempDir()
	spaceDir := filepath.Join(db, "nebula", "3")
	for _, part := range []string{"1", "3"} {
		copyDir(t, filepath.Join(out, part), filepath.Join(spaceDir, "parts", part))
	}
	copyDir(t, cp.Parts[0].WALDir, filepath.Join(spaceDir, "parts", "1", "wal"))
	stdout, stderr, code = nl(t, "playback", "--db_path="+db, "--json")
	var got struct {
		Parts []partApplied `json:"parts"`
	}
	wantParts := []partApplied{{3, 1, applied[1]}, {3, 3, applied[3]}}
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil || !reflect.DeepEqual(got.Parts, wantParts) {
		t.Fatalf("playback --json on parts/: exit %d, %v, stdout %q, stderr %q; want %+v", code, err, stdout, stderr, wantParts)
	}
	if _, err := os.Stat(filepath.Join(spaceDir, "parts")); !os.IsNotExist(err) {
		t.Errorf("parts/ left after playback: %v", err)
	}
	store, err = kv.Open(kv.Options{DataPath: db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, part := range []int32{1, 3} {
		p := store.Space(3).Part(part)
		kvs := map[string]string{}
		if _, err := p.Scan(nil, nil, 0, func(k, v []byte) error { kvs[string(k)] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(kvs, want[part]) || p.Applied() != applied[part] {
			t.Errorf("part %d after playback: %v applied %d; want %v applied %d", part, kvs, p.Applied(), want[part], applied[part])
		}
	}
	if store.Space(3).Part(2) != nil {
		t.Error("part 2 was not restored here but exists")
	}

	// Errors: to stderr, naming the path, exit 1.
	missing := filepath.Join(t.TempDir(), "nosuch")
	if _, stderr, code := nl(t, "export-parts", "--checkpoint", missing, "--out", out); code != 1 || !strings.Contains(stderr, missing) {
		t.Errorf("export-parts of a missing checkpoint: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := nl(t, "export-parts", "--out", out); code != 1 || !strings.Contains(stderr, "--checkpoint and --out are required") {
		t.Errorf("export-parts without --checkpoint: exit %d, stderr %q", code, stderr)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}
