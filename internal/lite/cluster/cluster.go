// Package cluster lays out and runs a local multi-host nebula-lite cluster:
// one install root per "host" under a cluster directory, each host on its
// own loopback address with NebulaGraph's standard ports,
//
//	DIR/cluster.json                 hosts, roles, addresses, binary
//	DIR/<ip>/etc/nebula-<role>.conf  flag files
//	DIR/<ip>/{pids,logs,data}/
//	DIR/<ip>/scripts/nebula.service  NebulaGraph's service script (nebula-agent runs it)
//	DIR/<ip>/bin/                    nebula-lite, nebula-<role>, db_playback (links)
//	DIR/<ip>/pids/br-agent.pid       with agents: br-agent on <ip>:8888
//	DIR/<ip>/logs/br-agent.log
//
// Host i (0..N-1) gets address AddrBase+i and runs storaged on :9779
// (admin :9778, raft :9780); host 0 also runs metad on :9559 and graphd on :9669. So
// two clusters with different AddrBase and Root coexist on one machine.
// Daemons are started and stopped through package service, as
// `nebula-lite service` does on a real install.
package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nebula-open/nebula-br/internal/lite/service"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// Defaults and fixed ports.
const (
	MetaPort        = 9559
	StoragePort     = 9779
	GraphPort       = 9669
	DefaultAddrBase = "127.0.0.10"
	DefaultTimeout  = 60 * time.Second
	// FileName is the cluster description under the cluster root.
	FileName = "cluster.json"
	// User and Password graphd is asked with when checking readiness.
	User     = "root"
	Password = "nebula"
)

// Roles in start order; Down stops in reverse.
var Roles = []string{"metad", "storaged", "graphd"}

// Spec describes the cluster Up lays out and starts.
type Spec struct {
	Root     string // cluster directory (made absolute)
	Storaged int    // number of hosts, each running a storaged (0: as laid out, or 1)
	AddrBase string // address of host 0 (default 127.0.0.10)
	Binary   string // nebula-lite binary (default os.Executable())
	// Flags are extra flag-file lines per role ("metad", "storaged",
	// "graphd", or "all" for every role), each "name=value"; they replace
	// the defaults of the same name.
	Flags   map[string][]string
	Timeout time.Duration // for the cluster to be ready (default 60s)
	// Agents runs a br-agent on every host (<ip>:8888, heartbeating to
	// metad every second); a cluster laid out with agents keeps them.
	Agents bool
	// AgentBinary is the br-agent binary (default: br-agent beside Binary).
	AgentBinary string
	// AgentArgs are extra br-agent flags (kept with the cluster).
	AgentArgs []string
}

// Service is one daemon of the cluster.
type Service struct {
	Role string `json:"role"`
	Addr string `json:"addr"` // host:port it serves on
}

// Host is one install root.
type Host struct {
	IP       string    `json:"ip"`
	Root     string    `json:"root"`
	Services []Service `json:"services"`
	Agent    string    `json:"agent,omitempty"` // br-agent's host:port, if any
}

// Cluster is a laid-out cluster, as recorded in DIR/cluster.json.
type Cluster struct {
	Root     string `json:"root"`
	AddrBase string `json:"addr_base"`
	Binary   string `json:"binary"`
	// AgentBinary is br-agent's binary when the hosts run agents.
	AgentBinary string   `json:"agent_binary,omitempty"`
	AgentArgs   []string `json:"agent_args,omitempty"`
	Hosts       []Host   `json:"hosts"`
}

