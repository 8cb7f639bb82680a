package br

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
)

// Restores that never lose data: one target, two restores at once; br
// killed at every step and run again; agents dead before and during.
// Clusters here live on 127.0.4.x.

// safetyFixture is a source with two backups of space g (a full one, A,
// and an incremental one, B) and what g held at each.
type safetyFixture struct {
	st         storage
	a, b       string
	fpA, fpB   string
	sourceMeta string
}

func newSafetyFixture(t *testing.T, base string) *safetyFixture {
	t.Helper()
	f := &safetyFixture{st: localStorage(t)}
	src := up(t, base, 3, true, nil)
	s := connect(t, src)
	s.schema("g")
	s.load("g", 0, 1200)
	f.sourceMeta = src.MetaAddr()
	f.a = backupName(t, brOK(t, nil, f.st.flags("backup", "full", "--meta", f.sourceMeta)...))
	f.fpA = s.fingerprint("g")
	s.load("g", 1200, 1500)
	s.Must(`USE g; DELETE VERTEX "v3" WITH EDGE`)
	f.b = backupName(t, brOK(t, nil, f.st.flags("backup", "incr", "--meta", f.sourceMeta)...))
	f.fpB = s.fingerprint("g")
	return f
}

// target is a cluster with data of its own in space g.
func target(t *testing.T, base string) (*cluster.Cluster, string) {
	t.Helper()
	c := up(t, base, 3, true, nil)
	s := connect(t, c)
	s.schema("g")
	s.load("g", 0, 200)
	return c, s.fingerprint("g")
}

// running is a br started in the background whose output is read as it
// comes.
type running struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string
	done  chan result
	start time.Time
}

func brStart(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "br"), args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	r := &running{cmd: cmd, lines: make(chan string, 1000), done: make(chan result, 1), start: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.mu.Lock()
			r.out.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		err := cmd.Wait()
		r.mu.Lock()
		r.done <- result{r.out.String(), err, time.Since(r.start)}
		r.mu.Unlock()
		close(r.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return r
}

// waitLine waits for a line of output containing s.
func (r *running) waitLine(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				res := <-r.done
				r.done <- res
				t.Fatalf("br ended (%v) before printing %q:\n%s", res.err, s, res.out)
			}
			if strings.Contains(l, s) {
				return
			}
		case <-timeout:
			t.Fatalf("br did not print %q in 90s", s)
		}
	}
}

func (r *running) wait() result { res := <-r.done; r.done <- res; return res }

// assertIntact checks a target after a restore ended either way: g holds
// want, every service and agent runs, nothing of the restore is left on
// disk, and no process of the cluster runs outside its pid files.
func assertIntact(t *testing.T, c *cluster.Cluster, want, what string) {
	t.Helper()
	for i, h := range c.Hosts {
		for _, s := range h.Services {
			if c.Running(i, s.Role) == 0 {
				t.Fatalf("%s: %s on %s is down", what, s.Role, h.IP)
			}
		}
		if c.AgentRunning(i) == 0 {
			t.Fatalf("%s: agent on %s is down", what, h.IP)
		}
	}
	if got := connect(t, c).fingerprint("g"); got != want {
		t.Fatalf("%s: g is %s, want %s", what, got, want)
	}
	var left []string
	filepath.WalkDir(c.Root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".br-old-") || strings.Contains(d.Name(), ".br-meta-") ||
			strings.HasSuffix(d.Name(), ".br-restore") || d.Name() == ".br-restore-data") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("%s: the restore left %v", what, left)
	}
	assertNoOrphans(t, c, what)
}

