package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/lite/service"
)

// AgentPort is br-agent's port on every host.
const AgentPort = 8888

// AgentRole names agents in Status.
const AgentRole = "br-agent"

// agentStopGrace is how long StopAgent waits after SIGTERM.
const agentStopGrace = 10 * time.Second

// AgentPid is the pid file of the agent of host i.
func (c *Cluster) AgentPid(host int) string {
	return filepath.Join(c.Hosts[host].Root, "pids", "br-agent.pid")
}

// AgentLog is the log of the agent of host i.
func (c *Cluster) AgentLog(host int) string {
	return filepath.Join(c.Hosts[host].Root, "logs", "br-agent.log")
}

// AgentAddrs are the agents' addresses, host 0 first (none without agents).
func (c *Cluster) AgentAddrs() []string {
	var out []string
	for _, h := range c.Hosts {
		if h.Agent != "" {
			out = append(out, h.Agent)
		}
	}
	return out
}

func (c *Cluster) hasAgents() bool { return len(c.AgentAddrs()) > 0 }

func (c *Cluster) checkAgent(host int) error {
	if host < 0 || host >= len(c.Hosts) {
		return fmt.Errorf("cluster: no host %d (the cluster has %d)", host, len(c.Hosts))
	}
	if c.Hosts[host].Agent == "" {
		return fmt.Errorf("cluster: host %s runs no br-agent (bring the cluster up with agents)", c.Hosts[host].IP)
	}
	return nil
}

// AgentRunning is the pid of host i's agent, 0 when it does not run. A pid
// file left by a crash, or naming a recycled pid, reads as not running.
func (c *Cluster) AgentRunning(host int) int {
	if c.checkAgent(host) != nil {
		return 0
	}
	b, err := os.ReadFile(c.AgentPid(host))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !service.Alive(pid) {
		return 0
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !bytes.Contains(cmd, []byte("\x00--agent\x00"+c.Hosts[host].Agent+"\x00")) {
		return 0
	}
	return pid
}

// StartAgent starts host i's agent unless it runs, and waits until it
// answers HealthCheck.
func (c *Cluster) StartAgent(host int) error {
	return c.startAgent(host, 30*time.Second)
}

func (c *Cluster) agentError(host int, what string, err error) error {
	return fmt.Errorf("host %s br-agent: %s: %w (log %s)", c.Hosts[host].IP, what, err, c.AgentLog(host))
}

func (c *Cluster) startAgent(host int, wait time.Duration) error {
	if err := c.checkAgent(host); err != nil {
		return err
	}
	if c.AgentRunning(host) != 0 {
		return nil
	}
	h := c.Hosts[host]
	for _, d := range []string{filepath.Dir(c.AgentPid(host)), filepath.Dir(c.AgentLog(host))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	log, err := os.OpenFile(c.AgentLog(host), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	args := append([]string{"--agent", h.Agent, "--meta", c.MetaAddr(), "--hbs", "1", "--nebula-lite", c.Binary}, c.AgentArgs...)
	cmd := exec.Command(c.AgentBinary, args...)
	cmd.Dir = h.Root
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlive the caller
	if err := cmd.Start(); err != nil {
		return c.agentError(host, "start", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(c.AgentPid(host), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		return err
	}
	deadline := time.Now().Add(max(wait, time.Second))
	var last error
	for {
		select {
		case err := <-exited:
			os.Remove(c.AgentPid(host))
			return fmt.Errorf("host %s br-agent exited during start (%v); end of %s:\n%s", h.IP, err, c.AgentLog(host), service.TailFile(c.AgentLog(host), 10))
		default:
		}
		if last = agentHealthy(h.Agent); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return c.agentError(host, fmt.Sprintf("pid %d does not answer HealthCheck after %s", pid, wait), last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agentHealthy asks an agent's HealthCheck once.
func agentHealthy(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	probe, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	probe.Close()
	ac, err := agentclient.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer ac.Close()
	resp, err := ac.HealthCheck(ctx)
	if err != nil {
		return err
	}
	if resp.Status != "ok" && resp.Status != "healthy" { // br-agent's word, nebula-agent's
		return fmt.Errorf("agent %s: HealthCheck says %q", addr, resp.Status)
	}
	return nil
}

// StopAgent stops host i's agent with SIGTERM (SIGKILL after 10s).
// Stopping an agent that does not run is not an error.
func (c *Cluster) StopAgent(host int) error {
	if err := c.checkAgent(host); err != nil {
		return err
	}
	pid := c.AgentRunning(host)
	if pid == 0 {
		os.Remove(c.AgentPid(host))
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return c.agentError(host, fmt.Sprintf("stop pid %d", pid), err)
	}
	deadline := time.Now().Add(agentStopGrace)
	for service.Alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 100 && service.Alive(pid); i++ {
				time.Sleep(20 * time.Millisecond)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(c.AgentPid(host))
	return nil
}

// KillAgent crashes host i's agent with SIGKILL (for fault tests) and
// waits until it is gone; the pid file stays, as a crash leaves it.
func (c *Cluster) KillAgent(host int) error {
	if err := c.checkAgent(host); err != nil {
		return err
	}
	pid := c.AgentRunning(host)
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return c.agentError(host, fmt.Sprintf("kill pid %d", pid), err)
	}
	for i := 0; service.Alive(pid); i++ {
		if i > 500 {
			return c.agentError(host, fmt.Sprintf("kill pid %d", pid), errors.New("still alive after 10s"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
