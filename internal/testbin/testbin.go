// Package testbin builds the project's commands for tests that run them as
// processes, as they run in production.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds the commands of cmd/ named by names into a new temporary
// directory and returns it; the caller removes it.
func Build(names ...string) (string, error) {
	dir, err := os.MkdirTemp("", "nebula-br-test-bin-")
	if err != nil {
		return "", err
	}
	for _, name := range names {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), "github.com/nebula-open/nebula-br/cmd/"+name).CombinedOutput()
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("go build %s: %v\n%s", name, err, out)
		}
	}
	return dir, nil
}

// MustBuild is Build for TestMain: it exits the test binary on failure.
func MustBuild(names ...string) string {
	dir, err := Build(names...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return dir
}
