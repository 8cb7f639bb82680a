// Package br tests the br command and br-agent end to end: real nebula-lite
// clusters on loopback (each host its own 127.0.0.x address with agents on
// :8888), real MinIO built from source, and local directories.
package br

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/graphtest"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
	"github.com/nebula-open/nebula-br/internal/testbin"
)

var binDir string

func TestMain(m *testing.M) {
	binDir = testbin.MustBuild("nebula-lite", "br-agent", "br")
	code := m.Run()
	miniotest.Cleanup()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// up starts a cluster of n storage hosts from base (e.g. "127.0.0.130").
func up(t *testing.T, base string, n int, agents bool, flags map[string][]string) *cluster.Cluster {
	t.Helper()
	return upSpec(t, cluster.Spec{Storaged: n, AddrBase: base, Agents: agents, Flags: flags})
}

// upSpec starts the cluster spec describes, in a temporary root, with the
// binaries TestMain built; it is taken down when the test ends.
func upSpec(t *testing.T, spec cluster.Spec) *cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	spec.Root = t.TempDir()
	spec.Binary, spec.AgentBinary = filepath.Join(binDir, "nebula-lite"), filepath.Join(binDir, "br-agent")
	c, err := cluster.Up(ctx, spec)
	if c != nil {
		t.Cleanup(func() {
			if t.Failed() {
				dumpLogs(t, c)
			}
			c.Down()
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dumpLogs(t *testing.T, c *cluster.Cluster) {
	for _, h := range c.Hosts {
		logs, _ := filepath.Glob(filepath.Join(h.Root, "logs", "*"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			t.Logf("--- %s\n%s", l, strings.Join(lines, "\n"))
		}
	}
}

// brRun runs br; it returns stdout+stderr and the error.
type result struct {
	out string
	err error
	dur time.Duration
}

func brRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "br"), args...)
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	return result{buf.String(), err, time.Since(start)}
}

func brOK(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := brRun(t, env, args...)
	if r.err != nil {
		t.Fatalf("br %s: %v\n%s", strings.Join(args, " "), r.err, r.out)
	}
	return r.out
}

var nameRE = regexp.MustCompile(`(?m)^BACKUP_\d{4}(_\d{2}){5}$`)

func backupName(t *testing.T, out string) string {
	t.Helper()
	n := nameRE.FindString(out)
	if n == "" {
		t.Fatalf("no backup name in output:\n%s", out)
	}
	return n
}

// session adds the schema and data these tests use to a graphd session.
type session struct{ *graphtest.Session }

func connect(t *testing.T, c *cluster.Cluster) *session {
	t.Helper()
	return &session{graphtest.Connect(t, c.GraphAddr())}
}

func (s *session) fingerprint(space string) string {
	s.T.Helper()
	return s.FingerprintString(space)
}

func (s *session) spaces() []string {
	s.T.Helper()
	resp, err := s.G.Execute(context.Background(), "SHOW SPACES")
	if err != nil {
		s.T.Fatal(err)
	}
	var out []string
	for _, r := range resp.Data.Rows {
		out = append(out, string(r.Values[0].SVal))
	}
	return out
}

func (s *session) schema(space string) {
	s.Must(fmt.Sprintf("CREATE SPACE %s (partition_num = 6, vid_type = FIXED_STRING(12)); USE %s; CREATE TAG p(name string, n int); CREATE EDGE r(w int)", space, space))
}

// load writes vertices [from, to) and three edges for each.
func (s *session) load(space string, from, to int) {
	s.Must("USE " + space)
	for lo := from; lo < to; lo += 250 {
		var v, e strings.Builder
		for i := lo; i < min(lo+250, to); i++ {
			if i > lo {
				v.WriteByte(',')
				e.WriteByte(',')
			}
			fmt.Fprintf(&v, `"v%d":("n%d", %d)`, i, i, i)
			fmt.Fprintf(&e, `"v%d"->"v%d":(%d),"v%d"->"v%d"@2:(%d),"v%d"->"v%d":(%d)`, i, i+1, i, i, i+3, i, i, i*7%to, i)
		}
		s.Must("INSERT VERTEX p(name, n) VALUES " + v.String())
		s.Must("INSERT EDGE r(w) VALUES " + e.String())
	}
}

// storage is where a test's backups go, with br's flags and environment.
type storage struct {
	uri  string
	args []string
	env  []string
	keys []string // secrets that must never show
}

func (st storage) flags(extra ...string) []string {
	return append(append(extra, "--storage", st.uri), st.args...)
}

func localStorage(t *testing.T) storage {
	return storage{uri: "local://" + t.TempDir()}
}

// s3Storage gives keys on the command line (as the reference page does),
// the way that is easiest to leak.
func s3Storage(t *testing.T) storage {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	return storage{
		uri:  "s3://" + bucket + "/backups",
		args: []string{"--s3.access_key", srv.AccessKey, "--s3.secret_key", srv.SecretKey, "--s3.region", "us-east-1", "--s3.endpoint", srv.Endpoint},
		keys: []string{srv.AccessKey, srv.SecretKey},
	}
}

func TestChainRestoresEveryLink(t *testing.T) {
	for _, kind := range []string{"local", "s3"} {
		t.Run(kind, func(t *testing.T) {
			base := map[string]string{"local": "127.0.0.130", "s3": "127.0.0.140"}[kind]
			st := localStorage(t)
			if kind == "s3" {
				st = s3Storage(t)
			}
			src := up(t, base, 3, true, nil)
			s := connect(t, src)
			s.schema("g")
			s.load("g", 0, 1500)

			meta := src.MetaAddr()
			var names, prints []string
			out := brOK(t, st.env, st.flags("backup", "full", "--meta", meta)...)
			names, prints = append(names, backupName(t, out)), append(prints, s.fingerprint("g"))
			// Second link: more data, a deletion, and a space created since the base.
			s.load("g", 1500, 2000)
			s.Must(`USE g; DELETE VERTEX "v7" WITH EDGE`)
			s.schema("late")
			s.load("late", 0, 300)
			out = brOK(t, st.env, st.flags("backup", "incr", "--meta", meta)...)
			names, prints = append(names, backupName(t, out)), append(prints, s.fingerprint("g"))
			lateAt1 := s.fingerprint("late")
			s.load("g", 2000, 2200)
			s.load("late", 300, 400)
			// The reference page's spelling of an incremental backup.
			out = brOK(t, st.env, st.flags("incr", "full", "--meta", meta)...)
			names, prints = append(names, backupName(t, out)), append(prints, s.fingerprint("g"))
			lateAt2 := s.fingerprint("late")

			show := brOK(t, st.env, st.flags("show")...)
			for _, n := range names {
				if !regexp.MustCompile(n + `.*complete`).MatchString(show) {
					t.Fatalf("show does not list %s as complete:\n%s", n, show)
				}
			}
			if out := brOK(t, st.env, st.flags("verify", "--name", names[2])...); !strings.Contains(out, "intact") {
				t.Fatalf("verify: %s", out)
			}
			for i, name := range names {
				dst := up(t, fmt.Sprintf("127.0.0.%d", 150+10*i+map[string]int{"local": 0, "s3": 5}[kind]), 3, true, nil)
				brOK(t, st.env, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
				d := connect(t, dst)
				if got := d.fingerprint("g"); got != prints[i] {
					t.Fatalf("restore of link %d (%s): fingerprint %s, source had %s", i, name, got, prints[i])
				}
				if i >= 1 {
					want := map[int]string{1: lateAt1, 2: lateAt2}[i]
					if got := d.fingerprint("late"); got != want {
						t.Fatalf("restore of link %d: space created since the base: %s, want %s", i, got, want)
					}
				}
				// The restored cluster takes writes.
				d.Must(`USE g; INSERT VERTEX p(name, n) VALUES "new":("x", 1)`)
			}
			// The source was never touched.
			if got := s.fingerprint("g"); got != prints[2] {
				t.Fatalf("source changed: %s, want %s", got, prints[2])
			}
			if kind == "s3" {
				assertNoSecrets(t, st, src)
			}
		})
	}
}

func TestPerSpaceBackup(t *testing.T) {
	st := localStorage(t)
	src := up(t, "127.0.0.200", 2, true, nil)
	s := connect(t, src)
	s.schema("a")
	s.schema("b")
	s.load("a", 0, 400)
	s.load("b", 0, 200)
	name := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr(), "--spaces", "a")...))
	dst := up(t, "127.0.0.205", 2, true, nil)
	brOK(t, nil, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
	d := connect(t, dst)
	if got, want := d.fingerprint("a"), s.fingerprint("a"); got != want {
		t.Fatalf("space a: %s, want %s", got, want)
	}
	if sp := d.spaces(); len(sp) != 1 || sp[0] != "a" {
		t.Fatalf("restored spaces %v, want only a", sp)
	}
}

func assertNoSecrets(t *testing.T, st storage, clusters ...*cluster.Cluster) {
	t.Helper()
	var files []string
	for _, c := range clusters {
		for _, h := range c.Hosts {
			logs, _ := filepath.Glob(filepath.Join(h.Root, "logs", "*"))
			files = append(files, logs...)
		}
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, k := range st.keys {
			if bytes.Contains(b, []byte(k)) {
				t.Errorf("%s contains a credential", f)
			}
		}
	}
}

func TestS3FaultsAreClearAndFast(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.Bucket(t, "faults")
	src := up(t, "127.0.0.210", 1, true, nil)
	connect(t, src).schema("f")
	good := []string{"--s3.region", "us-east-1", "--s3.endpoint", srv.Endpoint}
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"wrong secret", append([]string{"--storage", "s3://" + bucket, "--s3.access_key", srv.AccessKey, "--s3.secret_key", "wrong-secret-123"}, good...), nil, "credentials rejected"},
		{"missing bucket", append([]string{"--storage", "s3://no-such-bucket", "--s3.access_key", srv.AccessKey, "--s3.secret_key", srv.SecretKey}, good...), nil, "does not exist"},
		{"unreachable", []string{"--storage", "s3://" + bucket, "--s3.access_key", srv.AccessKey, "--s3.secret_key", srv.SecretKey, "--s3.region", "us-east-1", "--s3.endpoint", "http://127.0.0.1:1"}, nil, "cannot reach"},
		{"env keys, wrong", append([]string{"--storage", "s3://" + bucket}, good...), []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=bad-env-secret-42"}, "credentials rejected"},
	}
	for _, tc := range cases {
		r := brRun(t, tc.env, append([]string{"backup", "full", "--meta", src.MetaAddr()}, tc.args...)...)
		if r.err == nil || !strings.Contains(r.out, tc.want) {
			t.Errorf("%s: err %v, output %q, want it to say %q", tc.name, r.err, r.out, tc.want)
		}
		if r.dur > 15*time.Second {
			t.Errorf("%s: took %s to fail", tc.name, r.dur)
		}
		for _, secret := range []string{srv.SecretKey, "wrong-secret-123", "bad-env-secret-42"} {
			if strings.Contains(r.out, secret) {
				t.Errorf("%s: output shows a secret: %s", tc.name, r.out)
			}
		}
	}
	// Env credentials that are right work (no keys on the command line).
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey}
	brOK(t, env, append([]string{"backup", "full", "--meta", src.MetaAddr(), "--storage", "s3://" + bucket}, good...)...)
}

