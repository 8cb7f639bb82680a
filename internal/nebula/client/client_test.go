package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

var ctx = context.Background()

// fakeMeta is a test double for metad; calling a method it does not
// override panics (nil embedded interface).
type fakeMeta struct {
	meta.MetaService
	versionCode nebula.ErrorCode
	gotVersion  atomic.Value // string
	gotBackup   atomic.Pointer[meta.CreateBackupReq]
	backup      *meta.BackupMeta
	delay       atomic.Int64 // nanoseconds
	backupCode  nebula.ErrorCode
	hosts       []*meta.HostItem
	snapshots   []*meta.Snapshot
}

func (f *fakeMeta) ListHosts(context.Context, *meta.ListHostsReq) (*meta.ListHostsResp, error) {
	return &meta.ListHostsResp{Hosts: f.hosts}, nil
}

func (f *fakeMeta) ListSnapshots(context.Context, *meta.ListSnapshotsReq) (*meta.ListSnapshotsResp, error) {
	return &meta.ListSnapshotsResp{Snapshots: f.snapshots}, nil
}

func (f *fakeMeta) VerifyClientVersion(_ context.Context, req *meta.VerifyClientVersionReq) (*meta.VerifyClientVersionResp, error) {
	f.gotVersion.Store(string(req.ClientVersion))
	resp := &meta.VerifyClientVersionResp{Code: f.versionCode}
	if f.versionCode != nebula.ErrorCode_SUCCEEDED {
		resp.ErrorMsg = []byte("client version not in white list")
	}
	return resp, nil
}

func (f *fakeMeta) ListSpaces(context.Context, *meta.ListSpacesReq) (*meta.ListSpacesResp, error) {
	time.Sleep(time.Duration(f.delay.Load()))
	id := nebula.GraphSpaceID(7)
	return &meta.ListSpacesResp{Spaces: []*meta.IdName{{ID: &meta.ID{SpaceID: &id}, Name: []byte("basketball")}}}, nil
}

// DropSpace answers without id or leader, as metad does; the empty union
// must still serialize.
func (f *fakeMeta) DropSpace(_ context.Context, req *meta.DropSpaceReq) (*meta.ExecResp, error) {
	if string(req.SpaceName) != "basketball" {
		return &meta.ExecResp{Code: nebula.ErrorCode_E_SPACE_NOT_FOUND}, nil
	}
	return &meta.ExecResp{Code: nebula.ErrorCode_SUCCEEDED}, nil
}

func (f *fakeMeta) CreateSpace(_ context.Context, req *meta.CreateSpaceReq) (*meta.ExecResp, error) {
	if req.Properties.GetVidType().GetType() != nebula.PropertyType_FIXED_STRING || req.Properties.VidType.TypeLength != 8 {
		return &meta.ExecResp{Code: nebula.ErrorCode_E_INVALID_PARM}, nil
	}
	id := nebula.GraphSpaceID(3)
	return &meta.ExecResp{Code: nebula.ErrorCode_SUCCEEDED, ID: &meta.ID{SpaceID: &id}}, nil
}

func (f *fakeMeta) CreateBackup(_ context.Context, req *meta.CreateBackupReq) (*meta.CreateBackupResp, error) {
	f.gotBackup.Store(req)
	if string(req.BaseBackupName) == "broken" {
		return &meta.CreateBackupResp{Code: nebula.ErrorCode_E_BACKUP_FAILED}, nil
	}
	if f.backupCode != nebula.ErrorCode_SUCCEEDED {
		return &meta.CreateBackupResp{Code: f.backupCode}, nil
	}
	return &meta.CreateBackupResp{Code: nebula.ErrorCode_SUCCEEDED, Meta: f.backup}, nil
}

func (f *fakeMeta) ListCluster(context.Context, *meta.ListClusterInfoReq) (*meta.ListClusterInfoResp, error) {
	return &meta.ListClusterInfoResp{HostServices: map[string][]*meta.ServiceInfo{
		"h1": {
			{Addr: &nebula.HostAddr{Host: "h1", Port: 8888}, Role: meta.HostRole_AGENT, Dir: &nebula.DirInfo{Root: []byte("/nebula")}},
			{Addr: &nebula.HostAddr{Host: "h1", Port: 9779}, Role: meta.HostRole_STORAGE},
		},
		"h2": {{Addr: &nebula.HostAddr{Host: "h2", Port: 9669}, Role: meta.HostRole_GRAPH}},
	}}, nil
}

