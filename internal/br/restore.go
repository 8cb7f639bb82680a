package br

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// RestoreOptions configure `br restore full` in local mode.
type RestoreOptions struct {
	Options
	MetaAddr string        // the target cluster's metad
	Name     string        // the backup (full or incremental) to restore; with Resume or Abort, may be empty
	Timeout  time.Duration // for services to come back (default 2m)
	// Resume finishes an interrupted restore recorded on the target;
	// Abort puts its old data back. Without either, a rerun of the same
	// backup resumes, and any other restore is refused while one is
	// recorded.
	Resume, Abort bool
	// StateDir is where br remembers where a running restore keeps its
	// journal, for a rerun while metad is down (default DefaultStateDir).
	StateDir string
	// BeforeStep, if set, is called as each step begins, once the journal
	// records it (tests crash br there).
	BeforeStep func(Step)
}

// RestoreResult summarises a restore.
type RestoreResult struct {
	Name       string
	Chain      []string
	Bytes      int64
	Files      int
	Spaces     int
	Hosts      int
	Elapsed    time.Duration
	Resumed    bool   // an interrupted restore was finished
	RolledBack bool   // Abort: the old data is back
	Cause      string // RolledBack: why the restore was rolled back
}

func (r *RestoreResult) String() string {
	if r.RolledBack {
		return fmt.Sprintf("restore of %s rolled back: the target cluster has its old data back and its services up, %s", r.Name, r.Elapsed.Round(time.Millisecond))
	}
	how := "done"
	if r.Resumed {
		how = "resumed and done"
	}
	return fmt.Sprintf("restore of %s %s (chain %v): %s in %d files, %d spaces on %d storage hosts, %s (%s)",
		r.Name, how, r.Chain, HumanBytes(r.Bytes), r.Files, r.Spaces, r.Hosts, r.Elapsed.Round(time.Millisecond), rate(r.Bytes, r.Elapsed))
}

// agentGrace is how long a step waits for an unreachable agent or service
// before it gives up.
const agentGrace = 10 * time.Second

// Restore replaces the data of the target cluster with a backup, in the
// numbered steps of Step, each recorded in the target's journal before it
// acts. Everything that can fail is checked before the first stop. On a
// failure the old data is put back and every service that ran is started
// again; if br dies, a rerun (or --resume / --abort) finishes or undoes
// the restore from the journal. The backed-up cluster is never touched.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	o.defaults()
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	if o.Name != "" {
		if err := checkName(o.Name); err != nil {
			return nil, err
		}
	} else if !o.Resume && !o.Abort {
		return nil, errors.New("--name is required (or --resume / --abort for an interrupted restore)")
	}
	e := &engine{o: o, pool: newAgentPool(), start: time.Now(), me: self()}
	defer e.pool.close()
	j, age, err := e.locate(ctx)
	if err != nil {
		return nil, err
	}
	if j == nil {
		if o.Resume || o.Abort {
			return nil, fmt.Errorf("no interrupted restore is recorded on the target cluster (metad %s): nothing to resume or abort", o.MetaAddr)
		}
		return e.fresh(ctx)
	}
	return e.takeOver(ctx, j, age)
}

// engine carries one run of a restore.
type engine struct {
	o     RestoreOptions
	pool  *agentPool
	start time.Time
	me    owner

	js     *journalStore
	j      *journal
	topo   *topology // discovered from metad, or rebuilt from the journal
	plan   *RestorePlan
	assign *Assignment // where the backup's data goes

	bytes int64
	files int
	// jobProgress reports each agent job's transfer, by agent and job id:
	// the data and playback steps wait on the same jobs, whose counts run
	// on.
	jobProgress map[string]func(*pb.Progress)
}

// locate finds the target's journal: through metad's listCluster, or, if
// metad does not answer (an interrupted restore stopped it), through the
// pointer this machine kept.
func (e *engine) locate(ctx context.Context) (*journal, time.Duration, error) {
	err := e.discover(ctx)
	if err == nil {
		dir, err := e.topo.Metad.dataPath()
		if err != nil {
			return nil, 0, err
		}
		if err := e.openJournal(ctx, e.topo.Metad.Agent, journalPath(dir)); err != nil {
			return nil, 0, err
		}
		return e.js.load(ctx)
	}
	// metad is down, or lists its hosts without their agents yet (it was
	// just restored): an interrupted restore run from here left a pointer.
	p, perr := readPointer(e.o.StateDir, e.o.MetaAddr)
	if perr != nil {
		return nil, 0, err
	}
	e.o.Log.Info("metad cannot describe the cluster; using the journal this machine recorded", "metad", e.o.MetaAddr, "err", err, "agent", p.Agent, "journal", p.Path)
	if err := e.openJournal(ctx, p.Agent, p.Path); err != nil {
		return nil, 0, err
	}
	j, age, jerr := e.js.load(ctx)
	if jerr == nil && j == nil {
		return nil, 0, err // the pointer is stale: the restore ended
	}
	return j, age, jerr
}