// Up lays out the cluster (if needed), starts every service that is not
// running yet (metad, then storaged, then graphd, then the agents, each
// answering HealthCheck) and waits until metad lists every storaged ONLINE
// and graphd answers SHOW HOSTS (with agents: and metad's listCluster
// succeeds). Running Up again on a running cluster only checks it.
func Up(ctx context.Context, spec Spec) (*Cluster, error) {
	if spec.Root == "" {
		return nil, errors.New("cluster: root directory not set")
	}
	root, err := filepath.Abs(spec.Root)
	if err != nil {
		return nil, err
	}
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultTimeout
	}
	if spec.Binary == "" {
		if spec.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("cluster: find nebula-lite binary: %w", err)
		}
	}
	if spec.Binary, err = filepath.Abs(spec.Binary); err != nil {
		return nil, err
	}
	if _, err := os.Stat(spec.Binary); err != nil {
		return nil, fmt.Errorf("cluster: binary: %w", err)
	}
	if old, err := Load(root); err == nil {
		if spec.Storaged == 0 {
			spec.Storaged = len(old.Hosts)
		}
		if spec.AddrBase == "" {
			spec.AddrBase = old.AddrBase
		}
		if spec.Storaged != len(old.Hosts) || spec.AddrBase != old.AddrBase {
			return nil, fmt.Errorf("cluster at %s has %d storaged host(s) from %s, not %d from %s: run `cluster down --purge` first",
				root, len(old.Hosts), old.AddrBase, spec.Storaged, spec.AddrBase)
		}
		if old.hasAgents() {
			spec.Agents = true
			if spec.AgentBinary == "" {
				spec.AgentBinary = old.AgentBinary
			}
			if spec.AgentArgs == nil {
				spec.AgentArgs = old.AgentArgs
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if spec.AddrBase == "" {
		spec.AddrBase = DefaultAddrBase
	}
	if spec.Storaged == 0 {
		spec.Storaged = 1
	}
	if spec.Storaged < 1 {
		return nil, fmt.Errorf("cluster: need at least one storaged, got %d", spec.Storaged)
	}
	if spec.Agents {
		if spec.AgentBinary == "" {
			spec.AgentBinary = filepath.Join(filepath.Dir(spec.Binary), "br-agent")
		}
		if spec.AgentBinary, err = filepath.Abs(spec.AgentBinary); err != nil {
			return nil, err
		}
		if _, err := os.Stat(spec.AgentBinary); err != nil {
			return nil, fmt.Errorf("cluster: br-agent binary: %w (build it with `make build`)", err)
		}
	}
	for role := range spec.Flags {
		if role != "all" && !slices.Contains(Roles, role) {
			return nil, fmt.Errorf("cluster: flags for unknown role %q (use metad, storaged, graphd or all)", role)
		}
	}
	c, err := layout(root, spec)
	if err != nil {
		return nil, err
	}
	if err := c.writeFiles(spec.Flags); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	for _, role := range Roles {
		for i, h := range c.Hosts {
			if !h.has(role) {
				continue
			}
			wait := time.Until(deadline(ctx))
			if err := c.start(i, role, wait); err != nil {
				return c, err
			}
		}
	}
	for i, h := range c.Hosts {
		if h.Agent == "" {
			continue
		}
		if err := c.startAgent(i, time.Until(deadline(ctx))); err != nil {
			return c, err
		}
	}
	if err := c.Wait(ctx); err != nil {
		return c, err
	}
	return c, nil
}

func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(DefaultTimeout)
}

// hostIP is base + i, within IPv4.
func hostIP(base string, i int) (string, error) {
	ip := net.ParseIP(base).To4()
	if ip == nil {
		return "", fmt.Errorf("cluster: address base %q is not an IPv4 address", base)
	}
	n := uint64(binary.BigEndian.Uint32(ip)) + uint64(i)
	if n > 0xffffffff {
		return "", fmt.Errorf("cluster: %s + %d overflows IPv4", base, i)
	}
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, uint32(n))
	return out.String(), nil
}

