// Package flagfile reads NebulaGraph-style flag files (`--name=value` per
// line, `#` comments) into a pflag set, as gflags' --flagfile does: flags
// given on the command line win over the file, and within the file the
// last line naming a flag wins.
package flagfile

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Apply loads path into fs for every flag not set on the command line.
// Flags the set does not know are ignored, so one file can serve
// NebulaGraph's daemons and ours. A boolean flag may be given bare
// (`--wal_sync`) or negated gflags-style (`--nowal_sync`).
func Apply(fs *pflag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("flagfile: %w", err)
	}
	defer f.Close()
	cmdline := map[string]bool{}
	fs.Visit(func(fl *pflag.Flag) { cmdline[fl.Name] = true })
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "-") {
			return fmt.Errorf("flagfile %s:%d: want --name=value, got %q", path, n, line)
		}
		name, value, ok := strings.Cut(strings.TrimLeft(line, "-"), "=")
		name = strings.TrimSpace(name)
		if !ok {
			// A bare boolean: --name or --noname.
			value = "true"
			if fs.Lookup(name) == nil && strings.HasPrefix(name, "no") {
				name, value = strings.TrimPrefix(name, "no"), "false"
			}
			if fl := fs.Lookup(name); fl != nil && fl.Value.Type() != "bool" {
				return fmt.Errorf("flagfile %s:%d: --%s needs a value", path, n, name)
			}
		}
		fl := fs.Lookup(name)
		if fl == nil || cmdline[fl.Name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("flagfile %s:%d: %w", path, n, err)
		}
	}
	return sc.Err()
}
