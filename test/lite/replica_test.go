package lite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/lite/wal"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
	"github.com/nebula-open/nebula-br/internal/nebula/graphtest"
)

// Replicated spaces (replica_factor > 1): these tests own 127.0.12.10-14
// and 127.0.13.10-14.

// ownReplicaAddrs fails the test at once unless every port a cluster of n
// hosts from base binds (admin 9778, storage 9779, raft 9780) is free.
func ownReplicaAddrs(t *testing.T, base string, n int) {
	t.Helper()
	ip := net.ParseIP(base).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || (ip[2] != 12 && ip[2] != 13) || int(ip[3])+n-1 > 254 {
		t.Fatalf("%s+%d is outside 127.0.12.x and 127.0.13.x", base, n)
	}
	for i := range n {
		host := fmt.Sprintf("127.0.%d.%d", ip[2], int(ip[3])+i)
		for _, port := range []int{cluster.MetaPort, cluster.GraphPort, cluster.StoragePort - 1, cluster.StoragePort, cluster.StoragePort + 1} {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				t.Fatalf("address %s:%d is not free: %v", host, port, err)
			}
			l.Close()
		}
	}
}

func TestReplicatedSpaceOnThreeHosts(t *testing.T) { replicatedSpace(t, "127.0.12.10", 3) }

func TestReplicatedSpaceOnFiveHosts(t *testing.T) { replicatedSpace(t, "127.0.13.10", 5) }

// hostsView is SHOW HOSTS' leader and partition counts per storage host.
type hostsView struct {
	leaders map[string]int // host -> leader count
	parts   map[string]int // host -> replicas held (partition distribution)
}

func (v hostsView) totals() (leaders, parts int) {
	for _, n := range v.leaders {
		leaders += n
	}
	for _, n := range v.parts {
		parts += n
	}
	return
}

