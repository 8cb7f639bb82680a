package metad

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/rpc"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// slowAdmin is a storaged admin service whose BLOCK_ON waits for release.
type slowAdmin struct{ release chan struct{} }

func (a slowAdmin) BlockingWrites(ctx context.Context, spaces []int32, on bool, o client.CutOptions) error {
	if on && !o.PrepareOnly {
		select {
		case <-a.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (a slowAdmin) CreateCheckpoint(_ context.Context, spaces []int32, name string, _ client.CutOptions) ([]CheckpointInfo, error) {
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

// cutRecorder is a storaged admin service holding every part of every
// space (one each), which records the options of each BLOCK_ON and cut.
type cutRecorder struct {
	mu   *sync.Mutex
	cuts *[]string
}

func (a cutRecorder) record(what string, o client.CutOptions) {
	a.mu.Lock()
	defer a.mu.Unlock()
	*a.cuts = append(*a.cuts, fmt.Sprintf("%s wal_only=%v", what, o.WALOnly))
}

func (a cutRecorder) BlockingWrites(_ context.Context, _ []int32, on bool, o client.CutOptions) error {
	switch {
	case o.PrepareOnly:
		a.record("prepare", o)
	case on:
		a.record("block", o)
	}
	return nil
}

func (a cutRecorder) CreateCheckpoint(ctx context.Context, spaces []int32, name string, o client.CutOptions) ([]CheckpointInfo, error) {
	a.record("cut", o)
	return slowAdmin{}.CreateCheckpoint(ctx, spaces, name, o)
}

func (cutRecorder) DropCheckpoint(context.Context, []int32, string) error { return nil }
func (cutRecorder) Close() error                                          { return nil }

// An incremental backup asks the hosts for a cut of the WAL only (no flush,
// no data), unless a space is new since its base: that one's data goes in
// full. A full cut is prepared (every host flushes) before any host blocks.
func TestIncrementalCutsWALOnly(t *testing.T) {
	var cuts []string
	admin := cutRecorder{mu: &sync.Mutex{}, cuts: &cuts}
	m, err := Open(Config{Addr: Addr{Host: "127.0.0.1", Port: 1}, DataPath: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Admin: func(context.Context, Addr) (Admin, error) { return admin, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Heartbeat(&Host{Addr: Addr{Host: "127.0.0.1", Port: 2}, Role: RoleStorage}, 0); err != nil {
		t.Fatal(err)
	}
	space := func(name string) {
		if _, err := m.CreateSpace(SpaceSpec{Name: name, PartitionNum: 1, VidType: propInt64}, false); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	backup := func(spaces []string, base string, want bool) string {
		t.Helper()
		cuts = nil
		bm, err := m.CreateBackup(ctx, spaces, base, 0)
		if err != nil {
			t.Fatal(err)
		}
		w := fmt.Sprintf("[block wal_only=%v cut wal_only=%v]", want, want)
		if !want { // a full cut flushes first, writes still flowing
			w = "[prepare wal_only=false block wal_only=false cut wal_only=false]"
		}
		if got := fmt.Sprint(cuts); got != w {
			t.Errorf("backup of %v on base %q: the host was asked %s, want %s", spaces, base, got, w)
		}
		return bm.Name
	}
	space("s")
	full := backup(nil, "", false)
	incr := backup(nil, full, true)
	space("t")
	incr2 := backup(nil, incr, false) // t is new since incr
	backup([]string{"s"}, incr2, true)
}
