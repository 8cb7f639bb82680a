package br

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
)

// journalFiles is where a restore's journal lives: on metad's host,
// through the br-agent there, so that every br sees it; or, when that
// agent is nebula-agent (its API cannot read or write files), in br's
// state directory on this machine, which then holds the lease for
// restores run from here only.
type journalFiles interface {
	Addr() string
	ReadFile(ctx context.Context, path string) ([]byte, bool, time.Duration, error)
	WriteFile(ctx context.Context, path string, content []byte, cas *agentclient.CAS) error
	RemoveDir(ctx context.Context, path string) error
}

// journalOn picks the journal's place for metad's agent c.
func journalOn(c *agentclient.Client, path, stateDir string) *journalStore {
	if c.Upstream() {
		return &journalStore{agent: &localJournal{agent: c.Addr(), dir: stateDir}, path: path}
	}
	return &journalStore{agent: c, path: path}
}

// localJournal keeps the files of an agent that cannot hold them in
// stateDir, one per (agent, path), written under an flock so that the
// compare-and-swap holds between br processes on this machine.
type localJournal struct {
	agent string
	dir   string
}

func (l *localJournal) Addr() string { return l.agent }

// where names the journal of path as a user finds it: the file here.
func (l *localJournal) where(path string) string {
	return "br's " + l.file(path) + " (for " + l.agent + ")"
}

func (l *localJournal) file(path string) string {
	r := strings.NewReplacer("/", "_", ":", "_")
	return filepath.Join(l.dir, "journal-"+r.Replace(l.agent)+r.Replace(path))
}

func (l *localJournal) ReadFile(ctx context.Context, path string) ([]byte, bool, time.Duration, error) {
	f := l.file(path)
	b, err := os.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, 0, nil
	}
	if err != nil {
		return nil, false, 0, err
	}
	info, err := os.Stat(f)
	if err != nil {
		return nil, false, 0, err
	}
	return b, true, time.Since(info.ModTime()), nil
}

func (l *localJournal) WriteFile(ctx context.Context, path string, content []byte, cas *agentclient.CAS) error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return err
	}
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f := l.file(path)
	if cas != nil {
		cur, err := os.ReadFile(f)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if exists != cas.Exists || (exists && crc32.Checksum(cur, castagnoli) != cas.CRC32C) {
			return status.Errorf(codes.FailedPrecondition, "%s changed since it was read", f)
		}
	}
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f)
}

func (l *localJournal) RemoveDir(ctx context.Context, path string) error {
	if err := os.Remove(l.file(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// lock takes the state directory's journal lock.
func (l *localJournal) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(l.dir, "journal.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
