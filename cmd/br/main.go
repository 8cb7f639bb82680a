// Command br backs NebulaGraph clusters up to S3-compatible storage, Google
// Cloud Storage or a local directory and restores them. It is installed as br and br-ent, so
// the manifests written for NebulaGraph's enterprise br run unchanged.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nebula-open/nebula-br/internal/br"
	"github.com/nebula-open/nebula-br/internal/restorek8s"
)

// Version is set at build time.
var Version = "dev"

// common flags of the commands that touch storage.
type storageFlags struct {
	uri, accessKey, secretKey, region, endpoint string
	gsCredentials, gsEndpoint                   string
	concurrency                                 int
}

func (f *storageFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.uri, "storage", "", "backup root: s3://BUCKET[/prefix], gs://BUCKET[/prefix] or local:///abs/path (required)")
	fl.StringVar(&f.accessKey, "s3.access_key", "", "S3 access key (default: $AWS_ACCESS_KEY_ID and the SDK's chain)")
	fl.StringVar(&f.secretKey, "s3.secret_key", "", "S3 secret key (default: $AWS_SECRET_ACCESS_KEY and the SDK's chain)")
	fl.StringVar(&f.region, "s3.region", "", "S3 region")
	fl.StringVar(&f.endpoint, "s3.endpoint", "", "S3 endpoint, e.g. https://s3.us-east-1.amazonaws.com or http://minio:9000")
	fl.StringVar(&f.gsCredentials, "gs.credentials", "", "GCS credentials JSON file, a service account key (default: $GOOGLE_APPLICATION_CREDENTIALS, else each agent's Application Default Credentials); the JSON itself is taken too, as upstream's operator passes it, and $GOOGLE_APPLICATION_CREDENTIALS_JSON")
	fl.StringVar(&f.gsEndpoint, "gs.endpoint", "", "GCS endpoint other than https://storage.googleapis.com, e.g. an emulator's http://127.0.0.1:4443 (br and each agent also honour their own $STORAGE_EMULATOR_HOST)")
	fl.IntVar(&f.concurrency, "concurrency", 5, "parallel transfers")
	cmd.MarkFlagRequired("storage")
}

func (f *storageFlags) storage() (br.Storage, error) {
	s := br.Storage{URI: f.uri}
	s.S3.AccessKey, s.S3.SecretKey, s.S3.Region, s.S3.Endpoint = f.accessKey, f.secretKey, f.region, f.endpoint
	// The agents do the transfers on other hosts, where br's environment
	// does not exist: keys from the environment travel with the requests.
	if s.S3.AccessKey == "" && s.S3.SecretKey == "" {
		s.S3.AccessKey, s.S3.SecretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if s.S3.Region == "" {
		s.S3.Region = os.Getenv("AWS_REGION")
	}
	if strings.HasPrefix(strings.ToLower(f.uri), "gs://") {
		// The same for GCS: the credentials file is read here and its
		// content travels to the agents.
		s.GS.Endpoint = f.gsEndpoint
		file, from := f.gsCredentials, "--gs.credentials"
		if file == "" {
			file, from = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"), "GOOGLE_APPLICATION_CREDENTIALS"
		}
		// Upstream's operator passes the JSON itself (flag or
		// GOOGLE_APPLICATION_CREDENTIALS_JSON): taken too, never echoed.
		if json := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS_JSON"); file == "" && json != "" {
			s.GS.Credentials = json
		} else if strings.HasPrefix(strings.TrimSpace(file), "{") {
			s.GS.Credentials, file = file, ""
		}
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return s, fmt.Errorf("%s: cannot read the GCS credentials file: %w", from, err)
			}
			if len(strings.TrimSpace(string(b))) == 0 {
				return s, fmt.Errorf("%s: the GCS credentials file %s is empty", from, file)
			}
			s.GS.Credentials = string(b)
		}
	}
	return s, nil
}

// app holds what every command shares.
type app struct {
	logFile string
	debug   bool
	log     *slog.Logger
	closer  io.Closer
}

