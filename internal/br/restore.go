package br

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
)

// RestoreOptions configure `br restore full` in local mode.
type RestoreOptions struct {
	Options
	MetaAddr string        // the target cluster's metad
	Name     string        // the backup (full or incremental) to restore
	Timeout  time.Duration // for services to come back (default 2m)
}

// RestoreResult summarises a restore.
type RestoreResult struct {
	Name    string
	Chain   []string
	Bytes   int64
	Files   int
	Spaces  int
	Hosts   int
	Elapsed time.Duration
}

func (r *RestoreResult) String() string {
	return fmt.Sprintf("restore of %s done (chain %v): %s in %d files, %d spaces on %d storage hosts, %s (%s)",
		r.Name, r.Chain, HumanBytes(r.Bytes), r.Files, r.Spaces, r.Hosts, r.Elapsed.Round(time.Millisecond), rate(r.Bytes, r.Elapsed))
}

// Restore replaces the data of the target cluster with a backup: the
// chain (full plus incrementals up to the named one) is checked before
// anything is touched; the target's services are stopped, their data moved
// aside, the backup downloaded and played back, the services started. On
// failure the old data is put back. The backed-up cluster is never touched.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	o.defaults()
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if err := checkName(o.Name); err != nil {
		return nil, err
	}
	plan, err := PlanRestore(ctx, o.Storage, o.Name)
	if err != nil {
		return nil, err
	}

	m, err := client.NewMetaClient(o.MetaAddr, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("connect to the target metad %s: %w", o.MetaAddr, err)
	}
	topo, err := discover(ctx, m)
	m.Close()
	if err != nil {
		return nil, err
	}
	var targets []*nebula.HostAddr
	for _, s := range topo.Storaged {
		targets = append(targets, s.Addr)
	}
	pairs, err := plan.Pair(targets)
	if err != nil {
		return nil, err
	}
	r := &restorer{o: o, plan: plan, topo: topo, pairs: pairs, pool: newAgentPool(), start: time.Now()}
	defer r.pool.close()
	if err := r.run(ctx); err != nil {
		if rerr := r.rollback(context.WithoutCancel(ctx)); rerr != nil {
			return nil, fmt.Errorf("restore of %s failed: %w; putting the old data back also failed: %v", o.Name, err, rerr)
		}
		return nil, fmt.Errorf("restore of %s failed, the target cluster has its old data back: %w", o.Name, err)
	}
	return r.result, nil
}

type restorer struct {
	o      RestoreOptions
	plan   *RestorePlan
	topo   *topology
	pairs  []*meta.HostPair // backed-up storage host -> target
	pool   *agentPool
	start  time.Time
	result *RestoreResult

	stopped []*service  // services stopped, to start again on rollback
	moved   [][3]string // agent, original dir, moved-aside dir
}

func (r *restorer) services() []*service {
	out := append([]*service{}, r.topo.Graphd...)
	out = append(out, r.topo.Storaged...)
	return append(out, r.topo.Metad)
}

var roles = map[meta.HostRole]pb.ServiceRole{
	meta.HostRole_META: pb.ServiceRole_METAD, meta.HostRole_STORAGE: pb.ServiceRole_STORAGED, meta.HostRole_GRAPH: pb.ServiceRole_GRAPHD,
}

func (r *restorer) serviceCall(ctx context.Context, s *service, start bool) error {
	c, err := r.pool.get(ctx, s.Agent)
	if err != nil {
		return err
	}
	if start {
		err = c.StartService(ctx, roles[s.Role], s.Root)
	} else {
		err = c.StopService(ctx, roles[s.Role], s.Root)
	}
	if err != nil {
		verb := map[bool]string{true: "start", false: "stop"}[start]
		return fmt.Errorf("%s %s on %s through agent %s: %w", verb, roles[s.Role], addr(s.Addr), s.Agent, err)
	}
	return nil
}

// serviceCalls starts or stops services in parallel; stopped ones are
// remembered for the rollback.
func (r *restorer) serviceCalls(ctx context.Context, svcs []*service, start bool) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range svcs {
		g.Go(func() error { return r.serviceCall(gctx, s, start) })
	}
	err := g.Wait()
	if !start {
		r.stopped = append(r.stopped, svcs...)
	}
	return err
}

