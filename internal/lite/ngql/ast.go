// Package ngql is the nGQL front end of nebula-lite: a hand-written lexer and
// recursive-descent parser for the subset of NebulaGraph 3.x nGQL that
// nebula-lite supports, the resulting AST, and an expression evaluator.
package ngql

// Stmt is a parsed statement. The concrete types are the pointer types
// declared in this file (*CreateSpace, *Go, ...).
type Stmt interface {
	stmt()
}

// Expr is a parsed expression. String renders it back in canonical form.
type Expr interface {
	String() string
	expr()
}

// TypeSpec is a property (or VID) data type.
type TypeSpec struct {
	// Kind is the upper-case canonical type name: INT64, INT32, INT16, INT8,
	// DOUBLE, FLOAT, BOOL, STRING, FIXED_STRING, TIMESTAMP, DATE, DATETIME,
	// TIME.
	Kind string
	// Len is the length of a FIXED_STRING; 0 otherwise.
	Len int
}

// String renders the type as nGQL, e.g. "FIXED_STRING(32)".
func (t TypeSpec) String() string {
	if t.Kind == "FIXED_STRING" {
		return "FIXED_STRING(" + itoa(int64(t.Len)) + ")"
	}
	return t.Kind
}

// CreateSpace is CREATE SPACE [IF NOT EXISTS] name (options) [COMMENT = "..."].
type CreateSpace struct {
	IfNotExists   bool
	Name          string
	PartitionNum  int       // 0 when not given
	ReplicaFactor int       // 0 when not given
	VidType       *TypeSpec // nil when not given
	Comment       string
}

// DropSpace is DROP SPACE [IF EXISTS] name.
type DropSpace struct {
	IfExists bool
	Name     string
}

// DescribeSpace is DESCRIBE SPACE name / DESC SPACE name.
type DescribeSpace struct {
	Name string
}

// ShowSpaces is SHOW SPACES.
type ShowSpaces struct{}

// Use is USE name.
type Use struct {
	Name string
}

// PropDef is one property of a CREATE TAG / CREATE EDGE statement.
type PropDef struct {
	Name     string
	Type     TypeSpec
	Nullable bool // true unless NOT NULL
	Default  Expr // nil if none
	Comment  string
}

// CreateSchema is CREATE TAG|EDGE [IF NOT EXISTS] name (props) [COMMENT = "..."].
type CreateSchema struct {
	IsEdge      bool
	IfNotExists bool
	Name        string
	Props       []PropDef
	Comment     string
}

// DropSchema is DROP TAG|EDGE [IF EXISTS] name.
type DropSchema struct {
	IsEdge   bool
	IfExists bool
	Name     string
}

// DescribeSchema is DESCRIBE TAG|EDGE name.
type DescribeSchema struct {
	IsEdge bool
	Name   string
}

// ShowSchemas is SHOW TAGS / SHOW EDGES.
type ShowSchemas struct {
	IsEdge bool
}

// ShowHosts is SHOW HOSTS [GRAPH|STORAGE|META].
type ShowHosts struct {
	Role string // "", "GRAPH", "STORAGE" or "META"
}

// BalanceLeader is BALANCE LEADER: even out part leaders over the hosts.
type BalanceLeader struct{}

// ShowFingerprint is SHOW FINGERPRINT (a nebula-lite extension).
type ShowFingerprint struct{}

// TagProps names a tag and the properties given for it in INSERT VERTEX.
type TagProps struct {
	Tag   string
	Props []string
}

// VertexRow is one VID:(values) row of INSERT VERTEX. Values holds the
// values of all tags concatenated, in the order of the tag list.
type VertexRow struct {
	VID    Expr
	Values []Expr
}

// InsertVertex is INSERT VERTEX [IF NOT EXISTS] t1(p, ...), ... VALUES vid:(v, ...), ...
type InsertVertex struct {
	IfNotExists bool
	Tags        []TagProps
	Rows        []VertexRow
}

// EdgeRow is one src->dst[@rank]:(values) row of INSERT EDGE.
type EdgeRow struct {
	Src, Dst Expr
	Rank     Expr // nil means rank 0
	Values   []Expr
}

// InsertEdge is INSERT EDGE [IF NOT EXISTS] e(p, ...) VALUES src->dst[@rank]:(v, ...), ...
type InsertEdge struct {
	IfNotExists bool
	Edge        string
	Props       []string
	Rows        []EdgeRow
}

// DeleteVertex is DELETE VERTEX vid, ... [WITH EDGE].
type DeleteVertex struct {
	VIDs     []Expr
	WithEdge bool
}

// EdgeKey is src->dst[@rank]; Rank is nil when not given.
type EdgeKey struct {
	Src, Dst, Rank Expr
}

// DeleteEdge is DELETE EDGE e src->dst[@rank], ...
type DeleteEdge struct {
	Edge string
	Keys []EdgeKey
}