func layout(root string, spec Spec) (*Cluster, error) {
	c := &Cluster{Root: root, AddrBase: spec.AddrBase, Binary: spec.Binary}
	if spec.Agents {
		c.AgentBinary, c.AgentArgs = spec.AgentBinary, spec.AgentArgs
	}
	for i := range spec.Storaged {
		ip, err := hostIP(spec.AddrBase, i)
		if err != nil {
			return nil, err
		}
		h := Host{IP: ip, Root: filepath.Join(root, ip)}
		if i == 0 {
			h.Services = append(h.Services, Service{Role: "metad", Addr: net.JoinHostPort(ip, strconv.Itoa(MetaPort))})
		}
		h.Services = append(h.Services, Service{Role: "storaged", Addr: net.JoinHostPort(ip, strconv.Itoa(StoragePort))})
		if i == 0 {
			h.Services = append(h.Services, Service{Role: "graphd", Addr: net.JoinHostPort(ip, strconv.Itoa(GraphPort))})
		}
		if spec.Agents {
			h.Agent = net.JoinHostPort(ip, strconv.Itoa(AgentPort))
		}
		c.Hosts = append(c.Hosts, h)
	}
	return c, nil
}

// flagLine is one name=value of a flag file.
type flagLine struct{ name, value string }

func setFlag(lines []flagLine, kv string) ([]flagLine, error) {
	name, value, ok := strings.Cut(strings.TrimLeft(strings.TrimSpace(kv), "-"), "=")
	if !ok || name == "" {
		return nil, fmt.Errorf("cluster: flag %q: want name=value", kv)
	}
	for i := range lines {
		if lines[i].name == name {
			lines[i].value = value
			return lines, nil
		}
	}
	return append(lines, flagLine{name, value}), nil
}

// writeFiles writes the hosts' directories, flag files, scripts/ and bin/
// (service.Install) and cluster.json.
func (c *Cluster) writeFiles(extra map[string][]string) error {
	meta := c.MetaAddr()
	for _, h := range c.Hosts {
		for _, d := range []string{"etc", "pids", "logs", "data"} {
			if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
				return err
			}
		}
		if err := service.Install(h.Root, c.Binary); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		for _, s := range h.Services {
			_, port, _ := net.SplitHostPort(s.Addr)
			lines := []flagLine{
				{"local_ip", h.IP},
				{"port", port},
				{"meta_server_addrs", meta},
			}
			switch s.Role {
			case "metad":
				lines = append(lines, flagLine{"data_path", filepath.Join(h.Root, "data", "meta")})
			case "storaged":
				lines = append(lines, flagLine{"data_path", storageDataPath(h.Root)})
			}
			lines = append(lines,
				flagLine{"log_dir", filepath.Join(h.Root, "logs")},
				flagLine{"heartbeat_interval_secs", "1"})
			var err error
			for _, kv := range append(slices.Clone(extra["all"]), extra[s.Role]...) {
				if lines, err = setFlag(lines, kv); err != nil {
					return err
				}
			}
			var b strings.Builder
			fmt.Fprintf(&b, "########## nebula-%s on %s, written by nebula-lite cluster up ##########\n", s.Role, h.IP)
			for _, l := range lines {
				fmt.Fprintf(&b, "--%s=%s\n", l.name, l.value)
			}
			p := service.Paths{Root: h.Root, Role: s.Role}
			if err := writeFileAtomic(p.Conf(), []byte(b.String())); err != nil {
				return err
			}
		}
	}
	js, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.Root, FileName), append(js, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads DIR/cluster.json. A missing file is an error wrapping
// os.ErrNotExist.
func Load(root string) (*Cluster, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(root, FileName))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	var c Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", filepath.Join(root, FileName), err)
	}
	if len(c.Hosts) == 0 {
		return nil, fmt.Errorf("cluster: %s lists no hosts", filepath.Join(root, FileName))
	}
	return &c, nil
}

func (h Host) has(role string) bool {
	for _, s := range h.Services {
		if s.Role == role {
			return true
		}
	}
	return false
}

func (c *Cluster) addr(role string) string {
	for _, h := range c.Hosts {
		for _, s := range h.Services {
			if s.Role == role {
				return s.Addr
			}
		}
	}
	return ""
}

// MetaAddr is metad's address, e.g. 127.0.0.10:9559.
func (c *Cluster) MetaAddr() string { return c.addr("metad") }

// GraphAddr is graphd's address, e.g. 127.0.0.10:9669.
func (c *Cluster) GraphAddr() string { return c.addr("graphd") }

