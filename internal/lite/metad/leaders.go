package metad

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
