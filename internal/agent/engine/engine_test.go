package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/engine"
	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/testbin"
)

// Both adapters against a real nebula-lite host: its root carries
// scripts/nebula.service and bin/db_playback as a NebulaGraph install does,
// so the nebulagraph adapter drives it exactly as it would drive one.
func TestAdaptersOnANebulaLiteHost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	bin, err := testbin.Build("nebula-lite")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.Up(ctx, cluster.Spec{Root: t.TempDir(), Storaged: 1, AddrBase: "127.0.8.50", Binary: filepath.Join(bin, "nebula-lite")})
	if c != nil {
		defer c.Down()
	}
	if err != nil {
		t.Fatal(err)
	}
	root := c.Hosts[0].Root
	ng := engine.NebulaGraph{}
	lite := engine.NebulaLite{Bin: filepath.Join(bin, "nebula-lite")}

	for _, e := range []engine.Engine{ng, lite} {
		st, err := e.Status(ctx, engine.Graphd, root)
		if err != nil || !st.Running || st.Pid != c.Running(0, "graphd") {
			t.Fatalf("%s: status of a running graphd: %+v, %v (pid file says %d)", e.Name(), st, err, c.Running(0, "graphd"))
		}
		if err := e.Stop(ctx, engine.Graphd, root); err != nil {
			t.Fatalf("%s: stop: %v", e.Name(), err)
		}
		if st, err := e.Status(ctx, engine.Graphd, root); err != nil || st.Running {
			t.Fatalf("%s: status of a stopped graphd: %+v, %v", e.Name(), st, err)
		}
		for range 2 { // a second start of a running service is no error
			if err := e.Start(ctx, engine.Graphd, root); err != nil {
				t.Fatalf("%s: start: %v", e.Name(), err)
			}
		}
		if st, _ := e.Status(ctx, engine.Graphd, root); !st.Running {
			t.Fatalf("%s: graphd not running after start", e.Name())
		}
	}

	// A space with data, then playback: it needs storaged stopped; while
	// it runs, both adapters say so.
	out, err := exec.Command(filepath.Join(bin, "nebula-lite"), "console", "--addr", c.GraphAddr(), "-e",
		`CREATE SPACE g (partition_num = 3, vid_type = FIXED_STRING(8)); USE g; CREATE TAG t(n int); INSERT VERTEX t(n) VALUES "a":(1), "b":(2)`).CombinedOutput()
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	data := filepath.Join(root, "data", "storage")
	for _, e := range []engine.Engine{ng, lite} {
		if _, err := e.Playback(ctx, root, data, c.MetaAddr()); err == nil {
			t.Errorf("%s: playback on a running storaged's data succeeded", e.Name())
		}
	}
	if err := ng.Stop(ctx, engine.Storaged, root); err != nil {
		t.Fatal(err)
	}
	if _, err := ng.Playback(ctx, root, data, c.MetaAddr()); err != nil {
		t.Errorf("nebulagraph: playback through bin/db_playback: %v", err)
	}
	parts, err := lite.Playback(ctx, root, data, c.MetaAddr())
	if err != nil || len(parts) != 3 {
		t.Errorf("nebula-lite: playback: %+v, %v; want the 3 parts of space g", parts, err)
	}

	// An install without db_playback: a clear error naming it.
	if err := os.Remove(filepath.Join(root, "bin", "db_playback")); err != nil {
		t.Fatal(err)
	}
	_, err = ng.Playback(ctx, root, data, c.MetaAddr())
	if status.Code(err) != codes.FailedPrecondition || !contains(err.Error(), filepath.Join(root, "bin", "db_playback"), "incremental restore") {
		t.Errorf("playback without db_playback: %v", err)
	}
	// Not an install at all.
	_, err = ng.Status(ctx, engine.Metad, t.TempDir())
	if status.Code(err) != codes.FailedPrecondition || !contains(err.Error(), "nebula.service") {
		t.Errorf("status in a root without the script: %v", err)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// ExportParts: nebula-lite cuts a checkpoint per part; NebulaGraph cannot.
func TestExportParts(t *testing.T) {
	ctx := context.Background()
	_, err := engine.NebulaGraph{}.ExportParts(ctx, t.TempDir(), t.TempDir(), nil)
	if status.Code(err) != codes.FailedPrecondition || !contains(err.Error(), "per-part export is not available", "--engine nebulagraph") {
		t.Errorf("nebulagraph: ExportParts: %v; want FailedPrecondition", err)
	}

	bin, err := testbin.Build("nebula-lite")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	lite := engine.NebulaLite{Bin: filepath.Join(bin, "nebula-lite")}

	store, err := kv.Open(kv.Options{DataPath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var last uint64
	for part := int32(1); part <= 2; part++ {
		p, err := store.AddPart(9, part)
		if err != nil {
			t.Fatal(err)
		}
		if part == 2 {
			continue // a part without data
		}
		for _, k := range []string{"a", "b", "c"} {
			if last, err = p.Write(kv.Batch{Puts: []kv.KeyValue{{Key: []byte(k), Value: []byte("v")}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cp, err := store.Checkpoint(9, "BACKUP_E")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	parts, err := lite.ExportParts(ctx, cp.Dir, out, nil)
	if err != nil || len(parts) != 2 {
		t.Fatalf("nebula-lite: ExportParts: %+v, %v", parts, err)
	}
	if p := parts[0]; p.PartID != 1 || p.LogID != last || p.Term != 1 || p.Keys != 3 || p.Bytes == 0 {
		t.Errorf("part 1: %+v; want log id %d, 3 keys", p, last)
	}
	if p := parts[1]; p.PartID != 2 || p.LogID != 0 || p.Keys != 0 || p.Bytes != 0 {
		t.Errorf("part 2 (no data): %+v", p)
	}
	if st, err := os.Stat(filepath.Join(out, "1", "data.sst")); err != nil || st.Size() != parts[0].Bytes {
		t.Errorf("part 1's data.sst: %v", err)
	}
	// Only some parts (a backup's parts of this host: those it leads).
	if only, err := lite.ExportParts(ctx, cp.Dir, filepath.Join(t.TempDir(), "only"), []int32{2}); err != nil || len(only) != 1 || only[0].PartID != 2 {
		t.Errorf("nebula-lite: ExportParts of part 2: %+v, %v", only, err)
	}
	missing := filepath.Join(t.TempDir(), "nosuch")
	if _, err := lite.ExportParts(ctx, missing, out, nil); err == nil || !contains(err.Error(), missing) {
		t.Errorf("nebula-lite: ExportParts of a missing checkpoint: %v", err)
	}
}
