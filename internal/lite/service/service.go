// Package service manages nebula-lite daemons the way NebulaGraph's
// scripts/nebula.service does: one install root per host holding
//
//	etc/nebula-<role>.conf   the flag file the daemon starts with
//	pids/nebula-<role>.pid   the running daemon's pid
//	logs/nebula-<role>.log   its output
//	scripts/nebula.service   NebulaGraph's service script, on top of nebula-lite service
//	bin/                     nebula-lite, and links to it named nebula-<role> and db_playback
//
// The agent's local mode calls `nebula-lite service start|stop|status`;
// tools made for NebulaGraph run scripts/nebula.service and bin/db_playback.
package service

import (
	"bytes"
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

	"github.com/nebula-open/nebula-br/internal/hostmap"

	"github.com/spf13/pflag"

	"github.com/nebula-open/nebula-br/internal/lite/flagfile"
)

// Roles are the daemons a root can hold.
var Roles = []string{"metad", "storaged", "graphd"}

// Paths of one role under an install root.
type Paths struct {
	Root, Role string
	// ConfFile is the role's flag file when it is not the root's
	// etc/nebula-<role>.conf (nebula.service -c).
	ConfFile string
}

// Conf is the role's flag file: ConfFile, else ROOT/etc/nebula-<role>.conf.
func (p Paths) Conf() string {
	if p.ConfFile != "" {
		return p.ConfFile
	}
	return filepath.Join(p.Root, "etc", "nebula-"+p.Role+".conf")
}

func (p Paths) Pid() string { return filepath.Join(p.Root, "pids", "nebula-"+p.Role+".pid") }
func (p Paths) Log() string { return filepath.Join(p.Root, "logs", "nebula-"+p.Role+".log") }

// ValidRole reports whether role names a daemon.
func ValidRole(role string) error {
	for _, r := range Roles {
		if r == role {
			return nil
		}
	}
	return fmt.Errorf("unknown role %q: use one of %s", role, strings.Join(Roles, ", "))
}

// DefaultPort is the role's port when its flag file sets none.
func DefaultPort(role string) int {
	switch role {
	case "metad":
		return 9559
	case "storaged":
		return 9779
	case "graphd":
		return 9669
	}
	return 0
}

// DefaultLocalIP is --local_ip's default.
const DefaultLocalIP = "127.0.0.1"

// ListenAddr is the address the role's daemon serves on, read from
// --local_ip and --port in its flag file (defaults: 127.0.0.1 and the
// role's standard port).
func (p Paths) ListenAddr() (string, error) {
	fs := pflag.NewFlagSet(p.Role, pflag.ContinueOnError)
	ip := fs.String("local_ip", DefaultLocalIP, "")
	port := fs.Int("port", DefaultPort(p.Role), "")
	if err := flagfile.Apply(fs, p.Conf()); err != nil {
		return "", err
	}
	return net.JoinHostPort(*ip, strconv.Itoa(*port)), nil
}

// abs makes the root absolute: daemons run in their root, and their
// command line (which Running checks) names the flag file absolutely.
func (p Paths) abs() Paths {
	if r, err := filepath.Abs(p.Root); err == nil {
		p.Root = r
	}
	if p.ConfFile != "" {
		if c, err := filepath.Abs(p.ConfFile); err == nil {
			p.ConfFile = c
		}
	}
	return p
}

// Running returns the pid of the role's live daemon, or 0.
func Running(p Paths) int {
	p = p.abs()
	b, err := os.ReadFile(p.Pid())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if syscall.Kill(pid, 0) != nil {
		return 0
	}
	// A recycled pid belongs to another program: check it is ours.
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !bytes.Contains(cmd, []byte(p.Conf())) {
		return 0
	}
	return pid
}

// Start launches the role's daemon in the background with its flag file and
// waits until it listens on listenAddr (or exits, which is an error quoting
// the end of its log).
func Start(p Paths, binary, listenAddr string, wait time.Duration) (int, error) {
	if err := ValidRole(p.Role); err != nil {
		return 0, err
	}
	p = p.abs()
	if pid := Running(p); pid != 0 {
		return pid, nil
	}
	if _, err := os.Stat(p.Conf()); err != nil {
		return 0, fmt.Errorf("start %s: flag file missing: %w", p.Role, err)
	}
	for _, d := range []string{filepath.Dir(p.Pid()), filepath.Dir(p.Log())} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	log, err := os.OpenFile(p.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	cmd := exec.Command(binary, p.Role, "--flagfile="+p.Conf())
	cmd.Dir = p.Root
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlive the caller
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", p.Role, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(p.Pid(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		return 0, err
	}
	deadline := time.Now().Add(wait)
	for {
		select {
		case err := <-exited:
			os.Remove(p.Pid())
			return 0, fmt.Errorf("%s exited during start (%v); end of %s:\n%s", p.Role, err, p.Log(), TailFile(p.Log(), 10))
		default:
		}
		if c, err := net.DialTimeout("tcp", hostmap.Dial(listenAddr), 200*time.Millisecond); err == nil {
			c.Close()
			return pid, nil
		}
		if time.Now().After(deadline) {
			return pid, fmt.Errorf("%s (pid %d) does not listen on %s after %s; see %s", p.Role, pid, listenAddr, wait, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL. Stopping a role that
// does not run is not an error.
func Stop(p Paths, grace time.Duration) error {
	pid := Running(p)
	if pid == 0 {
		os.Remove(p.Pid())
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", p.Role, pid, err)
	}
	deadline := time.Now().Add(grace)
	for Alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 100 && Alive(pid); i++ {
				time.Sleep(20 * time.Millisecond)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(p.Pid())
	return nil
}

// Kill sends SIGKILL to the role's daemon (a crash, for tests) and waits
// until it is gone. The pid file is left behind, as a crash leaves it.
func Kill(p Paths) error {
	pid := Running(p)
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", p.Role, pid, err)
	}
	for i := 0; Alive(pid); i++ {
		if i > 500 {
			return fmt.Errorf("kill %s (pid %d): still alive after 10s", p.Role, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Tail returns the last n lines of the role's log.
func Tail(p Paths, n int) string { return TailFile(p.Log(), n) }

// Alive is true while pid exists and is not a zombie.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

// TailFile returns the last n lines of a file.
func TailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
