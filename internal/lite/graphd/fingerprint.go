package graphd

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// SHOW FINGERPRINT: a deterministic digest of a space's data. Every vertex
// tag and every edge is hashed with its properties by name (not by id or
// placement), and the hashes are summed, so the result does not depend on
// the order of scans or on which host holds which part: two spaces have
// the same fingerprint exactly when they hold the same graph.

type digest struct {
	count  int64
	lo, hi uint64
}

func (d *digest) add(parts ...string) {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	d.count++
	d.lo += binary.BigEndian.Uint64(sum[:8])
	d.hi += binary.BigEndian.Uint64(sum[8:16])
}

func (d *digest) merge(o digest) {
	d.count += o.count
	d.lo += o.lo
	d.hi += o.hi
}

func (d digest) hex() string { return fmt.Sprintf("%016x%016x", d.hi, d.lo) }

func propsText(cols []string, props map[string]any) string {
	var sb strings.Builder
	for _, c := range cols {
		sb.WriteString(c)
		sb.WriteByte('=')
		sb.WriteString(canonical(props[c]))
		sb.WriteByte(';')
	}
	return sb.String()
}

func (s *Server) fingerprint(ctx context.Context, sp *space) (*nebula.DataSet, error) {
	var mu sync.Mutex
	totals := map[*schema]*digest{}
	for _, sc := range sp.order {
		totals[sc] = &digest{}
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	var firstErr error
	for part := int32(1); part <= sp.vid.parts; part++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			local := map[*schema]*digest{}
			err := s.router.scan(ctx, sp, part, nil, func(k, v []byte) error {
				if vid, tag, ok := parseVertexKey(k, sp.vid.width); ok {
					sc := sp.tagByID[tag]
					if sc == nil {
						return nil
					}
					t, err := decodeTag(sc, v)
					if err != nil {
						return err
					}
					if local[sc] == nil {
						local[sc] = &digest{}
					}
					local[sc].add("v", canonical(sp.vid.decode(vid)), sc.name, propsText(t.cols, t.props))
					return nil
				}
				ek, ok := parseEdgeKey(k, sp.vid.width)
				if !ok || ek.typ < 0 {
					return nil // reverse copies mirror the forward ones
				}
				sc := sp.edgeBy[ek.typ]
				if sc == nil {
					return nil
				}
				props, err := decodeEdgeProps(sc, v)
				if err != nil {
					return err
				}
				if local[sc] == nil {
					local[sc] = &digest{}
				}
				local[sc].add("e", canonical(sp.vid.decode(ek.src)), canonical(sp.vid.decode(ek.dst)),
					fmt.Sprint(ek.rank), sc.name, propsText(sc.colNames(), props))
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			for sc, d := range local {
				totals[sc].merge(*d)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	var rows [][]any
	for _, sc := range sp.order {
		kind := "tag"
		if sc.isEdge {
			kind = "edge"
		}
		d := totals[sc]
		rows = append(rows, []any{kind, sc.name, d.count, d.hex()})
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i][0].(string)+"/"+rows[i][1].(string) < rows[j][0].(string)+"/"+rows[j][1].(string)
	})
	whole := sha256.New()
	var total int64
	for _, r := range rows {
		fmt.Fprintf(whole, "%s|%s|%d|%s\n", r...)
		total += r[2].(int64)
	}
	rows = append(rows, []any{"space", sp.name, total, fmt.Sprintf("%x", whole.Sum(nil))[:32]})
	return dataset([]string{"Kind", "Name", "Count", "Hash"}, rows), nil
}
