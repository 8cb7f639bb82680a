package ngql

import (
	"math"
	"strconv"
	"strings"
)

// reserved lists the keywords that cannot be used as bare names (they can
// still be used back-quoted). The list follows NebulaGraph's reserved
// keywords, restricted to the statements nebula-lite understands.
var reserved = map[string]bool{
	"AND": true, "AS": true, "BIDIRECT": true, "BOOL": true, "BY": true,
	"CREATE": true, "DATE": true, "DATETIME": true, "DELETE": true,
	"DESC": true, "DESCRIBE": true, "DISTINCT": true, "DOUBLE": true,
	"DROP": true, "EDGE": true, "EDGES": true, "EXISTS": true, "FALSE": true,
	"FETCH": true, "FIXED_STRING": true, "FLOAT": true, "FROM": true,
	"GO": true, "IF": true, "IN": true, "INSERT": true, "INT": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true, "IS": true,
	"NOT": true, "NULL": true, "ON": true, "OR": true, "OVER": true,
	"PROP": true, "REVERSELY": true, "SHOW": true, "STEP": true,
	"STEPS": true, "STRING": true, "TAG": true, "TAGS": true, "TIME": true,
	"TIMESTAMP": true, "TO": true, "TRUE": true, "USE": true,
	"VERTEX": true, "VERTICES": true, "WHERE": true, "WITH": true,
	"XOR": true, "YIELD": true,
}

// keywordFuncs are reserved words that may still be called as functions.
var keywordFuncs = map[string]bool{
	"DATE": true, "TIME": true, "DATETIME": true, "TIMESTAMP": true,
}

// maxDepth bounds expression nesting so hostile input cannot exhaust the
// stack.
const maxDepth = 500

// Parse parses text, which may hold several statements separated by
// semicolons. Empty statements are skipped. On error it returns a
// *SyntaxError.
func Parse(text string) (stmts []Stmt, err error) {
	p := newParser(text)
	defer func() {
		if r := recover(); r != nil {
			stmts, err = nil, bailoutError(r)
		}
	}()
	for {
		for p.acceptOp(";") {
		}
		if p.peek().kind == tEOF {
			break
		}
		stmts = append(stmts, p.statement())
		if t := p.peek(); t.kind != tEOF && !isOp(t, ";") {
			p.unexpected(t)
		}
	}
	return stmts, nil
}

// ParseExpr parses a single expression (for example a property default
// value or a filter supplied outside a statement).
func ParseExpr(text string) (e Expr, err error) {
	p := newParser(text)
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, bailoutError(r)
		}
	}()
	e = p.expr()
	if t := p.peek(); t.kind != tEOF {
		p.unexpected(t)
	}
	return e, nil
}

type parser struct {
	src     string
	lx      *lexer
	buf     []token
	prevEnd int
	depth   int
}

// bailout carries a parse error up the stack via panic.
type bailout struct{ err *SyntaxError }

func newParser(src string) *parser {
	return &parser{src: src, lx: newLexer(src)}
}

// bailoutError converts a recovered value into the parse error; it
// re-panics for anything that is not a bailout (a bug).
func bailoutError(r any) error {
	b, ok := r.(bailout)
	if !ok {
		panic(r)
	}
	return b.err
}

func (p *parser) peekN(i int) token {
	for len(p.buf) <= i {
		p.buf = append(p.buf, p.lx.next())
	}
	return p.buf[i]
}

func (p *parser) peek() token { return p.peekN(0) }

func (p *parser) next() token {
	t := p.peek()
	if t.kind != tEOF && t.kind != tError {
		p.buf = p.buf[1:]
		p.prevEnd = t.end
	}
	return t
}

func (p *parser) errAt(t token, msg string) {
	e := &SyntaxError{Line: t.line, Col: t.col, Msg: msg}
	switch t.kind {
	case tError:
		e.Msg, e.Near = t.msg, t.near
	case tEOF:
		e.Near = "<EOF>"
	default:
		e.Near = nearText(p.src[t.off:t.end])
	}
	panic(bailout{e})
}

func (p *parser) unexpected(t token) { p.errAt(t, "syntax error") }

func isOp(t token, op string) bool { return t.kind == tOp && t.text == op }

func isKw(t token, kw string) bool { return t.kind == tWord && asciiEqualFold(t.text, kw) }

