package cluster

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLayoutWithAgents(t *testing.T) {
	root := t.TempDir()
	c, err := layout(root, Spec{Storaged: 3, AddrBase: "127.0.0.10", Binary: "/bin/nebula-lite", Agents: true, AgentBinary: "/bin/br-agent"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.10:8888", "127.0.0.11:8888", "127.0.0.12:8888"}
	if !reflect.DeepEqual(c.AgentAddrs(), want) {
		t.Errorf("agents %q, want %q", c.AgentAddrs(), want)
	}
	if c.AgentPid(1) != filepath.Join(root, "127.0.0.11", "pids", "br-agent.pid") ||
		c.AgentLog(2) != filepath.Join(root, "127.0.0.12", "logs", "br-agent.log") {
		t.Errorf("agent paths %s %s", c.AgentPid(1), c.AgentLog(2))
	}
	if err := c.writeFiles(nil); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, c) || loaded.AgentBinary != "/bin/br-agent" {
		t.Errorf("Load = %+v, want %+v", loaded, c)
	}
	// Nothing runs: every agent reads as stopped and stopping is a no-op.
	var agents int
	for _, st := range c.Status() {
		if st.Role == AgentRole {
			agents++
			if st.Pid != 0 || !strings.HasSuffix(st.Log, "br-agent.log") {
				t.Errorf("status %+v", st)
			}
		}
	}
	if agents != 3 {
		t.Errorf("%d agents in Status", agents)
	}
	if err := c.StopAgent(0); err != nil {
		t.Error(err)
	}
	if err := c.KillAgent(0); err != nil {
		t.Error(err)
	}

	plain, _ := layout(t.TempDir(), Spec{Storaged: 1, AddrBase: "127.0.0.10", Binary: "/bin/nebula-lite"})
	if len(plain.AgentAddrs()) != 0 || plain.AgentBinary != "" {
		t.Errorf("agents without Spec.Agents: %q", plain.AgentAddrs())
	}
	if err := plain.StartAgent(0); err == nil || !strings.Contains(err.Error(), "runs no br-agent") {
		t.Errorf("StartAgent without agents: %v", err)
	}
}