// StorageAddrs are the storaged addresses, host 0 first.
func (c *Cluster) StorageAddrs() []string {
	var out []string
	for _, h := range c.Hosts {
		for _, s := range h.Services {
			if s.Role == "storaged" {
				out = append(out, s.Addr)
			}
		}
	}
	return out
}

// StorageDataPath is storaged's --data_path on host i.
func (c *Cluster) StorageDataPath(host int) string { return storageDataPath(c.Hosts[host].Root) }

func storageDataPath(root string) string { return filepath.Join(root, "data", "storage") }

// Paths are the install paths of a role on host i (0-based).
func (c *Cluster) Paths(host int, role string) service.Paths {
	if host < 0 || host >= len(c.Hosts) {
		return service.Paths{Role: role}
	}
	return service.Paths{Root: c.Hosts[host].Root, Role: role}
}

func (c *Cluster) check(host int, role string) error {
	if host < 0 || host >= len(c.Hosts) {
		return fmt.Errorf("cluster: no host %d (the cluster has %d)", host, len(c.Hosts))
	}
	if !c.Hosts[host].has(role) {
		return fmt.Errorf("cluster: host %s runs no %s", c.Hosts[host].IP, role)
	}
	return nil
}

// serviceError names the host, role and log file of a failure.
func (c *Cluster) serviceError(host int, role, what string, err error) error {
	p := c.Paths(host, role)
	return fmt.Errorf("host %s %s: %s: %w (log %s)", c.Hosts[host].IP, role, what, err, p.Log())
}

func (c *Cluster) start(host int, role string, wait time.Duration) error {
	if err := c.check(host, role); err != nil {
		return err
	}
	p := c.Paths(host, role)
	addr, err := p.ListenAddr()
	if err != nil {
		return c.serviceError(host, role, "read flag file", err)
	}
	if wait < time.Second {
		wait = time.Second
	}
	if _, err := service.Start(p, c.Binary, addr, wait); err != nil {
		return c.serviceError(host, role, "start", err)
	}
	return nil
}

// StartService starts a role on host i (0-based) unless it runs, and waits
// until it listens. It does not wait for the cluster to be ready: see Wait.
func (c *Cluster) StartService(host int, role string) error {
	return c.start(host, role, 30*time.Second)
}

// StopService stops a role on host i with SIGTERM (SIGKILL after 10s).
func (c *Cluster) StopService(host int, role string) error {
	if err := c.check(host, role); err != nil {
		return err
	}
	if err := service.Stop(c.Paths(host, role), 10*time.Second); err != nil {
		return c.serviceError(host, role, "stop", err)
	}
	return nil
}

// Kill crashes a role on host i with SIGKILL and waits until it is gone.
func (c *Cluster) Kill(host int, role string) error {
	if err := c.check(host, role); err != nil {
		return err
	}
	if err := service.Kill(c.Paths(host, role)); err != nil {
		return c.serviceError(host, role, "kill", err)
	}
	return nil
}

// Running is the pid of a role on host i, 0 when it does not run.
func (c *Cluster) Running(host int, role string) int {
	if c.check(host, role) != nil {
		return 0
	}
	return service.Running(c.Paths(host, role))
}

// Down stops every service, graphd first, then the storageds, then metad,
// and the agents last. Data stays.
func (c *Cluster) Down() error {
	var errs []error
	for _, role := range slices.Backward(Roles) {
		for i := len(c.Hosts) - 1; i >= 0; i-- {
			if c.Hosts[i].has(role) {
				errs = append(errs, c.StopService(i, role))
			}
		}
	}
	for i := len(c.Hosts) - 1; i >= 0; i-- {
		if c.Hosts[i].Agent != "" {
			errs = append(errs, c.StopAgent(i))
		}
	}
	return errors.Join(errs...)
}

// Purge stops every service and deletes the cluster directory.
func (c *Cluster) Purge() error {
	if err := c.Down(); err != nil {
		return err
	}
	return os.RemoveAll(c.Root)
}

