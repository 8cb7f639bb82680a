package ngql

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func lit(v any) *Literal             { return &Literal{Value: v} }
func i64(v int64) *Literal           { return &Literal{Value: v} }
func str(s string) *Literal          { return &Literal{Value: s} }
func ident(n string) *Ident          { return &Ident{Name: n} }
func prop(o, n string) *Prop         { return &Prop{Kind: PropPlain, Owner: o, Name: n} }
func srcProp(o, n string) *Prop      { return &Prop{Kind: PropSrc, Owner: o, Name: n} }
func dstProp(o, n string) *Prop      { return &Prop{Kind: PropDst, Owner: o, Name: n} }
func bin(op string, l, r Expr) Expr  { return &Binary{Op: op, L: l, R: r} }
func un(op string, x Expr) Expr      { return &Unary{Op: op, X: x} }
func call(n string, a ...Expr) *Call { return &Call{Name: n, Args: a} }
func exprs(e ...Expr) []Expr         { return e }
func col(e Expr, text, alias string) YieldColumn {
	return YieldColumn{Expr: e, Text: text, Alias: alias}
}

func mustParse(t *testing.T, q string) []Stmt {
	t.Helper()
	stmts, err := Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return stmts
}

func TestParseStatements(t *testing.T) {
	tests := []struct {
		q    string
		want Stmt
	}{
		// spaces
		{`CREATE SPACE s1 (partition_num = 12, replica_factor = 1, vid_type = FIXED_STRING(32))`,
			&CreateSpace{Name: "s1", PartitionNum: 12, ReplicaFactor: 1, VidType: &TypeSpec{Kind: "FIXED_STRING", Len: 32}}},
		{`create space if not exists s2 (vid_type = int64, partition_num = 3) comment = "hello"`,
			&CreateSpace{IfNotExists: true, Name: "s2", PartitionNum: 3, VidType: &TypeSpec{Kind: "INT64"}, Comment: "hello"}},
		{`CREATE SPACE s3 (vid_type = INT)`, &CreateSpace{Name: "s3", VidType: &TypeSpec{Kind: "INT64"}}},
		{`CREATE SPACE s4`, &CreateSpace{Name: "s4"}},
		{`CREATE SPACE s5 ()`, &CreateSpace{Name: "s5"}},
		{`CREATE SPACE s6 COMMENT 'c'`, &CreateSpace{Name: "s6", Comment: "c"}},
		{`CREATE SPACE s7 (REPLICA_FACTOR=3, charset = utf8, collate = utf8_bin)`, &CreateSpace{Name: "s7", ReplicaFactor: 3}},
		{"CREATE SPACE `my space` (partition_num=1)", &CreateSpace{Name: "my space", PartitionNum: 1}},
		{`DROP SPACE s1`, &DropSpace{Name: "s1"}},
		{`drop space if exists s1`, &DropSpace{IfExists: true, Name: "s1"}},
		{`DESCRIBE SPACE s1`, &DescribeSpace{Name: "s1"}},
		{`desc space s1`, &DescribeSpace{Name: "s1"}},
		{`SHOW SPACES`, &ShowSpaces{}},
		{`USE s1`, &Use{Name: "s1"}},
		{"use `USE`", &Use{Name: "USE"}},

		// schemas
		{`CREATE TAG player(name string, age int NOT NULL DEFAULT 3 COMMENT "x", code fixed_string(10) NULL)`,
			&CreateSchema{Name: "player", Props: []PropDef{
				{Name: "name", Type: TypeSpec{Kind: "STRING"}, Nullable: true},
				{Name: "age", Type: TypeSpec{Kind: "INT64"}, Nullable: false, Default: i64(3), Comment: "x"},
				{Name: "code", Type: TypeSpec{Kind: "FIXED_STRING", Len: 10}, Nullable: true},
			}}},
		{`CREATE TAG IF NOT EXISTS t()`, &CreateSchema{IfNotExists: true, Name: "t"}},
		{`CREATE EDGE follow(degree int32 DEFAULT -1, w double, f float, b bool, ts timestamp, d date, dt datetime, tm time, i8 int8, i16 int16, i64 int64) COMMENT = "edges"`,
			&CreateSchema{IsEdge: true, Name: "follow", Comment: "edges", Props: []PropDef{
				{Name: "degree", Type: TypeSpec{Kind: "INT32"}, Nullable: true, Default: i64(-1)},
				{Name: "w", Type: TypeSpec{Kind: "DOUBLE"}, Nullable: true},
				{Name: "f", Type: TypeSpec{Kind: "FLOAT"}, Nullable: true},
				{Name: "b", Type: TypeSpec{Kind: "BOOL"}, Nullable: true},
				{Name: "ts", Type: TypeSpec{Kind: "TIMESTAMP"}, Nullable: true},
				{Name: "d", Type: TypeSpec{Kind: "DATE"}, Nullable: true},
				{Name: "dt", Type: TypeSpec{Kind: "DATETIME"}, Nullable: true},
				{Name: "tm", Type: TypeSpec{Kind: "TIME"}, Nullable: true},
				{Name: "i8", Type: TypeSpec{Kind: "INT8"}, Nullable: true},
				{Name: "i16", Type: TypeSpec{Kind: "INT16"}, Nullable: true},
				{Name: "i64", Type: TypeSpec{Kind: "INT64"}, Nullable: true},
			}}},
		{`CREATE TAG t(s string DEFAULT "a" + "b" NOT NULL)`,
			&CreateSchema{Name: "t", Props: []PropDef{
				{Name: "s", Type: TypeSpec{Kind: "STRING"}, Default: bin("+", str("a"), str("b"))},
			}}},
		{"CREATE TAG `tag`(`timestamp` int)", &CreateSchema{Name: "tag", Props: []PropDef{
			{Name: "timestamp", Type: TypeSpec{Kind: "INT64"}, Nullable: true}}}},
		{`DROP TAG t`, &DropSchema{Name: "t"}},
		{`DROP EDGE IF EXISTS e`, &DropSchema{IsEdge: true, IfExists: true, Name: "e"}},
		{`DESCRIBE TAG t`, &DescribeSchema{Name: "t"}},
		{`DESC EDGE e`, &DescribeSchema{IsEdge: true, Name: "e"}},
		{`SHOW TAGS`, &ShowSchemas{}},
		{`show edges`, &ShowSchemas{IsEdge: true}},
		{`SHOW HOSTS`, &ShowHosts{}},
		{`SHOW HOSTS graph`, &ShowHosts{Role: "GRAPH"}},
		{`SHOW HOSTS STORAGE`, &ShowHosts{Role: "STORAGE"}},
		{`SHOW HOSTS Meta`, &ShowHosts{Role: "META"}},
		{`SHOW FINGERPRINT`, &ShowFingerprint{}},
		{`BALANCE LEADER`, &BalanceLeader{}},
		{`balance leader;`, &BalanceLeader{}},

		// inserts
		{`INSERT VERTEX t1(p1, p2), t2() VALUES "v1":("a", 1), 100:("b", 2)`,
			&InsertVertex{
				Tags: []TagProps{{Tag: "t1", Props: []string{"p1", "p2"}}, {Tag: "t2"}},
				Rows: []VertexRow{
					{VID: str("v1"), Values: exprs(str("a"), i64(1))},
					{VID: i64(100), Values: exprs(str("b"), i64(2))},
				}}},
		{`INSERT VERTEX IF NOT EXISTS t(a), u(b) VALUES hash("x"):(1, -2.5)`,
			&InsertVertex{IfNotExists: true,
				Tags: []TagProps{{Tag: "t", Props: []string{"a"}}, {Tag: "u", Props: []string{"b"}}},
				Rows: []VertexRow{{VID: call("hash", str("x")), Values: exprs(i64(1), lit(-2.5))}}}},
		{`INSERT VERTEX t() VALUES "a":()`,
			&InsertVertex{Tags: []TagProps{{Tag: "t"}}, Rows: []VertexRow{{VID: str("a")}}}},
		{`INSERT EDGE e(p1, p2) VALUES "a"->"b"@3:(1, 2), "a"->"c":(3, 4), -1->2@-7:(NULL, true)`,
			&InsertEdge{Edge: "e", Props: []string{"p1", "p2"}, Rows: []EdgeRow{
				{Src: str("a"), Dst: str("b"), Rank: i64(3), Values: exprs(i64(1), i64(2))},
				{Src: str("a"), Dst: str("c"), Values: exprs(i64(3), i64(4))},
				{Src: i64(-1), Dst: i64(2), Rank: i64(-7), Values: exprs(lit(nil), lit(true))},
			}}},
		{`insert edge if not exists e() values "a" -> "b" @ 0 : ()`,
			&InsertEdge{IfNotExists: true, Edge: "e", Rows: []EdgeRow{{Src: str("a"), Dst: str("b"), Rank: i64(0)}}}},

		// deletes
		{`DELETE VERTEX "a", "b"`, &DeleteVertex{VIDs: exprs(str("a"), str("b"))}},
		{`DELETE VERTEX 1 WITH EDGE`, &DeleteVertex{VIDs: exprs(i64(1)), WithEdge: true}},
		{`DELETE EDGE e "a"->"b"@1, "c"->"d"`, &DeleteEdge{Edge: "e", Keys: []EdgeKey{
			{Src: str("a"), Dst: str("b"), Rank: i64(1)}, {Src: str("c"), Dst: str("d")}}}},

		// fetch
		{`FETCH PROP ON t1, t2 "a", "b" YIELD properties(vertex).name AS n, t1.age`,
			&FetchVertices{Tags: []string{"t1", "t2"}, VIDs: exprs(str("a"), str("b")), Yield: &Yield{Columns: []YieldColumn{
				col(&Attr{X: call("properties", ident("vertex")), Name: "name"}, "properties(vertex).name", "n"),
				col(prop("t1", "age"), "t1.age", ""),
			}}}},
		{`FETCH PROP ON * "a" YIELD vertex AS v`,
			&FetchVertices{Tags: []string{"*"}, VIDs: exprs(str("a")), Yield: &Yield{Columns: []YieldColumn{
				col(ident("vertex"), "vertex", "v")}}}},
		{`FETCH PROP ON t 1`, &FetchVertices{Tags: []string{"t"}, VIDs: exprs(i64(1))}},
		{`FETCH PROP ON e "a"->"b"@0 YIELD edge AS e`,
			&FetchEdges{Edge: "e", Keys: []EdgeKey{{Src: str("a"), Dst: str("b"), Rank: i64(0)}},
				Yield: &Yield{Columns: []YieldColumn{col(ident("edge"), "edge", "e")}}}},
		{`FETCH PROP ON e "a"->"b", "c"->"d"@2 YIELD DISTINCT src(EDGE), e.w`,
			&FetchEdges{Edge: "e", Keys: []EdgeKey{{Src: str("a"), Dst: str("b")}, {Src: str("c"), Dst: str("d"), Rank: i64(2)}},
				Yield: &Yield{Distinct: true, Columns: []YieldColumn{
					col(call("src", ident("edge")), "src(EDGE)", ""), col(prop("e", "w"), "e.w", "")}}}},

		// go
		{`GO FROM "a" OVER e`, &Go{MinSteps: 1, MaxSteps: 1, From: exprs(str("a")), Over: []string{"e"}}},
		{`GO 2 STEPS FROM "a", "b" OVER e1, e2 REVERSELY`,
			&Go{MinSteps: 2, MaxSteps: 2, From: exprs(str("a"), str("b")), Over: []string{"e1", "e2"}, Direction: In}},
		{`go 1 to 3 steps from 1 over * bidirect`,
			&Go{MinSteps: 1, MaxSteps: 3, From: exprs(i64(1)), Over: []string{"*"}, Direction: Both}},
		{`GO 0 TO 2 STEP FROM "a" OVER e`, &Go{MinSteps: 0, MaxSteps: 2, From: exprs(str("a")), Over: []string{"e"}}},
		{`GO FROM "a" OVER follow WHERE $$.player.age > 30 AND follow.degree >= 90 YIELD DISTINCT dst(edge) AS id, $^.player.name, follow._dst`,
			&Go{MinSteps: 1, MaxSteps: 1, From: exprs(str("a")), Over: []string{"follow"},
				Where: bin("AND", bin(">", dstProp("player", "age"), i64(30)), bin(">=", prop("follow", "degree"), i64(90))),
				Yield: &Yield{Distinct: true, Columns: []YieldColumn{
					col(call("dst", ident("edge")), "dst(edge)", "id"),
					col(srcProp("player", "name"), "$^.player.name", ""),
					col(prop("follow", "_dst"), "follow._dst", ""),
				}}}},
		{`GO FROM "a" OVER e YIELD  1 +  2 ,properties($$) AS p`,
			&Go{MinSteps: 1, MaxSteps: 1, From: exprs(str("a")), Over: []string{"e"},
				Yield: &Yield{Columns: []YieldColumn{
					col(bin("+", i64(1), i64(2)), "1 +  2", ""),
					col(call("properties", ident("$$")), "properties($$)", "p"),
				}}}},
		{"GO FROM `a` OVER `my edge` YIELD `my edge`.`my prop` AS `the value`",
			&Go{MinSteps: 1, MaxSteps: 1, From: exprs(ident("a")), Over: []string{"my edge"},
				Yield: &Yield{Columns: []YieldColumn{col(prop("my edge", "my prop"), "`my edge`.`my prop`", "the value")}}}},
	}
	for _, tc := range tests {
		stmts := mustParse(t, tc.q)
		if len(stmts) != 1 {
			t.Errorf("Parse(%q): got %d statements", tc.q, len(stmts))
			continue
		}
		if !reflect.DeepEqual(stmts[0], tc.want) {
			t.Errorf("Parse(%q):\n got %#v\nwant %#v", tc.q, stmts[0], tc.want)
		}
	}
}

