package ngql

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Env supplies the values an expression refers to.
type Env interface {
	// Prop resolves owner.name, $^.owner.name or $$.owner.name.
	Prop(kind PropKind, owner, name string) (any, error)
	// Ident resolves a bare word such as vertex, edge, $$ or $^.
	Ident(name string) (any, error)
	// Call evaluates a function the environment knows about (for example
	// id, src, dst, rank, type, properties). It returns handled=false for
	// names it does not know; the evaluator's builtins are tried then.
	Call(name string, args []any) (v any, handled bool, err error)
}

// ErrDivisionByZero is returned for division or modulo by zero.
var ErrDivisionByZero = errors.New("Division by zero")

// errWhereNotBool is returned by Truthy for non-boolean values.
var errWhereNotBool = errors.New("WHERE clause must be a boolean")

// Eval evaluates e in env. env may be nil for constant expressions.
//
// Values are nil (NULL), bool, int64, float64 and string; any other value
// an Env returns passes through untouched. NULL propagates through
// arithmetic and comparisons, AND/OR/XOR/NOT use three-valued logic.
func Eval(e Expr, env Env) (any, error) {
	switch e := e.(type) {
	case *Literal:
		return e.Value, nil
	case *Ident:
		if env == nil {
			return nil, fmt.Errorf("unknown identifier `%s'", e.Name)
		}
		return env.Ident(e.Name)
	case *Prop:
		if env == nil {
			return nil, fmt.Errorf("unknown property `%s'", e.String())
		}
		return env.Prop(e.Kind, e.Owner, e.Name)
	case *Call:
		args := make([]any, len(e.Args))
		for i, a := range e.Args {
			v, err := Eval(a, env)
			if err != nil {
				return nil, err
			}
			args[i] = v
		}
		if env != nil {
			v, handled, err := env.Call(e.Name, args)
			if err != nil {
				return nil, err
			}
			if handled {
				return v, nil
			}
		}
		return callBuiltin(e.Name, args)
	case *Attr:
		x, err := Eval(e.X, env)
		if err != nil || x == nil {
			return nil, err
		}
		if m, ok := x.(map[string]any); ok {
			return m[e.Name], nil
		}
		return nil, fmt.Errorf("cannot get attribute `%s' of %s", e.Name, TypeName(x))
	case *Unary:
		return evalUnary(e, env)
	case *Binary:
		return evalBinary(e, env)
	case nil:
		return nil, errors.New("missing expression")
	}
	return nil, fmt.Errorf("unsupported expression %T", e)
}

// Truthy interprets a WHERE result: NULL and false are false, true is
// true, anything else is an error.
func Truthy(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	}
	return false, errWhereNotBool
}

// TypeName names the nGQL type of a value for error messages: NULL, BOOL,
// INT, FLOAT, STRING, LIST, MAP, or the Go type for anything else.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case bool:
		return "BOOL"
	case string:
		return "STRING"
	case []any:
		return "LIST"
	case map[string]any:
		return "MAP"
	}
	switch numKind(v) {
	case numInt:
		return "INT"
	case numFloat:
		return "FLOAT"
	}
	return fmt.Sprintf("%T", v)
}

const (
	numNone = iota
	numInt
	numFloat
)

// numKind classifies Go numeric values; all integer kinds that fit count as
// INT, float32/float64 as FLOAT.
func numKind(v any) int {
	switch v := v.(type) {
	case int64, int, int32, int16, int8, uint32, uint16, uint8:
		return numInt
	case uint:
		if uint64(v) <= math.MaxInt64 {
			return numInt
		}
		return numFloat
	case uint64:
		if v <= math.MaxInt64 {
			return numInt
		}
		return numFloat
	case float64, float32:
		return numFloat
	}
	return numNone
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case uint64:
		return int64(v)
	case uint:
		return int64(v)
	case uint32:
		return int64(v)
	case uint16:
		return int64(v)
	case uint8:
		return int64(v)
	}
	return 0
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case uint64:
		return float64(v)
	case uint:
		return float64(v)
	}
	return float64(toInt(v))
}

func evalUnary(e *Unary, env Env) (any, error) {
	x, err := Eval(e.X, env)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "IS NULL":
		return x == nil, nil
	case "IS NOT NULL":
		return x != nil, nil
	}
	if x == nil {
		return nil, nil
	}
	switch e.Op {
	case "NOT":
		if b, ok := x.(bool); ok {
			return !b, nil
		}
		return nil, fmt.Errorf("NOT requires a boolean operand, got %s", TypeName(x))
	case "-", "+":
		switch numKind(x) {
		case numInt:
			i := toInt(x)
			if e.Op == "+" {
				return i, nil
			}
			if i == math.MinInt64 {
				return nil, errOverflow("-", x, nil)
			}
			return -i, nil
		case numFloat:
			if e.Op == "+" {
				return toFloat(x), nil
			}
			return -toFloat(x), nil
		}
		return nil, fmt.Errorf("cannot apply unary `%s' to %s", e.Op, TypeName(x))
	}
	return nil, fmt.Errorf("unknown operator `%s'", e.Op)
}

