package service

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Script is scripts/nebula.service of a nebula-lite root: NebulaGraph's
// command line, words and exit codes on top of
// `nebula-lite service ... --output nebula`.
//
//go:embed nebula.service
var Script []byte

// scriptMarker identifies a script nebula-lite wrote (and may rewrite).
const scriptMarker = "(written by nebula-lite)"

// Binaries are the names bin/ of a root holds, all nebula-lite: itself, the
// daemons NebulaGraph's tools look for, and db_playback.
var Binaries = []string{"nebula-lite", "nebula-metad", "nebula-storaged", "nebula-graphd", "db_playback"}

// ScriptPath is the root's scripts/nebula.service.
func ScriptPath(root string) string { return filepath.Join(root, "scripts", "nebula.service") }

// BinPath is the root's bin/<name>.
func BinPath(root, name string) string { return filepath.Join(root, "bin", name) }

// Install lays out what NebulaGraph's tools run in an install root, besides
// etc/: scripts/nebula.service, bin/nebula-lite (a symlink to binary) and
// bin/nebula-metad, bin/nebula-storaged, bin/nebula-graphd and
// bin/db_playback (symlinks to nebula-lite beside them). It is idempotent
// and leaves alone what it did not make: a scripts/nebula.service that
// nebula-lite did not write, a bin/nebula-lite that is not a symlink (a
// copied binary) and any other bin/ entry that exists. Its own script is
// brought up to date, and a bin/nebula-lite symlink is pointed at binary.
func Install(root, binary string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	target, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	// Link to the file itself, never to a link (bin/nebula-lite may be the
	// binary given). A binary not there (yet) is linked by its path.
	if real, err := filepath.EvalSymlinks(target); err == nil {
		target = real
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("install %s: nebula-lite binary: %w", root, err)
	}
	if err := installScript(ScriptPath(root)); err != nil {
		return fmt.Errorf("install %s: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return fmt.Errorf("install %s: %w", root, err)
	}
	for _, name := range Binaries {
		link := BinPath(root, name)
		to := "nebula-lite"
		if name == "nebula-lite" {
			to = target
		}
		st, err := os.Lstat(link)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("install %s: %w", root, err)
		case name == "nebula-lite" && st.Mode()&os.ModeSymlink != 0:
			if cur, _ := os.Readlink(link); cur == to {
				continue
			}
		default:
			continue
		}
		if err := symlinkAtomic(to, link); err != nil {
			return fmt.Errorf("install %s: %w", root, err)
		}
	}
	return nil
}

func installScript(path string) error {
	cur, err := os.ReadFile(path)
	switch {
	case err == nil:
		if !strings.Contains(string(cur), scriptMarker) {
			return nil // someone else's script
		}
		if string(cur) == string(Script) {
			if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o111 == 0o111 {
				return nil
			}
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, Script, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // past the umask
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// symlinkAtomic makes link point to target, replacing what is there.
func symlinkAtomic(target, link string) error {
	tmp := link + ".tmp" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
