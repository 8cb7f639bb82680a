package engine

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// NebulaGraph manages a NebulaGraph install the way nebula-agent does:
// `scripts/nebula.service ACTION ROLE` run in the install root, its status
// read from the script's words, and playback by the install's
// bin/db_playback.
type NebulaGraph struct{}

func (NebulaGraph) Name() string { return "nebulagraph" }

// script is the install's service script, checked to exist.
func script(root string) (string, error) {
	if err := checkRoot(root); err != nil {
		return "", err
	}
	p := filepath.Join(root, "scripts", "nebula.service")
	if _, err := os.Stat(p); err != nil {
		return "", wrongf("%s: no service script in the install root %s (is it a NebulaGraph install?): %v", p, root, err)
	}
	return p, nil
}

func (n NebulaGraph) service(ctx context.Context, action string, role Role, root string) (string, error) {
	if err := checkRole(role); err != nil {
		return "", err
	}
	p, err := script(root)
	if err != nil {
		return "", err
	}
	return run(ctx, root, p, action, string(role))
}

// Start starts role unless it runs already (the script refuses that).
func (n NebulaGraph) Start(ctx context.Context, role Role, root string) error {
	if st, err := n.Status(ctx, role, root); err == nil && st.Running {
		return nil
	}
	_, err := n.service(ctx, "start", role, root)
	return err
}

func (n NebulaGraph) Stop(ctx context.Context, role Role, root string) error {
	_, err := n.service(ctx, "stop", role, root)
	return err
}

// runningAs is the pid in the script's "Running as PID" line.
var runningAs = regexp.MustCompile(`Running as (\d+)`)

// Status reads the script's answer as nebula-agent does: "Exit..." is not
// running, "Run..." is running, anything else an error.
func (n NebulaGraph) Status(ctx context.Context, role Role, root string) (Status, error) {
	out, err := n.service(ctx, "status", role, root)
	if err != nil {
		return Status{}, err
	}
	return ParseServiceStatus(out)
}

// ParseServiceStatus reads nebula.service's status output.
func ParseServiceStatus(out string) (Status, error) {
	switch {
	case strings.Contains(out, "Exit"):
		return Status{}, nil
	case strings.Contains(out, "Run"):
		st := Status{Running: true}
		if m := runningAs.FindStringSubmatch(out); m != nil {
			st.Pid, _ = strconv.Atoi(m[1])
		}
		return st, nil
	}
	return Status{}, status.Errorf(codes.Internal, "nebula.service status: unrecognised output %q", out)
}

// Playback runs the install's bin/db_playback on dataPath; it reports no
// applied ids (the tool does not print them).
func (NebulaGraph) Playback(ctx context.Context, root, dataPath, metaAddr string) ([]PartApplied, error) {
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin", "db_playback")
	if _, err := os.Stat(bin); err != nil {
		return nil, wrongf("an incremental restore plays the WAL back with NebulaGraph's db_playback, and %s is missing: install the db_playback tool of this NebulaGraph version into %s/bin, or restore a full backup", bin, root)
	}
	_, err := run(ctx, root, bin, "--db_path="+dataPath, "--playback_meta_server="+metaAddr)
	return nil, err
}

// ExportParts is not available: a NebulaGraph checkpoint holds one RocksDB
// per space and host, shared by its parts, and no tool here cuts it per part.
func (NebulaGraph) ExportParts(ctx context.Context, checkpointDir, outDir string, parts []int32) ([]ExportedPart, error) {
	return nil, status.Error(codes.FailedPrecondition, "NebulaGraph's checkpoints hold one engine per space and host (all its parts together), so per-part export is not available with --engine nebulagraph; backups keep the per-host layout")
}
