package lite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/nebula/graphtest"
)

// These tests own 127.0.6.200-127.0.6.254 (other tests use other ranges).

// ownAddrs fails the test at once unless every port a cluster of n hosts
// from base binds is free.
func ownAddrs(t *testing.T, base string, n int) {
	t.Helper()
	ip := net.ParseIP(base).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] != 6 || ip[3] < 200 || int(ip[3])+n-1 > 254 {
		t.Fatalf("%s+%d is outside 127.0.6.200-127.0.6.254", base, n)
	}
	for i := range n {
		host := fmt.Sprintf("127.0.6.%d", int(ip[3])+i)
		for _, port := range []int{cluster.MetaPort, cluster.GraphPort, cluster.StoragePort - 1, cluster.StoragePort, cluster.StoragePort + 1} {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				t.Fatalf("address %s:%d is not free: %v", host, port, err)
			}
			l.Close()
		}
	}
}

// agentRun runs `bash -c "cd ROOT && CMD"` as nebula-agent does and
// returns stdout, stderr and the exit status.
func agentRun(t *testing.T, root, command string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", fmt.Sprintf("cd %s && %s", root, command))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// agentStatus judges `scripts/nebula.service status ROLE` as nebula-agent
// v3.7.1 does: a failing command is an error, then "Exit" in stdout is
// EXITED, "Run" is RUNNING, anything else an error.
func agentStatus(t *testing.T, root, role string) string {
	t.Helper()
	out, errs, code := agentRun(t, root, "scripts/nebula.service status "+role)
	switch {
	case code != 0:
		t.Fatalf("status %s in %s: exit status %d: %s%s", role, root, code, out, errs)
	case strings.Contains(out, "Exit"):
		return "EXITED"
	case strings.Contains(out, "Run"):
		return "RUNNING"
	}
	t.Fatalf("status %s in %s: unrecognized output %q", role, root, out)
	return ""
}

var runningRE = regexp.MustCompile(`^\[INFO\] nebula-(metad|storaged|graphd)\([^)]+\): Running as (\d+), Listening on (\d+)$`)

// statusLines checks `status ROLE` prints one upstream line per role, each
// running with the cluster's pid and port, or exited, and exits 0.
func statusLines(t *testing.T, c *cluster.Cluster, host int, arg string, roles []string, running bool) {
	t.Helper()
	root := c.Hosts[host].Root
	out, errs, code := agentRun(t, root, "scripts/nebula.service status "+arg)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || errs != "" || len(lines) != len(roles) {
		t.Fatalf("status %s on %s: exit %d, stdout %q, stderr %q; want %d line(s)", arg, c.Hosts[host].IP, code, out, errs, len(roles))
	}
	for i, role := range roles {
		if !running {
			if lines[i] != "[INFO] nebula-"+role+"(dev): Exited" {
				t.Errorf("status %s line %d: %q, want nebula-%s exited", arg, i, lines[i], role)
			}
			continue
		}
		m := runningRE.FindStringSubmatch(lines[i])
		_, port, _ := net.SplitHostPort(addrOf(c, host, role))
		if m == nil || m[1] != role || m[2] != strconv.Itoa(c.Running(host, role)) || m[3] != port {
			t.Errorf("status %s line %d: %q, want nebula-%s running as %d on %s", arg, i, lines[i], role, c.Running(host, role), port)
		}
	}
}

func addrOf(c *cluster.Cluster, host int, role string) string {
	for _, s := range c.Hosts[host].Services {
		if s.Role == role {
			return s.Addr
		}
	}
	return ""
}

func waitReady(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestNebulaServiceScriptAsUpstreamAgent drives scripts/nebula.service of a
// `cluster up` root exactly as nebula-agent v3.7.1 does.
func TestNebulaServiceScriptAsUpstreamAgent(t *testing.T) {
	const base = "127.0.6.200"
	ownAddrs(t, base, 2)
	c := up(t, base, 2, nil)
	root := c.Hosts[0].Root

	for _, role := range []string{"metad", "storaged", "graphd"} {
		if got := agentStatus(t, root, role); got != "RUNNING" {
			t.Fatalf("%s: %s before stop", role, got)
		}
		statusLines(t, c, 0, role, []string{role}, true)
		old := c.Running(0, role)

		out, errs, code := agentRun(t, root, "scripts/nebula.service stop "+role)
		if code != 0 || out != "[INFO] Stopping nebula-"+role+"...\n[INFO] Done\n" || errs != "" {
			t.Fatalf("stop %s: exit %d, stdout %q, stderr %q", role, code, out, errs)
		}
		if pid := c.Running(0, role); pid != 0 {
			t.Fatalf("%s still runs as %d after stop", role, pid)
		}
		if got := agentStatus(t, root, role); got != "EXITED" {
			t.Fatalf("%s: %s after stop", role, got)
		}
		statusLines(t, c, 0, role, []string{role}, false)

		out, errs, code = agentRun(t, root, "scripts/nebula.service start "+role)
		if code != 0 || out != "[INFO] Starting nebula-"+role+"...\n[INFO] Done\n" || errs != "" {
			t.Fatalf("start %s: exit %d, stdout %q, stderr %q", role, code, out, errs)
		}
		if got := agentStatus(t, root, role); got != "RUNNING" {
			t.Fatalf("%s: %s after start", role, got)
		}
		if pid := c.Running(0, role); pid == 0 || pid == old {
			t.Fatalf("%s after start: pid %d (was %d)", role, pid, old)
		}
		statusLines(t, c, 0, role, []string{role}, true)

		// As NebulaGraph's script: starting a running daemon fails.
		out, errs, code = agentRun(t, root, "scripts/nebula.service start "+role)
		if want := fmt.Sprintf("[ERROR] nebula-%s already running: %d\n", role, c.Running(0, role)); code != 1 || errs != want {
			t.Errorf("second start %s: exit %d, stdout %q, stderr %q; want %q", role, code, out, errs, want)
		}
	}
	waitReady(t, c)

	// A storaged-only host: its role, all (its roles only), and a role it
	// has no flag file for (an error, as NebulaGraph's script).
	other := c.Hosts[1].Root
	if got := agentStatus(t, other, "storaged"); got != "RUNNING" {
		t.Fatalf("host 1 storaged: %s", got)
	}
	statusLines(t, c, 1, "all", []string{"storaged"}, true)
	if _, errs, code := agentRun(t, other, "scripts/nebula.service status metad"); code != 1 || errs != "[ERROR] "+filepath.Join(other, "etc", "nebula-metad.conf")+" not found\n" {
		t.Errorf("status of a role without flag file: exit %d, stderr %q", code, errs)
	}

	// all: stop, status, start.
	all := []string{"metad", "storaged", "graphd"}
	out, errs, code := agentRun(t, root, "scripts/nebula.service stop all")
	if code != 0 || strings.Count(out, "[INFO] Done\n") != 3 || errs != "" {
		t.Fatalf("stop all: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	statusLines(t, c, 0, "all", all, false)
	for _, role := range all {
		if got := agentStatus(t, root, role); got != "EXITED" {
			t.Errorf("%s: %s after stop all", role, got)
		}
	}
	out, errs, code = agentRun(t, root, "scripts/nebula.service start all")
	if code != 0 || strings.Count(out, "[INFO] Done\n") != 3 || errs != "" {
		t.Fatalf("start all: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	statusLines(t, c, 0, "all", all, true)
	waitReady(t, c)

	// kill, restart, -v and -c.
	out, _, code = agentRun(t, root, "scripts/nebula.service -v kill graphd")
	if code != 0 || !regexp.MustCompile(`^\[INFO\] Force killing nebula-graphd\.\.\.\n\[INFO\] Send SIGKILL to \d+\n\[INFO\] Done\n$`).MatchString(out) {
		t.Errorf("kill graphd: exit %d, stdout %q", code, out)
	}
	if got := agentStatus(t, root, "graphd"); got != "EXITED" {
		t.Errorf("graphd: %s after kill", got)
	}
	out, errs, code = agentRun(t, root, "scripts/nebula.service restart graphd")
	if code != 0 || out != "[INFO] Stopping nebula-graphd...\n[INFO] Done\n[INFO] Starting nebula-graphd...\n[INFO] Done\n" {
		t.Errorf("restart graphd: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	out, errs, code = agentRun(t, root, "scripts/nebula.service -v -c etc/nebula-graphd.conf status graphd")
	if code != 0 || !runningRE.MatchString(strings.TrimSuffix(out, "\n")) {
		t.Errorf("-v -c status graphd: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// Bad command lines: usage, exit 1.
	for _, args := range []string{"", "status", "status nosuch", "reload metad"} {
		if out, _, code := agentRun(t, root, "scripts/nebula.service "+args); code != 1 || !strings.HasPrefix(out, "Usage: ") {
			t.Errorf("nebula.service %s: exit %d, stdout %q", args, code, out)
		}
	}
	waitReady(t, c)
}

type playbackParts struct {
	Parts []struct {
		SpaceID      int32 `json:"space_id"`
		PartID       int32 `json:"part_id"`
		AppliedLogID int64 `json:"applied_log_id"`
	} `json:"parts"`
}

// TestDbPlaybackAsUpstreamAgent runs bin/db_playback of a `cluster up` root
// as nebula-agent v3.7.1 does, on the data path of a storaged killed with
// SIGKILL (its engine lost what it had not flushed; the WALs hold it).
func TestDbPlaybackAsUpstreamAgent(t *testing.T) {
	const base = "127.0.6.210"
	ownAddrs(t, base, 1)
	c := up(t, base, 1, nil)
	root := c.Hosts[0].Root
	data := filepath.Join(root, "data", "storage")
	s := graphtest.Connect(t, c.GraphAddr())
	s.Must(`CREATE SPACE pb (partition_num = 6, replica_factor = 1, vid_type = FIXED_STRING(8))`)
	s.Must(`USE pb; CREATE TAG t(n int)`)
	const writes = 40 // one part each
	for i := range writes {
		s.Must(fmt.Sprintf(`USE pb; INSERT VERTEX t(n) VALUES "v%d":(%d)`, i, i))
	}
	before, n := s.Fingerprint("pb")
	if n != writes {
		t.Fatalf("%d vertices, want %d", n, writes)
	}

	upstream := fmt.Sprintf("bin/db_playback --db_path=%s --playback_meta_server=%s", data, c.MetaAddr())

	// storaged runs: the engine is locked; the error names the path.
	out, errs, code := agentRun(t, root, upstream)
	if code != 1 || !strings.Contains(errs, data) || !strings.Contains(errs, "locked") {
		t.Fatalf("db_playback while storaged runs: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	if out, errs, code := agentRun(t, root, "scripts/nebula.service kill storaged"); code != 0 {
		t.Fatalf("kill storaged: exit %d, %s%s", code, out, errs)
	}
	if got := agentStatus(t, root, "storaged"); got != "EXITED" {
		t.Fatalf("storaged: %s after kill", got)
	}
	out, errs, code = agentRun(t, root, upstream+" --json")
	var got playbackParts
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("db_playback --json: exit %d, %v, stdout %q, stderr %q", code, err, out, errs)
	}
	var sum int64
	for i, p := range got.Parts {
		if p.SpaceID != got.Parts[0].SpaceID || p.PartID != int32(i+1) {
			t.Errorf("part %d: %+v", i, p)
		}
		sum += p.AppliedLogID
	}
	// Every write went to one part and took one log id.
	if len(got.Parts) != 6 || sum != writes {
		t.Fatalf("db_playback --json: %d parts, applied ids sum to %d; want 6 parts, %d: %s", len(got.Parts), sum, writes, out)
	}
	// Upstream's own command line (without --json) succeeds; again it finds
	// the same ids.
	if out, errs, code := agentRun(t, root, upstream); code != 0 || !strings.Contains(out, "played back 6 part(s)") {
		t.Fatalf("db_playback: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	out, _, _ = agentRun(t, root, upstream+" --json")
	var again playbackParts
	if json.Unmarshal([]byte(out), &again); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("second playback: %+v, first %+v", again, got)
	}

	if out, errs, code := agentRun(t, root, "scripts/nebula.service start storaged"); code != 0 {
		t.Fatalf("start storaged: exit %d, %s%s", code, out, errs)
	}
	waitReady(t, c)
	if after, _ := graphtest.Connect(t, c.GraphAddr()).Fingerprint("pb"); after != before {
		t.Errorf("fingerprint after kill, playback and start: %s, before %s", after, before)
	}
}
