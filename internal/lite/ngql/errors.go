package ngql

import (
	"fmt"
	"unicode/utf8"
)

// SyntaxError reports a problem found while lexing or parsing a query.
// Line and Col are 1-based and point at the offending token (columns count
// characters, not bytes). Near is the text of that token, or "<EOF>" when
// the input ended unexpectedly.
type SyntaxError struct {
	Line int
	Col  int
	Near string
	Msg  string
}

// Error renders the error the way NebulaGraph does, e.g.
// "SyntaxError: syntax error near `FORM' (line 1, column 4)".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("SyntaxError: %s near `%s' (line %d, column %d)", e.Msg, e.Near, e.Line, e.Col)
}

// maxNearRunes bounds the length of SyntaxError.Near.
const maxNearRunes = 40

// nearText shortens s to at most maxNearRunes characters.
func nearText(s string) string {
	if utf8.RuneCountInString(s) <= maxNearRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == maxNearRunes {
			return s[:i] + "..."
		}
		n++
	}
	return s
}