func TestClusterWithoutAgents(t *testing.T) {
	src := up(t, "127.0.0.215", 1, false, nil)
	r := brRun(t, nil, "backup", "full", "--meta", src.MetaAddr(), "--storage", "local://"+t.TempDir())
	if r.err == nil || !strings.Contains(r.out, "br-agent") {
		t.Fatalf("backup without agents: %v %s", r.err, r.out)
	}
}

func TestDamagedBackupIsNamedAndRefused(t *testing.T) {
	dir := t.TempDir()
	st := storage{uri: "local://" + dir}
	src := up(t, "127.0.0.220", 2, true, nil)
	s := connect(t, src)
	s.schema("d")
	s.load("d", 0, 500)
	name := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...))
	dst := up(t, "127.0.0.225", 2, true, nil)
	d := connect(t, dst)
	d.schema("keep")
	d.load("keep", 0, 50)
	before := d.fingerprint("keep")

	ssts, _ := filepath.Glob(filepath.Join(dir, name, "data", "*", "*", "data.sst")) // kept per part
	if len(ssts) < 2 {
		t.Fatalf("want at least 2 sst objects, got %v", ssts)
	}
	b, _ := os.ReadFile(ssts[0])
	b[len(b)/2] ^= 0xff
	os.WriteFile(ssts[0], b, 0o644)
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }

	r := brRun(t, nil, st.flags("verify", "--name", name)...)
	if r.err == nil || !strings.Contains(r.out, "CORRUPT  "+rel(ssts[0])) {
		t.Fatalf("verify does not name the corrupt object: %v\n%s", r.err, r.out)
	}
	// A corrupt object is caught while downloading, beside the live data: the
	// target is never stopped and keeps its data.
	r = brRun(t, nil, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
	if r.err == nil || !strings.Contains(r.out, "checksum") {
		t.Fatalf("restore of a corrupt backup: %v\n%s", r.err, r.out)
	}
	waitServing(t, dst)
	d = connect(t, dst)
	if got := d.fingerprint("keep"); got != before {
		t.Fatalf("target changed by a failed restore: %s, want %s", got, before)
	}
	// A missing object is caught before the target is touched.
	os.Remove(ssts[1])
	r = brRun(t, nil, st.flags("verify", "--name", name)...)
	if r.err == nil || !strings.Contains(r.out, "MISSING  "+rel(ssts[1])) {
		t.Fatalf("verify does not name the missing object: %v\n%s", r.err, r.out)
	}
	r = brRun(t, nil, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
	if r.err == nil || !strings.Contains(r.out, "missing") {
		t.Fatalf("restore of a backup with a missing object: %v\n%s", r.err, r.out)
	}
	if got := d.fingerprint("keep"); got != before {
		t.Fatalf("target changed: %s, want %s", got, before)
	}
}

func waitServing(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// A backup kept per host (its agents offer only nebula-agent's API, which
// cannot export per part) restores only into as many storage hosts.
func TestPerHostBackupNeedsAsManyHosts(t *testing.T) {
	st := localStorage(t)
	src := upUpstreamAgents(t, "127.0.0.230", 2)
	connect(t, src).schema("x")
	name := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...))
	dst := up(t, "127.0.0.235", 3, true, nil)
	r := brRun(t, nil, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
	if r.err == nil || !strings.Contains(r.out, "keeps each host's data together") || !strings.Contains(r.out, "restores only into 2 storage hosts; the target has 3") {
		t.Fatalf("restore of a per-host backup into another topology: %v\n%s", r.err, r.out)
	}
}

func TestIncrementalNeedsItsOwnBaseAndWAL(t *testing.T) {
	st := localStorage(t)
	// wal_ttl=1s with tiny WAL files: entries expire almost at once.
	src := up(t, "127.0.0.240", 1, true, map[string][]string{"storaged": {"wal_ttl=1", "wal_file_size=4096"}})
	other := up(t, "127.0.0.245", 1, true, nil)
	s := connect(t, src)
	s.schema("w")
	s.load("w", 0, 100)
	connect(t, other).schema("o")
	foreign := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", other.MetaAddr())...))

	// A base from another cluster.
	r := brRun(t, nil, st.flags("backup", "incr", "--meta", src.MetaAddr(), "--base", foreign)...)
	if r.err == nil || !strings.Contains(r.out, "not a backup of the cluster") {
		t.Fatalf("incremental on a foreign base: %v\n%s", r.err, r.out)
	}
	// A base that is not under this root.
	r = brRun(t, nil, "backup", "incr", "--meta", src.MetaAddr(), "--storage", "local://"+t.TempDir(), "--base", foreign)
	if r.err == nil || !strings.Contains(r.out, "same storage root") {
		t.Fatalf("incremental with a base in another root: %v\n%s", r.err, r.out)
	}
	// Expired WAL.
	brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...)
	s.load("w", 100, 600)
	time.Sleep(3 * time.Second) // the TTL sweep runs every second
	s.load("w", 600, 610)
	r = brRun(t, nil, st.flags("backup", "incr", "--meta", src.MetaAddr())...)
	if r.err == nil || !regexp.MustCompile(`part \d+: WAL entries after log id \d+ have expired`).MatchString(r.out) || !strings.Contains(r.out, "new full backup") {
		t.Fatalf("incremental over expired WAL: %v\n%s", r.err, r.out)
	}
}