func (r *restorer) run(ctx context.Context) error {
	name := r.o.Name
	log := r.o.Log
	suffix := ".br-old-" + name

	// 1. Stop the target (graphd, storaged, metad) and move its data aside.
	// Tier by tier (graphd, storaged, metad), each tier in parallel.
	for _, tier := range [][]*service{r.topo.Graphd, r.topo.Storaged, {r.topo.Metad}} {
		if err := r.serviceCalls(ctx, tier, false); err != nil {
			return err
		}
	}
	for _, s := range append([]*service{r.topo.Metad}, r.topo.Storaged...) {
		dir, err := s.dataPath()
		if err != nil {
			return err
		}
		c, err := r.pool.get(ctx, s.Agent)
		if err != nil {
			return err
		}
		if exists, err := c.ExistDir(ctx, dir); err != nil {
			return err
		} else if !exists {
			continue
		}
		if err := c.MoveDir(ctx, dir, dir+suffix); err != nil {
			return fmt.Errorf("move %s aside on %s: %w", dir, s.Agent, err)
		}
		r.moved = append(r.moved, [3]string{s.Agent, dir, dir + suffix})
	}
	log.Info("target stopped, old data moved aside", "hosts", len(r.topo.Storaged), "elapsed", time.Since(r.start))

	prog := newProgress("downloaded", r.o.Progress, r.o.Terminal)
	finished := false
	defer func() {
		if !finished {
			prog.finish()
		}
	}()
	// 2. metad: download the export, start, restoreMeta with host pairs.
	metaDir, err := r.topo.Metad.dataPath()
	if err != nil {
		return err
	}
	stage := metaDir + ".br-meta-" + name
	req, files := r.plan.MetaDownload(stage, 4)
	if err := r.pool.download(ctx, r.topo.Metad.Agent, req, prog.task()); err != nil {
		return fmt.Errorf("download meta of %s: %w", name, err)
	}
	r.moved = append(r.moved, [3]string{r.topo.Metad.Agent, "", stage}) // removed at the end
	if err := r.serviceCall(ctx, r.topo.Metad, true); err != nil {
		return err
	}
	m, err := r.waitMeta(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := m.RestoreMeta(ctx, files, r.pairs); err != nil {
		return fmt.Errorf("restoreMeta on %s: %w", r.o.MetaAddr, err)
	}
	if err := r.plan.FinishMeta(ctx, m); err != nil {
		return err
	}
	log.Info("meta restored", "spaces", len(r.plan.Meta.SpaceBackups), "elapsed", time.Since(r.start))

	// 3. Every space's data: the checkpoint from the link that holds it in
	// full, then the WAL of every later link of the chain.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.Concurrency)
	for _, pair := range r.pairs {
		svc := r.topo.storage(pair.ToHost)
		dataDir, err := svc.dataPath()
		if err != nil {
			return err
		}
		for _, req := range r.plan.DataDownloads(pair.FromHost, dataDir, 4) {
			g.Go(func() error { return r.pool.download(gctx, svc.Agent, req, prog.task()) })
		}
	}
	err = g.Wait()
	bytesDone, files2, _ := prog.finish()
	finished = true
	if err != nil {
		return err
	}
	log.Info("data downloaded", "bytes", bytesDone, "elapsed", time.Since(r.start))

	// 4. Play the incremental WAL back onto the checkpoints, then start.
	for _, s := range r.topo.Storaged {
		dataDir, _ := s.dataPath()
		c, err := r.pool.get(ctx, s.Agent)
		if err != nil {
			return err
		}
		parts, err := c.DataPlayBack(ctx, dataDir)
		if err != nil {
			return fmt.Errorf("play back on %s: %w", addr(s.Addr), err)
		}
		log.Info("played back", "host", addr(s.Addr), "parts", len(parts))
	}
	if err := r.serviceCalls(ctx, append(append([]*service{}, r.topo.Storaged...), r.topo.Graphd...), true); err != nil {
		return err
	}
	log.Info("played back, services started", "elapsed", time.Since(r.start))
	if err := r.waitStorage(ctx, m); err != nil {
		return err
	}
	log.Info("storage hosts online", "elapsed", time.Since(r.start))

	// 5. Done: remove what was moved aside.
	for _, mv := range r.moved {
		if c, err := r.pool.get(ctx, mv[0]); err == nil {
			if err := c.RemoveDir(ctx, mv[2]); err != nil {
				log.Warn("could not remove old data", "dir", mv[2], "err", err)
			}
		}
	}
	r.moved = nil
	r.result = &RestoreResult{Name: name, Chain: r.plan.Chain, Bytes: bytesDone, Files: files2,
		Spaces: len(r.plan.Meta.SpaceBackups), Hosts: len(r.topo.Storaged), Elapsed: time.Since(r.start)}
	return nil
}

// waitMeta connects to the restarted metad.
func (r *restorer) waitMeta(ctx context.Context) (*client.MetaClient, error) {
	deadline := time.Now().Add(r.o.Timeout)
	for {
		m, err := client.NewMetaClient(r.o.MetaAddr, client.Options{ConnectTimeout: 2 * time.Second})
		if err == nil {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("metad %s did not come back within %s: %w", r.o.MetaAddr, r.o.Timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitStorage waits until every target storage host is online again.
func (r *restorer) waitStorage(ctx context.Context, m *client.MetaClient) error {
	deadline := time.Now().Add(r.o.Timeout)
	for {
		hosts, err := m.ListHosts(ctx, meta.ListHostType_STORAGE)
		online := map[string]bool{}
		for _, h := range hosts {
			if h.Status == meta.HostStatus_ONLINE {
				online[addr(h.HostAddr)] = true
			}
		}
		missing := ""
		for _, s := range r.topo.Storaged {
			if !online[addr(s.Addr)] {
				missing = addr(s.Addr)
			}
		}
		if err == nil && missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("storage host %s is not online %s after the restore (err %v): see its log", missing, r.o.Timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// rollback stops what runs, drops the half-restored data, moves the old
// data back and starts the services again.
func (r *restorer) rollback(ctx context.Context) error {
	var errs []error
	for _, s := range r.services() {
		r.serviceCall(ctx, s, false)
	}
	for i := len(r.moved) - 1; i >= 0; i-- {
		mv := r.moved[i]
		c, err := r.pool.get(ctx, mv[0])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if mv[1] == "" { // a staging dir
			c.RemoveDir(ctx, mv[2])
			continue
		}
		if err := c.RemoveDir(ctx, mv[1]); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.MoveDir(ctx, mv[2], mv[1]); err != nil {
			errs = append(errs, fmt.Errorf("move %s back on %s: %w", mv[2], mv[0], err))
		}
	}
	for i := len(r.stopped) - 1; i >= 0; i-- {
		if err := r.serviceCall(ctx, r.stopped[i], true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
