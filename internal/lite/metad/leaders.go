package metad

import (
	"context"
	"sort"
)

// Part leaders. A space with one replica per part has no election: its
// only host leads. Replicated spaces' leaders are what storaged report in
// their heartbeats (NebulaGraph's HBReq.leader_partIds); a host that
// stopped reporting leads nothing.

// SetLeaders records the parts a storage host leads (space -> parts).
func (m *Metad) SetLeaders(a Addr, leaders map[int32][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaders[a.String()] = leaders
}

// Leaders returns, per space, each part's leader as far as metad knows
// (a part without a known leader is absent).
func (m *Metad) Leaders() map[int32]map[int32]Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	online := map[string]Addr{}
	for _, h := range m.hostsLocked(RoleStorage) {
		if h.Online {
			online[h.Addr.String()] = h.Addr
		}
	}
	out := map[int32]map[int32]Addr{}
	for id, sp := range m.st.spaces {
		out[id] = map[int32]Addr{}
		if sp.ReplicaFactor > 1 {
			continue
		}
		for p, hosts := range sp.Parts {
			if len(hosts) > 0 {
				out[id][p] = hosts[0]
			}
		}
	}
	for key, spaces := range m.leaders {
		a, ok := online[key]
		if !ok {
			continue
		}
		for id, parts := range spaces {
			sp := m.st.spaces[id]
			if sp == nil || sp.ReplicaFactor <= 1 {
				continue
			}
			for _, p := range parts {
				if holds(sp.Parts[p], a) {
					out[id][p] = a
				}
			}
		}
	}
	return out
}

func holds(hosts []Addr, a Addr) bool {
	for _, h := range hosts {
		if h == a {
			return true
		}
	}
	return false
}

// LeaderTransferer is the part of storaged's admin service that moves a
// part's leadership (an Admin that cannot is skipped by LeaderBalance).
type LeaderTransferer interface {
	TransLeader(ctx context.Context, space, part int32, to Addr) error
}

// LeaderBalance (BALANCE LEADER) moves leaders of replicated spaces, one
// part at a time, from the hosts leading the most parts of a space to
// replicas on hosts leading the fewest, until every host leads as many as
// the others, give or take one. A move that fails (the leader changed
// meanwhile) is skipped, as NebulaGraph's balance job skips it; the error
// names the first one.
func (m *Metad) LeaderBalance(ctx context.Context) error {
	var first error
	online := map[Addr]bool{}
	for _, h := range m.Hosts(RoleStorage) {
		if h.Online {
			online[h.Addr] = true
		}
	}
	leaders := m.Leaders()
	for _, sp := range m.Spaces() {
		if sp.ReplicaFactor <= 1 {
			continue
		}
		for _, mv := range planLeaders(sp, leaders[sp.ID], online) {
			if err := m.transLeader(ctx, sp.ID, mv.part, mv.from, mv.to); err != nil {
				m.log.Warn("balance leader: move skipped", "space", sp.Name, "part", mv.part, "from", mv.from, "to", mv.to, "err", err)
				if first == nil {
					first = coded(codeBalancerFailure, "balance leader: space %s part %d %s -> %s: %v", sp.Name, mv.part, mv.from, mv.to, err)
				}
			}
		}
	}
	return first
}

type leaderMove struct {
	part     int32
	from, to Addr
}

// planLeaders evens one space's leader counts among its online replica
// hosts.
func planLeaders(sp *Space, leaders map[int32]Addr, online map[Addr]bool) []leaderMove {
	count := map[Addr]int{}
	led := map[Addr][]int32{}
	for _, hosts := range sp.Parts {
		for _, h := range hosts {
			if online[h] {
				count[h] = 0 // a host leading nothing yet takes leaders too
			}
		}
	}
	for p, h := range leaders {
		count[h]++
		led[h] = append(led[h], p)
	}
	hosts := make([]Addr, 0, len(count))
	for h := range count {
		hosts = append(hosts, h)
		sort.Slice(led[h], func(i, j int) bool { return led[h][i] < led[h][j] })
	}
	var moves []leaderMove
	for {
		sort.Slice(hosts, func(i, j int) bool {
			if count[hosts[i]] != count[hosts[j]] {
				return count[hosts[i]] > count[hosts[j]]
			}
			return hosts[i].String() < hosts[j].String()
		})
		moved := false
		// From the busiest host, to the least busy replica of one of its parts.
		for _, from := range hosts {
			for i, p := range led[from] {
				var to *Addr
				for _, h := range sp.Parts[p] {
					if online[h] && count[h] < count[from]-1 && (to == nil || count[h] < count[*to]) {
						h := h
						to = &h
					}
				}
				if to == nil {
					continue
				}
				moves = append(moves, leaderMove{part: p, from: from, to: *to})
				count[from]--
				count[*to]++
				led[from] = append(led[from][:i:i], led[from][i+1:]...)
				led[*to] = append(led[*to], p)
				moved = true
				break
			}
			if moved {
				break
			}
		}
		if !moved {
			return moves
		}
	}
}

func (m *Metad) transLeader(ctx context.Context, space, part int32, from, to Addr) error {
	admin, err := m.cfg.Admin(ctx, from)
	if err != nil {
		return err
	}
	defer admin.Close()
	t, ok := admin.(LeaderTransferer)
	if !ok {
		return coded(codeUnsupported, "storaged %s cannot transfer leaders", from)
	}
	if err := t.TransLeader(ctx, space, part, to); err != nil {
		return err
	}
	// Known at once, before the hosts' next heartbeats say so.
	m.mu.Lock()
	defer m.mu.Unlock()
	move := func(h Addr, add bool) {
		spaces := m.leaders[h.String()]
		if spaces == nil {
			spaces = map[int32][]int32{}
			m.leaders[h.String()] = spaces
		}
		var parts []int32
		for _, p := range spaces[space] {
			if p != part {
				parts = append(parts, p)
			}
		}
		if add {
			parts = append(parts, part)
		}
		spaces[space] = parts
	}
	move(from, false)
	move(to, true)
	return nil
}