func (a *app) setup() error {
	level := slog.LevelInfo
	if a.debug {
		level = slog.LevelDebug
	}
	var w io.Writer = io.Discard
	switch {
	case a.logFile != "":
		f, err := os.OpenFile(a.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		w, a.closer = f, f
	case a.debug:
		w = os.Stderr
	}
	a.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	return nil
}

func (a *app) options(f *storageFlags) (br.Options, error) {
	st, err := f.storage()
	return br.Options{
		Storage: st, Concurrency: f.concurrency, Log: a.log,
		Progress: os.Stderr, Terminal: term.IsTerminal(int(os.Stderr.Fd())),
	}, err
}

func main() {
	a := &app{}
	root := newRoot(a)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if a.closer != nil {
		a.closer.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", redactArgs(err.Error()))
		os.Exit(1)
	}
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "br",
		Short:         "Back up and restore NebulaGraph clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.setup()
		},
	}
	root.PersistentFlags().StringVar(&a.logFile, "log", "", "write a log to this file")
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log in detail (to stderr unless --log)")

	backup := &cobra.Command{Use: "backup", Short: "Take a full or incremental backup"}
	backup.AddCommand(backupCmd(a, "full", false), backupCmd(a, "incr", true))
	// NebulaGraph's reference page runs `br-ent incr full ...` for an
	// incremental backup: accept it so the manifest works as printed.
	incr := &cobra.Command{Use: "incr", Short: "Alias: `incr full` is `backup incr`", Hidden: true}
	incr.AddCommand(backupCmd(a, "full", true))
	restore := &cobra.Command{Use: "restore", Short: "Restore a backup into a cluster"}
	restore.AddCommand(restoreCmd(a))
	root.AddCommand(backup, incr, restore, showCmd(a), cleanupCmd(a), verifyCmd(a), &cobra.Command{
		Use: "version", Short: "Print the version",
		Run: func(*cobra.Command, []string) { fmt.Println("br", Version) },
	})
	return root
}

// redactArgs hides secrets given as flags should an error quote them.
func redactArgs(msg string) string {
	for i, arg := range os.Args {
		for _, flag := range []string{"--s3.secret_key", "--s3.access_key", "--gs.credentials"} {
			v := ""
			if after, ok := strings.CutPrefix(arg, flag+"="); ok {
				v = after
			} else if arg == flag && i+1 < len(os.Args) {
				v = os.Args[i+1]
			}
			if len(v) >= 4 {
				msg = strings.ReplaceAll(msg, v, "<redacted>")
			}
		}
	}
	for _, env := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "GOOGLE_APPLICATION_CREDENTIALS_JSON"} {
		if v := os.Getenv(env); len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "<redacted>")
		}
	}
	return msg
}

