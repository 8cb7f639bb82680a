package metad

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// Handler serves MetaService over thrift on top of Metad.
type Handler struct{ m *Metad }

// NewHandler wraps m.
func NewHandler(m *Metad) *Handler { return &Handler{m: m} }

var _ meta.MetaService = (*Handler)(nil)

// codeOf turns an error into the code the response carries, logging
// what the code alone cannot say (meta responses have no message field).
func (h *Handler) codeOf(method string, err error) nebula.ErrorCode {
	if err == nil {
		return nebula.ErrorCode_SUCCEEDED
	}
	var c *Coded
	if errors.As(err, &c) {
		h.m.log.Warn(method+" refused", "code", c.Code.String(), "why", c.Msg)
		return c.Code
	}
	h.m.log.Error(method+" failed", "err", err)
	return nebula.ErrorCode_E_UNKNOWN
}

func (h *Handler) leader() *nebula.HostAddr { return toHostAddr(h.m.cfg.Addr) }

func toHostAddr(a Addr) *nebula.HostAddr {
	return &nebula.HostAddr{Host: a.Host, Port: nebula.Port(a.Port)}
}
func fromHostAddr(a *nebula.HostAddr) Addr {
	if a == nil {
		return Addr{}
	}
	return Addr{Host: a.Host, Port: int32(a.Port)}
}

func (h *Handler) VerifyClientVersion(ctx context.Context, req *meta.VerifyClientVersionReq) (*meta.VerifyClientVersionResp, error) {
	resp := &meta.VerifyClientVersionResp{Code: nebula.ErrorCode_SUCCEEDED, Leader: h.leader()}
	if v := string(req.ClientVersion); !strings.HasPrefix(v, "3.") {
		resp.Code = nebula.ErrorCode_E_CLIENT_SERVER_INCOMPATIBLE
		resp.ErrorMsg = []byte(fmt.Sprintf("client version %q is not supported: nebula-lite speaks NebulaGraph 3.x", v))
	}
	return resp, nil
}

func (h *Handler) LeaderBalance(ctx context.Context, req *meta.LeaderBalanceReq) (*meta.ExecResp, error) {
	err := h.m.LeaderBalance(ctx)
	return &meta.ExecResp{Code: h.codeOf("leaderBalance", err), Leader: h.leader()}, nil
}

func (h *Handler) HeartBeat(ctx context.Context, req *meta.HBReq) (*meta.HBResp, error) {
	host := &Host{Addr: fromHostAddr(req.Host), Role: int32(req.Role), Version: string(req.Version)}
	if req.Dir != nil {
		host.Root = string(req.Dir.Root)
		for _, d := range req.Dir.Data {
			host.Data = append(host.Data, string(d))
		}
	}
	cid, err := h.m.Heartbeat(host, int64(req.ClusterID))
	if err == nil && req.Role == meta.HostRole_STORAGE && req.LeaderPartIds != nil {
		leaders := map[int32][]int32{}
		for sp, infos := range req.LeaderPartIds {
			for _, li := range infos {
				leaders[int32(sp)] = append(leaders[int32(sp)], int32(li.PartID))
			}
		}
		h.m.SetLeaders(host.Addr, leaders)
	}
	return &meta.HBResp{Code: h.codeOf("heartBeat", err), Leader: h.leader(), ClusterID: meta.ClusterID(cid)}, nil
}

func (h *Handler) AgentHeartbeat(ctx context.Context, req *meta.AgentHBReq) (*meta.AgentHBResp, error) {
	agent := &Host{Addr: fromHostAddr(req.Host), Role: RoleAgent, Version: string(req.Version)}
	_, err := h.m.Heartbeat(agent, 0)
	resp := &meta.AgentHBResp{Code: h.codeOf("agentHeartbeat", err), Leader: h.leader(), ServiceList: []*meta.ServiceInfo{}}
	if err == nil {
		for _, s := range h.m.ServicesOn(agent.Addr.Host) {
			resp.ServiceList = append(resp.ServiceList, serviceInfo(s))
		}
	}
	return resp, nil
}

