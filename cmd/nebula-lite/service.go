package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/service"
)

// Output styles of `nebula-lite service`.
const (
	outputText   = "text"   // "nebula-metad: running, pid 42"; status exits 3 when a role is down
	outputNebula = "nebula" // NebulaGraph's scripts/nebula.service words and exit codes
	outputJSON   = "json"   // {"services":[...]} after the action; exit codes as text
)

// serviceOpts are the flags of `nebula-lite service`.
type serviceOpts struct {
	root    string
	binary  string
	conf    string
	output  string
	verbose bool
	wait    time.Duration
	grace   time.Duration

	stdout, stderr io.Writer
}

func newServiceCmd() *cobra.Command {
	o := &serviceOpts{}
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Start, stop or check daemons of an install root (etc/nebula-<role>.conf, pids/, logs/)",
		Long: `Manage the daemons of an install root the way NebulaGraph's scripts/nebula.service does.
The role is metad, storaged, graphd, or all (the roles whose flag file exists in ROOT/etc).
start also lays out ROOT/scripts/nebula.service and ROOT/bin/ (see install).

--output text (default) prints "nebula-<role>: running, pid N", "exited", "started, pid N,
listening on ADDR", "already running, pid N", "stopped, pid N", "killed, pid N" or
"not running", one line per role; status exits 3 when an asked role is not running.
--output json prints {"services":[{"role","conf","running","pid","addr"}]} after the action,
with text's exit codes. --output nebula prints NebulaGraph's words ("[INFO] nebula-metad(V):
Running as PID, Listening on PORT", "...: Exited", "[INFO] Starting nebula-metad...",
"[INFO] Done", errors as "[ERROR] ..." on stderr) with its exit codes: status exits 0,
start of a running daemon and any failure exit 1.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.root, "root", ".", "install root")
	pf.StringVar(&o.binary, "binary", "", "daemon binary (default: this executable)")
	pf.StringVar(&o.conf, "conf", "", "flag file instead of ROOT/etc/nebula-<role>.conf (one role only)")
	pf.StringVar(&o.output, "output", outputText, "output style: text, json or nebula (NebulaGraph's scripts/nebula.service)")
	pf.BoolVar(&o.verbose, "verbose", false, "with --output nebula: also print the signals sent")
	pf.DurationVar(&o.wait, "wait", 30*time.Second, "how long start waits for a daemon to listen")
	pf.DurationVar(&o.grace, "grace", 10*time.Second, "how long stop waits after SIGTERM before SIGKILL")
	_ = pf.MarkHidden("binary")
	for _, action := range []string{"start", "stop", "status", "restart", "kill"} {
		cmd.AddCommand(&cobra.Command{
			Use:   action + " <metad|storaged|graphd|all>",
			Short: action + " daemons",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
				return o.run(action, args[0])
			},
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "install",
		Short: "Lay out ROOT/scripts/nebula.service and ROOT/bin/ (nebula-lite, nebula-<role>, db_playback)",
		Long: `Write ROOT/scripts/nebula.service (NebulaGraph's service script on top of
nebula-lite service) and ROOT/bin/nebula-lite (a symlink to this executable) with
bin/nebula-metad, bin/nebula-storaged, bin/nebula-graphd and bin/db_playback linked to it,
so that tools made for NebulaGraph's install roots (nebula-agent) run them unchanged.
What nebula-lite did not write is kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := filepath.Abs(o.root)
			if err != nil {
				return err
			}
			bin, err := o.executable()
			if err != nil {
				return err
			}
			if err := service.Install(root, bin); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", service.ScriptPath(root), filepath.Join(root, "bin"))
			return nil
		},
	})
	return cmd
}

func (o *serviceOpts) executable() (string, error) {
	if o.binary == "" {
		return os.Executable()
	}
	return filepath.Abs(o.binary)
}

