package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCommandArgs(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want []string
	}{
		{[]string{"/usr/bin/nebula-lite", "version"}, []string{"version"}},
		{[]string{"nebula-lite", "metad", "-flagfile=x.conf", "--port=1", "-h"}, []string{"metad", "--flagfile=x.conf", "--port=1", "-h"}},
		{[]string{"/opt/nebula/bin/nebula-storaged", "--flagfile=/etc/s.conf"}, []string{"storaged", "--flagfile=/etc/s.conf"}},
		{[]string{"nebula-graphd", "graphd", "-v=0"}, []string{"graphd", "--v=0"}},
		{[]string{"nebula-graphd"}, []string{"graphd"}},
		{[]string{"nebula-lite", "console", "-e", "SHOW HOSTS"}, []string{"console", "-e", "SHOW HOSTS"}},
		{[]string{"/root/bin/db_playback", "--db_path=/d", "-playback_meta_server=m:1"}, []string{"playback", "--db_path=/d", "--playback_meta_server=m:1"}},
		{[]string{"db_playback", "playback", "-json"}, []string{"playback", "--json"}},
		{[]string{"nebula-lite", "playback", "-db_path=/d"}, []string{"playback", "--db_path=/d"}},
	} {
		if got := commandArgs(tc.argv); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("commandArgs(%q) = %q, want %q", tc.argv, got, tc.want)
		}
	}
}

// parseDaemon runs `<role> args...` and returns the resolved flags.
func parseDaemon(t *testing.T, role string, args ...string) (*daemonFlags, error) {
	t.Helper()
	var got *daemonFlags
	cmd := newDaemonCmd(role, func(_ context.Context, d *daemonFlags) error { got = d; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetErr(new(bytes.Buffer))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return got, err
}

func TestDaemonDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for role, want := range map[string]struct {
		port int
		data string
	}{
		"metad":    {9559, filepath.Join(dir, "data", "meta")},
		"storaged": {9779, filepath.Join(dir, "data", "storage")},
		"graphd":   {9669, ""},
	} {
		d, err := parseDaemon(t, role)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if d.localIP != "127.0.0.1" || d.port != want.port || d.dataPath != want.data || d.root != dir || d.metaAddr() != "127.0.0.1:9559" {
			t.Errorf("%s: local_ip %q port %d data_path %q root %q meta %q", role, d.localIP, d.port, d.dataPath, d.root, d.metaAddr())
		}
	}
	d, _ := parseDaemon(t, "storaged")
	c := d.storagedConfig()
	if c.WALTTL != 4*time.Hour || c.WALFileSize != 16<<20 || c.WALSync || c.HeartbeatInterval != 10*time.Second || c.Kv.CrashAfterWALAppend {
		t.Errorf("storaged defaults: %+v", c)
	}
}

func TestDaemonFlagFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	conf := filepath.Join(dir, "nebula-storaged.conf")
	os.WriteFile(conf, []byte(`# NebulaGraph's storaged flags, ours and others
--daemonize=true
--pid_file=pids/nebula-storaged.pid
--local_ip=storaged-0.example.svc
--port=9000
--meta_server_addrs=meta-0:9559,meta-1:9559
--data_path=rel/storage
--wal_ttl=60
--wal_file_size=1024
--wal_sync=true
--heartbeat_interval_secs=2
--enable_rocksdb_statistics=false
--rocksdb_block_cache=4
--v=0
--minloglevel=0
`), 0o644)
	d, err := parseDaemon(t, "storaged", "--flagfile="+conf, "--port=9100", "--debug_crash_after_wal_append")
	if err != nil {
		t.Fatal(err)
	}
	c := d.storagedConfig()
	if c.Port != 9100 {
		t.Errorf("the command line must win: port %d", c.Port)
	}
	if c.LocalIP != "storaged-0.example.svc" || c.MetaAddr != "meta-0:9559" || c.DataPath != filepath.Join(dir, "rel", "storage") {
		t.Errorf("local_ip %q meta %q data_path %q", c.LocalIP, c.MetaAddr, c.DataPath)
	}
	if c.WALTTL != time.Minute || c.WALFileSize != 1024 || !c.WALSync || c.HeartbeatInterval != 2*time.Second || !c.Kv.CrashAfterWALAppend {
		t.Errorf("storaged config %+v", c)
	}
	if c.Root != dir || c.Version != NebulaVersion {
		t.Errorf("root %q version %q", c.Root, c.Version)
	}

	g, err := parseDaemon(t, "graphd", "--flagfile="+conf)
	if err != nil {
		t.Fatal(err)
	}
	if gc := g.graphdConfig(); gc.Port != 9000 || gc.MetaAddr != "meta-0:9559" || gc.HeartbeatInterval != 2*time.Second {
		t.Errorf("graphd config %+v", gc)
	}

	if _, err := parseDaemon(t, "metad", "--flagfile="+filepath.Join(dir, "missing.conf")); err == nil {
		t.Error("missing flag file: want an error")
	}
	if _, err := parseDaemon(t, "metad", "--no_such_flag=1"); err == nil {
		t.Error("unknown flag on the command line: want an error")
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"nebula-lite", "version"}, &out, &errb); code != 0 || !strings.Contains(out.String(), NebulaVersion) {
		t.Errorf("code %d out %q err %q", code, out.String(), errb.String())
	}
}

