package graphd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nebula-open/nebula-br/internal/lite/ngql"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

var propTypes = map[string]nebula.PropertyType{
	"INT64": nebula.PropertyType_INT64, "INT32": nebula.PropertyType_INT32, "INT16": nebula.PropertyType_INT16,
	"INT8": nebula.PropertyType_INT8, "DOUBLE": nebula.PropertyType_DOUBLE, "FLOAT": nebula.PropertyType_FLOAT,
	"BOOL": nebula.PropertyType_BOOL, "STRING": nebula.PropertyType_STRING, "FIXED_STRING": nebula.PropertyType_FIXED_STRING,
	"TIMESTAMP": nebula.PropertyType_TIMESTAMP,
}

func typeName(t nebula.PropertyType, length int16) string {
	switch t {
	case nebula.PropertyType_FIXED_STRING:
		return fmt.Sprintf("fixed_string(%d)", length)
	case nebula.PropertyType_INT64:
		return "int64"
	}
	return strings.ToLower(t.String())
}

func (s *Server) createSpace(ctx context.Context, st *ngql.CreateSpace) error {
	if st.VidType == nil {
		return semanticf("SemanticError: space vid_type must be specified explicitly, e.g. vid_type = FIXED_STRING(32)")
	}
	rf := int32(st.ReplicaFactor)
	if rf == 0 {
		rf = 1
	}
	if rf < 0 || rf > 16 {
		return semanticf("SemanticError: replica_factor %d must be in 1..16", rf)
	}
	vid := &meta.ColumnTypeDef{}
	switch st.VidType.Kind {
	case "INT64":
		vid.Type, vid.TypeLength = nebula.PropertyType_INT64, 8
	case "FIXED_STRING":
		if st.VidType.Len <= 0 || st.VidType.Len > 1024 {
			return semanticf("SemanticError: FIXED_STRING length %d must be in 1..1024", st.VidType.Len)
		}
		vid.Type, vid.TypeLength = nebula.PropertyType_FIXED_STRING, int16(st.VidType.Len)
	default:
		return semanticf("SemanticError: vid_type must be INT64 or FIXED_STRING(N), not %s", st.VidType)
	}
	parts := int32(st.PartitionNum)
	if parts == 0 {
		parts = 10
	}
	if parts < 0 || parts > 1024 {
		return semanticf("SemanticError: partition_num %d must be in 1..1024", parts)
	}
	_, err := s.meta.CreateSpace(ctx, &meta.SpaceDesc{
		SpaceName: []byte(st.Name), PartitionNum: parts, ReplicaFactor: rf, VidType: vid,
		CharsetName: []byte("utf8"), CollateName: []byte("utf8_bin"), Comment: []byte(st.Comment),
	}, st.IfNotExists)
	s.catalog.invalidate(st.Name)
	switch {
	case client.IsCode(err, nebula.ErrorCode_E_EXISTED):
		return execf("Existed: space %s already exists", st.Name)
	case client.IsCode(err, nebula.ErrorCode_E_INVALID_PARM) && rf > 1:
		return execf("Invalid param: Replica factor greater than hosts: replica_factor = %d is more than the online storage hosts", rf)
	case client.IsCode(err, nebula.ErrorCode_E_NO_HOSTS):
		return execf("NoHosts: no storage host is online; start storaged and wait for its heartbeat")
	}
	return err
}

func (s *Server) describeSpace(ctx context.Context, name string) (*nebula.DataSet, error) {
	sp, err := s.catalog.space(ctx, name)
	if err != nil {
		return nil, err
	}
	d := sp.desc
	cols := []string{"ID", "Name", "Partition Number", "Replica Factor", "Charset", "Collate", "Vid Type", "Atomic Edge", "Group", "Comment"}
	return dataset(cols, [][]any{{int64(sp.id), sp.name, int64(d.PartitionNum), int64(d.ReplicaFactor), string(d.CharsetName),
		string(d.CollateName), strings.ToUpper(typeName(d.VidType.GetType(), d.VidType.GetTypeLength())), false, "default", string(d.Comment)}}), nil
}

