package lite

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/lite/bulkload"
	"github.com/nebula-open/nebula-br/internal/nebula/graphtest"
)

// This file's clusters live in 127.0.14.0/24.

// TestBulkLoad: nebula-lite's bulk loader ingests a generated graph that
// graphd then reads as if INSERT had written it (properties, edges both
// ways), the same graph on 2 and on 3 storage hosts (equal fingerprints),
// and the space takes writes and survives a restart afterwards.
func TestBulkLoad(t *testing.T) {
	for _, base := range []string{"127.0.14.10", "127.0.14.20"} {
		for i := range 3 {
			ip := net.ParseIP(base).To4()
			a := net.JoinHostPort(net.IPv4(ip[0], ip[1], ip[2], ip[3]+byte(i)).String(), "9779")
			l, err := net.Listen("tcp", a)
			if err != nil {
				t.Fatalf("address %s is not free (%v): another test or process holds it", a, err)
			}
			l.Close()
		}
	}
	spec := bulkload.Spec{Space: "bulk", Parts: 6, Vertices: 3000, Fanout: 3, NameBytes: 40}
	var prints []string
	for i, hosts := range []int{2, 3} {
		c := up(t, fmt.Sprintf("127.0.14.%d", 10+10*i), hosts, nil)
		var progress strings.Builder
		res, err := bulkload.Load(context.Background(), c, spec, &progress)
		if err != nil {
			t.Fatal(err)
		}
		if want := spec.Vertices + 2*bulkload.Edges(spec); res.Keys != want {
			t.Fatalf("ingested %d keys, want %d (vertices, and each edge twice)", res.Keys, want)
		}
		if n := strings.Count(progress.String(), "loaded part "); n != int(spec.Parts) {
			t.Errorf("progress: %d part lines, want %d:\n%s", n, spec.Parts, progress.String())
		}
		s := graphtest.Connect(t, c.GraphAddr())
		_, rows := s.Fingerprint("bulk")
		if rows != spec.Vertices+bulkload.Edges(spec) {
			t.Fatalf("fingerprint counts %d vertices and edges, want %d", rows, spec.Vertices+bulkload.Edges(spec))
		}
		checkRows(t, s, "USE bulk; FETCH PROP ON p 5 YIELD p.n AS n, p.name AS name", "5", "v5-")
		checkRows(t, s, "USE bulk; GO FROM 10 OVER r YIELD dst(edge) AS d", "11", "12", "13")
		checkRows(t, s, "USE bulk; GO FROM 10 OVER r REVERSELY YIELD src(edge) AS s", "7", "8", "9")
		prints = append(prints, s.FingerprintString("bulk"))

		// Writes go on from the part's log, and everything survives a restart.
		s.Must(`USE bulk; INSERT VERTEX p(name, n) VALUES 999999:("late", 1); INSERT EDGE r(w) VALUES 1->999999:(7)`)
		after := s.FingerprintString("bulk")
		for h := range hosts {
			if err := c.StopService(h, "storaged"); err != nil {
				t.Fatal(err)
			}
			if err := c.StartService(h, "storaged"); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := graphtest.Connect(t, c.GraphAddr()).FingerprintString("bulk"); got != after {
			t.Fatalf("after a restart of every storaged: %s, want %s", got, after)
		}
	}
	if prints[0] != prints[1] {
		t.Fatalf("the same load on 2 and 3 hosts: fingerprints %s and %s", prints[0], prints[1])
	}
	t.Logf("fingerprint of the loaded graph: %s", prints[0])
}

// checkRows runs q and checks that the rows' first columns contain want,
// each as a prefix, in order.
func checkRows(t *testing.T, s *graphtest.Session, q string, want ...string) {
	t.Helper()
	resp, err := s.G.Execute(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var got []string
	for _, r := range resp.Data.Rows {
		for _, v := range r.Values {
			switch {
			case v.IVal != nil:
				got = append(got, fmt.Sprint(*v.IVal))
			case v.SVal != nil:
				got = append(got, string(v.SVal))
			}
		}
	}
	i := 0
	for _, g := range got {
		if i < len(want) && strings.HasPrefix(g, want[i]) {
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("%s: got %v, want %v in order", q, got, want)
	}
}