func TestAgentKilledMidUpload(t *testing.T) {
	dir := t.TempDir()
	st := storage{uri: "local://" + dir}
	src := up(t, "127.0.0.250", 1, true, nil)
	s := connect(t, src)
	s.schema("k")
	s.load("k", 0, 3000)
	// A slow agent on host 0, so the kill lands mid-upload.
	if err := src.StopAgent(0); err != nil {
		t.Fatal(err)
	}
	slow := exec.Command(filepath.Join(binDir, "br-agent"), "--agent", src.Hosts[0].IP+":8888", "--meta", src.MetaAddr(), "--hbs", "1", "--ratelimit", "1",
		"--nebula-lite", filepath.Join(binDir, "nebula-lite"))
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	done := make(chan result, 1)
	go func() { done <- brRun(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...) }()
	time.Sleep(1500 * time.Millisecond)
	slow.Process.Kill()
	slow.Wait()
	r := <-done
	if r.err == nil {
		t.Fatalf("backup succeeded although its agent was killed:\n%s", r.out)
	}
	metas, _ := filepath.Glob(filepath.Join(dir, "*", "*.meta"))
	if len(metas) != 0 {
		t.Fatalf("a failed backup left %v", metas)
	}
	show := brOK(t, nil, st.flags("show")...)
	if !strings.Contains(show, "incomplete") {
		t.Fatalf("show does not mark the failed backup incomplete:\n%s", show)
	}
	if err := src.StartAgent(0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	out := brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...)
	name := backupName(t, out)
	dst := up(t, "127.0.0.255", 1, true, nil)
	restored := brOK(t, nil, st.flags("restore", "full", "--meta", dst.MetaAddr(), "--name", name)...)
	// What the restore reports having moved is what the backup holds (a
	// count taken twice, in the data and the playback steps, doubled it).
	if up, down := summaryBytes(t, out, "backup"), summaryBytes(t, restored, "restore"); down < up*9/10 || down > up*11/10 {
		t.Errorf("backup reports %.0f bytes, the restore of it %.0f", up, down)
	}
	if got, want := connect(t, dst).fingerprint("k"), s.fingerprint("k"); got != want {
		t.Fatalf("re-run backup restores %s, want %s", got, want)
	}
}

