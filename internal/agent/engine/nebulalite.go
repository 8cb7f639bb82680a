package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// NebulaLite manages nebula-lite, the simulator, through its binary:
// `nebula-lite service ACTION ROLE --root ROOT`, `nebula-lite playback` and
// `nebula-lite export-parts`.
type NebulaLite struct {
	Bin string // the nebula-lite binary
}

func (NebulaLite) Name() string { return "nebula-lite" }

// FindNebulaLite finds the nebula-lite binary: bin if set, else beside the
// running executable, else on PATH.
func FindNebulaLite(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "nebula-lite")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("nebula-lite")
	if err != nil {
		return "", fmt.Errorf("nebula-lite binary not found (set --nebula-lite): %w", err)
	}
	return p, nil
}

func (n NebulaLite) service(ctx context.Context, action string, role Role, root string) (string, error) {
	if err := checkRole(role); err != nil {
		return "", err
	}
	if err := checkRoot(root); err != nil {
		return "", err
	}
	return run(ctx, "", n.Bin, "service", action, string(role), "--root", root)
}

func (n NebulaLite) Start(ctx context.Context, role Role, root string) error {
	_, err := n.service(ctx, "start", role, root)
	return err
}

func (n NebulaLite) Stop(ctx context.Context, role Role, root string) error {
	_, err := n.service(ctx, "stop", role, root)
	return err
}

// Status: `nebula-lite service status` answers in nebula.service's words
// and exits 3 when the role is not running.
func (n NebulaLite) Status(ctx context.Context, role Role, root string) (Status, error) {
	out, err := n.service(ctx, "status", role, root)
	var ce *CommandError
	if errors.As(err, &ce) && ce.ExitCode() == 3 {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, err
	}
	if m := litePid.FindStringSubmatch(out); m != nil {
		pid, _ := strconv.Atoi(m[1])
		return Status{Running: true, Pid: pid}, nil
	}
	return ParseServiceStatus(out)
}

// litePid is the pid in nebula-lite's own "running, pid N".
var litePid = regexp.MustCompile(`running, pid (\d+)`)

// Playback runs `nebula-lite playback --db_path DIR --json`, which opens
// storaged's engine there (replaying the WAL) and reports every part.
func (n NebulaLite) Playback(ctx context.Context, root, dataPath, metaAddr string) ([]PartApplied, error) {
	args := []string{"playback", "--db_path=" + dataPath, "--json"}
	if metaAddr != "" {
		args = append(args, "--playback_meta_server="+metaAddr)
	}
	out, err := run(ctx, "", n.Bin, args...)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "play back %s (is storaged still running on it?): %v", dataPath, err)
	}
	var res struct {
		Parts []PartApplied `json:"parts"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		return nil, status.Errorf(codes.Internal, "play back %s: unreadable report %q: %v", dataPath, out, err)
	}
	return res.Parts, nil
}

// ExportParts runs `nebula-lite export-parts --checkpoint D --out O [--parts P,...] --json`.
func (n NebulaLite) ExportParts(ctx context.Context, checkpointDir, outDir string, parts []int32) ([]ExportedPart, error) {
	args := []string{"export-parts", "--checkpoint", checkpointDir, "--out", outDir, "--json"}
	if len(parts) > 0 {
		ids := make([]string, len(parts))
		for i, p := range parts {
			ids[i] = strconv.Itoa(int(p))
		}
		args = append(args, "--parts", strings.Join(ids, ","))
	}
	out, err := run(ctx, "", n.Bin, args...)
	if err != nil {
		return nil, err
	}
	var res struct {
		Parts []ExportedPart `json:"parts"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		return nil, status.Errorf(codes.Internal, "export parts of %s: unreadable report %q: %v", checkpointDir, out, err)
	}
	return res.Parts, nil
}

// lastLine is the last line of s (the JSON report follows any log lines).
func lastLine(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