func backupCmd(a *app, use string, incremental bool) *cobra.Command {
	var (
		sf                 storageFlags
		metaAddr, base     string
		spaces             []string
		terminationLogPath string
	)
	kind := "a full"
	if incremental {
		kind = "an incremental"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: "Take " + kind + " backup",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.options(&sf)
			if err != nil {
				return err
			}
			res, err := br.Backup(cmd.Context(), br.BackupOptions{
				Options: opts, MetaAddr: metaAddr, Incremental: incremental, Base: base, Spaces: spaces,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, res)
			fmt.Println(res.Name)
			if terminationLogPath != "" {
				if err := os.WriteFile(terminationLogPath, []byte(res.Name), 0o644); err != nil {
					return fmt.Errorf("write termination log: %w", err)
				}
			}
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&metaAddr, "meta", "", "metad address HOST:PORT of the cluster to back up (required)")
	cmd.Flags().StringSliceVar(&spaces, "spaces", nil, "back up only these spaces (comma separated)")
	cmd.Flags().StringVar(&terminationLogPath, "termination-log", "", "also write the backup name to this file (Kubernetes: /dev/termination-log)")
	if incremental {
		cmd.Flags().StringVar(&base, "base", "", "base backup (default: the newest complete backup of this cluster under --storage)")
	}
	cmd.MarkFlagRequired("meta")
	return cmd
}

func restoreCmd(a *app) *cobra.Command {
	var (
		sf                             storageFlags
		metaAddr, name, mode           string
		clusterName, namespace, secret string
		kubeconfig, stateDir           string
		timeout                        time.Duration
		resume, abort                  bool
	)
	cmd := &cobra.Command{
		Use:   "full",
		Short: "Restore a backup (full, or incremental with its chain) into a cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch mode {
			case "local":
				if metaAddr == "" {
					return errors.New("--meta: the target cluster's metad HOST:PORT is required in local mode")
				}
				if resume && abort {
					return errors.New("--resume and --abort: give one")
				}
				if name == "" && !resume && !abort {
					return errors.New("--name: the backup to restore is required")
				}
				hook, err := testHook()
				if err != nil {
					return err
				}
				opts, err := a.options(&sf)
				if err != nil {
					return err
				}
				res, err := br.Restore(cmd.Context(), br.RestoreOptions{Options: opts, MetaAddr: metaAddr, Name: name, Timeout: timeout,
					Resume: resume, Abort: abort, StateDir: stateDir, BeforeStep: hook})
				if err != nil {
					return err
				}
				fmt.Fprintln(os.Stderr, res)
				return nil
			case "k8s":
				if name == "" {
					return errors.New("--name: the backup to restore is required")
				}
				o := restorek8s.Options{
					Namespace: namespace, Cluster: clusterName, Secret: secret, Backup: name,
					Storage: sf.uri, Region: sf.region, Endpoint: sf.endpoint, Concurrency: int32(sf.concurrency),
				}
				// --timeout's default is meant for services coming back in
				// local mode; a restore through the operator takes as long
				// as it takes unless the user says otherwise.
				if cmd.Flags().Changed("timeout") {
					o.Timeout = timeout
				}
				return restoreK8s(cmd.Context(), o, kubeconfig)
			}
			return fmt.Errorf("--mode %q: use local or k8s", mode)
		},
	}
	sf.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&metaAddr, "meta", "", "metad HOST:PORT of the cluster to restore into (local mode)")
	fl.StringVar(&name, "name", "", "backup to restore (required, except with --resume or --abort)")
	fl.BoolVar(&resume, "resume", false, "local mode: finish the interrupted restore recorded on the target (a rerun of the same backup does this too)")
	fl.BoolVar(&abort, "abort", false, "local mode: undo the interrupted restore recorded on the target: its old data back, the services that ran started")
	fl.StringVar(&stateDir, "state-dir", "", "local mode: where br remembers running restores, to find their journal while metad is down (default $XDG_STATE_HOME/nebula-br or ~/.local/state/nebula-br)")
	fl.StringVar(&mode, "mode", "local", "local (through the agents) or k8s (through the operator)")
	fl.StringVar(&clusterName, "cluster", "", "k8s mode: the backed-up NebulaCluster")
	fl.StringVar(&namespace, "namespace", "default", "k8s mode: namespace of the new cluster")
	fl.StringVar(&secret, "secret", "", "k8s mode: Secret with the S3 keys (the operator reads it; --s3.access_key/--s3.secret_key are not used)")
	fl.StringVar(&kubeconfig, "kubeconfig", "", "k8s mode: kubeconfig file (default: in-cluster in a pod, else $KUBECONFIG or ~/.kube/config)")
	fl.DurationVar(&timeout, "timeout", 2*time.Minute, "local mode: how long services may take to come back; k8s mode: how long to follow the restore (default: until it ends)")
	return cmd
}

// testHook is for tests: NEBULA_BR_TEST_CRASH_AT=STEP makes br kill itself
// with SIGKILL as that restore step begins, as a crash would;
// NEBULA_BR_TEST_PAUSE_AT=STEP pauses there for NEBULA_BR_TEST_PAUSE_FOR
// (default 5s), a window for a test's fault.
func testHook() (func(br.Step), error) {
	at := map[string]br.Step{}
	for _, env := range []string{"NEBULA_BR_TEST_CRASH_AT", "NEBULA_BR_TEST_PAUSE_AT"} {
		if v := os.Getenv(env); v != "" {
			s, err := br.ParseStep(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", env, err)
			}
			at[env] = s
		}
	}
	if len(at) == 0 {
		return nil, nil
	}
	pause := 5 * time.Second
	if v := os.Getenv("NEBULA_BR_TEST_PAUSE_FOR"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("NEBULA_BR_TEST_PAUSE_FOR: %w", err)
		}
		pause = d
	}
	return func(s br.Step) {
		if c, ok := at["NEBULA_BR_TEST_CRASH_AT"]; ok && c == s {
			fmt.Fprintf(os.Stderr, "test hook: crashing at step %s\n", s)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		if p, ok := at["NEBULA_BR_TEST_PAUSE_AT"]; ok && p == s {
			fmt.Fprintf(os.Stderr, "test hook: pausing at step %s for %s\n", s, pause)
			time.Sleep(pause)
		}
	}, nil
}

