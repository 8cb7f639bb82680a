// Package graphtest is a graphd session for tests: statements that must
// succeed, and a space's fingerprint to compare data across clusters.
package graphtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
)

// Session is an authenticated graphd session bound to a test.
type Session struct {
	T testing.TB
	G *client.GraphClient
}

// Connect authenticates as root to graphd at addr; the session closes with
// the test.
func Connect(t testing.TB, addr string) *Session {
	t.Helper()
	g, err := client.NewGraphClient(addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Authenticate(context.Background(), "root", "nebula"); err != nil {
		g.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return &Session{T: t, G: g}
}

// Exec runs statements.
func (s *Session) Exec(q string) error {
	_, err := s.G.Execute(context.Background(), q)
	return err
}

// Must runs statements and fails the test on an error.
func (s *Session) Must(q string) {
	s.T.Helper()
	if err := s.Exec(q); err != nil {
		s.T.Fatalf("%.120s: %v", q, err)
	}
}

// Fingerprint is the space's SHOW FINGERPRINT hash and its row count.
func (s *Session) Fingerprint(space string) (string, int64) {
	s.T.Helper()
	resp, err := s.G.Execute(context.Background(), "USE "+space+"; SHOW FINGERPRINT")
	if err != nil {
		s.T.Fatalf("fingerprint %s: %v", space, err)
	}
	last := resp.Data.Rows[len(resp.Data.Rows)-1]
	return string(last.Values[3].SVal), *last.Values[2].IVal
}

// FingerprintString is Fingerprint as one comparable string, "hash/count".
func (s *Session) FingerprintString(space string) string {
	s.T.Helper()
	h, n := s.Fingerprint(space)
	return fmt.Sprintf("%s/%d", h, n)
}