func serviceInfo(s HostStatus) *meta.ServiceInfo {
	dir := &nebula.DirInfo{Root: []byte(s.Root), Data: [][]byte{}}
	for _, d := range s.Data {
		dir.Data = append(dir.Data, []byte(d))
	}
	return &meta.ServiceInfo{Dir: dir, Addr: toHostAddr(s.Addr), Role: meta.HostRole(s.Role)}
}

func (h *Handler) ListCluster(ctx context.Context, req *meta.ListClusterInfoReq) (*meta.ListClusterInfoResp, error) {
	cluster, err := h.m.Cluster()
	resp := &meta.ListClusterInfoResp{Code: h.codeOf("listCluster", err), Leader: h.leader(), HostServices: map[string][]*meta.ServiceInfo{}}
	for host, svcs := range cluster {
		for _, s := range svcs {
			resp.HostServices[host] = append(resp.HostServices[host], serviceInfo(s))
		}
	}
	return resp, nil
}

func (h *Handler) GetMetaDirInfo(ctx context.Context, req *meta.GetMetaDirInfoReq) (*meta.GetMetaDirInfoResp, error) {
	root, data := h.m.DirInfo()
	dir := &nebula.DirInfo{Root: []byte(root)}
	for _, d := range data {
		dir.Data = append(dir.Data, []byte(d))
	}
	return &meta.GetMetaDirInfoResp{Code: nebula.ErrorCode_SUCCEEDED, Dir: dir}, nil
}

func (h *Handler) ListHosts(ctx context.Context, req *meta.ListHostsReq) (*meta.ListHostsResp, error) {
	role := int32(-1)
	switch req.Type {
	case meta.ListHostType_ALLOC, meta.ListHostType_STORAGE:
		role = RoleStorage
	case meta.ListHostType_GRAPH:
		role = RoleGraph
	case meta.ListHostType_META:
		role = RoleMeta
	case meta.ListHostType_AGENT:
		role = RoleAgent
	}
	resp := &meta.ListHostsResp{Code: nebula.ErrorCode_SUCCEEDED, Leader: h.leader(), Hosts: []*meta.HostItem{}}
	parts := map[Addr]map[string][]nebula.PartitionID{}
	leading := map[Addr]map[string][]nebula.PartitionID{}
	add := func(m map[Addr]map[string][]nebula.PartitionID, a Addr, space string, p int32) {
		if m[a] == nil {
			m[a] = map[string][]nebula.PartitionID{}
		}
		m[a][space] = append(m[a][space], nebula.PartitionID(p))
	}
	leaders := h.m.Leaders()
	for _, sp := range h.m.Spaces() {
		for p := int32(1); p <= sp.PartitionNum; p++ {
			for _, a := range sp.Parts[p] {
				add(parts, a, sp.Name, p)
			}
			if a, ok := leaders[sp.ID][p]; ok {
				add(leading, a, sp.Name, p)
			}
		}
	}
	for _, hs := range h.m.Hosts(role) {
		status := meta.HostStatus_OFFLINE
		if hs.Online {
			status = meta.HostStatus_ONLINE
		}
		all, led := parts[hs.Addr], leading[hs.Addr]
		if all == nil {
			all = map[string][]nebula.PartitionID{}
		}
		if led == nil {
			led = map[string][]nebula.PartitionID{}
		}
		resp.Hosts = append(resp.Hosts, &meta.HostItem{
			HostAddr: toHostAddr(hs.Addr), Status: status, Role: meta.HostRole(hs.Role),
			LeaderParts: led, AllParts: all, Version: []byte(hs.Version), GitInfoSha: []byte("nebula-lite"),
		})
	}
	return resp, nil
}

// Spaces and schema.