func sampleBackup() *meta.BackupMeta {
	return &meta.BackupMeta{
		SpaceBackups: map[nebula.GraphSpaceID]*meta.SpaceBackupInfo{
			1: {
				Space: &meta.SpaceDesc{SpaceName: []byte("s1"), PartitionNum: 2, ReplicaFactor: 1,
					VidType: &meta.ColumnTypeDef{Type: nebula.PropertyType_INT64}},
				HostBackups: []*meta.HostBackupInfo{{
					Host: &nebula.HostAddr{Host: "storaged0", Port: 9779},
					Checkpoints: []*nebula.CheckpointInfo{{
						SpaceID:  1,
						Parts:    map[nebula.PartitionID]*nebula.LogInfo{1: {LogID: 10, TermID: 2, CommitLogID: 10, CheckpointPath: []byte("/data/1/checkpoints/b/1")}},
						DataPath: []byte("/data/storage/nebula/1"),
					}},
				}},
			},
		},
		MetaFiles:    [][]byte{[]byte("__tags__.sst")},
		BackupName:   []byte("BACKUP_2024_01_01_00_00_00"),
		Full:         true,
		AllSpaces:    true,
		CreateTime:   1700000000000,
		StorageHosts: []*nebula.HostAddr{{Host: "storaged0", Port: 9779}},
		ClusterID:    42,
	}
}

