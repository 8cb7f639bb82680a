package br

import (
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
)

// upUpstreamAgents is up with every br-agent behaving as nebula-agent:
// its API alone (--api upstream), the services managed through the root's
// scripts/nebula.service and the playback by bin/db_playback (--engine
// nebulagraph).
func upUpstreamAgents(t *testing.T, base string, n int) *cluster.Cluster {
	t.Helper()
	return upSpec(t, cluster.Spec{Storaged: n, AddrBase: base, Agents: true,
		AgentArgs: []string{"--api", "upstream", "--engine", "nebulagraph"}})
}

// br falls back to nebula-agent's API where an agent offers nothing else:
// a full and an incremental backup, and a restore of the chain into
// another cluster, exact, with S3 keys never shown.
func TestBrWithAgentsOfferingOnlyUpstreamAPI(t *testing.T) {
	st := s3Storage(t)
	src := upUpstreamAgents(t, "127.0.8.10", 3)
	s := connect(t, src)
	s.schema("g")
	s.load("g", 0, 1200)
	meta := src.MetaAddr()
	full := backupName(t, brOK(t, st.env, st.flags("backup", "full", "--meta", meta)...))
	s.load("g", 1200, 1500)
	s.Must(`USE g; DELETE VERTEX "v9" WITH EDGE; INSERT VERTEX p(name, n) VALUES "v3":("changed", -3)`)
	incrOut := brOK(t, st.env, st.flags("backup", "incr", "--meta", meta)...)
	incr := backupName(t, incrOut)
	want := s.fingerprint("g")

	show := brOK(t, st.env, st.flags("show")...)
	for _, n := range []string{full, incr} {
		if !strings.Contains(show, n) || !strings.Contains(show, "complete") {
			t.Fatalf("show:\n%s", show)
		}
	}
	// The checksums br read back from storage are the objects' own.
	if out := brOK(t, st.env, st.flags("verify", "--name", incr)...); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %s", out)
	}

	dst := upUpstreamAgents(t, "127.0.8.30", 3)
	out := brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", incr)...)
	if got := connect(t, dst).fingerprint("g"); got != want {
		t.Fatalf("restore through nebula-agent's API: fingerprint %s, source had %s\n%s", got, want, out)
	}
	connect(t, dst).Must(`USE g; INSERT VERTEX p(name, n) VALUES "new":("x", 1)`)
	assertNoSecrets(t, st, src)
	assertNoSecrets(t, st, dst)
}
