package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nebula-open/nebula-br/internal/lite/flagfile"
	"github.com/nebula-open/nebula-br/internal/lite/graphd"
	"github.com/nebula-open/nebula-br/internal/lite/kv"
	"github.com/nebula-open/nebula-br/internal/lite/metad"
	"github.com/nebula-open/nebula-br/internal/lite/service"
	"github.com/nebula-open/nebula-br/internal/lite/storaged"
)

// daemonFlags are a daemon's settings under NebulaGraph's flag names.
type daemonFlags struct {
	role                string
	flagfile            string
	localIP             string
	port                int
	wsHTTPPort          int
	metaServerAddrs     string
	dataPath            string
	walTTLSecs          int64
	walFileSize         int64
	walSync             bool
	heartbeatSecs       int
	agentHeartbeatSecs  int
	expiredTimeFactor   int
	logDir              string
	crashAfterWALAppend bool

	// Resolved by resolve.
	root   string
	logger *slog.Logger
}

func defaultDataPath(role string) string {
	switch role {
	case "metad":
		return filepath.Join("data", "meta")
	case "storaged":
		return filepath.Join("data", "storage")
	}
	return ""
}

// newDaemonCmd builds `nebula-lite <role>`; run gets the resolved flags.
func newDaemonCmd(role string, run func(context.Context, *daemonFlags) error) *cobra.Command {
	d := &daemonFlags{role: role}
	cmd := &cobra.Command{
		Use:   role,
		Short: fmt.Sprintf("Run nebula-%s in the foreground (until SIGTERM or SIGINT)", role),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := d.resolve(cmd); err != nil {
				return err
			}
			return run(cmd.Context(), d)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&d.flagfile, "flagfile", "", "flag file (--name=value lines); the command line wins over it")
	f.StringVar(&d.localIP, "local_ip", service.DefaultLocalIP, "address (IP or DNS name) the daemon serves on and is known by")
	f.IntVar(&d.port, "port", service.DefaultPort(role), "service port")
	f.IntVar(&d.wsHTTPPort, "ws_http_port", defaultHTTPPort(role), "HTTP port of /status, on --local_ip's address (0: none)")
	f.String("ws_ip", "0.0.0.0", "accepted for compatibility: the HTTP port is served where the service is (--local_ip)")
	f.StringVar(&d.metaServerAddrs, "meta_server_addrs", "127.0.0.1:9559", "metad addresses, comma separated (the first one is used)")
	f.StringVar(&d.dataPath, "data_path", defaultDataPath(role), "data directory, relative to the working directory")
	f.Int64Var(&d.walTTLSecs, "wal_ttl", 14400, "seconds a WAL file is kept after it is full")
	f.Int64Var(&d.walFileSize, "wal_file_size", 16<<20, "WAL file size in bytes")
	f.BoolVar(&d.walSync, "wal_sync", false, "fsync the WAL on every write")
	f.IntVar(&d.heartbeatSecs, "heartbeat_interval_secs", 10, "heartbeat interval to metad in seconds")
	f.IntVar(&d.agentHeartbeatSecs, "agent_heartbeat_interval_secs", 60, "metad: the agents' heartbeat interval in seconds")
	f.IntVar(&d.expiredTimeFactor, "expired_time_factor", 5, "metad: an agent is offline after this many of its heartbeat intervals without one")
	f.StringVar(&d.logDir, "log_dir", "logs", "accepted for compatibility: logs go to stderr")
	f.Int("v", 0, "accepted for compatibility, ignored")
	f.Int("minloglevel", 0, "accepted for compatibility, ignored")
	f.Bool("daemonize", false, "accepted for compatibility, ignored (use `nebula-lite service start`)")
	f.String("pid_file", "", "accepted for compatibility, ignored")
	f.BoolVar(&d.crashAfterWALAppend, "debug_crash_after_wal_append", false, "fault injection: exit right after a WAL append")
	for _, name := range []string{"daemonize", "pid_file", "debug_crash_after_wal_append"} {
		_ = f.MarkHidden(name)
	}
	return cmd
}

