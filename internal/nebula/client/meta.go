package client

import (
	"context"
	"net"
	"strconv"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// ClientVersion is what we announce in verifyClientVersion; NebulaGraph 3.x
// servers accept "3.0.0".
const ClientVersion = nebula.Version

// MetaClient talks to one metad. It is safe for concurrent use; calls are
// serialized on a single connection.
type MetaClient struct {
	s *session
}

// NewMetaClient connects to the metad at addr and verifies our client
// version; a refusal is returned as a *CodeError.
func NewMetaClient(addr string, opts Options) (*MetaClient, error) {
	m := &MetaClient{s: newSession("meta", addr, opts, verifyMetaVersion)}
	ctx, cancel := context.WithTimeout(context.Background(), m.s.opts.ConnectTimeout+m.s.opts.RequestTimeout)
	defer cancel()
	if err := m.s.connect(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func verifyMetaVersion(ctx context.Context, c *Conn) error {
	req := meta.NewVerifyClientVersionReq()
	req.ClientVersion = []byte(ClientVersion)
	req.Host = localHostAddr(c)
	resp, err := meta.NewMetaServiceClient(c).VerifyClientVersion(ctx, req)
	if err != nil {
		return err
	}
	return checkCode("meta", "verifyClientVersion", resp.Code, resp.ErrorMsg, resp.Leader)
}

func localHostAddr(c *Conn) *nebula.HostAddr {
	host, port, err := net.SplitHostPort(c.LocalAddr().String())
	if err != nil {
		return nebula.NewHostAddr()
	}
	p, _ := strconv.Atoi(port)
	return &nebula.HostAddr{Host: host, Port: nebula.Port(p)}
}

// Addr is the metad address.
func (m *MetaClient) Addr() string { return m.s.addr }

// Close closes the connection; later calls fail.
func (m *MetaClient) Close() error { return m.s.close() }

// do runs one MetaService call.
func (m *MetaClient) do(ctx context.Context, method string, fn func(context.Context, *meta.MetaServiceClient) error) error {
	return m.s.call(ctx, method, func(ctx context.Context, c *Conn) error {
		return fn(ctx, meta.NewMetaServiceClient(c))
	})
}

func (m *MetaClient) check(method string, code nebula.ErrorCode, leader *nebula.HostAddr) error {
	return checkCode("meta", method, code, nil, leader)
}

// ListHosts lists hosts of one kind (meta.ListHostType_STORAGE, ...).
func (m *MetaClient) ListHosts(ctx context.Context, typ meta.ListHostType) ([]*meta.HostItem, error) {
	var resp *meta.ListHostsResp
	err := m.do(ctx, "listHosts", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.ListHosts(ctx, &meta.ListHostsReq{Type: typ})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("listHosts", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Hosts, nil
}

// ListCluster returns the services on every host, keyed by host. metad's
// listCluster takes no filter; if roles are given, only services with those
// roles are kept (hosts left empty are dropped).
func (m *MetaClient) ListCluster(ctx context.Context, roles ...meta.HostRole) (map[string][]*meta.ServiceInfo, error) {
	var resp *meta.ListClusterInfoResp
	err := m.do(ctx, "listCluster", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.ListCluster(ctx, meta.NewListClusterInfoReq())
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("listCluster", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return resp.HostServices, nil
	}
	out := make(map[string][]*meta.ServiceInfo)
	for host, svcs := range resp.HostServices {
		for _, s := range svcs {
			for _, r := range roles {
				if s.Role == r {
					out[host] = append(out[host], s)
					break
				}
			}
		}
	}
	return out, nil
}

// GetMetaDirInfo returns metad's root and data directories.
func (m *MetaClient) GetMetaDirInfo(ctx context.Context) (*nebula.DirInfo, error) {
	var resp *meta.GetMetaDirInfoResp
	err := m.do(ctx, "getMetaDirInfo", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.GetMetaDirInfo(ctx, meta.NewGetMetaDirInfoReq())
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("getMetaDirInfo", resp.Code, nil); err != nil {
		return nil, err
	}
	return resp.Dir, nil
}

// HeartBeat sends a storaged/graphd heartbeat.
func (m *MetaClient) HeartBeat(ctx context.Context, req *meta.HBReq) (*meta.HBResp, error) {
	var resp *meta.HBResp
	err := m.do(ctx, "heartBeat", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.HeartBeat(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("heartBeat", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp, nil
}

// AgentHeartbeat sends an agent heartbeat; the reply lists the services on
// the agent's host.
func (m *MetaClient) AgentHeartbeat(ctx context.Context, req *meta.AgentHBReq) (*meta.AgentHBResp, error) {
	var resp *meta.AgentHBResp
	err := m.do(ctx, "agentHeartbeat", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.AgentHeartbeat(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("agentHeartbeat", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp, nil
}

// exec runs a call answered by ExecResp and returns its id.
func (m *MetaClient) exec(ctx context.Context, method string, fn func(context.Context, *meta.MetaServiceClient) (*meta.ExecResp, error)) (*meta.ID, error) {
	var resp *meta.ExecResp
	err := m.do(ctx, method, func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = fn(ctx, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check(method, resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	if resp.ID == nil {
		return meta.NewID(), nil
	}
	return resp.ID, nil
}

// defaultVidType is upstream's SpaceDesc.vid_type default, which Apache
// thrift's Go generator cannot express.
func defaultVidType() *meta.ColumnTypeDef {
	return &meta.ColumnTypeDef{Type: nebula.PropertyType_FIXED_STRING, TypeLength: 8}
}

// CreateSpace creates a space and returns its id. A nil desc.VidType means
// FIXED_STRING(8), as upstream.
func (m *MetaClient) CreateSpace(ctx context.Context, desc *meta.SpaceDesc, ifNotExists bool) (nebula.GraphSpaceID, error) {
	if desc.VidType == nil {
		d := *desc
		d.VidType = defaultVidType()
		desc = &d
	}
	id, err := m.exec(ctx, "createSpace", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.CreateSpace(ctx, &meta.CreateSpaceReq{Properties: desc, IfNotExists: ifNotExists})
	})
	if err != nil {
		return 0, err
	}
	return id.GetSpaceID(), nil
}

// DropSpace drops a space by name.
func (m *MetaClient) DropSpace(ctx context.Context, name string, ifExists bool) error {
	_, err := m.exec(ctx, "dropSpace", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.DropSpace(ctx, &meta.DropSpaceReq{SpaceName: []byte(name), IfExists: ifExists})
	})
	return err
}

// GetSpace looks a space up by name.
func (m *MetaClient) GetSpace(ctx context.Context, name string) (*meta.SpaceItem, error) {
	var resp *meta.GetSpaceResp
	err := m.do(ctx, "getSpace", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.GetSpace(ctx, &meta.GetSpaceReq{SpaceName: []byte(name)})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("getSpace", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Item, nil
}

// ListSpaces lists all spaces' ids and names.
func (m *MetaClient) ListSpaces(ctx context.Context) ([]*meta.IdName, error) {
	var resp *meta.ListSpacesResp
	err := m.do(ctx, "listSpaces", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.ListSpaces(ctx, meta.NewListSpacesReq())
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("listSpaces", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Spaces, nil
}

// CreateTag creates a tag and returns its id.
func (m *MetaClient) CreateTag(ctx context.Context, space nebula.GraphSpaceID, name string, schema *meta.Schema, ifNotExists bool) (nebula.TagID, error) {
	id, err := m.exec(ctx, "createTag", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.CreateTag(ctx, &meta.CreateTagReq{SpaceID: space, TagName: []byte(name), Schema: schema, IfNotExists: ifNotExists})
	})
	if err != nil {
		return 0, err
	}
	return id.GetTagID(), nil
}

// DropTag drops a tag.
func (m *MetaClient) DropTag(ctx context.Context, space nebula.GraphSpaceID, name string, ifExists bool) error {
	_, err := m.exec(ctx, "dropTag", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.DropTag(ctx, &meta.DropTagReq{SpaceID: space, TagName: []byte(name), IfExists: ifExists})
	})
	return err
}

// GetTag returns a tag's schema at version (negative: the latest).
func (m *MetaClient) GetTag(ctx context.Context, space nebula.GraphSpaceID, name string, version meta.SchemaVer) (*meta.Schema, error) {
	var resp *meta.GetTagResp
	err := m.do(ctx, "getTag", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.GetTag(ctx, &meta.GetTagReq{SpaceID: space, TagName: []byte(name), Version: version})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("getTag", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Schema, nil
}

// ListTags lists a space's tags (all versions).
func (m *MetaClient) ListTags(ctx context.Context, space nebula.GraphSpaceID) ([]*meta.TagItem, error) {
	var resp *meta.ListTagsResp
	err := m.do(ctx, "listTags", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.ListTags(ctx, &meta.ListTagsReq{SpaceID: space})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("listTags", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Tags, nil
}

// CreateEdge creates an edge type and returns it.
func (m *MetaClient) CreateEdge(ctx context.Context, space nebula.GraphSpaceID, name string, schema *meta.Schema, ifNotExists bool) (nebula.EdgeType, error) {
	id, err := m.exec(ctx, "createEdge", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.CreateEdge(ctx, &meta.CreateEdgeReq{SpaceID: space, EdgeName: []byte(name), Schema: schema, IfNotExists: ifNotExists})
	})
	if err != nil {
		return 0, err
	}
	return id.GetEdgeType(), nil
}

// DropEdge drops an edge type.
func (m *MetaClient) DropEdge(ctx context.Context, space nebula.GraphSpaceID, name string, ifExists bool) error {
	_, err := m.exec(ctx, "dropEdge", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.DropEdge(ctx, &meta.DropEdgeReq{SpaceID: space, EdgeName: []byte(name), IfExists: ifExists})
	})
	return err
}

// GetEdge returns an edge type's schema at version (negative: the latest).
func (m *MetaClient) GetEdge(ctx context.Context, space nebula.GraphSpaceID, name string, version meta.SchemaVer) (*meta.Schema, error) {
	var resp *meta.GetEdgeResp
	err := m.do(ctx, "getEdge", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.GetEdge(ctx, &meta.GetEdgeReq{SpaceID: space, EdgeName: []byte(name), Version: version})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("getEdge", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Schema, nil
}

// ListEdges lists a space's edge types (all versions).
func (m *MetaClient) ListEdges(ctx context.Context, space nebula.GraphSpaceID) ([]*meta.EdgeItem, error) {
	var resp *meta.ListEdgesResp
	err := m.do(ctx, "listEdges", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.ListEdges(ctx, &meta.ListEdgesReq{SpaceID: space})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("listEdges", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Edges, nil
}

// GetPartsAlloc returns each partition's replica hosts.
func (m *MetaClient) GetPartsAlloc(ctx context.Context, space nebula.GraphSpaceID) (map[nebula.PartitionID][]*nebula.HostAddr, error) {
	var resp *meta.GetPartsAllocResp
	err := m.do(ctx, "getPartsAlloc", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.GetPartsAlloc(ctx, &meta.GetPartsAllocReq{SpaceID: space})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("getPartsAlloc", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Parts, nil
}

// ListParts describes the given partitions (all when parts is empty).
func (m *MetaClient) ListParts(ctx context.Context, space nebula.GraphSpaceID, parts []nebula.PartitionID) ([]*meta.PartItem, error) {
	var resp *meta.ListPartsResp
	err := m.do(ctx, "listParts", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.ListParts(ctx, &meta.ListPartsReq{SpaceID: space, PartIds: parts})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("listParts", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Parts, nil
}

// CreateBackup asks metad to checkpoint the cluster. nil spaces means all
// spaces; an empty base means a full backup; clusterID 0 is left unset.
// When metad's code does not say why it failed (E_BACKUP_FAILED,
// E_BACKUP_RUNNING_JOBS...), the *CodeError's Cause says what the client
// found out: a *HostsDownError naming the storage hosts down, or the
// backup in progress.
func (m *MetaClient) CreateBackup(ctx context.Context, spaces []string, base string, clusterID int64) (*meta.BackupMeta, error) {
	req := meta.NewCreateBackupReq()
	if spaces != nil {
		req.Spaces = make([][]byte, len(spaces))
		for i, s := range spaces {
			req.Spaces[i] = []byte(s)
		}
	}
	if base != "" {
		req.BaseBackupName = []byte(base)
	}
	if clusterID != 0 {
		id := meta.ClusterID(clusterID)
		req.ClusterID = &id
	}
	var resp *meta.CreateBackupResp
	err := m.do(ctx, "createBackup", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.CreateBackup(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("createBackup", resp.Code, resp.Leader); err != nil {
		// The code alone does not say which host or step failed, or what
		// is running: find out (see explainBackup).
		if ce, ok := err.(*CodeError); ok {
			ce.Cause = m.explainBackup(ctx, ce.Code, spaces)
		}
		return nil, err
	}
	return resp.Meta, nil
}

// DropSnapshot drops snapshots (backup checkpoints) by name.
func (m *MetaClient) DropSnapshot(ctx context.Context, names []string) error {
	req := &meta.DropSnapshotReq{Names: make([][]byte, len(names))}
	for i, n := range names {
		req.Names[i] = []byte(n)
	}
	_, err := m.exec(ctx, "dropSnapshot", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.DropSnapshot(ctx, req)
	})
	return err
}

// ListSnapshots lists snapshots.
func (m *MetaClient) ListSnapshots(ctx context.Context) ([]*meta.Snapshot, error) {
	var resp *meta.ListSnapshotsResp
	err := m.do(ctx, "listSnapshots", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.ListSnapshots(ctx, meta.NewListSnapshotsReq())
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("listSnapshots", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.Snapshots, nil
}

// RestoreMeta loads backed-up meta sst files (paths on metad's host),
// renaming storage hosts per hosts or, where placement gives a space's
// parts their hosts (nebula-lite's addition), placing them so, and returns
// the new part placement (upstream's metad returns none).
func (m *MetaClient) RestoreMeta(ctx context.Context, files []string, hosts []*meta.HostPair, placement map[nebula.GraphSpaceID][]*meta.PartInfo) (map[nebula.GraphSpaceID][]*meta.PartInfo, error) {
	req := &meta.RestoreMetaReq{Files: make([][]byte, len(files)), Hosts: hosts, Placement: placement}
	for i, f := range files {
		req.Files[i] = []byte(f)
	}
	var resp *meta.RestoreMetaResp
	err := m.do(ctx, "restoreMeta", func(ctx context.Context, c *meta.MetaServiceClient) (err error) {
		resp, err = c.RestoreMeta(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.check("restoreMeta", resp.Code, resp.Leader); err != nil {
		return nil, err
	}
	return resp.PartHosts, nil
}

// LeaderBalance spreads part leaders evenly over the storage hosts
// (BALANCE LEADER).
func (m *MetaClient) LeaderBalance(ctx context.Context) error {
	_, err := m.exec(ctx, "leaderBalance", func(ctx context.Context, c *meta.MetaServiceClient) (*meta.ExecResp, error) {
		return c.LeaderBalance(ctx, &meta.LeaderBalanceReq{})
	})
	return err
}