func TestParseMultipleAndComments(t *testing.T) {
	q := `# leading comment
USE s1; ; SHOW TAGS -- trailing comment
;; /* block
comment ; */ INSERT VERTEX t(a) VALUES "x;y":("semi;colon") // end
;`
	stmts := mustParse(t, q)
	want := []Stmt{
		&Use{Name: "s1"},
		&ShowSchemas{},
		&InsertVertex{Tags: []TagProps{{Tag: "t", Props: []string{"a"}}},
			Rows: []VertexRow{{VID: str("x;y"), Values: exprs(str("semi;colon"))}}},
	}
	if !reflect.DeepEqual(stmts, want) {
		t.Fatalf("got %#v", stmts)
	}
	for _, q := range []string{"", "  ", ";;;", "# only a comment", "/* x */ ;"} {
		stmts := mustParse(t, q)
		if len(stmts) != 0 {
			t.Errorf("Parse(%q): got %d statements, want 0", q, len(stmts))
		}
	}
}

func TestParseExprPrecedence(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
		out  string // canonical String()
	}{
		{`1 + 2 * 3`, bin("+", i64(1), bin("*", i64(2), i64(3))), `1 + 2 * 3`},
		{`(1 + 2) * 3`, bin("*", bin("+", i64(1), i64(2)), i64(3)), `(1 + 2) * 3`},
		{`1 - 2 - 3`, bin("-", bin("-", i64(1), i64(2)), i64(3)), `1 - 2 - 3`},
		{`1 - (2 - 3)`, bin("-", i64(1), bin("-", i64(2), i64(3))), `1 - (2 - 3)`},
		{`10 / 3 % 2`, bin("%", bin("/", i64(10), i64(3)), i64(2)), `10 / 3 % 2`},
		{`a OR b XOR c AND d`, bin("OR", ident("a"), bin("XOR", ident("b"), bin("AND", ident("c"), ident("d")))), `a OR b XOR c AND d`},
		{`NOT a AND b`, bin("AND", un("NOT", ident("a")), ident("b")), `NOT a AND b`},
		{`NOT (a AND b)`, un("NOT", bin("AND", ident("a"), ident("b"))), `NOT (a AND b)`},
		{`NOT a == b`, un("NOT", bin("==", ident("a"), ident("b"))), `NOT a == b`},
		{`a + 1 < b * 2`, bin("<", bin("+", ident("a"), i64(1)), bin("*", ident("b"), i64(2))), `a + 1 < b * 2`},
		{`-a * b`, bin("*", un("-", ident("a")), ident("b")), `-a * b`},
		{`-(a + b)`, un("-", bin("+", ident("a"), ident("b"))), `-(a + b)`},
		{`- -a`, un("-", un("-", ident("a"))), `-(-a)`},
		{`2 - -1`, bin("-", i64(2), i64(-1)), `2 - -1`},
		{`-(1)`, un("-", i64(1)), `-(1)`},
		{`-9223372036854775808`, i64(-9223372036854775808), `-9223372036854775808`},
		{`0x1F + 0X10`, bin("+", i64(31), i64(16)), `31 + 16`},
		{`1.5 * .5e1`, bin("*", lit(1.5), lit(5.0)), `1.5 * 5.0`},
		{`a <> b`, bin("!=", ident("a"), ident("b")), `a != b`},
		{`a != b`, bin("!=", ident("a"), ident("b")), `a != b`},
		{`a == b && !c || d`, bin("OR", bin("AND", bin("==", ident("a"), ident("b")), un("NOT", ident("c"))), ident("d")), `a == b AND NOT c OR d`},
		{`!a == b`, bin("==", un("NOT", ident("a")), ident("b")), `(NOT a) == b`},
		{`a IS NULL OR b IS NOT NULL`, bin("OR", un("IS NULL", ident("a")), un("IS NOT NULL", ident("b"))), `a IS NULL OR b IS NOT NULL`},
		{`true AND false OR null`, bin("OR", bin("AND", lit(true), lit(false)), lit(nil)), `true AND false OR NULL`},
		{`$^.player.name == $$.team.name`, bin("==", srcProp("player", "name"), dstProp("team", "name")), `$^.player.name == $$.team.name`},
		{`e._dst`, prop("e", "_dst"), `e._dst`},
		{`id(VERTEX)`, call("id", ident("vertex")), `id(vertex)`},
		{`ABS(-1) + Lower("A")`, bin("+", call("abs", i64(-1)), call("lower", str("A"))), `abs(-1) + lower("A")`},
		{`properties(edge).degree`, &Attr{X: call("properties", ident("edge")), Name: "degree"}, `properties(edge).degree`},
		{`now()`, call("now"), `now()`},
		{`date("2020-01-01")`, call("date", str("2020-01-01")), `date("2020-01-01")`},
		{"`from`.`a b`", prop("from", "a b"), "`from`.`a b`"},
		{`$$`, ident("$$"), `$$`},
		{`rank(edge) >= 0 XOR type(edge) == "e"`, bin("XOR", bin(">=", call("rank", ident("edge")), i64(0)), bin("==", call("type", ident("edge")), str("e"))), `rank(edge) >= 0 XOR type(edge) == "e"`},
	}
	for _, tc := range tests {
		e, err := ParseExpr(tc.in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(e, tc.want) {
			t.Errorf("ParseExpr(%q):\n got %#v\nwant %#v", tc.in, e, tc.want)
		}
		if s := e.String(); s != tc.out {
			t.Errorf("ParseExpr(%q).String() = %q, want %q", tc.in, s, tc.out)
		}
		checkRoundTrip(t, e)
	}
}

