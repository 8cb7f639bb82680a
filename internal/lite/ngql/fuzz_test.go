package ngql

import (
	"errors"
	"reflect"
	"testing"
)

var fuzzSeeds = []string{
	`CREATE SPACE IF NOT EXISTS s (partition_num = 12, replica_factor = 1, vid_type = FIXED_STRING(32)) COMMENT = "x"`,
	`CREATE TAG t(p1 string, p2 int NOT NULL DEFAULT 3 COMMENT "x", p3 fixed_string(10) NULL)`,
	`CREATE EDGE IF NOT EXISTS e(w double DEFAULT 1.5 * 2)`,
	`DROP SPACE IF EXISTS s; DESC SPACE s; SHOW SPACES; USE s; SHOW HOSTS META; SHOW FINGERPRINT`,
	`DROP TAG t; DESCRIBE EDGE e; SHOW TAGS; SHOW EDGES`,
	`INSERT VERTEX IF NOT EXISTS t1(p1, p2), t2() VALUES "v1":("a", 1), 100:("b", 2)`,
	`INSERT EDGE e(p1, p2) VALUES "a"->"b"@3:(1, 2), "a"->"c":(-1, 0x1F)`,
	`DELETE VERTEX "a", "b" WITH EDGE; DELETE EDGE e "a"->"b"@1, "c"->"d"`,
	`FETCH PROP ON t1, t2 "a", "b" YIELD properties(vertex).name AS n`,
	`FETCH PROP ON e "a"->"b"@0 YIELD edge AS e, src(edge), rank(edge)`,
	`GO 1 TO 3 STEPS FROM "a", "b" OVER e1, e2 BIDIRECT WHERE $$.t.p > 1 AND NOT e1._dst IS NULL YIELD DISTINCT $^.t.name AS n, -e1.w % 3`,
	"# c\n/* b */ GO FROM `x y` OVER * REVERSELY -- z\n// w",
	`GO FROM "a" OVER e WHERE 'it\'s' + "\"q\"" != "\\" XOR !true || false && NULL`,
	`GO FORM "a" OVER e`,
	`INSERT VERTEX t(a) VALUES "x":(1`,
	`USE "abc`,
	"((((((1))))))",
}

// FuzzParse checks that Parse never panics and that the canonical form of
// every parsed expression parses back to the same tree and evaluates
// without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		stmts, err := Parse(q)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error of type %T", q, err)
			}
			if se.Line < 1 || se.Col < 1 {
				t.Fatalf("Parse(%q): bad position %+v", q, se)
			}
			_ = se.Error()
			return
		}
		for _, s := range stmts {
			for _, e := range stmtExprs(s) {
				text := e.String()
				back, err := ParseExpr(text)
				if err != nil {
					t.Fatalf("Parse(%q): re-parsing %q: %v", q, text, err)
				}
				if !reflect.DeepEqual(back, e) {
					t.Fatalf("Parse(%q): round trip of %q: got %#v want %#v", q, text, back, e)
				}
				_, _ = Eval(e, testEnv{})
				_, _ = Eval(e, nil)
			}
		}
	})
}

// stmtExprs lists the top-level expressions of a statement.
func stmtExprs(s Stmt) []Expr {
	var out []Expr
	yield := func(y *Yield) {
		if y != nil {
			for _, c := range y.Columns {
				out = append(out, c.Expr)
			}
		}
	}
	keys := func(ks []EdgeKey) {
		for _, k := range ks {
			out = append(out, k.Src, k.Dst)
			if k.Rank != nil {
				out = append(out, k.Rank)
			}
		}
	}
	switch s := s.(type) {
	case *CreateSchema:
		for _, p := range s.Props {
			if p.Default != nil {
				out = append(out, p.Default)
			}
		}
	case *InsertVertex:
		for _, r := range s.Rows {
			out = append(out, r.VID)
			out = append(out, r.Values...)
		}
	case *InsertEdge:
		for _, r := range s.Rows {
			out = append(out, r.Src, r.Dst)
			if r.Rank != nil {
				out = append(out, r.Rank)
			}
			out = append(out, r.Values...)
		}
	case *DeleteVertex:
		out = append(out, s.VIDs...)
	case *DeleteEdge:
		keys(s.Keys)
	case *FetchVertices:
		out = append(out, s.VIDs...)
		yield(s.Yield)
	case *FetchEdges:
		keys(s.Keys)
		yield(s.Yield)
	case *Go:
		out = append(out, s.From...)
		if s.Where != nil {
			out = append(out, s.Where)
		}
		yield(s.Yield)
	}
	return out
}
