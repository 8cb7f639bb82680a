package ngql

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF    tokKind = iota
	tError          // lexing problem; msg and near describe it
	tWord           // bare identifier or keyword
	tQuoted         // back-quoted identifier
	tInt            // integer literal (text is the source spelling)
	tFloat          // floating point literal (text is the source spelling)
	tString         // string literal (text is the decoded value)
	tOp             // operator or punctuation
	tSrcRef         // $^
	tDstRef         // $$
)

type token struct {
	kind      tokKind
	text      string
	off, end  int // byte offsets of the token in the source
	line, col int
	msg       string // tError only
	near      string // tError only
}

type lexer struct {
	src       string
	pos       int
	line, col int
	failed    *token // sticky lexing error
}

func newLexer(src string) *lexer {
	return &lexer{src: src, line: 1, col: 1}
}

// adv consumes one character (rune, or one byte of invalid UTF-8).
func (lx *lexer) adv() {
	if lx.pos >= len(lx.src) {
		return
	}
	c := lx.src[lx.pos]
	if c < utf8.RuneSelf {
		lx.pos++
	} else {
		_, n := utf8.DecodeRuneInString(lx.src[lx.pos:])
		lx.pos += n
	}
	if c == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
}

func (lx *lexer) at(i int) byte {
	if lx.pos+i < len(lx.src) {
		return lx.src[lx.pos+i]
	}
	return 0
}

func (lx *lexer) eof() bool { return lx.pos >= len(lx.src) }