func startMeta(t *testing.T, f *fakeMeta) (*testServer, *MetaClient) {
	t.Helper()
	s := serve(t, meta.NewMetaServiceProcessor(f))
	m, err := NewMetaClient(s.addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return s, m
}

func TestMetaRoundTrip(t *testing.T) {
	f := &fakeMeta{backup: sampleBackup()}
	_, m := startMeta(t, f)
	if v := f.gotVersion.Load(); v != "3.0.0" {
		t.Fatalf("client version sent = %v, want 3.0.0", v)
	}

	got, err := m.CreateBackup(ctx, nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(f.backup) {
		t.Fatalf("backup meta did not round-trip:\n got %v\nwant %v", got, f.backup)
	}
	if req := f.gotBackup.Load(); req.IsSetSpaces() || req.IsSetBaseBackupName() || req.IsSetClusterID() {
		t.Fatalf("full backup of all spaces should leave optional fields unset: %v", req)
	}
	if _, err := m.CreateBackup(ctx, []string{"s1"}, "base", 42); err != nil {
		t.Fatal(err)
	}
	if req := f.gotBackup.Load(); string(req.Spaces[0]) != "s1" || string(req.BaseBackupName) != "base" || req.GetClusterID() != 42 {
		t.Fatalf("incremental backup request = %v", req)
	}

	id, err := m.CreateSpace(ctx, &meta.SpaceDesc{SpaceName: []byte("s3")}, false)
	if err != nil || id != 3 {
		t.Fatalf("CreateSpace = %d, %v (vid_type default must be FIXED_STRING(8))", id, err)
	}
	if err := m.DropSpace(ctx, "basketball", false); err != nil {
		t.Fatal(err)
	}

	all, err := m.ListCluster(ctx)
	if err != nil || len(all) != 2 || len(all["h1"]) != 2 {
		t.Fatalf("ListCluster() = %v, %v", all, err)
	}
	agents, err := m.ListCluster(ctx, meta.HostRole_AGENT)
	if err != nil || len(agents) != 1 || agents["h1"][0].Role != meta.HostRole_AGENT || string(agents["h1"][0].Dir.Root) != "/nebula" {
		t.Fatalf("ListCluster(AGENT) = %v, %v", agents, err)
	}
}

func TestMetaCodeError(t *testing.T) {
	_, m := startMeta(t, &fakeMeta{})

	_, err := m.CreateBackup(ctx, nil, "broken", 1)
	var ce *CodeError
	if !errors.As(err, &ce) {
		t.Fatalf("want *CodeError, got %T %v", err, err)
	}
	if ce.Method != "createBackup" || ce.Code != nebula.ErrorCode_E_BACKUP_FAILED {
		t.Fatalf("CodeError = %+v", ce)
	}
	if got, want := err.Error(), "meta createBackup: E_BACKUP_FAILED"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !IsCode(err, nebula.ErrorCode_E_BACKUP_FAILED) || IsCode(err, nebula.ErrorCode_E_LEADER_CHANGED) {
		t.Fatal("IsCode mismatch")
	}

	err = m.DropSpace(ctx, "nope", false)
	if !IsCode(err, nebula.ErrorCode_E_SPACE_NOT_FOUND) || err.Error() != "meta dropSpace: E_SPACE_NOT_FOUND" {
		t.Fatalf("DropSpace error = %v", err)
	}

	// The connection survives code errors.
	if _, err := m.ListSpaces(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMetaVersionRejected(t *testing.T) {
	s := serve(t, meta.NewMetaServiceProcessor(&fakeMeta{versionCode: nebula.ErrorCode_E_CLIENT_SERVER_INCOMPATIBLE}))
	_, err := NewMetaClient(s.addr(), Options{})
	if !IsCode(err, nebula.ErrorCode_E_CLIENT_SERVER_INCOMPATIBLE) {
		t.Fatalf("want E_CLIENT_SERVER_INCOMPATIBLE, got %v", err)
	}
	want := "meta verifyClientVersion: E_CLIENT_SERVER_INCOMPATIBLE: client version not in white list"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestTransportErrorNamesAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	_, err = NewMetaClient(addr, Options{ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if got, want := err.Error(), "meta "+addr+": connection refused"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	var te *TransportError
	if !errors.As(err, &te) || te.Addr != addr || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want *TransportError wrapping ECONNREFUSED, got %#v", err)
	}

	_, err = NewStorageAdminClient(addr, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "storage "+addr+": ") {
		t.Fatalf("storage dial error = %v", err)
	}
}

func TestReconnectAfterServerDrop(t *testing.T) {
	f := &fakeMeta{}
	s, m := startMeta(t, f)
	if _, err := m.ListSpaces(ctx); err != nil {
		t.Fatal(err)
	}
	s.dropConns()
	spaces, err := m.ListSpaces(ctx)
	if err != nil {
		t.Fatalf("call after server dropped the connection: %v", err)
	}
	if len(spaces) != 1 || string(spaces[0].Name) != "basketball" || spaces[0].ID.GetSpaceID() != 7 {
		t.Fatalf("ListSpaces = %v", spaces)
	}
	if n := s.accepts.Load(); n != 2 {
		t.Fatalf("server accepted %d connections, want 2", n)
	}

	// With the server gone for good, the error names the address.
	s.stop()
	_, err = m.ListSpaces(ctx)
	var te *TransportError
	if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "meta "+s.addr()+": ") {
		t.Fatalf("want *TransportError naming %s, got %v", s.addr(), err)
	}
}

func TestRequestTimeoutDropsConnection(t *testing.T) {
	f := &fakeMeta{}
	s := serve(t, meta.NewMetaServiceProcessor(f))
	m, err := NewMetaClient(s.addr(), Options{RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f.delay.Store(int64(300 * time.Millisecond))
	_, err = m.ListSpaces(ctx)
	var te *TransportError
	if !errors.As(err, &te) || te.Method != "listSpaces" {
		t.Fatalf("want timeout *TransportError, got %v", err)
	}
	f.delay.Store(0)
	if _, err := m.ListSpaces(ctx); err != nil {
		t.Fatalf("call after a timeout: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.ListSpaces(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

type fakeAdmin struct{ storage.StorageAdminService }

func (fakeAdmin) CreateCheckpoint(_ context.Context, req *storage.CreateCPRequest) (*storage.CreateCPResp, error) {
	var info []*nebula.CheckpointInfo
	for _, id := range req.SpaceIds {
		info = append(info, &nebula.CheckpointInfo{SpaceID: id, DataPath: []byte("/data/" + string(req.Name))})
	}
	return &storage.CreateCPResp{Code: nebula.ErrorCode_SUCCEEDED, Info: info}, nil
}

func (fakeAdmin) BlockingWrites(_ context.Context, req *storage.BlockingSignRequest) (*storage.BlockingSignResp, error) {
	if req.Sign != storage.EngineSignType_BLOCK_ON {
		return &storage.BlockingSignResp{Code: nebula.ErrorCode_E_INVALID_PARM}, nil
	}
	return &storage.BlockingSignResp{Code: nebula.ErrorCode_SUCCEEDED}, nil
}

func TestStorageAdmin(t *testing.T) {
	s := serve(t, storage.NewStorageAdminServiceProcessor(fakeAdmin{}))
	a, err := NewStorageAdminClient(s.addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	info, err := a.CreateCheckpoint(ctx, []nebula.GraphSpaceID{1, 2}, "snap")
	if err != nil || len(info) != 2 || info[1].SpaceID != 2 || string(info[0].DataPath) != "/data/snap" {
		t.Fatalf("CreateCheckpoint = %v, %v", info, err)
	}
	if err := a.BlockingWrites(ctx, nil, storage.EngineSignType_BLOCK_ON); err != nil {
		t.Fatal(err)
	}
	err = a.BlockingWrites(ctx, nil, storage.EngineSignType_BLOCK_OFF)
	if err == nil || err.Error() != "storage blockingWrites: E_INVALID_PARM" {
		t.Fatalf("BlockingWrites(OFF) = %v", err)
	}
}

type fakeLite struct{ storage.LiteStorageService }

func (fakeLite) Write(_ context.Context, req *storage.LiteWriteRequest) (*storage.ExecResponse, error) {
	rc := &storage.ResponseCommon{FailedParts: []*storage.PartitionResult_{}}
	for part, b := range req.Parts {
		if len(b.Puts) == 0 && len(b.Removes) == 0 {
			rc.FailedParts = append(rc.FailedParts, &storage.PartitionResult_{
				Code: nebula.ErrorCode_E_LEADER_CHANGED, PartID: part, Leader: &nebula.HostAddr{Host: "other", Port: 9779}})
		}
	}
	return &storage.ExecResponse{Result_: rc}, nil
}

func (fakeLite) Scan(_ context.Context, req *storage.LiteScanRequest) (*storage.LiteScanResponse, error) {
	rc := &storage.ResponseCommon{FailedParts: []*storage.PartitionResult_{}}
	if req.PartID == 99 {
		rc.FailedParts = append(rc.FailedParts, &storage.PartitionResult_{Code: nebula.ErrorCode_E_PART_NOT_FOUND, PartID: 99})
		return &storage.LiteScanResponse{Result_: rc}, nil
	}
	return &storage.LiteScanResponse{
		Result_: rc,
		Kvs:     []*nebula.KeyValue{{Key: append(req.Prefix, 'a'), Value: []byte("1")}},
		HasNext: true,
	}, nil
}

func TestLiteStorage(t *testing.T) {
	s := serve(t, storage.NewLiteStorageServiceProcessor(fakeLite{}))
	l, err := NewLiteStorageClient(s.addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	ok := &storage.LiteBatch{Puts: []*nebula.KeyValue{{Key: []byte("k"), Value: []byte("v")}}, Removes: [][]byte{}}
	empty := &storage.LiteBatch{Puts: []*nebula.KeyValue{}, Removes: [][]byte{}}
	if err := l.Write(ctx, &storage.LiteWriteRequest{SpaceID: 1, Parts: map[nebula.PartitionID]*storage.LiteBatch{1: ok}}); err != nil {
		t.Fatal(err)
	}
	err = l.Write(ctx, &storage.LiteWriteRequest{SpaceID: 1, Parts: map[nebula.PartitionID]*storage.LiteBatch{1: ok, 3: empty}})
	var pe *PartError
	if !errors.As(err, &pe) || pe.Part != 3 || pe.Leader.GetHost() != "other" {
		t.Fatalf("want *PartError for part 3, got %v", err)
	}
	if got, want := err.Error(), "storage write: space 1 part 3: E_LEADER_CHANGED"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	err = l.Write(ctx, &storage.LiteWriteRequest{SpaceID: 1, Parts: map[nebula.PartitionID]*storage.LiteBatch{2: empty, 3: empty}})
	if !IsCode(err, nebula.ErrorCode_E_LEADER_CHANGED) || strings.Count(err.Error(), "E_LEADER_CHANGED") != 2 {
		t.Fatalf("two failed parts: %v", err)
	}

	resp, err := l.Scan(ctx, &storage.LiteScanRequest{SpaceID: 1, PartID: 1, Prefix: []byte("p"), Limit: 10})
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Key) != "pa" || !resp.HasNext {
		t.Fatalf("Scan = %v, %v", resp, err)
	}
	_, err = l.Scan(ctx, &storage.LiteScanRequest{SpaceID: 1, PartID: 99})
	if !IsCode(err, nebula.ErrorCode_E_PART_NOT_FOUND) {
		t.Fatalf("Scan of a missing part: %v", err)
	}
}

type fakeGraph struct {
	graph.GraphService
	signedOut chan int64
}

func (fakeGraph) VerifyClientVersion(_ context.Context, req *graph.VerifyClientVersionReq) (*graph.VerifyClientVersionResp, error) {
	if string(req.Version) != "3.0.0" {
		return &graph.VerifyClientVersionResp{ErrorCode: nebula.ErrorCode_E_CLIENT_SERVER_INCOMPATIBLE}, nil
	}
	return &graph.VerifyClientVersionResp{ErrorCode: nebula.ErrorCode_SUCCEEDED}, nil
}

func (fakeGraph) Authenticate(_ context.Context, user, pass []byte) (*graph.AuthResponse, error) {
	if string(user) != "root" || string(pass) != "nebula" {
		return &graph.AuthResponse{ErrorCode: nebula.ErrorCode_E_BAD_USERNAME_PASSWORD, ErrorMsg: []byte("bad username/password")}, nil
	}
	sid := int64(1234)
	return &graph.AuthResponse{ErrorCode: nebula.ErrorCode_SUCCEEDED, SessionID: &sid}, nil
}

func (fakeGraph) Execute(_ context.Context, sid int64, stmt []byte) (*graph.ExecutionResponse, error) {
	if sid != 1234 {
		return &graph.ExecutionResponse{ErrorCode: nebula.ErrorCode_E_SESSION_INVALID}, nil
	}
	if string(stmt) != "YIELD 1" {
		return &graph.ExecutionResponse{ErrorCode: nebula.ErrorCode_E_SYNTAX_ERROR, ErrorMsg: []byte("syntax error near `" + string(stmt) + "'")}, nil
	}
	one := int64(1)
	return &graph.ExecutionResponse{
		ErrorCode: nebula.ErrorCode_SUCCEEDED,
		Data: &nebula.DataSet{
			ColumnNames: [][]byte{[]byte("1"), []byte("empty")},
			// An unset Value is NebulaGraph's EMPTY; it must serialize.
			Rows: []*nebula.Row{{Values: []*nebula.Value{{IVal: &one}, {}}}},
		},
	}, nil
}

func (g fakeGraph) Signout(_ context.Context, sid int64) error {
	g.signedOut <- sid
	return nil
}

func TestGraph(t *testing.T) {
	f := fakeGraph{signedOut: make(chan int64, 1)}
	s := serve(t, graph.NewGraphServiceProcessor(f))
	g, err := NewGraphClient(s.addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	if _, err := g.Authenticate(ctx, "root", "wrong"); !IsCode(err, nebula.ErrorCode_E_BAD_USERNAME_PASSWORD) {
		t.Fatalf("bad password: %v", err)
	}
	sid, err := g.Authenticate(ctx, "root", "nebula")
	if err != nil || sid != 1234 || g.SessionID() != 1234 {
		t.Fatalf("Authenticate = %d, %v", sid, err)
	}

	resp, err := g.Execute(ctx, "YIELD 1")
	if err != nil {
		t.Fatal(err)
	}
	row := resp.Data.Rows[0].Values
	if row[0].GetIVal() != 1 || row[1].CountSetFieldsValue() != 0 {
		t.Fatalf("row = %v", row)
	}

	resp, err = g.Execute(ctx, "FOO")
	var ce *CodeError
	if !errors.As(err, &ce) || resp == nil || ce.Code != nebula.ErrorCode_E_SYNTAX_ERROR {
		t.Fatalf("want E_SYNTAX_ERROR, got %v", err)
	}
	if got, want := err.Error(), "graph execute: E_SYNTAX_ERROR: syntax error near `FOO'"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}

	if err := g.Signout(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case sid := <-f.signedOut:
		if sid != 1234 {
			t.Fatalf("signed out session %d", sid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("signout never reached the server")
	}
	if g.SessionID() != 0 {
		t.Fatal("session kept after Signout")
	}
}
