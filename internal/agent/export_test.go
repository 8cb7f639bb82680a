package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/engine"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

// fakeExportEngine is a fake engine (only ExportParts does anything): it
// writes part 1, then waits until part 1 is in storage before writing
// part 2, which only an agent that uploads while the export goes on lets
// it do.
type fakeExportEngine struct {
	engine.NebulaGraph // every other method: not called here
	stored             func() bool
}

func (f fakeExportEngine) ExportParts(ctx context.Context, checkpoint, out string, parts []int32) ([]engine.ExportedPart, error) {
	write := func(part string) error {
		dir := filepath.Join(out, part)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "data.sst"), []byte("table of part "+part), 0o644); err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]int{"log_id": 7, "term": 1})
		return os.WriteFile(filepath.Join(dir, "applied"), b, 0o644) // last: the part is whole
	}
	if err := write("1"); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !f.stored() {
		if time.Now().After(deadline) {
			return nil, errors.New("part 1 was not uploaded while the export went on")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := write("2"); err != nil {
		return nil, err
	}
	return []engine.ExportedPart{{PartID: 1, LogID: 7}, {PartID: 2, LogID: 7}}, nil
}

// An export per part is uploaded part by part as the engine writes it, and
// removed afterwards.
func TestExportUploadedWhileWritten(t *testing.T) {
	storeDir, checkpoint := t.TempDir(), t.TempDir()
	stored := func() bool {
		_, err := os.Stat(filepath.Join(storeDir, "P", "1", "applied"))
		return err == nil
	}
	a := startAgent(t, agent.Config{Engine: fakeExportEngine{stored: stored}})
	sums, err := a.c.Upload(context.Background(), &pb.UploadFileRequest{SourcePath: checkpoint, ExportParts: true,
		Backend: &pb.Backend{Uri: localURI(storeDir)}, Prefix: "P"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range sums {
		keys = append(keys, s.Key)
	}
	if len(keys) != 4 || keys[0] != "1/applied" || keys[3] != "2/data.sst" {
		t.Fatalf("uploaded %v, want each part's applied and data.sst", keys)
	}
	if _, err := os.Stat(filepath.Join(checkpoint, "br-parts")); !os.IsNotExist(err) {
		t.Errorf("the export is left in the checkpoint: %v", err)
	}
}