// assertNoOrphans: every process whose command line names the cluster's
// root is a service or agent of its pid files.
func assertNoOrphans(t *testing.T, c *cluster.Cluster, what string) {
	t.Helper()
	known := map[int]bool{}
	for i, h := range c.Hosts {
		for _, s := range h.Services {
			known[c.Running(i, s.Role)] = true
		}
		known[c.AgentRunning(i)] = true
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(c.Root)) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if pid != os.Getpid() && !known[pid] {
			t.Fatalf("%s: orphan process %d: %s", what, pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

func TestConcurrentRestoresOfOneTarget(t *testing.T) {
	f := newSafetyFixture(t, "127.0.4.10")
	dst, _ := target(t, "127.0.4.20")
	args := f.st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", f.a, "--state-dir", t.TempDir())
	// The first pauses once it holds the lease; the second starts then.
	first := brStart(t, []string{"NEBULA_BR_TEST_PAUSE_AT=stop"}, args...)
	first.waitLine(t, "test hook: pausing at step 5 (stop)")
	second := brRun(t, nil, args...)
	t.Logf("second restore refused in %s", second.dur)
	if second.err == nil || !strings.Contains(second.out, "is being restored from backup "+f.a+" by br pid "+strconv.Itoa(first.cmd.Process.Pid)) {
		t.Fatalf("second restore while one runs: %v\n%s", second.err, second.out)
	}
	// A backup of the target is refused too.
	bk := brRun(t, nil, f.st.flags("backup", "full", "--meta", dst.MetaAddr())...)
	if bk.err == nil || !strings.Contains(bk.out, "cannot back up now") {
		t.Fatalf("backup during a restore: %v\n%s", bk.err, bk.out)
	}
	if r := first.wait(); r.err != nil {
		t.Fatalf("first restore: %v\n%s", r.err, r.out)
	}
	assertIntact(t, dst, f.fpA, "after the first restore")

	// Both at the same moment: exactly one proceeds.
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = brRun(t, nil, f.st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", f.b, "--state-dir", t.TempDir())...)
		}()
	}
	wg.Wait()
	if (res[0].err == nil) == (res[1].err == nil) {
		t.Fatalf("two restores at once: want exactly one to succeed:\n1: %v %s\n2: %v %s", res[0].err, res[0].out, res[1].err, res[1].out)
	}
	loser := res[0]
	if loser.err == nil {
		loser = res[1]
	}
	if !strings.Contains(loser.out, "being restored from backup "+f.b) {
		t.Fatalf("the refused restore does not name the running one:\n%s", loser.out)
	}
	assertIntact(t, dst, f.fpB, "after two restores at once")
}

// TestBrKilledAtEveryStep kills br (SIGKILL, from a test hook) as each step
// begins and runs the same command again, which must finish the restore;
// and, for some steps, undoes it with --abort instead.
func TestBrKilledAtEveryStep(t *testing.T) {
	f := newSafetyFixture(t, "127.0.4.30")
	dst, old := target(t, "127.0.4.40")
	state := t.TempDir()
	current := old
	restore := func(env []string, name string, extra ...string) result {
		args := append(f.st.flags("restore", "full", "--meta", dst.MetaAddr(), "--state-dir", state), extra...)
		if name != "" {
			args = append(args, "--name", name)
		}
		return brRun(t, env, args...)
	}
	crash := func(step, name string) {
		t.Helper()
		r := restore([]string{"NEBULA_BR_TEST_CRASH_AT=" + step}, name)
		if r.err == nil || !strings.Contains(r.out, "test hook: crashing at step") {
			t.Fatalf("crash at %s: %v\n%s", step, r.err, r.out)
		}
	}
	for i, step := range []string{"stop", "set aside", "meta", "data", "playback", "start", "verify", "commit"} {
		name, want := f.a, f.fpA
		if i%2 == 1 {
			name, want = f.b, f.fpB
		}
		crash(step, name)
		// Another backup's restore is refused while this one is recorded.
		other := map[string]string{f.a: f.b, f.b: f.a}[name]
		if r := restore(nil, other); r.err == nil || !strings.Contains(r.out, "interrupted restore of backup "+name) {
			t.Fatalf("after a crash at %s, a restore of another backup: %v\n%s", step, r.err, r.out)
		}
		r := restore(nil, name)
		if r.err != nil {
			t.Fatalf("rerun after a crash at %s: %v\n%s", step, r.err, r.out)
		}
		if !strings.Contains(r.out, "resumed and done") {
			t.Fatalf("rerun after a crash at %s does not say it resumed:\n%s", step, r.out)
		}
		assertIntact(t, dst, want, "rerun after a crash at "+step)
		current = want
	}
	// --abort puts the old data back, from any step.
	for _, step := range []string{"meta", "data", "verify"} {
		crash(step, f.a)
		r := restore(nil, "", "--abort")
		if r.err != nil || !strings.Contains(r.out, "rolled back") {
			t.Fatalf("--abort after a crash at %s: %v\n%s", step, r.err, r.out)
		}
		assertIntact(t, dst, current, "--abort after a crash at "+step)
	}
	// --resume needs no name; with nothing recorded it says so.
	crash("playback", f.a)
	if r := restore(nil, "", "--resume"); r.err != nil {
		t.Fatalf("--resume: %v\n%s", r.err, r.out)
	}
	assertIntact(t, dst, f.fpA, "--resume after a crash at playback")
	if r := restore(nil, "", "--resume"); r.err == nil || !strings.Contains(r.out, "no interrupted restore") {
		t.Fatalf("--resume with nothing recorded: %v\n%s", r.err, r.out)
	}
}

func TestAgentDeadBeforeAndDuringRestore(t *testing.T) {
	f := newSafetyFixture(t, "127.0.4.50")
	dst, old := target(t, "127.0.4.60")
	state := t.TempDir()
	args := f.st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", f.a, "--state-dir", state)

	// Dead before: refused before anything is stopped, naming the agent.
	if err := dst.KillAgent(2); err != nil {
		t.Fatal(err)
	}
	r := brRun(t, nil, args...)
	if r.err == nil || !strings.Contains(r.out, dst.Hosts[2].Agent) {
		t.Fatalf("restore with a dead agent: %v\n%s", r.err, r.out)
	}
	t.Logf("refused in %s: %s", r.dur, lastLine(r.out))
	if err := dst.StartAgent(2); err != nil {
		t.Fatal(err)
	}
	assertIntact(t, dst, old, "after a refused restore")

	// Killed during the data step: br gives up naming the host, the
	// rollback cannot finish there and says how to; --abort finishes it
	// once the agent is back.
	run := brStart(t, []string{"NEBULA_BR_TEST_PAUSE_AT=data"}, args...)
	run.waitLine(t, "test hook: pausing at step 3 (data)")
	if err := dst.KillAgent(2); err != nil {
		t.Fatal(err)
	}
	r = run.wait()
	if r.err == nil || !strings.Contains(r.out, dst.Hosts[2].Agent) || !strings.Contains(r.out, "--abort") {
		t.Fatalf("restore with an agent killed mid-restore: %v\n%s", r.err, r.out)
	}
	t.Logf("failed in %s: %s", r.dur, lastLine(r.out))
	if err := dst.StartAgent(2); err != nil {
		t.Fatal(err)
	}
	r = brRun(t, nil, f.st.flags("restore", "full", "--meta", dst.MetaAddr(), "--abort", "--state-dir", state)...)
	if r.err != nil || !strings.Contains(r.out, "rolled back") {
		t.Fatalf("--abort: %v\n%s", r.err, r.out)
	}
	assertIntact(t, dst, old, "--abort after an agent was killed mid-restore")

	// And the restore then succeeds.
	brOK(t, nil, args...)
	assertIntact(t, dst, f.fpA, "restore after the agent came back")

	// metad killed (SIGKILL) while the storage hosts download: the start
	// step starts it again on its restored data.
	run = brStart(t, []string{"NEBULA_BR_TEST_PAUSE_AT=data", "NEBULA_BR_TEST_PAUSE_FOR=1s"},
		f.st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", f.b, "--state-dir", state)...)
	run.waitLine(t, "test hook: pausing at step 3 (data)")
	if err := dst.Kill(0, "metad"); err != nil {
		t.Fatal(err)
	}
	if r = run.wait(); r.err != nil {
		t.Fatalf("restore with metad killed mid-restore: %v\n%s", r.err, r.out)
	}
	assertIntact(t, dst, f.fpB, "restore with metad killed mid-restore")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