func (p *parser) acceptOp(op string) bool {
	if isOp(p.peek(), op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectOp(op string) token {
	t := p.peek()
	if !isOp(t, op) {
		p.unexpected(t)
	}
	return p.next()
}

func (p *parser) acceptKw(kw string) bool {
	if isKw(p.peek(), kw) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectKw(kw string) token {
	t := p.peek()
	if !isKw(t, kw) {
		p.unexpected(t)
	}
	return p.next()
}

// name parses a schema object name, property name or alias: a non-reserved
// bare word or a back-quoted identifier.
func (p *parser) name() string {
	t := p.peek()
	switch {
	case t.kind == tQuoted:
	case t.kind == tWord && !reserved[asciiUpper(t.text)]:
	default:
		p.unexpected(t)
	}
	p.next()
	return t.text
}

// attrName parses the name after a dot; any word is allowed there.
func (p *parser) attrName() string {
	t := p.peek()
	if t.kind != tWord && t.kind != tQuoted {
		p.unexpected(t)
	}
	p.next()
	return t.text
}

func (p *parser) stringLit() string {
	t := p.peek()
	if t.kind != tString {
		p.unexpected(t)
	}
	p.next()
	return t.text
}

// smallInt parses a non-negative integer literal; when positive is set the
// value must be greater than zero.
func (p *parser) smallInt(what string, positive bool) int {
	t := p.peek()
	if t.kind != tInt {
		p.unexpected(t)
	}
	p.next()
	v := p.intValue(t, false)
	if v > math.MaxInt32 {
		p.errAt(t, what+" out of range")
	}
	if positive && v <= 0 {
		p.errAt(t, what+" must be greater than 0")
	}
	return int(v)
}

// intValue converts an integer token; neg applies a leading unary minus so
// that -9223372036854775808 is representable.
func (p *parser) intValue(t token, neg bool) int64 {
	text := t.text
	var u uint64
	var err error
	if len(text) > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') {
		u, err = strconv.ParseUint(text[2:], 16, 64)
	} else {
		u, err = strconv.ParseUint(text, 10, 64)
	}
	if err != nil || u > 1<<63 || (u == 1<<63 && !neg) {
		p.errAt(t, "integer out of range")
	}
	if neg {
		return -int64(u)
	}
	return int64(u)
}

func (p *parser) floatValue(t token, neg bool) float64 {
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil {
		p.errAt(t, "float out of range")
	}
	if neg {
		return -f
	}
	return f
}

func (p *parser) statement() Stmt {
	t := p.peek()
	if t.kind != tWord {
		p.unexpected(t)
	}
	switch asciiUpper(t.text) {
	case "CREATE":
		p.next()
		switch k := p.peek(); {
		case isKw(k, "SPACE"):
			p.next()
			return p.createSpace()
		case isKw(k, "TAG"), isKw(k, "EDGE"):
			p.next()
			return p.createSchema(isKw(k, "EDGE"))
		default:
			p.unexpected(k)
		}
	case "DROP":
		p.next()
		switch k := p.peek(); {
		case isKw(k, "SPACE"):
			p.next()
			ifExists := p.ifExists()
			return &DropSpace{IfExists: ifExists, Name: p.name()}
		case isKw(k, "TAG"), isKw(k, "EDGE"):
			p.next()
			ifExists := p.ifExists()
			return &DropSchema{IsEdge: isKw(k, "EDGE"), IfExists: ifExists, Name: p.name()}
		default:
			p.unexpected(k)
		}
	case "DESCRIBE", "DESC":
		p.next()
		switch k := p.peek(); {
		case isKw(k, "SPACE"):
			p.next()
			return &DescribeSpace{Name: p.name()}
		case isKw(k, "TAG"), isKw(k, "EDGE"):
			p.next()
			return &DescribeSchema{IsEdge: isKw(k, "EDGE"), Name: p.name()}
		default:
			p.unexpected(k)
		}
	case "SHOW":
		p.next()
		k := p.peek()
		if k.kind != tWord {
			p.unexpected(k)
		}
		switch asciiUpper(k.text) {
		case "SPACES":
			p.next()
			return &ShowSpaces{}
		case "TAGS", "EDGES":
			p.next()
			return &ShowSchemas{IsEdge: isKw(k, "EDGES")}
		case "HOSTS":
			p.next()
			s := &ShowHosts{}
			if r := p.peek(); r.kind == tWord {
				switch role := asciiUpper(r.text); role {
				case "GRAPH", "STORAGE", "META":
					p.next()
					s.Role = role
				}
			}
			return s
		case "FINGERPRINT":
			p.next()
			return &ShowFingerprint{}
		}
		p.unexpected(k)
	case "USE":
		p.next()
		return &Use{Name: p.name()}
	case "BALANCE":
		p.next()
		if k := p.peek(); !isKw(k, "LEADER") {
			p.unexpected(k)
		}
		p.next()
		return &BalanceLeader{}
	case "INSERT":
		p.next()
		switch k := p.peek(); {
		case isKw(k, "VERTEX"):
			p.next()
			return p.insertVertex()
		case isKw(k, "EDGE"):
			p.next()
			return p.insertEdge()
		default:
			p.unexpected(k)
		}
	case "DELETE":
		p.next()
		switch k := p.peek(); {
		case isKw(k, "VERTEX"):
			p.next()
			s := &DeleteVertex{VIDs: p.exprList()}
			if p.acceptKw("WITH") {
				p.expectKw("EDGE")
				s.WithEdge = true
			}
			return s
		case isKw(k, "EDGE"):
			p.next()
			s := &DeleteEdge{Edge: p.name()}
			s.Keys = p.edgeKeys(p.expr())
			return s
		default:
			p.unexpected(k)
		}
	case "FETCH":
		p.next()
		return p.fetch()
	case "GO":
		p.next()
		return p.goStmt()
	}
	p.unexpected(t)
	return nil
}

func (p *parser) ifNotExists() bool {
	if isKw(p.peek(), "IF") {
		p.next()
		p.expectKw("NOT")
		p.expectKw("EXISTS")
		return true
	}
	return false
}

func (p *parser) ifExists() bool {
	if isKw(p.peek(), "IF") {
		p.next()
		p.expectKw("EXISTS")
		return true
	}
	return false
}

// comment parses the text after a COMMENT keyword: [=] "string".
func (p *parser) comment() string {
	p.acceptOp("=")
	return p.stringLit()
}

func (p *parser) createSpace() *CreateSpace {
	s := &CreateSpace{IfNotExists: p.ifNotExists(), Name: p.name()}
	if p.acceptOp("(") && !p.acceptOp(")") {
		seen := map[string]bool{}
		for {
			k := p.peek()
			if k.kind != tWord {
				p.unexpected(k)
			}
			key := asciiUpper(k.text)
			p.next()
			p.expectOp("=")
			switch key {
			case "PARTITION_NUM":
				s.PartitionNum = p.smallInt("partition_num", true)
			case "REPLICA_FACTOR":
				s.ReplicaFactor = p.smallInt("replica_factor", true)
			case "VID_TYPE":
				vt := p.peek()
				ts := p.typeSpec()
				if ts.Kind != "INT64" && ts.Kind != "FIXED_STRING" {
					p.errAt(vt, "vid_type must be INT64 or FIXED_STRING(N)")
				}
				s.VidType = &ts
			case "CHARSET", "COLLATE":
				v := p.peek()
				if v.kind != tWord && v.kind != tString {
					p.unexpected(v)
				}
				p.next()
				want := "utf8"
				if key == "COLLATE" {
					want = "utf8_bin"
				}
				if !asciiEqualFold(v.text, want) {
					p.errAt(v, "unsupported "+asciiLower(key))
				}
			default:
				p.unexpected(k)
			}
			if seen[key] {
				p.errAt(k, "duplicate option "+asciiLower(key))
			}
			seen[key] = true
			if !p.acceptOp(",") {
				p.expectOp(")")
				break
			}
		}
	}
	if p.acceptKw("COMMENT") {
		s.Comment = p.comment()
	}
	return s
}

var typeNames = map[string]string{
	"INT": "INT64", "INT64": "INT64", "INT32": "INT32", "INT16": "INT16",
	"INT8": "INT8", "DOUBLE": "DOUBLE", "FLOAT": "FLOAT", "BOOL": "BOOL",
	"STRING": "STRING", "FIXED_STRING": "FIXED_STRING",
	"TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "DATETIME": "DATETIME",
	"TIME": "TIME",
}

func (p *parser) typeSpec() TypeSpec {
	t := p.peek()
	kind, ok := typeNames[asciiUpper(t.text)]
	if t.kind != tWord || !ok {
		p.unexpected(t)
	}
	p.next()
	ts := TypeSpec{Kind: kind}
	if kind == "FIXED_STRING" {
		p.expectOp("(")
		ts.Len = p.smallInt("fixed_string length", true)
		p.expectOp(")")
	}
	return ts
}

func (p *parser) createSchema(isEdge bool) *CreateSchema {
	s := &CreateSchema{IsEdge: isEdge, IfNotExists: p.ifNotExists(), Name: p.name()}
	p.expectOp("(")
	if !p.acceptOp(")") {
		seen := map[string]bool{}
		for {
			nt := p.peek()
			pd := p.propDef()
			if seen[pd.Name] {
				p.errAt(nt, "duplicate property name")
			}
			seen[pd.Name] = true
			s.Props = append(s.Props, pd)
			if !p.acceptOp(",") {
				p.expectOp(")")
				break
			}
		}
	}
	if p.acceptKw("COMMENT") {
		s.Comment = p.comment()
	}
	return s
}

func (p *parser) propDef() PropDef {
	pd := PropDef{Name: p.name(), Type: p.typeSpec(), Nullable: true}
	var seenNull, seenDefault, seenComment bool
	for {
		t := p.peek()
		switch {
		case isKw(t, "NULL"), isKw(t, "NOT"):
			if seenNull {
				p.unexpected(t)
			}
			seenNull = true
			p.next()
			if isKw(t, "NOT") {
				p.expectKw("NULL")
				pd.Nullable = false
			}
		case isKw(t, "DEFAULT"):
			if seenDefault {
				p.unexpected(t)
			}
			seenDefault = true
			p.next()
			pd.Default = p.expr()
		case isKw(t, "COMMENT"):
			if seenComment {
				p.unexpected(t)
			}
			seenComment = true
			p.next()
			pd.Comment = p.comment()
		default:
			return pd
		}
	}
}

// nameList parses "(a, b, ...)" (possibly empty).
func (p *parser) nameList() []string {
	p.expectOp("(")
	var names []string
	if p.acceptOp(")") {
		return nil
	}
	for {
		names = append(names, p.name())
		if !p.acceptOp(",") {
			p.expectOp(")")
			return names
		}
	}
}

// valueList parses "(v1, v2, ...)" (possibly empty); it returns the
// opening parenthesis token for error reporting.
func (p *parser) valueList() (token, []Expr) {
	lp := p.expectOp("(")
	var vals []Expr
	if p.acceptOp(")") {
		return lp, nil
	}
	for {
		vals = append(vals, p.expr())
		if !p.acceptOp(",") {
			p.expectOp(")")
			return lp, vals
		}
	}
}

func (p *parser) expectValues() {
	if !p.acceptKw("VALUES") {
		p.expectKw("VALUE")
	}
}

func (p *parser) insertVertex() *InsertVertex {
	s := &InsertVertex{IfNotExists: p.ifNotExists()}
	total := 0
	for {
		tag := p.name()
		props := p.nameList()
		total += len(props)
		s.Tags = append(s.Tags, TagProps{Tag: tag, Props: props})
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectValues()
	for {
		vid := p.expr()
		p.expectOp(":")
		lp, vals := p.valueList()
		if len(vals) != total {
			p.errAt(lp, "column count doesn't match value count")
		}
		s.Rows = append(s.Rows, VertexRow{VID: vid, Values: vals})
		if !p.acceptOp(",") {
			return s
		}
	}
}

func (p *parser) insertEdge() *InsertEdge {
	s := &InsertEdge{IfNotExists: p.ifNotExists(), Edge: p.name()}
	s.Props = p.nameList()
	p.expectValues()
	for {
		k := p.edgeKey(p.expr())
		p.expectOp(":")
		lp, vals := p.valueList()
		if len(vals) != len(s.Props) {
			p.errAt(lp, "column count doesn't match value count")
		}
		s.Rows = append(s.Rows, EdgeRow{Src: k.Src, Dst: k.Dst, Rank: k.Rank, Values: vals})
		if !p.acceptOp(",") {
			return s
		}
	}
}

// edgeKey parses "-> dst [@rank]" after an already parsed source.
func (p *parser) edgeKey(src Expr) EdgeKey {
	p.expectOp("->")
	k := EdgeKey{Src: src, Dst: p.expr()}
	if p.acceptOp("@") {
		k.Rank = p.enterUnary()
	}
	return k
}

// edgeKeys parses a comma separated edge key list whose first source has
// already been parsed.
func (p *parser) edgeKeys(first Expr) []EdgeKey {
	keys := []EdgeKey{p.edgeKey(first)}
	for p.acceptOp(",") {
		keys = append(keys, p.edgeKey(p.expr()))
	}
	return keys
}

func (p *parser) exprList() []Expr {
	list := []Expr{p.expr()}
	for p.acceptOp(",") {
		list = append(list, p.expr())
	}
	return list
}

func (p *parser) fetch() Stmt {
	p.expectKw("PROP")
	p.expectKw("ON")
	if p.acceptOp("*") {
		s := &FetchVertices{Tags: []string{"*"}, VIDs: p.exprList()}
		s.Yield = p.optYield()
		return s
	}
	names := []string{p.name()}
	for p.acceptOp(",") {
		names = append(names, p.name())
	}
	first := p.expr()
	if t := p.peek(); isOp(t, "->") {
		if len(names) > 1 {
			p.unexpected(t)
		}
		s := &FetchEdges{Edge: names[0], Keys: p.edgeKeys(first)}
		s.Yield = p.optYield()
		return s
	}
	s := &FetchVertices{Tags: names, VIDs: []Expr{first}}
	for p.acceptOp(",") {
		s.VIDs = append(s.VIDs, p.expr())
	}
	s.Yield = p.optYield()
	return s
}

func (p *parser) goStmt() *Go {
	g := &Go{MinSteps: 1, MaxSteps: 1, Direction: Out}
	if p.peek().kind == tInt {
		n := p.smallInt("steps", false)
		g.MinSteps, g.MaxSteps = n, n
		if p.acceptKw("TO") {
			mt := p.peek()
			m := p.smallInt("steps", false)
			if m < n {
				p.errAt(mt, "invalid step range")
			}
			g.MaxSteps = m
		}
		if !p.acceptKw("STEPS") {
			p.expectKw("STEP")
		}
	}
	p.expectKw("FROM")
	g.From = p.exprList()
	p.expectKw("OVER")
	if p.acceptOp("*") {
		g.Over = []string{"*"}
	} else {
		g.Over = []string{p.name()}
		for p.acceptOp(",") {
			g.Over = append(g.Over, p.name())
		}
	}
	if p.acceptKw("REVERSELY") {
		g.Direction = In
	} else if p.acceptKw("BIDIRECT") {
		g.Direction = Both
	}
	if p.acceptKw("WHERE") {
		g.Where = p.expr()
	}
	g.Yield = p.optYield()
	return g
}

func (p *parser) optYield() *Yield {
	if !p.acceptKw("YIELD") {
		return nil
	}
	y := &Yield{}
	if p.acceptKw("DISTINCT") {
		y.Distinct = true
	}
	for {
		start := p.peek().off
		e := p.expr()
		col := YieldColumn{Expr: e, Text: strings.TrimSpace(p.src[start:p.prevEnd])}
		if p.acceptKw("AS") {
			col.Alias = p.name()
		}
		y.Columns = append(y.Columns, col)
		if !p.acceptOp(",") {
			return y
		}
	}
}

// ---- expressions ----

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.errAt(p.peek(), "expression nested too deeply")
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	return p.orExpr()
}

func (p *parser) orExpr() Expr {
	l := p.xorExpr()
	for {
		if t := p.peek(); !isKw(t, "OR") && !isOp(t, "||") {
			return l
		}
		p.next()
		l = &Binary{Op: "OR", L: l, R: p.xorExpr()}
	}
}

func (p *parser) xorExpr() Expr {
	l := p.andExpr()
	for p.acceptKw("XOR") {
		l = &Binary{Op: "XOR", L: l, R: p.andExpr()}
	}
	return l
}

func (p *parser) andExpr() Expr {
	l := p.notExpr()
	for {
		if t := p.peek(); !isKw(t, "AND") && !isOp(t, "&&") {
			return l
		}
		p.next()
		l = &Binary{Op: "AND", L: l, R: p.notExpr()}
	}
}

func (p *parser) notExpr() Expr {
	if !p.acceptKw("NOT") {
		return p.cmpExpr()
	}
	p.enter()
	defer p.leave()
	return &Unary{Op: "NOT", X: p.notExpr()}
}

var cmpOps = map[string]string{
	"==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}

func (p *parser) cmpExpr() Expr {
	l := p.addExpr()
	for {
		t := p.peek()
		if isKw(t, "IS") {
			p.next()
			op := "IS NULL"
			if p.acceptKw("NOT") {
				op = "IS NOT NULL"
			}
			p.expectKw("NULL")
			l = &Unary{Op: op, X: l}
			continue
		}
		op, ok := cmpOps[t.text]
		if t.kind != tOp || !ok {
			return l
		}
		p.next()
		l = &Binary{Op: op, L: l, R: p.addExpr()}
	}
}

func (p *parser) addExpr() Expr {
	l := p.mulExpr()
	for {
		t := p.peek()
		if !isOp(t, "+") && !isOp(t, "-") {
			return l
		}
		p.next()
		l = &Binary{Op: t.text, L: l, R: p.mulExpr()}
	}
}

func (p *parser) mulExpr() Expr {
	l := p.unaryExpr()
	for {
		t := p.peek()
		if !isOp(t, "*") && !isOp(t, "/") && !isOp(t, "%") {
			return l
		}
		p.next()
		l = &Binary{Op: t.text, L: l, R: p.unaryExpr()}
	}
}

// enterUnary parses a unary expression with depth accounting (used for
// edge ranks).
func (p *parser) enterUnary() Expr {
	p.enter()
	defer p.leave()
	return p.unaryExpr()
}

func (p *parser) unaryExpr() Expr {
	t := p.peek()
	if t.kind != tOp || (t.text != "-" && t.text != "+" && t.text != "!") {
		return p.postfix(p.primary())
	}
	p.next()
	if t.text == "-" {
		// Fold a minus directly in front of a number into the literal, so
		// that -9223372036854775808 is representable and ranks like @-1
		// are plain literals.
		switch n := p.peek(); n.kind {
		case tInt:
			p.next()
			return p.postfix(&Literal{Value: p.intValue(n, true)})
		case tFloat:
			p.next()
			return p.postfix(&Literal{Value: p.floatValue(n, true)})
		}
	}
	op := t.text
	if op == "!" {
		op = "NOT"
	}
	p.enter()
	defer p.leave()
	return &Unary{Op: op, X: p.unaryExpr()}
}

func (p *parser) postfix(x Expr) Expr {
	for p.acceptOp(".") {
		x = &Attr{X: x, Name: p.attrName()}
	}
	return x
}

func (p *parser) primary() Expr {
	t := p.peek()
	switch t.kind {
	case tInt:
		p.next()
		return &Literal{Value: p.intValue(t, false)}
	case tFloat:
		p.next()
		return &Literal{Value: p.floatValue(t, false)}
	case tString:
		p.next()
		return &Literal{Value: t.text}
	case tSrcRef, tDstRef:
		p.next()
		if !p.acceptOp(".") {
			return &Ident{Name: t.text}
		}
		kind := PropSrc
		if t.kind == tDstRef {
			kind = PropDst
		}
		owner := p.attrName()
		p.expectOp(".")
		return &Prop{Kind: kind, Owner: owner, Name: p.attrName()}
	case tQuoted:
		p.next()
		return p.identOrProp(t.text)
	case tWord:
		up := asciiUpper(t.text)
		if isOp(p.peekN(1), "(") && (!reserved[up] || keywordFuncs[up]) {
			return p.call()
		}
		switch up {
		case "TRUE", "FALSE":
			p.next()
			return &Literal{Value: up == "TRUE"}
		case "NULL":
			p.next()
			return &Literal{Value: nil}
		case "VERTEX", "EDGE":
			p.next()
			return p.identOrProp(asciiLower(up))
		}
		if reserved[up] {
			p.unexpected(t)
		}
		p.next()
		return p.identOrProp(t.text)
	case tOp:
		if t.text == "(" {
			p.next()
			e := p.expr()
			p.expectOp(")")
			return e
		}
	}
	p.unexpected(t)
	return nil
}

func (p *parser) identOrProp(name string) Expr {
	if p.acceptOp(".") {
		return &Prop{Kind: PropPlain, Owner: name, Name: p.attrName()}
	}
	return &Ident{Name: name}
}

func (p *parser) call() Expr {
	name := asciiLower(p.next().text)
	_, args := p.valueList()
	return &Call{Name: name, Args: args}
}