// FetchVertices is FETCH PROP ON t1, t2 vid, ... [YIELD ...]; Tags is
// []string{"*"} for FETCH PROP ON *.
type FetchVertices struct {
	Tags  []string
	VIDs  []Expr
	Yield *Yield // nil when there is no YIELD clause
}

// FetchEdges is FETCH PROP ON e src->dst[@rank], ... [YIELD ...].
type FetchEdges struct {
	Edge  string
	Keys  []EdgeKey
	Yield *Yield // nil when there is no YIELD clause
}

// Direction is the traversal direction of GO.
type Direction int

const (
	// Out follows edges from source to destination (the default).
	Out Direction = iota
	// In follows edges backwards (REVERSELY).
	In
	// Both follows edges both ways (BIDIRECT).
	Both
)

// String returns "OUT", "IN" or "BOTH".
func (d Direction) String() string {
	switch d {
	case Out:
		return "OUT"
	case In:
		return "IN"
	case Both:
		return "BOTH"
	}
	return "Direction(" + itoa(int64(d)) + ")"
}

// Go is GO [[M TO] N STEPS] FROM vids OVER edges [REVERSELY|BIDIRECT]
// [WHERE expr] [YIELD ...].
type Go struct {
	MinSteps, MaxSteps int // both 1 by default
	From               []Expr
	Over               []string // []string{"*"} for OVER *
	Direction          Direction
	Where              Expr   // nil when there is no WHERE clause
	Yield              *Yield // nil when there is no YIELD clause
}

// Yield is a YIELD clause.
type Yield struct {
	Distinct bool
	Columns  []YieldColumn
}

// YieldColumn is one column of a YIELD clause. Text is the expression's
// source text, used as the column name when Alias is empty.
type YieldColumn struct {
	Expr  Expr
	Alias string
	Text  string
}

// Name returns the column name: the alias, or else the source text.
func (c YieldColumn) Name() string {
	if c.Alias != "" {
		return c.Alias
	}
	return c.Text
}

func (*CreateSpace) stmt()     {}
func (*DropSpace) stmt()       {}
func (*DescribeSpace) stmt()   {}
func (*ShowSpaces) stmt()      {}
func (*Use) stmt()             {}
func (*CreateSchema) stmt()    {}
func (*DropSchema) stmt()      {}
func (*DescribeSchema) stmt()  {}
func (*ShowSchemas) stmt()     {}
func (*ShowHosts) stmt()       {}
func (*ShowFingerprint) stmt() {}
func (*BalanceLeader) stmt()   {}
func (*InsertVertex) stmt()    {}
func (*InsertEdge) stmt()      {}
func (*DeleteVertex) stmt()    {}
func (*DeleteEdge) stmt()      {}
func (*FetchVertices) stmt()   {}
func (*FetchEdges) stmt()      {}
func (*Go) stmt()              {}

// PropKind tells what a Prop expression refers to.
type PropKind int

const (
	// PropPlain is owner.name, e.g. e._dst or follow.degree.
	PropPlain PropKind = iota
	// PropSrc is $^.tag.name (a property of the source vertex).
	PropSrc
	// PropDst is $$.tag.name (a property of the destination vertex).
	PropDst
)

// String returns "PLAIN", "SRC" or "DST".
func (k PropKind) String() string {
	switch k {
	case PropPlain:
		return "PLAIN"
	case PropSrc:
		return "SRC"
	case PropDst:
		return "DST"
	}
	return "PropKind(" + itoa(int64(k)) + ")"
}

// Literal is a constant: nil (NULL), bool, int64, float64 or string.
type Literal struct {
	Value any
}

// Unary is a prefix operator ("-", "+", "NOT") or a postfix null test
// ("IS NULL", "IS NOT NULL") applied to X.
type Unary struct {
	Op string
	X  Expr
}

// Binary is a binary operator: "+", "-", "*", "/", "%", "==", "!=", "<",
// "<=", ">", ">=", "AND", "OR", "XOR".
type Binary struct {
	Op   string
	L, R Expr
}

// Prop is a property reference: owner.name, $^.owner.name or $$.owner.name.
type Prop struct {
	Kind  PropKind
	Owner string
	Name  string
}

// Ident is a bare word used as a value: vertex, edge, $$, $^ or any other
// identifier. The keywords vertex and edge are lower-cased; other names keep
// their spelling.
type Ident struct {
	Name string
}

// Call is a function call; Name is lower-cased.
type Call struct {
	Name string
	Args []Expr
}

// Attr is attribute access on a computed value, e.g.
// properties(edge).degree or $^.t.p.x (a nebula-lite addition to the
// node set; evaluates X and looks Name up in the resulting map).
type Attr struct {
	X    Expr
	Name string
}

func (*Literal) expr() {}
func (*Unary) expr()   {}
func (*Binary) expr()  {}
func (*Prop) expr()    {}
func (*Ident) expr()   {}
func (*Call) expr()    {}
func (*Attr) expr()    {}