// discover asks the target's metad for its services.
func (e *engine) discover(ctx context.Context) error {
	m, err := client.NewMetaClient(e.o.MetaAddr, client.Options{ConnectTimeout: 3 * time.Second})
	if err != nil {
		return mark(ErrAgentUnavailable, fmt.Errorf("connect to the target metad %s: %w (start it)", e.o.MetaAddr, err))
	}
	defer m.Close()
	topo, err := discover(ctx, m)
	if err != nil {
		return err
	}
	e.topo = topo
	return nil
}

func (e *engine) openJournal(ctx context.Context, agent, path string) error {
	c, err := e.agent(ctx, agent)
	if err != nil {
		return err
	}
	e.js = journalOn(c, path, e.o.StateDir)
	return nil
}

// agent connects to an agent, naming it in the error.
func (e *engine) agent(ctx context.Context, a string) (*agentclient.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := e.pool.get(dctx, a)
	if err != nil {
		return nil, mark(ErrAgentUnavailable, fmt.Errorf("br-agent %s does not answer (%w): start it", a, err))
	}
	return c, nil
}

// fresh runs a new restore: steps 1 and 2, then the rest.
func (e *engine) fresh(ctx context.Context) (*RestoreResult, error) {
	// 1. Check everything that can fail before touching anything.
	plan, err := PlanRestore(ctx, e.o.Storage, e.o.Name)
	if err != nil {
		return nil, err
	}
	e.plan = plan
	if err := e.pairUp(); err != nil {
		return nil, err
	}
	svcs, err := e.check(ctx)
	if err != nil {
		return nil, err
	}

	// 2. Fence: the journal is created only if there is none.
	e.j = &journal{Format: 1, Run: newRunID(plan.Name), Backup: plan.Name, Chain: plan.Chain, Storage: e.o.Storage.URI, Owner: e.me, State: stateRestoring,
		Step: StepFence, Services: svcs, Started: time.Now().UTC()}
	if err := e.js.save(ctx, e.j); err != nil {
		if errors.Is(err, errLeaseLost) {
			if j, age, lerr := e.js.load(ctx); lerr == nil && j != nil {
				return nil, busyError(j, age, e.where())
			}
		}
		return nil, err
	}
	if err := writePointer(e.o.StateDir, e.o.MetaAddr, pointer{Agent: e.js.agent.Addr(), Path: e.js.path}); err != nil {
		e.o.Log.Warn("cannot remember the journal's place on this machine (a rerun needs metad up)", "err", err)
	}
	e.o.Log.Info("lease taken", "journal", e.where(), "backup", plan.Name)
	return e.run(ctx, StepData)
}

// takeOver continues the restore a journal records, once its owner is
// gone: forward (resume) or back (abort).
func (e *engine) takeOver(ctx context.Context, j *journal, age time.Duration) (*RestoreResult, error) {
	if j.Owner != e.me && j.Owner.alive(age) {
		return nil, busyError(j, age, e.where())
	}
	if !e.o.Abort && !e.o.Resume && j.Backup != e.o.Name {
		return nil, interruptedError(j, e.where(), e.o.MetaAddr)
	}
	if e.o.Resume && e.o.Name != "" && j.Backup != e.o.Name {
		return nil, markf(ErrTargetBusy, "the interrupted restore recorded on the target is of backup %s, not %s: resume it without --name, or --abort it", j.Backup, e.o.Name)
	}
	e.j = j
	e.j.Owner = e.me
	if err := e.js.save(ctx, e.j); err != nil {
		return nil, err
	}
	if err := writePointer(e.o.StateDir, e.o.MetaAddr, pointer{Agent: e.js.agent.Addr(), Path: e.js.path}); err != nil {
		e.o.Log.Warn("cannot remember the journal's place on this machine (a rerun needs metad up)", "err", err)
	}
	e.topo = j.topology()
	e.o.Log.Info("taking over an interrupted restore", "backup", j.Backup, "step", j.Step.String(), "state", j.State, "journal", e.where())
	if e.o.Progress != nil {
		fmt.Fprintf(e.o.Progress, "interrupted restore of %s found at step %s (%s); %s\n", j.Backup, j.Step, j.State,
			map[bool]string{true: "putting the old data back", false: "resuming it"}[e.o.Abort || j.State == stateRollingBack])
	}
	if e.o.Abort || j.State == stateRollingBack {
		cause := j.Cause
		if e.o.Abort {
			cause = "aborted with --abort"
		}
		return e.rolledBack(ctx, cause)
	}
	if j.State == stateCommitting {
		return e.commit(ctx, true)
	}
	plan, err := PlanRestore(ctx, e.o.Storage, j.Backup)
	if err != nil {
		return nil, fmt.Errorf("resume the restore of %s: %w (or run with --abort to put the old data back)", j.Backup, err)
	}
	e.plan = plan
	if err := e.pairUp(); err != nil {
		return nil, err
	}
	for _, a := range e.agents() {
		if _, err := e.agent(ctx, a); err != nil {
			return nil, err
		}
	}
	step := j.Step
	if step < StepData {
		step = StepData
	}
	res, err := e.run(ctx, step)
	if res != nil {
		res.Resumed = true
	}
	return res, err
}