// summaryBytes reads the size from br's closing line for kind ("backup
// BACKUP_... done: 1.2 MiB in ...", "restore of ... done ...: 1.2 MiB in").
func summaryBytes(t *testing.T, out, kind string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + kind + ` .* done.*?: ([0-9.]+) (B|KiB|MiB|GiB) in \d+ files`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s summary in:\n%s", kind, out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v * map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
}

func TestCleanup(t *testing.T) {
	dir := t.TempDir()
	st := storage{uri: "local://" + dir}
	src := up(t, "127.0.0.190", 1, true, nil)
	s := connect(t, src)
	s.schema("c")
	s.load("c", 0, 100)
	full := backupName(t, brOK(t, nil, st.flags("backup", "full", "--meta", src.MetaAddr())...))
	time.Sleep(1100 * time.Millisecond)
	s.load("c", 100, 150)
	incr := backupName(t, brOK(t, nil, st.flags("backup", "incr", "--meta", src.MetaAddr())...))

	r := brRun(t, nil, st.flags("cleanup", "--name", full)...)
	if r.err == nil || !strings.Contains(r.out, "backups "+incr+" depend on "+full) {
		t.Fatalf("cleanup of a base: %v\n%s", r.err, r.out)
	}
	brOK(t, nil, st.flags("cleanup", "--name", incr)...)
	if show := brOK(t, nil, st.flags("show")...); strings.Contains(show, incr) || !strings.Contains(show, full) {
		t.Fatalf("after cleanup:\n%s", show)
	}
	if _, err := os.Stat(filepath.Join(dir, incr)); !os.IsNotExist(err) {
		t.Fatalf("%s still on disk", incr)
	}

	// A snapshot left on the cluster by a br that died before its upload.
	m, err := client.NewMetaClient(src.MetaAddr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bm, err := m.CreateBackup(context.Background(), nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	orphan := string(bm.BackupName)
	// Not a stored backup: cleanup says so; --snapshot-only drops just the
	// snapshot.
	if r := brRun(t, nil, st.flags("cleanup", "--name", orphan, "--meta", src.MetaAddr())...); r.err == nil || !strings.Contains(r.out, "no backup "+orphan) {
		t.Fatalf("cleanup of a name that is not stored: %v\n%s", r.err, r.out)
	}
	brOK(t, nil, st.flags("cleanup", "--name", orphan, "--meta", src.MetaAddr(), "--snapshot-only")...)
	snaps, err := m.ListSnapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range snaps {
		if string(sn.Name) == orphan {
			t.Fatalf("snapshot %s still on the cluster after cleanup --meta", orphan)
		}
	}
}

// requireFree fails at once if an address of an n-host cluster from base
// (host i at base+i, in 127.0.<subnet>.0/24, where the calling test's
// clusters live) is taken: a cluster started over another would fail
// later and less clearly.
func requireFree(t *testing.T, subnet byte, base string, n int) {
	t.Helper()
	ip := net.ParseIP(base).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] != subnet || int(ip[3])+n > 255 {
		t.Fatalf("%s: this test's clusters live in 127.0.%d.0/24", base, subnet)
	}
	for i := 0; i < n; i++ {
		host := net.IPv4(127, 0, subnet, ip[3]+byte(i)).String()
		for _, port := range []int{cluster.MetaPort, cluster.GraphPort, cluster.StoragePort - 1, cluster.StoragePort, cluster.StoragePort + 1, cluster.AgentPort} {
			a := net.JoinHostPort(host, fmt.Sprint(port))
			l, err := net.Listen("tcp", a)
			if err != nil {
				t.Fatalf("address %s is not free (%v): another test or process holds it", a, err)
			}
			l.Close()
		}
	}
}
