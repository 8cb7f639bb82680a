package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/lite/raftpart"
	"github.com/nebula-open/nebula-br/internal/lite/wal"
)

// playbackOpts are the flags of `nebula-lite playback` (db_playback's).
type playbackOpts struct {
	dbPath     string
	metaServer string
	json       bool
	enableSSL  bool
	certPath   string
	keyPath    string
	caPath     string
	sslSAN     string
}

// partApplied is one part in playback's --json output.
type partApplied struct {
	SpaceID      int32  `json:"space_id"`
	PartID       int32  `json:"part_id"`
	AppliedLogID uint64 `json:"applied_log_id"`
}

func newPlaybackCmd() *cobra.Command {
	o := &playbackOpts{}
	cmd := &cobra.Command{
		Use:   "playback --db_path=DIR [--playback_meta_server=ADDR] [--json]",
		Short: "Replay every part's WAL into storaged's data at DIR (NebulaGraph's db_playback)",
		Long: `Open storaged's engine on --db_path, which replays every part's WAL past its
applied log id, and close it (flushing). storaged must not be running on DIR.
A space restored per part, <db_path>/nebula/<spaceId>/parts/<partId>/ holding what
export-parts wrote (and the part's WAL files in wal/), is first assembled into the
space's data and wal/<partId>/, and parts/ removed; rerunning after a crash finishes
that. Then the WAL replays as for any other space.
Named db_playback (ROOT/bin/db_playback links to nebula-lite), it takes the command
line nebula-agent gives NebulaGraph's db_playback. --playback_meta_server is accepted
and not needed (the data path holds all nebula-lite needs); the TLS flags are accepted,
and with --enable_ssl their files must exist.

Prints one line per part, or with --json one object:
  {"parts":[{"space_id":1,"part_id":1,"applied_log_id":42},...]}
Errors go to stderr, naming the path, with exit status 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&o.dbPath, "db_path", "", "storaged's --data_path (required)")
	f.StringVar(&o.metaServer, "playback_meta_server", "", "metad address host:port (accepted, not needed)")
	f.BoolVar(&o.json, "json", false, `print {"parts":[{"space_id","part_id","applied_log_id"}]}`)
	f.BoolVar(&o.enableSSL, "enable_ssl", false, "TLS to metad (accepted: nebula-lite does not dial metad)")
	f.StringVar(&o.certPath, "cert_path", "", "TLS certificate (checked with --enable_ssl)")
	f.StringVar(&o.keyPath, "key_path", "", "TLS key (checked with --enable_ssl)")
	f.StringVar(&o.caPath, "ca_path", "", "TLS CA certificate (checked with --enable_ssl)")
	f.StringVar(&o.sslSAN, "ssl_server_SAN", "", "TLS server name of metad (accepted)")
	return cmd
}

func (o *playbackOpts) run(out io.Writer) error {
	if o.dbPath == "" {
		return errors.New("db_playback: --db_path is required")
	}
	if o.metaServer != "" {
		if _, _, err := net.SplitHostPort(o.metaServer); err != nil {
			return fmt.Errorf("db_playback: --playback_meta_server %q: %w", o.metaServer, err)
		}
	}
	if o.enableSSL {
		for _, f := range []struct{ flag, path string }{{"cert_path", o.certPath}, {"key_path", o.keyPath}, {"ca_path", o.caPath}} {
			if f.path == "" {
				continue
			}
			if _, err := os.Stat(f.path); err != nil {
				return fmt.Errorf("db_playback: --%s: %w", f.flag, err)
			}
		}
	}
	dir, err := filepath.Abs(o.dbPath)
	if err != nil {
		return err
	}
	parts, err := playBack(dir)
	if err != nil {
		return err
	}
	if o.json {
		return printPartsJSON(out, parts)
	}
	for _, p := range parts {
		fmt.Fprintf(out, "space %d part %d: applied log id %d\n", p.SpaceID, p.PartID, p.AppliedLogID)
	}
	fmt.Fprintf(out, "played back %d part(s) in %s\n", len(parts), dir)
	return nil
}

// playBack opens the engine on dir (replaying the WALs), closes it and
// returns every part's applied log id. A data path without nebula/ holds
// nothing to replay and is left as it is.
func playBack(dir string) ([]partApplied, error) {
	parts := []partApplied{}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("db_playback: data path: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("db_playback: data path %s is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "nebula")); errors.Is(err, os.ErrNotExist) {
		return parts, nil
	}
	if err := importParts(dir); err != nil {
		return nil, err
	}
	// Replicated parts replay what storaged would: committed entries only.
	store, err := kv.Open(kv.Options{DataPath: dir, ReplayBound: raftpart.ReplayBound})
	if err != nil {
		if errors.Is(err, wal.ErrLocked) || errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("db_playback: data path %s is locked: storaged (or another process) still has it open: %w", dir, err)
		}
		return nil, fmt.Errorf("db_playback: data path %s: open storaged's engine: %w", dir, err)
	}
	for _, spaceID := range store.Spaces() {
		sp := store.Space(spaceID)
		if sp == nil {
			continue
		}
		for _, partID := range sp.Parts() {
			if p := sp.Part(partID); p != nil {
				parts = append(parts, partApplied{SpaceID: spaceID, PartID: partID, AppliedLogID: p.Applied()})
			}
		}
	}
	if err := store.Close(); err != nil {
		return nil, fmt.Errorf("db_playback: data path %s: close storaged's engine: %w", dir, err)
	}
	return parts, nil
}

// importParts assembles every space restored per part (nebula/<id>/parts/)
// so that opening the engine finds it as any other space.
func importParts(dir string) error {
	root := filepath.Join(dir, "nebula")
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("db_playback: %w", err)
	}
	for _, e := range entries {
		if id, err := strconv.Atoi(e.Name()); err != nil || id <= 0 || !e.IsDir() {
			continue
		}
		if _, err := kv.ImportParts(filepath.Join(root, e.Name())); err != nil {
			return fmt.Errorf("db_playback: data path %s: %w", dir, err)
		}
	}
	return nil
}
