package flagfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

func TestApply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nebula-storaged.conf")
	os.WriteFile(path, []byte(`########## basics ##########
# a comment
--local_ip=10.0.0.1
--port=9779
--port=9800
--unknown_flag=whatever
--meta_server_addrs=a:1,b:2

--wal_sync
--nodaemonize
   --heartbeat_interval_secs=3
`), 0o644)
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	ip := fs.String("local_ip", "127.0.0.1", "")
	port := fs.Int("port", 1, "")
	meta := fs.String("meta_server_addrs", "", "")
	sync := fs.Bool("wal_sync", false, "")
	daemonize := fs.Bool("daemonize", true, "")
	hb := fs.Int("heartbeat_interval_secs", 10, "")
	if err := fs.Parse([]string{"--local_ip=192.168.1.1"}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(fs, path); err != nil {
		t.Fatal(err)
	}
	if *ip != "192.168.1.1" {
		t.Errorf("command line must win: local_ip %q", *ip)
	}
	if *port != 9800 {
		t.Errorf("last line must win: port %d", *port)
	}
	if *meta != "a:1,b:2" || !*sync || *daemonize || *hb != 3 {
		t.Errorf("meta %q wal_sync %v daemonize %v heartbeat %d", *meta, *sync, *daemonize, *hb)
	}
}

func TestApplyErrors(t *testing.T) {
	dir := t.TempDir()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.Int("port", 1, "")
	if err := Apply(fs, filepath.Join(dir, "missing.conf")); err == nil {
		t.Error("missing file: want an error")
	}
	for _, body := range []string{"--port=abc\n", "port=1\n", "--port\n"} {
		path := filepath.Join(dir, "bad.conf")
		os.WriteFile(path, []byte(body), 0o644)
		if err := Apply(fs, path); err == nil {
			t.Errorf("%q: want an error", body)
		}
	}
}
