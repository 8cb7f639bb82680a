// Package bulkload fills a new space of a local nebula-lite cluster with a
// generated graph (graphd.BulkGraph), written straight into each storaged's
// engine as tables and ingested, as NebulaGraph's download and ingest jobs
// do, so that a space of many gigabytes is ready in minutes: loading through
// nGQL would write every key to the WAL and memtable first.
package bulkload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/sync/errgroup"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/lite/graphd"
	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// Spec is the space to create and the graph to load into it.
type Spec struct {
	Space     string
	Parts     int32
	Vertices  int64
	Fanout    int // out-edges per vertex
	NameBytes int // size of each vertex's name property
}

// BytesPerVertex is the logical size (keys and values) a vertex adds with
// its edges, each stored twice (out-edge and reverse edge).
func BytesPerVertex(s Spec) int {
	const vertexKey, edgeKey, edgeRow = 1 + 8 + 4 + 4, 4 + 1 + 8 + 4 + 8 + 8, 1 + 4
	return vertexKey + 1 + 2 + s.NameBytes + 1 + 5 + 2*s.Fanout*(edgeKey+edgeRow)
}

// Edges is how many edges the spec's graph has.
func Edges(s Spec) int64 {
	f := int64(s.Fanout)
	if s.Vertices <= f {
		return s.Vertices * (s.Vertices - 1) / 2
	}
	return (s.Vertices-f)*f + f*(f-1)/2
}

// Result is what was loaded.
type Result struct {
	SpaceID     int32
	Keys, Bytes int64 // keys and table bytes ingested (reverse edges included)
	Elapsed     time.Duration
}

