//go:build interop

package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster addresses (all in 127.0.6.0-199; the checks run one after another).
const (
	baseClients  = "127.0.6.10" // 1: one host, no agents
	baseUpBR     = "127.0.6.20" // 2: 3 hosts, our br-agent
	baseUpAgent  = "127.0.6.30" // 3: 3 hosts, upstream's nebula-agent
	baseRestore4 = "127.0.6.40" // 4: 3 hosts, our br-agent, restore target
)

var (
	goVersions      = []string{"v3.8.0", "v3.4.0", "v3.3.1"}
	consoleVersions = []string{"v3.8.0", "v3.3.1"}
)

func TestInterop(t *testing.T) {
	h, err := newHarness()
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		h.printf("\n[interrupted by %s]\n", s)
		h.cleanup()
		os.Exit(2)
	}()
	defer h.cleanup()
	h.printf("Paths below: bin/ = %s, $UP/ = %s, $W = %s\n", h.our, h.upBin, h.work)

	only := map[string]bool{}
	for _, g := range strings.Split(os.Getenv("INTEROP_ONLY"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			only[g] = true
		}
	}
	want := func(g string) bool { return len(only) == 0 || only[g] }

	var upBackup *upstreamBackup
	if want("1") {
		h.clients()
	}
	if want("2") || want("4") {
		upBackup = h.upstreamBR()
	}
	if want("3") {
		h.upstreamAgent()
	}
	if want("4") {
		h.restoreUpstreamBackup(upBackup)
	}

	h.cleanup()
	failed := 0
	for _, r := range h.results {
		if r.status != "PASS" {
			failed++
		}
	}
	if os.Getenv("INTEROP_RESULTS") == "" {
		h.printf("\n== summary\n")
		for _, r := range h.results {
			h.printf("  %-5s %-62s %s\n", r.status, r.id+" "+r.name, r.reason)
		}
	}
	if failed > 0 {
		t.Fail()
	}
}

// ---- 1: clients on graphd ----

func (h *harness) clients() {
	h.printf("\n== 1. upstream clients against a nebula-lite graphd (%s, one storaged)\n", baseClients)
	c, upErr := h.up("c1", baseClients, 1, false)
	defer h.down(c)
	for i, v := range goVersions {
		id := fmt.Sprintf("1%c", 'a'+i)
		h.check(id, "nebula-go "+v+" client on graphd", func() (string, error) {
			if upErr != nil {
				return "", upErr
			}
			return h.goClient(c, v)
		})
	}
	for i, v := range consoleVersions {
		id := fmt.Sprintf("1%c", 'a'+len(goVersions)+i)
		h.check(id, "nebula-console "+v+" on graphd", func() (string, error) {
			if upErr != nil {
				return "", upErr
			}
			return h.console(c, v)
		})
	}
}

type cell struct {
	T string          `json:"t"`
	V json.RawMessage `json:"v"`
}

type reply struct {
	Stmt    string   `json:"stmt"`
	OK      bool     `json:"ok"`
	Code    int64    `json:"code"`
	Error   string   `json:"error"`
	Columns []string `json:"columns"`
	Rows    [][]cell `json:"rows"`
}

// plain renders decoded rows as "type:value" strings, rows sorted.
func plain(rows [][]cell) []string {
	var out []string
	for _, r := range rows {
		var parts []string
		for _, c := range r {
			parts = append(parts, c.T+":"+string(c.V))
		}
		out = append(out, "("+strings.Join(parts, ", ")+")")
	}
	sort.Strings(out)
	return out
}

