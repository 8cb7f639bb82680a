package agent

import (
	"context"
	"sync"
	"time"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// heartbeatQuiet is how often a heartbeat that keeps failing is logged.
const heartbeatQuiet = time.Minute

// heartbeat registers the agent with metad every interval and remembers
// the services metad says run on this host (their install roots are
// StartService's default). Failures are logged, never fatal: metad is
// down for part of every restore.
type heartbeat struct {
	s *Server

	mu       sync.Mutex
	roots    map[meta.HostRole]string // last root reported per role
	lastErr  error
	loggedAt time.Time // when a failure was last logged
	beats    int       // successful heartbeats
	soon     chan struct{}
}

func newHeartbeat(s *Server) *heartbeat {
	return &heartbeat{s: s, roots: map[meta.HostRole]string{}, soon: make(chan struct{}, 1)}
}

// nudge asks for a heartbeat now: a service was just started here, maybe
// metad after a restore, which knows no agent until one heartbeats (with
// upstream's 60 s interval a restored cluster would wait that long).
func (h *heartbeat) nudge() {
	select {
	case h.soon <- struct{}{}:
	default:
	}
}

func (h *heartbeat) run(ctx context.Context) {
	var mc *client.MetaClient
	defer func() {
		if mc != nil {
			mc.Close()
		}
	}()
	tick := time.NewTicker(h.s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		if err := h.beat(ctx, &mc); err != nil && mc != nil {
			mc.Close()
			mc = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-h.soon:
		}
	}
}

func (h *heartbeat) beat(ctx context.Context, mc **client.MetaClient) error {
	timeout := min(h.s.cfg.HeartbeatInterval, 10*time.Second)
	timeout = max(timeout, 2*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := func() error {
		if *mc == nil {
			m, err := client.NewMetaClient(h.s.cfg.MetaAddr, client.Options{ConnectTimeout: timeout / 2, RequestTimeout: timeout})
			if err != nil {
				return err
			}
			*mc = m
		}
		host, port, _ := splitHostPort(h.s.cfg.Addr)
		resp, err := (*mc).AgentHeartbeat(ctx, &meta.AgentHBReq{
			Host:       &nebula.HostAddr{Host: host, Port: nebula.Port(port)},
			GitInfoSha: []byte(h.s.cfg.Version),
			Version:    []byte(h.s.cfg.Version),
		})
		if err != nil {
			return err
		}
		h.record(resp.ServiceList)
		return nil
	}()
	h.report(err)
	return err
}

// record keeps the roots of the services metad listed. A role that is not
// listed keeps its last known root.
func (h *heartbeat) record(list []*meta.ServiceInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, si := range list {
		if si == nil || si.Dir == nil || len(si.Dir.Root) == 0 {
			continue
		}
		h.roots[si.Role] = string(si.Dir.Root)
	}
}

// report logs the first failure, one every heartbeatQuiet while failures
// go on, and the recovery.
func (h *heartbeat) report(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	switch {
	case err == nil:
		if h.lastErr != nil {
			h.s.log.Info("heartbeat to metad recovered", "meta", h.s.cfg.MetaAddr)
		} else if h.beats == 0 {
			h.s.log.Info("registered with metad", "meta", h.s.cfg.MetaAddr, "agent", h.s.cfg.Addr)
		}
		h.beats++
		h.lastErr = nil
	case h.lastErr == nil || now.Sub(h.loggedAt) >= heartbeatQuiet:
		h.s.log.Warn("heartbeat to metad failed; still serving", "meta", h.s.cfg.MetaAddr, "err", err)
		h.loggedAt = now
		h.lastErr = err
	default:
		h.lastErr = err
	}
}

// root returns the install root metad last reported for the role on this
// host, or for any service on this host, or "".
func (h *heartbeat) root(role meta.HostRole) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.roots[role]; r != "" {
		return r, h.lastErr
	}
	for _, r := range []meta.HostRole{meta.HostRole_META, meta.HostRole_STORAGE, meta.HostRole_GRAPH} {
		if h.roots[r] != "" {
			return h.roots[r], h.lastErr
		}
	}
	return "", h.lastErr
}
