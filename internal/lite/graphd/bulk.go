package graphd

import (
	"encoding/binary"
	"fmt"
)

// BulkGraph is the graph `nebula-lite load` writes straight into storaged's
// engines, keyed and encoded exactly as INSERT would store it, so that
// graphd reads it back and fingerprints compare: vertices 0..Vertices-1
// (INT64 vids) of tag p(name string, n int), and from each vertex v an edge
// r(w int) to each of v+1..v+Fanout. It is a function of its fields alone.
type BulkGraph struct {
	Parts     int32 // the space's partition_num
	Vertices  int64
	Fanout    int
	NameBytes int   // length of each vertex's name (the bulk of the data)
	Tag       int32 // tag p's id
	Edge      int32 // edge type r
}

// Part calls put with every key of part (without the part prefix) and its
// value, in key order: first the vertices, then, per vertex, its reverse
// edges and its out-edges (how the keys sort). A part holds the vids v with
// v % Parts == part-1, so every part is written on its own.
func (g BulkGraph) Part(part int32, put func(k, v []byte) error) error {
	if part < 1 || part > g.Parts {
		return fmt.Errorf("part %d of %d", part, g.Parts)
	}
	name := make([]byte, g.NameBytes)
	for v := int64(part - 1); v < g.Vertices; v += int64(g.Parts) {
		row, err := encodeRow([]any{g.name(name, v), v})
		if err != nil {
			return err
		}
		if err := put(vertexKey(bulkVid(v), g.Tag), row); err != nil {
			return err
		}
	}
	for v := int64(part - 1); v < g.Vertices; v += int64(g.Parts) {
		vid := bulkVid(v)
		for src := max(v-int64(g.Fanout), 0); src < v; src++ {
			if err := g.putEdge(put, edgeKey(vid, -g.Edge, 0, bulkVid(src)), src, v); err != nil {
				return err
			}
		}
		for dst := v + 1; dst <= v+int64(g.Fanout) && dst < g.Vertices; dst++ {
			if err := g.putEdge(put, edgeKey(vid, g.Edge, 0, bulkVid(dst)), v, dst); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g BulkGraph) putEdge(put func(k, v []byte) error, key []byte, src, dst int64) error {
	row, err := encodeRow([]any{src*31 + dst})
	if err != nil {
		return err
	}
	return put(key, row)
}

// name fills buf with vertex v's name: its number, then filler that
// depends on it.
func (g BulkGraph) name(buf []byte, v int64) string {
	n := copy(buf, fmt.Sprintf("v%d-", v))
	x := uint64(v)*0x9e3779b97f4a7c15 + 1
	for i := n; i < len(buf); i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = 'a' + byte(x%26)
	}
	return string(buf)
}

func bulkVid(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v)^(1<<63))
	return b[:]
}
