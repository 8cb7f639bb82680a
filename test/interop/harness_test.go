//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Ports a nebula-lite host listens on (metad, graphd, storaged, storaged
// admin, agent).
var hostPorts = []int{9559, 9669, 9779, 9780, 8888}

// The checks' address range.
var (
	rangeLo = net.IPv4(127, 0, 6, 0).To4()
	rangeHi = net.IPv4(127, 0, 6, 199).To4()
)

type result struct{ id, name, status, reason string }

// harness runs the checks and owns everything they start.
type harness struct {
	repo, our, upBin, work string
	keep                   bool
	tail                   int
	out                    io.Writer

	mu      sync.Mutex
	results []result
	roots   []string // cluster roots, for cluster down
	downed  map[string]bool
	running map[int]bool // process groups of commands under way
	// cleanDone is closed once cleanup has finished.
	cleanDone chan struct{}
	agents    []*exec.Cmd // upstream agents we started
	cleaned   bool
	// brTmp is upstream br's fixed scratch directory; removed at the end
	// if it was not there before.
	brTmpExisted bool
}

const brTmp = "/tmp/nebula-br"

// skipError marks a check that could not run because an earlier one failed.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// stepError is a failed command: the reason is one line, the rest is
// printed below the check's FAIL line.
type stepError struct {
	reason string
	cmd    string
	exit   string
	output string
}

func (e *stepError) Error() string { return e.reason }

func newHarness() (*harness, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	repo := filepath.Clean(filepath.Join(wd, "..", ".."))
	h := &harness{
		repo:      repo,
		our:       envOr("INTEROP_OUR_BIN", filepath.Join(repo, "bin")),
		upBin:     envOr("INTEROP_BIN", filepath.Join(repo, ".cache", "interop", "bin")),
		work:      os.Getenv("INTEROP_WORK"),
		keep:      os.Getenv("INTEROP_KEEP") == "1",
		tail:      15,
		out:       os.Stdout,
		running:   map[int]bool{},
		cleanDone: make(chan struct{}),
	}
	if n, err := strconv.Atoi(os.Getenv("INTEROP_TAIL")); err == nil && n > 0 {
		h.tail = n
	}
	if h.work == "" {
		if h.work, err = os.MkdirTemp("", "nebula-interop."); err != nil {
			return nil, err
		}
	} else {
		h.keep = true // the caller owns it (run.sh removes it)
	}
	if h.work, err = filepath.Abs(h.work); err != nil {
		return nil, err
	}
	_, err = os.Stat(brTmp)
	h.brTmpExisted = err == nil
	return h, os.MkdirAll(filepath.Join(h.work, "logs"), 0o755)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (h *harness) printf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.out, format, args...)
}

// short abbreviates paths in a command line for the report.
func (h *harness) short(s string) string {
	s = strings.ReplaceAll(s, h.upBin+"/", "$UP/")
	s = strings.ReplaceAll(s, h.work, "$W")
	s = strings.ReplaceAll(s, h.our+"/", "bin/")
	return s
}

// check runs one check and reports it.
func (h *harness) check(id, name string, fn func() (string, error)) bool {
	h.printf("\n[%s] %s\n", id, name)
	start := time.Now()
	reason, err := func() (reason string, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return fn()
	}()
	status := "PASS"
	var se *stepError
	var sk *skipError
	switch {
	case errors.As(err, &sk):
		status, reason = "SKIP", sk.reason
	case err != nil:
		status, reason = "FAIL", oneLine(err.Error())
	}
	h.printf("%s [%s] %s (%.1fs): %s\n", status, id, name, time.Since(start).Seconds(), reason)
	if errors.As(err, &se) && se.cmd != "" {
		h.printf("     command: %s\n", se.cmd)
		if se.exit != "" {
			h.printf("     result:  %s\n", se.exit)
		}
		if strings.TrimSpace(se.output) != "" {
			h.printf("     output (last %d lines):\n", h.tail)
			for _, l := range lastLines(se.output, h.tail) {
				if l = h.short(l); len(l) > 300 {
					l = l[:297] + "..."
				}
				h.printf("       | %s\n", l)
			}
		}
	}
	h.record(result{id, name, status, reason})
	return status == "PASS"
}

func (h *harness) record(r result) {
	h.mu.Lock()
	h.results = append(h.results, r)
	h.mu.Unlock()
	if p := os.Getenv("INTEROP_RESULTS"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintf(f, "check\t%s\t%s\t%s\n", r.id+" "+r.name, r.status, strings.ReplaceAll(r.reason, "\t", " "))
			f.Close()
		}
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:397] + "..."
	}
	return s
}

