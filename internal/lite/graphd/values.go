package graphd

import (
	"fmt"
	"sort"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// vertexVal and edgeVal are graph values inside the executor; they become
// nebula.Vertex and nebula.Edge on the wire.
type vertexVal struct {
	vid  any
	tags []tagVal
}

type tagVal struct {
	name  string
	cols  []string // schema order
	props map[string]any
}

type edgeVal struct {
	src, dst any
	name     string
	typ      int32
	rank     int64
	cols     []string
	props    map[string]any
}

func (v *vertexVal) properties() map[string]any {
	out := map[string]any{}
	for _, t := range v.tags {
		for k, x := range t.props {
			out[k] = x
		}
	}
	return out
}

// toValue converts an executor value to a wire value.
func toValue(v any) *nebula.Value {
	switch x := v.(type) {
	case nil:
		n := nebula.NullType___NULL__
		return &nebula.Value{NVal: &n}
	case bool:
		return &nebula.Value{BVal: &x}
	case int64:
		return &nebula.Value{IVal: &x}
	case float64:
		return &nebula.Value{FVal: &x}
	case string:
		return &nebula.Value{SVal: []byte(x)}
	case *vertexVal:
		out := &nebula.Vertex{Vid: toValue(x.vid), Tags: []*nebula.Tag{}}
		for _, t := range x.tags {
			out.Tags = append(out.Tags, &nebula.Tag{Name: []byte(t.name), Props: toProps(t.props)})
		}
		return &nebula.Value{VVal: out}
	case *edgeVal:
		return &nebula.Value{EVal: &nebula.Edge{
			Src: toValue(x.src), Dst: toValue(x.dst), Type: nebula.EdgeType(x.typ),
			Name: []byte(x.name), Ranking: nebula.EdgeRanking(x.rank), Props: toProps(x.props),
		}}
	case map[string]any:
		return &nebula.Value{MVal: &nebula.NMap{Kvs: toProps(x)}}
	case []any:
		l := &nebula.NList{Values: []*nebula.Value{}}
		for _, e := range x {
			l.Values = append(l.Values, toValue(e))
		}
		return &nebula.Value{LVal: l}
	}
	s := fmt.Sprint(v)
	return &nebula.Value{SVal: []byte(s)}
}

func toProps(m map[string]any) map[string]*nebula.Value {
	out := make(map[string]*nebula.Value, len(m))
	for k, v := range m {
		out[k] = toValue(v)
	}
	return out
}

// canonical renders a value deterministically (DISTINCT, fingerprints).
func canonical(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return fmt.Sprintf("%q", x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s := "{"
		for _, k := range keys {
			s += fmt.Sprintf("%q:%s,", k, canonical(x[k]))
		}
		return s + "}"
	case *vertexVal:
		s := "(" + canonical(x.vid)
		for _, t := range x.tags {
			s += ":" + t.name + canonical(t.props)
		}
		return s + ")"
	case *edgeVal:
		return fmt.Sprintf("[%s %s->%s@%d %s]", x.name, canonical(x.src), canonical(x.dst), x.rank, canonical(x.props))
	case float64:
		return fmt.Sprintf("%v", x)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

func dataset(cols []string, rows [][]any) *nebula.DataSet {
	ds := &nebula.DataSet{ColumnNames: [][]byte{}, Rows: []*nebula.Row{}}
	for _, c := range cols {
		ds.ColumnNames = append(ds.ColumnNames, []byte(c))
	}
	for _, r := range rows {
		row := &nebula.Row{Values: make([]*nebula.Value, len(r))}
		for i, v := range r {
			row.Values[i] = toValue(v)
		}
		ds.Rows = append(ds.Rows, row)
	}
	return ds
}
