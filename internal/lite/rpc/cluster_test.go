package rpc_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/graphd"
	"github.com/nebula-open/nebula-br/internal/lite/litetest"
	"github.com/nebula-open/nebula-br/internal/lite/metad"
	"github.com/nebula-open/nebula-br/internal/lite/rpc"
	"github.com/nebula-open/nebula-br/internal/lite/storaged"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"

	"github.com/apache/thrift/lib/go/thrift"
)

// The cluster of this test owns 127.0.5.1, with NebulaGraph's standard
// ports.
const (
	host        = "127.0.5.1"
	metaPort    = 9559
	storagePort = 9779 // admin service on 9778, raft on 9780
	graphPort   = 9669
)

func addr(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// startCluster runs metad, one storaged and graphd in the test process;
// all stop at cleanup.
func startCluster(t *testing.T) {
	t.Helper()
	for _, p := range []int{metaPort, rpc.StorageAdminPort(storagePort), storagePort, rpc.StorageRaftPort(storagePort), graphPort} {
		l, err := net.Listen("tcp", addr(p))
		if err != nil {
			t.Fatalf("%s is not free: %v", addr(p), err)
		}
		l.Close()
	}
	root, log := t.TempDir(), litetest.Logger(t)
	m, err := metad.Start(metad.ServeConfig{LocalIP: host, Port: metaPort, DataPath: filepath.Join(root, "meta"), Root: root, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	s, err := storaged.Start(storaged.Config{LocalIP: host, Port: storagePort, MetaAddr: addr(metaPort),
		DataPath: filepath.Join(root, "storage"), Root: root, HeartbeatInterval: 200 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	g, err := graphd.Start(graphd.Config{LocalIP: host, Port: graphPort, MetaAddr: addr(metaPort), Root: root, HeartbeatInterval: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() })
}

// headerClient is a thrift client on Apache Thrift's THeader transport,
// with protocol id inside, as nebula-go >= 3.4 speaks to NebulaGraph.
func headerClient(t *testing.T, to string, id thrift.THeaderProtocolID) thrift.TClient {
	t.Helper()
	conf := &thrift.TConfiguration{THeaderProtocolID: &id, MaxFrameSize: 64 << 20,
		ConnectTimeout: time.Minute, SocketTimeout: time.Minute} // a hung server fails the test
	sock := thrift.NewTSocketConf(to, conf)
	if err := sock.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	p := thrift.NewTHeaderProtocolConf(sock, conf)
	return thrift.NewTStandardClient(p, p)
}

// strs renders a data set's rows, strings and integers as they are.
func strs(ds *nebula.DataSet) [][]string {
	var out [][]string
	for _, r := range ds.Rows {
		var row []string
		for _, v := range r.Values {
			switch {
			case v.SVal != nil:
				row = append(row, string(v.SVal))
			case v.IVal != nil:
				row = append(row, strconv.FormatInt(*v.IVal, 10))
			default:
				row = append(row, v.String())
			}
		}
		out = append(out, row)
	}
	return out
}

func columns(ds *nebula.DataSet) []string {
	var out []string
	for _, c := range ds.ColumnNames {
		out = append(out, string(c))
	}
	return out
}

// THeader clients, binary and compact inside, run the README's nGQL on
// graphd and a backup's calls on metad; the framed binary clients work on
// the same servers alongside.
func TestTHeaderClients(t *testing.T) {
	startCluster(t)
	ctx := context.Background()
	for _, pc := range []struct {
		name string
		id   thrift.THeaderProtocolID
	}{{"binary", thrift.THeaderProtocolBinary}, {"compact", thrift.THeaderProtocolCompact}} {
		t.Run(pc.name, func(t *testing.T) {
			space := "g_" + pc.name
			mc := meta.NewMetaServiceClient(headerClient(t, addr(metaPort), pc.id))
			mv, err := mc.VerifyClientVersion(ctx, &meta.VerifyClientVersionReq{ClientVersion: []byte("3.0.0"), Host: &nebula.HostAddr{Host: host, Port: 1}})
			if err != nil || mv.Code != nebula.ErrorCode_SUCCEEDED {
				t.Fatalf("meta verifyClientVersion: %v %v", mv, err)
			}
			waitStorageOnline(t, mc)

			gc := graph.NewGraphServiceClient(headerClient(t, addr(graphPort), pc.id))
			// The handshake nebula-go makes first.
			v, err := gc.VerifyClientVersion(ctx, &graph.VerifyClientVersionReq{Version: []byte("3.0.0")})
			if err != nil || v.ErrorCode != nebula.ErrorCode_SUCCEEDED {
				t.Fatalf("verifyClientVersion: %v %v", v, err)
			}
			v, err = gc.VerifyClientVersion(ctx, &graph.VerifyClientVersionReq{Version: []byte("2.6.0")})
			if err != nil || v.ErrorCode != nebula.ErrorCode_E_CLIENT_SERVER_INCOMPATIBLE || len(v.ErrorMsg) == 0 {
				t.Fatalf("verifyClientVersion 2.6.0: %v %v, want E_CLIENT_SERVER_INCOMPATIBLE", v, err)
			}
			auth, err := gc.Authenticate(ctx, []byte("root"), []byte("nebula"))
			if err != nil || auth.ErrorCode != nebula.ErrorCode_SUCCEEDED || auth.SessionID == nil {
				t.Fatalf("authenticate: %v %v", auth, err)
			}
			sid := *auth.SessionID
			exec := func(stmt string) *nebula.DataSet {
				t.Helper()
				r, err := gc.Execute(ctx, sid, []byte(stmt))
				if err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
				if r.ErrorCode != nebula.ErrorCode_SUCCEEDED {
					t.Fatalf("%s: %v %s", stmt, r.ErrorCode, r.ErrorMsg)
				}
				if r.Data == nil {
					return &nebula.DataSet{}
				}
				return r.Data
			}
			want := func(what string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s = %v, want %v", what, got, want)
				}
			}

			ds := exec(`SHOW HOSTS`)
			want("SHOW HOSTS columns", columns(ds)[:3], []string{"Host", "Port", "Status"})
			want("SHOW HOSTS rows", [][]string{strs(ds)[0][:3]}, [][]string{{host, strconv.Itoa(storagePort), "ONLINE"}})
			exec(`CREATE SPACE ` + space + ` (partition_num = 12, vid_type = FIXED_STRING(16))`)
			exec(`USE ` + space + `; CREATE TAG person(name string, age int); CREATE EDGE knows(since int)`)
			ds = exec(`USE ` + space + `; INSERT VERTEX person(name, age) VALUES "a":("Ann", 30), "b":("Bo", 41);
				INSERT EDGE knows(since) VALUES "a"->"b":(2019);
				GO FROM "a" OVER knows YIELD dst(edge) AS friend, $$.person.name AS name`)
			want("GO columns", columns(ds), []string{"friend", "name"})
			want("GO rows", strs(ds), [][]string{{"b", "Bo"}})
			ds = exec(`FETCH PROP ON person "b", "a" YIELD person.name AS name, person.age AS age`)
			rows := strs(ds)
			slices.SortFunc(rows, func(a, b []string) int { return slices.Compare(a, b) })
			want("FETCH vertex rows", rows, [][]string{{"Ann", "30"}, {"Bo", "41"}})
			ds = exec(`FETCH PROP ON knows "a"->"b" YIELD knows.since AS since`)
			want("FETCH edge rows", strs(ds), [][]string{{"2019"}})

			// A backup of the space, as br takes it.
			b, err := mc.CreateBackup(ctx, &meta.CreateBackupReq{Spaces: [][]byte{[]byte(space)}})
			if err != nil || b.Code != nebula.ErrorCode_SUCCEEDED || b.Meta == nil {
				t.Fatalf("createBackup: %v %v", b, err)
			}
			name := string(b.Meta.BackupName)
			if !b.Meta.Full || len(b.Meta.SpaceBackups) != 1 || len(b.Meta.MetaFiles) == 0 {
				t.Fatalf("createBackup meta: %v", b.Meta)
			}
			for _, sb := range b.Meta.SpaceBackups {
				want("backed-up space", string(sb.Space.SpaceName), space)
				want("backed-up hosts", len(sb.HostBackups), 1)
			}
			if !slices.Contains(snapshots(t, mc), name) {
				t.Fatalf("listSnapshots lacks %s", name)
			}
			d, err := mc.DropSnapshot(ctx, &meta.DropSnapshotReq{Names: [][]byte{[]byte(name)}})
			if err != nil || d.Code != nebula.ErrorCode_SUCCEEDED {
				t.Fatalf("dropSnapshot: %v %v", d, err)
			}
			if slices.Contains(snapshots(t, mc), name) {
				t.Fatalf("listSnapshots still has %s", name)
			}

			// signout is oneway: nothing comes back, and the connection
			// stays in step.
			if err := gc.Signout(ctx, sid); err != nil {
				t.Fatalf("signout: %v", err)
			}
			r, err := gc.Execute(ctx, sid, []byte(`SHOW HOSTS`))
			if err != nil || r.ErrorCode != nebula.ErrorCode_E_SESSION_INVALID {
				t.Fatalf("execute after signout: %v %v, want E_SESSION_INVALID", r, err)
			}
		})
	}

	// Our framed binary clients, on the same servers.
	g, err := client.NewGraphClient(addr(graphPort), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Authenticate(ctx, "root", "nebula"); err != nil {
		t.Fatal(err)
	}
	for _, space := range []string{"g_binary", "g_compact"} {
		r, err := g.Execute(ctx, `USE `+space+`; GO FROM "a" OVER knows YIELD $$.person.name AS name`)
		if err != nil {
			t.Fatalf("framed binary client: %v", err)
		}
		if got := fmt.Sprint(strs(r.Data)); got != "[[Bo]]" {
			t.Fatalf("framed binary client, %s: %s", space, got)
		}
	}
	m, err := client.NewMetaClient(addr(metaPort), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bm, err := m.CreateBackup(ctx, nil, "", 0)
	if err != nil {
		t.Fatalf("framed binary createBackup: %v", err)
	}
	if err := m.DropSnapshot(ctx, []string{string(bm.BackupName)}); err != nil {
		t.Fatalf("framed binary dropSnapshot: %v", err)
	}
}

func snapshots(t *testing.T, mc *meta.MetaServiceClient) []string {
	t.Helper()
	ls, err := mc.ListSnapshots(context.Background(), meta.NewListSnapshotsReq())
	if err != nil || ls.Code != nebula.ErrorCode_SUCCEEDED {
		t.Fatalf("listSnapshots: %v %v", ls, err)
	}
	var names []string
	for _, s := range ls.Snapshots {
		names = append(names, string(s.Name))
	}
	return names
}

// waitStorageOnline waits, over the THeader client, until metad lists the
// storaged online (its first heartbeat is sent before storaged.Start
// returns, so this normally passes at once).
func waitStorageOnline(t *testing.T, mc *meta.MetaServiceClient) {
	t.Helper()
	for i := 0; ; i++ {
		r, err := mc.ListHosts(context.Background(), &meta.ListHostsReq{Type: meta.ListHostType_STORAGE})
		if err != nil {
			t.Fatalf("listHosts: %v", err)
		}
		for _, h := range r.Hosts {
			if h.HostAddr.Host == host && int(h.HostAddr.Port) == storagePort && h.Status == meta.HostStatus_ONLINE {
				return
			}
		}
		if i == 600 {
			t.Fatalf("storaged never listed online: %v", r.Hosts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