// goClient runs the README's statements through a nebula-go client in a
// space of its own and checks the decoded values.
func (h *harness) goClient(c *cluster, v string) (string, error) {
	sp := "go_" + strings.NewReplacer("v", "", ".", "_").Replace(v)
	stmts := []string{
		"SHOW HOSTS",
		fmt.Sprintf("CREATE SPACE %s (partition_num = 12, vid_type = FIXED_STRING(16))", sp),
		fmt.Sprintf("~USE %s; CREATE TAG person(name string, age int); CREATE EDGE knows(since int)", sp),
		fmt.Sprintf(`~USE %s; INSERT VERTEX person(name, age) VALUES "a":("Ann", 30), "b":("Bo", 41); INSERT EDGE knows(since) VALUES "a"->"b":(2019); GO FROM "a" OVER knows YIELD dst(edge) AS friend, $$.person.name AS name`, sp),
		`FETCH PROP ON person "a", "b" YIELD person.name AS name, person.age AS age`,
		`GO FROM "a" OVER knows YIELD dst(edge) AS d, knows.since AS since, $$.person.name AS name`,
		`FETCH PROP ON knows "a"->"b" YIELD properties(edge) AS p`,
		"SHOW SPACES",
	}
	want := []struct {
		what string
		rows []string // plain(), sorted; nil: checked below
	}{
		{"SHOW HOSTS", nil},
		{"CREATE SPACE", []string{}},
		{"USE; CREATE TAG; CREATE EDGE", []string{}},
		{"INSERT; GO (README)", []string{`(string:"b", string:"Bo")`}},
		{"FETCH PROP ON person", []string{`(string:"Ann", int:30)`, `(string:"Bo", int:41)`}},
		{"GO ... YIELD knows.since", []string{`(string:"b", int:2019, string:"Bo")`}},
		{"FETCH PROP ON knows ... properties(edge)", []string{`(map:{"since":{"t":"int","v":2019}})`}},
		{"SHOW SPACES", nil},
	}
	bin := filepath.Join(h.upBin, "goclient@"+v)
	out, all, runErr := h.run(90*time.Second, h.work, nil, bin, append([]string{"-addr", c.graph, "-retry", "20s"}, stmts...)...)
	var replies []reply
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var r reply
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			if runErr != nil {
				return "", runErr
			}
			return "", &stepError{reason: fmt.Sprintf("unreadable goclient line %q", l), output: all}
		}
		replies = append(replies, r)
	}
	if len(replies) == 0 {
		var se *stepError
		if errors.As(runErr, &se) {
			c := *se
			c.reason = "no session: " + strings.TrimPrefix(errorLine(all), "goclient: ")
			return "", &c
		}
		return "", fail(runErr, "no statement ran")
	}
	for i, r := range replies {
		w := want[i]
		if !r.OK {
			return "", &stepError{reason: fmt.Sprintf("%s failed: code %d: %s", w.what, r.Code, r.Error),
				cmd:    h.short(quoteArgs([]string{bin, "-addr", c.graph})) + " ... (" + fmt.Sprint(len(stmts)) + " statements)",
				output: all}
		}
		got := plain(r.Rows)
		switch {
		case w.rows != nil:
			if len(got) == 0 && len(w.rows) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, w.rows) {
				return "", &stepError{reason: fmt.Sprintf("%s: decoded rows %v, want %v", w.what, got, w.rows), output: all}
			}
		case w.what == "SHOW HOSTS":
			ok := false
			for _, row := range r.Rows {
				s := plain([][]cell{row})[0]
				if strings.Contains(s, `string:"`+c.ips[0]+`"`) && strings.Contains(s, "int:9779") && strings.Contains(s, `"ONLINE"`) {
					ok = true
				}
			}
			if !ok {
				return "", &stepError{reason: fmt.Sprintf("SHOW HOSTS: no row (string %q, int 9779, ..., \"ONLINE\") in %v", c.ips[0], got), output: all}
			}
		case w.what == "SHOW SPACES":
			if !strings.Contains(strings.Join(got, " "), `string:"`+sp+`"`) {
				return "", &stepError{reason: fmt.Sprintf("SHOW SPACES: %s not in %v", sp, got), output: all}
			}
		}
	}
	if len(replies) != len(stmts) {
		return "", fail(runErr, "%d of %d statements answered", len(replies), len(stmts))
	}
	if runErr != nil {
		return "", runErr
	}
	return fmt.Sprintf("%d requests ok; decoded %s, %s, %s", len(stmts), want[3].rows[0], want[4].rows[0], want[6].rows[0]), nil
}

// console runs the README's statements through nebula-console -e.
func (h *harness) console(c *cluster, v string) (string, error) {
	sp := "console_" + strings.NewReplacer("v", "", ".", "_").Replace(v)
	bin := filepath.Join(h.upBin, "nebula-console@"+v)
	host, port := c.ips[0], "9669"
	steps := []struct {
		stmt  string
		retry bool
		want  []string
	}{
		{"SHOW HOSTS", false, []string{c.ips[0], "ONLINE"}},
		{fmt.Sprintf("CREATE SPACE %s (partition_num = 12, vid_type = FIXED_STRING(16))", sp), false, nil},
		{fmt.Sprintf("USE %s; CREATE TAG person(name string, age int); CREATE EDGE knows(since int)", sp), true, nil},
		{fmt.Sprintf(`USE %s; INSERT VERTEX person(name, age) VALUES "a":("Ann", 30), "b":("Bo", 41); INSERT EDGE knows(since) VALUES "a"->"b":(2019); GO FROM "a" OVER knows YIELD dst(edge) AS friend, $$.person.name AS name`, sp), true,
			[]string{`"b"`, `"Bo"`, "Got 1 rows"}},
		{fmt.Sprintf(`USE %s; FETCH PROP ON person "a", "b" YIELD person.name AS name, person.age AS age`, sp), false,
			[]string{`"Ann"`, "30", `"Bo"`, "41", "Got 2 rows"}},
	}
	for _, s := range steps {
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, all, err := h.run(60*time.Second, h.work, nil, bin, "-addr", host, "-port", port, "-u", "root", "-p", "nebula", "-e", s.stmt)
			if err == nil && strings.Contains(out, "[ERROR") {
				err = &stepError{reason: fmt.Sprintf("%s: %s", firstWords(s.stmt), lineWith(out, "[ERROR")),
					cmd: h.short(quoteArgs([]string{bin, "-addr", host, "-port", port, "-u", "root", "-p", "nebula", "-e", s.stmt})), output: all}
			}
			if err == nil {
				for _, w := range s.want {
					if !strings.Contains(out, w) {
						return "", &stepError{reason: fmt.Sprintf("%s: output lacks %s", firstWords(s.stmt), w), output: all}
					}
				}
				break
			}
			if !s.retry || time.Now().After(deadline) {
				return "", err
			}
			time.Sleep(time.Second)
		}
	}
	return fmt.Sprintf("%d invocations ok; tables show (\"b\", \"Bo\") and (\"Ann\", 30), (\"Bo\", 41)", len(steps)), nil
}

