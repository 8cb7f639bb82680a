package metad_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/litetest"
	"github.com/nebula-open/nebula-br/internal/lite/metad"
	"github.com/nebula-open/nebula-br/internal/lite/rpc"
	"github.com/nebula-open/nebula-br/internal/lite/storaged"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

func load(t *testing.T, s *litetest.Session) {
	s.Exec(`CREATE SPACE b (partition_num = 12, vid_type = INT64); USE b; CREATE TAG t(x int)`)
	s.Exec(`INSERT VERTEX t(x) VALUES 1:(1), 2:(2), 3:(3), 4:(4), 5:(5), 6:(6), 7:(7), 8:(8), 9:(9), 10:(10), 11:(11), 12:(12), 13:(13)`)
}

func TestCreateBackup(t *testing.T) {
	c := litetest.Start(t, 3, nil)
	c.WaitStorage(3)
	s := c.Session()
	load(t, s)
	ctx := context.Background()
	m, err := client.NewMetaClient(c.MetaAddr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	bm, err := m.CreateBackup(ctx, nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bm.Full || !bm.AllSpaces || len(bm.StorageHosts) != 3 || bm.ClusterID == 0 || len(bm.MetaFiles) == 0 {
		t.Fatalf("backup meta incomplete: full=%v all=%v hosts=%d cluster=%d meta_files=%d", bm.Full, bm.AllSpaces, len(bm.StorageHosts), bm.ClusterID, len(bm.MetaFiles))
	}
	parts := map[nebula.PartitionID]bool{}
	for _, sb := range bm.SpaceBackups {
		for _, hb := range sb.HostBackups {
			for _, cp := range hb.Checkpoints {
				if _, err := os.Stat(filepath.Join(string(cp.DataPath), "data", "CURRENT")); err != nil {
					t.Errorf("checkpoint of %s has no data: %v", hb.Host, err)
				}
				for p, li := range cp.Parts {
					parts[p] = true
					if li.LogID <= 0 || li.CommitLogID != li.LogID {
						t.Errorf("part %d log info %+v", p, li)
					}
				}
			}
		}
	}
	if len(parts) != 12 {
		t.Fatalf("LogInfo for %d parts, want 12", len(parts))
	}
	for _, f := range bm.MetaFiles {
		if _, err := os.Stat(string(f)); err != nil {
			t.Fatalf("meta file missing: %v", err)
		}
	}

	// Incremental against it works; against an unknown base or cluster it fails.
	if _, err := m.CreateBackup(ctx, nil, string(bm.BackupName), int64(bm.ClusterID)); err != nil {
		t.Fatalf("incremental: %v", err)
	}
	if _, err := m.CreateBackup(ctx, nil, "BACKUP_1999_01_01_00_00_00", 0); !client.IsCode(err, nebula.ErrorCode_E_BACKUP_FAILED) {
		t.Fatalf("unknown base: %v, want E_BACKUP_FAILED", err)
	}
	if _, err := m.CreateBackup(ctx, nil, string(bm.BackupName), int64(bm.ClusterID)+1); !client.IsCode(err, nebula.ErrorCode_E_WRONGCLUSTER) {
		t.Fatalf("foreign cluster: %v, want E_WRONGCLUSTER", err)
	}
	if _, err := m.CreateBackup(ctx, []string{"nope"}, "", 0); !client.IsCode(err, nebula.ErrorCode_E_BACKUP_SPACE_NOT_FOUND) {
		t.Fatalf("unknown space: %v", err)
	}

	// dropSnapshot removes the checkpoints but the backup stays a base.
	if err := m.DropSnapshot(ctx, []string{string(bm.BackupName)}); err != nil {
		t.Fatal(err)
	}
	for _, sb := range bm.SpaceBackups {
		for _, hb := range sb.HostBackups {
			for _, cp := range hb.Checkpoints {
				if _, err := os.Stat(string(cp.DataPath)); !os.IsNotExist(err) {
					t.Errorf("checkpoint %s still there after dropSnapshot", cp.DataPath)
				}
			}
		}
	}
	if _, err := m.CreateBackup(ctx, nil, string(bm.BackupName), 0); err != nil {
		t.Fatalf("incremental after dropSnapshot: %v", err)
	}
}

func TestBlockingWrites(t *testing.T) {
	c := litetest.Start(t, 1, nil)
	c.WaitStorage(1)
	s := c.Session()
	load(t, s)
	ctx := context.Background()
	admin, err := client.NewStorageAdminClient(adminAddr(c), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	spaces := []nebula.GraphSpaceID{1}
	if err := admin.BlockingWrites(ctx, spaces, storage.EngineSignType_BLOCK_ON); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		w := c.Session()
		_, err := w.G.Execute(ctx, `USE b; INSERT VERTEX t(x) VALUES 100:(100)`)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("write completed during BLOCK_ON (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := admin.BlockingWrites(ctx, spaces, storage.EngineSignType_BLOCK_OFF); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("held write failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held write did not complete after BLOCK_OFF")
	}
	if ds := s.Exec(`FETCH PROP ON t 100 YIELD t.x`); len(ds.Rows) != 1 {
		t.Fatal("write held during BLOCK_ON was lost")
	}
}

func adminAddr(c *litetest.Cluster) string {
	cfg := c.SCfg[0]
	return net.JoinHostPort(cfg.LocalIP, strconv.Itoa(rpc.StorageAdminPort(cfg.Port)))
}

func TestRestoreMetaRemapsHosts(t *testing.T) {
	src := litetest.Start(t, 3, nil)
	src.WaitStorage(3)
	load(t, src.Session())
	ctx := context.Background()
	m, err := client.NewMetaClient(src.MetaAddr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bm, err := m.CreateBackup(ctx, nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh metad elsewhere loads the export with old->new host pairs.
	dst, err := metad.Start(metad.ServeConfig{LocalIP: "127.0.0.1", Port: litetest.FreePort(t), DataPath: t.TempDir(), Logger: litetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Stop()
	var files []string
	for _, f := range bm.MetaFiles {
		files = append(files, string(f))
	}
	var pairs []*meta.HostPair
	newHost := map[string]*nebula.HostAddr{}
	for i, h := range bm.StorageHosts {
		to := &nebula.HostAddr{Host: "10.0.0." + string(rune('1'+i)), Port: 9779}
		newHost[h.String()] = to
		pairs = append(pairs, &meta.HostPair{FromHost: h, ToHost: to})
	}
	placement, err := dst.RestoreMeta(files, toPairs(pairs), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(placement) != 1 {
		t.Fatalf("restored %d spaces, want 1", len(placement))
	}
	for _, parts := range placement {
		if len(parts) != 12 {
			t.Fatalf("%d parts placed, want 12", len(parts))
		}
		for p, hosts := range parts {
			if len(hosts) != 1 || hosts[0].Host[:7] != "10.0.0." {
				t.Fatalf("part %d placed on %v, want a new host", p, hosts)
			}
		}
	}
	if sp, err := dst.Space("b", 0); err != nil || sp.PartitionNum != 12 || len(sp.Tags) != 1 {
		t.Fatalf("restored space: %+v %v", sp, err)
	}
	// An unmapped host is refused.
	if _, err := dst.RestoreMeta(files, toPairs(pairs[:1]), nil); err == nil {
		t.Fatal("restoreMeta with unmapped hosts succeeded")
	}

	// A placement instead of pairs (a restore into 2 hosts): parts land
	// where it says; a part placed on too few hosts is refused.
	sp, _ := dst.Space("b", 0)
	given := map[int32]map[int32][]metad.Addr{sp.ID: {}}
	for part := int32(1); part <= 12; part++ {
		given[sp.ID][part] = []metad.Addr{{Host: "10.0.1." + fmt.Sprint(part%2), Port: 9779}}
	}
	placement, err = dst.RestoreMeta(files, nil, given)
	if err != nil {
		t.Fatal(err)
	}
	if got := placement[sp.ID][7]; len(got) != 1 || got[0].Host != "10.0.1.1" {
		t.Fatalf("part 7 placed on %v, want 10.0.1.1 as given", got)
	}
	given[sp.ID][3] = nil
	if _, err := dst.RestoreMeta(files, nil, given); err == nil || !strings.Contains(err.Error(), "part 3") {
		t.Fatalf("a part placed on no host: %v", err)
	}
	// Without pairs, a space given no placement is not restored.
	if placement, err := dst.RestoreMeta(files, nil, map[int32]map[int32][]metad.Addr{}); err != nil || len(placement) != 0 {
		t.Fatalf("restoreMeta placing nothing: %v %v, want no space restored", placement, err)
	}
	if _, err := dst.Space("b", 0); err == nil {
		t.Fatal("a space given no placement was restored")
	}
}

func toPairs(in []*meta.HostPair) []metad.HostPair {
	var out []metad.HostPair
	for _, p := range in {
		out = append(out, metad.HostPair{
			From: metad.Addr{Host: p.FromHost.Host, Port: int32(p.FromHost.Port)},
			To:   metad.Addr{Host: p.ToHost.Host, Port: int32(p.ToHost.Port)},
		})
	}
	return out
}

func TestListClusterNeedsAnAgentOnEveryHost(t *testing.T) {
	c := litetest.Start(t, 2, nil)
	c.WaitStorage(2)
	ctx := context.Background()
	m, err := client.NewMetaClient(c.MetaAddr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.ListCluster(ctx); !client.IsCode(err, nebula.ErrorCode_E_LIST_CLUSTER_NO_AGENT_FAILURE) {
		t.Fatalf("listCluster without agents: %v, want E_LIST_CLUSTER_NO_AGENT_FAILURE", err)
	}
	// Every service of this test runs on 127.0.0.1: one agent covers them.
	resp, err := m.AgentHeartbeat(ctx, &meta.AgentHBReq{Host: &nebula.HostAddr{Host: "127.0.0.1", Port: 8888}})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[meta.HostRole]int{}
	for _, s := range resp.ServiceList {
		roles[s.Role]++
		if s.Role == meta.HostRole_STORAGE && (s.Dir == nil || len(s.Dir.Data) == 0) {
			t.Errorf("storage service without data dirs: %+v", s)
		}
	}
	if roles[meta.HostRole_META] != 1 || roles[meta.HostRole_STORAGE] != 2 {
		t.Fatalf("agent sees services %v, want 1 metad and 2 storaged", roles)
	}
	cl, err := m.ListCluster(ctx)
	if err != nil {
		t.Fatalf("listCluster with an agent: %v", err)
	}
	if n := len(cl["127.0.0.1"]); n < 4 { // metad, 2 storaged, agent (+ graphd)
		t.Fatalf("listCluster host services: %d", n)
	}
}

// A storaged stopped just before a backup is still ONLINE for metad (its
// heartbeats have not expired): the backup fails, and the error names it.
func TestBackupWithStorageJustStoppedNamesIt(t *testing.T) {
	c := litetest.Start(t, 3, nil)
	c.WaitStorage(3)
	load(t, c.Session())
	ctx := context.Background()
	m, err := client.NewMetaClient(c.MetaAddr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c.Storaged[1].Stop()
	c.Storaged[1] = nil
	down := net.JoinHostPort(c.SCfg[1].LocalIP, strconv.Itoa(c.SCfg[1].Port))

	_, err = m.CreateBackup(ctx, nil, "", 0)
	t.Log(err)
	if !client.IsCode(err, nebula.ErrorCode_E_BACKUP_FAILED) {
		t.Fatalf("backup with a storaged down: %v, want E_BACKUP_FAILED", err)
	}
	if got := client.HostsDown(err); len(got) != 1 || got[0] != down {
		t.Fatalf("hosts found down: %v, want [%s]", got, down)
	}
	want := "meta createBackup: E_BACKUP_FAILED: storage host " + down + " does not accept connections (connection refused) though metad still lists it ONLINE (it has just stopped?): start it, then retry"
	if err.Error() != want {
		t.Fatalf("error:\n got %s\nwant %s", err, want)
	}
	// The failed backup left no snapshot.
	if snaps, err := m.ListSnapshots(ctx); err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots after a failed backup: %v, %v", snaps, err)
	}
}

// Once metad has marked the stopped storaged OFFLINE, the error says so.
func TestBackupWithStorageOfflineNamesIt(t *testing.T) {
	dir := t.TempDir()
	log := litetest.Logger(t)
	mport := litetest.FreePort(t)
	md, err := metad.Start(metad.ServeConfig{LocalIP: "127.0.0.1", Port: mport, DataPath: filepath.Join(dir, "meta"), Root: dir, HostTimeout: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Stop()
	metaAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(mport))
	var stors []*storaged.Server
	var addrs []string
	for i := 0; i < 2; i++ {
		cfg := storaged.Config{LocalIP: "127.0.0.1", Port: litetest.FreePort(t), MetaAddr: metaAddr,
			DataPath: filepath.Join(dir, "storage"+strconv.Itoa(i)), Root: dir, HeartbeatInterval: 100 * time.Millisecond, Logger: log}
		s, err := storaged.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if stors[i] != nil {
				stors[i].Stop()
			}
		}()
		stors = append(stors, s)
		addrs = append(addrs, net.JoinHostPort(cfg.LocalIP, strconv.Itoa(cfg.Port)))
	}
	ctx := context.Background()
	m, err := client.NewMetaClient(metaAddr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	waitHosts := func(want meta.HostStatus, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			hosts, err := m.ListHosts(ctx, meta.ListHostType_STORAGE)
			k := 0
			for _, h := range hosts {
				if h.Status == want {
					k++
				}
			}
			if err == nil && k == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d storage hosts %s, want %d (%v)", k, want, n, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitHosts(meta.HostStatus_ONLINE, 2)
	if _, err := m.CreateSpace(ctx, &meta.SpaceDesc{SpaceName: []byte("s"), PartitionNum: 4, ReplicaFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	stors[0].Stop()
	stors[0] = nil
	waitHosts(meta.HostStatus_OFFLINE, 1)

	_, err = m.CreateBackup(ctx, nil, "", 0)
	t.Log(err)
	want := "meta createBackup: E_BACKUP_FAILED: storage host " + addrs[0] + " is OFFLINE: start it (or wait until it registers), then retry"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
}