func (s *Server) showSpaces(ctx context.Context) (*nebula.DataSet, error) {
	list, err := s.meta.ListSpaces(ctx)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	for _, sp := range list {
		rows = append(rows, []any{string(sp.Name)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0].(string) < rows[j][0].(string) })
	return dataset([]string{"Name"}, rows), nil
}

func (s *Server) showHosts(ctx context.Context, role string) (*nebula.DataSet, error) {
	typ := meta.ListHostType_STORAGE
	switch role {
	case "GRAPH":
		typ = meta.ListHostType_GRAPH
	case "META":
		typ = meta.ListHostType_META
	}
	hosts, err := s.meta.ListHosts(ctx, typ)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	for _, h := range hosts {
		status := "OFFLINE"
		if h.Status == meta.HostStatus_ONLINE {
			status = "ONLINE"
		}
		if role != "" {
			rows = append(rows, []any{h.HostAddr.Host, int64(h.HostAddr.Port), status, "nebula-lite", string(h.Version)})
			continue
		}
		leaders, leaderDist := distribution(h.LeaderParts)
		_, partDist := distribution(h.AllParts)
		rows = append(rows, []any{h.HostAddr.Host, int64(h.HostAddr.Port), status, int64(leaders), leaderDist, partDist, string(h.Version)})
	}
	if role != "" {
		return dataset([]string{"Host", "Port", "Status", "Git Info Sha", "Version"}, rows), nil
	}
	return dataset([]string{"Host", "Port", "Status", "Leader count", "Leader distribution", "Partition distribution", "Version"}, rows), nil
}

func (s *Server) createSchema(ctx context.Context, sp *space, st *ngql.CreateSchema) error {
	ms := &meta.Schema{Columns: []*meta.ColumnDef{}, SchemaProp: &meta.SchemaProp{Comment: []byte(st.Comment)}}
	seen := map[string]bool{}
	for _, p := range st.Props {
		if seen[p.Name] {
			return semanticf("SemanticError: duplicate property `%s' in %s", p.Name, st.Name)
		}
		seen[p.Name] = true
		typ, ok := propTypes[p.Type.Kind]
		if !ok {
			return semanticf("SemanticError: property type %s is not supported by nebula-lite", p.Type)
		}
		col := &meta.ColumnDef{Name: []byte(p.Name), Type: &meta.ColumnTypeDef{Type: typ, TypeLength: int16(p.Type.Len)}, Nullable: p.Nullable, Comment: []byte(p.Comment)}
		if p.Default != nil {
			v, err := ngql.Eval(p.Default, noEnv{})
			if err != nil {
				return semanticf("SemanticError: default of `%s': %v", p.Name, err)
			}
			c := column{name: p.Name, typ: typ, length: int16(p.Type.Len), nullable: p.Nullable}
			if v, err = c.check(v); err != nil {
				return err
			}
			if col.DefaultValue, err = encodeRow([]any{v}); err != nil {
				return err
			}
		}
		ms.Columns = append(ms.Columns, col)
	}
	var err error
	if st.IsEdge {
		_, err = s.meta.CreateEdge(ctx, nebula.GraphSpaceID(sp.id), st.Name, ms, st.IfNotExists)
	} else {
		_, err = s.meta.CreateTag(ctx, nebula.GraphSpaceID(sp.id), st.Name, ms, st.IfNotExists)
	}
	s.catalog.invalidate(sp.name)
	if client.IsCode(err, nebula.ErrorCode_E_EXISTED) {
		return execf("Existed: %s already exists in space %s", st.Name, sp.name)
	}
	return err
}

func (s *Server) dropSchema(ctx context.Context, sp *space, st *ngql.DropSchema) error {
	var err error
	if st.IsEdge {
		err = s.meta.DropEdge(ctx, nebula.GraphSpaceID(sp.id), st.Name, st.IfExists)
	} else {
		err = s.meta.DropTag(ctx, nebula.GraphSpaceID(sp.id), st.Name, st.IfExists)
	}
	s.catalog.invalidate(sp.name)
	if client.IsCode(err, nebula.ErrorCode_E_TAG_NOT_FOUND) || client.IsCode(err, nebula.ErrorCode_E_EDGE_NOT_FOUND) {
		return execf("%s `%s' not found in space %s", map[bool]string{false: "Tag", true: "Edge"}[st.IsEdge], st.Name, sp.name)
	}
	return err
}

