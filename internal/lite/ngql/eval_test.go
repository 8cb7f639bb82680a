package ngql

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

type testEnv struct{}

func (testEnv) Prop(kind PropKind, owner, name string) (any, error) {
	switch {
	case kind == PropSrc && owner == "player" && name == "name":
		return "Tim", nil
	case kind == PropDst && owner == "player" && name == "age":
		return int64(42), nil
	case kind == PropPlain && owner == "e" && name == "_dst":
		return "b", nil
	case kind == PropPlain && owner == "e" && name == "w":
		return 0.5, nil
	case kind == PropPlain && owner == "e" && name == "missing":
		return nil, nil
	case kind == PropPlain && owner == "e" && name == "small":
		return int32(7), nil
	}
	return nil, fmt.Errorf("no property %s.%s", owner, name)
}

func (testEnv) Ident(name string) (any, error) {
	switch name {
	case "edge":
		return map[string]any{"degree": int64(90), "src": "a"}, nil
	case "vertex", "$$":
		return map[string]any{"name": "Tim"}, nil
	case "list":
		return []any{int64(1), "x"}, nil
	}
	return nil, fmt.Errorf("unknown identifier %s", name)
}

func (testEnv) Call(name string, args []any) (any, bool, error) {
	switch name {
	case "id":
		return "vid", true, nil
	case "properties":
		if len(args) != 1 {
			return nil, true, errors.New("properties expects 1 argument")
		}
		return args[0], true, nil
	case "lower": // overrides the builtin
		return "env-lower", true, nil
	case "boom":
		return nil, true, errors.New("boom failed")
	}
	return nil, false, nil
}

func evalString(t *testing.T, s string, env Env) (any, error) {
	t.Helper()
	e, err := ParseExpr(s)
	if err != nil {
		t.Fatalf("ParseExpr(%q): %v", s, err)
	}
	return Eval(e, env)
}

