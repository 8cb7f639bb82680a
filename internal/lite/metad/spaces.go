package metad

import (
	"strconv"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// Spaces, schema and partition placement.

// SpaceSpec is what createSpace asks for.
type SpaceSpec struct {
	Name          string
	PartitionNum  int32
	ReplicaFactor int32
	VidType       int32
	VidLen        int16
	Charset       string
	Collate       string
	Comment       string
}

const (
	propInt64       = int32(nebula.PropertyType_INT64)
	propFixedString = int32(nebula.PropertyType_FIXED_STRING)
)

// CreateSpace creates a space and spreads its parts' replicas evenly over
// the online storage hosts, in address order.
func (m *Metad) CreateSpace(spec SpaceSpec, ifNotExists bool) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sp := m.st.spaceByName(spec.Name); sp != nil {
		if ifNotExists {
			return sp.ID, nil
		}
		return 0, coded(codeExisted, "space %s already exists", spec.Name)
	}
	if spec.PartitionNum <= 0 {
		spec.PartitionNum = 10
	}
	if spec.ReplicaFactor <= 0 {
		spec.ReplicaFactor = 1
	}
	switch spec.VidType {
	case propInt64:
		spec.VidLen = 8
	case propFixedString:
		if spec.VidLen <= 0 {
			return 0, coded(codeInvalidParm, "vid_type FIXED_STRING needs a length, e.g. FIXED_STRING(32)")
		}
	default:
		return 0, coded(codeInvalidParm, "vid_type must be INT64 or FIXED_STRING(N)")
	}
	var hosts []Addr
	for _, h := range m.hostsLocked(RoleStorage) {
		if h.Online {
			hosts = append(hosts, h.Addr)
		}
	}
	if len(hosts) == 0 {
		return 0, coded(codeNoHosts, "no storage host is online: start storaged and wait for its heartbeat")
	}
	if int(spec.ReplicaFactor) > len(hosts) {
		return 0, coded(codeInvalidParm, "Replica factor greater than hosts: replica_factor = %d, %d storage hosts online", spec.ReplicaFactor, len(hosts))
	}
	id, err := m.st.allocID()
	if err != nil {
		return 0, err
	}
	if spec.Charset == "" {
		spec.Charset, spec.Collate = "utf8", "utf8_bin"
	}
	sp := &Space{
		ID: id, Name: spec.Name, PartitionNum: spec.PartitionNum, ReplicaFactor: spec.ReplicaFactor,
		VidType: spec.VidType, VidLen: spec.VidLen, Charset: spec.Charset, Collate: spec.Collate,
		Comment: spec.Comment, Parts: map[int32][]Addr{},
	}
	// Round robin: part p's replicas are the replica_factor hosts from
	// p-1 on, so every host holds as many replicas as the others, +-1.
	for p := int32(1); p <= spec.PartitionNum; p++ {
		for r := 0; r < int(spec.ReplicaFactor); r++ {
			sp.Parts[p] = append(sp.Parts[p], hosts[(int(p-1)+r)%len(hosts)])
		}
	}
	m.st.spaces[id] = sp
	return id, m.st.saveSpace(sp)
}

// DropSpace removes a space; storaged drop its files at their next refresh.
func (m *Metad) DropSpace(name string, ifExists bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp := m.st.spaceByName(name)
	if sp == nil {
		if ifExists {
			return nil
		}
		return coded(codeSpaceNotFound, "space %s not found", name)
	}
	delete(m.st.spaces, sp.ID)
	return m.st.del(spaceKey(sp.ID))
}

// Space returns a copy of a space by name or id (name wins when set).
func (m *Metad) Space(name string, id int32) (*Space, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sp *Space
	if name != "" {
		sp = m.st.spaceByName(name)
	} else {
		sp = m.st.spaces[id]
	}
	if sp == nil {
		if name == "" {
			name = "#" + itoa(id)
		}
		return nil, coded(codeSpaceNotFound, "space %s not found", name)
	}
	return cloneSpace(sp), nil
}

// Spaces returns copies of every space in id order.
func (m *Metad) Spaces() []*Space {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Space
	for _, sp := range m.st.sortedSpaces() {
		out = append(out, cloneSpace(sp))
	}
	return out
}

// CreateSchema adds a tag (edge=false) or an edge type to a space.
func (m *Metad) CreateSchema(spaceID int32, edge bool, s Schema, ifNotExists bool) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp := m.st.spaces[spaceID]
	if sp == nil {
		return 0, coded(codeSpaceNotFound, "space #%d not found", spaceID)
	}
	// Tags and edge types share one namespace in a space, as in NebulaGraph.
	for _, list := range [][]*Schema{sp.Tags, sp.Edges} {
		for _, old := range list {
			if old.Name == s.Name {
				if ifNotExists {
					return old.ID, nil
				}
				return 0, coded(codeExisted, "%s already exists in space %s", s.Name, sp.Name)
			}
		}
	}
	id, err := m.st.allocID()
	if err != nil {
		return 0, err
	}
	s.ID = id
	if edge {
		sp.Edges = append(sp.Edges, &s)
	} else {
		sp.Tags = append(sp.Tags, &s)
	}
	return id, m.st.saveSpace(sp)
}

// DropSchema removes a tag or an edge type (its data stays until rewritten).
func (m *Metad) DropSchema(spaceID int32, edge bool, name string, ifExists bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp := m.st.spaces[spaceID]
	if sp == nil {
		return coded(codeSpaceNotFound, "space #%d not found", spaceID)
	}
	list := &sp.Tags
	code := codeTagNotFound
	if edge {
		list, code = &sp.Edges, codeEdgeNotFound
	}
	for i, s := range *list {
		if s.Name == name {
			*list = append((*list)[:i], (*list)[i+1:]...)
			return m.st.saveSpace(sp)
		}
	}
	if ifExists {
		return nil
	}
	return coded(code, "%s not found in space %s", name, sp.Name)
}

func cloneSpace(sp *Space) *Space {
	c := *sp
	c.Parts = make(map[int32][]Addr, len(sp.Parts))
	for p, hosts := range sp.Parts {
		c.Parts[p] = append([]Addr(nil), hosts...)
	}
	c.Tags = cloneSchemas(sp.Tags)
	c.Edges = cloneSchemas(sp.Edges)
	return &c
}

func cloneSchemas(in []*Schema) []*Schema {
	out := make([]*Schema, len(in))
	for i, s := range in {
		c := *s
		c.Columns = append([]Column(nil), s.Columns...)
		out[i] = &c
	}
	return out
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