// resolve applies the flag file and derives paths.
func (d *daemonFlags) resolve(cmd *cobra.Command) error {
	if d.flagfile != "" {
		if err := flagfile.Apply(cmd.Flags(), d.flagfile); err != nil {
			return err
		}
	}
	if d.port <= 0 || d.port > 65535 {
		return fmt.Errorf("--port %d out of range", d.port)
	}
	if d.wsHTTPPort < 0 || d.wsHTTPPort > 65535 {
		return fmt.Errorf("--ws_http_port %d out of range", d.wsHTTPPort)
	}
	if d.localIP == "" {
		return fmt.Errorf("--local_ip is empty")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	d.root = wd
	if d.dataPath != "" {
		if d.dataPath, err = filepath.Abs(d.dataPath); err != nil {
			return err
		}
	}
	if d.heartbeatSecs <= 0 {
		return fmt.Errorf("--heartbeat_interval_secs must be positive, got %d", d.heartbeatSecs)
	}
	if d.agentHeartbeatSecs <= 0 || d.expiredTimeFactor <= 0 {
		return fmt.Errorf("--agent_heartbeat_interval_secs (%d) and --expired_time_factor (%d) must be positive", d.agentHeartbeatSecs, d.expiredTimeFactor)
	}
	if d.logger == nil {
		d.logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)).With("service", d.role)
	}
	return nil
}

// metaAddr is the first of --meta_server_addrs.
func (d *daemonFlags) metaAddr() string {
	first, _, _ := strings.Cut(d.metaServerAddrs, ",")
	return strings.TrimSpace(first)
}

func (d *daemonFlags) heartbeat() time.Duration {
	return time.Duration(d.heartbeatSecs) * time.Second
}

func (d *daemonFlags) metadConfig() metad.ServeConfig {
	// A host is offline after three missed heartbeats, as NebulaGraph counts
	// expiry in heartbeat intervals; an agent, whose heartbeats are further
	// apart (br-agent and nebula-agent: 60 s), as NebulaGraph's metad counts.
	return metad.ServeConfig{LocalIP: d.localIP, Port: d.port, DataPath: d.dataPath, Root: d.root, Logger: d.logger,
		HostTimeout:  3 * d.heartbeat(),
		AgentTimeout: time.Duration(d.expiredTimeFactor*d.agentHeartbeatSecs) * time.Second}
}

func (d *daemonFlags) storagedConfig() storaged.Config {
	return storaged.Config{
		LocalIP: d.localIP, Port: d.port, MetaAddr: d.metaAddr(), DataPath: d.dataPath, Root: d.root,
		WALTTL: time.Duration(d.walTTLSecs) * time.Second, WALFileSize: d.walFileSize, WALSync: d.walSync,
		HeartbeatInterval: d.heartbeat(), Version: NebulaVersion,
		Kv:     kv.Options{CrashAfterWALAppend: d.crashAfterWALAppend},
		Logger: d.logger,
	}
}

func (d *daemonFlags) graphdConfig() graphd.Config {
	return graphd.Config{
		LocalIP: d.localIP, Port: d.port, MetaAddr: d.metaAddr(), Root: d.root,
		HeartbeatInterval: d.heartbeat(), Version: NebulaVersion, Logger: d.logger,
	}
}

// stopper is a running daemon.
type stopper interface{ Stop() error }

// runDaemon starts the role and serves until SIGTERM or SIGINT.
func runDaemon(ctx context.Context, d *daemonFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := d.logger
	attrs := []any{"version", Version, "local_ip", d.localIP, "port", d.port}
	if d.role != "metad" {
		attrs = append(attrs, "meta", d.metaAddr())
	}
	if d.role != "graphd" {
		attrs = append(attrs, "data_path", d.dataPath)
	}
	log.Info("starting", append(attrs, "root", d.root, "flagfile", d.flagfile)...)
	var srv stopper
	var err error
	switch d.role {
	case "metad":
		srv, err = metad.Start(d.metadConfig())
	case "storaged":
		srv, err = storaged.Start(d.storagedConfig())
	case "graphd":
		srv, err = graphd.Start(d.graphdConfig())
	default:
		err = service.ValidRole(d.role)
	}
	if err != nil {
		log.Error("start failed", "err", err)
		return fmt.Errorf("%s: %w", d.role, err)
	}
	web := startWebService(d)
	<-ctx.Done()
	log.Info("stopping")
	web.stop()
	if err := srv.Stop(); err != nil {
		log.Error("stop failed", "err", err)
		return fmt.Errorf("%s: stop: %w", d.role, err)
	}
	log.Info("stopped")
	return nil
}
