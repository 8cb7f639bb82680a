package graphd

import (
	"context"
	"strings"

	"github.com/nebula-open/nebula-br/internal/lite/ngql"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// vertexCache loads vertices with all their tags once per query.
type vertexCache struct {
	s   *Server
	ctx context.Context
	sp  *space
	m   map[string]*vertexVal
}

// load returns the vertex, or nil when it has no tag at all.
func (c *vertexCache) load(vid []byte) (*vertexVal, error) {
	if v, ok := c.m[string(vid)]; ok {
		return v, nil
	}
	var v *vertexVal
	err := c.s.router.scan(c.ctx, c.sp, c.sp.vid.part(vid), vertexPrefix(vid), func(k, val []byte) error {
		_, tagID, ok := parseVertexKey(k, c.sp.vid.width)
		sc := c.sp.tagByID[tagID]
		if !ok || sc == nil {
			return nil // a dropped tag
		}
		t, err := decodeTag(sc, val)
		if err != nil {
			return err
		}
		if v == nil {
			v = &vertexVal{vid: c.sp.vid.decode(vid)}
		}
		v.tags = append(v.tags, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.m[string(vid)] = v
	return v, nil
}

func decodeTag(sc *schema, val []byte) (tagVal, error) {
	vals, err := decodeRow(val)
	if err != nil {
		return tagVal{}, execf("tag %s: %v", sc.name, err)
	}
	t := tagVal{name: sc.name, cols: sc.colNames(), props: map[string]any{}}
	for i, c := range sc.cols {
		if i < len(vals) {
			t.props[c.name] = vals[i]
		}
	}
	return t, nil
}

func decodeEdgeProps(sc *schema, val []byte) (map[string]any, error) {
	vals, err := decodeRow(val)
	if err != nil {
		return nil, execf("edge %s: %v", sc.name, err)
	}
	props := map[string]any{}
	for i, c := range sc.cols {
		if i < len(vals) {
			props[c.name] = vals[i]
		}
	}
	return props, nil
}

// rowEnv resolves names in YIELD and WHERE expressions for one row.
type rowEnv struct {
	sp       *space
	cache    *vertexCache
	vertex   *vertexVal // FETCH PROP ON tags
	edge     *edgeVal   // FETCH PROP ON edge, GO
	from, to []byte     // GO: the step's start and reached vertex
}

func (e *rowEnv) Prop(kind ngql.PropKind, owner, name string) (any, error) {
	switch kind {
	case ngql.PropSrc, ngql.PropDst:
		vid := e.from
		if kind == ngql.PropDst {
			vid = e.to
		}
		if vid == nil {
			return nil, semanticf("SemanticError: `$^' and `$$' are only allowed in GO")
		}
		if _, ok := e.sp.tags[owner]; !ok {
			return nil, semanticf("SemanticError: No schema found for tag `%s'", owner)
		}
		v, err := e.cache.load(vid)
		if err != nil || v == nil {
			return nil, err
		}
		return tagProp(v, owner, name), nil
	}
	if e.edge != nil && owner == e.edge.name {
		switch name {
		case "_src":
			return e.edge.src, nil
		case "_dst":
			return e.edge.dst, nil
		case "_rank":
			return e.edge.rank, nil
		case "_type":
			return int64(e.edge.typ), nil
		}
		if sc := e.sp.edges[owner]; sc != nil {
			if _, ok := sc.index[name]; !ok {
				return nil, semanticf("SemanticError: edge `%s' has no property `%s'", owner, name)
			}
		}
		return e.edge.props[name], nil
	}
	if e.vertex != nil {
		if sc := e.sp.tags[owner]; sc != nil {
			if _, ok := sc.index[name]; !ok {
				return nil, semanticf("SemanticError: tag `%s' has no property `%s'", owner, name)
			}
			return tagProp(e.vertex, owner, name), nil
		}
	}
	return nil, semanticf("SemanticError: `%s.%s' does not name a property here", owner, name)
}

func tagProp(v *vertexVal, tag, name string) any {
	for _, t := range v.tags {
		if t.name == tag {
			return t.props[name]
		}
	}
	return nil
}

func (e *rowEnv) Ident(name string) (any, error) {
	switch strings.ToLower(name) {
	case "vertex":
		if e.vertex != nil {
			return e.vertex, nil
		}
		if e.to != nil {
			return e.load(e.to)
		}
	case "edge":
		if e.edge != nil {
			return e.edge, nil
		}
	case "$$":
		if e.to != nil {
			return e.load(e.to)
		}
	case "$^":
		if e.from != nil {
			return e.load(e.from)
		}
	}
	return nil, semanticf("SemanticError: `%s' is not valid here", name)
}

// load returns a vertex, or a bare one (id only) when it has no tags.
func (e *rowEnv) load(vid []byte) (any, error) {
	v, err := e.cache.load(vid)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return &vertexVal{vid: e.sp.vid.decode(vid)}, nil
	}
	return v, nil
}

func (e *rowEnv) Call(name string, args []any) (any, bool, error) {
	if len(args) != 1 {
		return nil, false, nil
	}
	switch x := args[0].(type) {
	case *vertexVal:
		switch name {
		case "id":
			return x.vid, true, nil
		case "properties":
			return x.properties(), true, nil
		case "tags", "labels":
			var out []any
			for _, t := range x.tags {
				out = append(out, t.name)
			}
			return out, true, nil
		}
	case *edgeVal:
		switch name {
		case "src":
			return x.src, true, nil
		case "dst":
			return x.dst, true, nil
		case "rank":
			return x.rank, true, nil
		case "type":
			return x.name, true, nil
		case "properties":
			return x.props, true, nil
		}
	}
	return nil, false, nil
}

// project evaluates the YIELD columns for one row.
func project(y *ngql.Yield, env ngql.Env) ([]any, error) {
	row := make([]any, len(y.Columns))
	for i, c := range y.Columns {
		v, err := ngql.Eval(c.Expr, env)
		if err != nil {
			return nil, err
		}
		row[i] = v
	}
	return row, nil
}

func columns(y *ngql.Yield) []string {
	out := make([]string, len(y.Columns))
	for i, c := range y.Columns {
		out[i] = c.Name()
	}
	return out
}

// distinct keeps the first of equal rows.
func distinct(rows [][]any) [][]any {
	seen := map[string]bool{}
	var out [][]any
	for _, r := range rows {
		var sb strings.Builder
		for _, v := range r {
			sb.WriteString(canonical(v))
			sb.WriteByte(0)
		}
		if !seen[sb.String()] {
			seen[sb.String()] = true
			out = append(out, r)
		}
	}
	return out
}

func defaultYield(text string) *ngql.Yield {
	e, _ := ngql.ParseExpr(text)
	return &ngql.Yield{Columns: []ngql.YieldColumn{{Expr: e, Text: text}}}
}

func (s *Server) fetchVertices(ctx context.Context, sp *space, st *ngql.FetchVertices) (*nebula.DataSet, error) {
	all := len(st.Tags) == 1 && st.Tags[0] == "*"
	want := map[string]bool{}
	if !all {
		for _, t := range st.Tags {
			if _, err := sp.schema(t, false); err != nil {
				return nil, err
			}
			want[t] = true
		}
	}
	y := st.Yield
	if y == nil {
		y = defaultYield("vertex")
	}
	cache := &vertexCache{s: s, ctx: ctx, sp: sp, m: map[string]*vertexVal{}}
	var rows [][]any
	for _, e := range st.VIDs {
		vid, err := evalVid(sp, e)
		if err != nil {
			return nil, err
		}
		v, err := cache.load(vid)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		shown := &vertexVal{vid: v.vid}
		for _, t := range v.tags {
			if all || want[t.name] {
				shown.tags = append(shown.tags, t)
			}
		}
		if len(shown.tags) == 0 {
			continue
		}
		row, err := project(y, &rowEnv{sp: sp, cache: cache, vertex: shown})
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	if y.Distinct {
		rows = distinct(rows)
	}
	return dataset(columns(y), rows), nil
}

func (s *Server) fetchEdges(ctx context.Context, sp *space, st *ngql.FetchEdges) (*nebula.DataSet, error) {
	sc, err := sp.schema(st.Edge, true)
	if err != nil {
		return nil, err
	}
	y := st.Yield
	if y == nil {
		y = defaultYield("edge")
	}
	keys := map[int32][][]byte{}
	type ref struct {
		key      []byte
		src, dst []byte
		rank     int64
	}
	var refs []ref
	for _, k := range st.Keys {
		src, dst, rank, err := edgeEnds(sp, k.Src, k.Dst, k.Rank)
		if err != nil {
			return nil, err
		}
		key := edgeKey(src, sc.id, rank, dst)
		p := sp.vid.part(src)
		keys[p] = append(keys[p], key)
		refs = append(refs, ref{key, src, dst, rank})
	}
	found, err := s.router.get(ctx, sp, keys)
	if err != nil {
		return nil, err
	}
	cache := &vertexCache{s: s, ctx: ctx, sp: sp, m: map[string]*vertexVal{}}
	var rows [][]any
	for _, r := range refs {
		val, ok := found[string(r.key)]
		if !ok {
			continue
		}
		props, err := decodeEdgeProps(sc, val)
		if err != nil {
			return nil, err
		}
		ev := &edgeVal{src: sp.vid.decode(r.src), dst: sp.vid.decode(r.dst), name: sc.name, typ: sc.id, rank: r.rank, cols: sc.colNames(), props: props}
		row, err := project(y, &rowEnv{sp: sp, cache: cache, edge: ev})
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	if y.Distinct {
		rows = distinct(rows)
	}
	return dataset(columns(y), rows), nil
}

// goTraverse runs GO: breadth-first over the chosen edge types, yielding
// the edges of steps MinSteps..MaxSteps.
func (s *Server) goTraverse(ctx context.Context, sp *space, st *ngql.Go) (*nebula.DataSet, error) {
	types := map[int32]*schema{}
	if len(st.Over) == 1 && st.Over[0] == "*" {
		for id, sc := range sp.edgeBy {
			types[id] = sc
		}
	} else {
		for _, name := range st.Over {
			sc, err := sp.schema(name, true)
			if err != nil {
				return nil, err
			}
			types[sc.id] = sc
		}
	}
	y := st.Yield
	if y == nil {
		y = defaultYield("id($$)")
	}
	cache := &vertexCache{s: s, ctx: ctx, sp: sp, m: map[string]*vertexVal{}}
	var frontier [][]byte
	seen := map[string]bool{}
	for _, e := range st.From {
		vid, err := evalVid(sp, e)
		if err != nil {
			return nil, err
		}
		if !seen[string(vid)] {
			seen[string(vid)] = true
			frontier = append(frontier, vid)
		}
	}
	var rows [][]any
	for step := 1; step <= st.MaxSteps && len(frontier) > 0; step++ {
		var next [][]byte
		nextSeen := map[string]bool{}
		for _, from := range frontier {
			err := s.router.scan(ctx, sp, sp.vid.part(from), edgePrefix(from), func(k, val []byte) error {
				ek, ok := parseEdgeKey(k, sp.vid.width)
				if !ok {
					return nil
				}
				typ := ek.typ
				if typ > 0 && st.Direction == ngql.In || typ < 0 && st.Direction == ngql.Out {
					return nil
				}
				if typ < 0 {
					typ = -typ
				}
				sc := types[typ]
				if sc == nil {
					return nil
				}
				to := append([]byte(nil), ek.dst...)
				if !nextSeen[string(to)] {
					nextSeen[string(to)] = true
					next = append(next, to)
				}
				if step < st.MinSteps {
					return nil
				}
				props, err := decodeEdgeProps(sc, val)
				if err != nil {
					return err
				}
				// The edge keeps its real direction; $$ is where we arrived.
				ev := &edgeVal{name: sc.name, typ: sc.id, rank: ek.rank, cols: sc.colNames(), props: props,
					src: sp.vid.decode(from), dst: sp.vid.decode(to)}
				if ek.typ < 0 {
					ev.src, ev.dst = ev.dst, ev.src
				}
				env := &rowEnv{sp: sp, cache: cache, edge: ev, from: from, to: to}
				if st.Where != nil {
					v, err := ngql.Eval(st.Where, env)
					if err != nil {
						return err
					}
					keep, err := ngql.Truthy(v)
					if err != nil {
						return semanticf("SemanticError: %v", err)
					}
					if !keep {
						return nil
					}
				}
				row, err := project(y, env)
				if err != nil {
					return err
				}
				rows = append(rows, row)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		frontier = next
	}
	if y.Distinct {
		rows = distinct(rows)
	}
	return dataset(columns(y), rows), nil
}