func showHosts(t *testing.T, s *graphtest.Session) hostsView {
	t.Helper()
	resp, err := s.G.Execute(context.Background(), "SHOW HOSTS")
	if err != nil {
		t.Fatal(err)
	}
	v := hostsView{leaders: map[string]int{}, parts: map[string]int{}}
	for _, row := range resp.Data.Rows {
		host := string(row.Values[0].SVal)
		v.leaders[host] = int(*row.Values[3].IVal)
		for _, d := range strings.Split(string(row.Values[5].SVal), ", ") {
			if _, n, ok := strings.Cut(d, ":"); ok {
				c, _ := strconv.Atoi(n)
				v.parts[host] += c
			}
		}
	}
	return v
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lastLogIDs reads, per part, the last log id in each host's WAL of the
// space (the WAL is the raft log: equal ids mean caught up).
func lastLogIDs(t *testing.T, c *cluster.Cluster) map[string]map[string]uint64 {
	t.Helper()
	out := map[string]map[string]uint64{} // part dir -> host -> last id
	for _, h := range c.Hosts {
		dirs, _ := filepath.Glob(filepath.Join(h.Root, "data", "storage", "nebula", "*", "wal", "*"))
		for _, d := range dirs {
			files, err := wal.ListFiles(d)
			if err != nil || len(files) == 0 {
				continue
			}
			key := filepath.Join(filepath.Base(filepath.Dir(filepath.Dir(d))), filepath.Base(d))
			if out[key] == nil {
				out[key] = map[string]uint64{}
			}
			out[key][h.IP] = files[len(files)-1].LastLogID
		}
	}
	return out
}

func replicatedSpace(t *testing.T, base string, n int) {
	ownReplicaAddrs(t, base, n)
	c := up(t, base, n, nil)
	s := graphtest.Connect(t, c.GraphAddr())

	err := s.Exec(fmt.Sprintf(`CREATE SPACE toomany (partition_num = 3, replica_factor = %d, vid_type = INT64)`, n+1))
	if err == nil || !strings.Contains(err.Error(), "Replica factor greater than hosts") {
		t.Fatalf("replica_factor %d on %d hosts: %v, want a refusal", n+1, n, err)
	}

	s.Must(`CREATE SPACE r (partition_num = 6, replica_factor = 3, vid_type = FIXED_STRING(12))`)
	waitFor(t, "6 leaders in SHOW HOSTS", 30*time.Second, func() bool {
		l, p := showHosts(t, s).totals()
		return l == 6 && p == 18
	})
	s.Must(`USE r; CREATE TAG person(name string, age int); CREATE EDGE knows(w int)`)
	time.Sleep(2500 * time.Millisecond) // graphd's schema cache, as after DDL in NebulaGraph
	load(s, "r", 0, 600)
	before, items := s.Fingerprint("r")
	if items != 600+1800 {
		t.Fatalf("loaded %d items, want 2400", items)
	}
	followerAnswersLeaderChanged(t, c)

	// SIGKILL one storaged: everything stays readable after re-election,
	// and writes go on.
	victim := 1
	if err := c.Kill(victim, "storaged"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Fingerprint("r"); got != before {
		t.Fatalf("fingerprint with %s down %s, before %s", c.Hosts[victim].IP, got, before)
	}
	load(s, "r", 600, 200)
	after, items := s.Fingerprint("r")
	if items != 800+2400 {
		t.Fatalf("%d items after writing with a host down, want 3200", items)
	}

	// Restarted, it catches up: its parts' last log ids reach the others'.
	if err := c.StartService(victim, "storaged"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restarted host to catch up", 60*time.Second, func() bool {
		ids := lastLogIDs(t, c)
		victimParts := 0
		for _, hosts := range ids {
			var first uint64
			i := 0
			for _, id := range hosts {
				if i == 0 {
					first = id
				} else if id != first {
					return false
				}
				i++
			}
			if _, ok := hosts[c.Hosts[victim].IP]; ok {
				victimParts++
			}
		}
		return victimParts > 0
	})

	// BALANCE LEADER evens the leaders out.
	waitFor(t, "every part to have a leader again", 30*time.Second, func() bool {
		l, _ := showHosts(t, s).totals()
		return l == 6
	})
	t.Logf("leaders before BALANCE LEADER: %v", showHosts(t, s).leaders)
	s.Must(`BALANCE LEADER`)
	waitFor(t, "even leaders", 30*time.Second, func() bool {
		v := showHosts(t, s)
		lo, hi, total := 1<<30, 0, 0
		for _, l := range v.leaders {
			lo, hi, total = min(lo, l), max(hi, l), total+l
		}
		return total == 6 && hi-lo <= 1
	})
	view := showHosts(t, s)
	t.Logf("leaders after: %v", view.leaders)
	if got, _ := s.Fingerprint("r"); got != after {
		t.Fatalf("fingerprint after catch-up and balance %s, want %s", got, after)
	}

	// A backup lists each part once, on the host leading it.
	m, err := client.NewMetaClient(c.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bm, err := m.CreateBackup(context.Background(), []string{"r"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[nebula.PartitionID]int{}
	for _, sb := range bm.SpaceBackups {
		for _, hb := range sb.HostBackups {
			for _, cp := range hb.Checkpoints {
				if len(cp.Parts) != view.leaders[hb.Host.Host] {
					t.Errorf("backup lists %d parts on %s, which leads %d", len(cp.Parts), hb.Host.Host, view.leaders[hb.Host.Host])
				}
				for p := range cp.Parts {
					listed[p]++
				}
			}
		}
	}
	for p := nebula.PartitionID(1); p <= 6; p++ {
		if listed[p] != 1 {
			t.Errorf("backup lists part %d %d times, want once", p, listed[p])
		}
	}
}

// A write sent to a follower is refused with E_LEADER_CHANGED naming the
// leader (NebulaGraph's PartitionResult.leader): of part 1's replicas,
// exactly one takes the write and the others name it.
func followerAnswersLeaderChanged(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	ctx := context.Background()
	m, err := client.NewMetaClient(c.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	item, err := m.GetSpace(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := m.GetPartsAlloc(ctx, item.SpaceID)
	if err != nil {
		t.Fatal(err)
	}
	var took []string
	hints := map[string]string{} // follower -> leader it named
	for _, h := range alloc[1] {
		addr := net.JoinHostPort(h.Host, strconv.Itoa(int(h.Port)))
		sc, err := client.NewLiteStorageClient(addr, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Removing a key no vertex or edge has leaves the graph as it is.
		err = sc.Write(ctx, &storage.LiteWriteRequest{SpaceID: item.SpaceID, Parts: map[nebula.PartitionID]*storage.LiteBatch{
			1: {Removes: [][]byte{[]byte("no such key")}},
		}})
		sc.Close()
		var pe *client.PartError
		switch {
		case err == nil:
			took = append(took, addr)
		case errors.As(err, &pe) && pe.Code == nebula.ErrorCode_E_LEADER_CHANGED && pe.Leader != nil:
			hints[addr] = net.JoinHostPort(pe.Leader.Host, strconv.Itoa(int(pe.Leader.Port)))
		default:
			t.Fatalf("write to %s: %v, want success at the leader or E_LEADER_CHANGED with its address", addr, err)
		}
	}
	if len(took) != 1 || len(hints) != len(alloc[1])-1 {
		t.Fatalf("part 1: %v took the write, %v answered with a leader; want exactly one leader", took, hints)
	}
	for f, l := range hints {
		if l != took[0] {
			t.Fatalf("follower %s names %s as leader, the leader is %s", f, l, took[0])
		}
	}
}
