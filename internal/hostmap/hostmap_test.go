package hostmap

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDialAndListen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(file, []byte("# pods\n127.0.0.51 a-0.a.ns.svc.cluster.local a-0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvFile, file)
	for _, c := range []struct {
		fn       func(string) string
		in, want string
	}{
		{Dial, "a-0.a.ns.svc.cluster.local:9779", "127.0.0.51:9779"},
		{Dial, "A-0:8888", "127.0.0.51:8888"},
		{Dial, "b-0.b.ns.svc.cluster.local:9779", "b-0.b.ns.svc.cluster.local:9779"},
		{Dial, "127.0.0.9:1", "127.0.0.9:1"},
		{Listen, "a-0:9559", "127.0.0.51:9559"},
		{Listen, "127.0.0.9:1", "127.0.0.9:1"},
		{Listen, "b-0.b.ns.svc.cluster.local:9779", ":9779"},
		{Listen, ":8888", ":8888"},
	} {
		if got := c.fn(c.in); got != c.want {
			t.Errorf("%s -> %s, want %s", c.in, got, c.want)
		}
	}
	// Names added later are seen.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(file, []byte("127.0.0.51 a-0\n127.0.0.52 b-0.b.ns.svc.cluster.local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Dial("b-0.b.ns.svc.cluster.local:9779"); got != "127.0.0.52:9779" {
		t.Errorf("after the file changed: %s", got)
	}
}
