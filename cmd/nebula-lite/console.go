package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/console"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
)

// graphOpts are the connection flags of console and fingerprint.
type graphOpts struct {
	addr     string
	user     string
	password string
	timeout  time.Duration
}

func (g *graphOpts) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&g.addr, "addr", "127.0.0.1:9669", "graphd address HOST:PORT")
	f.StringVarP(&g.user, "user", "u", "root", "user")
	f.StringVarP(&g.password, "password", "p", "nebula", "password")
	f.DurationVar(&g.timeout, "timeout", 0, "per-statement timeout (default 60s)")
}

// connect opens an authenticated session; failures are printed like
// statement errors and returned as exit code 1.
func (g *graphOpts) connect(cmd *cobra.Command) (*client.GraphClient, error) {
	addr := g.addr
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "9669")
	}
	c, err := client.NewGraphClient(addr, client.Options{RequestTimeout: g.timeout})
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), console.ErrorLine(err))
		return nil, &exitError{code: 1}
	}
	if _, err := c.Authenticate(cmd.Context(), g.user, g.password); err != nil {
		c.Close()
		fmt.Fprintln(cmd.ErrOrStderr(), console.ErrorLine(err))
		return nil, &exitError{code: 1}
	}
	return c, nil
}

func newConsoleCmd() *cobra.Command {
	g := &graphOpts{}
	var eval, file string
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Run nGQL statements against graphd and print the results as tables",
		Long: `Run the statements of -e or -f (';'-separated, each printed with its result;
the first failing one ends the run with exit status 1), or read statements from
standard input (one per ';' or line; with a prompt when it is a terminal).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var script string
			switch {
			case eval != "" && file != "":
				return fmt.Errorf("use -e or -f, not both")
			case file != "":
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				script = string(b)
			default:
				script = eval
			}
			c, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			con := &console.Console{Exec: c, User: g.user, Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()}
			if eval != "" || file != "" {
				if err := con.RunScript(cmd.Context(), script); err != nil {
					return &exitError{code: 1}
				}
				return nil
			}
			in := cmd.InOrStdin()
			tty := isTerminal(in)
			if err := con.Interactive(cmd.Context(), in, tty, !tty); err != nil {
				if tty {
					return nil // errors were printed; the session went on
				}
				return &exitError{code: 1}
			}
			return nil
		},
	}
	g.register(cmd)
	cmd.Flags().StringVarP(&eval, "eval", "e", "", "statements to run")
	cmd.Flags().StringVarP(&file, "file", "f", "", "file of statements to run")
	return cmd
}

// isTerminal reports whether r is a character device (a terminal).
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newFingerprintCmd() *cobra.Command {
	g := &graphOpts{}
	var space string
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Print a space's data fingerprint (USE <space>; SHOW FINGERPRINT)",
		Long: `Print SHOW FINGERPRINT's table for the space (Kind, Name, Count, Hash: one row
per tag and edge type, and a row of Kind "space"), then a line
"fingerprint <space> <hash>" with the whole space's hash.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if space == "" {
				return fmt.Errorf("--space is required")
			}
			c, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			ds, hash, err := console.Fingerprint(cmd.Context(), c, space)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), console.ErrorLine(err))
				return &exitError{code: 1}
			}
			out := cmd.OutOrStdout()
			if err := console.WriteTable(out, ds); err != nil {
				return err
			}
			fmt.Fprintf(out, "fingerprint %s %s\n", space, hash)
			return nil
		},
	}
	g.register(cmd)
	cmd.Flags().StringVar(&space, "space", "", "graph space (required)")
	return cmd
}