func TestEval(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		// literals and arithmetic
		{`1`, int64(1)},
		{`-1`, int64(-1)},
		{`NULL`, nil},
		{`1 + 2 * 3`, int64(7)},
		{`(1 + 2) * 3`, int64(9)},
		{`7 / 2`, int64(3)},
		{`-7 / 2`, int64(-3)},
		{`7 % 3`, int64(1)},
		{`7.0 / 2`, 3.5},
		{`1 + 0.5`, 1.5},
		{`5.5 % 2`, 1.5},
		{`-(2 + 3)`, int64(-5)},
		{`+4`, int64(4)},
		{`0x10 - 1`, int64(15)},
		{`"ab" + "cd"`, "abcd"},
		{`1 + NULL`, nil},
		{`NULL * "x"`, nil},
		{`-NULL`, nil},
		// comparisons
		{`1 < 2`, true},
		{`2 <= 2`, true},
		{`3 > 4`, false},
		{`1 == 1.0`, true},
		{`1 != 1.5`, true},
		{`1 <> 1`, false},
		{`"a" < "b"`, true},
		{`"b" >= "a"`, true},
		{`"a" == "a"`, true},
		{`true == true`, true},
		{`false < true`, true},
		{`NULL == NULL`, nil},
		{`1 == NULL`, nil},
		{`NULL < 1`, nil},
		// logic
		{`true AND false`, false},
		{`true AND NULL`, nil},
		{`false AND NULL`, false},
		{`NULL AND false`, false},
		{`NULL AND true`, nil},
		{`true OR NULL`, true},
		{`NULL OR true`, true},
		{`false OR NULL`, nil},
		{`false OR false`, false},
		{`true XOR false`, true},
		{`true XOR true`, false},
		{`true XOR NULL`, nil},
		{`NOT true`, false},
		{`NOT NULL`, nil},
		{`!false`, true},
		{`false AND 1 / 0 == 1`, false}, // short circuit
		{`true OR 1 / 0 == 1`, true},
		{`NULL IS NULL`, true},
		{`1 IS NULL`, false},
		{`1 IS NOT NULL`, true},
		// environment
		{`$^.player.name`, "Tim"},
		{`$$.player.age + 1`, int64(43)},
		{`e._dst == "b"`, true},
		{`e.w * 2`, 1.0},
		{`e.small + 1`, int64(8)},
		{`e.small < 7.5`, true},
		{`e.missing IS NULL`, true},
		{`edge`, map[string]any{"degree": int64(90), "src": "a"}},
		{`edge == edge`, true},
		{`edge != vertex`, true},
		{`edge == 1`, false},
		{`properties(edge).degree`, int64(90)},
		{`properties(edge).nothing`, nil},
		{`properties(e.missing).x`, nil},
		{`id(vertex)`, "vid"},
		{`lower("ABC")`, "env-lower"},
		// builtins
		{`abs(-3)`, int64(3)},
		{`abs(-2.5)`, 2.5},
		{`abs(NULL)`, nil},
		{`upper("abc")`, "ABC"},
		{`toUpper("abc")`, "ABC"},
		{`length("héllo")`, int64(5)},
		{`size("abc")`, int64(3)},
		{`size(list)`, int64(2)},
		{`tostring(12)`, "12"},
		{`toString(1.5)`, "1.5"},
		{`tostring(2.0)`, "2.0"},
		{`tostring(true)`, "true"},
		{`tostring(NULL)`, nil},
		{`tointeger("42")`, int64(42)},
		{`toInteger(" 7 ")`, int64(7)},
		{`tointeger("3.9")`, int64(3)},
		{`tointeger("nope")`, nil},
		{`tointeger(-2.7)`, int64(-2)},
		{`tofloat("2.5")`, 2.5},
		{`tofloat(3)`, 3.0},
		{`tofloat("x")`, nil},
		{`concat("a", "b", 1, true)`, "ab1true"},
		{`concat("a", NULL)`, nil},
	}
	for _, tc := range tests {
		got, err := evalString(t, tc.in, testEnv{})
		if err != nil {
			t.Errorf("Eval(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Eval(%q) = %#v (%T), want %#v (%T)", tc.in, got, got, tc.want, tc.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		in, errPart string
	}{
		{`1 / 0`, "Division by zero"},
		{`1 % 0`, "Division by zero"},
		{`1.5 / 0`, "Division by zero"},
		{`1 % 0.0`, "Division by zero"},
		{`1 < "a"`, "INT"},
		{`1 < "a"`, "STRING"},
		{`true == 1`, "cannot compare BOOL with INT"},
		{`edge < edge`, "MAP"},
		{`"a" + 1`, "cannot apply `+' to STRING and INT"},
		{`"a" * "b"`, "STRING"},
		{`-"a"`, "STRING"},
		{`NOT 1`, "boolean"},
		{`1 AND true`, "boolean"},
		{`true OR "x"`, ""}, // short circuit: no error (checked below)
		{`9223372036854775807 + 1`, "overflow"},
		{`-9223372036854775808 - 1`, "overflow"},
		{`-9223372036854775808 * -1`, "overflow"},
		{`-9223372036854775808 / -1`, "overflow"},
		{`-(-9223372036854775808)`, "overflow"},
		{`abs(-9223372036854775808)`, "overflow"},
		{`nosuchfunc(1)`, "nosuchfunc"},
		{`abs(1, 2)`, "abs"},
		{`abs("x")`, "abs"},
		{`boom()`, "boom failed"},
		{`nope.x`, "no property"},
		{`unknownident`, "unknown identifier"},
		{`(1).x`, "INT"},
	}
	for _, tc := range tests {
		_, err := evalString(t, tc.in, testEnv{})
		if tc.errPart == "" {
			if err != nil {
				t.Errorf("Eval(%q): unexpected error %v", tc.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("Eval(%q): err = %v, want it to mention %q", tc.in, err, tc.errPart)
		}
	}
	if _, err := evalString(t, "1 / 0", nil); !errors.Is(err, ErrDivisionByZero) {
		t.Errorf("err = %v, want ErrDivisionByZero", err)
	}
}

func TestEvalNilEnv(t *testing.T) {
	v, err := evalString(t, `abs(-2) + size("xy")`, nil)
	if err != nil || v != int64(4) {
		t.Errorf("got %v, %v", v, err)
	}
	if _, err := evalString(t, `a.b`, nil); err == nil {
		t.Error("want error for property without env")
	}
	if _, err := evalString(t, `vertex`, nil); err == nil {
		t.Error("want error for identifier without env")
	}
}

func TestEvalPassThrough(t *testing.T) {
	type custom struct{ X int }
	env := passEnv{v: custom{X: 1}}
	got, err := Eval(ident("x"), env)
	if err != nil || got != (custom{X: 1}) {
		t.Errorf("got %#v, %v", got, err)
	}
	eq, err := Eval(bin("==", ident("x"), ident("x")), env)
	if err != nil || eq != true {
		t.Errorf("== on custom values: %v, %v", eq, err)
	}
}

type passEnv struct{ v any }

func (e passEnv) Prop(PropKind, string, string) (any, error) { return e.v, nil }
func (e passEnv) Ident(string) (any, error)                  { return e.v, nil }
func (e passEnv) Call(string, []any) (any, bool, error)      { return nil, false, nil }

func TestTruthy(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want bool
	}{{nil, false}, {false, false}, {true, true}} {
		got, err := Truthy(tc.v)
		if err != nil || got != tc.want {
			t.Errorf("Truthy(%v) = %v, %v", tc.v, got, err)
		}
	}
	for _, v := range []any{int64(1), "true", 0.0} {
		if _, err := Truthy(v); err == nil || err.Error() != "WHERE clause must be a boolean" {
			t.Errorf("Truthy(%#v): err = %v", v, err)
		}
	}
}

func TestEvalNaN(t *testing.T) {
	nan := passEnv{v: math.NaN()}
	for op, want := range map[string]any{"==": false, "!=": true, "<": false, ">=": false} {
		got, err := Eval(bin(op, ident("x"), i64(1)), nan)
		if err != nil || got != want {
			t.Errorf("NaN %s 1 = %v, %v; want %v", op, got, err, want)
		}
	}
}

func TestTypeName(t *testing.T) {
	for v, want := range map[any]string{
		"NULL": "STRING", int64(1): "INT", 1.5: "FLOAT", true: "BOOL", int32(3): "INT", float32(1): "FLOAT",
	} {
		if got := TypeName(v); got != want {
			t.Errorf("TypeName(%#v) = %s, want %s", v, got, want)
		}
	}
	if TypeName(nil) != "NULL" || TypeName([]any{}) != "LIST" || TypeName(map[string]any{}) != "MAP" {
		t.Error("TypeName of NULL/LIST/MAP")
	}
}
