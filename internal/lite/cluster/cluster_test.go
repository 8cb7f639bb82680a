package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/service"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
)

func TestHostIP(t *testing.T) {
	for _, tc := range []struct {
		base string
		i    int
		want string
	}{
		{"127.0.0.10", 0, "127.0.0.10"},
		{"127.0.0.10", 2, "127.0.0.12"},
		{"127.0.0.255", 1, "127.0.1.0"},
	} {
		if got, err := hostIP(tc.base, tc.i); err != nil || got != tc.want {
			t.Errorf("hostIP(%s, %d) = %s, %v", tc.base, tc.i, got, err)
		}
	}
	for _, bad := range []string{"", "::1", "localhost", "255.255.255.255"} {
		if _, err := hostIP(bad, 1); err == nil {
			t.Errorf("hostIP(%q, 1): want an error", bad)
		}
	}
}

func TestLayout(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(t.TempDir(), "nebula-lite")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	c, err := layout(root, Spec{Storaged: 3, AddrBase: "127.0.0.10", Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if c.MetaAddr() != "127.0.0.10:9559" || c.GraphAddr() != "127.0.0.10:9669" {
		t.Errorf("meta %s graph %s", c.MetaAddr(), c.GraphAddr())
	}
	if want := []string{"127.0.0.10:9779", "127.0.0.11:9779", "127.0.0.12:9779"}; !reflect.DeepEqual(c.StorageAddrs(), want) {
		t.Errorf("storage %q", c.StorageAddrs())
	}
	extra := map[string][]string{"all": {"v=1"}, "storaged": {"wal_ttl=60", "--heartbeat_interval_secs=2"}}
	if err := c.writeFiles(extra); err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(service.Paths{Root: filepath.Join(root, "127.0.0.11"), Role: "storaged"}.Conf())
	for _, want := range []string{"--local_ip=127.0.0.11\n", "--port=9779\n", "--meta_server_addrs=127.0.0.10:9559\n",
		"--data_path=" + filepath.Join(root, "127.0.0.11", "data", "storage") + "\n", "--wal_ttl=60\n", "--v=1\n", "--heartbeat_interval_secs=2\n"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("storaged conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(string(conf), "heartbeat_interval_secs") != 1 {
		t.Errorf("an extra flag must replace the default:\n%s", conf)
	}
	conf, _ = os.ReadFile(service.Paths{Root: filepath.Join(root, "127.0.0.10"), Role: "metad"}.Conf())
	if !strings.Contains(string(conf), "--data_path="+filepath.Join(root, "127.0.0.10", "data", "meta")+"\n") || strings.Contains(string(conf), "wal_ttl") {
		t.Errorf("metad conf:\n%s", conf)
	}
	if _, err := os.Stat(service.Paths{Root: filepath.Join(root, "127.0.0.11"), Role: "metad"}.Conf()); !os.IsNotExist(err) {
		t.Errorf("host 1 must run no metad: %v", err)
	}
	for _, d := range []string{"etc", "pids", "logs", "data"} {
		if _, err := os.Stat(filepath.Join(root, "127.0.0.12", d)); err != nil {
			t.Error(err)
		}
	}
	// What NebulaGraph's tools run: scripts/nebula.service, bin/.
	for _, h := range c.Hosts {
		if st, err := os.Stat(service.ScriptPath(h.Root)); err != nil || st.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s: script %v", h.IP, err)
		}
		if to, err := os.Readlink(service.BinPath(h.Root, "nebula-lite")); err != nil || to != bin {
			t.Errorf("%s: bin/nebula-lite -> %q %v, want %s", h.IP, to, err, bin)
		}
		for _, name := range []string{"db_playback", "nebula-metad", "nebula-storaged", "nebula-graphd"} {
			if to, err := os.Readlink(service.BinPath(h.Root, name)); err != nil || to != "nebula-lite" {
				t.Errorf("%s: bin/%s -> %q %v", h.IP, name, to, err)
			}
		}
	}
	loaded, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, c) {
		t.Errorf("Load = %+v, want %+v", loaded, c)
	}
	if _, err := Load(t.TempDir()); !os.IsNotExist(err) && !strings.Contains(fmt.Sprint(err), "no such file") {
		t.Errorf("Load of an empty dir: %v", err)
	}
}

// buildBinary builds nebula-lite for the daemons.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nebula-lite")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nebula-open/nebula-br/cmd/nebula-lite").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// randomBase is an address base unlikely to be used by another test.
func randomBase() string {
	return fmt.Sprintf("127.%d.%d.10", 100+rand.IntN(150), rand.IntN(250))
}

func TestClusterLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons")
	}
	bin := buildBinary(t)
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "c1")
	c, err := Up(ctx, Spec{Root: root, Storaged: 2, AddrBase: randomBase(), Binary: bin,
		Flags: map[string][]string{"storaged": {"wal_ttl=60"}}, Timeout: 30 * time.Second})
	if c != nil {
		t.Cleanup(func() { c.Down() })
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(c.StorageAddrs()) != 2 {
		t.Fatalf("storage %q", c.StorageAddrs())
	}

	// A second cluster beside it, on its own addresses.
	other, err := Up(ctx, Spec{Root: filepath.Join(t.TempDir(), "c2"), Storaged: 1, AddrBase: randomBase(), Binary: bin, Timeout: 30 * time.Second})
	if other != nil {
		t.Cleanup(func() { other.Purge() })
	}
	if err != nil {
		t.Fatal(err)
	}

	g, err := client.NewGraphClient(c.GraphAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Authenticate(ctx, User, Password); err != nil {
		t.Fatal(err)
	}
	resp, err := g.Execute(ctx, "SHOW HOSTS")
	if err != nil || resp.Data == nil || len(resp.Data.Rows) != 2 {
		t.Fatalf("SHOW HOSTS: %v %v", resp, err)
	}

	// Crash a storaged: Wait names it; restart it.
	pidFile := c.Paths(1, "storaged").Pid()
	if err := c.Kill(1, "storaged"); err != nil {
		t.Fatal(err)
	}
	if pid := c.Running(1, "storaged"); pid != 0 {
		t.Fatalf("storaged still running as %d", pid)
	}
	if _, err := os.Stat(pidFile); err != nil {
		t.Errorf("a crash leaves the pid file: %v", err)
	}
	err = c.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), c.Hosts[1].IP+" storaged") || !strings.Contains(err.Error(), c.Paths(1, "storaged").Log()) {
		t.Errorf("Wait with a dead storaged: %v", err)
	}
	if err := c.StartService(1, "storaged"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := c.Wait(wctx); err != nil {
		t.Fatal(err)
	}

	// Up again: nothing to start, same pids.
	before := c.Status()
	again, err := Up(ctx, Spec{Root: root, Binary: bin, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Status(), before) {
		t.Errorf("re-up changed services: %+v -> %+v", before, again.Status())
	}
	if _, err := Up(ctx, Spec{Root: root, Storaged: 3, Binary: bin}); err == nil {
		t.Error("re-up with another host count: want an error")
	}

	if err := c.StopService(0, "graphd"); err != nil {
		t.Fatal(err)
	}
	if c.Running(0, "graphd") != 0 || c.Running(0, "metad") == 0 {
		t.Error("StopService stopped the wrong service")
	}
	if err := c.StopService(1, "metad"); err == nil {
		t.Error("host 1 runs no metad: want an error")
	}
	if err := c.Down(); err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Status() {
		if s.Pid != 0 {
			t.Errorf("%s on %s still running after Down", s.Role, s.IP)
		}
	}
	if other.Running(0, "metad") == 0 {
		t.Error("Down of one cluster stopped the other")
	}
	if err := other.Purge(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other.Root); !os.IsNotExist(err) {
		t.Errorf("Purge left %s: %v", other.Root, err)
	}
}