func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func lastLine(s string) string {
	for _, l := range slicesReverse(strings.Split(strings.TrimSpace(s), "\n")) {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

var usageStart = regexp.MustCompile(`(?m)^Usage:\s*$`)

// stripUsage drops the usage text a cobra command prints after an error.
func stripUsage(s string) string {
	if loc := usageStart.FindStringIndex(s); loc != nil && strings.Contains(s[:loc[0]], "Error:") {
		return s[:loc[0]] + "[usage text cut]\n"
	}
	return s
}

var (
	errorWords   = regexp.MustCompile(`^(Error|error|ERROR|panic|fatal|FATAL)\b|\[ERROR`)
	logrusErr    = regexp.MustCompile(`"level":"(error|fatal|panic)"`)
	firstFailure = regexp.MustCompile(`^(Backup|Restore|Cleanup) failed: `)
	jsonField    = regexp.MustCompile(`"(msg|error)":"((?:[^"\\]|\\.)*)"`)
)

// errorLine picks the line of a command's output that says why it failed:
// the last error line (cobra's "Error: ...", a logrus error entry, a
// panic), else the last line.
func errorLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines { // upstream br: "Backup failed: <cause>, will try to clean ..."
		if l = strings.TrimSpace(l); firstFailure.MatchString(l) {
			return l
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if errorWords.MatchString(l) {
			// "Error:" alone heads the message on the next lines.
			for j := i + 1; strings.HasSuffix(l, ":") && j < len(lines); j++ {
				if next := strings.TrimSpace(lines[j]); next != "" {
					l += " " + next
				}
			}
			return l
		}
		if logrusErr.MatchString(l) {
			var parts []string
			for _, m := range jsonField.FindAllStringSubmatch(l, -1) {
				parts = append(parts, m[2])
			}
			if len(parts) > 0 {
				return strings.Join(parts, ": ")
			}
			return l
		}
	}
	if l := lastLine(s); l != "" {
		return l
	}
	return "no output"
}

func slicesReverse(in []string) []string {
	out := make([]string, 0, len(in))
	for i := len(in) - 1; i >= 0; i-- {
		out = append(out, in[i])
	}
	return out
}

// run executes a command with a timeout, killing its process group when
// it expires (daemons it starts run in their own sessions and are stopped
// by cleanup). It prints a one-line trace and returns stdout and the
// combined output; a failure is a *stepError.
func (h *harness) run(timeout time.Duration, dir string, env []string, name string, args ...string) (stdout, combined string, err error) {
	return h.runCmd(false, timeout, dir, env, name, args...)
}

// runCmd is run; with force it runs even after cleanup began (cleanup's
// own commands).
func (h *harness) runCmd(force bool, timeout time.Duration, dir string, env []string, name string, args ...string) (stdout, combined string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, all bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = io.MultiWriter(&out, lockedWriter{&mu, &all})
	cmd.Stderr = lockedWriter{&mu, &all}
	line := h.short(quoteArgs(append([]string{name}, args...)))
	start := time.Now()
	// Started under the lock, so that cleanup (an interrupt) either sees it
	// running or has already stopped anything from starting.
	h.mu.Lock()
	if h.cleaned && !force {
		h.mu.Unlock()
		return "", "", &stepError{reason: "interrupted: not started: " + line}
	}
	if err = cmd.Start(); err == nil {
		h.running[cmd.Process.Pid] = true
	}
	h.mu.Unlock()
	if err == nil {
		pgid := cmd.Process.Pid
		err = cmd.Wait()
		h.mu.Lock()
		delete(h.running, pgid)
		h.mu.Unlock()
	}
	d := time.Since(start).Seconds()
	stdout, combined = out.String(), all.String()
	shown := line
	if len(shown) > 150 {
		shown = shown[:147] + "..."
	}
	if err == nil {
		h.printf("     $ %s  [ok, %.1fs]\n", shown, d)
		return stdout, combined, nil
	}
	exit := err.Error()
	if ctx.Err() == context.DeadlineExceeded {
		exit = fmt.Sprintf("timed out after %s (killed)", timeout)
	}
	h.printf("     $ %s  [%s, %.1fs]\n", shown, exit, d)
	label := filepath.Base(name)
	if sub := firstArgs(args); sub != "" {
		label += " " + sub
	}
	combined = stripUsage(combined)
	why := errorLine(combined)
	return stdout, combined, &stepError{
		reason: fmt.Sprintf("%s: %s: %s", label, exit, h.short(why)),
		cmd:    line,
		exit:   fmt.Sprintf("%s after %.1fs", exit, d),
		output: combined,
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// firstArgs names the subcommand of a command line (its leading
// non-flag words).
func firstArgs(args []string) string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") || len(out) == 2 {
			break
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

func quoteArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, " \t\n\"'$;()*&|<>\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		b.WriteString(a)
	}
	return b.String()
}

// fail makes a check failure with command details from another error.
func fail(err error, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	var se *stepError
	if errors.As(err, &se) {
		c := *se
		c.reason = reason + ": " + se.reason
		return &c
	}
	if err != nil {
		return errors.New(reason + ": " + err.Error())
	}
	return errors.New(reason)
}

// ---- addresses ----

// hostIPs are base, base+1, ..., all inside the checks' range.
func hostIPs(base string, n int) ([]string, error) {
	ip := net.ParseIP(base).To4()
	if ip == nil {
		return nil, fmt.Errorf("bad address %q", base)
	}
	var out []string
	for i := 0; i < n; i++ {
		a := net.IPv4(ip[0], ip[1], ip[2], ip[3]+byte(i)).To4()
		if bytes.Compare(a, rangeLo) < 0 || bytes.Compare(a, rangeHi) > 0 || int(ip[3])+i > 255 {
			return nil, fmt.Errorf("address %s is outside 127.0.6.0-127.0.6.199", a)
		}
		out = append(out, a.String())
	}
	return out, nil
}

// addrsFree checks that nothing listens on the hosts' addresses (any port),
// nor on a wildcard address at a port the hosts use.
func addrsFree(ips []string) error {
	want := map[string]bool{}
	for _, ip := range ips {
		want[ip] = true
	}
	ports := map[int]bool{}
	for _, p := range hostPorts {
		ports[p] = true
	}
	var busy []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 || fs[3] != "0A" { // LISTEN
				continue
			}
			ip, port, ok := parseProcAddr(fs[1])
			if !ok {
				continue
			}
			if want[ip.String()] || (ip.IsUnspecified() && ports[port]) {
				busy = append(busy, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
			}
		}
	}
	if len(busy) > 0 {
		sort.Strings(busy)
		return fmt.Errorf("address in use, not starting: LISTEN on %s", strings.Join(dedup(busy), ", "))
	}
	// A bind tells what /proc may not.
	for _, ip := range ips {
		for _, p := range hostPorts {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				busy = append(busy, net.JoinHostPort(ip, strconv.Itoa(p))+" ("+err.Error()+")")
				continue
			}
			l.Close()
		}
	}
	if len(busy) > 0 {
		sort.Strings(busy)
		return fmt.Errorf("address in use, not starting: %s", strings.Join(dedup(busy), ", "))
	}
	return nil
}

