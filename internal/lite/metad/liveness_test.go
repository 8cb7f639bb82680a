package metad_test

import (
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/metad"
)

// Agents heartbeat far less often than services (br-agent and
// nebula-agent: every 60 s): an agent stays online for AgentTimeout, a
// service only for HostTimeout.
func TestAgentsExpireOnTheirOwnClock(t *testing.T) {
	m, err := metad.Open(metad.Config{Addr: metad.Addr{Host: "127.0.0.1", Port: 9559}, DataPath: t.TempDir(),
		HostTimeout: 100 * time.Millisecond, AgentTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, h := range []*metad.Host{
		{Addr: metad.Addr{Host: "h1", Port: 9779}, Role: metad.RoleStorage},
		{Addr: metad.Addr{Host: "h1", Port: 8888}, Role: metad.RoleAgent},
	} {
		if _, err := m.Heartbeat(h, 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	online := map[int32]bool{}
	for _, h := range m.Hosts(-1) {
		if h.Addr.Host == "h1" {
			online[h.Role] = h.Online
		}
	}
	if online[metad.RoleStorage] || !online[metad.RoleAgent] {
		t.Fatalf("300ms after their heartbeats: storaged online %v (HostTimeout 100ms), agent online %v (AgentTimeout 1h)",
			online[metad.RoleStorage], online[metad.RoleAgent])
	}
}
