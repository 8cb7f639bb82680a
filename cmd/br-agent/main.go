// Command br-agent is the daemon beside every metad and storaged: it moves
// files between the host's data directories and external storage, plays
// restored data back and starts/stops the host's services in local mode,
// for br and the operator. It registers with metad by heartbeat.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nebula-open/nebula-br/internal/hostmap"

	"github.com/nebula-open/nebula-br/internal/agent"
	"github.com/nebula-open/nebula-br/internal/agent/engine"
)

// Version of br-agent (set with -ldflags "-X main.Version=...").
var Version = "dev"

// stopGrace is how long a SIGTERM lets running transfers finish.
const stopGrace = 30 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

type options struct {
	agent      string
	meta       string
	hbs        int
	ratelimit  float64
	nebulaLite string
	debug      bool
	logFile    string
	version    bool
	restore    bool
	dataPaths  string
	engine     string
	api        string
	// nebula-agent's TLS flags: accepted so its command lines work; TLS
	// itself is not supported yet (enable_ssl=true is refused).
	enableSSL bool
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("br-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.agent, "agent", ":"+strconv.Itoa(agent.DefaultPort),
		"host:port to listen on and to register with metad as; with no host, it listens on every interface and registers as this machine's hostname")
	fs.StringVar(&o.meta, "meta", "", "metad's host:port, for heartbeats (empty: none)")
	fs.IntVar(&o.hbs, "hbs", 60, "seconds between heartbeats to metad")
	fs.Float64Var(&o.ratelimit, "ratelimit", 0, "bound on the bytes all transfers move together, in Mbps (0: none)")
	fs.StringVar(&o.nebulaLite, "nebula-lite", "", "nebula-lite binary for StartService/StopService (default: beside br-agent, else on PATH)")
	fs.BoolVar(&o.debug, "debug", false, "log at debug level")
	fs.StringVar(&o.logFile, "log", "", "log file (default: stderr)")
	fs.BoolVar(&o.restore, "restore-init", false, "run as a restore's init container: serve the operator until it calls StopAgent, then exit 0 (at once if --data-path is already marked restored)")
	fs.StringVar(&o.dataPaths, "data-path", "", "the service's data directories, comma separated (reported to the operator)")
	fs.StringVar(&o.engine, "engine", "auto", "what manages the services beside the agent: nebulagraph (scripts/nebula.service and bin/db_playback under the install root, as nebula-agent), nebula-lite, or auto (nebula-lite when its binary is found)")
	fs.StringVar(&o.api, "api", "all", "the APIs served: all (br-agent's own and nebula-agent's), or upstream (nebula-agent's alone, as upstream's agent: to check a client against one)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.enableSSL, "enable_ssl", false, "nebula-agent's flag: TLS to metad and db_playback (not supported yet: true is refused)")
	for _, name := range []string{"cert_path", "key_path", "ca_path", "server_name"} {
		fs.String(name, "", "nebula-agent's flag, for --enable_ssl (accepted, unused)")
	}
	fs.Bool("insecure_skip_verify", false, "nebula-agent's flag, for --enable_ssl (accepted, unused)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: br-agent --agent HOST:PORT --meta HOST:PORT [flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.hbs <= 0 {
		return nil, fmt.Errorf("--hbs %d: must be at least 1", o.hbs)
	}
	if o.ratelimit < 0 {
		return nil, fmt.Errorf("--ratelimit %v: must be >= 0", o.ratelimit)
	}
	if o.enableSSL {
		return nil, errors.New("--enable_ssl: TLS is not supported by br-agent yet; run it without TLS on a trusted network, or use nebula-agent")
	}
	if o.api != "all" && o.api != "upstream" {
		return nil, fmt.Errorf("--api %q: use all or upstream", o.api)
	}
	switch o.engine {
	case "auto", "nebulagraph", "nebula-lite":
	default:
		return nil, fmt.Errorf("--engine %q: use nebulagraph, nebula-lite or auto", o.engine)
	}
	return o, nil
}

// identity resolves --agent into the listen address and the address the
// agent registers as.
func identity(addr string) (listen, id string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("--agent %q: want host:port: %w", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", "", fmt.Errorf("--agent %q: bad port", addr)
	}
	if host != "" {
		return addr, addr, nil
	}
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "", "", fmt.Errorf("--agent %q has no host and the hostname is unknown (%v): give --agent HOST:PORT with the host metad knows this machine by", addr, err)
	}
	return addr, net.JoinHostPort(name, port), nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "br-agent:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(os.Stdout, "br-agent", Version)
		return 0
	}
	var out io.Writer = stderr
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(stderr, "br-agent:", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))

	listen, id, err := identity(o.agent)
	if err != nil {
		log.Error("bad flags", "err", err)
		fmt.Fprintln(stderr, "br-agent:", err)
		return 2
	}
	var dataPaths []string
	for _, p := range strings.Split(o.dataPaths, ",") {
		if p = strings.TrimSpace(p); p != "" {
			dataPaths = append(dataPaths, p)
		}
	}
	if o.restore {
		if len(dataPaths) == 0 {
			fmt.Fprintln(stderr, "br-agent: --restore-init needs --data-path: the directories the restore fills")
			return 2
		}
		if agent.RestoreInitDone(dataPaths) {
			log.Info("restore init stage already done for these data paths: nothing to wait for", "data_paths", dataPaths)
			return 0
		}
	}
	var eng engine.Engine
	switch o.engine {
	case "nebulagraph":
		eng = engine.NebulaGraph{}
	case "nebula-lite":
		bin, err := engine.FindNebulaLite(o.nebulaLite)
		if err != nil {
			fmt.Fprintln(stderr, "br-agent: --engine nebula-lite:", err)
			return 2
		}
		eng = engine.NebulaLite{Bin: bin}
	}
	srv, err := agent.New(agent.Config{
		Engine:            eng,
		UpstreamOnly:      o.api == "upstream",
		RestoreInit:       o.restore,
		DataPaths:         dataPaths,
		Addr:              id,
		MetaAddr:          o.meta,
		HeartbeatInterval: time.Duration(o.hbs) * time.Second,
		RateLimitMbps:     o.ratelimit,
		NebulaLite:        o.nebulaLite,
		Version:           Version,
		Logger:            log,
	})
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	lis, err := net.Listen("tcp", hostmap.Listen(listen))
	if err != nil {
		log.Error("listen", "addr", listen, "err", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		log.Info("signal received, stopping", "signal", sig.String())
		srv.Stop(stopGrace)
	}()
	if err := srv.Serve(lis); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	log.Info("br-agent stopped")
	return 0
}
