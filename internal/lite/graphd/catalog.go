package graphd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

// column is a property with its default decoded.
type column struct {
	name     string
	typ      nebula.PropertyType
	length   int16
	nullable bool
	def      any
	hasDef   bool
	comment  string
}

// schema is a tag or an edge type of a space.
type schema struct {
	id     int32
	name   string
	isEdge bool
	cols   []column
	index  map[string]int
}

func (s *schema) colNames() []string {
	out := make([]string, len(s.cols))
	for i, c := range s.cols {
		out[i] = c.name
	}
	return out
}

// space is what graphd knows of a space: schema and part placement.
type space struct {
	id      int32
	name    string
	desc    *meta.SpaceDesc
	vid     vidCodec
	tags    map[string]*schema
	tagByID map[int32]*schema
	edges   map[string]*schema
	edgeBy  map[int32]*schema
	order   []*schema          // tags then edges, in creation order
	parts   map[int32]string   // where to send a part's calls: its leader as metad knows it
	replica map[int32][]string // every replica of a part (replica_factor > 1)
	loaded  time.Time
}

// catalog caches spaces from metad. A query sees data at most cacheTTL old;
// DDL through this graphd invalidates at once.
type catalog struct {
	meta *client.MetaClient
	ttl  time.Duration

	mu     sync.Mutex
	spaces map[string]*space
}

func newCatalog(m *client.MetaClient) *catalog {
	return &catalog{meta: m, ttl: 2 * time.Second, spaces: map[string]*space{}}
}

func (c *catalog) invalidate(name string) {
	c.mu.Lock()
	delete(c.spaces, name)
	c.mu.Unlock()
}

// space loads a space by name.
func (c *catalog) space(ctx context.Context, name string) (*space, error) {
	c.mu.Lock()
	sp := c.spaces[name]
	c.mu.Unlock()
	if sp != nil && time.Since(sp.loaded) < c.ttl {
		return sp, nil
	}
	item, err := c.meta.GetSpace(ctx, name)
	if err != nil {
		if client.IsCode(err, nebula.ErrorCode_E_SPACE_NOT_FOUND) {
			return nil, semanticf("SpaceNotFound: SpaceName `%s'", name)
		}
		return nil, err
	}
	id := item.SpaceID
	sp = &space{id: int32(id), name: name, desc: item.Properties, tags: map[string]*schema{}, tagByID: map[int32]*schema{},
		edges: map[string]*schema{}, edgeBy: map[int32]*schema{}, parts: map[int32]string{},
		replica: map[int32][]string{}, loaded: time.Now()}
	vt := item.Properties.GetVidType()
	sp.vid = vidCodec{intVid: vt.GetType() == nebula.PropertyType_INT64, width: int(vt.GetTypeLength()), parts: item.Properties.PartitionNum}
	if sp.vid.intVid {
		sp.vid.width = 8
	}
	tags, err := c.meta.ListTags(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		s, err := toSchema(int32(t.TagID), string(t.TagName), false, t.Schema)
		if err != nil {
			return nil, err
		}
		sp.tags[s.name], sp.tagByID[s.id] = s, s
		sp.order = append(sp.order, s)
	}
	edges, err := c.meta.ListEdges(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, e := range edges {
		s, err := toSchema(int32(e.EdgeType), string(e.EdgeName), true, e.Schema)
		if err != nil {
			return nil, err
		}
		sp.edges[s.name], sp.edgeBy[s.id] = s, s
		sp.order = append(sp.order, s)
	}
	alloc, err := c.meta.GetPartsAlloc(ctx, id)
	if err != nil {
		return nil, err
	}
	for p, hosts := range alloc {
		for _, h := range hosts {
			sp.replica[int32(p)] = append(sp.replica[int32(p)], hostString(h))
		}
		if len(hosts) > 0 {
			sp.parts[int32(p)] = hostString(hosts[0])
		}
	}
	if item.Properties.ReplicaFactor > 1 {
		// Leaders as storaged last reported them to metad (NebulaGraph's
		// meta client loads them from listHosts the same way).
		hosts, err := c.meta.ListHosts(ctx, meta.ListHostType_ALLOC)
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			for _, p := range h.LeaderParts[name] {
				sp.parts[int32(p)] = hostString(h.HostAddr)
			}
		}
	}
	c.mu.Lock()
	c.spaces[name] = sp
	c.mu.Unlock()
	return sp, nil
}