func describeSchema(sp *space, st *ngql.DescribeSchema) (*nebula.DataSet, error) {
	sc, err := sp.schema(st.Name, st.IsEdge)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	for _, c := range sc.cols {
		null := "YES"
		if !c.nullable {
			null = "NO"
		}
		var def any = ""
		if c.hasDef {
			def = c.def
		}
		rows = append(rows, []any{c.name, typeName(c.typ, c.length), null, def, c.comment})
	}
	return dataset([]string{"Field", "Type", "Null", "Default", "Comment"}, rows), nil
}

func showSchemas(sp *space, edge bool) *nebula.DataSet {
	var rows [][]any
	for _, s := range sp.order {
		if s.isEdge == edge {
			rows = append(rows, []any{s.name})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0].(string) < rows[j][0].(string) })
	return dataset([]string{"Name"}, rows)
}

func (sp *space) schema(name string, edge bool) (*schema, error) {
	if edge {
		if s := sp.edges[name]; s != nil {
			return s, nil
		}
		return nil, semanticf("SemanticError: No schema found for edge `%s' in space %s", name, sp.name)
	}
	if s := sp.tags[name]; s != nil {
		return s, nil
	}
	return nil, semanticf("SemanticError: No schema found for tag `%s' in space %s", name, sp.name)
}

// check converts a value to the column's type or explains why it can't.
func (c column) check(v any) (any, error) {
	if v == nil {
		if !c.nullable {
			return nil, semanticf("SemanticError: property `%s' is NOT NULL", c.name)
		}
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, semanticf("SemanticError: property `%s' is %s, got %s", c.name, typeName(c.typ, c.length), describe(v))
	}
	switch c.typ {
	case nebula.PropertyType_INT64, nebula.PropertyType_TIMESTAMP:
		if _, ok := v.(int64); !ok {
			return bad()
		}
	case nebula.PropertyType_INT32, nebula.PropertyType_INT16, nebula.PropertyType_INT8:
		i, ok := v.(int64)
		if !ok {
			return bad()
		}
		bits := map[nebula.PropertyType]uint{nebula.PropertyType_INT32: 32, nebula.PropertyType_INT16: 16, nebula.PropertyType_INT8: 8}[c.typ]
		if i < -(1<<(bits-1)) || i >= 1<<(bits-1) {
			return nil, semanticf("SemanticError: property `%s' is %s, %d is out of range", c.name, typeName(c.typ, c.length), i)
		}
	case nebula.PropertyType_DOUBLE, nebula.PropertyType_FLOAT:
		switch x := v.(type) {
		case float64:
		case int64:
			return float64(x), nil
		default:
			return bad()
		}
	case nebula.PropertyType_BOOL:
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case nebula.PropertyType_STRING:
		if _, ok := v.(string); !ok {
			return bad()
		}
	case nebula.PropertyType_FIXED_STRING:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		if len(s) > int(c.length) {
			return s[:c.length], nil // NebulaGraph truncates
		}
	default:
		return bad()
	}
	return v, nil
}

// noEnv evaluates constant expressions.
type noEnv struct{}

func (noEnv) Prop(kind ngql.PropKind, owner, name string) (any, error) {
	return nil, semanticf("SemanticError: `%s.%s' is not allowed here", owner, name)
}
func (noEnv) Ident(name string) (any, error) {
	return nil, semanticf("SemanticError: `%s' is not allowed here", name)
}
func (noEnv) Call(name string, args []any) (any, bool, error) { return nil, false, nil }

// distribution renders SHOW HOSTS' "space:count, ..." column and the total.
func distribution(parts map[string][]nebula.PartitionID) (int, string) {
	var names []string
	total := 0
	for sp, ps := range parts {
		names = append(names, fmt.Sprintf("%s:%d", sp, len(ps)))
		total += len(ps)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return 0, "No valid partition"
	}
	return total, strings.Join(names, ", ")
}
