package metad

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/rpc"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// slowAdmin is a storaged admin service whose BLOCK_ON waits for release.
type slowAdmin struct{ release chan struct{} }

func (a slowAdmin) BlockingWrites(ctx context.Context, spaces []int32, on bool) error {
	if on {
		select {
		case <-a.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (a slowAdmin) CreateCheckpoint(_ context.Context, spaces []int32, name string) ([]CheckpointInfo, error) {
	var out []CheckpointInfo
	for _, s := range spaces {
		out = append(out, CheckpointInfo{SpaceID: s, DataPath: "/nowhere/" + name, Parts: map[int32]LogInfo{1: {LogID: 1, TermID: 1, CommitLogID: 1}}})
	}
	return out, nil
}

func (slowAdmin) DropCheckpoint(context.Context, []int32, string) error { return nil }
func (slowAdmin) Close() error                                          { return nil }

// A backup while another runs is refused, naming the one in progress,
// which listSnapshots shows INVALID until it completes.
func TestBackupWhileAnotherRuns(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	admin := slowAdmin{release: make(chan struct{})}
	m, err := Open(Config{Addr: Addr{Host: "127.0.0.1", Port: 1}, DataPath: t.TempDir(), Logger: log,
		Admin: func(context.Context, Addr) (Admin, error) { return admin, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv, err := rpc.Listen("127.0.0.1:0", meta.NewMetaServiceProcessor(NewHandler(m)), log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if _, err := m.Heartbeat(&Host{Addr: Addr{Host: "127.0.0.1", Port: 2}, Role: RoleStorage}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateSpace(SpaceSpec{Name: "s", PartitionNum: 1, VidType: propInt64}, false); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := client.NewMetaClient(srv.Addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	first := make(chan error, 1)
	go func() {
		c1, err := client.NewMetaClient(srv.Addr, client.Options{})
		if err != nil {
			first <- err
			return
		}
		defer c1.Close()
		_, err = c1.CreateBackup(ctx, nil, "", 0)
		first <- err
	}()
	var running string
	for deadline := time.Now().Add(10 * time.Second); running == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first backup never showed as an INVALID snapshot")
		}
		snaps, err := c.ListSnapshots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			if s.Status == meta.SnapshotStatus_INVALID {
				running = string(s.Name)
			}
		}
	}

	_, err = c.CreateBackup(ctx, nil, "", 0)
	t.Log(err)
	if !client.IsCode(err, nebula.ErrorCode_E_BACKUP_RUNNING_JOBS) || !strings.Contains(err.Error(), "backup "+running+" is in progress") {
		t.Fatalf("second backup: %v, want E_BACKUP_RUNNING_JOBS naming %s", err, running)
	}

	close(admin.release)
	if err := <-first; err != nil {
		t.Fatalf("first backup: %v", err)
	}
	snaps, err := c.ListSnapshots(ctx)
	if err != nil || len(snaps) != 1 || string(snaps[0].Name) != running || snaps[0].Status != meta.SnapshotStatus_VALID {
		t.Fatalf("snapshots after the backup: %v, %v", snaps, err)
	}
}