func (e *engine) where() string { return e.js.where() }

// pairUp assigns the backup's data to the target's storage hosts.
func (e *engine) pairUp() error {
	var targets []*nebula.HostAddr
	for _, s := range e.topo.Storaged {
		targets = append(targets, s.Addr)
	}
	a, err := e.plan.Assign(targets)
	e.assign = a
	return err
}

// agents are the target's agents, each once.
func (e *engine) agents() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range e.topo.all() {
		if !seen[s.Agent] {
			seen[s.Agent] = true
			out = append(out, s.Agent)
		}
	}
	return out
}

// check is step 1's look at the target: every agent answers, every
// service has a data path, no old data of an earlier restore is in the
// way, every disk has room for its download. It records which services
// run, for a rollback.
func (e *engine) check(ctx context.Context) ([]jService, error) {
	engines := map[string]string{} // agent -> the engine it reports
	for _, a := range e.agents() {
		c, err := e.agent(ctx, a)
		if err != nil {
			return nil, err
		}
		hc, err := c.HealthCheck(ctx)
		if err != nil {
			return nil, mark(ErrAgentUnavailable, fmt.Errorf("br-agent %s: %w", a, err))
		}
		engines[a] = hc.Engine
	}
	for _, s := range e.topo.Storaged {
		if err := e.plan.CanImport(addr(s.Addr), s.Agent, engines[s.Agent]); err != nil {
			return nil, err
		}
	}
	need := map[string]int64{} // data path -> bytes the restore downloads there
	metaDir, err := e.topo.Metad.dataPath()
	if err != nil {
		return nil, err
	}
	req, _ := e.plan.MetaJob("check", metaDir, 0)
	need[metaDir] = bytesOf(req)
	for _, t := range e.assign.Targets {
		s := e.topo.storage(t)
		dir, err := s.dataPath()
		if err != nil {
			return nil, err
		}
		need[dir] += bytesOf(e.plan.HostJob("check", e.assign, t, dir, 0))
	}
	var out []jService
	for _, s := range e.topo.all() {
		c, _ := e.agent(ctx, s.Agent)
		st, err := c.ServiceStatus(ctx, roles[s.Role], s.Root)
		if err != nil {
			return nil, mark(agentKind(err), fmt.Errorf("status of %s %s: %w", roleName(s.Role), addr(s.Addr), err))
		}
		js := jService{Role: roleName(s.Role), Addr: addr(s.Addr), Agent: s.Agent, Root: s.Root, Running: st.Running}
		if s.Role != meta.HostRole_GRAPH {
			js.Data, _ = s.dataPath()
			old := js.Data + ".br-old-" + e.plan.Name
			if exists, err := c.ExistDir(ctx, old); err != nil {
				return nil, mark(agentKind(err), err)
			} else if exists {
				return nil, markf(ErrTargetFailed, "%s on %s holds old data left by an earlier restore of %s that no journal records: look at it, move or remove it, then run again", old, s.Agent, e.plan.Name)
			}
			if c.Upstream() {
				e.o.Log.Warn("nebula-agent cannot tell its free disk space: not checked", "agent", s.Agent, "path", js.Data)
				out = append(out, js)
				continue
			}
			free, _, err := c.StatDisk(ctx, js.Data)
			if err != nil {
				return nil, mark(agentKind(err), fmt.Errorf("disk space for %s on %s: %w", js.Data, s.Agent, err))
			}
			if want := need[js.Data] + need[js.Data]/20 + 64<<20; free < want {
				return nil, markf(ErrTargetFailed, "%s on %s has %s free; the restore downloads %s there (plus room to work): free some space",
					js.Data, s.Agent, HumanBytes(free), HumanBytes(need[js.Data]))
			}
		}
		out = append(out, js)
	}
	return out, nil
}

