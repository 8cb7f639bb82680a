// Package metad is nebula-lite's meta service: hosts, spaces, schema,
// partition placement, and the server side of backup (createBackup,
// dropSnapshot, listSnapshots) and restore (restoreMeta).
package metad

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// Config of a metad.
type Config struct {
	Addr     Addr   // own address as other services reach it (--local_ip:--port)
	DataPath string // --data_path; state in <data_path>/nebula/0/data
	Root     string // install root reported by getMetaDirInfo
	// A host is online while its last heartbeat is younger than this.
	HostTimeout time.Duration
	// AgentTimeout is HostTimeout for agents, whose heartbeats are
	// further apart (NebulaGraph: agent_heartbeat_interval_secs times
	// expired_time_factor, 60 s x 5).
	AgentTimeout time.Duration
	Logger       *slog.Logger
	// Admin reaches storaged's admin service (createCheckpoint etc.).
	Admin AdminDialer
}

// Coded errors carry the nebula ErrorCode the RPC returns.
type Coded struct {
	Code nebula.ErrorCode
	Msg  string
}

func (e *Coded) Error() string { return e.Msg }

func coded(code nebula.ErrorCode, format string, args ...any) error {
	return &Coded{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Codes and roles used here, from the IDL.
const (
	codeSpaceNotFound       = nebula.ErrorCode_E_SPACE_NOT_FOUND
	codeTagNotFound         = nebula.ErrorCode_E_TAG_NOT_FOUND
	codeEdgeNotFound        = nebula.ErrorCode_E_EDGE_NOT_FOUND
	codeNoHosts             = nebula.ErrorCode_E_NO_HOSTS
	codeExisted             = nebula.ErrorCode_E_EXISTED
	codeInvalidHost         = nebula.ErrorCode_E_INVALID_HOST
	codeUnsupported         = nebula.ErrorCode_E_UNSUPPORTED
	codeBalancerFailure     = nebula.ErrorCode_E_BALANCER_FAILURE
	codeWrongCluster        = nebula.ErrorCode_E_WRONGCLUSTER
	codeInvalidParm         = nebula.ErrorCode_E_INVALID_PARM
	codeBackupFailed        = nebula.ErrorCode_E_BACKUP_FAILED
	codeSnapshotFailure     = nebula.ErrorCode_E_SNAPSHOT_FAILURE
	codeBackupRunningJobs   = nebula.ErrorCode_E_BACKUP_RUNNING_JOBS
	codeBackupSpaceNotFound = nebula.ErrorCode_E_BACKUP_SPACE_NOT_FOUND
	codeRestoreFailure      = nebula.ErrorCode_E_RESTORE_FAILURE
	codeListClusterNoAgent  = nebula.ErrorCode_E_LIST_CLUSTER_NO_AGENT_FAILURE

	RoleGraph   = int32(meta.HostRole_GRAPH)
	RoleMeta    = int32(meta.HostRole_META)
	RoleStorage = int32(meta.HostRole_STORAGE)
	RoleAgent   = int32(meta.HostRole_AGENT)

	snapshotValid   = int32(meta.SnapshotStatus_VALID)
	snapshotInvalid = int32(meta.SnapshotStatus_INVALID)
)

// Metad is the meta service's state and logic.
type Metad struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	st       *store
	lastSeen map[string]time.Time         // host -> last heartbeat (not persisted)
	leaders  map[string]map[int32][]int32 // host -> space -> parts it leads, from its heartbeat
	backupMu sync.Mutex                   // one backup at a time
	// The backup in progress, if any (guarded by mu).
	running      string
	runningSince time.Time
}

// Open loads (or creates) the meta state.
func Open(cfg Config) (*Metad, error) {
	if cfg.AgentTimeout == 0 {
		cfg.AgentTimeout = 300 * time.Second
	}
	if cfg.HostTimeout == 0 {
		cfg.HostTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	st, err := openStore(filepath.Join(cfg.DataPath, "nebula", "0", "data"))
	if err != nil {
		return nil, err
	}
	m := &Metad{cfg: cfg, log: cfg.Logger, st: st, lastSeen: map[string]time.Time{}, leaders: map[string]map[int32][]int32{}}
	if st.clusterID == 0 {
		var b [8]byte
		rand.Read(b[:])
		st.clusterID = int64(binary.BigEndian.Uint64(b[:]) >> 1)
		if err := st.put(keyClusterID, st.clusterID); err != nil {
			return nil, err
		}
	}
	// metad is a service of the cluster too (listCluster, agents).
	self := &Host{Addr: cfg.Addr, Role: RoleMeta, Root: cfg.Root, Data: []string{cfg.DataPath}}
	if err := m.register(self); err != nil {
		return nil, err
	}
	return m, nil
}

// Close releases the store.
func (m *Metad) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.db.Close()
}

// ClusterID identifies this cluster.
func (m *Metad) ClusterID() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.clusterID
}