func toSchema(id int32, name string, isEdge bool, ms *meta.Schema) (*schema, error) {
	s := &schema{id: id, name: name, isEdge: isEdge, index: map[string]int{}}
	for i, c := range ms.GetColumns() {
		col := column{name: string(c.Name), typ: c.Type.GetType(), length: c.Type.GetTypeLength(), nullable: c.Nullable, comment: string(c.Comment)}
		if len(c.DefaultValue) > 0 {
			vals, err := decodeRow(c.DefaultValue)
			if err != nil || len(vals) != 1 {
				return nil, fmt.Errorf("%s.%s: bad default value", name, col.name)
			}
			col.def, col.hasDef = vals[0], true
		}
		s.cols = append(s.cols, col)
		s.index[col.name] = i
	}
	return s, nil
}

// router sends data calls to the storaged holding each part: for
// replicated spaces, to the part's leader, learnt from metad and from the
// leader hints of E_LEADER_CHANGED answers.
type router struct {
	mu      sync.Mutex
	clients map[string]*client.LiteStorageClient
	leaders map[[2]int32]string // (space, part) -> leader, newer than the catalog's
}

func (r *router) client(addr string) (*client.LiteStorageClient, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[addr]; c != nil {
		return c, nil
	}
	c, err := client.NewLiteStorageClient(addr, client.Options{})
	if err != nil {
		return nil, err
	}
	r.clients[addr] = c
	return c, nil
}

func (r *router) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.clients {
		c.Close()
	}
}

func (r *router) hostOf(sp *space, part int32) (string, error) {
	r.mu.Lock()
	h, ok := r.leaders[[2]int32{sp.id, part}]
	r.mu.Unlock()
	if ok {
		return h, nil
	}
	h, ok = sp.parts[part]
	if !ok {
		return "", fmt.Errorf("space %s part %d has no storage host", sp.name, part)
	}
	return h, nil
}

// redirect points a part's calls at its leader, or, with no hint, at the
// replica after the one that failed.
func (r *router) redirect(sp *space, part int32, failed string, hint *nebula.HostAddr) {
	next := ""
	if hint != nil && hint.Host != "" {
		next = hostString(hint)
	} else if reps := sp.replica[part]; len(reps) > 0 {
		next = reps[0]
		for i, h := range reps {
			if h == failed {
				next = reps[(i+1)%len(reps)]
			}
		}
	}
	if next == "" {
		return
	}
	r.mu.Lock()
	if r.leaders == nil {
		r.leaders = map[[2]int32]string{}
	}
	r.leaders[[2]int32{sp.id, part}] = next
	r.mu.Unlock()
}

// Retries of calls to a replicated space's parts, as NebulaGraph's storage
// client does on E_LEADER_CHANGED: bounded, with a short backoff (an
// election takes a second or two).
const (
	leaderRetries = 60
	leaderBackoff = 100 * time.Millisecond
)

// forParts calls call(host, parts) for the parts grouped by the host that
// should serve them, in parallel. For replicated spaces, parts answered
// E_LEADER_CHANGED, or whose host cannot be reached, are sent again to the
// leader named in the answer (or the next replica).
func (r *router) forParts(ctx context.Context, sp *space, parts []int32, call func(host string, parts []int32) error) error {
	replicated := sp.desc.GetReplicaFactor() > 1
	for attempt := 0; ; attempt++ {
		byHost := map[string][]int32{}
		for _, p := range parts {
			h, err := r.hostOf(sp, p)
			if err != nil {
				return err
			}
			byHost[h] = append(byHost[h], p)
		}
		var mu sync.Mutex
		var retry []int32
		var firstErr error
		var wg sync.WaitGroup
		for h, ps := range byHost {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := call(h, ps)
				if err == nil {
					return
				}
				again := r.leaderMoved(sp, h, ps, err)
				mu.Lock()
				defer mu.Unlock()
				if replicated && len(again) > 0 && attempt < leaderRetries {
					retry = append(retry, again...)
					if len(again) == len(ps) {
						return
					}
				}
				if firstErr == nil {
					firstErr = fmt.Errorf("storaged %s: %w", h, err)
				}
			}()
		}
		wg.Wait()
		if firstErr != nil || len(retry) == 0 {
			return firstErr
		}
		parts = retry
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(leaderBackoff):
		}
	}
}