// Status of one service.
type Status struct {
	Host int    // index
	IP   string // host address
	Role string
	Addr string
	Pid  int // 0: not running
	Log  string
}

// Status lists every service in start order with its pid, then the agents
// (Role AgentRole).
func (c *Cluster) Status() []Status {
	var out []Status
	for _, role := range Roles {
		for i, h := range c.Hosts {
			for _, s := range h.Services {
				if s.Role != role {
					continue
				}
				p := c.Paths(i, role)
				out = append(out, Status{Host: i, IP: h.IP, Role: role, Addr: s.Addr, Pid: service.Running(p), Log: p.Log()})
			}
		}
	}
	for i, h := range c.Hosts {
		if h.Agent != "" {
			out = append(out, Status{Host: i, IP: h.IP, Role: AgentRole, Addr: h.Agent, Pid: c.AgentRunning(i), Log: c.AgentLog(i)})
		}
	}
	return out
}

// Wait blocks until metad lists every storaged of the cluster ONLINE and
// graphd answers SHOW HOSTS (as root), or ctx ends. A service that is not
// running fails it at once, naming its log.
func (c *Cluster) Wait(ctx context.Context) error {
	var mc *client.MetaClient
	defer func() {
		if mc != nil {
			mc.Close()
		}
	}()
	want := c.StorageAddrs()
	var last error
	for {
		for _, st := range c.Status() {
			if st.Pid == 0 {
				return fmt.Errorf("host %s %s is not running; end of %s:\n%s", st.IP, st.Role, st.Log, service.TailFile(st.Log, 10))
			}
		}
		last = c.ready(ctx, &mc, want)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s not ready: %w", c.Root, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) ready(ctx context.Context, mc **client.MetaClient, want []string) error {
	opts := client.Options{ConnectTimeout: time.Second, RequestTimeout: 5 * time.Second}
	metaLog := c.Paths(0, "metad").Log()
	if *mc == nil {
		m, err := client.NewMetaClient(c.MetaAddr(), opts)
		if err != nil {
			return fmt.Errorf("%w (log %s)", err, metaLog)
		}
		*mc = m
	}
	hosts, err := (*mc).ListHosts(ctx, meta.ListHostType_STORAGE)
	if err != nil {
		return fmt.Errorf("%w (log %s)", err, metaLog)
	}
	online := map[string]bool{}
	for _, h := range hosts {
		if h.HostAddr != nil && h.Status == meta.HostStatus_ONLINE {
			online[net.JoinHostPort(h.HostAddr.Host, strconv.Itoa(int(h.HostAddr.Port)))] = true
		}
	}
	var missing, logs []string
	for i, a := range want {
		if !online[a] {
			missing = append(missing, a)
			logs = append(logs, c.Paths(i, "storaged").Log())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("metad %s does not list storaged %s ONLINE (logs %s)", c.MetaAddr(), strings.Join(missing, ", "), strings.Join(logs, ", "))
	}
	if c.hasAgents() {
		if _, err := (*mc).ListCluster(ctx); err != nil {
			var agentLogs []string
			for i, h := range c.Hosts {
				if h.Agent != "" {
					agentLogs = append(agentLogs, c.AgentLog(i))
				}
			}
			return fmt.Errorf("metad %s: listCluster: %w (agent logs %s)", c.MetaAddr(), err, strings.Join(agentLogs, ", "))
		}
	}
	graphLog := c.Paths(0, "graphd").Log()
	g, err := client.NewGraphClient(c.GraphAddr(), opts)
	if err != nil {
		return fmt.Errorf("%w (log %s)", err, graphLog)
	}
	defer g.Close()
	if _, err := g.Authenticate(ctx, User, Password); err != nil {
		return fmt.Errorf("%w (log %s)", err, graphLog)
	}
	if _, err := g.Execute(ctx, "SHOW HOSTS"); err != nil {
		return fmt.Errorf("%w (log %s)", err, graphLog)
	}
	return nil
}