// fail ends the command with err: in nebula style as "[ERROR] ..." on
// stderr and exit 1.
func (o *serviceOpts) fail(err error) error {
	if o.output == outputNebula {
		fmt.Fprintln(o.stderr, "[ERROR]", err)
		return &exitError{code: 1}
	}
	return err
}

func (o *serviceOpts) info(format string, args ...any) {
	fmt.Fprintf(o.stdout, "[INFO] "+format+"\n", args...)
}

// paths resolves the role argument to the roles' paths in start order.
func (o *serviceOpts) paths(arg string) ([]service.Paths, error) {
	if arg != "all" {
		if err := service.ValidRole(arg); err != nil {
			return nil, err
		}
		p := service.Paths{Root: o.root, Role: arg, ConfFile: o.conf}
		if o.output == outputNebula {
			if _, err := os.Stat(p.Conf()); err != nil {
				return nil, fmt.Errorf("%s not found", p.Conf())
			}
		}
		return []service.Paths{p}, nil
	}
	if o.conf != "" {
		if o.output != outputNebula {
			return nil, fmt.Errorf("--conf needs a single role, not all")
		}
		fmt.Fprintln(o.stdout, "[WARN] Config file specified but the target is `all': using ROOT/etc/nebula-<role>.conf")
		o.conf = ""
	}
	var out []service.Paths
	for _, r := range service.Roles {
		p := service.Paths{Root: o.root, Role: r}
		if _, err := os.Stat(p.Conf()); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no flag file nebula-<role>.conf in %s", filepath.Join(o.root, "etc"))
	}
	return out, nil
}

func (o *serviceOpts) run(action, arg string) error {
	switch o.output {
	case outputText, outputJSON, outputNebula:
	default:
		return fmt.Errorf("--output %q: use text, json or nebula", o.output)
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return o.fail(err)
	}
	o.root = root
	if o.conf != "" {
		if o.conf, err = filepath.Abs(o.conf); err != nil {
			return o.fail(err)
		}
	}
	ps, err := o.paths(arg)
	if err != nil {
		return o.fail(err)
	}
	switch action {
	case "start":
		err = o.start(ps)
	case "stop":
		err = o.stop(ps)
	case "restart":
		if err = o.stop(ps); err == nil {
			err = o.start(ps)
		}
	case "kill":
		err = o.kill(ps)
	case "status":
		return o.status(ps)
	default:
		err = fmt.Errorf("unknown action %q", action)
	}
	if err != nil {
		return o.fail(err)
	}
	if o.output == outputJSON {
		return o.printJSON(ps, false)
	}
	return nil
}

func (o *serviceOpts) status(ps []service.Paths) error {
	if o.output == outputJSON {
		return o.printJSON(ps, true)
	}
	down := false
	for _, p := range ps {
		pid := service.Running(p)
		if pid == 0 {
			down = true
		}
		if o.output == outputText {
			if pid != 0 {
				fmt.Fprintf(o.stdout, "nebula-%s: running, pid %d\n", p.Role, pid)
			} else {
				fmt.Fprintf(o.stdout, "nebula-%s: exited\n", p.Role)
			}
			continue
		}
		if pid == 0 {
			o.info("nebula-%s(%s): Exited", p.Role, Version)
			continue
		}
		addr, err := p.ListenAddr()
		if err != nil {
			return o.fail(fmt.Errorf("nebula-%s: %w", p.Role, err))
		}
		_, port, _ := net.SplitHostPort(addr)
		o.info("nebula-%s(%s): Running as %d, Listening on %s", p.Role, Version, pid, port)
	}
	if down && o.output == outputText {
		return &exitError{code: 3}
	}
	return nil
}

