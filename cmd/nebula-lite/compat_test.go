package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
)

// The output styles of `nebula-lite service`, on a root whose daemon does
// not run (no addresses needed).
func TestServiceOutputStyles(t *testing.T) {
	root := t.TempDir()
	writeConf(t, root, "metad", "--local_ip=127.0.6.250", "--port=9559")
	conf := filepath.Join(root, "etc", "nebula-metad.conf")
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
		code           int
	}{
		{[]string{"status", "metad"}, "nebula-metad: exited\n", "", 3},
		{[]string{"status", "all", "--output", "nebula"}, "[INFO] nebula-metad(dev): Exited\n", "", 0},
		{[]string{"status", "metad", "--output", "json"}, `{"services":[{"role":"metad","conf":"` + conf + `","running":false,"addr":"127.0.6.250:9559"}]}` + "\n", "", 3},
		{[]string{"status", "storaged", "--output", "nebula"}, "", "[ERROR] " + filepath.Join(root, "etc", "nebula-storaged.conf") + " not found\n", 1},
		{[]string{"status", "storaged"}, "nebula-storaged: exited\n", "", 3},
		{[]string{"stop", "metad", "--output", "nebula"}, "[INFO] Stopping nebula-metad...\n[INFO] Done\n", "", 0},
		{[]string{"stop", "metad", "--output", "nebula", "--verbose"}, "[INFO] Stopping nebula-metad...\n[INFO] No such process\n[INFO] Done\n", "", 0},
		{[]string{"kill", "all", "--output", "nebula", "--verbose"}, "[INFO] Force killing nebula-metad...\n[INFO] No such process\n[INFO] Done\n", "", 0},
		{[]string{"kill", "metad"}, "nebula-metad: not running\n", "", 0},
		{[]string{"stop", "metad", "--output", "json"}, `{"services":[{"role":"metad","conf":"` + conf + `","running":false,"addr":"127.0.6.250:9559"}]}` + "\n", "", 0},
		{[]string{"status", "metad", "--output", "nebula", "--conf", conf}, "[INFO] nebula-metad(dev): Exited\n", "", 0},
		{[]string{"status", "all", "--output", "nebula", "--conf", conf},
			"[WARN] Config file specified but the target is `all': using ROOT/etc/nebula-<role>.conf\n[INFO] nebula-metad(dev): Exited\n", "", 0},
		{[]string{"status", "all", "--conf", conf}, "", "Error: --conf needs a single role, not all\n", 1},
		{[]string{"status", "nosuch", "--output", "nebula"}, "", "[ERROR] unknown role \"nosuch\": use one of metad, storaged, graphd\n", 1},
		{[]string{"status", "metad", "--output", "yaml"}, "", "Error: --output \"yaml\": use text, json or nebula\n", 1},
	} {
		stdout, stderr, code := nl(t, append([]string{"service", "--root", root}, tc.args...)...)
		if stdout != tc.stdout || stderr != tc.stderr || code != tc.code {
			t.Errorf("service %s: exit %d, stdout %q, stderr %q; want %d, %q, %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
	// A start without a flag file lays out nothing.
	if _, stderr, code := nl(t, "service", "--root", root, "start", "storaged"); code != 1 || !strings.Contains(stderr, "nebula-storaged.conf") {
		t.Errorf("start without flag file: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts")); !os.IsNotExist(err) {
		t.Errorf("a failed start laid out scripts/: %v", err)
	}
	// A start that fails (no port in range) is [ERROR] and exit 1, and
	// lays out scripts/ and bin/ first.
	writeConf(t, root, "graphd", "--local_ip=127.0.6.250", "--port=0")
	if _, stderr, code := nl(t, "service", "--root", root, "start", "graphd", "--output", "nebula"); code != 1 || !strings.HasPrefix(stderr, "[ERROR] nebula-graphd: ") {
		t.Errorf("failed start: exit %d, stderr %q", code, stderr)
	}
	for _, p := range []string{"scripts/nebula.service", "bin/nebula-lite", "bin/db_playback", "bin/nebula-graphd"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("start did not lay out %s: %v", p, err)
		}
	}
	out, stderr, code := nl(t, "service", "install", "--root", root)
	if code != 0 || out != filepath.Join(root, "scripts", "nebula.service")+"\n"+filepath.Join(root, "bin")+"\n" {
		t.Errorf("install: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// writeThenDie is the helper process of TestPlayback: it writes to parts of
// space 1 at $NEBULA_LITE_TEST_DB, prints the last log id per part, and exits
// without closing the store, as a crashed storaged does: Pebble (whose own
// WAL is off) loses what was applied, the parts' WALs keep it.
func writeThenDie() {
	store, err := kv.Open(kv.Options{DataPath: os.Getenv("NEBULA_LITE_TEST_DB")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for part := int32(1); part <= 3; part++ {
		p, err := store.AddPart(1, part)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var last uint64
		for i := range int(part) * 5 {
			if last, err = p.Write(kv.Batch{Puts: []kv.KeyValue{{Key: []byte(strconv.Itoa(i)), Value: []byte("v")}}}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
		fmt.Printf("%d %d\n", part, last)
	}
	os.Exit(0)
}

func TestPlayback(t *testing.T) {
	db := filepath.Join(t.TempDir(), "storage")
	os.MkdirAll(db, 0o755)
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), "NEBULA_LITE_TEST_DB="+db)
	out, err := helper.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	want := []partApplied{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var p partApplied
		if _, err := fmt.Sscan(line, &p.PartID, &p.AppliedLogID); err != nil {
			t.Fatalf("helper printed %q", out)
		}
		p.SpaceID = 1
		want = append(want, p)
	}
	if len(want) != 3 {
		t.Fatalf("helper printed %q", out)
	}

	// As nebula-agent runs it: bin/db_playback, gflags' single dash too.
	bin := filepath.Join(t.TempDir(), "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.Symlink(binary(t), filepath.Join(bin, "db_playback")); err != nil {
		t.Fatal(err)
	}
	playback := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command("bash", "-c", "cd "+filepath.Dir(bin)+" && bin/db_playback "+strings.Join(args, " "))
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		code := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		return o.String(), e.String(), code
	}
	stdout, stderr, code := playback("-db_path="+db, "--playback_meta_server=127.0.6.250:9559", "--json")
	var got struct {
		Parts []partApplied `json:"parts"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil || !reflect.DeepEqual(got.Parts, want) {
		t.Fatalf("db_playback --json: exit %d, %v, stdout %q, stderr %q; want parts %+v", code, err, stdout, stderr, want)
	}
	// The replay reached Pebble: the store opens with those applied ids.
	store, err := kv.Open(kv.Options{DataPath: db})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if p := store.Space(1).Part(w.PartID); p == nil || p.Applied() != w.AppliedLogID {
			t.Errorf("part %d after playback: %v", w.PartID, p)
		}
	}
	// Open by another process (storaged): locked, named, exit 1.
	_, stderr, code = playback("--db_path="+db, "--playback_meta_server=127.0.6.250:9559")
	if code != 1 || !strings.Contains(stderr, "data path "+db+" is locked") {
		t.Errorf("db_playback on an open store: exit %d, stderr %q", code, stderr)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = playback("--db_path="+db, "--playback_meta_server=127.0.6.250:9559", "--enable_ssl=false", "--cert_path=/nonexistent")
	if code != 0 || !strings.HasSuffix(stdout, "played back 3 part(s) in "+db+"\n") || !strings.Contains(stdout, "space 1 part 3: applied log id "+strconv.FormatUint(want[2].AppliedLogID, 10)+"\n") {
		t.Errorf("db_playback: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, stderr, code = playback("--db_path="+db, "--enable_ssl=true", "--cert_path=/nonexistent"); code != 1 || !strings.Contains(stderr, "/nonexistent") {
		t.Errorf("db_playback with a missing certificate: exit %d, stderr %q", code, stderr)
	}

	// Nothing there: no parts, and nothing created.
	empty := t.TempDir()
	if stdout, stderr, code = playback("--db_path="+empty, "--json"); code != 0 || stdout != `{"parts":[]}`+"\n" {
		t.Errorf("empty data path: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(empty, "nebula")); !os.IsNotExist(err) {
		t.Errorf("playback created %s/nebula: %v", empty, err)
	}
	missing := filepath.Join(empty, "nosuch")
	if _, stderr, code = playback("--db_path=" + missing); code != 1 || !strings.Contains(stderr, missing) {
		t.Errorf("missing data path: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code = playback(); code != 1 || !strings.Contains(stderr, "--db_path is required") {
		t.Errorf("no data path: exit %d, stderr %q", code, stderr)
	}
}