func dedup(in []string) []string {
	var out []string
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// parseProcAddr decodes /proc/net/tcp{,6}'s "HEXIP:HEXPORT".
func parseProcAddr(s string) (net.IP, int, bool) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, false
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	// Each 32-bit word is in host (little-endian) order.
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseInt(portHex, 16, 32)
	if err != nil {
		return nil, 0, false
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip, int(port), true
}

// ---- clusters ----

type cluster struct {
	name, root, base string
	ips              []string
	meta, graph      string
}

// up starts a nebula-lite cluster of n hosts at base (with our br-agent on
// each host when agents), its addresses checked free first.
func (h *harness) up(name, base string, n int, agents bool) (*cluster, error) {
	ips, err := hostIPs(base, n)
	if err != nil {
		return nil, err
	}
	if err := addrsFree(ips); err != nil {
		return nil, err
	}
	c := &cluster{name: name, root: filepath.Join(h.work, name), base: base, ips: ips,
		meta: ips[0] + ":9559", graph: ips[0] + ":9669"}
	h.mu.Lock()
	h.roots = append(h.roots, c.root)
	h.mu.Unlock()
	args := []string{"cluster", "up", "--root", c.root, "--storaged", strconv.Itoa(n), "--addr-base", base, "--timeout", "60s"}
	if agents {
		args = append(args, "--agents")
	}
	if _, _, err := h.run(120*time.Second, h.work, nil, h.nl(), args...); err != nil {
		return c, fail(err, "cluster %s (%s) not up", name, base)
	}
	return c, nil
}

func (h *harness) nl() string { return filepath.Join(h.our, "nebula-lite") }

// down stops a cluster's services and agents; what a failed stop leaves is
// killed by pid.
func (h *harness) down(c *cluster) {
	if c == nil {
		return
	}
	if _, _, err := h.run(90*time.Second, h.work, nil, h.nl(), "cluster", "down", "--root", c.root); err != nil {
		h.printf("     (cluster down failed: %s)\n", oneLine(err.Error()))
	}
	h.killPidFiles(c.root)
	h.mu.Lock()
	if h.downed == nil {
		h.downed = map[string]bool{}
	}
	h.downed[c.root] = true
	h.mu.Unlock()
}

// killPidFiles kills every live process named by a pid file under root
// whose command line or working directory is inside root.
func (h *harness) killPidFiles(root string) {
	files, _ := filepath.Glob(filepath.Join(root, "*", "pids", "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 || !ownedBy(pid, root) {
			continue
		}
		h.printf("     cleanup: killing pid %d (%s)\n", pid, h.short(f))
		killWait(pid)
	}
}

// ownedBy reports whether a live process runs from dir: its command line
// names it or its working directory is inside it.
func ownedBy(pid int, dir string) bool {
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	if bytes.Contains(cmd, []byte(dir)) {
		return true
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	return err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/"))
}

// killWait sends SIGTERM, then SIGKILL after 5s.
func killWait(pid int) {
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100 && alive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return !(i > 0 && i+2 < len(b) && b[i+2] == 'Z')
}

// cleanup stops everything the checks started: clusters (cluster down, then
// their pid files), upstream agents by pid, and as a last resort any
// process running from the scratch directory. Safe to call twice.
func (h *harness) cleanup() {
	h.mu.Lock()
	if h.cleaned {
		h.mu.Unlock()
		<-h.cleanDone // another caller is at it: wait until it is done
		return
	}
	h.cleaned = true
	defer close(h.cleanDone)
	// Commands still under way (an interrupt): their process groups.
	for pgid := range h.running {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	var roots []string
	for _, r := range h.roots {
		if !h.downed[r] {
			roots = append(roots, r)
		}
	}
	agents := append([]*exec.Cmd(nil), h.agents...)
	h.mu.Unlock()
	h.printf("\n[cleanup] stopping what the checks started\n")
	for _, a := range agents {
		if a.Process != nil && alive(a.Process.Pid) {
			h.printf("     stopping upstream agent pid %d\n", a.Process.Pid)
			killWait(a.Process.Pid)
		}
	}
	for i := len(roots) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(roots[i], "cluster.json")); err == nil {
			h.runCmd(true, 90*time.Second, h.work, nil, h.nl(), "cluster", "down", "--root", roots[i])
		}
	}
	for _, r := range h.roots {
		h.killPidFiles(r)
	}
	for _, pid := range leftovers(h.work) {
		h.printf("     cleanup: killing leftover pid %d running from $W\n", pid)
		killWait(pid)
	}
	if !h.brTmpExisted {
		os.RemoveAll(brTmp)
	}
	if !h.keep {
		os.RemoveAll(h.work)
	}
}

// leftovers are live processes (not this one) running from dir.
func leftovers(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || pid == os.Getppid() {
			continue
		}
		if ownedBy(pid, dir) && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// ---- data ----

const space = "interop"

// load writes the sample graph (200 people, 600 knows edges) through our
// console.
func (h *harness) load(c *cluster) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE SPACE %s (partition_num = 6, replica_factor = 1, vid_type = FIXED_STRING(16));\n", space)
	fmt.Fprintf(&b, "USE %s; CREATE TAG person(name string, age int); CREATE EDGE knows(since int);\n", space)
	const n = 200
	for lo := 0; lo < n; lo += 50 {
		var v, e []string
		for i := lo; i < lo+50; i++ {
			v = append(v, fmt.Sprintf(`"p%d":("person %d", %d)`, i, i, 18+i%60))
			e = append(e, fmt.Sprintf(`"p%d"->"p%d":(%d)`, i, (i+1)%n, 2000+i%25),
				fmt.Sprintf(`"p%d"->"p%d"@1:(%d)`, i, (i*7+3)%n, 1990+i%30),
				fmt.Sprintf(`"p%d"->"p%d"@2:(%d)`, i, (i*13+5)%n, 2010+i%10))
		}
		fmt.Fprintf(&b, "USE %s; INSERT VERTEX person(name, age) VALUES %s;\n", space, strings.Join(v, ", "))
		fmt.Fprintf(&b, "USE %s; INSERT EDGE knows(since) VALUES %s;\n", space, strings.Join(e, ", "))
	}
	f := filepath.Join(h.work, c.name+"-load.ngql")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if _, _, err := h.run(120*time.Second, h.work, nil, h.nl(), "console", "--addr", c.graph, "-f", f); err != nil {
		return fail(err, "load the sample graph into %s", c.name)
	}
	return nil
}

// writeMore changes the space after a backup, so that a restore that
// does nothing cannot pass.
func (h *harness) writeMore(c *cluster) error {
	_, _, err := h.run(60*time.Second, h.work, nil, h.nl(), "console", "--addr", c.graph, "-e",
		fmt.Sprintf(`USE %s; INSERT VERTEX person(name, age) VALUES "after":("written after the backup", 1); DELETE VERTEX "p7" WITH EDGE`, space))
	if err != nil {
		return fail(err, "write to %s after the backup", c.name)
	}
	return nil
}

var fpLine = regexp.MustCompile(`(?m)^fingerprint \S+ (\S+)$`)

// fingerprint is the space's fingerprint, asked until it answers or wait
// passes (a restored cluster may still be starting).
func (h *harness) fingerprint(c *cluster, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		out, _, err := h.run(30*time.Second, h.work, nil, h.nl(), "fingerprint", "--addr", c.graph, "--space", space)
		if err == nil {
			if m := fpLine.FindStringSubmatch(out); m != nil {
				return m[1], nil
			}
			err = &stepError{reason: "no fingerprint line", output: out}
		}
		if time.Now().After(deadline) {
			return "", fail(err, "fingerprint of %s on %s", space, c.name)
		}
		time.Sleep(2 * time.Second)
	}
}

