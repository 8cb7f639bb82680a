package br

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// service is one metad, storaged or graphd with the agent beside it.
type service struct {
	Role  meta.HostRole
	Addr  *nebula.HostAddr
	Root  string
	Data  []string
	Agent string // host:port of the agent on the same host
}

// topology is a cluster as listCluster describes it.
type topology struct {
	Metad    *service
	Storaged []*service // sorted by address: restore pairs hosts by position
	Graphd   []*service
}

// discover asks metad for every service and its agent. It fails, saying
// which hosts, when a host runs services but no agent.
func discover(ctx context.Context, m *client.MetaClient) (*topology, error) {
	hosts, err := m.ListCluster(ctx)
	if client.IsCode(err, nebula.ErrorCode_E_LIST_CLUSTER_NO_AGENT_FAILURE) {
		return nil, fmt.Errorf("metad %s: some hosts run NebulaGraph services but no br-agent: start br-agent (--agent HOST:8888 --meta %s) beside every metad and storaged", m.Addr(), m.Addr())
	}
	if err != nil {
		return nil, fmt.Errorf("list cluster services from metad %s: %w", m.Addr(), err)
	}
	t := &topology{}
	for host, svcs := range hosts {
		agent := ""
		for _, s := range svcs {
			if s.Role == meta.HostRole_AGENT {
				agent = addr(s.Addr)
			}
		}
		for _, s := range svcs {
			if s.Role == meta.HostRole_AGENT {
				continue
			}
			if agent == "" {
				return nil, fmt.Errorf("host %s runs %s but no br-agent: start one there", host, strings.ToLower(s.Role.String()))
			}
			sv := &service{Role: s.Role, Addr: s.Addr, Agent: agent}
			if s.Dir != nil {
				sv.Root = string(s.Dir.Root)
				for _, d := range s.Dir.Data {
					sv.Data = append(sv.Data, string(d))
				}
			}
			switch s.Role {
			case meta.HostRole_META:
				t.Metad = sv
			case meta.HostRole_STORAGE:
				t.Storaged = append(t.Storaged, sv)
			case meta.HostRole_GRAPH:
				t.Graphd = append(t.Graphd, sv)
			}
		}
	}
	if t.Metad == nil {
		return nil, fmt.Errorf("metad %s did not list itself: is it NebulaGraph 3.x?", m.Addr())
	}
	sort.Slice(t.Storaged, func(i, j int) bool { return addr(t.Storaged[i].Addr) < addr(t.Storaged[j].Addr) })
	sort.Slice(t.Graphd, func(i, j int) bool { return addr(t.Graphd[i].Addr) < addr(t.Graphd[j].Addr) })
	return t, nil
}

func (t *topology) storage(h *nebula.HostAddr) *service {
	for _, s := range t.Storaged {
		if s.Addr.Host == h.Host && s.Addr.Port == h.Port {
			return s
		}
	}
	return nil
}

func (s *service) dataPath() (string, error) {
	if len(s.Data) == 0 || s.Data[0] == "" {
		return "", fmt.Errorf("%s %s reported no data path", strings.ToLower(s.Role.String()), addr(s.Addr))
	}
	return s.Data[0], nil
}

// all is every service: metad, storaged, graphd.
func (t *topology) all() []*service {
	out := append([]*service{t.Metad}, t.Storaged...)
	return append(out, t.Graphd...)
}

// topology rebuilds the target as the journal recorded it before the
// restore (metad may be down or hold the backup's meta by now).
func (j *journal) topology() *topology {
	t := &topology{}
	for _, js := range j.Services {
		host, port, _ := net.SplitHostPort(js.Addr)
		p, _ := strconv.Atoi(port)
		s := &service{Addr: &nebula.HostAddr{Host: host, Port: nebula.Port(p)}, Root: js.Root, Agent: js.Agent}
		if js.Data != "" {
			s.Data = []string{js.Data}
		}
		switch js.Role {
		case "metad":
			s.Role, t.Metad = meta.HostRole_META, s
		case "storaged":
			s.Role = meta.HostRole_STORAGE
			t.Storaged = append(t.Storaged, s)
		case "graphd":
			s.Role = meta.HostRole_GRAPH
			t.Graphd = append(t.Graphd, s)
		}
	}
	return t
}

// wasRunning says whether s ran before the restore.
func (j *journal) wasRunning(s *service) bool {
	for _, js := range j.Services {
		if js.Addr == addr(s.Addr) && js.Role == roleName(s.Role) {
			return js.Running
		}
	}
	return false
}