// Load creates spec's space (vid type INT64, replica_factor 1) with tag
// p(name string, n int) and edge r(w int), stops every storaged, ingests
// each host's parts into its data path, and starts them again (also after
// a failure: nothing is left down). Progress lines go to progress.
func Load(ctx context.Context, c *cluster.Cluster, spec Spec, progress io.Writer) (*Result, error) {
	start := time.Now()
	if spec.Parts <= 0 || spec.Vertices <= 0 || spec.Fanout < 0 || spec.NameBytes < 1 {
		return nil, fmt.Errorf("bulk load: parts %d, vertices %d, fanout %d, name bytes %d: want parts, vertices and name bytes > 0",
			spec.Parts, spec.Vertices, spec.Fanout, spec.NameBytes)
	}
	mc, err := client.NewMetaClient(c.MetaAddr(), client.Options{ConnectTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer mc.Close()
	g, hostParts, spaceID, err := createSpace(ctx, c, mc, spec)
	if err != nil {
		return nil, err
	}

	res := &Result{SpaceID: spaceID}
	if err := ingestStopped(ctx, c, g, hostParts, spaceID, res, progress, start); err != nil {
		return nil, err
	}
	if err := c.Wait(ctx); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// ingestStopped stops the storaged of every host in hostParts, ingests,
// and starts them again whatever happened (a failure to start one is
// reported with the ingest's own).
func ingestStopped(ctx context.Context, c *cluster.Cluster, g graphd.BulkGraph, hostParts map[int][]int32, spaceID int32, res *Result, progress io.Writer, start time.Time) (err error) {
	for _, i := range sortedHosts(hostParts) {
		if err := c.StopService(i, "storaged"); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, c.StartService(i, "storaged")) }()
	}
	return ingest(ctx, c, g, hostParts, spaceID, res, progress, start)
}

// ingest writes each host's parts into its store, every store open at
// once and closed before storaged is started again.
func ingest(ctx context.Context, c *cluster.Cluster, g graphd.BulkGraph, hostParts map[int][]int32, spaceID int32, res *Result, progress io.Writer, start time.Time) error {
	var stores []*kv.Store
	defer func() {
		for _, st := range stores {
			st.Close()
		}
	}()
	var (
		mu   sync.Mutex
		done int
	)
	total := 0
	for _, parts := range hostParts {
		total += len(parts)
	}
	addrs := c.StorageAddrs()
	eg, _ := errgroup.WithContext(ctx)
	eg.SetLimit(runtime.GOMAXPROCS(0))
	for _, host := range sortedHosts(hostParts) {
		store, err := kv.Open(kv.Options{DataPath: c.StorageDataPath(host)})
		if err != nil {
			return fmt.Errorf("bulk load: open the store of storaged %s: %w", addrs[host], err)
		}
		stores = append(stores, store)
		for _, part := range hostParts[host] {
			eg.Go(func() error {
				keys, bytes, err := store.IngestPart(spaceID, part, func(put func(k, v []byte) error) error { return g.Part(part, put) })
				if err != nil {
					return fmt.Errorf("bulk load: storaged %s: %w", addrs[host], err)
				}
				mu.Lock()
				defer mu.Unlock()
				res.Keys += keys
				res.Bytes += bytes
				done++
				el := time.Since(start)
				fmt.Fprintf(progress, "loaded part %d/%d on %s: %d keys; %s in all, %.1f MB/s, about %s left\n", done, total,
					addrs[host], keys, humanize.IBytes(uint64(res.Bytes)), float64(res.Bytes)/1e6/el.Seconds(), (el * time.Duration(total-done) / time.Duration(done)).Round(time.Second))
				return nil
			})
		}
	}
	return eg.Wait()
}

// createSpace creates the space and its schema, and says which host
// (cluster index) holds which parts.
func createSpace(ctx context.Context, c *cluster.Cluster, mc *client.MetaClient, spec Spec) (graphd.BulkGraph, map[int][]int32, int32, error) {
	var g graphd.BulkGraph
	id, err := mc.CreateSpace(ctx, &meta.SpaceDesc{SpaceName: []byte(spec.Space), PartitionNum: spec.Parts, ReplicaFactor: 1,
		VidType: &meta.ColumnTypeDef{Type: nebula.PropertyType_INT64}}, false)
	if err != nil {
		return g, nil, 0, fmt.Errorf("bulk load: create space %s (it must not exist): %w", spec.Space, err)
	}
	col := func(name string, t nebula.PropertyType) *meta.ColumnDef {
		return &meta.ColumnDef{Name: []byte(name), Type: &meta.ColumnTypeDef{Type: t}}
	}
	tag, err := mc.CreateTag(ctx, id, "p", &meta.Schema{Columns: []*meta.ColumnDef{col("name", nebula.PropertyType_STRING), col("n", nebula.PropertyType_INT64)},
		SchemaProp: &meta.SchemaProp{}}, false)
	if err != nil {
		return g, nil, 0, fmt.Errorf("bulk load: create tag p: %w", err)
	}
	edge, err := mc.CreateEdge(ctx, id, "r", &meta.Schema{Columns: []*meta.ColumnDef{col("w", nebula.PropertyType_INT64)}, SchemaProp: &meta.SchemaProp{}}, false)
	if err != nil {
		return g, nil, 0, fmt.Errorf("bulk load: create edge r: %w", err)
	}
	alloc, err := mc.GetPartsAlloc(ctx, id)
	if err != nil {
		return g, nil, 0, err
	}
	hostOf := map[string]int{}
	for i, a := range c.StorageAddrs() {
		hostOf[a] = i
	}
	hostParts := map[int][]int32{}
	for part, hosts := range alloc {
		for _, h := range hosts {
			i, ok := hostOf[fmt.Sprintf("%s:%d", h.Host, h.Port)]
			if !ok {
				return g, nil, 0, fmt.Errorf("bulk load: part %d is on %s:%d, which is not a storaged of the cluster at %s", part, h.Host, h.Port, c.Root)
			}
			hostParts[i] = append(hostParts[i], int32(part))
		}
	}
	for _, parts := range hostParts {
		sort.Slice(parts, func(a, b int) bool { return parts[a] < parts[b] })
	}
	g = graphd.BulkGraph{Parts: spec.Parts, Vertices: spec.Vertices, Fanout: spec.Fanout, NameBytes: spec.NameBytes, Tag: int32(tag), Edge: int32(edge)}
	return g, hostParts, int32(id), nil
}

func sortedHosts(m map[int][]int32) []int {
	out := make([]int, 0, len(m))
	for h := range m {
		out = append(out, h)
	}
	sort.Ints(out)
	return out
}