// lineRest returns the text from byte offset off up to the end of its line.
func (lx *lexer) lineRest(off int) string {
	s := lx.src[off:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimRight(s, "\r")
}

func (lx *lexer) fail(off, line, col int, msg, near string) token {
	t := token{kind: tError, off: off, end: off, line: line, col: col, msg: msg, near: nearText(near)}
	lx.failed = &t
	return t
}

func isWordStart(r rune) bool {
	return r == '_' || (r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')) ||
		(r >= utf8.RuneSelf && unicode.IsLetter(r))
}

func isWordPart(r rune) bool {
	return isWordStart(r) || (r >= '0' && r <= '9') || (r >= utf8.RuneSelf && unicode.IsDigit(r))
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// skipSpace skips blanks and comments. It returns a non-nil error token for
// an unterminated block comment.
func (lx *lexer) skipSpace() *token {
	for !lx.eof() {
		c := lx.at(0)
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			lx.adv()
		case c == '#' || (c == '-' && lx.at(1) == '-') || (c == '/' && lx.at(1) == '/'):
			for !lx.eof() && lx.at(0) != '\n' {
				lx.adv()
			}
		case c == '/' && lx.at(1) == '*':
			off, line, col := lx.pos, lx.line, lx.col
			lx.adv()
			lx.adv()
			for {
				if lx.eof() {
					t := lx.fail(off, line, col, "unterminated comment", lx.lineRest(off))
					return &t
				}
				if lx.at(0) == '*' && lx.at(1) == '/' {
					lx.adv()
					lx.adv()
					break
				}
				lx.adv()
			}
		default:
			return nil
		}
	}
	return nil
}

var twoCharOps = []string{"->", "==", "!=", "<>", "<=", ">=", "&&", "||"}

const oneCharOps = "()[]{},;:.@+-*/%<>=!&|^~?\\$"

// next returns the next token. After a lexing error it keeps returning the
// same error token.
func (lx *lexer) next() token {
	if lx.failed != nil {
		return *lx.failed
	}
	if t := lx.skipSpace(); t != nil {
		return *t
	}
	off, line, col := lx.pos, lx.line, lx.col
	tok := func(kind tokKind, text string) token {
		return token{kind: kind, text: text, off: off, end: lx.pos, line: line, col: col}
	}
	if lx.eof() {
		return tok(tEOF, "")
	}
	c := lx.at(0)
	r, _ := utf8.DecodeRuneInString(lx.src[lx.pos:])
	switch {
	case isWordStart(r):
		for !lx.eof() {
			r, _ := utf8.DecodeRuneInString(lx.src[lx.pos:])
			if !isWordPart(r) {
				break
			}
			lx.adv()
		}
		return tok(tWord, lx.src[off:lx.pos])
	case isDigit(c) || (c == '.' && isDigit(lx.at(1))):
		return lx.number(off, line, col)
	case c == '"' || c == '\'':
		return lx.str(off, line, col)
	case c == '`':
		lx.adv()
		start := lx.pos
		for !lx.eof() && lx.at(0) != '`' {
			lx.adv()
		}
		if lx.eof() {
			return lx.fail(off, line, col, "unterminated quoted identifier", lx.lineRest(off))
		}
		name := lx.src[start:lx.pos]
		lx.adv()
		if name == "" {
			return lx.fail(off, line, col, "empty quoted identifier", "``")
		}
		return tok(tQuoted, name)
	case c == '$' && lx.at(1) == '^':
		lx.adv()
		lx.adv()
		return tok(tSrcRef, "$^")
	case c == '$' && lx.at(1) == '$':
		lx.adv()
		lx.adv()
		return tok(tDstRef, "$$")
	}
	for _, op := range twoCharOps {
		if strings.HasPrefix(lx.src[lx.pos:], op) {
			lx.adv()
			lx.adv()
			return tok(tOp, op)
		}
	}
	if c < utf8.RuneSelf && strings.IndexByte(oneCharOps, c) >= 0 {
		lx.adv()
		return tok(tOp, string(c))
	}
	var near string
	if r == utf8.RuneError || !unicode.IsPrint(r) {
		near = fmt.Sprintf("\\x%02x", c)
	} else {
		near = string(r)
	}
	return lx.fail(off, line, col, "invalid character", near)
}

func (lx *lexer) number(off, line, col int) token {
	kind := tInt
	if lx.at(0) == '0' && (lx.at(1) == 'x' || lx.at(1) == 'X') && isHexDigit(lx.at(2)) {
		lx.adv()
		lx.adv()
		for isHexDigit(lx.at(0)) {
			lx.adv()
		}
	} else {
		for isDigit(lx.at(0)) {
			lx.adv()
		}
		if lx.at(0) == '.' {
			kind = tFloat
			lx.adv()
			for isDigit(lx.at(0)) {
				lx.adv()
			}
		}
		if e := lx.at(0); e == 'e' || e == 'E' {
			if isDigit(lx.at(1)) || ((lx.at(1) == '+' || lx.at(1) == '-') && isDigit(lx.at(2))) {
				kind = tFloat
				lx.adv()
				lx.adv()
				for isDigit(lx.at(0)) {
					lx.adv()
				}
			}
		}
	}
	return token{kind: kind, text: lx.src[off:lx.pos], off: off, end: lx.pos, line: line, col: col}
}

func (lx *lexer) str(off, line, col int) token {
	q := lx.at(0)
	lx.adv()
	var b strings.Builder
	for {
		if lx.eof() || lx.at(0) == '\n' {
			return lx.fail(off, line, col, "unterminated string", lx.lineRest(off))
		}
		c := lx.at(0)
		if c == q {
			lx.adv()
			return token{kind: tString, text: b.String(), off: off, end: lx.pos, line: line, col: col}
		}
		if c != '\\' {
			start := lx.pos
			lx.adv()
			b.WriteString(lx.src[start:lx.pos])
			continue
		}
		lx.adv() // the backslash
		if lx.eof() {
			return lx.fail(off, line, col, "unterminated string", lx.lineRest(off))
		}
		e := lx.at(0)
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		default:
			// \" \' \\ and any other escaped character stand for themselves.
			start := lx.pos
			lx.adv()
			b.WriteString(lx.src[start:lx.pos])
			continue
		}
		lx.adv()
	}
}
