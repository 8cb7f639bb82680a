package graphd

import (
	"context"
	"fmt"
	"net"
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
	order   []*schema // tags then edges, in creation order
	parts   map[int32]string
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
		edges: map[string]*schema{}, edgeBy: map[int32]*schema{}, parts: map[int32]string{}, loaded: time.Now()}
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
		if len(hosts) > 0 {
			sp.parts[int32(p)] = net.JoinHostPort(hosts[0].Host, strconv.Itoa(int(hosts[0].Port)))
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

// router sends data calls to the storaged holding each part.
type router struct {
	mu      sync.Mutex
	clients map[string]*client.LiteStorageClient
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
	h, ok := sp.parts[part]
	if !ok {
		return "", fmt.Errorf("space %s part %d has no storage host", sp.name, part)
	}
	return h, nil
}

// write applies per-part batches, one request per storage host.
func (r *router) write(ctx context.Context, sp *space, batches map[int32]*storage.LiteBatch) error {
	byHost := map[string]map[nebula.PartitionID]*storage.LiteBatch{}
	for p, b := range batches {
		h, err := r.hostOf(sp, p)
		if err != nil {
			return err
		}
		if byHost[h] == nil {
			byHost[h] = map[nebula.PartitionID]*storage.LiteBatch{}
		}
		byHost[h][nebula.PartitionID(p)] = b
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(byHost))
	for h, parts := range byHost {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := r.client(h)
			if err == nil {
				err = c.Write(ctx, &storage.LiteWriteRequest{SpaceID: nebula.GraphSpaceID(sp.id), Parts: parts})
			}
			if err != nil {
				errs <- fmt.Errorf("storaged %s: %w", h, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// get reads keys grouped by part.
func (r *router) get(ctx context.Context, sp *space, keys map[int32][][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	byHost := map[string]map[nebula.PartitionID][][]byte{}
	for p, ks := range keys {
		h, err := r.hostOf(sp, p)
		if err != nil {
			return nil, err
		}
		if byHost[h] == nil {
			byHost[h] = map[nebula.PartitionID][][]byte{}
		}
		byHost[h][nebula.PartitionID(p)] = ks
	}
	for h, parts := range byHost {
		c, err := r.client(h)
		if err != nil {
			return nil, fmt.Errorf("storaged %s: %w", h, err)
		}
		resp, err := c.Get(ctx, &storage.KVGetRequest{SpaceID: nebula.GraphSpaceID(sp.id), Parts: parts})
		if err != nil {
			return nil, fmt.Errorf("storaged %s: %w", h, err)
		}
		for k, v := range resp.KeyValues {
			out[k] = v
		}
	}
	return out, nil
}

// scan calls fn for every key with the prefix in a part, page by page.
func (r *router) scan(ctx context.Context, sp *space, part int32, prefix []byte, fn func(k, v []byte) error) error {
	h, err := r.hostOf(sp, part)
	if err != nil {
		return err
	}
	c, err := r.client(h)
	if err != nil {
		return fmt.Errorf("storaged %s: %w", h, err)
	}
	var after []byte
	for {
		resp, err := c.Scan(ctx, &storage.LiteScanRequest{SpaceID: nebula.GraphSpaceID(sp.id), PartID: nebula.PartitionID(part), Prefix: prefix, StartAfter: after, Limit: 4096})
		if err != nil {
			return fmt.Errorf("storaged %s: %w", h, err)
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