// DirInfo is what getMetaDirInfo answers.
func (m *Metad) DirInfo() (root string, data []string) {
	return m.cfg.Root, []string{m.cfg.DataPath}
}

// Heartbeat registers a storaged, graphd or agent.
func (m *Metad) Heartbeat(h *Host, clusterID int64) (int64, error) {
	m.mu.Lock()
	cid := m.st.clusterID
	m.mu.Unlock()
	if clusterID != 0 && clusterID != cid {
		return cid, coded(codeWrongCluster, "host %s belongs to cluster %d, this is cluster %d", h.Addr, clusterID, cid)
	}
	return cid, m.register(h)
}

func (m *Metad) register(h *Host) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := h.Addr.String()
	m.lastSeen[key] = time.Now()
	old := m.st.hosts[key]
	if old != nil && old.Role == h.Role && old.Root == h.Root && equalStrings(old.Data, h.Data) && old.Version == h.Version {
		return nil
	}
	if old != nil && old.Role != h.Role {
		return coded(codeInvalidHost, "%s is registered as %s, not %s", key, roleName(old.Role), roleName(h.Role))
	}
	m.st.hosts[key] = h
	return m.st.put(pfxHost+key, h)
}

// HostStatus is a host with its liveness.
type HostStatus struct {
	Host
	Online bool
}

// Hosts lists registered hosts of a role (-1: all), sorted by address.
func (m *Metad) Hosts(role int32) []HostStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hostsLocked(role)
}

func (m *Metad) hostsLocked(role int32) []HostStatus {
	var out []HostStatus
	now := time.Now()
	for key, h := range m.st.hosts {
		if role >= 0 && h.Role != role {
			continue
		}
		seen, ok := m.lastSeen[key]
		timeout := m.cfg.HostTimeout
		if h.Role == RoleAgent {
			timeout = m.cfg.AgentTimeout
		}
		online := ok && now.Sub(seen) < timeout
		if h.Role == RoleMeta && h.Addr == m.cfg.Addr {
			online = true
		}
		out = append(out, HostStatus{Host: *h, Online: online})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.String() < out[j].Addr.String() })
	return out
}

// ServicesOn returns the online services on the host name of an agent
// (agentHeartbeat's answer): the agent manages what runs beside it.
func (m *Metad) ServicesOn(host string) []HostStatus {
	var out []HostStatus
	for _, h := range m.Hosts(-1) {
		if h.Addr.Host == host && h.Role != RoleAgent {
			out = append(out, h)
		}
	}
	return out
}

// Cluster groups online services by host name and fails when a host runs
// services but no agent: backup and restore need an agent on every host.
func (m *Metad) Cluster() (map[string][]HostStatus, error) {
	out := map[string][]HostStatus{}
	for _, h := range m.Hosts(-1) {
		if h.Online {
			out[h.Addr.Host] = append(out[h.Addr.Host], h)
		}
	}
	var missing []string
	for host, svcs := range out {
		hasAgent := false
		for _, s := range svcs {
			hasAgent = hasAgent || s.Role == RoleAgent
		}
		if !hasAgent {
			missing = append(missing, host)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return out, coded(codeListClusterNoAgent, "no br-agent runs on host(s) %v: start one beside every metad and storaged", missing)
	}
	return out, nil
}

func roleName(r int32) string {
	switch r {
	case RoleGraph:
		return "graphd"
	case RoleMeta:
		return "metad"
	case RoleStorage:
		return "storaged"
	case RoleAgent:
		return "agent"
	}
	return fmt.Sprintf("role %d", r)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
