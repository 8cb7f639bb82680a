package service

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func readLink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fakeBinary(t *testing.T, dir, body string) string {
	t.Helper()
	bin := filepath.Join(dir, "nebula-lite")
	if err := os.WriteFile(bin, []byte("#!/usr/bin/env bash\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestInstall(t *testing.T) {
	root := t.TempDir()
	bin := fakeBinary(t, t.TempDir(), "")
	if err := Install(root, bin); err != nil {
		t.Fatal(err)
	}
	check := func(wantLite string) {
		t.Helper()
		b, err := os.ReadFile(ScriptPath(root))
		if err != nil || !bytes.Equal(b, Script) {
			t.Errorf("script: %v\n%s", err, b)
		}
		if st, err := os.Stat(ScriptPath(root)); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("script mode: %v %v", st.Mode(), err)
		}
		if got := readLink(t, BinPath(root, "nebula-lite")); got != wantLite {
			t.Errorf("bin/nebula-lite -> %s, want %s", got, wantLite)
		}
		for _, name := range Binaries[1:] {
			if got := readLink(t, BinPath(root, name)); got != "nebula-lite" {
				t.Errorf("bin/%s -> %s, want nebula-lite", name, got)
			}
		}
	}
	check(bin)
	if err := Install(root, bin); err != nil {
		t.Fatal(err)
	}
	check(bin)

	// Another binary, given through a link (the root's own bin/nebula-lite
	// re-pointed), and a stale script of ours: both brought up to date.
	other := fakeBinary(t, t.TempDir(), "")
	viaLink := filepath.Join(t.TempDir(), "link")
	os.Symlink(other, viaLink)
	os.WriteFile(ScriptPath(root), []byte("#!/bin/sh\n# old "+scriptMarker+"\n"), 0o644)
	if err := Install(root, viaLink); err != nil {
		t.Fatal(err)
	}
	check(other)
	if err := Install(root, BinPath(root, "nebula-lite")); err != nil { // no link to itself
		t.Fatal(err)
	}
	check(other)

	// What nebula-lite did not write stays.
	foreign := []byte("#!/bin/bash\n# NebulaGraph's own\n")
	os.WriteFile(ScriptPath(root), foreign, 0o755)
	os.Remove(BinPath(root, "nebula-lite"))
	copied := []byte("a copied binary")
	os.WriteFile(BinPath(root, "nebula-lite"), copied, 0o755)
	os.Remove(BinPath(root, "nebula-metad"))
	os.WriteFile(BinPath(root, "nebula-metad"), []byte("real metad"), 0o755)
	if err := Install(root, other); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][]byte{ScriptPath(root): foreign, BinPath(root, "nebula-lite"): copied, BinPath(root, "nebula-metad"): []byte("real metad")} {
		if b, _ := os.ReadFile(p); !bytes.Equal(b, want) {
			t.Errorf("%s replaced: %q", p, b)
		}
	}

	// A binary not built yet is linked by its path.
	root2, missing := t.TempDir(), filepath.Join(t.TempDir(), "missing")
	if err := Install(root2, missing); err != nil {
		t.Fatal(err)
	}
	if got := readLink(t, BinPath(root2, "nebula-lite")); got != missing {
		t.Errorf("bin/nebula-lite -> %s, want %s", got, missing)
	}
}

// runScript runs scripts/nebula.service as nebula-agent does: bash -c "cd
// ROOT && scripts/nebula.service ARGS".
func runScript(t *testing.T, root, args string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "cd "+root+" && scripts/nebula.service "+args)
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// The script's own part: parse NebulaGraph's command line and hand it to
// the root's nebula-lite (here a stand-in that prints its arguments and
// working directory).
func TestScriptCommandLine(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bin := fakeBinary(t, t.TempDir(), `echo "$PWD|$*"; exit ${FAKE_EXIT:-0}`+"\n")
	if err := Install(root, bin); err != nil {
		t.Fatal(err)
	}
	usage := "Usage: scripts/nebula.service [-v] [-c /path/to/conf] <start|stop|restart|status|kill> <metad|graphd|storaged|all>\n"
	for _, tc := range []struct {
		args, stdout, stderr string
		code                 int
	}{
		{"status metad", root + "|service status metad --root " + root + " --output nebula\n", "", 0},
		{"-v stop all", root + "|service stop all --root " + root + " --output nebula --verbose\n", "", 0},
		{"-c etc/x.conf start graphd", root + "|service start graphd --root " + root + " --output nebula --conf " + root + "/etc/x.conf\n", "", 0},
		{"-v -c /abs/s.conf kill storaged", root + "|service kill storaged --root " + root + " --output nebula --conf /abs/s.conf --verbose\n", "", 0},
		{"restart storaged", root + "|service restart storaged --root " + root + " --output nebula\n", "", 0},
		{"", usage, "", 1},
		{"-h", usage, "", 0},
		{"status", usage, "", 1},
		{"status metad extra", usage, "", 1},
		{"start nosuch", usage, "[ERROR] Unknown daemon `nosuch'\n", 1},
		{"reload metad", usage, "", 1},
		{"-x status metad", usage, "[ERROR] Invalid option: -x\n", 1},
		{"status metad -c", usage, "", 1},
		{"-c", "", "[ERROR] Option -c requires an argument.\n", 1},
	} {
		stdout, stderr, code := runScript(t, root, tc.args)
		if stdout != tc.stdout || stderr != tc.stderr || code != tc.code {
			t.Errorf("nebula.service %s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
	// nebula-lite's exit status is the script's.
	if _, _, code := runScript(t, root, "status metad; FAKE_EXIT=3 scripts/nebula.service status metad"); code != 3 {
		t.Errorf("exit status not passed on: %d", code)
	}
	// Without bin/nebula-lite and none on PATH: an error naming it.
	os.Remove(BinPath(root, "nebula-lite"))
	if _, stderr, code := runScript(t, root, "status metad"); code != 1 || !strings.Contains(stderr, "[ERROR] "+BinPath(root, "nebula-lite")+" not found") {
		t.Errorf("no nebula-lite: exit %d, stderr %q", code, stderr)
	}
}
