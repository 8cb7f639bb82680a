package agent_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
)

func TestDirs(t *testing.T) {
	ctx := context.Background()
	a := startAgent(t, agent.Config{})
	root := t.TempDir()
	src := filepath.Join(root, "data")
	writeFile(t, filepath.Join(src, "nebula", "1", "x"), 10, 1)

	ok, err := a.c.ExistDir(ctx, src)
	if err != nil || !ok {
		t.Fatalf("ExistDir(existing) = %v, %v", ok, err)
	}
	ok, err = a.c.ExistDir(ctx, filepath.Join(root, "nope"))
	if err != nil || ok {
		t.Fatalf("ExistDir(missing) = %v, %v", ok, err)
	}
	aside := filepath.Join(root, "old", "data.BACKUP_1")
	if err := a.c.MoveDir(ctx, src, aside); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(aside, "nebula", "1", "x")); err != nil {
		t.Fatalf("moved tree: %v", err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("source still there: %v", err)
	}
	os.MkdirAll(src, 0o755)
	wantCode(t, a.c.MoveDir(ctx, src, aside), codes.AlreadyExists, aside)
	wantCode(t, a.c.MoveDir(ctx, filepath.Join(root, "nope"), filepath.Join(root, "x")), codes.NotFound, "nope")
	wantCode(t, a.c.MoveDir(ctx, "data", aside), codes.InvalidArgument, "src", "absolute")
	wantCode(t, a.c.MoveDir(ctx, src, ""), codes.InvalidArgument, "dst")

	if err := a.c.RemoveDir(ctx, aside); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(aside); !os.IsNotExist(err) {
		t.Fatalf("not removed: %v", err)
	}
	if err := a.c.RemoveDir(ctx, aside); err != nil {
		t.Fatalf("removing a missing dir: %v", err)
	}
	wantCode(t, a.c.RemoveDir(ctx, "some/rel"), codes.InvalidArgument, "absolute")
	wantCode(t, a.c.RemoveDir(ctx, "/"), codes.InvalidArgument)
	_, err = a.c.ExistDir(ctx, "rel")
	wantCode(t, err, codes.InvalidArgument)
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDataPlayBackAndSpaceUsages(t *testing.T) {
	ctx := context.Background()
	a := startAgent(t, agent.Config{})

	// A storaged's checkpoint, and WAL written after it, dropped in place.
	f := newPlaybackFixture(t)
	dataPath := filepath.Join(t.TempDir(), "storage")
	for _, sub := range []string{"data", "wal"} {
		copyTree(t, filepath.Join(f.storeDir, "B", "data", "1", "h", sub), filepath.Join(dataPath, "nebula", "1", sub))
	}
	parts, err := a.c.DataPlayBack(ctx, "", dataPath, "")
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, &pb.RestoreDataJob{Parts: parts}, dataPath)

	// Space usages: the bytes under nebula/<space>.
	var total int64
	filepath.Walk(filepath.Join(dataPath, "nebula", "1"), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	us, err := a.c.Agent.GetSpaceUsages(ctx, &pb.GetSpaceUsagesRequest{DataPath: dataPath})
	if err != nil {
		t.Fatal(err)
	}
	if len(us.Spaces) != 1 || us.Spaces[0].SpaceId != 1 || us.Spaces[0].Bytes != total || total == 0 {
		t.Errorf("usages %v, want space 1 with %d bytes", us.Spaces, total)
	}

	_, err = a.c.DataPlayBack(ctx, "", filepath.Join(dataPath, "missing"), "")
	wantCode(t, err, codes.NotFound, "missing")
	_, err = a.c.DataPlayBack(ctx, "", "rel", "")
	wantCode(t, err, codes.InvalidArgument, "data_path")
}

// fakeNebulaLite writes a script standing in for nebula-lite that records
// its arguments and answers status like the real one.
func fakeNebulaLite(t *testing.T, dir string) (bin, argsFile string) {
	t.Helper()
	bin = filepath.Join(dir, "nebula-lite")
	argsFile = filepath.Join(dir, "args")
	script := `#!/bin/sh
echo "$@" >> ` + argsFile + `
case "$2" in
status)
	if [ -e "` + dir + `/running" ]; then echo "nebula-$3: running, pid 4242"; exit 0; fi
	echo "nebula-$3: exited"; exit 3 ;;
start) touch "` + dir + `/running"; echo "nebula-$3: started, pid 4242" ;;
stop) if [ -e "` + dir + `/broken" ]; then echo "cannot stop: disk on fire" >&2; exit 1; fi
	rm -f "` + dir + `/running"; echo "nebula-$3: stopped" ;;
esac
case "$1" in
playback) echo '{"parts":[{"space_id":1,"part_id":2,"applied_log_id":42}]}' ;;
esac
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, argsFile
}

func TestServicesAndHealth(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bin, argsFile := fakeNebulaLite(t, dir)
	a := startAgent(t, agent.Config{NebulaLite: bin, Version: "v9.9"})

	h, err := a.c.HealthCheck(ctx)
	if err != nil || h.Status != "ok" || h.Version != "v9.9" {
		t.Fatalf("HealthCheck = %v, %v", h, err)
	}
	st, err := a.c.ServiceStatus(ctx, pb.ServiceRole_STORAGED, "/srv/nebula")
	if err != nil || st.Running {
		t.Fatalf("status before start: %v, %v", st, err)
	}
	if err := a.c.StartService(ctx, pb.ServiceRole_STORAGED, "/srv/nebula"); err != nil {
		t.Fatal(err)
	}
	st, err = a.c.ServiceStatus(ctx, pb.ServiceRole_STORAGED, "/srv/nebula")
	if err != nil || !st.Running || st.Pid != 4242 {
		t.Fatalf("status after start: %v, %v", st, err)
	}
	os.WriteFile(filepath.Join(dir, "broken"), nil, 0o644)
	err = a.c.StopService(ctx, pb.ServiceRole_GRAPHD, "/srv/nebula")
	wantCode(t, err, codes.Internal, "disk on fire", "stop graphd")
	args, _ := os.ReadFile(argsFile)
	if want := "service status storaged --root /srv/nebula\nservice start storaged --root /srv/nebula\n"; !strings.HasPrefix(string(args), want) {
		t.Errorf("nebula-lite called with:\n%s", args)
	}

	// No root and no metad: say so.
	err = a.c.StartService(ctx, pb.ServiceRole_METAD, "")
	wantCode(t, err, codes.FailedPrecondition, "no root given", "without --meta")
	err = a.c.StartService(ctx, pb.ServiceRole_UNKNOWN, "/srv")
	wantCode(t, err, codes.InvalidArgument, "role")

	// StopAgent replies, then the server stops.
	if err := a.c.StopAgent(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("Serve after StopAgent: %v", err)
		}
		a.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("agent still serving after StopAgent")
	}
}

func TestHeartbeatFailureKeepsServing(t *testing.T) {
	ctx := context.Background()
	// Nothing listens on this metad address.
	a := startAgent(t, agent.Config{MetaAddr: "127.0.0.1:1", HeartbeatInterval: 50 * time.Millisecond})
	time.Sleep(300 * time.Millisecond)
	if _, err := a.c.HealthCheck(ctx); err != nil {
		t.Fatal(err)
	}
	logs := a.logs.String()
	if n := strings.Count(logs, "heartbeat to metad failed"); n != 1 {
		t.Errorf("failed heartbeats logged %d times, want once (then quiet):\n%s", n, logs)
	}
	err := a.c.StartService(ctx, pb.ServiceRole_STORAGED, "")
	wantCode(t, err, codes.FailedPrecondition, "no root given", "127.0.0.1:1", "last heartbeat")
}
