package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
)

// TestReplicaBench: the same data in a space with replica_factor 1 and in
// one with replica_factor 3, on 3 storage hosts, backed up together. Each
// part of the replicated space is uploaded once, from its leader, so its
// backup should be as big as the unreplicated one's; and the longest write
// stall of the replicated space during the backup.
func TestReplicaBench(t *testing.T) {
	skipUnlessBench(t)
	const vertices, payload = 30_000, 1000
	c := benchCluster(t, "127.0.0.120", 3)
	g := graph(t, c)
	for _, q := range []string{
		"CREATE SPACE r1 (partition_num = 12, replica_factor = 1, vid_type = INT64)",
		"CREATE SPACE r3 (partition_num = 12, replica_factor = 3, vid_type = INT64)",
	} {
		if _, err := g.Execute(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	// A replicated space's parts elect leaders at the storaged's next
	// heartbeat; the schema reaches graphd's cache.
	eventuallyExec(t, g, "USE r1; CREATE TAG IF NOT EXISTS blob(data string, n int)")
	eventuallyExec(t, g, "USE r3; CREATE TAG IF NOT EXISTS blob(data string, n int)")
	eventuallyExec(t, g, `USE r3; INSERT VERTEX blob(data, n) VALUES 0:("x", 0), 1:("x", 1), 2:("x", 2), 3:("x", 3), 4:("x", 4), 5:("x", 5), 6:("x", 6), 7:("x", 7), 8:("x", 8), 9:("x", 9), 10:("x", 10), 11:("x", 11)`)
	eventuallyExec(t, g, `USE r1; INSERT VERTEX blob(data, n) VALUES 0:("x", 0)`)
	loadPayloadInto(t, c, "r1", 0, vertices, payload)
	loadPayloadInto(t, c, "r3", 0, vertices, payload)

	// The same probe with no backup running: a replicated write's own
	// latency (raft round trips over HTTP), which the stall includes.
	idle := worstWrite(t, graph(t, c), "r3", "blob(data, n)", func() { time.Sleep(3 * time.Second) })

	// Writes to the replicated space go on during the backup.
	dir := t.TempDir()
	var out string
	var took time.Duration
	worst := worstWrite(t, graph(t, c), "r3", "blob(data, n)", func() {
		out, took = run(t, nil, repoBin(t, "br"), "backup", "full", "--meta", c.MetaAddr(), "--storage", "local://"+dir)
	})
	name := nameRE.FindString(out)

	m, err := client.NewMetaClient(c.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bytes := map[string]int64{}
	for _, sp := range []string{"r1", "r3"} {
		item, err := m.GetSpace(context.Background(), sp)
		if err != nil {
			t.Fatal(err)
		}
		bytes[sp] = dirSize(filepath.Join(dir, name, "data", fmt.Sprint(item.SpaceID)))
	}
	fmt.Printf("\nreplica benchmark: %d vertices x %d B in a replica_factor 1 and a replica_factor 3 space, 3 storage hosts; backup %s\n",
		vertices, payload, took.Round(time.Millisecond))
	fmt.Printf("  backed-up data: rf1 %s, rf3 %s\n", humanMB(bytes["r1"]), humanMB(bytes["r3"]))
	fmt.Printf("rf3_vs_rf1_backup_bytes: %.3f\n", float64(bytes["r3"])/float64(max(bytes["r1"], 1)))
	fmt.Printf("write_stall_ms_rf3: %d\n", worst.Milliseconds())
	fmt.Printf("write_worst_ms_rf3_no_backup: %d  (the same probe for as long, no backup running)\n", idle.Milliseconds())
}

func eventuallyExec(t *testing.T, g *client.GraphClient, q string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := g.Execute(context.Background(), q)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%.80s: %v", q, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
