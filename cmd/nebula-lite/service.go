package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/service"
)

// serviceOpts are the flags of `nebula-lite service`.
type serviceOpts struct {
	root   string
	binary string
	wait   time.Duration
	grace  time.Duration
}

func newServiceCmd() *cobra.Command {
	o := &serviceOpts{}
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Start, stop or check daemons of an install root (etc/nebula-<role>.conf, pids/, logs/)",
		Long: `Manage the daemons of an install root the way NebulaGraph's scripts/nebula.service does.
The role is metad, storaged, graphd, or all (the roles whose flag file exists in ROOT/etc).
status exits 3 when an asked role is not running.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.root, "root", ".", "install root")
	pf.StringVar(&o.binary, "binary", "", "daemon binary (default: this executable)")
	pf.DurationVar(&o.wait, "wait", 30*time.Second, "how long start waits for a daemon to listen")
	pf.DurationVar(&o.grace, "grace", 10*time.Second, "how long stop waits after SIGTERM before SIGKILL")
	_ = pf.MarkHidden("binary")
	for _, action := range []string{"start", "stop", "status", "restart"} {
		cmd.AddCommand(&cobra.Command{
			Use:   action + " <metad|storaged|graphd|all>",
			Short: action + " daemons",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd.OutOrStdout(), action, args[0])
			},
		})
	}
	return cmd
}

// roles resolves the role argument in start order.
func (o *serviceOpts) roles(arg string) ([]string, error) {
	if arg != "all" {
		if err := service.ValidRole(arg); err != nil {
			return nil, err
		}
		return []string{arg}, nil
	}
	var out []string
	for _, r := range service.Roles {
		if _, err := os.Stat(service.Paths{Root: o.root, Role: r}.Conf()); err == nil {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no flag file nebula-<role>.conf in %s", filepath.Join(o.root, "etc"))
	}
	return out, nil
}

func (o *serviceOpts) run(out io.Writer, action, arg string) error {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	o.root = root
	roles, err := o.roles(arg)
	if err != nil {
		return err
	}
	switch action {
	case "start":
		return o.start(out, roles)
	case "stop":
		return o.stop(out, roles)
	case "restart":
		if err := o.stop(out, roles); err != nil {
			return err
		}
		return o.start(out, roles)
	case "status":
		down := false
		for _, r := range roles {
			p := service.Paths{Root: o.root, Role: r}
			if pid := service.Running(p); pid != 0 {
				fmt.Fprintf(out, "nebula-%s: running, pid %d\n", r, pid)
			} else {
				fmt.Fprintf(out, "nebula-%s: exited\n", r)
				down = true
			}
		}
		if down {
			return &exitError{code: 3}
		}
		return nil
	}
	return fmt.Errorf("unknown action %q", action)
}

func (o *serviceOpts) start(out io.Writer, roles []string) error {
	bin := o.binary
	var err error
	if bin == "" {
		bin, err = os.Executable()
	} else {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		return err
	}
	for _, r := range roles {
		p := service.Paths{Root: o.root, Role: r}
		if pid := service.Running(p); pid != 0 {
			fmt.Fprintf(out, "nebula-%s: already running, pid %d\n", r, pid)
			continue
		}
		addr, err := p.ListenAddr()
		if err != nil {
			return fmt.Errorf("nebula-%s: %w", r, err)
		}
		pid, err := service.Start(p, bin, addr, o.wait)
		if err != nil {
			return fmt.Errorf("nebula-%s: %w", r, err)
		}
		fmt.Fprintf(out, "nebula-%s: started, pid %d, listening on %s\n", r, pid, addr)
	}
	return nil
}

func (o *serviceOpts) stop(out io.Writer, roles []string) error {
	for _, r := range slices.Backward(roles) {
		p := service.Paths{Root: o.root, Role: r}
		pid := service.Running(p)
		if err := service.Stop(p, o.grace); err != nil {
			return fmt.Errorf("nebula-%s: %w", r, err)
		}
		if pid != 0 {
			fmt.Fprintf(out, "nebula-%s: stopped, pid %d\n", r, pid)
		} else {
			fmt.Fprintf(out, "nebula-%s: not running\n", r)
		}
	}
	return nil
}