// run carries the restore from step `from` on; a failure rolls it back.
func (e *engine) run(ctx context.Context, from Step) (*RestoreResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopRenew := e.renew(ctx, cancel)
	defer stopRenew()

	prog := newProgress("downloaded", e.o.Progress, e.o.Terminal)
	steps := []struct {
		step Step
		fn   func(context.Context) error
	}{
		{StepData, func(ctx context.Context) error { return e.data(ctx, prog, "playback") }},
		{StepPlayback, func(ctx context.Context) error { return e.data(ctx, prog, "done") }},
		{StepStop, e.stop},
		{StepSetAside, e.setAside},
		{StepMeta, e.restoreMeta},
		{StepStart, e.startServices},
		{StepVerify, e.verify},
	}
	for _, s := range steps {
		if s.step < from {
			continue
		}
		err := e.begin(ctx, s.step)
		if err == nil {
			err = s.fn(ctx)
		}
		if err == nil {
			e.o.Log.Info("step done", "step", s.step.String(), "elapsed", time.Since(e.start))
			continue
		}
		prog.finish()
		if cause := context.Cause(ctx); errors.Is(cause, errLeaseLost) {
			return nil, fmt.Errorf("restore of %s stopped at step %s: %w", e.j.Backup, s.step, cause)
		}
		stopRenew()
		err = fmt.Errorf("step %s: %w", s.step, err)
		touched := e.j.Stopped
		_, rerr := e.rollback(context.WithoutCancel(ctx), err.Error())
		if rerr != nil {
			return nil, fmt.Errorf("restore of %s failed: %w; putting the old data back did not finish either: %v", e.j.Backup, err, rerr)
		}
		if !touched {
			return nil, fmt.Errorf("restore of %s failed before the target cluster was touched (its data and services are as they were; the downloads are removed): %w", e.j.Backup, err)
		}
		return nil, fmt.Errorf("restore of %s failed, the target cluster has its old data back and its services up: %w", e.j.Backup, err)
	}
	e.bytes, e.files, _ = prog.finish()
	stopRenew() // before the journal goes: a late renewal must not write it again
	return e.commit(context.WithoutCancel(ctx), false)
}

// begin records that step is about to act.
func (e *engine) begin(ctx context.Context, step Step) error {
	e.j.Step = step
	if err := e.js.save(ctx, e.j); err != nil {
		return err
	}
	if e.o.BeforeStep != nil {
		e.o.BeforeStep(step)
	}
	return nil
}

// renew keeps the lease while the restore runs; losing it (another br
// took over) cancels the run.
func (e *engine) renew(ctx context.Context, cancel context.CancelCauseFunc) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(leaseRenew)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := e.js.save(ctx, e.j); errors.Is(err, errLeaseLost) {
					cancel(err)
					return
				} else if err != nil {
					e.o.Log.Warn("lease renewal failed, retrying", "err", err)
				}
			}
		}
	}()
	return sync.OnceFunc(func() {
		close(done)
		<-stopped
	})
}

// retry runs fn until it succeeds or fails for a reason other than an
// unreachable agent or service, waiting out such a one for agentGrace.
func retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(agentGrace)
	for {
		err := fn()
		if err == nil || !errors.Is(err, ErrAgentUnavailable) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// onAgent runs fn with a connection to agent, waiting out an agent that
// cannot be reached for agentGrace; fn's errors get the kind their cause
// implies.
func (e *engine) onAgent(ctx context.Context, agent string, fn func(*agentclient.Client) error) error {
	return retry(ctx, func() error {
		c, err := e.agent(ctx, agent)
		if err != nil {
			return err
		}
		return Classify(fn(c))
	})
}

// serviceCall starts or stops one service through its agent.
func (e *engine) serviceCall(ctx context.Context, s *service, start bool) error {
	return e.onAgent(ctx, s.Agent, func(c *agentclient.Client) error {
		var err error
		if start {
			// nebula.service refuses to start a running service (and
			// nebula-agent passes that on): a started one is done.
			if st, serr := c.ServiceStatus(ctx, roles[s.Role], s.Root); serr == nil && st.Running {
				return nil
			}
			err = c.StartService(ctx, roles[s.Role], s.Root)
		} else {
			err = c.StopService(ctx, roles[s.Role], s.Root)
		}
		if err != nil {
			verb := map[bool]string{true: "start", false: "stop"}[start]
			return mark(agentKind(err), fmt.Errorf("%s %s %s through agent %s: %w", verb, roleName(s.Role), addr(s.Addr), s.Agent, err))
		}
		return nil
	})
}

func (e *engine) serviceCalls(ctx context.Context, svcs []*service, start bool) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range svcs {
		g.Go(func() error { return e.serviceCall(gctx, s, start) })
	}
	return g.Wait()
}

