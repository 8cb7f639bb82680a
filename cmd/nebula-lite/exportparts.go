package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/kv"
)

func newExportPartsCmd() *cobra.Command {
	var checkpoint, out string
	var only []int32
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export-parts --checkpoint DIR --out DIR [--parts 1,2,...] [--json]",
		Short: "Write a space checkpoint's data per part, restorable on any host",
		Long: `Read a checkpoint of one space on this host (DIR as storaged cuts it:
<data_path>/nebula/<spaceId>/checkpoints/<name>/, holding data/ and wal/<partId>/)
and write each part (or each of --parts, which must all be there) to --out:
  OUT/<partId>/data.sst   the part's keys, rewritten into a Pebble table (absent when none)
  OUT/<partId>/table-<n>.sst  tables of the checkpoint holding only the part's keys, with nothing
                          else over their range (ingested data mostly), hard-linked as they are
  OUT/<partId>/applied    {"log_id":N,"term":T}, the part's applied log id in the checkpoint
The checkpoint is only read. To restore parts on a host, put OUT/<partId>/ (and the
part's WAL files as OUT/<partId>/wal/) under <data_path>/nebula/<spaceId>/parts/ and
run playback, which assembles the space from them before it replays the WAL.

Prints one line per part, or with --json one last line:
  {"parts":[{"part_id":1,"log_id":42,"term":1,"keys":100,"bytes":4096},...]}
Errors go to stderr, naming the path, with exit status 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exportParts(cmd.OutOrStdout(), checkpoint, out, only, asJSON)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&checkpoint, "checkpoint", "", "the space checkpoint's directory (required)")
	f.StringVar(&out, "out", "", "where to write <partId>/ (required)")
	f.Int32SliceVar(&only, "parts", nil, "only these parts (default: every part in the checkpoint)")
	f.BoolVar(&asJSON, "json", false, `print {"parts":[{"part_id","log_id","term","keys","bytes"}]}`)
	return cmd
}

// printPartsJSON prints the one-line report of export-parts and playback
// --json, {"parts":[...]}, which br-agent reads as their last line.
func printPartsJSON[P any](w io.Writer, parts []P) error {
	b, err := json.Marshal(struct {
		Parts []P `json:"parts"`
	}{parts})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// exportNice is the export's scheduling niceness (0 normal, 19 the least).
const exportNice = 10

func exportParts(w io.Writer, checkpoint, out string, only []int32, asJSON bool) error {
	if checkpoint == "" || out == "" {
		return errors.New("export-parts: --checkpoint and --out are required")
	}
	// The export runs beside the storaged it was cut from, while that
	// storaged serves: it takes the CPU only when serving leaves it idle.
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, exportNice); err != nil {
		fmt.Fprintf(os.Stderr, "export-parts: lower priority: %v\n", err)
	}
	parts, err := kv.ExportParts(checkpoint, out, only...)
	if err != nil {
		return err
	}
	if asJSON {
		return printPartsJSON(w, parts)
	}
	for _, p := range parts {
		fmt.Fprintf(w, "part %d: log id %d term %d, %d key(s), %d byte(s)\n", p.Part, p.LogID, p.Term, p.Keys, p.Bytes)
	}
	fmt.Fprintf(w, "exported %d part(s) to %s\n", len(parts), out)
	return nil
}