func errOverflow(op string, l, r any) error {
	if r == nil {
		return fmt.Errorf("integer overflow in %s%v", op, l)
	}
	return fmt.Errorf("integer overflow in %v %s %v", l, op, r)
}

// logicValue checks a logical operand: nil or bool.
func logicValue(op string, v any) (val, isNull bool, err error) {
	switch v := v.(type) {
	case nil:
		return false, true, nil
	case bool:
		return v, false, nil
	}
	return false, false, fmt.Errorf("%s requires boolean operands, got %s", op, TypeName(v))
}

func evalBinary(e *Binary, env Env) (any, error) {
	l, err := Eval(e.L, env)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "AND", "OR":
		lv, lnull, err := logicValue(e.Op, l)
		if err != nil {
			return nil, err
		}
		short := e.Op == "OR" // OR stops at true, AND at false
		if !lnull && lv == short {
			return short, nil
		}
		r, err := Eval(e.R, env)
		if err != nil {
			return nil, err
		}
		rv, rnull, err := logicValue(e.Op, r)
		if err != nil {
			return nil, err
		}
		if !rnull && rv == short {
			return short, nil
		}
		if lnull || rnull {
			return nil, nil
		}
		return !short, nil
	}
	r, err := Eval(e.R, env)
	if err != nil {
		return nil, err
	}
	return BinaryOp(e.Op, l, r)
}

// BinaryOp applies a binary operator (one of the Binary.Op values) to two
// already evaluated operands.
func BinaryOp(op string, l, r any) (any, error) {
	switch op {
	case "AND", "OR", "XOR":
		lv, lnull, err := logicValue(op, l)
		if err != nil {
			return nil, err
		}
		rv, rnull, err := logicValue(op, r)
		if err != nil {
			return nil, err
		}
		switch op {
		case "AND":
			if (!lnull && !lv) || (!rnull && !rv) {
				return false, nil
			}
		case "OR":
			if (!lnull && lv) || (!rnull && rv) {
				return true, nil
			}
		}
		if lnull || rnull {
			return nil, nil
		}
		switch op {
		case "AND":
			return true, nil
		case "OR":
			return false, nil
		}
		return lv != rv, nil
	case "+", "-", "*", "/", "%":
		return arith(op, l, r)
	case "==", "!=", "<", "<=", ">", ">=":
		return compare(op, l, r)
	}
	return nil, fmt.Errorf("unknown operator `%s'", op)
}

func arith(op string, l, r any) (any, error) {
	if l == nil || r == nil {
		return nil, nil
	}
	if op == "+" {
		if ls, ok := l.(string); ok {
			if rs, ok := r.(string); ok {
				return ls + rs, nil
			}
		}
	}
	lk, rk := numKind(l), numKind(r)
	if lk == numNone || rk == numNone {
		return nil, fmt.Errorf("cannot apply `%s' to %s and %s", op, TypeName(l), TypeName(r))
	}
	if lk == numInt && rk == numInt {
		a, b := toInt(l), toInt(r)
		switch op {
		case "+":
			s := a + b
			if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
				return nil, errOverflow(op, a, b)
			}
			return s, nil
		case "-":
			s := a - b
			if (a >= 0 && b < 0 && s < 0) || (a < 0 && b > 0 && s >= 0) {
				return nil, errOverflow(op, a, b)
			}
			return s, nil
		case "*":
			if a == 0 || b == 0 {
				return int64(0), nil
			}
			s := a * b
			if s/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
				return nil, errOverflow(op, a, b)
			}
			return s, nil
		case "/":
			if b == 0 {
				return nil, ErrDivisionByZero
			}
			if a == math.MinInt64 && b == -1 {
				return nil, errOverflow(op, a, b)
			}
			return a / b, nil
		default: // %
			if b == 0 {
				return nil, ErrDivisionByZero
			}
			if b == -1 {
				return int64(0), nil
			}
			return a % b, nil
		}
	}
	a, b := toFloat(l), toFloat(r)
	switch op {
	case "+":
		return a + b, nil
	case "-":
		return a - b, nil
	case "*":
		return a * b, nil
	case "/":
		if b == 0 {
			return nil, ErrDivisionByZero
		}
		return a / b, nil
	default: // %
		if b == 0 {
			return nil, ErrDivisionByZero
		}
		return math.Mod(a, b), nil
	}
}

// isBasic reports whether v is one of the scalar types comparisons
// understand natively.
func isBasic(v any) bool {
	switch v.(type) {
	case bool, string:
		return true
	}
	return numKind(v) != numNone
}

