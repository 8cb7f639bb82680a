package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/client"
)

// race runs n writers of path at once, each with its own content and the
// CAS it builds; it returns the indexes that succeeded and fails the test
// on any error other than FailedPrecondition. Contents differ by i and tag.
func race(t *testing.T, c *client.Client, path, tag string, n int, cas func(i int) *client.CAS) (winners []int, contents [][]byte) {
	t.Helper()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	contents = make([][]byte, n)
	for i := range n {
		contents[i] = []byte(fmt.Sprintf(`{"owner": "br %d", "step": %q}`, i, tag))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := c.WriteFile(context.Background(), path, contents[i], cas(i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, i)
			case status.Code(err) != codes.FailedPrecondition:
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return winners, contents
}

func TestWriteFileCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	a := startAgent(t, agent.Config{})
	dir := filepath.Join(t.TempDir(), "meta")
	path := filepath.Join(dir, "sub", "data.br-restore") // the parents do not exist yet

	// Nothing there yet.
	b, exists, _, err := a.c.ReadFile(ctx, path)
	if err != nil || exists || b != nil {
		t.Fatalf("ReadFile(missing) = %q, %v, %v", b, exists, err)
	}

	// Many br racing to create the journal: exactly one wins.
	winners, contents := race(t, a.c, path, "create", 32, func(int) *client.CAS { return &client.CAS{Exists: false} })
	if len(winners) != 1 {
		t.Fatalf("%d writers created the file (%v), want exactly 1", len(winners), winners)
	}
	won := contents[winners[0]]
	b, exists, age, err := a.c.ReadFile(ctx, path)
	if err != nil || !exists || string(b) != string(won) || age < 0 {
		t.Fatalf("ReadFile = %q, %v, %v, %v; want the winner's %q", b, exists, age, err, won)
	}
	// A loser is told what it found.
	err = a.c.WriteFile(ctx, path, []byte("late"), &client.CAS{Exists: false})
	wantCode(t, err, codes.FailedPrecondition, path, "expected no file", fmt.Sprintf("crc32c %08x", crc(won)), a.srv.Addr())

	// A swap against the wrong CRC is refused and changes nothing.
	err = a.c.WriteFile(ctx, path, []byte("stale"), &client.CAS{Exists: true, CRC32C: crc(won) ^ 1})
	wantCode(t, err, codes.FailedPrecondition, path, fmt.Sprintf("expected content with crc32c %08x", crc(won)^1), fmt.Sprintf("found a file of %d bytes with crc32c %08x", len(won), crc(won)))
	if b, _, _, _ := a.c.ReadFile(ctx, path); string(b) != string(won) {
		t.Fatalf("a refused swap changed the file to %q", b)
	}
	// Racing swaps from the same state: exactly one wins.
	winners, contents = race(t, a.c, path, "swap", 16, func(int) *client.CAS { return &client.CAS{Exists: true, CRC32C: crc(won)} })
	if len(winners) != 1 {
		t.Fatalf("%d swaps succeeded (%v), want exactly 1", len(winners), winners)
	}
	if b, _, _, _ := a.c.ReadFile(ctx, path); string(b) != string(contents[winners[0]]) {
		t.Fatalf("after the swaps: %q, want %q", b, contents[winners[0]])
	}
	// Unconditional writes replace whatever is there.
	if err := a.c.WriteFile(ctx, path, []byte("free"), nil); err != nil {
		t.Fatal(err)
	}
	if b, _, _, _ := a.c.ReadFile(ctx, path); string(b) != "free" {
		t.Fatalf("after an unconditional write: %q", b)
	}
	// Expecting a file where there is none.
	err = a.c.WriteFile(ctx, filepath.Join(dir, "other"), []byte("x"), &client.CAS{Exists: true, CRC32C: 7})
	wantCode(t, err, codes.FailedPrecondition, "found no file")
	if _, err := os.Stat(filepath.Join(dir, "other")); !os.IsNotExist(err) {
		t.Errorf("a refused write created the file: %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files beside the journal: %q", names)
	}

	// The age is the time since the file's mtime.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	_, _, age, err = a.c.ReadFile(ctx, path)
	if err != nil || age < time.Hour || age > 2*time.Hour {
		t.Errorf("age of a file written an hour ago: %v, %v", age, err)
	}

	// RemoveDir removes a file too, and a missing one is fine.
	if err := a.c.RemoveDir(ctx, path); err != nil {
		t.Fatal(err)
	}
	if _, exists, _, err := a.c.ReadFile(ctx, path); err != nil || exists {
		t.Fatalf("after RemoveDir: %v, %v", exists, err)
	}
	if err := a.c.RemoveDir(ctx, path); err != nil {
		t.Fatal(err)
	}

	_, _, _, err = a.c.ReadFile(ctx, "rel/path")
	wantCode(t, err, codes.InvalidArgument, "absolute")
	_, _, _, err = a.c.ReadFile(ctx, dir)
	wantCode(t, err, codes.FailedPrecondition, dir, "not a regular file")
	wantCode(t, a.c.WriteFile(ctx, "", nil, nil), codes.InvalidArgument, "path")
}

func TestStatDisk(t *testing.T) {
	ctx := context.Background()
	a := startAgent(t, agent.Config{})
	dir := t.TempDir()
	free, total, err := a.c.StatDisk(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if want := int64(st.Blocks) * int64(st.Bsize); total != want || free <= 0 || free > total {
		t.Errorf("StatDisk = free %d, total %d; want total %d and 0 < free <= total", free, total, want)
	}
	// A path that does not exist yet: its nearest existing parent's disk.
	_, total2, err := a.c.StatDisk(ctx, filepath.Join(dir, "not", "yet", "there"))
	if err != nil || total2 != total {
		t.Errorf("StatDisk(missing path) = total %d, %v; want %d", total2, err, total)
	}
	_, _, err = a.c.StatDisk(ctx, "relative")
	wantCode(t, err, codes.InvalidArgument, "absolute")
	if !strings.Contains(a.logs.String(), "StatDisk") {
		t.Error("StatDisk calls are not logged (at debug level)")
	}
}