func TestParseClusterFlags(t *testing.T) {
	got, err := parseClusterFlags([]string{"storaged:wal_ttl=60", "--v=1", "graphd:--port=1", "meta_server_addrs=a:1", "all:x=y"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"storaged": {"wal_ttl=60"}, "all": {"--v=1", "meta_server_addrs=a:1", "x=y"}, "graphd": {"--port=1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"nosuch:a=b", "storaged:novalue", "storaged:=1"} {
		if _, err := parseClusterFlags([]string{bad}); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// The service tests run the real binary: `service start` launches
// os.Executable(), which must be nebula-lite.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nebula-lite-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "nebula-lite")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	if os.Getenv("NEBULA_LITE_TEST_DB") != "" {
		writeThenDie() // TestPlayback's helper process
	}
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// freeAddr picks a 127.0.0.x address and a port free on it.
func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	for range 20 {
		ip := fmt.Sprintf("127.0.0.%d", 2+rand.IntN(250))
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return ip, port
	}
	t.Fatal("no free loopback address")
	return "", 0
}

// nl runs the binary and returns its output and exit code.
func nl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func writeConf(t *testing.T, root, role string, lines ...string) {
	t.Helper()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "etc", "nebula-"+role+".conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServiceLifecycle(t *testing.T) {
	root := t.TempDir()
	ip, port := freeAddr(t)
	writeConf(t, root, "metad", "--local_ip="+ip, "--port="+strconv.Itoa(port), "--data_path=data/meta", "--unknown_flag=1")
	t.Cleanup(func() { nl(t, "service", "stop", "all", "--root", root) })
	pidFile := filepath.Join(root, "pids", "nebula-metad.pid")

	out, _, code := nl(t, "service", "status", "metad", "--root", root)
	if code != 3 || out != "nebula-metad: exited\n" {
		t.Fatalf("status before start: %d %q", code, out)
	}
	out, errs, code := nl(t, "service", "start", "all", "--root", root)
	if code != 0 || !strings.HasPrefix(out, "nebula-metad: started, pid ") {
		t.Fatalf("start: %d %q %q", code, out, errs)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	out, _, code = nl(t, "service", "status", "all", "--root", root)
	if code != 0 || out != "nebula-metad: running, pid "+pid+"\n" {
		t.Fatalf("status: %d %q", code, out)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), time.Second); err != nil {
		t.Fatalf("metad does not listen: %v", err)
	} else {
		c.Close()
	}
	if _, err := os.Stat(filepath.Join(root, "data", "meta")); err != nil {
		t.Errorf("data_path relative to the root: %v", err)
	}
	out, _, code = nl(t, "service", "start", "metad", "--root", root)
	if code != 0 || out != "nebula-metad: already running, pid "+pid+"\n" {
		t.Errorf("second start: %d %q", code, out)
	}
	out, errs, code = nl(t, "service", "restart", "metad", "--root", root)
	if code != 0 || !strings.Contains(out, "nebula-metad: stopped, pid "+pid) || !strings.Contains(out, "nebula-metad: started, pid ") {
		t.Errorf("restart: %d %q %q", code, out, errs)
	}
	out, _, code = nl(t, "service", "stop", "metad", "--root", root)
	if code != 0 || !strings.HasPrefix(out, "nebula-metad: stopped, pid ") {
		t.Errorf("stop: %d %q", code, out)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left after stop: %v", err)
	}
	out, _, code = nl(t, "service", "status", "metad", "--root", root)
	if code != 3 || out != "nebula-metad: exited\n" {
		t.Errorf("status after stop: %d %q", code, out)
	}
	log, _ := os.ReadFile(filepath.Join(root, "logs", "nebula-metad.log"))
	if !strings.Contains(string(log), "metad serving") || !strings.Contains(string(log), "msg=stopped") {
		t.Errorf("log:\n%s", log)
	}
}

func TestServiceStartFailure(t *testing.T) {
	root := t.TempDir()
	ip, port := freeAddr(t)
	// data_path below a regular file: metad cannot open its state and exits.
	os.WriteFile(filepath.Join(root, "afile"), nil, 0o644)
	writeConf(t, root, "metad", "--local_ip="+ip, "--port="+strconv.Itoa(port), "--data_path=afile/meta")
	start := time.Now()
	_, errs, code := nl(t, "service", "start", "metad", "--root", root)
	if code != 1 || !strings.Contains(errs, "exited during start") || !strings.Contains(errs, "start failed") {
		t.Errorf("start: %d %q", code, errs)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("failure took %s to report", time.Since(start))
	}
	if _, err := os.Stat(filepath.Join(root, "pids", "nebula-metad.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left after a failed start: %v", err)
	}

	// Bad usage.
	if _, errs, code := nl(t, "service", "start", "nosuch", "--root", root); code != 1 || !strings.Contains(errs, "unknown role") {
		t.Errorf("unknown role: %d %q", code, errs)
	}
	if _, errs, code := nl(t, "service", "start", "all", "--root", t.TempDir()); code != 1 || !strings.Contains(errs, "no flag file") {
		t.Errorf("all without flag files: %d %q", code, errs)
	}
}

func TestArgv0Dispatch(t *testing.T) {
	link := filepath.Join(t.TempDir(), "nebula-storaged")
	if err := os.Symlink(binary(t), link); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(link, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "nebula-lite storaged") || !strings.Contains(string(out), "default 9779") {
		t.Errorf("nebula-storaged --help: %v\n%s", err, out)
	}
}

// TestClusterCLI drives a one-host cluster through the commands: up,
// console, fingerprint, status, down.
func TestClusterCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons")
	}
	root := filepath.Join(t.TempDir(), "cluster")
	base := fmt.Sprintf("127.%d.%d.10", 100+rand.IntN(150), rand.IntN(250))
	t.Cleanup(func() { nl(t, "cluster", "down", "--root", root) })
	out, errs, code := nl(t, "cluster", "up", "--root", root, "--storaged", "1", "--addr-base", base, "--flag", "storaged:wal_ttl=60", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("up: %d %s %s", code, out, errs)
	}
	graph := base + ":9669"
	want := fmt.Sprintf("metad     %s:9559\nstoraged  %s:9779\ngraphd    %s\n", base, base, graph)
	if out != want {
		t.Errorf("up printed %q, want %q", out, want)
	}
	out, _, code = nl(t, "cluster", "status", "--root", root)
	if code != 0 || strings.Count(out, "running, pid") != 3 {
		t.Errorf("status: %d %q", code, out)
	}

	out, errs, code = nl(t, "console", "--addr", graph, "-e", "SHOW HOSTS; CREATE SPACE IF NOT EXISTS fp (partition_num=3, replica_factor=1, vid_type=FIXED_STRING(8))")
	if code != 0 || !strings.Contains(out, "Got 1 rows") || !strings.Contains(out, "Execution succeeded") {
		t.Fatalf("console: %d %q %q", code, out, errs)
	}
	// Schema and parts reach graphd and storaged with their heartbeats.
	script := `USE fp; CREATE TAG IF NOT EXISTS t(n int); CREATE EDGE IF NOT EXISTS e();`
	insert := `USE fp; INSERT VERTEX t(n) VALUES "a":(1), "b":(2); INSERT EDGE e() VALUES "a"->"b":()`
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range []string{script, insert} {
		for {
			out, errs, code = nl(t, "console", "--addr", graph, "-e", s)
			if code == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("console %q: %d %q %q", s, code, out, errs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	out, errs, code = nl(t, "fingerprint", "--addr", graph, "--space", "fp")
	if code != 0 || !strings.Contains(out, "| Kind") {
		t.Fatalf("fingerprint: %d %q %q", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(f) != 3 || f[0] != "fingerprint" || f[1] != "fp" || f[2] == "" {
		t.Errorf("last line %q", lines[len(lines)-1])
	}

	_, errs, code = nl(t, "console", "--addr", graph, "-e", "USE nosuchspace; SHOW HOSTS")
	if code != 1 || !strings.HasPrefix(errs, "[ERROR (") || strings.Count(errs, "ERROR") != 1 {
		t.Errorf("failing statement: %d %q", code, errs)
	}
	if _, errs, code = nl(t, "fingerprint", "--addr", graph, "--space", "nosuchspace"); code != 1 || !strings.Contains(errs, "[ERROR (") {
		t.Errorf("fingerprint of a missing space: %d %q", code, errs)
	}

	if out, errs, code = nl(t, "cluster", "down", "--root", root); code != 0 {
		t.Fatalf("down: %d %q %q", code, out, errs)
	}
	out, _, code = nl(t, "cluster", "status", "--root", root)
	if code != 3 || strings.Count(out, "exited") != 3 {
		t.Errorf("status after down: %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, base, "data", "storage")); err != nil {
		t.Errorf("down must keep data: %v", err)
	}
	if _, _, code = nl(t, "cluster", "down", "--root", root, "--purge"); code != 0 {
		t.Errorf("down --purge: %d", code)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("purge left %s", root)
	}
}