func firstWords(s string) string {
	f := strings.Fields(s)
	if len(f) > 4 {
		f = f[:4]
	}
	return strings.Join(f, " ")
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// ---- 2: upstream br with our agent ----

type upstreamBackup struct {
	name        string
	storage     string
	fingerprint string // the source's at backup time
}

var backupName = regexp.MustCompile(`BACKUP_\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}`)

func (h *harness) upBR() string { return filepath.Join(h.upBin, "nebula-br@v3.6.0") }

// newBackups lists the backup directories under a local storage root that
// are not in before.
func newBackups(dir string, before map[string]bool) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if e.IsDir() && !before[e.Name()] {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func listDir(dir string) map[string]bool {
	m := map[string]bool{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}

func (h *harness) upstreamBR() *upstreamBackup {
	h.printf("\n== 2. upstream br v3.6.0 with our br-agent (%s-%s)\n", baseUpBR, "22")
	c, upErr := h.up("c2", baseUpBR, 3, true)
	defer h.down(c)
	store := filepath.Join(h.work, "backups-upstream")
	os.MkdirAll(store, 0o755)
	var bk *upstreamBackup
	h.check("2a", "upstream br backup full (our agents)", func() (string, error) {
		if upErr != nil {
			return "", upErr
		}
		if err := h.load(c); err != nil {
			return "", err
		}
		fp, err := h.fingerprint(c, 30*time.Second)
		if err != nil {
			return "", err
		}
		before := listDir(store)
		out, all, err := h.run(5*time.Minute, h.work, nil, h.upBR(), "backup", "full", "--meta", c.meta,
			"--storage", "local://"+store, "--log", filepath.Join(h.work, "logs", "br-upstream-2a-backup.log"))
		if err != nil {
			return "", err
		}
		names := newBackups(store, before)
		if len(names) != 1 {
			if m := backupName.FindString(all); m != "" {
				names = []string{m}
			} else {
				return "", &stepError{reason: fmt.Sprintf("backup said %q but %d new backups are in %s", lastLine(out), len(names), h.short(store)), output: all}
			}
		}
		bk = &upstreamBackup{name: names[0], storage: "local://" + store, fingerprint: fp}
		if _, err := os.Stat(filepath.Join(store, bk.name, bk.name+".meta")); err != nil {
			return "", &stepError{reason: fmt.Sprintf("backup %s has no %s.meta", bk.name, bk.name), output: all}
		}
		return fmt.Sprintf("%s written (%s), source fingerprint %s", bk.name, dirSize(filepath.Join(store, bk.name)), fp), nil
	})
	h.check("2b", "upstream br show", func() (string, error) {
		if bk == nil {
			return "", &skipError{"no upstream backup (2a failed)"}
		}
		out, _, err := h.run(time.Minute, h.work, nil, h.upBR(), "show", "--storage", bk.storage,
			"--log", filepath.Join(h.work, "logs", "br-upstream-2b-show.log"))
		if err != nil {
			return "", err
		}
		if !strings.Contains(out, bk.name) {
			return "", &stepError{reason: "br show does not list " + bk.name, output: out}
		}
		return "lists " + bk.name + ": " + oneLine(lineWith(out, bk.name)), nil
	})
	h.check("2c", "upstream br restore full, same cluster: fingerprint", func() (string, error) {
		if bk == nil {
			return "", &skipError{"no upstream backup (2a failed)"}
		}
		if err := h.writeMore(c); err != nil {
			return "", err
		}
		if fp, err := h.fingerprint(c, 30*time.Second); err == nil && fp == bk.fingerprint {
			return "", fmt.Errorf("writes after the backup left the fingerprint unchanged (%s)", fp)
		}
		_, _, err := h.run(10*time.Minute, h.work, nil, h.upBR(), "restore", "full", "--meta", c.meta,
			"--storage", bk.storage, "--name", bk.name, "--log", filepath.Join(h.work, "logs", "br-upstream-2c-restore.log"))
		if err != nil {
			return "", err
		}
		fp, err := h.fingerprint(c, 90*time.Second)
		if err != nil {
			return "", err
		}
		if fp != bk.fingerprint {
			return "", fmt.Errorf("restored fingerprint %s, source at backup time %s", fp, bk.fingerprint)
		}
		return "fingerprint " + fp + " equals the source's at backup time", nil
	})
	return bk
}

// dirSize is the size of the files under dir, for the report.
func dirSize(dir string) string {
	var n, files int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
			files++
		}
		return nil
	})
	return fmt.Sprintf("%d files, %.1f KiB", files, float64(n)/1024)
}