// ---- upstream agents ----

// startUpstreamAgents starts upstream's nebula-agent beside every host of c
// (as `cluster up --agents` starts ours: <ip>:8888, heartbeating to metad
// every second), each in its host's root, logging to logs/nebula-agent.log.
func (h *harness) startUpstreamAgents(c *cluster) error {
	bin := filepath.Join(h.upBin, "nebula-agent@v3.7.1")
	for _, ip := range c.ips {
		root := filepath.Join(c.root, ip)
		logPath := filepath.Join(root, "logs", "nebula-agent.log")
		log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		args := []string{"--agent", ip + ":8888", "--meta", c.meta, "--hbs", "1"}
		cmd := exec.Command(bin, args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		line := h.short(quoteArgs(append([]string{bin}, args...)))
		h.mu.Lock()
		if h.cleaned {
			h.mu.Unlock()
			log.Close()
			return errors.New("interrupted")
		}
		err = cmd.Start()
		if err == nil {
			h.agents = append(h.agents, cmd)
		}
		h.mu.Unlock()
		log.Close()
		if err != nil {
			return fail(err, "start upstream agent on %s", ip)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		h.printf("     $ %s &  [pid %d, log %s]\n", line, cmd.Process.Pid, h.short(logPath))
		deadline := time.Now().Add(15 * time.Second)
		for {
			select {
			case err := <-exited:
				b, _ := os.ReadFile(logPath)
				return &stepError{reason: fmt.Sprintf("upstream agent on %s exited at start (%v): %s", ip, err, h.short(lastLine(string(b)))),
					cmd: line, exit: fmt.Sprint(err), output: string(b)}
			default:
			}
			if conn, err := net.DialTimeout("tcp", ip+":8888", 200*time.Millisecond); err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(logPath)
				return &stepError{reason: fmt.Sprintf("upstream agent on %s does not listen on :8888 after 15s", ip), cmd: line, output: string(b)}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// A few heartbeats, then every agent must still run.
	time.Sleep(3 * time.Second)
	for i, a := range h.agentsOf(c) {
		if !alive(a.Process.Pid) {
			logPath := filepath.Join(c.root, c.ips[i], "logs", "nebula-agent.log")
			b, _ := os.ReadFile(logPath)
			return &stepError{reason: fmt.Sprintf("upstream agent on %s exited after start: %s", c.ips[i], h.short(lastLine(string(b)))),
				cmd: h.short(quoteArgs(a.Args)), output: string(b)}
		}
	}
	return nil
}

// agentsOf are the upstream agents started for c, host order.
func (h *harness) agentsOf(c *cluster) []*exec.Cmd {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*exec.Cmd
	for _, a := range h.agents {
		if a.Dir != "" && strings.HasPrefix(a.Dir, c.root+"/") {
			out = append(out, a)
		}
	}
	return out
}

func (h *harness) stopUpstreamAgents(c *cluster) {
	for _, a := range h.agentsOf(c) {
		if a.Process != nil && alive(a.Process.Pid) {
			h.printf("     stopping upstream agent pid %d\n", a.Process.Pid)
			killWait(a.Process.Pid)
		}
	}
}