func (h *Handler) CreateSpace(ctx context.Context, req *meta.CreateSpaceReq) (*meta.ExecResp, error) {
	d := req.Properties
	if d == nil {
		return &meta.ExecResp{Code: nebula.ErrorCode_E_INVALID_PARM, Leader: h.leader()}, nil
	}
	spec := SpaceSpec{
		Name: string(d.SpaceName), PartitionNum: d.PartitionNum, ReplicaFactor: d.ReplicaFactor,
		Charset: string(d.CharsetName), Collate: string(d.CollateName), Comment: string(d.Comment),
		VidType: propFixedString, VidLen: 8, // NebulaGraph's default vid type
	}
	if d.VidType != nil {
		spec.VidType, spec.VidLen = int32(d.VidType.Type), d.VidType.TypeLength
	}
	id, err := h.m.CreateSpace(spec, req.IfNotExists)
	sid := nebula.GraphSpaceID(id)
	return h.execResp("createSpace", err, &meta.ID{SpaceID: &sid}), nil
}

func (h *Handler) execResp(method string, err error, id *meta.ID) *meta.ExecResp {
	resp := &meta.ExecResp{Code: h.codeOf(method, err), Leader: h.leader(), ID: id}
	if err != nil {
		resp.ID = &meta.ID{}
	}
	return resp
}

func (h *Handler) DropSpace(ctx context.Context, req *meta.DropSpaceReq) (*meta.ExecResp, error) {
	return h.execResp("dropSpace", h.m.DropSpace(string(req.SpaceName), req.IfExists), &meta.ID{}), nil
}

// SpaceDesc renders a space as the IDL describes it.
func SpaceDesc(sp *Space) *meta.SpaceDesc {
	return &meta.SpaceDesc{
		SpaceName: []byte(sp.Name), PartitionNum: sp.PartitionNum, ReplicaFactor: sp.ReplicaFactor,
		CharsetName: []byte(sp.Charset), CollateName: []byte(sp.Collate),
		VidType:   &meta.ColumnTypeDef{Type: nebula.PropertyType(sp.VidType), TypeLength: sp.VidLen},
		ZoneNames: [][]byte{}, Comment: []byte(sp.Comment),
	}
}

func (h *Handler) GetSpace(ctx context.Context, req *meta.GetSpaceReq) (*meta.GetSpaceResp, error) {
	sp, err := h.m.Space(string(req.SpaceName), 0)
	resp := &meta.GetSpaceResp{Code: h.codeOf("getSpace", err), Leader: h.leader()}
	if err == nil {
		resp.Item = &meta.SpaceItem{SpaceID: nebula.GraphSpaceID(sp.ID), Properties: SpaceDesc(sp)}
	}
	return resp, nil
}

func (h *Handler) ListSpaces(ctx context.Context, req *meta.ListSpacesReq) (*meta.ListSpacesResp, error) {
	resp := &meta.ListSpacesResp{Code: nebula.ErrorCode_SUCCEEDED, Leader: h.leader(), Spaces: []*meta.IdName{}}
	for _, sp := range h.m.Spaces() {
		id := sp.ID
		sid := nebula.GraphSpaceID(id)
		resp.Spaces = append(resp.Spaces, &meta.IdName{ID: &meta.ID{SpaceID: &sid}, Name: []byte(sp.Name)})
	}
	return resp, nil
}

func toSchema(s *meta.Schema, name string) Schema {
	out := Schema{Name: name}
	if s == nil {
		return out
	}
	if s.SchemaProp != nil {
		out.Comment = string(s.SchemaProp.Comment)
	}
	for _, c := range s.Columns {
		col := Column{Name: string(c.Name), Nullable: c.Nullable, Default: c.DefaultValue, Comment: string(c.Comment)}
		if c.Type != nil {
			col.Type, col.Len = int32(c.Type.Type), c.Type.TypeLength
		}
		out.Columns = append(out.Columns, col)
	}
	return out
}