// 5. stop: graphd, then storaged, then metad, each tier in parallel.
func (e *engine) stop(ctx context.Context) error {
	if !e.j.Stopped {
		e.j.Stopped = true
		if err := e.js.save(ctx, e.j); err != nil {
			return err
		}
	}
	for _, tier := range [][]*service{e.topo.Graphd, e.topo.Storaged, {e.topo.Metad}} {
		if err := e.serviceCalls(ctx, tier, false); err != nil {
			return err
		}
	}
	return nil
}

// 6. set aside: each data directory moves to <dir>.br-old-<backup> and
// the downloaded one (storaged's) into its place; the intents are
// recorded first, and a move already done is not done again.
func (e *engine) setAside(ctx context.Context) error {
	if e.j.Aside == nil {
		for _, s := range append([]*service{e.topo.Metad}, e.topo.Storaged...) {
			dir, err := s.dataPath()
			if err != nil {
				return err
			}
			c, err := e.agent(ctx, s.Agent)
			if err != nil {
				return err
			}
			exists, err := c.ExistDir(ctx, dir)
			if err != nil {
				return mark(agentKind(err), err)
			}
			a := asideEntry{Agent: s.Agent, Dir: dir, Old: dir + ".br-old-" + e.j.Backup, HadData: exists}
			if s.Role == meta.HostRole_STORAGE {
				a.New = e.staged(dir)
			}
			e.j.Aside = append(e.j.Aside, a)
		}
		if err := e.js.save(ctx, e.j); err != nil {
			return err
		}
	}
	for _, a := range e.j.Aside {
		err := e.onAgent(ctx, a.Agent, func(c *agentclient.Client) error {
			moved, err := c.ExistDir(ctx, a.Old)
			if err != nil {
				return mark(agentKind(err), err)
			}
			if a.HadData && !moved {
				if err := c.MoveDir(ctx, a.Dir, a.Old); err != nil {
					return mark(agentKind(err), fmt.Errorf("move %s aside on %s: %w", a.Dir, a.Agent, err))
				}
			}
			if a.New == "" {
				return nil
			}
			staged, err := c.ExistDir(ctx, a.New)
			if err != nil || !staged {
				return mark(agentKind(err), err) // moved in already
			}
			if err := c.RemoveDir(ctx, a.Dir); err != nil { // nothing of value: the old data is aside
				return mark(agentKind(err), err)
			}
			if err := c.MoveDir(ctx, a.New, a.Dir); err != nil {
				return mark(agentKind(err), fmt.Errorf("move the restored data %s into %s on %s: %w", a.New, a.Dir, a.Agent, err))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// staged is where a storage host's share is downloaded and played back
// while the target still serves: beside its data directory.
func (e *engine) staged(dataDir string) string { return dataDir + ".br-new-" + e.j.Backup }

// metaStage is where metad's export is downloaded: beside its data.
func (e *engine) metaStage() string {
	dir, _ := e.topo.Metad.dataPath()
	return dir + ".br-meta-" + e.j.Backup
}

// 7. meta: metad started on its new, empty directory, restoreMeta with
// the host pairs and the export downloaded in step 3.
func (e *engine) restoreMeta(ctx context.Context) error {
	_, files := e.plan.MetaJob(e.j.Run, e.metaStage(), 0)
	if err := e.serviceCall(ctx, e.topo.Metad, true); err != nil {
		return err
	}
	return retry(ctx, func() error {
		m, err := client.NewMetaClient(e.o.MetaAddr, client.Options{ConnectTimeout: 2 * time.Second})
		if err != nil {
			return mark(ErrAgentUnavailable, fmt.Errorf("metad %s did not come back: %w", e.o.MetaAddr, err))
		}
		defer m.Close()
		return e.plan.RestoreMetad(ctx, m, files, e.assign)
	})
}

// 3 and 4. data and playback, while the target serves: metad's export
// is downloaded beside metad's data (first: an agent runs one job at a
// time, and metad's host may hold a storaged too), then every storage
// host's agent fills a directory beside its data and plays the WAL back
// there; the step waits until each job reaches phase until. A damaged
// backup fails here, before the target is touched.
func (e *engine) data(ctx context.Context, prog *progress, until string) error {
	meta, _ := e.plan.MetaJob(e.j.Run, e.metaStage(), int32(e.o.Concurrency))
	if err := e.waitJobs(ctx, prog, map[string]*pb.RestoreDataRequest{e.topo.Metad.Agent: meta}, "done"); err != nil {
		return err
	}
	jobs := map[string]*pb.RestoreDataRequest{}
	for _, t := range e.assign.Targets {
		s := e.topo.storage(t)
		dir, err := s.dataPath()
		if err != nil {
			return err
		}
		job := e.plan.HostJob(e.j.Run, e.assign, t, e.staged(dir), int32(e.o.Concurrency))
		if job.PlaybackDataPath != "" { // the engine's playback may need the install and metad
			job.PlaybackRoot, job.PlaybackMetaAddr = s.Root, e.o.MetaAddr
		}
		jobs[s.Agent] = job
	}
	return e.waitJobs(ctx, prog, jobs, until)
}

// waitJobs advances each agent's job until it reaches phase until ("done":
// finished), an agent unreachable for longer than agentGrace failing it.
func (e *engine) waitJobs(ctx context.Context, prog *progress, jobs map[string]*pb.RestoreDataRequest, until string) error {
	if e.jobProgress == nil {
		e.jobProgress = map[string]func(*pb.Progress){}
	}
	lastSeen := map[string]time.Time{}
	for a, req := range jobs {
		if e.jobProgress[a+" "+req.Id] == nil {
			e.jobProgress[a+" "+req.Id] = prog.task()
		}
		lastSeen[a] = time.Now()
	}
	for {
		pending := 0
		for a, req := range jobs {
			st, err := e.advanceJob(ctx, a, req)
			if err != nil && !Transient(err) {
				return err
			}
			if err != nil {
				if time.Since(lastSeen[a]) > agentGrace {
					return fmt.Errorf("%w (for %s)", err, time.Since(lastSeen[a]).Round(time.Second))
				}
				e.o.Log.Warn("waiting for agent", "agent", a, "err", err)
				pending++
				continue
			}
			lastSeen[a] = time.Now()
			e.jobProgress[a+" "+req.Id](&pb.Progress{BytesDone: st.BytesDone, BytesTotal: st.BytesTotal, FilesDone: st.FilesDone, FilesTotal: st.FilesTotal})
			if !(st.State == pb.RestoreDataState_RESTORE_DATA_DONE || (until == "playback" && st.Phase != "download")) {
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *engine) advanceJob(ctx context.Context, agent string, req *pb.RestoreDataRequest) (*pb.RestoreDataJob, error) {
	c, err := e.agent(ctx, agent)
	if err != nil {
		return nil, err
	}
	st, err := AdvanceJob(ctx, c, req)
	if err != nil {
		return st, fmt.Errorf("%s on %s: %w", req.Id, agent, err)
	}
	return st, nil
}

// 8. start: storaged, then graphd (metad runs since step 7).
func (e *engine) startServices(ctx context.Context) error {
	if err := e.serviceCall(ctx, e.topo.Metad, true); err != nil {
		return err
	}
	if err := e.serviceCalls(ctx, e.topo.Storaged, true); err != nil {
		return err
	}
	return e.serviceCalls(ctx, e.topo.Graphd, true)
}

// 9. verify: every storage host registers ONLINE with metad, and metad
// lists every service with its agent again (the next backup needs that).
func (e *engine) verify(ctx context.Context) error {
	var hosts []*nebula.HostAddr
	for _, s := range e.topo.Storaged {
		hosts = append(hosts, s.Addr)
	}
	if err := e.waitOnline(ctx, hosts); err != nil {
		return err
	}
	return e.waitAgents(ctx)
}

// waitAgents waits until metad's listCluster names an agent for every
// host (a restored metad learns of them from their next heartbeat).
func (e *engine) waitAgents(ctx context.Context) error {
	return e.poll(ctx, func(m *client.MetaClient) error {
		_, err := discover(ctx, m)
		return err
	}, func(err error) error {
		return markf(ErrTargetFailed, "after %s metad still does not list every service with its agent: %w", e.o.Timeout, err)
	})
}

// waitOnline waits until metad reports every host ONLINE.
func (e *engine) waitOnline(ctx context.Context, hosts []*nebula.HostAddr) error {
	return e.poll(ctx, func(m *client.MetaClient) error {
		missing, err := StorageOffline(ctx, m, hosts)
		if err == nil && len(missing) > 0 {
			err = fmt.Errorf("storage hosts %s are not online", strings.Join(missing, ", "))
		}
		return err
	}, func(err error) error {
		return markf(ErrTargetFailed, "%v %s after starting (metad %s): see their logs", err, e.o.Timeout, e.o.MetaAddr)
	})
}

// poll asks the target's metad until ask succeeds, for up to the
// restore's Timeout; then the last error goes through fail.
func (e *engine) poll(ctx context.Context, ask func(*client.MetaClient) error, fail func(error) error) error {
	deadline := time.Now().Add(e.o.Timeout)
	for {
		m, err := client.NewMetaClient(e.o.MetaAddr, client.Options{ConnectTimeout: 2 * time.Second})
		if err == nil {
			err = ask(m)
			m.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fail(err)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// 10. commit: the old data and the downloads' leftovers go, then the
// journal (the lease with it).
func (e *engine) commit(ctx context.Context, resumed bool) (*RestoreResult, error) {
	e.j.State = stateCommitting
	if err := e.begin(ctx, StepCommit); err != nil {
		return nil, err
	}
	if err := e.removeLeftovers(ctx, true); err != nil {
		return nil, fmt.Errorf("the restore of %s is complete, but removing the old data failed (rerun the same command to finish): %w", e.j.Backup, err)
	}
	if err := e.release(ctx); err != nil {
		return nil, err
	}
	res := &RestoreResult{Name: e.j.Backup, Chain: e.j.Chain, Bytes: e.bytes, Files: e.files, Hosts: len(e.topo.Storaged),
		Elapsed: time.Since(e.start), Resumed: resumed}
	if e.plan != nil {
		res.Spaces = len(e.plan.Meta.SpaceBackups)
	}
	return res, nil
}

// removeLeftovers removes the metad stage, every host's job record and,
// on commit, the old data.
func (e *engine) removeLeftovers(ctx context.Context, old bool) error {
	var errs []error
	rm := func(agent, path string) {
		err := e.onAgent(ctx, agent, func(c *agentclient.Client) error { return c.RemoveDir(ctx, path) })
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s on %s: %w", path, agent, err))
		}
	}
	rm(e.topo.Metad.Agent, e.metaStage())
	for _, s := range e.topo.Storaged {
		if dir, err := s.dataPath(); err == nil {
			rm(s.Agent, e.staged(dir))
			rm(s.Agent, jobJournal(dir)) // moved in with the data
		}
	}
	if old {
		for _, a := range e.j.Aside {
			rm(a.Agent, a.Old)
		}
	}
	return errors.Join(errs...)
}

// release removes the journal and this machine's pointer to it.
func (e *engine) release(ctx context.Context) error {
	if err := retry(ctx, func() error { return e.js.remove(ctx) }); err != nil {
		return err
	}
	if err := removePointer(e.o.StateDir, e.o.MetaAddr); err != nil {
		e.o.Log.Warn("cannot remove the journal pointer", "err", err)
	}
	return nil
}

// rolledBack is --abort: the rollback as the command's result.
func (e *engine) rolledBack(ctx context.Context, cause string) (*RestoreResult, error) {
	res, err := e.rollback(ctx, cause)
	if err != nil {
		return nil, fmt.Errorf("putting the old data back did not finish: %w", err)
	}
	return res, nil
}

// rollback puts the old data back: jobs canceled, every service stopped,
// each directory set aside moved back (what the restore wrote removed),
// the services that ran before started again. It is idempotent: an
// interrupted rollback is finished by running it again.
func (e *engine) rollback(ctx context.Context, cause string) (*RestoreResult, error) {
	e.j.State = stateRollingBack
	if e.j.Cause == "" {
		e.j.Cause = cause
	}
	if err := e.begin(ctx, StepRollback); err != nil {
		return nil, err
	}
	e.o.Log.Warn("rolling back", "backup", e.j.Backup, "cause", cause)
	var errs []error
	for _, a := range e.agents() {
		if c, err := e.agent(ctx, a); err == nil {
			for _, id := range e.jobIDs() {
				c.RestoreDataStatus(ctx, id, true) // stop a job still filling a directory we are about to remove
			}
		}
	}
	if !e.j.Stopped {
		// Nothing of the target was touched: drop the downloads.
		if err := e.removeLeftovers(ctx, false); err != nil {
			return nil, e.stuck(err)
		}
		if err := e.release(ctx); err != nil {
			return nil, e.stuck(err)
		}
		return &RestoreResult{Name: e.j.Backup, Chain: e.j.Chain, RolledBack: true, Cause: e.j.Cause, Elapsed: time.Since(e.start)}, nil
	}
	all := append(append(append([]*service{}, e.topo.Graphd...), e.topo.Storaged...), e.topo.Metad)
	for _, s := range all {
		if err := e.serviceCall(ctx, s, false); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, e.stuck(errors.Join(errs...))
	}
	for _, a := range e.j.Aside {
		err := e.onAgent(ctx, a.Agent, func(c *agentclient.Client) error {
			moved, err := c.ExistDir(ctx, a.Old)
			if err != nil {
				return mark(agentKind(err), err)
			}
			if !moved && a.HadData {
				return nil // never moved: dir is the old data
			}
			if err := c.RemoveDir(ctx, a.Dir); err != nil {
				return mark(agentKind(err), err)
			}
			if moved {
				if err := c.MoveDir(ctx, a.Old, a.Dir); err != nil {
					return mark(agentKind(err), fmt.Errorf("move %s back to %s: %w", a.Old, a.Dir, err))
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("host of agent %s: %w", a.Agent, err))
		}
	}
	if err := e.removeLeftovers(ctx, false); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, e.stuck(errors.Join(errs...))
	}
	// Start what ran before, metad first.
	var up []*nebula.HostAddr
	for _, tier := range [][]*service{{e.topo.Metad}, e.topo.Storaged, e.topo.Graphd} {
		var start []*service
		for _, s := range tier {
			if e.j.wasRunning(s) {
				start = append(start, s)
				if s.Role == meta.HostRole_STORAGE {
					up = append(up, s.Addr)
				}
			}
		}
		if err := e.serviceCalls(ctx, start, true); err != nil {
			return nil, e.stuck(err)
		}
	}
	if e.j.wasRunning(e.topo.Metad) {
		if err := e.waitOnline(ctx, up); err != nil {
			return nil, e.stuck(err)
		}
		if err := e.waitAgents(ctx); err != nil {
			return nil, e.stuck(err)
		}
	}
	if err := e.release(ctx); err != nil {
		return nil, e.stuck(err)
	}
	return &RestoreResult{Name: e.j.Backup, Chain: e.j.Chain, RolledBack: true, Cause: e.j.Cause, Elapsed: time.Since(e.start)}, nil
}

// stuck: a rollback that cannot finish now says how to finish it.
func (e *engine) stuck(err error) error {
	return fmt.Errorf("%w; the journal %s keeps the restore's state: once that is fixed, run `br restore full --abort --meta %s --storage %s`",
		err, e.where(), e.o.MetaAddr, e.j.Storage)
}

// jobIDs are the agent jobs this restore may have started.
func (e *engine) jobIDs() []string {
	return []string{MetaJobID(e.j.Run), DataJobID(e.j.Run)}
}

var roles = map[meta.HostRole]pb.ServiceRole{
	meta.HostRole_META: pb.ServiceRole_METAD, meta.HostRole_STORAGE: pb.ServiceRole_STORAGED, meta.HostRole_GRAPH: pb.ServiceRole_GRAPHD,
}

func roleName(r meta.HostRole) string {
	switch r {
	case meta.HostRole_META:
		return "metad"
	case meta.HostRole_STORAGE:
		return "storaged"
	case meta.HostRole_GRAPH:
		return "graphd"
	}
	return strings.ToLower(r.String())
}

func toPB(sums []fileSum) []*pb.FileSum {
	out := make([]*pb.FileSum, len(sums))
	for i, s := range sums {
		out[i] = &pb.FileSum{Key: s.Key, Size: s.Size, Crc32C: s.CRC32C}
	}
	return out
}

func dropOtherSpaces(ctx context.Context, m *client.MetaClient, bm *meta.BackupMeta) error {
	keep := map[string]bool{}
	for _, sb := range bm.SpaceBackups {
		keep[string(sb.Space.SpaceName)] = true
	}
	spaces, err := m.ListSpaces(ctx)
	if err != nil {
		return err
	}
	for _, sp := range spaces {
		if !keep[string(sp.Name)] {
			if err := m.DropSpace(ctx, string(sp.Name), true); err != nil {
				return fmt.Errorf("drop space %s, which backup %s does not hold: %w", sp.Name, bm.BackupName, err)
			}
		}
	}
	return nil
}
