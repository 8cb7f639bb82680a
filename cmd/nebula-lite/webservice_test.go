package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// upstreamMetadFlags is a metad flag file in the layout upstream's
// nebula-operator writes (its template, NebulaGraph's etc/ file: relative
// paths, values nebula-lite does not know, empty values), with the pod's
// identity left to the command line as upstream passes it.
const upstreamMetadFlags = `
########## basics ##########
# Whether to run as a daemon process
--daemonize=true
# The file to host the process id
--pid_file=pids/nebula-metad.pid

########## logging ##########
# The directory to host logging files
--log_dir=logs
--minloglevel=0
--v=0
--logbufsecs=0
--redirect_stdout=true
--stdout_log_file=metad-stdout.log
--stderr_log_file=metad-stderr.log
--stderrthreshold=3
--timestamp_in_logfile_name=true

########## networking ##########
--meta_server_addrs=127.0.0.1:9559
--local_ip=127.0.0.1
--port=9559
--ws_ip=0.0.0.0
--ws_http_port=%d
--ws_storage_http_port=19779

########## storage ##########
# Root data path, here should be only single path for metad
--data_path=data/meta
--minimum_reserved_bytes=268435456
--default_parts_num=10
--default_replica_factor=1
--heartbeat_interval_secs=10
--agent_heartbeat_interval_secs=60
--rocksdb_wal_sync=true
--ng_black_box_switch=false
--enable_ssl=false
--cert_path=certs/server.crt

########## Custom ##########
--audit_log_es_address=
`

// A metad started as upstream's nebula-operator starts NebulaGraph's (its
// flag file, then --meta_server_addrs, --local_ip and --daemonize=false)
// keeps its data under the working directory's data/meta and answers
// GET /status on its HTTP port as NebulaGraph does.
func TestUpstreamLayoutAndStatus(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the image's working directory, /usr/local/nebula
	ip := fmt.Sprintf("127.0.10.%d", 100+rand.IntN(100))
	port, httpPort := 20000+rand.IntN(5000), 25000+rand.IntN(5000)
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	conf := filepath.Join(dir, "etc", "nebula-metad.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(upstreamMetadFlags, httpPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := parseDaemon(t, "metad", "--flagfile="+conf, fmt.Sprintf("--meta_server_addrs=%s:%d", ip, port),
		"--local_ip="+ip, fmt.Sprintf("--port=%d", port), "--daemonize=false")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data", "meta"); d.dataPath != want || d.wsHTTPPort != httpPort {
		t.Fatalf("data_path %q (want %q), ws_http_port %d", d.dataPath, want, d.wsHTTPPort)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, d) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	url := fmt.Sprintf("http://%s:%d/status", ip, httpPort)
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err = http.Get(url)
		if err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("metad exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st map[string]string
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil || st["status"] != "running" || st["git_info_sha"] == "" {
		t.Errorf("GET /status: %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /status: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "meta", "nebula")); err != nil {
		t.Errorf("metad's data is not under data/meta: %v", err)
	}
}

// Each role's HTTP port defaults to the one NebulaGraph's flag files give it.
func TestHTTPPortDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	for role, want := range map[string]int{"metad": 19559, "storaged": 19779, "graphd": 19669} {
		d, err := parseDaemon(t, role)
		if err != nil {
			t.Fatal(err)
		}
		if d.wsHTTPPort != want {
			t.Errorf("%s: ws_http_port %d, want %d", role, d.wsHTTPPort, want)
		}
	}
	if _, err := parseDaemon(t, "metad", "--ws_http_port=70000"); err == nil {
		t.Error("--ws_http_port=70000: want an error")
	}
}
