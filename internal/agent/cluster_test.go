package agent_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	nclient "github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/testbin"
)

// binDir holds nebula-lite and br-agent, built by TestMain (not with -short).
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		binDir = testbin.MustBuild("nebula-lite", "br-agent")
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// retry calls fn until it succeeds or the time is up.
func retry(t *testing.T, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClusterWithAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	ctx := context.Background()
	c, err := cluster.Up(ctx, cluster.Spec{
		Root: filepath.Join(t.TempDir(), "c"), Storaged: 3, AddrBase: "127.0.0.70",
		Binary: filepath.Join(binDir, "nebula-lite"), Agents: true, Timeout: 60 * time.Second,
	})
	if c != nil {
		t.Cleanup(func() {
			if t.Failed() {
				for i := range c.Hosts {
					t.Logf("%s:\n%s", c.AgentLog(i), tail(c.AgentLog(i), 15))
				}
			}
			c.Down()
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.70:8888", "127.0.0.71:8888", "127.0.0.72:8888"}
	if !reflect.DeepEqual(c.AgentAddrs(), want) {
		t.Fatalf("agents %q, want %q", c.AgentAddrs(), want)
	}
	if loaded, err := cluster.Load(c.Root); err != nil || !reflect.DeepEqual(loaded.AgentAddrs(), want) {
		t.Fatalf("cluster.json agents: %v %v", loaded, err)
	}

	// metad knows an agent on every host: listCluster succeeds.
	mc, err := nclient.NewMetaClient(c.MetaAddr(), nclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	hosts, err := mc.ListCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hostNames []string
	for h, svcs := range hosts {
		hostNames = append(hostNames, h)
		agents := 0
		for _, s := range svcs {
			if s.Role == meta.HostRole_AGENT {
				agents++
			}
		}
		if agents != 1 {
			t.Errorf("host %s: %d agents", h, agents)
		}
	}
	sort.Strings(hostNames)
	if !reflect.DeepEqual(hostNames, []string{"127.0.0.70", "127.0.0.71", "127.0.0.72"}) {
		t.Errorf("listCluster hosts %q", hostNames)
	}

	// Stop and start storaged of host 1 through its agent, with the root
	// metad reported in the heartbeat.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ac, err := client.Dial(dctx, c.AgentAddrs()[1])
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	retry(t, 10*time.Second, func() error {
		st, err := ac.ServiceStatus(ctx, pb.ServiceRole_STORAGED, "")
		if err != nil {
			return err
		}
		if pid := c.Running(1, "storaged"); !st.Running || int(st.Pid) != pid {
			return fmt.Errorf("status %v, cluster says pid %d", st, pid)
		}
		return nil
	})
	if err := ac.StopService(ctx, pb.ServiceRole_STORAGED, ""); err != nil {
		t.Fatal(err)
	}
	if pid := c.Running(1, "storaged"); pid != 0 {
		t.Fatalf("storaged still runs as %d after StopService", pid)
	}
	if st, err := ac.ServiceStatus(ctx, pb.ServiceRole_STORAGED, ""); err != nil || st.Running {
		t.Fatalf("status after stop: %v %v", st, err)
	}
	if err := ac.StartService(ctx, pb.ServiceRole_STORAGED, c.Hosts[1].Root); err != nil {
		t.Fatal(err)
	}
	if c.Running(1, "storaged") == 0 {
		t.Fatal("storaged not running after StartService")
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := c.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	// A root without that role's flag file: an error with nebula-lite's output.
	err = ac.StartService(ctx, pb.ServiceRole_METAD, c.Hosts[1].Root)
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "nebula-metad.conf") {
		t.Errorf("start metad where there is none: %v", err)
	}

	// Agents crash and come back.
	if err := c.KillAgent(2); err != nil {
		t.Fatal(err)
	}
	if c.AgentRunning(2) != 0 {
		t.Fatal("agent alive after KillAgent")
	}
	if err := c.Wait(wctx); err == nil || !strings.Contains(err.Error(), "br-agent") {
		t.Errorf("Wait with a dead agent: %v", err)
	}
	if err := c.StartAgent(2); err != nil {
		t.Fatal(err)
	}
	if err := c.StopAgent(0); err != nil {
		t.Fatal(err)
	}
	if c.AgentRunning(0) != 0 {
		t.Fatal("agent alive after StopAgent")
	}
	if !strings.Contains(tail(c.AgentLog(0), 5), "br-agent stopped") {
		t.Errorf("agent 0 did not stop gracefully:\n%s", tail(c.AgentLog(0), 5))
	}
	if err := c.StartAgent(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(wctx); err != nil {
		t.Fatal(err)
	}

	if err := c.Down(); err != nil {
		t.Fatal(err)
	}
	for _, st := range c.Status() {
		if st.Pid != 0 {
			t.Errorf("%s on %s still runs after Down", st.Role, st.IP)
		}
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