// leaderMoved redirects and returns the parts of a failed call that may
// succeed elsewhere: those answered E_LEADER_CHANGED, or all of them when
// the host did not answer at all.
func (r *router) leaderMoved(sp *space, host string, parts []int32, err error) []int32 {
	var partErrs []*client.PartError
	var walk func(error)
	walk = func(e error) {
		if pe, ok := e.(*client.PartError); ok {
			partErrs = append(partErrs, pe)
		} else if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	var codeErr *client.CodeError
	if len(partErrs) == 0 && !errors.As(err, &codeErr) {
		for _, p := range parts { // unreachable: try another replica
			r.redirect(sp, p, host, nil)
		}
		return parts
	}
	var again []int32
	for _, pe := range partErrs {
		if pe.Code == nebula.ErrorCode_E_LEADER_CHANGED {
			r.redirect(sp, int32(pe.Part), host, pe.Leader)
			again = append(again, int32(pe.Part))
		}
	}
	return again
}

// write applies per-part batches, one request per storage host.
func (r *router) write(ctx context.Context, sp *space, batches map[int32]*storage.LiteBatch) error {
	return r.forParts(ctx, sp, slices.Collect(maps.Keys(batches)), func(h string, ps []int32) error {
		c, err := r.client(h)
		if err != nil {
			return err
		}
		req := &storage.LiteWriteRequest{SpaceID: nebula.GraphSpaceID(sp.id), Parts: map[nebula.PartitionID]*storage.LiteBatch{}}
		for _, p := range ps {
			req.Parts[nebula.PartitionID(p)] = batches[p]
		}
		return c.Write(ctx, req)
	})
}

// get reads keys grouped by part.
func (r *router) get(ctx context.Context, sp *space, keys map[int32][][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	var mu sync.Mutex
	err := r.forParts(ctx, sp, slices.Collect(maps.Keys(keys)), func(h string, ps []int32) error {
		c, err := r.client(h)
		if err != nil {
			return err
		}
		req := &storage.KVGetRequest{SpaceID: nebula.GraphSpaceID(sp.id), Parts: map[nebula.PartitionID][][]byte{}}
		for _, p := range ps {
			req.Parts[nebula.PartitionID(p)] = keys[p]
		}
		resp, err := c.Get(ctx, req)
		if resp != nil {
			mu.Lock()
			for k, v := range resp.KeyValues {
				out[k] = v
			}
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scan calls fn for every key with the prefix in a part, page by page.
func (r *router) scan(ctx context.Context, sp *space, part int32, prefix []byte, fn func(k, v []byte) error) error {
	var after []byte
	for {
		var resp *storage.LiteScanResponse
		err := r.forParts(ctx, sp, []int32{part}, func(h string, _ []int32) error {
			c, err := r.client(h)
			if err != nil {
				return err
			}
			resp, err = c.Scan(ctx, &storage.LiteScanRequest{SpaceID: nebula.GraphSpaceID(sp.id), PartID: nebula.PartitionID(part), Prefix: prefix, StartAfter: after, Limit: 4096})
			return err
		})
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv.Key, kv.Value); err != nil {
				return err
			}
			after = kv.Key
		}
		if !resp.HasNext || len(resp.Kvs) == 0 {
			return nil
		}
	}
}

func hostString(h *nebula.HostAddr) string {
	return net.JoinHostPort(h.Host, strconv.Itoa(int(h.Port)))
}
