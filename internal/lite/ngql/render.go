package ngql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Operator precedence levels used when rendering expressions; a higher
// level binds tighter.
const (
	precOr = iota + 1
	precXor
	precAnd
	precNot
	precCmp
	precAdd
	precMul
	precUnary
	precPrimary
)

func binaryPrec(op string) int {
	switch op {
	case "OR":
		return precOr
	case "XOR":
		return precXor
	case "AND":
		return precAnd
	case "+", "-":
		return precAdd
	case "*", "/", "%":
		return precMul
	}
	return precCmp
}

func exprPrec(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		return binaryPrec(e.Op)
	case *Unary:
		switch e.Op {
		case "NOT":
			return precNot
		case "IS NULL", "IS NOT NULL":
			return precCmp
		}
		return precUnary
	}
	return precPrimary
}

// wrap renders e, parenthesised when it binds looser than min.
func wrap(e Expr, min int) string {
	if e == nil {
		return "<nil>"
	}
	if exprPrec(e) < min {
		return "(" + e.String() + ")"
	}
	return e.String()
}

// String renders the literal as nGQL: NULL, true, 42, 1.5, "text".
func (e *Literal) String() string { return formatLiteral(e.Value) }

func formatLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return formatFloat(v)
	case string:
		return quoteString(v)
	}
	return fmt.Sprint(v)
}

func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// quoteString renders s as a double-quoted nGQL string literal.
func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isBareWord reports whether s lexes as a single word token.
func isBareWord(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError {
			return false
		}
		if i == 0 && !isWordStart(r) || !isWordPart(r) {
			return false
		}
	}
	return true
}

// quoteAttr renders a name that follows a dot.
func quoteAttr(s string) string {
	if isBareWord(s) {
		return s
	}
	return "`" + s + "`"
}

// quoteName renders a name in a position where reserved words must be
// back-quoted.
func quoteName(s string) string {
	if s == "vertex" || s == "edge" || (isBareWord(s) && !reserved[asciiUpper(s)]) {
		return s
	}
	return "`" + s + "`"
}

// String renders the operator and its operand, e.g. "-x", "NOT a",
// "a IS NULL".
func (e *Unary) String() string {
	switch e.Op {
	case "NOT":
		return "NOT " + wrap(e.X, precNot)
	case "IS NULL", "IS NOT NULL":
		return wrap(e.X, precCmp) + " " + e.Op
	}
	s := wrap(e.X, precUnary)
	if e.Op == "-" {
		if l, ok := e.X.(*Literal); ok && isNumber(l.Value) || strings.HasPrefix(s, "-") {
			s = "(" + s + ")"
		}
	}
	return e.Op + s
}

func isNumber(v any) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

// String renders the expression with the minimal parentheses, e.g.
// "(a + b) * c".
func (e *Binary) String() string {
	p := binaryPrec(e.Op)
	return wrap(e.L, p) + " " + e.Op + " " + wrap(e.R, p+1)
}

// String renders the reference, e.g. "e._dst", "$^.player.name".
func (e *Prop) String() string {
	switch e.Kind {
	case PropSrc:
		return "$^." + quoteAttr(e.Owner) + "." + quoteAttr(e.Name)
	case PropDst:
		return "$$." + quoteAttr(e.Owner) + "." + quoteAttr(e.Name)
	}
	return quoteName(e.Owner) + "." + quoteAttr(e.Name)
}

// String renders the identifier, back-quoted when needed.
func (e *Ident) String() string {
	if e.Name == "$$" || e.Name == "$^" {
		return e.Name
	}
	return quoteName(e.Name)
}

// String renders the call, e.g. "id(vertex)".
func (e *Call) String() string {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = wrap(a, 0)
	}
	return e.Name + "(" + strings.Join(args, ", ") + ")"
}

// String renders the attribute access, e.g. "properties(edge).degree".
func (e *Attr) String() string {
	var x string
	switch e.X.(type) {
	case *Literal, *Ident:
		x = "(" + wrap(e.X, 0) + ")"
	default:
		x = wrap(e.X, precPrimary)
	}
	return x + "." + quoteAttr(e.Name)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'a' && x <= 'z' {
			x -= 'a' - 'A'
		}
		if y >= 'a' && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
