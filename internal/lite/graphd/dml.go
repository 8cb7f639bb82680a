package graphd

import (
	"context"

	"github.com/nebula-open/nebula-br/internal/lite/ngql"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/storage"
)

// batches collects per-part writes of one statement.
type batches map[int32]*storage.LiteBatch

func (b batches) part(p int32) *storage.LiteBatch {
	if b[p] == nil {
		b[p] = &storage.LiteBatch{Puts: []*nebula.KeyValue{}, Removes: [][]byte{}}
	}
	return b[p]
}

func (b batches) put(p int32, k, v []byte) {
	lb := b.part(p)
	lb.Puts = append(lb.Puts, &nebula.KeyValue{Key: k, Value: v})
}

func (b batches) remove(p int32, k []byte) {
	lb := b.part(p)
	lb.Removes = append(lb.Removes, k)
}

// evalVid evaluates and encodes a vertex id expression.
func evalVid(sp *space, e ngql.Expr) ([]byte, error) {
	v, err := ngql.Eval(e, noEnv{})
	if err != nil {
		return nil, err
	}
	b, err := sp.vid.encode(v)
	if err != nil {
		return nil, semanticf("SemanticError: %v", err)
	}
	return b, nil
}

// rowFor builds the stored row of a schema from the given props/values.
func rowFor(sc *schema, props []string, vals []ngql.Expr) ([]byte, error) {
	given := map[string]ngql.Expr{}
	for i, p := range props {
		if _, ok := sc.index[p]; !ok {
			kind := "tag"
			if sc.isEdge {
				kind = "edge"
			}
			return nil, semanticf("SemanticError: %s `%s' has no property `%s'", kind, sc.name, p)
		}
		given[p] = vals[i]
	}
	row := make([]any, len(sc.cols))
	for i, c := range sc.cols {
		e, ok := given[c.name]
		var v any
		switch {
		case ok:
			var err error
			if v, err = ngql.Eval(e, noEnv{}); err != nil {
				return nil, err
			}
		case c.hasDef:
			v = c.def
		case c.nullable:
			v = nil
		default:
			return nil, semanticf("SemanticError: property `%s' of `%s' has no default value and is not nullable", c.name, sc.name)
		}
		v, err := c.check(v)
		if err != nil {
			return nil, err
		}
		row[i] = v
	}
	return encodeRow(row)
}

func (s *Server) insertVertex(ctx context.Context, sp *space, st *ngql.InsertVertex) error {
	var schemas []*schema
	want := 0
	for _, t := range st.Tags {
		sc, err := sp.schema(t.Tag, false)
		if err != nil {
			return err
		}
		schemas = append(schemas, sc)
		want += len(t.Props)
	}
	b := batches{}
	for _, r := range st.Rows {
		if len(r.Values) != want {
			return semanticf("SemanticError: %d values given for %d properties", len(r.Values), want)
		}
		vid, err := evalVid(sp, r.VID)
		if err != nil {
			return err
		}
		part := sp.vid.part(vid)
		off := 0
		for i, t := range st.Tags {
			row, err := rowFor(schemas[i], t.Props, r.Values[off:off+len(t.Props)])
			if err != nil {
				return err
			}
			off += len(t.Props)
			b.put(part, vertexKey(vid, schemas[i].id), row)
		}
	}
	if st.IfNotExists {
		if err := s.dropExisting(ctx, sp, b); err != nil {
			return err
		}
	}
	return s.router.write(ctx, sp, b)
}

// dropExisting removes from b the puts whose keys already exist.
func (s *Server) dropExisting(ctx context.Context, sp *space, b batches) error {
	keys := map[int32][][]byte{}
	for p, lb := range b {
		for _, kv := range lb.Puts {
			keys[p] = append(keys[p], kv.Key)
		}
	}
	found, err := s.router.get(ctx, sp, keys)
	if err != nil {
		return err
	}
	for _, lb := range b {
		kept := lb.Puts[:0]
		for _, kv := range lb.Puts {
			if _, ok := found[string(kv.Key)]; !ok {
				kept = append(kept, kv)
			}
		}
		lb.Puts = kept
	}
	return nil
}

func (s *Server) insertEdge(ctx context.Context, sp *space, st *ngql.InsertEdge) error {
	sc, err := sp.schema(st.Edge, true)
	if err != nil {
		return err
	}
	b := batches{}
	for _, r := range st.Rows {
		if len(r.Values) != len(st.Props) {
			return semanticf("SemanticError: %d values given for %d properties", len(r.Values), len(st.Props))
		}
		src, dst, rank, err := edgeEnds(sp, r.Src, r.Dst, r.Rank)
		if err != nil {
			return err
		}
		row, err := rowFor(sc, st.Props, r.Values)
		if err != nil {
			return err
		}
		b.put(sp.vid.part(src), edgeKey(src, sc.id, rank, dst), row)
		b.put(sp.vid.part(dst), edgeKey(dst, -sc.id, rank, src), row)
	}
	if st.IfNotExists {
		if err := s.dropExisting(ctx, sp, b); err != nil {
			return err
		}
	}
	return s.router.write(ctx, sp, b)
}

func edgeEnds(sp *space, srcE, dstE, rankE ngql.Expr) (src, dst []byte, rank int64, err error) {
	if src, err = evalVid(sp, srcE); err != nil {
		return
	}
	if dst, err = evalVid(sp, dstE); err != nil {
		return
	}
	if rankE != nil {
		var v any
		if v, err = ngql.Eval(rankE, noEnv{}); err != nil {
			return
		}
		r, ok := v.(int64)
		if !ok {
			err = semanticf("SemanticError: edge rank must be an integer, got %s", describe(v))
			return
		}
		rank = r
	}
	return
}

func (s *Server) deleteEdge(ctx context.Context, sp *space, st *ngql.DeleteEdge) error {
	sc, err := sp.schema(st.Edge, true)
	if err != nil {
		return err
	}
	b := batches{}
	for _, k := range st.Keys {
		src, dst, rank, err := edgeEnds(sp, k.Src, k.Dst, k.Rank)
		if err != nil {
			return err
		}
		b.remove(sp.vid.part(src), edgeKey(src, sc.id, rank, dst))
		b.remove(sp.vid.part(dst), edgeKey(dst, -sc.id, rank, src))
	}
	return s.router.write(ctx, sp, b)
}

func (s *Server) deleteVertex(ctx context.Context, sp *space, st *ngql.DeleteVertex) error {
	b := batches{}
	for _, e := range st.VIDs {
		vid, err := evalVid(sp, e)
		if err != nil {
			return err
		}
		part := sp.vid.part(vid)
		err = s.router.scan(ctx, sp, part, vertexPrefix(vid), func(k, _ []byte) error {
			b.remove(part, append([]byte(nil), k...))
			return nil
		})
		if err != nil {
			return err
		}
		if !st.WithEdge {
			continue
		}
		// Both copies of every edge: ours here, the other end's there.
		err = s.router.scan(ctx, sp, part, edgePrefix(vid), func(k, _ []byte) error {
			ek, ok := parseEdgeKey(k, sp.vid.width)
			if !ok {
				return nil
			}
			b.remove(part, append([]byte(nil), k...))
			b.remove(sp.vid.part(ek.dst), edgeKey(ek.dst, -ek.typ, ek.rank, ek.src))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.router.write(ctx, sp, b)
}