func showCmd(a *app) *cobra.Command {
	var sf storageFlags
	cmd := &cobra.Command{
		Use:   "show",
		Short: "List the backups under a storage root",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.options(&sf)
			if err != nil {
				return err
			}
			list, err := br.Show(cmd.Context(), opts)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tSPACES\tTYPE\tBASE\tSIZE\tSTATUS")
			var problems []string
			for _, b := range list {
				created, typ := "-", "-"
				if !b.CreateTime.IsZero() && b.Status != br.StatusIncomplete {
					created, typ = b.CreateTime.UTC().Format(time.RFC3339), "full"
					if !b.Full {
						typ = "incr"
					}
				}
				spaces := strings.Join(b.Spaces, ",")
				if spaces == "" {
					spaces = "-"
				}
				baseName := b.Base
				if baseName == "" {
					baseName = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Name, created, spaces, typ, baseName, br.HumanBytes(b.Size), b.Status)
				switch {
				case !b.Complete:
					problems = append(problems, fmt.Sprintf("%s: %s: %s", b.Name, b.Status, b.Problem))
				case b.Note != "":
					problems = append(problems, fmt.Sprintf("%s: %s", b.Name, b.Note))
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, p := range problems {
				fmt.Println(p)
			}
			return nil
		},
	}
	sf.add(cmd)
	return cmd
}

func cleanupCmd(a *app) *cobra.Command {
	var (
		sf                  storageFlags
		name, metaAddr      string
		force, snapshotOnly bool
	)
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove a backup (and its leftover snapshot on the cluster with --meta), or only a snapshot (--snapshot-only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.options(&sf)
			if err != nil {
				return err
			}
			res, err := br.Cleanup(cmd.Context(), br.CleanupOptions{Options: opts, Name: name, Force: force, MetaAddr: metaAddr, SnapshotOnly: snapshotOnly})
			if err != nil {
				return err
			}
			if len(res.Snapshots) > 0 {
				fmt.Fprintf(os.Stderr, "snapshots dropped on the cluster: %s\n", strings.Join(res.Snapshots, ", "))
			}
			if snapshotOnly {
				return nil
			}
			if len(res.Broken) > 0 {
				fmt.Fprintf(os.Stderr, "chains broken by --force (these backups can no longer be restored): %s\n", strings.Join(res.Broken, ", "))
			}
			fmt.Fprintf(os.Stderr, "backup %s removed: %d objects, none left\n", name, res.Objects)
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "backup to remove (required)")
	cmd.Flags().StringVar(&metaAddr, "meta", "", "metad HOST:PORT: also drop the backup's snapshot (and dangling ones) on that cluster")
	cmd.Flags().BoolVar(&force, "force", false, "remove even if other backups depend on it (their chains break: they are named)")
	cmd.Flags().BoolVar(&snapshotOnly, "snapshot-only", false, "with --meta: drop only the cluster snapshot NAME, keep the stored backup")
	cmd.MarkFlagRequired("name")
	return cmd
}

func verifyCmd(a *app) *cobra.Command {
	var (
		sf    storageFlags
		name  string
		quick bool
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a backup and its chain: manifest, completeness against .meta, every object's size and checksum",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.options(&sf)
			if err != nil {
				return err
			}
			rep, err := br.Verify(cmd.Context(), opts, name, quick)
			if err != nil {
				return err
			}
			for _, d := range rep.Damaged {
				fmt.Printf("DAMAGED  %s\n", d)
			}
			for _, k := range rep.Missing {
				fmt.Printf("MISSING  %s\n", k)
			}
			for _, c := range rep.Corrupt {
				fmt.Printf("CORRUPT  %s\n", c)
			}
			if !rep.OK() {
				return fmt.Errorf("backup %s is DAMAGED: %d problems of the manifest or chain, %d objects missing, %d corrupt (chain %v); it cannot be restored",
					name, len(rep.Damaged), len(rep.Missing), len(rep.Corrupt), rep.Chain)
			}
			for _, n := range rep.Notes {
				fmt.Printf("NOTE     %s\n", n)
			}
			fmt.Println(rep.Summary(name))
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "backup to verify (required)")
	cmd.Flags().BoolVar(&quick, "quick", false, "check sizes only, without reading the objects")
	cmd.MarkFlagRequired("name")
	return cmd
}