// ThriftSchema renders a schema as the IDL describes it.
func ThriftSchema(s *Schema) *meta.Schema {
	out := &meta.Schema{Columns: []*meta.ColumnDef{}, SchemaProp: &meta.SchemaProp{Comment: []byte(s.Comment)}}
	for _, c := range s.Columns {
		out.Columns = append(out.Columns, &meta.ColumnDef{
			Name: []byte(c.Name), Type: &meta.ColumnTypeDef{Type: nebula.PropertyType(c.Type), TypeLength: c.Len},
			DefaultValue: c.Default, Nullable: c.Nullable, Comment: []byte(c.Comment),
		})
	}
	return out
}

func (h *Handler) CreateTag(ctx context.Context, req *meta.CreateTagReq) (*meta.ExecResp, error) {
	id, err := h.m.CreateSchema(int32(req.SpaceID), false, toSchema(req.Schema, string(req.TagName)), req.IfNotExists)
	tid := nebula.TagID(id)
	return h.execResp("createTag", err, &meta.ID{TagID: &tid}), nil
}

func (h *Handler) CreateEdge(ctx context.Context, req *meta.CreateEdgeReq) (*meta.ExecResp, error) {
	id, err := h.m.CreateSchema(int32(req.SpaceID), true, toSchema(req.Schema, string(req.EdgeName)), req.IfNotExists)
	et := nebula.EdgeType(id)
	return h.execResp("createEdge", err, &meta.ID{EdgeType: &et}), nil
}

func (h *Handler) DropTag(ctx context.Context, req *meta.DropTagReq) (*meta.ExecResp, error) {
	return h.execResp("dropTag", h.m.DropSchema(int32(req.SpaceID), false, string(req.TagName), req.IfExists), &meta.ID{}), nil
}

func (h *Handler) DropEdge(ctx context.Context, req *meta.DropEdgeReq) (*meta.ExecResp, error) {
	return h.execResp("dropEdge", h.m.DropSchema(int32(req.SpaceID), true, string(req.EdgeName), req.IfExists), &meta.ID{}), nil
}

