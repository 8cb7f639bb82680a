// Package console runs nGQL statements against a graphd and prints the
// answers the way nebula-console does: a boxed table of the result's
// DataSet, then "Got N rows (time spent X us)".
package console

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// FormatValue renders one value as nebula-console shows it: strings
// quoted, vertices as ("vid" :tag{p: v}), edges as
// [:name "src"->"dst" @rank {p: v}], lists [a, b], maps and sets {..}.
func FormatValue(v *nebula.Value) string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func writeValue(b *strings.Builder, v *nebula.Value) {
	switch {
	case v == nil:
		b.WriteString("__EMPTY__")
	case v.NVal != nil:
		b.WriteString(nullName(*v.NVal))
	case v.BVal != nil:
		b.WriteString(strconv.FormatBool(*v.BVal))
	case v.IVal != nil:
		b.WriteString(strconv.FormatInt(*v.IVal, 10))
	case v.FVal != nil:
		b.WriteString(formatFloat(*v.FVal))
	case v.SVal != nil:
		b.WriteString(strconv.Quote(string(v.SVal)))
	case v.DVal != nil:
		d := v.DVal
		fmt.Fprintf(b, "%04d-%02d-%02d", d.Year, d.Month, d.Day)
	case v.TVal != nil:
		t := v.TVal
		fmt.Fprintf(b, "%02d:%02d:%02d.%06d", t.Hour, t.Minute, t.Sec, t.Microsec)
	case v.DtVal != nil:
		t := v.DtVal
		fmt.Fprintf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%06d", t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Sec, t.Microsec)
	case v.VVal != nil:
		writeVertex(b, v.VVal)
	case v.EVal != nil:
		writeEdge(b, v.EVal)
	case v.PVal != nil:
		writePath(b, v.PVal)
	case v.LVal != nil:
		b.WriteByte('[')
		writeList(b, v.LVal.Values)
		b.WriteByte(']')
	case v.MVal != nil:
		writeProps(b, v.MVal.Kvs)
	case v.UVal != nil:
		b.WriteByte('{')
		writeList(b, v.UVal.Values)
		b.WriteByte('}')
	case v.GVal != nil:
		writeDataSet(b, v.GVal)
	case v.GgVal != nil:
		writeGeography(b, v.GgVal)
	case v.DuVal != nil:
		d := v.DuVal
		fmt.Fprintf(b, "P%dMT%d.%06dS", d.Months, d.Seconds, d.Microseconds)
	default:
		b.WriteString("__EMPTY__")
	}
}

func nullName(n nebula.NullType) string {
	if s := n.String(); s != "<UNSET>" {
		return s
	}
	return "__NULL__"
}

// formatFloat prints the shortest representation, keeping a ".0" on
// integral values so a float never reads like an int.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if e := strings.IndexByte(s, 'e'); e >= 0 {
		// 1e+21 -> 1e21, as NebulaGraph prints exponents.
		return strings.Replace(s, "e+", "e", 1)
	}
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

func writeList(b *strings.Builder, vs []*nebula.Value) {
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(b, v)
	}
}

// writeProps writes {k: v, ...} with keys sorted.
func writeProps(b *strings.Builder, props map[string]*nebula.Value) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(": ")
		writeValue(b, props[k])
	}
	b.WriteByte('}')
}

func writeVertex(b *strings.Builder, v *nebula.Vertex) {
	b.WriteByte('(')
	writeValue(b, v.Vid)
	for _, t := range v.Tags {
		b.WriteString(" :")
		b.Write(t.Name)
		writeProps(b, t.Props)
	}
	b.WriteByte(')')
}

func writeEdge(b *strings.Builder, e *nebula.Edge) {
	b.WriteString("[:")
	b.Write(e.Name)
	b.WriteByte(' ')
	writeValue(b, e.Src)
	if e.Type < 0 {
		b.WriteString("<-")
	} else {
		b.WriteString("->")
	}
	writeValue(b, e.Dst)
	fmt.Fprintf(b, " @%d ", e.Ranking)
	writeProps(b, e.Props)
	b.WriteByte(']')
}

