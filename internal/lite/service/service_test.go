package service

import (
	"os"
	"path/filepath"
	"testing"
)

func TestListenAddr(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(Paths{Root: root, Role: "graphd"}.Conf(), []byte("--local_ip=127.0.0.7\n--other=1\n"), 0o644)
	os.WriteFile(Paths{Root: root, Role: "storaged"}.Conf(), []byte("--port=9000\n--local_ip=host-1.example\n"), 0o644)
	for role, want := range map[string]string{"graphd": "127.0.0.7:9669", "storaged": "host-1.example:9000"} {
		if got, err := (Paths{Root: root, Role: role}).ListenAddr(); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", role, got, err, want)
		}
	}
	if _, err := (Paths{Root: root, Role: "metad"}).ListenAddr(); err == nil {
		t.Error("missing flag file: want an error")
	}
	if err := ValidRole("agent"); err == nil {
		t.Error("ValidRole(agent): want an error")
	}
}

func TestNotRunning(t *testing.T) {
	root := t.TempDir()
	p := Paths{Root: root, Role: "metad"}
	os.MkdirAll(filepath.Dir(p.Pid()), 0o755)
	// A pid file naming a live process that is not ours (this test).
	os.WriteFile(p.Pid(), []byte("1\n"), 0o644)
	if pid := Running(p); pid != 0 {
		t.Errorf("Running = %d for a foreign pid", pid)
	}
	if err := Stop(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Pid()); !os.IsNotExist(err) {
		t.Errorf("Stop must remove a stale pid file: %v", err)
	}
	if err := Kill(p); err != nil {
		t.Error(err)
	}
}