func (h *Handler) findSchema(spaceID int32, edge bool, name string) (*Schema, error) {
	sp, err := h.m.Space("", spaceID)
	if err != nil {
		return nil, err
	}
	list, code := sp.Tags, codeTagNotFound
	if edge {
		list, code = sp.Edges, codeEdgeNotFound
	}
	for _, s := range list {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, coded(code, "%s not found in space %s", name, sp.Name)
}

func (h *Handler) GetTag(ctx context.Context, req *meta.GetTagReq) (*meta.GetTagResp, error) {
	s, err := h.findSchema(int32(req.SpaceID), false, string(req.TagName))
	resp := &meta.GetTagResp{Code: h.codeOf("getTag", err), Leader: h.leader()}
	if err == nil {
		resp.Schema = ThriftSchema(s)
	}
	return resp, nil
}

func (h *Handler) GetEdge(ctx context.Context, req *meta.GetEdgeReq) (*meta.GetEdgeResp, error) {
	s, err := h.findSchema(int32(req.SpaceID), true, string(req.EdgeName))
	resp := &meta.GetEdgeResp{Code: h.codeOf("getEdge", err), Leader: h.leader()}
	if err == nil {
		resp.Schema = ThriftSchema(s)
	}
	return resp, nil
}

func (h *Handler) ListTags(ctx context.Context, req *meta.ListTagsReq) (*meta.ListTagsResp, error) {
	sp, err := h.m.Space("", int32(req.SpaceID))
	resp := &meta.ListTagsResp{Code: h.codeOf("listTags", err), Leader: h.leader(), Tags: []*meta.TagItem{}}
	if err == nil {
		for _, s := range sp.Tags {
			resp.Tags = append(resp.Tags, &meta.TagItem{TagID: nebula.TagID(s.ID), TagName: []byte(s.Name), Schema: ThriftSchema(s)})
		}
	}
	return resp, nil
}

func (h *Handler) ListEdges(ctx context.Context, req *meta.ListEdgesReq) (*meta.ListEdgesResp, error) {
	sp, err := h.m.Space("", int32(req.SpaceID))
	resp := &meta.ListEdgesResp{Code: h.codeOf("listEdges", err), Leader: h.leader(), Edges: []*meta.EdgeItem{}}
	if err == nil {
		for _, s := range sp.Edges {
			resp.Edges = append(resp.Edges, &meta.EdgeItem{EdgeType: nebula.EdgeType(s.ID), EdgeName: []byte(s.Name), Schema: ThriftSchema(s)})
		}
	}
	return resp, nil
}

func (h *Handler) GetPartsAlloc(ctx context.Context, req *meta.GetPartsAllocReq) (*meta.GetPartsAllocResp, error) {
	sp, err := h.m.Space("", int32(req.SpaceID))
	resp := &meta.GetPartsAllocResp{Code: h.codeOf("getPartsAlloc", err), Leader: h.leader(),
		Parts: map[nebula.PartitionID][]*nebula.HostAddr{}, Terms: map[nebula.PartitionID]int64{}}
	if err == nil {
		for p, hosts := range sp.Parts {
			for _, a := range hosts {
				resp.Parts[nebula.PartitionID(p)] = append(resp.Parts[nebula.PartitionID(p)], toHostAddr(a))
			}
			resp.Terms[nebula.PartitionID(p)] = 1
		}
	}
	return resp, nil
}

func (h *Handler) ListParts(ctx context.Context, req *meta.ListPartsReq) (*meta.ListPartsResp, error) {
	sp, err := h.m.Space("", int32(req.SpaceID))
	resp := &meta.ListPartsResp{Code: h.codeOf("listParts", err), Leader: h.leader(), Parts: []*meta.PartItem{}}
	if err != nil {
		return resp, nil
	}
	ids := req.PartIds
	if len(ids) == 0 {
		for p := int32(1); p <= sp.PartitionNum; p++ {
			ids = append(ids, nebula.PartitionID(p))
		}
	}
	for _, p := range ids {
		item := &meta.PartItem{PartID: p, Peers: []*nebula.HostAddr{}, Losts: []*nebula.HostAddr{}}
		for i, a := range sp.Parts[int32(p)] {
			if i == 0 {
				item.Leader = toHostAddr(a)
			}
			item.Peers = append(item.Peers, toHostAddr(a))
		}
		resp.Parts = append(resp.Parts, item)
	}
	return resp, nil
}

// Backup and restore.

func (h *Handler) CreateBackup(ctx context.Context, req *meta.CreateBackupReq) (*meta.CreateBackupResp, error) {
	var spaces []string
	for _, s := range req.Spaces {
		spaces = append(spaces, string(s))
	}
	var cid int64
	if req.ClusterID != nil {
		cid = int64(*req.ClusterID)
	}
	bm, err := h.m.CreateBackup(ctx, spaces, string(req.BaseBackupName), cid)
	resp := &meta.CreateBackupResp{Code: h.codeOf("createBackup", err), Leader: h.leader()}
	if err == nil {
		resp.Meta = ThriftBackupMeta(bm)
	}
	return resp, nil
}

// ThriftBackupMeta renders a BackupMeta as the IDL describes it.
func ThriftBackupMeta(bm *BackupMeta) *meta.BackupMeta {
	out := &meta.BackupMeta{
		SpaceBackups: map[nebula.GraphSpaceID]*meta.SpaceBackupInfo{},
		BackupName:   []byte(bm.Name), Full: bm.Full, AllSpaces: bm.AllSpaces, CreateTime: bm.CreateTime,
		BaseBackupName: []byte(bm.Base), ClusterID: meta.ClusterID(bm.ClusterID),
		MetaFiles: [][]byte{}, StorageHosts: []*nebula.HostAddr{},
	}
	for _, f := range bm.MetaFiles {
		out.MetaFiles = append(out.MetaFiles, []byte(f))
	}
	for _, a := range bm.StorageHosts {
		out.StorageHosts = append(out.StorageHosts, toHostAddr(a))
	}
	for id, sb := range bm.Spaces {
		info := &meta.SpaceBackupInfo{Space: SpaceDesc(sb.Space), HostBackups: []*meta.HostBackupInfo{}}
		for _, hb := range sb.Hosts {
			hbi := &meta.HostBackupInfo{Host: toHostAddr(hb.Host)}
			for _, cp := range hb.Checkpoints {
				ci := &nebula.CheckpointInfo{SpaceID: nebula.GraphSpaceID(cp.SpaceID), DataPath: []byte(cp.DataPath), Parts: map[nebula.PartitionID]*nebula.LogInfo{}}
				for p, li := range cp.Parts {
					ci.Parts[nebula.PartitionID(p)] = &nebula.LogInfo{LogID: nebula.LogID(li.LogID), TermID: nebula.TermID(li.TermID), CommitLogID: nebula.LogID(li.CommitLogID), CheckpointPath: []byte(li.CheckpointPath)}
				}
				hbi.Checkpoints = append(hbi.Checkpoints, ci)
			}
			info.HostBackups = append(info.HostBackups, hbi)
		}
		out.SpaceBackups[nebula.GraphSpaceID(id)] = info
	}
	return out
}

func (h *Handler) DropSnapshot(ctx context.Context, req *meta.DropSnapshotReq) (*meta.ExecResp, error) {
	var names []string
	for _, n := range req.Names {
		names = append(names, string(n))
	}
	return h.execResp("dropSnapshot", h.m.DropSnapshots(ctx, names), &meta.ID{}), nil
}

func (h *Handler) ListSnapshots(ctx context.Context, req *meta.ListSnapshotsReq) (*meta.ListSnapshotsResp, error) {
	resp := &meta.ListSnapshotsResp{Code: nebula.ErrorCode_SUCCEEDED, Leader: h.leader(), Snapshots: []*meta.Snapshot{}}
	for _, s := range h.m.Snapshots() {
		var hosts []string
		for _, a := range s.Hosts {
			hosts = append(hosts, a.String())
		}
		resp.Snapshots = append(resp.Snapshots, &meta.Snapshot{Name: []byte(s.Name), Status: meta.SnapshotStatus(s.Status), Hosts: []byte(strings.Join(hosts, ","))})
	}
	return resp, nil
}

func (h *Handler) RestoreMeta(ctx context.Context, req *meta.RestoreMetaReq) (*meta.RestoreMetaResp, error) {
	var files []string
	for _, f := range req.Files {
		files = append(files, string(f))
	}
	var pairs []HostPair
	for _, p := range req.Hosts {
		pairs = append(pairs, HostPair{From: fromHostAddr(p.FromHost), To: fromHostAddr(p.ToHost)})
	}
	given := map[int32]map[int32][]Addr{}
	for space, parts := range req.Placement {
		given[int32(space)] = map[int32][]Addr{}
		for _, pi := range parts {
			for _, a := range pi.Hosts {
				given[int32(space)][int32(pi.PartID)] = append(given[int32(space)][int32(pi.PartID)], fromHostAddr(a))
			}
		}
	}
	placement, err := h.m.RestoreMeta(files, pairs, given)
	resp := &meta.RestoreMetaResp{Code: h.codeOf("restoreMeta", err), Leader: h.leader(), PartHosts: map[nebula.GraphSpaceID][]*meta.PartInfo{}}
	for space, parts := range placement {
		for p := int32(1); p <= int32(len(parts)); p++ {
			info := &meta.PartInfo{PartID: nebula.PartitionID(p)}
			for _, a := range parts[p] {
				info.Hosts = append(info.Hosts, toHostAddr(a))
			}
			resp.PartHosts[nebula.GraphSpaceID(space)] = append(resp.PartHosts[nebula.GraphSpaceID(space)], info)
		}
	}
	return resp, nil
}
