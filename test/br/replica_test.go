package br

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
)

// ownReplicaAddrs fails at once unless the ports of an n-host cluster from
// base are free; replicated-space tests live in 127.0.12.x and 127.0.13.x.
func ownReplicaAddrs(t *testing.T, base string, n int) {
	t.Helper()
	ip := net.ParseIP(base).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || (ip[2] != 12 && ip[2] != 13) || int(ip[3])+n > 255 {
		t.Fatalf("%s: replicated-space clusters live in 127.0.12.0/24 and 127.0.13.0/24", base)
	}
	for i := 0; i < n; i++ {
		host := net.IPv4(127, 0, ip[2], ip[3]+byte(i)).String()
		for _, port := range []int{cluster.MetaPort, cluster.GraphPort, cluster.StoragePort - 1, cluster.StoragePort, cluster.StoragePort + 1, cluster.AgentPort} {
			a := net.JoinHostPort(host, fmt.Sprint(port))
			l, err := net.Listen("tcp", a)
			if err != nil {
				t.Fatalf("address %s is not free (%v): another test or process holds it", a, err)
			}
			l.Close()
		}
	}
}

// A space with replica_factor 3 backs up in full (each part listed by its
// leader; every host's checkpoint holds its replicas) and restores into
// another cluster. Incremental links of a replicated space are not covered:
// their WAL comes from the leaders only, and a restore plays it back on the
// leaders' hosts only, leaving the other replicas behind.
func TestReplicatedSpaceFullBackupRestores(t *testing.T) {
	ownReplicaAddrs(t, "127.0.12.40", 3)
	ownReplicaAddrs(t, "127.0.13.40", 3)
	st := localStorage(t)
	src := up(t, "127.0.12.40", 3, true, nil)
	s := connect(t, src)
	s.Must(`CREATE SPACE g (partition_num = 6, replica_factor = 3, vid_type = FIXED_STRING(12))`)
	time.Sleep(3 * time.Second) // parts open and elect leaders on the storaged's next heartbeat
	s.Must(`USE g; CREATE TAG p(name string, n int); CREATE EDGE r(w int)`)
	time.Sleep(2500 * time.Millisecond) // graphd's schema cache
	s.load("g", 0, 1000)
	name := backupName(t, brOK(t, st.env, st.flags("backup", "full", "--meta", src.MetaAddr())...))
	want := s.fingerprint("g")

	dst := up(t, "127.0.13.40", 3, true, nil)
	brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
	d := connect(t, dst)
	if got := d.fingerprint("g"); got != want {
		t.Fatalf("restore of %s: fingerprint %s, source had %s", name, got, want)
	}
	d.Must(`USE g; INSERT VERTEX p(name, n) VALUES "new":("x", 1)`)
	if got := d.fingerprint("g"); got == want {
		t.Fatal("the restored replicated space did not take a write")
	}
}
