package console

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"
)

func ival(i int64) *nebula.Value   { return &nebula.Value{IVal: &i} }
func fval(f float64) *nebula.Value { return &nebula.Value{FVal: &f} }
func bval(b bool) *nebula.Value    { return &nebula.Value{BVal: &b} }
func sval(s string) *nebula.Value  { return &nebula.Value{SVal: []byte(s)} }
func nval(n nebula.NullType) *nebula.Value {
	return &nebula.Value{NVal: &n}
}

func TestFormatValue(t *testing.T) {
	vertex := &nebula.Value{VVal: &nebula.Vertex{
		Vid: sval("v1"),
		Tags: []*nebula.Tag{
			{Name: []byte("player"), Props: map[string]*nebula.Value{"name": sval("Tim"), "age": ival(42)}},
			{Name: []byte("empty"), Props: map[string]*nebula.Value{}},
		},
	}}
	edge := &nebula.Value{EVal: &nebula.Edge{
		Src: sval("a"), Dst: sval("b"), Type: 3, Name: []byte("follow"), Ranking: 7,
		Props: map[string]*nebula.Value{"degree": ival(90), "since": fval(2.5)},
	}}
	reverse := &nebula.Value{EVal: &nebula.Edge{Src: ival(1), Dst: ival(2), Type: -3, Name: []byte("follow")}}
	for _, tc := range []struct {
		v    *nebula.Value
		want string
	}{
		{nil, "__EMPTY__"},
		{&nebula.Value{}, "__EMPTY__"},
		{nval(nebula.NullType___NULL__), "__NULL__"},
		{nval(nebula.NullType_BAD_TYPE), "BAD_TYPE"},
		{bval(true), "true"},
		{bval(false), "false"},
		{ival(-42), "-42"},
		{fval(1.5), "1.5"},
		{fval(3), "3.0"},
		{fval(1e21), "1e21"},
		{sval(""), `""`},
		{sval(`say "hi"`), `"say \"hi\""`},
		{sval("a\nb"), `"a\nb"`},
		{&nebula.Value{DVal: &nebula.Date{Year: 2024, Month: 2, Day: 9}}, "2024-02-09"},
		{&nebula.Value{TVal: &nebula.Time{Hour: 1, Minute: 2, Sec: 3, Microsec: 4}}, "01:02:03.000004"},
		{&nebula.Value{DtVal: &nebula.DateTime{Year: 2024, Month: 2, Day: 9, Hour: 1, Minute: 2, Sec: 3}}, "2024-02-09T01:02:03.000000"},
		{vertex, `("v1" :player{age: 42, name: "Tim"} :empty{})`},
		{&nebula.Value{VVal: &nebula.Vertex{Vid: ival(7)}}, `(7)`},
		{edge, `[:follow "a"->"b" @7 {degree: 90, since: 2.5}]`},
		{reverse, `[:follow 1<-2 @0 {}]`},
		{&nebula.Value{LVal: &nebula.NList{Values: []*nebula.Value{ival(1), sval("x"), nval(0)}}}, `[1, "x", __NULL__]`},
		{&nebula.Value{LVal: &nebula.NList{}}, `[]`},
		{&nebula.Value{MVal: &nebula.NMap{Kvs: map[string]*nebula.Value{"b": ival(2), "a": sval("1")}}}, `{a: "1", b: 2}`},
		{&nebula.Value{UVal: &nebula.NSet{Values: []*nebula.Value{ival(1)}}}, `{1}`},
		{&nebula.Value{PVal: &nebula.Path{
			Src:   &nebula.Vertex{Vid: sval("a")},
			Steps: []*nebula.Step{{Dst: &nebula.Vertex{Vid: sval("b")}, Type: 1, Name: []byte("e"), Ranking: 0}},
		}}, `<("a")-[:e@0 {}]->("b")>`},
		{&nebula.Value{GgVal: &nebula.Geography{PtVal: &nebula.Point{Coord: &nebula.Coordinate{X: 1, Y: 2.5}}}}, "POINT(1 2.5)"},
		{&nebula.Value{DuVal: &nebula.Duration{Months: 1, Seconds: 2, Microseconds: 3}}, "P1MT2.000003S"},
	} {
		if got := FormatValue(tc.v); got != tc.want {
			t.Errorf("FormatValue(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	ds := &nebula.DataSet{
		ColumnNames: [][]byte{[]byte("name"), []byte("age"), []byte("ü")},
		Rows: []*nebula.Row{
			{Values: []*nebula.Value{sval("Tim"), ival(42), sval("ä")}},
			{Values: []*nebula.Value{sval("Timothy"), nval(0), bval(true)}},
		},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, ds); err != nil {
		t.Fatal(err)
	}
	want := `+-----------+----------+------+
| name      | age      | ü    |
+-----------+----------+------+
| "Tim"     | 42       | "ä"  |
| "Timothy" | __NULL__ | true |
+-----------+----------+------+
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	WriteTable(&b, &nebula.DataSet{ColumnNames: [][]byte{[]byte("x")}})
	if want := "+---+\n| x |\n+---+\n"; b.String() != want {
		t.Errorf("empty table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteResponse(t *testing.T) {
	var b bytes.Buffer
	WriteResponse(&b, &graph.ExecutionResponse{LatencyInUs: 12})
	if got := b.String(); got != "Execution succeeded (time spent 12 us)\n\n" {
		t.Errorf("got %q", got)
	}
	b.Reset()
	WriteResponse(&b, &graph.ExecutionResponse{LatencyInUs: 34, Data: &nebula.DataSet{
		ColumnNames: [][]byte{[]byte("n")}, Rows: []*nebula.Row{{Values: []*nebula.Value{ival(1)}}, {Values: []*nebula.Value{ival(2)}}},
	}})
	if got := b.String(); !strings.HasSuffix(got, "+---+\nGot 2 rows (time spent 34 us)\n\n") || !strings.HasPrefix(got, "+---+\n| n |\n") {
		t.Errorf("got %q", got)
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" ; ;\n", nil},
		{"SHOW HOSTS", []string{"SHOW HOSTS"}},
		{"USE s; SHOW TAGS;", []string{"USE s", "SHOW TAGS"}},
		{`INSERT VERTEX t(n) VALUES "a;b":("x;y"); GO FROM "a;b" OVER e`, []string{`INSERT VERTEX t(n) VALUES "a;b":("x;y")`, `GO FROM "a;b" OVER e`}},
		{`RETURN 'it\'s; fine'; RETURN "q\"; still"`, []string{`RETURN 'it\'s; fine'`, `RETURN "q\"; still"`}},
		{"USE `odd;name`; SHOW TAGS", []string{"USE `odd;name`", "SHOW TAGS"}},
		{"CREATE TAG t(a int);\nCREATE EDGE e();\n", []string{"CREATE TAG t(a int)", "CREATE EDGE e()"}},
		{`RETURN "unterminated; x`, []string{`RETURN "unterminated; x`}},
	} {
		if got := Split(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// fake answers statements from a table; unknown ones fail.
type fake struct {
	ran     []string
	answers map[string]*graph.ExecutionResponse
}

func (f *fake) Execute(ctx context.Context, stmt string) (*graph.ExecutionResponse, error) {
	f.ran = append(f.ran, stmt)
	if strings.HasPrefix(stmt, "USE ") {
		return &graph.ExecutionResponse{SpaceName: []byte(strings.Trim(strings.TrimPrefix(stmt, "USE "), "`"))}, nil
	}
	if r, ok := f.answers[stmt]; ok {
		return r, nil
	}
	msg := "SyntaxError: syntax error near `" + stmt + "'"
	resp := &graph.ExecutionResponse{ErrorCode: nebula.ErrorCode_E_SYNTAX_ERROR, ErrorMsg: []byte(msg)}
	return resp, &client.CodeError{Service: "graph", Method: "execute", Code: resp.ErrorCode, Msg: msg}
}

func TestRunScriptStopsAtFirstError(t *testing.T) {
	f := &fake{answers: map[string]*graph.ExecutionResponse{"SHOW HOSTS": {}}}
	var out, errb bytes.Buffer
	c := &Console{Exec: f, Out: &out, Err: &errb}
	err := c.RunScript(context.Background(), "USE s; SHOW HOSTS; BAD; SHOW HOSTS")
	if err == nil {
		t.Fatal("want an error")
	}
	if want := []string{"USE s", "SHOW HOSTS", "BAD"}; !reflect.DeepEqual(f.ran, want) {
		t.Errorf("ran %q, want %q", f.ran, want)
	}
	if got := errb.String(); got != "[ERROR (-1004)]: SyntaxError: syntax error near `BAD'\n" {
		t.Errorf("stderr %q", got)
	}
	if strings.Count(out.String(), "Execution succeeded") != 2 {
		t.Errorf("stdout %q", out.String())
	}
	if c.Space() != "s" {
		t.Errorf("space %q", c.Space())
	}
}

func TestInteractive(t *testing.T) {
	f := &fake{answers: map[string]*graph.ExecutionResponse{"A": {}, "B": {}, "C\nD": {}, "E \"x\ny\"": {}}}
	var out, errb bytes.Buffer
	c := &Console{Exec: f, User: "root", Out: &out, Err: &errb}
	in := "USE sp\nA; B\n\nBAD\nC\\\nD\nE \"x\ny\"\nexit\nA\n"
	err := c.Interactive(context.Background(), strings.NewReader(in), true, false)
	if err == nil || !strings.Contains(err.Error(), "BAD") {
		t.Fatalf("want the BAD failure, got %v", err)
	}
	if want := []string{"USE sp", "A", "B", "BAD", "C\nD", "E \"x\ny\""}; !reflect.DeepEqual(f.ran, want) {
		t.Errorf("ran %q, want %q", f.ran, want)
	}
	if !strings.HasPrefix(out.String(), "(root@nebula) [(none)]> ") || !strings.Contains(out.String(), "(root@nebula) [sp]> ") {
		t.Errorf("prompts missing in %q", out.String())
	}

	// Without a terminal: no prompt, stop at the first failure.
	f.ran = nil
	out.Reset()
	err = (&Console{Exec: f, Out: &out, Err: &errb}).Interactive(context.Background(), strings.NewReader("A\nBAD\nB\n"), false, true)
	if err == nil || !reflect.DeepEqual(f.ran, []string{"A", "BAD"}) {
		t.Errorf("err %v, ran %q", err, f.ran)
	}
	if strings.Contains(out.String(), "nebula)") {
		t.Errorf("prompt printed without a terminal: %q", out.String())
	}
}

func TestErrorLine(t *testing.T) {
	if got := ErrorLine(&client.CodeError{Code: nebula.ErrorCode_E_SEMANTIC_ERROR, Msg: "SemanticError: nope"}); got != "[ERROR (-1009)]: SemanticError: nope" {
		t.Error(got)
	}
	if got := ErrorLine(&client.TransportError{Service: "graph", Addr: "127.0.0.1:1", Err: errors.New("connection refused")}); got != "[ERROR (-2)]: graph 127.0.0.1:1: connection refused" {
		t.Error(got)
	}
}

func TestFingerprint(t *testing.T) {
	ds := &nebula.DataSet{
		ColumnNames: [][]byte{[]byte("Kind"), []byte("Name"), []byte("Count"), []byte("Hash")},
		Rows: []*nebula.Row{
			{Values: []*nebula.Value{sval("tag"), sval("person"), ival(2), sval("aa")}},
			{Values: []*nebula.Value{sval("space"), sval("my space"), ival(2), sval("ff00")}},
		},
	}
	f := &fake{answers: map[string]*graph.ExecutionResponse{"SHOW FINGERPRINT": {Data: ds}}}
	got, hash, err := Fingerprint(context.Background(), f, "my space")
	if err != nil || hash != "ff00" || got != ds {
		t.Fatalf("got %v %q %v", got, hash, err)
	}
	if f.ran[0] != "USE `my space`" {
		t.Errorf("ran %q", f.ran)
	}
	f.answers["SHOW FINGERPRINT"] = &graph.ExecutionResponse{Data: &nebula.DataSet{ColumnNames: ds.ColumnNames, Rows: ds.Rows[:1]}}
	if _, _, err := Fingerprint(context.Background(), f, "s"); err == nil {
		t.Error("want an error without a space row")
	}
}

func TestQuoteName(t *testing.T) {
	for in, want := range map[string]string{"basketball": "basketball", "s_1": "s_1", "1s": "`1s`", "a-b": "`a-b`", "": "``"} {
		if got := QuoteName(in); got != want {
			t.Errorf("QuoteName(%q) = %q, want %q", in, got, want)
		}
	}
}
