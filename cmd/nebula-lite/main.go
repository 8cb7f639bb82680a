// Command nebula-lite is a small Go implementation of NebulaGraph 3.x's
// daemons (metad, storaged, graphd) with the tools to run them: service
// management on an install root, local multi-host clusters, a console and
// data fingerprints.
//
// Named nebula-metad, nebula-storaged or nebula-graphd (a symlink or a
// copy), it runs that daemon with the remaining arguments; named
// db_playback, it is `nebula-lite playback`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/service"
)

// Version of nebula-lite (set with -ldflags "-X main.Version=...").
var Version = "dev"

// NebulaVersion is the NebulaGraph version the daemons report to metad.
const NebulaVersion = "3.8.0"

// exitError ends the program with a code; a nil err means the message
// was already printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := newRootCmd()
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetArgs(commandArgs(args))
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "Error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return 1
}

// playbackName is the argv[0] under which nebula-lite is `playback`.
const playbackName = "db_playback"

// commandArgs maps argv to cobra's arguments: under the name
// nebula-<role> the daemon's arguments follow, under db_playback
// playback's, and both accept gflags' single-dash long flags
// (-flagfile=...).
func commandArgs(argv []string) []string {
	args := slices.Clone(argv[1:])
	name := filepath.Base(argv[0])
	sub := ""
	if role, ok := strings.CutPrefix(name, "nebula-"); ok && slices.Contains(service.Roles, role) {
		sub = role
	} else if name == playbackName {
		sub = "playback"
	}
	if sub != "" && (len(args) == 0 || args[0] != sub) {
		args = append([]string{sub}, args...)
	}
	if len(args) > 0 && (slices.Contains(service.Roles, args[0]) || args[0] == "playback") {
		for i, a := range args[1:] {
			if len(a) > 1 && a[0] == '-' && a[1] != '-' && a != "-h" {
				args[i+1] = "-" + a
			}
		}
	}
	return args
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "nebula-lite",
		Short:         "NebulaGraph 3.x daemons (metad, storaged, graphd) in Go, and their tools",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, role := range service.Roles {
		root.AddCommand(newDaemonCmd(role, runDaemon))
	}
	root.AddCommand(newServiceCmd(), newPlaybackCmd(), newClusterCmd(), newConsoleCmd(), newFingerprintCmd(), newExportPartsCmd(), newLoadCmd(), newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "nebula-lite %s (NebulaGraph %s compatible)\n", Version, NebulaVersion)
		},
	}
}
