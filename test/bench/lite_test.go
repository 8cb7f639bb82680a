// Package bench holds `make bench`: measurements printed as a report with
// ratios against a peer measured in the same run. Nothing here asserts a
// time: the machines are shared and noisy.
package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/nebula-open/nebula-br/internal/lite/litetest"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

func skipUnlessBench(t *testing.T) {
	if os.Getenv("NEBULA_BENCH") == "" {
		t.Skip("benchmarks run with `make bench` (NEBULA_BENCH=1)")
	}
}

const batch = 500

// insertVertices loads ids [from, to) through graphd with 4 sessions.
func insertVertices(t *testing.T, c *litetest.Cluster, from, to int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	jobs := make(chan int)
	for w := 0; w < 4; w++ {
		s := c.Session()
		s.Exec("USE bench")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range jobs {
				var sb strings.Builder
				sb.WriteString("INSERT VERTEX person(name, age) VALUES ")
				for i := lo; i < min(lo+batch, to); i++ {
					if i > lo {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, "%d:(\"person-%d\", %d)", i, i, i%100)
				}
				if _, err := s.G.Execute(context.Background(), sb.String()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for lo := from; lo < to; lo += batch {
		jobs <- lo
	}
	close(jobs)
	wg.Wait()
	return time.Since(start)
}

// pebbleBaseline writes the same number of similar key-values straight
// into one Pebble (its own WAL on, no fsync), in the same batch size: the
// engine underneath, without the query layer, RPCs and our WAL.
func pebbleBaseline(t *testing.T, n int) time.Duration {
	db, err := pebble.Open(t.TempDir(), &pebble.Options{MemTableSize: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		b := db.NewBatch()
		for i := lo; i < min(lo+batch, n); i++ {
			k := binary.BigEndian.AppendUint64([]byte{0, 0, 0, 1, 1}, uint64(i))
			b.Set(append(k, 0, 0, 0, 2), []byte(fmt.Sprintf("\x04person-%d\x02%d", i, i%100)), nil)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	return time.Since(start)
}

// cut measures what writes wait for: BLOCK_ON (which first flushes while
// writes still flow), then the checkpoint on every host in parallel; the
// figure is the slowest host's checkpoint under the block.
func cut(t *testing.T, c *litetest.Cluster, name string) time.Duration {
	var addrs []string
	for _, cfg := range c.SCfg {
		addrs = append(addrs, fmt.Sprintf("%s:%d", cfg.LocalIP, cfg.Port))
	}
	return cutHosts(t, addrs, 1, name)
}

// cutHosts is cut on the storaged at addrs (host:port; the admin service
// is on port - 1) for one space.
func cutHosts(t *testing.T, addrs []string, space int32, name string) time.Duration {
	var worst time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			a, err := client.NewStorageAdminClient(net.JoinHostPort(host, strconv.Itoa(p-1)), client.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			defer a.Close()
			ctx := context.Background()
			spaces := []nebula.GraphSpaceID{nebula.GraphSpaceID(space)}
			a.BlockingWrites(ctx, spaces, storage.EngineSignType_BLOCK_ON)
			start := time.Now()
			_, err = a.CreateCheckpoint(ctx, spaces, name)
			d := time.Since(start)
			a.BlockingWrites(ctx, spaces, storage.EngineSignType_BLOCK_OFF)
			a.DropCheckpoint(ctx, spaces, name)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			worst = max(worst, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return worst
}

func TestLiteBench(t *testing.T) {
	skipUnlessBench(t)
	const n = 100_000
	c := litetest.Start(t, 3, nil)
	c.WaitStorage(3)
	s := c.Session()
	s.Exec("CREATE SPACE bench (partition_num = 12, vid_type = INT64); USE bench; CREATE TAG person(name string, age int)")

	load1 := insertVertices(t, c, 0, n)
	peer := pebbleBaseline(t, n)
	cut1 := cut(t, c, "BENCH_1X")
	insertVertices(t, c, n, 4*n)
	cut4 := cut(t, c, "BENCH_4X")
	if _, cnt := s.Fingerprint("bench"); cnt != 4*n {
		t.Fatalf("loaded %d vertices, want %d", cnt, 4*n)
	}

	ours := float64(n) / load1.Seconds()
	base := float64(n) / peer.Seconds()
	fmt.Printf("\nnebula-lite benchmark (%d vertices per 1x, batches of %d, 4 sessions, 3 storaged)\n", n, batch)
	fmt.Printf("  %-46s %12.0f vertices/s\n", "write through graphd (nGQL INSERT VERTEX)", ours)
	fmt.Printf("  %-46s %12.0f vertices/s\n", "peer: raw Pebble batches, same keys", base)
	fmt.Printf("  %-46s %12.2f\n", "ratio graphd / raw Pebble", ours/base)
	fmt.Printf("  %-46s %12s\n", "checkpoint cut under BLOCK_ON, 1x (slowest host)", cut1.Round(time.Millisecond))
	fmt.Printf("  %-46s %12s\n", "checkpoint cut under BLOCK_ON, 4x (slowest host)", cut4.Round(time.Millisecond))
	fmt.Printf("  %-46s %12.2f  (1.0 = cut time independent of data size)\n", "ratio 4x / 1x", cut4.Seconds()/cut1.Seconds())
}
