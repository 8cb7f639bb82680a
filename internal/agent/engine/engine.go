// Package engine is what br-agent needs from the graph database beside it:
// starting, stopping and checking its services, and playing restored data
// back. The agent's core (transfers, restore jobs, journals) is the same
// for every engine; an adapter speaks to one kind of install:
//
//   - NebulaGraph: a real install, through its own scripts/nebula.service
//     and bin/db_playback under the install root, as nebula-agent does;
//   - NebulaLite: the simulator, through its nebula-lite binary.
//
// Errors are gRPC status errors: the agent returns them as they are.
package engine

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Role is a service kind, named as nebula.service names it.
type Role string

const (
	Metad    Role = "metad"
	Storaged Role = "storaged"
	Graphd   Role = "graphd"
)

// Status is whether a role runs under a root, and its pid when known.
type Status struct {
	Running bool
	Pid     int
}

// PartApplied is a part's applied log id after a playback.
type PartApplied struct {
	SpaceID      int32 `json:"space_id"`
	PartID       int32 `json:"part_id"`
	AppliedLogID int64 `json:"applied_log_id"`
}

// ExportedPart is one part written by ExportParts: its applied log id and
// term in the checkpoint, its key count and the size of its tables.
type ExportedPart struct {
	PartID int32  `json:"part_id"`
	LogID  uint64 `json:"log_id"`
	Term   uint64 `json:"term"`
	Keys   int64  `json:"keys"`
	Bytes  int64  `json:"bytes"`
}

// Engine manages the services of one kind of install.
type Engine interface {
	// Name is the adapter's name ("nebulagraph", "nebula-lite").
	Name() string
	Start(ctx context.Context, role Role, root string) error
	Stop(ctx context.Context, role Role, root string) error
	Status(ctx context.Context, role Role, root string) (Status, error)
	// Playback replays the WAL kept under storaged's dataPath into the
	// data there (storaged stopped). root is the install root, metaAddr
	// metad's address. The applied ids are reported where the engine
	// tells them (nil otherwise).
	Playback(ctx context.Context, root, dataPath, metaAddr string) ([]PartApplied, error)
	// ExportParts writes a space checkpoint's data per part (every part,
	// or those listed in parts) to outDir/<part>/ (*.sst, applied),
	// restorable on any host. A part's directory is whole once its applied
	// file exists (written last), so the agent uploads it while the next
	// parts are written. Engines whose checkpoints cannot be cut per part
	// refuse (FailedPrecondition).
	ExportParts(ctx context.Context, checkpointDir, outDir string, parts []int32) ([]ExportedPart, error)
}

// commandTimeout bounds one service or playback command (a start waits
// for the daemon to listen, a stop for it to exit).
const commandTimeout = 2 * time.Minute

// run runs a command with the timeout and returns its combined output; a
// failure is a status error naming the command line and its output.
func run(ctx context.Context, dir string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		code := codes.Internal
		if ctx.Err() != nil {
			code = codes.DeadlineExceeded
		}
		line := strings.TrimSpace(filepath.Base(name) + " " + strings.Join(args, " "))
		if dir != "" {
			line = "cd " + dir + " && " + line
		}
		return text, &CommandError{st: status.Newf(code, "%s: %v: %s", line, err, text), err: err}
	}
	return text, nil
}

// CommandError is a failed command: a status error that keeps the exec
// error (its exit code) for callers that tell exit codes apart.
type CommandError struct {
	st  *status.Status
	err error
}

func (e *CommandError) Error() string              { return e.st.Err().Error() }
func (e *CommandError) GRPCStatus() *status.Status { return e.st }
func (e *CommandError) Unwrap() error              { return e.err }

// ExitCode is the command's exit code, -1 if it did not exit.
func (e *CommandError) ExitCode() int {
	if ee, ok := e.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// checkRoot refuses a root that is not an absolute path.
func checkRoot(root string) error {
	if root == "" || !filepath.IsAbs(root) {
		return status.Errorf(codes.InvalidArgument, "install root %q is not an absolute path", root)
	}
	return nil
}

func checkRole(r Role) error {
	switch r {
	case Metad, Storaged, Graphd:
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "role %q: use metad, storaged or graphd", r)
}

func wrongf(format string, args ...any) error {
	return status.Errorf(codes.FailedPrecondition, format, args...)
}
