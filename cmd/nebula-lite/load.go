package main

import (
	"fmt"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/bulkload"
	"github.com/nebula-open/nebula-br/internal/lite/cluster"
)

func newLoadCmd() *cobra.Command {
	var (
		root, size string
		spec       = bulkload.Spec{Parts: 12, Fanout: 3, NameBytes: 100}
	)
	cmd := &cobra.Command{
		Use:   "load --root DIR --space NAME (--size 10G | --vertices N) [--partition_num 12] [--fanout 3] [--name_bytes 100]",
		Short: "Bulk-load a generated graph into a new space of a local cluster (SST ingest)",
		Long: `Create space NAME (vid_type INT64, replica_factor 1) in the cluster at DIR (made by
cluster up) with tag p(name string, n int) and edge r(w int), then write a generated
graph straight into each storaged's engine: tables per part, ingested as NebulaGraph's
download and ingest jobs do, never through the WAL. storaged is stopped for the ingest
and started again (metad and graphd keep serving).

The graph: vertices 0..N-1, each with a name of --name_bytes bytes and an edge r to each
of the next --fanout vertices. It depends on the flags alone, so two loads with the same
flags give equal fingerprints. --size sets N from the graph's logical size (keys and
values, reverse edges included; tables are compressed, so the disk holds less).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (size == "") == (spec.Vertices == 0) {
				return fmt.Errorf("give one of --size and --vertices")
			}
			if size != "" {
				b, err := humanize.ParseBytes(size)
				if err != nil {
					return fmt.Errorf("--size %q: %w", size, err)
				}
				spec.Vertices = max(int64(b)/int64(bulkload.BytesPerVertex(spec)), 1)
			}
			c, err := cluster.Load(root)
			if err != nil {
				return err
			}
			res, err := bulkload.Load(cmd.Context(), c, spec, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loaded space %s (id %d): %d vertices, %d edges, %d keys, %s in tables, in %s\n",
				spec.Space, res.SpaceID, spec.Vertices, bulkload.Edges(spec), res.Keys, humanize.IBytes(uint64(res.Bytes)), res.Elapsed.Round(1e6))
			return nil
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&root, "root", "", "the cluster's directory (required)")
	f.StringVar(&spec.Space, "space", "", "the space to create (required; it must not exist)")
	f.StringVar(&size, "size", "", "the graph's logical size, e.g. 200M or 10G")
	f.Int64Var(&spec.Vertices, "vertices", 0, "number of vertices (instead of --size)")
	f.Int32Var(&spec.Parts, "partition_num", spec.Parts, "the space's parts")
	f.IntVar(&spec.Fanout, "fanout", spec.Fanout, "edges from each vertex")
	f.IntVar(&spec.NameBytes, "name_bytes", spec.NameBytes, "bytes of each vertex's name")
	_ = cmd.MarkFlagRequired("root")
	_ = cmd.MarkFlagRequired("space")
	return cmd
}
