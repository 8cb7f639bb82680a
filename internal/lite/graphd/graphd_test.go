package graphd_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/lite/litetest"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// col renders column i of every row, sorted.
func col(ds *nebula.DataSet, i int) []string {
	var out []string
	for _, r := range ds.Rows {
		v := r.Values[i]
		switch {
		case v.IVal != nil:
			out = append(out, fmt.Sprint(*v.IVal))
		case v.SVal != nil:
			out = append(out, string(v.SVal))
		default:
			out = append(out, v.String())
		}
	}
	sort.Strings(out)
	return out
}

func TestNGQLEndToEnd(t *testing.T) {
	c := litetest.Start(t, 3, nil)
	c.WaitStorage(3)
	s := c.Session()
	s.Exec(`CREATE SPACE g (partition_num = 12, replica_factor = 1, vid_type = FIXED_STRING(16))`)
	s.Exec(`USE g; CREATE TAG player(name string, age int DEFAULT 20); CREATE EDGE follow(degree int)`)
	s.Exec(`INSERT VERTEX player(name, age) VALUES "a":("Alice", 30), "b":("Bob", 25), "c":("Carol", 41)`)
	s.Exec(`INSERT VERTEX player(name) VALUES "d":("Dan")`)
	s.Exec(`INSERT EDGE follow(degree) VALUES "a"->"b":(90), "a"->"c"@1:(80), "b"->"c":(70), "c"->"d":(60)`)

	ds := s.Exec(`FETCH PROP ON player "a", "d", "zz" YIELD player.name AS n, player.age AS age`)
	if got := fmt.Sprint(col(ds, 1)); got != "[20 30]" {
		t.Fatalf("fetch ages = %s", got)
	}
	if len(ds.Rows) != 2 {
		t.Fatalf("fetch rows = %d, want 2", len(ds.Rows))
	}
	ds = s.Exec(`GO FROM "a" OVER follow YIELD dst(edge) AS d, follow.degree AS deg, $$.player.name AS name`)
	if got := fmt.Sprint(col(ds, 2)); got != "[Bob Carol]" {
		t.Fatalf("go names = %s", got)
	}
	ds = s.Exec(`GO 2 STEPS FROM "a" OVER follow YIELD DISTINCT dst(edge) AS d`)
	if got := len(ds.Rows); got != 2 { // c (via b) and d (via c)
		t.Fatalf("2 steps rows = %d, want 2", got)
	}
	ds = s.Exec(`GO FROM "c" OVER follow REVERSELY WHERE follow.degree > 75 YIELD src(edge) AS s, $$.player.age AS age`)
	if len(ds.Rows) != 1 || string(ds.Rows[0].Values[0].SVal) != "a" {
		t.Fatalf("reversely = %v", ds.Rows)
	}
	ds = s.Exec(`FETCH PROP ON follow "a"->"c"@1 YIELD properties(edge) AS p`)
	if len(ds.Rows) != 1 {
		t.Fatalf("fetch edge rows = %d", len(ds.Rows))
	}

	fp1, n := s.Fingerprint("g")
	if n != 8 {
		t.Fatalf("fingerprint count = %d, want 8 (4 vertices + 4 edges)", n)
	}
	for i := range c.Storaged {
		c.RestartStoraged(i)
	}
	c.WaitStorage(3)
	if fp2, _ := s.Fingerprint("g"); fp2 != fp1 {
		t.Fatalf("fingerprint changed across restart: %s -> %s", fp1, fp2)
	}

	s.Exec(`DELETE EDGE follow "a"->"b"`)
	s.Exec(`DELETE VERTEX "c" WITH EDGE`)
	ds = s.Exec(`GO FROM "a" OVER follow YIELD dst(edge)`)
	if len(ds.Rows) != 0 {
		t.Fatalf("after deletes, a still has %d out edges", len(ds.Rows))
	}
	if fp3, n3 := s.Fingerprint("g"); fp3 == fp1 || n3 != 3 {
		t.Fatalf("after deletes fingerprint %s count %d, want changed and 3", fp3, n3)
	}
}

func TestBadInput(t *testing.T) {
	c := litetest.Start(t, 1, nil)
	c.WaitStorage(1)
	s := c.Session()
	s.Exec(`CREATE SPACE iv (partition_num = 3, vid_type = INT64); USE iv; CREATE TAG t(x int)`)
	cases := []struct {
		q    string
		code nebula.ErrorCode
		msg  string
	}{
		{`GO FORM 1 OVER e`, nebula.ErrorCode_E_SYNTAX_ERROR, "near `FORM'"},
		{`USE nope`, nebula.ErrorCode_E_SEMANTIC_ERROR, "nope"},
		{`INSERT VERTEX nope(x) VALUES 1:(1)`, nebula.ErrorCode_E_SEMANTIC_ERROR, "nope"},
		{`INSERT VERTEX t(x) VALUES "str":(1)`, nebula.ErrorCode_E_SEMANTIC_ERROR, "vid type"},
		{`INSERT VERTEX t(x) VALUES 1:("notint")`, nebula.ErrorCode_E_SEMANTIC_ERROR, "int64"},
		{`CREATE SPACE r3 (replica_factor = 3, vid_type = INT64)`, nebula.ErrorCode_E_EXECUTION_ERROR, "Replica factor greater than hosts"},
	}
	for _, tc := range cases {
		resp := s.Fail(tc.q)
		if resp.ErrorCode != tc.code || !strings.Contains(string(resp.ErrorMsg), tc.msg) {
			t.Errorf("%s: got %v %q, want %v containing %q", tc.q, resp.ErrorCode, resp.ErrorMsg, tc.code, tc.msg)
		}
	}
	// Still serving.
	s.Exec(`INSERT VERTEX t(x) VALUES 7:(1)`)
	if ds := s.Exec(`FETCH PROP ON t 7 YIELD t.x`); len(ds.Rows) != 1 {
		t.Fatal("server stopped serving after bad input")
	}
}