// checkRoundTrip verifies that an expression's canonical form parses back
// to the same tree.
func checkRoundTrip(t *testing.T, e Expr) {
	t.Helper()
	s := e.String()
	back, err := ParseExpr(s)
	if err != nil {
		t.Fatalf("re-parsing %q: %v", s, err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip of %q:\n got %#v\nwant %#v", s, back, e)
	}
}

func TestStringLiterals(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"abc"`, "abc"},
		{`'abc'`, "abc"},
		{`"a\"b"`, `a"b`},
		{`'a\'b'`, `a'b`},
		{`"it's"`, `it's`},
		{`'say "hi"'`, `say "hi"`},
		{`"back\\slash"`, `back\slash`},
		{`"tab\tnew\nline\r"`, "tab\tnew\nline\r"},
		{`"\q"`, "q"},
		{`"héllo ✓"`, "héllo ✓"},
		{`""`, ""},
	}
	for _, tc := range tests {
		e, err := ParseExpr(tc.in)
		if err != nil {
			t.Errorf("ParseExpr(%s): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(e, str(tc.want)) {
			t.Errorf("ParseExpr(%s) = %#v, want %q", tc.in, e, tc.want)
		}
		checkRoundTrip(t, e)
	}
	if got := str("a\"b\\c\n").String(); got != `"a\"b\\c\n"` {
		t.Errorf("String() = %s", got)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		q         string
		line, col int
		near      string
		msg       string
	}{
		{`GO FORM "a" OVER e`, 1, 4, "FORM", "syntax error"},
		{`USE x FORM`, 1, 7, "FORM", "syntax error"},
		{`SHOW SPACES garbage`, 1, 13, "garbage", "syntax error"},
		{`INSERT VERTEX t(a) VALUES "x":(1`, 1, 33, "<EOF>", "syntax error"},
		{`YIELD 1`, 1, 1, "YIELD", "syntax error"},
		{`USE "abc`, 1, 5, `"abc`, "unterminated string"},
		{"USE s;\n  FETCH PROP ON t 'abc\nGO", 2, 19, `'abc`, "unterminated string"},
		{"SHOW /* never closed", 1, 6, "/* never closed", "unterminated comment"},
		{"USE `abc", 1, 5, "`abc", "unterminated quoted identifier"},
		{"USE s1; SHOW SPACES; DROP", 1, 26, "<EOF>", "syntax error"},
		{"USE ``", 1, 5, "``", "empty quoted identifier"},
		{"SHOW SPACES\n\t SHOW TAGS", 2, 3, "SHOW", "syntax error"},
		{"CREATE TAG t(a int, a string)", 1, 21, "a", "duplicate property name"},
		{"CREATE TAG t(a blob)", 1, 16, "blob", "syntax error"},
		{"CREATE SPACE s (partition_num = 0)", 1, 33, "0", "partition_num must be greater than 0"},
		{"CREATE SPACE s (vid_type = string)", 1, 28, "string", "vid_type must be INT64 or FIXED_STRING(N)"},
		{"CREATE SPACE s (partition_num = 1, partition_num = 2)", 1, 36, "partition_num", "duplicate option partition_num"},
		{"CREATE SPACE s (foo = 1)", 1, 17, "foo", "syntax error"},
		{"INSERT VERTEX t(a, b) VALUES 1:(1)", 1, 32, "(", "column count doesn't match value count"},
		{"INSERT EDGE e(a) VALUES 1->2:()", 1, 30, "(", "column count doesn't match value count"},
		{"INSERT VERTEX t VALUES 1:()", 1, 17, "VALUES", "syntax error"},
		{"GO FROM 1 OVER e YIELD 9223372036854775808", 1, 24, "9223372036854775808", "integer out of range"},
		{"GO 3 TO 1 STEPS FROM 1 OVER e", 1, 9, "1", "invalid step range"},
		{"GO FROM 1 OVER e WHERE a = 1", 1, 26, "=", "syntax error"},
		{"GO FROM 1 OVER e YIELD from", 1, 24, "from", "syntax error"},
		{"FETCH PROP ON a, b 1->2", 1, 21, "->", "syntax error"},
		{"USE s ✗", 1, 7, "✗", "invalid character"},
		{"DROP SPACE", 1, 11, "<EOF>", "syntax error"},
		{"GO FROM 1 OVER e YIELD 1e999", 1, 24, "1e999", "float out of range"},
		{"GO FROM 1 OVER e | YIELD 1", 1, 18, "|", "syntax error"},
	}
	for _, tc := range tests {
		stmts, err := Parse(tc.q)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): err = %v, want *SyntaxError", tc.q, err)
			continue
		}
		if stmts != nil {
			t.Errorf("Parse(%q): statements returned with an error", tc.q)
		}
		want := &SyntaxError{Line: tc.line, Col: tc.col, Near: tc.near, Msg: tc.msg}
		if *se != *want {
			t.Errorf("Parse(%q):\n got %#v\nwant %#v", tc.q, se, want)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse(`GO FORM "a" OVER e`)
	if got, want := err.Error(), "SyntaxError: syntax error near `FORM' (line 1, column 4)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Parse(`GO "abc`)
	if got, want := err.Error(), "SyntaxError: unterminated string near `\"abc' (line 1, column 4)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Errors in an earlier statement win over lexing problems later on.
	_, err = Parse(`SHOW SPACE; "unterminated`)
	if got, want := err.Error(), "SyntaxError: syntax error near `SPACE' (line 1, column 6)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Long tokens are shortened in the message.
	_, err = Parse(`USE "` + strings.Repeat("x", 100) + `"`)
	var se *SyntaxError
	if !errors.As(err, &se) || len(se.Near) > maxNearRunes+5 {
		t.Errorf("near not shortened: %v", err)
	}
}

func TestDeepNesting(t *testing.T) {
	for _, q := range []string{
		strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000),
		strings.Repeat("-", 100000) + "a",
		strings.Repeat("NOT ", 100000) + "a",
		strings.Repeat("f(", 100000),
	} {
		_, err := ParseExpr(q)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("deep nesting: err = %v", err)
		}
	}
	// Moderate nesting is fine.
	q := strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100)
	if _, err := ParseExpr(q); err != nil {
		t.Errorf("nesting 100: %v", err)
	}
}