func writePath(b *strings.Builder, p *nebula.Path) {
	b.WriteByte('<')
	if p.Src != nil {
		writeVertex(b, p.Src)
	}
	for _, s := range p.Steps {
		if s.Type < 0 {
			b.WriteString("<-[:")
		} else {
			b.WriteString("-[:")
		}
		b.Write(s.Name)
		fmt.Fprintf(b, "@%d ", s.Ranking)
		writeProps(b, s.Props)
		if s.Type < 0 {
			b.WriteString("]-")
		} else {
			b.WriteString("]->")
		}
		if s.Dst != nil {
			writeVertex(b, s.Dst)
		}
	}
	b.WriteByte('>')
}

func writeDataSet(b *strings.Builder, ds *nebula.DataSet) {
	b.WriteByte('[')
	for i, r := range ds.Rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('{')
		for j, v := range r.Values {
			if j > 0 {
				b.WriteString(", ")
			}
			if j < len(ds.ColumnNames) {
				b.Write(ds.ColumnNames[j])
				b.WriteString(": ")
			}
			writeValue(b, v)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

func writeCoords(b *strings.Builder, cs []*nebula.Coordinate) {
	for i, c := range cs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s %s", strconv.FormatFloat(c.X, 'g', -1, 64), strconv.FormatFloat(c.Y, 'g', -1, 64))
	}
}

func writeGeography(b *strings.Builder, g *nebula.Geography) {
	switch {
	case g.PtVal != nil && g.PtVal.Coord != nil:
		b.WriteString("POINT(")
		writeCoords(b, []*nebula.Coordinate{g.PtVal.Coord})
		b.WriteByte(')')
	case g.LsVal != nil:
		b.WriteString("LINESTRING(")
		writeCoords(b, g.LsVal.CoordList)
		b.WriteByte(')')
	case g.PgVal != nil:
		b.WriteString("POLYGON(")
		for i, ring := range g.PgVal.CoordListList {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			writeCoords(b, ring)
			b.WriteByte(')')
		}
		b.WriteByte(')')
	default:
		b.WriteString("__EMPTY__")
	}
}

// WriteTable prints a DataSet as a boxed table with its column names as
// header:
//
//	+-------+-----+
//	| name  | age |
//	+-------+-----+
//	| "Tim" | 42  |
//	+-------+-----+
func WriteTable(w io.Writer, ds *nebula.DataSet) error {
	if ds == nil {
		return nil
	}
	ncol := len(ds.ColumnNames)
	for _, r := range ds.Rows {
		ncol = max(ncol, len(r.Values))
	}
	if ncol == 0 {
		return nil
	}
	header := make([]string, ncol)
	for i, c := range ds.ColumnNames {
		header[i] = string(c)
	}
	cells := make([][]string, len(ds.Rows))
	for i, r := range ds.Rows {
		cells[i] = make([]string, ncol)
		for j := range ncol {
			if j < len(r.Values) {
				cells[i][j] = FormatValue(r.Values[j])
			}
		}
	}
	width := make([]int, ncol)
	for j, h := range header {
		width[j] = cellWidth(h)
	}
	for _, r := range cells {
		for j, c := range r {
			width[j] = max(width[j], cellWidth(c))
		}
	}
	var b strings.Builder
	rule := func() {
		for _, wd := range width {
			b.WriteByte('+')
			b.WriteString(strings.Repeat("-", wd+2))
		}
		b.WriteString("+\n")
	}
	row := func(vals []string) {
		for j, v := range vals {
			b.WriteString("| ")
			b.WriteString(v)
			b.WriteString(strings.Repeat(" ", width[j]-cellWidth(v)+1))
		}
		b.WriteString("|\n")
	}
	rule()
	row(header)
	rule()
	for _, r := range cells {
		row(r)
	}
	if len(cells) > 0 {
		rule()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cellWidth is the printed width of s (one column per rune; line breaks
// inside values are printed escaped by FormatValue, so a cell is one line).
func cellWidth(s string) int { return utf8.RuneCountInString(s) }