// ---- 3: our br with upstream's agent ----

func (h *harness) upstreamAgent() {
	h.printf("\n== 3. our br with upstream's nebula-agent v3.7.1 (%s-%s)\n", baseUpAgent, "32")
	c, upErr := h.up("c3", baseUpAgent, 3, false)
	defer h.down(c)
	defer h.stopUpstreamAgents(c)
	store := filepath.Join(h.work, "backups-ours")
	os.MkdirAll(store, 0o755)
	var name, fp string
	h.check("3a", "our br backup full (upstream agents)", func() (string, error) {
		if upErr != nil {
			return "", upErr
		}
		if err := h.startUpstreamAgents(c); err != nil {
			return "", err
		}
		if err := h.load(c); err != nil {
			return "", err
		}
		var err error
		if fp, err = h.fingerprint(c, 30*time.Second); err != nil {
			return "", err
		}
		out, _, err := h.run(5*time.Minute, h.work, nil, filepath.Join(h.our, "br"), "backup", "full", "--meta", c.meta,
			"--storage", "local://"+store, "--log", filepath.Join(h.work, "logs", "br-3a-backup.log"))
		if err != nil {
			return "", err
		}
		name = backupName.FindString(lastLine(out))
		if name == "" {
			return "", &stepError{reason: fmt.Sprintf("no backup name in br's output %q", lastLine(out)), output: out}
		}
		return fmt.Sprintf("%s written (%s), source fingerprint %s", name, dirSize(filepath.Join(store, name)), fp), nil
	})
	h.check("3b", "our br restore full (upstream agents): fingerprint", func() (string, error) {
		if name == "" {
			return "", &skipError{"no backup (3a failed)"}
		}
		if err := h.writeMore(c); err != nil {
			return "", err
		}
		if now, err := h.fingerprint(c, 30*time.Second); err == nil && now == fp {
			return "", fmt.Errorf("writes after the backup left the fingerprint unchanged (%s)", now)
		}
		_, _, err := h.run(10*time.Minute, h.work, nil, filepath.Join(h.our, "br"), "restore", "full", "--meta", c.meta,
			"--storage", "local://"+store, "--name", name, "--state-dir", filepath.Join(h.work, "state-3b"),
			"--log", filepath.Join(h.work, "logs", "br-3b-restore.log"))
		if err != nil {
			return "", err
		}
		got, err := h.fingerprint(c, 90*time.Second)
		if err != nil {
			return "", err
		}
		if got != fp {
			return "", fmt.Errorf("restored fingerprint %s, source at backup time %s", got, fp)
		}
		return "fingerprint " + got + " equals the source's at backup time", nil
	})
}

// ---- 4: an upstream backup restored by ours ----

func (h *harness) restoreUpstreamBackup(bk *upstreamBackup) {
	h.printf("\n== 4. upstream br's backup restored by our br into a second cluster (%s-%s)\n", baseRestore4, "42")
	h.check("4", "our br restore of upstream's backup, new cluster: fingerprint", func() (string, error) {
		if bk == nil {
			return "", &skipError{"no upstream backup (2a failed)"}
		}
		c, err := h.up("c4", baseRestore4, 3, true)
		defer h.down(c)
		if err != nil {
			return "", err
		}
		_, _, err = h.run(10*time.Minute, h.work, nil, filepath.Join(h.our, "br"), "restore", "full", "--meta", c.meta,
			"--storage", bk.storage, "--name", bk.name, "--state-dir", filepath.Join(h.work, "state-4"),
			"--log", filepath.Join(h.work, "logs", "br-4-restore.log"))
		if err != nil {
			return "", err
		}
		got, err := h.fingerprint(c, 90*time.Second)
		if err != nil {
			return "", err
		}
		if got != bk.fingerprint {
			return "", fmt.Errorf("restored fingerprint %s, upstream backup's source %s", got, bk.fingerprint)
		}
		return "fingerprint " + got + " equals the source's at upstream's backup", nil
	})
}
