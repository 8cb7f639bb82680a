package br

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
)

// A restore's journal is its cluster-wide record, kept on the target's
// metad host beside metad's data (<metad data path>.br-restore) and written
// through that host's agent before each step acts. It is also the lease:
// the restore that created it owns the target until it is removed, and
// renews it while it runs. Each host keeps its own record of its share
// (the agent's RestoreData journal, <data path>.br-restore-data).

// Step is one numbered step of a restore. Steps from StepStop on are
// idempotent: an interrupted restore is resumed by running its recorded
// step again.
type Step int

// The steps of a restore, in order.
const (
	StepCheck    Step = iota + 1 // backup chain, agents, services, disk space: before anything is touched
	StepFence                    // take the lease (create the journal)
	StepData                     // metad's export and every storage host's share downloaded beside the data, the target still serving
	StepPlayback                 // ... and the incremental WAL played back there
	StepStop                     // stop graphd, storaged, metad
	StepSetAside                 // each data directory moves to <dir>.br-old-<backup>, the downloaded one into its place
	StepMeta                     // metad started, restoreMeta
	StepStart                    // storaged and graphd started
	StepVerify                   // every storage host online, every service listed with its agent
	StepCommit                   // the old data removed, the journal removed
	StepRollback                 // (instead of commit) the old data put back, services restarted
)

var stepNames = map[Step]string{StepCheck: "check", StepFence: "fence", StepStop: "stop", StepSetAside: "set aside",
	StepMeta: "meta", StepData: "data", StepPlayback: "playback", StepStart: "start", StepVerify: "verify",
	StepCommit: "commit", StepRollback: "roll back"}

func (s Step) String() string {
	if n, ok := stepNames[s]; ok {
		return fmt.Sprintf("%d (%s)", int(s), n)
	}
	return strconv.Itoa(int(s))
}

// ParseStep reads a step by number or name (a test hook's setting).
func ParseStep(s string) (Step, error) {
	if n, err := strconv.Atoi(s); err == nil && stepNames[Step(n)] != "" {
		return Step(n), nil
	}
	for st, name := range stepNames {
		if name == s {
			return st, nil
		}
	}
	return 0, fmt.Errorf("unknown restore step %q", s)
}

// Journal states.
const (
	stateRestoring   = "restoring"
	stateRollingBack = "rolling-back"
	stateCommitting  = "committing"
)

// leaseTTL is how long a journal not renewed keeps its owner's lease when
// the owner cannot be checked directly (it ran on another machine).
const leaseTTL = 15 * time.Second

// leaseRenew is how often a running restore renews its lease.
const leaseRenew = 2 * time.Second

// journal is the record itself.
type journal struct {
	Format   int          `json:"format"`
	Run      string       `json:"run"` // this restore's id: its agent jobs are named by it
	Backup   string       `json:"backup"`
	Chain    []string     `json:"chain"`
	Storage  string       `json:"storage"` // the storage URI (never a secret)
	Owner    owner        `json:"owner"`
	State    string       `json:"state"`
	Step     Step         `json:"step"` // the step about to act, or acting
	Services []jService   `json:"services"`
	Stopped  bool         `json:"stopped"` // the stop step began: a rollback must restart what ran
	Aside    []asideEntry `json:"aside"`   // data directories set aside (intents, recorded before the move)
	Started  time.Time    `json:"started"`
	Renewed  time.Time    `json:"renewed"`
	Cause    string       `json:"cause,omitempty"` // why it is rolling back
}

// jService is a service of the target as it was before the restore.
type jService struct {
	Role    string `json:"role"` // metad, storaged, graphd
	Addr    string `json:"addr"`
	Agent   string `json:"agent"`
	Root    string `json:"root"`
	Data    string `json:"data,omitempty"`
	Running bool   `json:"running"` // before the restore: a rollback starts it again
}

// asideEntry is a data directory and where its old content waits.
type asideEntry struct {
	Agent   string `json:"agent"`
	Dir     string `json:"dir"`
	Old     string `json:"old"`
	New     string `json:"new,omitempty"` // the downloaded data that moves into dir
	HadData bool   `json:"had_data"`      // false: dir did not exist; a rollback removes what the restore put there
}

// owner identifies the br process holding the lease.
type owner struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	Start string `json:"start"` // the process's start time (/proc), against pid reuse
}

func (o owner) String() string { return fmt.Sprintf("br pid %d on %s", o.PID, o.Host) }

func self() owner {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return owner{Host: host, PID: pid, Start: procStart(pid)}
}

// procStart is field 22 of /proc/PID/stat (start time in clock ticks), ""
// when the process does not exist.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// alive says whether the lease holder may still be running: on this
// machine it is checked directly, elsewhere the lease holds until it has
// not been renewed for leaseTTL.
func (o owner) alive(age time.Duration) bool {
	if host, _ := os.Hostname(); host == o.Host && o.Start != "" {
		return procStart(o.PID) == o.Start
	}
	return age < leaseTTL
}

// journalStore reads and writes the journal through the metad host's
// agent, each write a compare-and-swap against the last one seen.
type journalStore struct {
	agent journalFiles
	path  string

	mu      sync.Mutex
	exists  bool
	crc     uint32
	removed bool // by us: the lease is given up, nothing may write the journal again
}

