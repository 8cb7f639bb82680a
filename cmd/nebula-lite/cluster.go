package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/cluster"
)

func newClusterCmd() *cobra.Command {
	var root string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a local multi-host cluster, one install root and loopback address per host",
	}
	cmd.PersistentFlags().StringVar(&root, "root", "", "cluster directory (required)")
	_ = cmd.MarkPersistentFlagRequired("root")

	spec := cluster.Spec{}
	var flags []string
	up := &cobra.Command{
		Use:   "up",
		Short: "Lay out and start the cluster; wait until it serves",
		Long: `Lay out DIR/<ip>/{etc,pids,logs,data} for N hosts at addr-base, addr-base+1, ...
(each runs storaged on :9779; the first also metad on :9559 and graphd on :9669),
start what is not running yet, and wait until metad lists every storaged ONLINE
and graphd answers SHOW HOSTS. --flag role:name=value adds a flag-file line
(role metad, storaged, graphd or all; without "role:" for all). --agents also
starts a br-agent on every host (<ip>:8888), stopped last by down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec.Root = root
			fl, err := parseClusterFlags(flags)
			if err != nil {
				return err
			}
			spec.Flags = fl
			c, err := cluster.Up(cmd.Context(), spec)
			if err != nil {
				return err
			}
			printServices(cmd.OutOrStdout(), c, false)
			return nil
		},
	}
	up.Flags().IntVar(&spec.Storaged, "storaged", 0, "number of hosts, each with a storaged (default 1, or as laid out)")
	up.Flags().StringVar(&spec.AddrBase, "addr-base", "", "address of the first host (default "+cluster.DefaultAddrBase+", or as laid out)")
	up.Flags().StringArrayVar(&flags, "flag", nil, "extra flag-file line role:name=value (repeatable)")
	up.Flags().DurationVar(&spec.Timeout, "timeout", cluster.DefaultTimeout, "how long to wait for the cluster to be ready")
	up.Flags().StringVar(&spec.Binary, "binary", "", "daemon binary (default: this executable)")
	_ = up.Flags().MarkHidden("binary")
	up.Flags().BoolVar(&spec.Agents, "agents", false, "also run a br-agent on every host (<ip>:8888), as backup and restore need (kept once laid out)")
	up.Flags().StringVar(&spec.AgentBinary, "agent-binary", "", "br-agent binary (default: br-agent beside the daemon binary)")

	var purge bool
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop every service (graphd, storaged, metad); --purge also deletes the directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster.Load(root)
			if err != nil {
				return err
			}
			if purge {
				return c.Purge()
			}
			return c.Down()
		},
	}
	down.Flags().BoolVar(&purge, "purge", false, "delete the cluster directory too")

	status := &cobra.Command{
		Use:   "status",
		Short: "Print every service with its address and state; exit 3 if one is not running",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster.Load(root)
			if err != nil {
				return err
			}
			if !printServices(cmd.OutOrStdout(), c, true) {
				return &exitError{code: 3}
			}
			return nil
		},
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

// printServices prints "role      addr" per service (with its state when
// withState) and reports whether all run.
func printServices(w io.Writer, c *cluster.Cluster, withState bool) bool {
	all := true
	for _, s := range c.Status() {
		if !withState {
			fmt.Fprintf(w, "%-10s%s\n", s.Role, s.Addr)
			continue
		}
		state := "exited"
		if s.Pid != 0 {
			state = fmt.Sprintf("running, pid %d", s.Pid)
		} else {
			all = false
		}
		fmt.Fprintf(w, "%-10s%-22s%s\n", s.Role, s.Addr, state)
	}
	return all
}

// parseClusterFlags maps "role:name=value" (or "name=value" for all roles)
// to Spec.Flags.
func parseClusterFlags(in []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range in {
		role, rest := "all", f
		if r, kv, ok := strings.Cut(f, ":"); ok && !strings.Contains(r, "=") {
			role, rest = r, kv
		}
		if role != "all" && !slices.Contains(cluster.Roles, role) {
			return nil, fmt.Errorf("--flag %q: unknown role %q (use metad, storaged, graphd or all)", f, role)
		}
		if name, _, ok := strings.Cut(strings.TrimLeft(rest, "-"), "="); !ok || name == "" {
			return nil, fmt.Errorf("--flag %q: want role:name=value", f)
		}
		out[role] = append(out[role], rest)
	}
	return out, nil
}