func (o *serviceOpts) start(ps []service.Paths) error {
	bin, err := o.executable()
	if err != nil {
		return err
	}
	// A root with its flag files gets scripts/ and bin/ (a start without
	// them fails below, leaving the directory as it was).
	install := true
	for _, p := range ps {
		if _, err := os.Stat(p.Conf()); err != nil {
			install = false
		}
	}
	if install {
		if err := service.Install(o.root, bin); err != nil {
			return err
		}
	}
	for _, p := range ps {
		if pid := service.Running(p); pid != 0 {
			if o.output == outputNebula {
				return fmt.Errorf("nebula-%s already running: %d", p.Role, pid)
			}
			if o.output == outputText {
				fmt.Fprintf(o.stdout, "nebula-%s: already running, pid %d\n", p.Role, pid)
			}
			continue
		}
		if o.output == outputNebula {
			o.info("Starting nebula-%s...", p.Role)
		}
		addr, err := p.ListenAddr()
		if err != nil {
			return fmt.Errorf("nebula-%s: %w", p.Role, err)
		}
		pid, err := service.Start(p, bin, addr, o.wait)
		if err != nil {
			return fmt.Errorf("nebula-%s: %w", p.Role, err)
		}
		switch o.output {
		case outputNebula:
			o.info("Done")
		case outputText:
			fmt.Fprintf(o.stdout, "nebula-%s: started, pid %d, listening on %s\n", p.Role, pid, addr)
		}
	}
	return nil
}

func (o *serviceOpts) stop(ps []service.Paths) error {
	for _, p := range slices.Backward(ps) {
		pid := service.Running(p)
		if o.output == outputNebula {
			o.info("Stopping nebula-%s...", p.Role)
			o.signal(pid, "TERM")
		}
		if err := service.Stop(p, o.grace); err != nil {
			return fmt.Errorf("nebula-%s: %w", p.Role, err)
		}
		switch {
		case o.output == outputNebula:
			o.info("Done")
		case o.output == outputJSON:
		case pid != 0:
			fmt.Fprintf(o.stdout, "nebula-%s: stopped, pid %d\n", p.Role, pid)
		default:
			fmt.Fprintf(o.stdout, "nebula-%s: not running\n", p.Role)
		}
	}
	return nil
}

// kill sends SIGKILL (a crash: the pid file stays) and waits until the
// daemon is gone.
func (o *serviceOpts) kill(ps []service.Paths) error {
	for _, p := range slices.Backward(ps) {
		pid := service.Running(p)
		if o.output == outputNebula {
			o.info("Force killing nebula-%s...", p.Role)
			o.signal(pid, "KILL")
		}
		if err := service.Kill(p); err != nil {
			return fmt.Errorf("nebula-%s: %w", p.Role, err)
		}
		switch {
		case o.output == outputNebula:
			o.info("Done")
		case o.output == outputJSON:
		case pid != 0:
			fmt.Fprintf(o.stdout, "nebula-%s: killed, pid %d\n", p.Role, pid)
		default:
			fmt.Fprintf(o.stdout, "nebula-%s: not running\n", p.Role)
		}
	}
	return nil
}

// signal prints, with --verbose, the signal about to be sent.
func (o *serviceOpts) signal(pid int, sig string) {
	if !o.verbose {
		return
	}
	if pid == 0 {
		o.info("No such process")
	} else {
		o.info("Send SIG%s to %d", sig, pid)
	}
}

// serviceState is one role in --output json.
type serviceState struct {
	Role    string `json:"role"`
	Conf    string `json:"conf"`
	Running bool   `json:"running"`
	Pid     int    `json:"pid,omitempty"`
	Addr    string `json:"addr,omitempty"` // from the flag file
}

// printJSON prints every role's state; for status, like text, it exits 3
// when one is not running.
func (o *serviceOpts) printJSON(ps []service.Paths, status bool) error {
	var out struct {
		Services []serviceState `json:"services"`
	}
	down := false
	for _, p := range ps {
		s := serviceState{Role: p.Role, Conf: p.Conf(), Pid: service.Running(p)}
		s.Running = s.Pid != 0
		s.Addr, _ = p.ListenAddr()
		down = down || !s.Running
		out.Services = append(out.Services, s)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "%s\n", b)
	if down && status {
		return &exitError{code: 3}
	}
	return nil
}