func compare(op string, l, r any) (any, error) {
	if l == nil || r == nil {
		return nil, nil
	}
	var c int
	switch {
	case numKind(l) != numNone && numKind(r) != numNone:
		if numKind(l) == numInt && numKind(r) == numInt {
			a, b := toInt(l), toInt(r)
			c = cmp3(a < b, a > b)
		} else {
			a, b := toFloat(l), toFloat(r)
			if math.IsNaN(a) || math.IsNaN(b) {
				// NaN is unordered: only != holds.
				return op == "!=", nil
			}
			c = cmp3(a < b, a > b)
		}
	case isBasic(l) && isBasic(r):
		switch a := l.(type) {
		case string:
			b, ok := r.(string)
			if !ok {
				return nil, errCompare(l, r)
			}
			c = strings.Compare(a, b)
		case bool:
			b, ok := r.(bool)
			if !ok {
				return nil, errCompare(l, r)
			}
			c = cmp3(!a && b, a && !b)
		default:
			return nil, errCompare(l, r)
		}
	default:
		if op == "==" || op == "!=" {
			return reflect.DeepEqual(l, r) == (op == "=="), nil
		}
		return nil, errCompare(l, r)
	}
	switch op {
	case "==":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

func errCompare(l, r any) error {
	return fmt.Errorf("cannot compare %s with %s", TypeName(l), TypeName(r))
}

func wantArgs(name string, args []any, n int) error {
	if len(args) != n {
		return fmt.Errorf("function `%s' expects %d argument(s), got %d", name, n, len(args))
	}
	return nil
}

// callBuiltin evaluates the evaluator's own functions. NULL arguments give
// NULL.
func callBuiltin(name string, args []any) (any, error) {
	switch name {
	case "abs", "lower", "tolower", "upper", "toupper", "length", "size",
		"tostring", "tointeger", "toint", "tofloat":
		if err := wantArgs(name, args, 1); err != nil {
			return nil, err
		}
		if args[0] == nil {
			return nil, nil
		}
	case "concat":
		if len(args) == 0 {
			return nil, fmt.Errorf("function `%s' expects at least 1 argument, got 0", name)
		}
	default:
		return nil, fmt.Errorf("unknown function `%s'", name)
	}
	badArg := func(v any) error {
		return fmt.Errorf("function `%s' does not accept %s", name, TypeName(v))
	}
	switch name {
	case "abs":
		x := args[0]
		switch numKind(x) {
		case numInt:
			i := toInt(x)
			if i == math.MinInt64 {
				return nil, errOverflow("abs ", x, nil)
			}
			if i < 0 {
				return -i, nil
			}
			return i, nil
		case numFloat:
			return math.Abs(toFloat(x)), nil
		}
		return nil, badArg(x)
	case "lower", "tolower", "upper", "toupper":
		s, ok := args[0].(string)
		if !ok {
			return nil, badArg(args[0])
		}
		if name == "lower" || name == "tolower" {
			return strings.ToLower(s), nil
		}
		return strings.ToUpper(s), nil
	case "length", "size":
		switch x := args[0].(type) {
		case string:
			return int64(utf8.RuneCountInString(x)), nil
		case []any:
			return int64(len(x)), nil
		case map[string]any:
			return int64(len(x)), nil
		}
		return nil, badArg(args[0])
	case "tostring":
		s, ok := scalarString(args[0])
		if !ok {
			return nil, badArg(args[0])
		}
		return s, nil
	case "tointeger", "toint":
		x := args[0]
		switch numKind(x) {
		case numInt:
			return toInt(x), nil
		case numFloat:
			return floatToInt(toFloat(x)), nil
		}
		if s, ok := x.(string); ok {
			s = strings.TrimSpace(s)
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return floatToInt(f), nil
			}
			return nil, nil
		}
		return nil, badArg(x)
	case "tofloat":
		x := args[0]
		if numKind(x) != numNone {
			return toFloat(x), nil
		}
		if s, ok := x.(string); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return f, nil
			}
			return nil, nil
		}
		return nil, badArg(x)
	}
	// concat
	var b strings.Builder
	for _, a := range args {
		if a == nil {
			return nil, nil
		}
		s, ok := scalarString(a)
		if !ok {
			return nil, badArg(a)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// floatToInt truncates f; values outside the int64 range (and NaN) give
// NULL.
func floatToInt(f float64) any {
	if math.IsNaN(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0 {
		return nil
	}
	return int64(f)
}

// scalarString converts a scalar to its string form.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	}
	switch numKind(v) {
	case numInt:
		if u, ok := v.(uint64); ok {
			return strconv.FormatUint(u, 10), true
		}
		return strconv.FormatInt(toInt(v), 10), true
	case numFloat:
		if u, ok := v.(uint64); ok {
			return strconv.FormatUint(u, 10), true
		}
		if u, ok := v.(uint); ok {
			return strconv.FormatUint(uint64(u), 10), true
		}
		return formatFloat(toFloat(v)), true
	}
	return "", false
}
