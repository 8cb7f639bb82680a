package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/nebula-open/nebula-br/internal/agent"
)

// nebula-agent's API as its v3.7.1 .proto puts it on the wire, written down
// here as facts (method paths, field numbers, enum values), independent of
// our own upstreampb: each request is encoded by field number, sent raw to
// br-agent, and the answer decoded by field number.

// rawCodec passes encoded messages through untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// field is one field of a message: a varint, a string/bytes, or a nested
// message.
type field struct {
	num protowire.Number
	val any // uint64, bool, string, or msg
}

type msg []field

func (m msg) encode() []byte {
	var b []byte
	for _, f := range m {
		switch v := f.val.(type) {
		case uint64:
			b = protowire.AppendTag(b, f.num, protowire.VarintType)
			b = protowire.AppendVarint(b, v)
		case bool:
			b = protowire.AppendTag(b, f.num, protowire.VarintType)
			b = protowire.AppendVarint(b, protowire.EncodeBool(v))
		case string:
			b = protowire.AppendTag(b, f.num, protowire.BytesType)
			b = protowire.AppendString(b, v)
		case msg:
			b = protowire.AppendTag(b, f.num, protowire.BytesType)
			b = protowire.AppendBytes(b, v.encode())
		default:
			panic(fmt.Sprintf("field %d: %T", f.num, v))
		}
	}
	return b
}

// decoded is a message read back: every field by number, varints as
// uint64, length-delimited ones as raw bytes.
type decoded map[protowire.Number][]any

func decode(t *testing.T, b []byte) decoded {
	t.Helper()
	out := decoded{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				t.Fatal("bad varint")
			}
			out[num] = append(out[num], v)
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				t.Fatal("bad bytes")
			}
			out[num] = append(out[num], v)
			b = b[n:]
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
	}
	return out
}

// Upstream's facts.
const (
	roleMeta, roleGraph, roleStorage = 1, 2, 3 // proto.ServiceRole
	statusRunning, statusExited      = 1, 2    // proto.Status
)

func local(path string) msg { return msg{{1, msg{{1, path}}}} } // Backend{local = 1: Local{path = 1}}

func TestUpstreamAgentAPIOnTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	lite, argsFile := fakeNebulaLite(t, dir)
	a := startAgent(t, agent.Config{NebulaLite: lite})
	conn, err := grpc.NewClient(a.srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	call := func(method string, req msg) (decoded, error) {
		in, out := req.encode(), []byte(nil)
		err := conn.Invoke(ctx, method, &in, &out, grpc.ForceCodec(rawCodec{}))
		if err != nil {
			return nil, err
		}
		return decode(t, out), nil
	}
	must := func(method string, req msg) decoded {
		t.Helper()
		d, err := call(method, req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return d
	}
	lastArgs := func() string {
		b, _ := os.ReadFile(argsFile)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return lines[len(lines)-1]
	}

	// HealthCheck answers "healthy" in field 1.
	if d := must("/proto.AgentService/HealthCheck", nil); string(d[1][0].([]byte)) != "healthy" {
		t.Errorf("HealthCheck: %v", d)
	}

	// Roles: GRAPH is 2, STORAGE 3; Status RUNNING 1, EXITED 2.
	root := filepath.Join(dir, "install")
	d := must("/proto.AgentService/ServiceStatus", msg{{1, uint64(roleGraph)}, {2, root}})
	if got := lastArgs(); got != "service status graphd --root "+root {
		t.Errorf("ServiceStatus(GRAPH) ran %q", got)
	}
	if len(d[1]) != 1 || d[1][0] != uint64(statusExited) {
		t.Errorf("ServiceStatus of a stopped graphd: %v, want status %d", d, statusExited)
	}
	must("/proto.AgentService/StartService", msg{{1, uint64(roleStorage)}, {2, root}})
	if got := lastArgs(); got != "service start storaged --root "+root {
		t.Errorf("StartService(STORAGE) ran %q", got)
	}
	d = must("/proto.AgentService/ServiceStatus", msg{{1, uint64(roleStorage)}, {2, root}})
	if len(d[1]) != 1 || d[1][0] != uint64(statusRunning) {
		t.Errorf("ServiceStatus of a running storaged: %v, want status %d", d, statusRunning)
	}
	must("/proto.AgentService/StopService", msg{{1, uint64(roleMeta)}, {2, root}})
	if got := lastArgs(); got != "service stop metad --root "+root {
		t.Errorf("StopService(META) ran %q", got)
	}

	// DataPlayBack{dir 1, data_path 2, meta_addr 3}.
	data := filepath.Join(dir, "data", "storage")
	os.MkdirAll(data, 0o755)
	must("/proto.AgentService/DataPlayBack", msg{{1, root}, {2, data}, {3, "127.0.0.1:9559"}})
	if got := lastArgs(); got != "playback --db_path="+data+" --json --playback_meta_server=127.0.0.1:9559" {
		t.Errorf("DataPlayBack ran %q", got)
	}

	// UploadFile{session_id 1, recursively 2, source_path 3, target_backend 4}.
	src := filepath.Join(dir, "checkpoint")
	a1 := writeFile(t, filepath.Join(src, "data", "000001.sst"), 3000, 1)
	a2 := writeFile(t, filepath.Join(src, "wal", "1", "0000000000000000001.wal"), 500, 2)
	store := filepath.Join(dir, "store")
	must("/proto.StorageService/UploadFile", msg{{1, "s1"}, {2, true}, {3, src}, {4, local(filepath.Join(store, "B", "data", "h:9779", "data0", "1"))}})
	for rel, want := range map[string][]byte{"data/000001.sst": a1, "wal/1/0000000000000000001.wal": a2} {
		got, err := os.ReadFile(filepath.Join(store, "B", "data", "h:9779", "data0", "1", rel))
		if err != nil || string(got) != string(want) {
			t.Errorf("uploaded %s: %v", rel, err)
		}
	}
	// One file, not recursively: to the path itself.
	must("/proto.StorageService/UploadFile", msg{{2, false}, {3, filepath.Join(src, "data", "000001.sst")}, {4, local(filepath.Join(store, "B", "B.meta"))}})
	if got, err := os.ReadFile(filepath.Join(store, "B", "B.meta")); err != nil || string(got) != string(a1) {
		t.Errorf("single-file upload: %v", err)
	}

	// DownloadFile{session_id 1, recursively 2, source_backend 3, target_path 4}.
	target := filepath.Join(dir, "restored", "nebula")
	must("/proto.StorageService/DownloadFile", msg{{1, "s1"}, {2, true}, {3, local(filepath.Join(store, "B", "data", "h:9779", "data0"))}, {4, target}})
	if got, err := os.ReadFile(filepath.Join(target, "1", "data", "000001.sst")); err != nil || string(got) != string(a1) {
		t.Errorf("downloaded: %v", err)
	}

	// IncrUploadFile{session_id 1, source_path 2, target_backend 3, commit_log_id 4, last_log_id 5}:
	// the files from the one holding commit_log_id+1 on, and commitlog.id.
	walDir := filepath.Join(dir, "wal", "7")
	for _, first := range []int{1, 11, 21, 31} {
		writeFile(t, filepath.Join(walDir, fmt.Sprintf("%019d.wal", first)), 100, uint64(first))
	}
	writeFile(t, filepath.Join(walDir, "commitlog.id"), 16, 9)
	must("/proto.StorageService/IncrUploadFile", msg{{1, "s1"}, {2, walDir}, {3, local(filepath.Join(store, "I"))}, {4, uint64(15)}, {5, uint64(35)}})
	entries, _ := os.ReadDir(filepath.Join(store, "I"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := "0000000000000000011.wal 0000000000000000021.wal 0000000000000000031.wal commitlog.id"; strings.Join(names, " ") != want {
		t.Errorf("IncrUploadFile uploaded %v, want %s", names, want)
	}

	// MoveDir{src_path 1, dst_path 2}, ExistDir{path 1} -> {exist 1}, RemoveDir{path 1}.
	moved := filepath.Join(dir, "restored", "nebula_old_1")
	must("/proto.StorageService/MoveDir", msg{{1, target}, {2, moved}})
	if d := must("/proto.StorageService/ExistDir", msg{{1, moved}}); len(d[1]) != 1 || d[1][0] != uint64(1) {
		t.Errorf("ExistDir(moved) = %v", d)
	}
	if d := must("/proto.StorageService/ExistDir", msg{{1, target}}); len(d[1]) != 0 {
		t.Errorf("ExistDir(gone) = %v, want exist unset (false)", d)
	}
	_, err = call("/proto.StorageService/MoveDir", msg{{1, target}, {2, moved + "2"}})
	if err == nil || !strings.Contains(err.Error(), "not exist") { // upstream's br looks for these words
		t.Errorf("MoveDir of a missing dir: %v", err)
	}
	must("/proto.StorageService/RemoveDir", msg{{1, moved}})
	if _, err := os.Stat(moved); !os.IsNotExist(err) {
		t.Errorf("RemoveDir left %s: %v", moved, err)
	}

	// GetSpaceUsages{data_path 1} -> {SpaceUsages 1: [{id 1, usage 2}]}.
	writeFile(t, filepath.Join(data, "nebula", "3", "data", "x"), 1234, 3)
	d = must("/proto.AgentService/GetSpaceUsages", msg{{1, data}})
	if len(d[1]) != 1 {
		t.Fatalf("GetSpaceUsages: %v", d)
	}
	item := decode(t, d[1][0].([]byte))
	if item[1][0] != uint64(3) || item[2][0] != uint64(1234) {
		t.Errorf("space usage item: %v, want id 3 usage 1234", item)
	}

	// BanReadWrite exists, and says it does nothing.
	_, err = call("/proto.AgentService/BanReadWrite", msg{{1, uint64(roleGraph)}, {2, "127.0.0.1:9669"}})
	wantCode(t, err, codes.Unimplemented, "BanReadWrite")
}

// An agent serving only upstream's API does not know ours.
func TestUpstreamOnlyAgent(t *testing.T) {
	a := startAgent(t, agent.Config{UpstreamOnly: true})
	if !a.c.Upstream() {
		t.Fatal("the client did not notice the agent offers only nebula-agent's API")
	}
	h, err := a.c.HealthCheck(context.Background())
	if err != nil || h.Status != "healthy" {
		t.Fatalf("HealthCheck through nebula-agent's API: %v, %v", h, err)
	}
	_, _, _, err = a.c.ReadFile(context.Background(), "/x")
	wantCode(t, err, codes.Unimplemented, "nebula-agent's API", "ReadFile")
	full := startAgent(t, agent.Config{})
	if full.c.Upstream() {
		t.Fatal("the client took br-agent for nebula-agent")
	}
}