func TestKeywordsCaseInsensitive(t *testing.T) {
	a := mustParse(t, `go 2 steps from "a" over e reversely where e.x > 1 yield e.x as x`)
	b := mustParse(t, `GO 2 STEPS FROM "a" OVER e REVERSELY WHERE e.x > 1 YIELD e.x AS x`)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("case changed the parse:\n%#v\n%#v", a, b)
	}
	// Identifiers keep their case.
	s := mustParse(t, `USE MySpace`)[0].(*Use)
	if s.Name != "MySpace" {
		t.Errorf("name = %q", s.Name)
	}
}

func TestRenderQuoting(t *testing.T) {
	tests := []struct {
		e    Expr
		want string
	}{
		{ident("my name"), "`my name`"},
		{ident("FROM"), "`FROM`"},
		{ident("VERTEX"), "`VERTEX`"},
		{ident("vertex"), "vertex"},
		{prop("a-b", "c d"), "`a-b`.`c d`"},
		{srcProp("t", "from"), "$^.t.from"},
		{&Attr{X: ident("$$"), Name: "x"}, "($$).x"},
		{&Attr{X: i64(-1), Name: "x"}, "(-1).x"},
		{lit(1.0), "1.0"},
		{lit(1e21), "1e+21"},
		{un("-", lit(-0.5)), "-(-0.5)"},
		{bin("*", bin("OR", ident("a"), ident("b")), un("NOT", ident("c"))), "(a OR b) * (NOT c)"},
		{un("IS NULL", un("NOT", ident("a"))), "(NOT a) IS NULL"},
	}
	for _, tc := range tests {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		checkRoundTrip(t, tc.e)
	}
	if got := (TypeSpec{Kind: "FIXED_STRING", Len: 8}).String(); got != "FIXED_STRING(8)" {
		t.Errorf("TypeSpec.String() = %q", got)
	}
}
