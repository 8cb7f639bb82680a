package miniotest

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a test server's process (MinIO here, fake-gcs-server in
// gcstest): started with a parent-death signal, its output kept for
// failing tests, stopped by SIGTERM then SIGKILL.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
}

// StartProcess starts cmd (name and addr are for messages) and polls
// ready every 50ms, with a one-second HTTP client, until it answers true:
// an exit or 60 seconds without an answer is an error carrying the output.
func StartProcess(cmd *exec.Cmd, name, addr string, ready func(*http.Client) bool) (*Process, error) {
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), logs: logs}
	go func() { cmd.Wait(); close(p.done) }()

	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for !ready(client) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited while starting on %s (%v):\n%s", name, addr, cmd.ProcessState, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-p.done
			return nil, fmt.Errorf("%s on %s did not answer within 60s:\n%s", name, addr, logs.String())
		}
	}
	return p, nil
}

// Stop ends the process: SIGTERM, SIGKILL after 10 seconds.
func (p *Process) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Logs is what the process printed.
func (p *Process) Logs() string { return p.logs.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil // enough to diagnose
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