// where names the journal: agent:path.
func (s *journalStore) where() string {
	if l, ok := s.agent.(*localJournal); ok {
		return l.where(s.path)
	}
	return s.agent.Addr() + ":" + s.path
}

func journalPath(metaData string) string { return strings.TrimRight(metaData, "/") + ".br-restore" }

// load reads the journal: nil if there is none.
func (s *journalStore) load(ctx context.Context) (*journal, time.Duration, error) {
	b, exists, age, err := s.agent.ReadFile(ctx, s.path)
	if err != nil {
		return nil, 0, mark(agentKind(err), fmt.Errorf("read the restore journal %s: %w", s.path, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exists, s.crc = exists, crc32.Checksum(b, castagnoli)
	if !exists {
		return nil, 0, nil
	}
	j := &journal{}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, 0, markf(ErrTargetFailed, "the restore journal %s on %s is unreadable (%v): move it away to start over", s.path, s.agent.Addr(), err)
	}
	return j, age, nil
}

// errLeaseLost: the journal changed under us: another br took over.
var errLeaseLost = errors.New("lease lost")

// save writes j if the journal is still the one last read or written.
func (s *journalStore) save(ctx context.Context, j *journal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return markf(ErrTargetBusy, "the restore journal %s was released: %w", s.path, errLeaseLost)
	}
	j.Renewed = time.Now().UTC()
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	err = s.agent.WriteFile(ctx, s.path, b, &agentclient.CAS{Exists: s.exists, CRC32C: s.crc})
	if status.Code(err) == codes.FailedPrecondition {
		return markf(ErrTargetBusy, "the restore journal %s on %s was changed by another br: %w (%v)", s.path, s.agent.Addr(), errLeaseLost, err)
	}
	if err != nil {
		return mark(agentKind(err), fmt.Errorf("write the restore journal %s: %w", s.path, err))
	}
	s.exists, s.crc = true, crc32.Checksum(b, castagnoli)
	return nil
}

// remove drops the journal: the target is free.
func (s *journalStore) remove(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.agent.RemoveDir(ctx, s.path); err != nil {
		return mark(agentKind(err), fmt.Errorf("remove the restore journal %s: %w", s.path, err))
	}
	s.exists, s.removed = false, true
	return nil
}

// busyError says who holds the target and what to do.
func busyError(j *journal, age time.Duration, where string) error {
	return markf(ErrTargetBusy, "the target cluster is being restored from backup %s by %s (step %s, %s, started %s, lease renewed %s ago; journal %s): wait for it to end; if that br is gone, run again after %s to take over",
		j.Backup, j.Owner, j.Step, j.State, j.Started.Format(time.RFC3339), age.Round(time.Second), where, (leaseTTL - age).Round(time.Second))
}

// interruptedError: a journal of a dead restore is in the way.
func interruptedError(j *journal, where, metaAddr string) error {
	return markf(ErrTargetBusy, "an interrupted restore of backup %s is recorded on the target (step %s, %s; journal %s): run `br restore full --resume --meta %s --storage %s` to finish it, or `--abort` to put the old data back",
		j.Backup, j.Step, j.State, where, metaAddr, j.Storage)
}

// pointer remembers, on br's machine, where a running restore keeps its
// journal: when metad is down (stopped by the interrupted restore) it is
// how a rerun finds it.
type pointer struct {
	Agent string `json:"agent"`
	Path  string `json:"path"`
}

func pointerFile(stateDir, metaAddr string) string {
	return filepath.Join(stateDir, "restore-"+strings.NewReplacer(":", "_", "/", "_").Replace(metaAddr)+".json")
}

// DefaultStateDir is where br keeps its pointers to running restores.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "nebula-br")
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".local", "state", "nebula-br")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nebula-br-%d", os.Getuid()))
}

func writePointer(stateDir, metaAddr string, p pointer) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(p)
	tmp := pointerFile(stateDir, metaAddr) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, pointerFile(stateDir, metaAddr))
}

func readPointer(stateDir, metaAddr string) (*pointer, error) {
	b, err := os.ReadFile(pointerFile(stateDir, metaAddr))
	if err != nil {
		return nil, err
	}
	p := &pointer{}
	return p, json.Unmarshal(b, p)
}

func removePointer(stateDir, metaAddr string) error {
	if err := os.Remove(pointerFile(stateDir, metaAddr)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// checkNotRestoring refuses to back up a cluster that a restore holds, or
// on which an interrupted restore is recorded: its data is half replaced.
func checkNotRestoring(ctx context.Context, pool *agentPool, topo *topology, metaAddr string) error {
	dir, err := topo.Metad.dataPath()
	if err != nil {
		return err
	}
	c, err := pool.get(ctx, topo.Metad.Agent)
	if err != nil {
		return mark(ErrAgentUnavailable, fmt.Errorf("br-agent %s beside metad: %w", topo.Metad.Agent, err))
	}
	js := journalOn(c, journalPath(dir), DefaultStateDir())
	j, age, err := js.load(ctx)
	if err != nil || j == nil {
		return err
	}
	if j.Owner.alive(age) {
		return fmt.Errorf("cannot back up now: %w", busyError(j, age, js.where()))
	}
	return fmt.Errorf("cannot back up now: %w", interruptedError(j, js.where(), metaAddr))
}

// newRunID names a restore run uniquely.
func newRunID(backup string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("restore %s %s-%x", backup, time.Now().UTC().Format("20060102T150405"), b)
}
