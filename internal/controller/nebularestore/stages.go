package nebularestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/br"
	ctl "github.com/nebula-open/nebula-br/internal/controller"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
	"github.com/nebula-open/nebula-br/internal/controller/storageaccess"
	nebulaclient "github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// run is one reconcile pass over a started restore.
type run struct {
	r    *Reconciler
	rt   *v1alpha1.NebulaRestore
	cfg  *v1alpha1.RestoreConfig
	nc   *v1alpha1.NebulaCluster // the restored cluster
	plan *br.RestorePlan
}

// dialTimeout bounds reaching a pod's agent or metad: an unreachable pod
// is a reason to wait, not to block the reconcile.
const dialTimeout = 3 * time.Second

// prepare loads the plan (once per operator run) and the restored cluster,
// creating it in the Running phase. A nil run comes with the result to
// return.
func (r *Reconciler) prepare(ctx context.Context, rt *v1alpha1.NebulaRestore) (*run, ctrl.Result, error) {
	cfg := rt.Spec.EffectiveConfig()
	x := &run{r: r, rt: rt, cfg: cfg}
	if p, ok := r.plans.Load(rt.UID); ok {
		x.plan = p.(*br.RestorePlan)
	} else {
		acc, p := storageaccess.Resolve(ctx, r.APIReader, rt.Namespace, cfg.S3, cfg.GS)
		if p != nil {
			res, err := r.progress(ctx, rt, p.Reason, "cannot read the backup: "+p.Message)
			return nil, res, err
		}
		st := acc.Storage
		plan, err := br.PlanRestore(ctx, st, cfg.BackupName)
		if err != nil {
			res, err := r.failWith(ctx, rt, fmt.Errorf("cannot read the backup: %w", st.RedactError(err)))
			return nil, res, err
		}
		r.plans.Store(rt.UID, plan)
		x.plan = plan
	}

	nc := &v1alpha1.NebulaCluster{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: rt.Namespace, Name: rt.Status.ClusterName}, nc)
	switch {
	case err == nil:
		x.nc = nc
		return x, ctrl.Result{}, nil
	case !apierrors.IsNotFound(err):
		return nil, ctrl.Result{}, err
	case rt.Status.Phase != v1alpha1.RestoreRunning:
		res, err := r.fail(ctx, rt, v1alpha1.RestoreReasonClusterDeleted, fmt.Sprintf("the restored NebulaCluster %s was deleted during the restore", rt.Status.ClusterName))
		return nil, res, err
	}
	src := &v1alpha1.NebulaCluster{}
	key := sourceKey(rt, cfg)
	if err := r.APIReader.Get(ctx, key, src); err != nil {
		if apierrors.IsNotFound(err) {
			res, err := r.fail(ctx, rt, v1alpha1.RestoreReasonClusterNotFound, fmt.Sprintf("NebulaCluster %s, whose spec the restored cluster copies, was deleted before the restore created its cluster", key))
			return nil, res, err
		}
		return nil, ctrl.Result{}, err
	}
	nc = restoredCluster(rt, src)
	if err := r.Client.Create(ctx, nc); err != nil {
		return nil, ctrl.Result{}, err
	}
	r.event(rt, corev1.EventTypeNormal, v1alpha1.RestoreReasonClusterCreated, fmt.Sprintf("created NebulaCluster %s (spec of %s), held at the metad stage", nc.Name, key))
	x.nc = nc
	return x, ctrl.Result{}, nil
}

// restoredCluster is the new cluster: the source's spec, the restore's
// scheduling overrides, and the hold at the metad stage.
func restoredCluster(rt *v1alpha1.NebulaRestore, src *v1alpha1.NebulaCluster) *v1alpha1.NebulaCluster {
	nc := &v1alpha1.NebulaCluster{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   rt.Namespace,
			Name:        rt.Status.ClusterName,
			Labels:      map[string]string{v1alpha1.LabelRestore: rt.Name},
			Annotations: map[string]string{v1alpha1.AnnotationRestoreStage: v1alpha1.RestoreStageMetad},
		},
		Spec: *src.Spec.DeepCopy(),
	}
	if rt.Spec.NodeSelector != nil {
		nc.Spec.NodeSelector = rt.Spec.NodeSelector
	}
	if rt.Spec.Tolerations != nil {
		nc.Spec.Tolerations = rt.Spec.Tolerations
	}
	if rt.Spec.Affinity != nil {
		nc.Spec.Affinity = rt.Spec.Affinity
	}
	return nc
}

func (x *run) agentAddr(role string, i int) string {
	return fmt.Sprintf("%s:%d", naming.PodFQDN(x.nc.Name, x.nc.Namespace, role, i), naming.AgentPort)
}

func (x *run) metadAddr(i int) string {
	return fmt.Sprintf("%s:%d", naming.PodFQDN(x.nc.Name, x.nc.Namespace, naming.Metad, i), naming.ThriftPort(x.nc, naming.Metad))
}

// storageHosts are the restored cluster's storaged identities.
func (x *run) storageHosts() []*nebula.HostAddr {
	var out []*nebula.HostAddr
	for i := 0; i < int(replicas(x.nc.Spec.Storaged.Replicas)); i++ {
		out = append(out, &nebula.HostAddr{Host: naming.PodFQDN(x.nc.Name, x.nc.Namespace, naming.Storaged, i), Port: nebula.Port(naming.ThriftPort(x.nc, naming.Storaged))})
	}
	return out
}

// runID names this restore's agent jobs.
func (x *run) runID() string { return RunID(x.rt) }

// RunID is the name of a NebulaRestore's agent jobs.
func RunID(rt *v1alpha1.NebulaRestore) string { return "nebularestore " + string(rt.UID) }

func (x *run) concurrency() int32 {
	if x.cfg.Concurrency > 0 {
		return x.cfg.Concurrency
	}
	return v1alpha1.DefaultConcurrency
}

func dialAgent(ctx context.Context, addr string) (*agentclient.Client, *pb.HealthCheckResponse, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := agentclient.Dial(dctx, addr)
	if err != nil {
		return nil, nil, err
	}
	h, err := c.HealthCheck(dctx)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, h, nil
}

func (x *run) setCheckpoint(ctx context.Context, agent, dir, what string) error {
	if x.rt.Status.Checkpoints[agent][dir] != "" {
		return nil
	}
	if x.rt.Status.Checkpoints == nil {
		x.rt.Status.Checkpoints = map[string]map[string]string{}
	}
	if x.rt.Status.Checkpoints[agent] == nil {
		x.rt.Status.Checkpoints[agent] = map[string]string{}
	}
	x.rt.Status.Checkpoints[agent][dir] = what
	return x.r.Client.Status().Update(ctx, x.rt)
}

// podJob is one pod's share of the restore, carried out by its restore
// agent in the pod (br's RestoreData job): the reconcile only starts it,
// looks at it, and stops the agent once it is done. An operator restart
// finds the job going on; an agent restart resumes it object by object.
type podJob struct {
	pod  string // "metad pod 0"
	c    *agentclient.Client
	req  *pb.RestoreDataRequest
	what string // for the event
}

// openPodJobs reaches the restore agent of each of n pods of role and
// makes its job with mk (given the pod's data path); pods past their init
// stage are done already. A pod whose agent does not answer yet is a
// reason to wait (wait says which); a restore agent without a data path
// is an ErrTargetFailed.
func (x *run) openPodJobs(ctx context.Context, role string, n int, mk func(i int, agent, dataPath string) (podJob, error)) (jobs []podJob, wait string, err error) {
	defer func() {
		if wait != "" || err != nil {
			closeJobs(jobs)
			jobs = nil
		}
	}()
	for i := 0; i < n; i++ {
		addr := x.agentAddr(role, i)
		c, h, err := dialAgent(ctx, addr)
		if err != nil {
			return jobs, fmt.Sprintf("waiting for %s pod %d's agent at %s: %v", role, i, addr, err), nil
		}
		if !h.RestoreInit {
			c.Close()
			continue
		}
		if len(h.DataPaths) == 0 {
			c.Close()
			return jobs, "", fmt.Errorf("%w: the restore agent at %s reports no data path (--data-path)", br.ErrTargetFailed, addr)
		}
		j, err := mk(i, addr, h.DataPaths[0])
		if err != nil {
			c.Close()
			return jobs, "", &apiError{err}
		}
		j.c = c
		jobs = append(jobs, j)
	}
	return jobs, "", nil
}

// apiError is a failed call to the Kubernetes API: the manager retries
// the reconcile, the restore does not fail.
type apiError struct{ err error }

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func closeJobs(jobs []podJob) {
	for _, j := range jobs {
		j.c.Close()
	}
}

// advanceJobs advances each pod's job: done ones get their agent stopped
// (the service starts). It returns how far the rest are, or the failure,
// and closes the jobs' connections.
func (r *Reconciler) advanceJobs(ctx context.Context, x *run, jobs []podJob) (pending string, err error) {
	defer closeJobs(jobs)
	var waiting []string
	var done, total int64
	for _, j := range jobs {
		st, err := br.AdvanceJob(ctx, j.c, j.req)
		if err == nil && st.State == pb.RestoreDataState_RESTORE_DATA_DONE {
			err = stopRestoreAgent(ctx, j.c)
			if err == nil {
				ctl.RestoredBytes.Add(float64(st.BytesFetched))
				x.r.event(x.rt, corev1.EventTypeNormal, "DataRestored", fmt.Sprintf("%s: %s (%s downloaded, %d files already in place); its service starts",
					j.pod, j.what, br.HumanBytes(st.BytesFetched), st.FilesSkipped))
			}
		}
		switch {
		case err != nil && !br.Transient(err):
			return "", fmt.Errorf("%s: %w", j.pod, err)
		case err != nil:
			waiting = append(waiting, fmt.Sprintf("%s: %v", j.pod, err))
		case st.State != pb.RestoreDataState_RESTORE_DATA_DONE:
			done += st.BytesDone
			total += st.BytesTotal
			waiting = append(waiting, fmt.Sprintf("%s: %s", j.pod, st.Phase))
		}
	}
	if len(waiting) == 0 {
		return "", nil
	}
	return fmt.Sprintf("%s of %s: %s", br.HumanBytes(done), br.HumanBytes(total), strings.Join(waiting, "; ")), nil
}

// stopRestoreAgent ends a pod's init stage: it stops the restore agent,
// unless the agent answering is no longer it. The connection redials the
// pod's address on its own, and once the init agent has stopped (an
// earlier reconcile stopped it) the service's own agent answers there: it
// must go on running.
func stopRestoreAgent(ctx context.Context, c *agentclient.Client) error {
	h, err := c.HealthCheck(ctx)
	if err != nil {
		return err
	}
	if !h.RestoreInit {
		return nil
	}
	return c.StopAgent(ctx)
}

// runPodJobs opens and advances the jobs of a stage: the result to return
// while they are not all done (nil once they are).
func (r *Reconciler) runPodJobs(ctx context.Context, x *run, role string, n int, reason string, mk func(i int, agent, dataPath string) (podJob, error)) (*ctrl.Result, error) {
	jobs, wait, err := x.openPodJobs(ctx, role, n, mk)
	if wait != "" {
		reason = v1alpha1.RestoreReasonWaitingForAgent
	} else if err == nil {
		wait, err = r.advanceJobs(ctx, x, jobs)
	}
	var api *apiError
	switch {
	case errors.As(err, &api):
		return &ctrl.Result{}, api.err
	case err != nil:
		res, err := r.failWith(ctx, x.rt, err)
		return &res, err
	case wait != "":
		res, err := r.progress(ctx, x.rt, reason, wait)
		return &res, err
	}
	return nil, nil
}

// metadStage: every metad pod's restore agent downloads the export, then
// every metad gets restoreMeta.
func (r *Reconciler) metadStage(ctx context.Context, x *run) (ctrl.Result, error) {
	rt, plan := x.rt, x.plan
	metads := int(replicas(x.nc.Spec.Metad.Replicas))
	res, err := r.runPodJobs(ctx, x, naming.Metad, metads, "DownloadingMeta", func(i int, agent, dataPath string) (podJob, error) {
		dir := filepath.Join(dataPath, "restore-meta-"+plan.Name)
		if err := x.setCheckpoint(ctx, agent, dir, "metad export of "+plan.Name); err != nil {
			return podJob{}, err
		}
		req, _ := plan.MetaJob(x.runID(), dir, x.concurrency())
		return podJob{pod: fmt.Sprintf("metad pod %d", i), req: req, what: "export of " + plan.Name}, nil
	})
	if res != nil {
		return *res, err
	}

	assign, err := plan.Assign(x.storageHosts())
	if err != nil {
		return r.failWith(ctx, rt, err)
	}
	var parts map[string][]v1alpha1.HostAddr
	for i := 0; i < metads; i++ {
		addr := x.metadAddr(i)
		m, err := nebulaclient.NewMetaClient(addr, nebulaclient.Options{ConnectTimeout: dialTimeout})
		if err != nil {
			return r.progress(ctx, rt, v1alpha1.RestoreReasonWaitingForAgent, fmt.Sprintf("waiting for metad %s to start: %v", addr, err))
		}
		err = restoreMetad(ctx, x, m, assign, x.agentAddr(naming.Metad, i))
		if err == nil && parts == nil {
			parts, err = partitions(ctx, m, plan)
		}
		m.Close()
		if err != nil {
			return r.failWith(ctx, rt, err)
		}
	}
	rt.Status.Partitions = parts
	// Release storaged before recording the phase: a restart in between
	// finds the annotation already moved on, which is harmless.
	if err := x.setStage(ctx, v1alpha1.RestoreStageStoraged); err != nil {
		return ctrl.Result{}, err
	}
	return r.advance(ctx, rt, v1alpha1.RestoreMetadComplete, v1alpha1.RestoreReasonMetadRestored,
		fmt.Sprintf("metad restored on %d pod(s): %d spaces, %d parts placed on %d storage hosts", metads, len(plan.Meta.SpaceBackups), len(parts), len(assign.Targets)))
}

// restoreMetad runs the engine's meta step on one metad, with the export
// its restore agent downloaded.
func restoreMetad(ctx context.Context, x *run, m *nebulaclient.MetaClient, assign *br.Assignment, agent string) error {
	var dir string
	for d := range x.rt.Status.Checkpoints[agent] {
		dir = d
	}
	if dir == "" {
		spaces, err := m.ListSpaces(ctx)
		if err == nil && len(spaces) == 0 && len(x.plan.Meta.SpaceBackups) > 0 {
			return fmt.Errorf("%w: metad runs without the backup's export: its restore agent at %s was stopped before a download was recorded; delete the restored cluster and restore again", br.ErrTargetFailed, agent)
		}
	}
	_, files := x.plan.MetaJob(x.runID(), dir, 0)
	return x.plan.RestoreMetad(ctx, m, files, assign)
}

// partitions reads where the restored parts live.
func partitions(ctx context.Context, m *nebulaclient.MetaClient, plan *br.RestorePlan) (map[string][]v1alpha1.HostAddr, error) {
	out := map[string][]v1alpha1.HostAddr{}
	for id := range plan.Meta.SpaceBackups {
		alloc, err := m.GetPartsAlloc(ctx, id)
		if err != nil {
			return nil, err
		}
		for part, hosts := range alloc {
			var hs []v1alpha1.HostAddr
			for _, h := range hosts {
				hs = append(hs, v1alpha1.HostAddr{Host: h.Host, Port: int32(h.Port)})
			}
			out[fmt.Sprintf("%d/%d", id, part)] = hs
		}
	}
	return out, nil
}

func (x *run) setStage(ctx context.Context, stage string) error {
	if x.nc.Annotations[v1alpha1.AnnotationRestoreStage] == stage {
		return nil
	}
	patch := client.MergeFrom(x.nc.DeepCopy())
	if stage == "" {
		delete(x.nc.Annotations, v1alpha1.AnnotationRestoreStage)
	} else {
		if x.nc.Annotations == nil {
			x.nc.Annotations = map[string]string{}
		}
		x.nc.Annotations[v1alpha1.AnnotationRestoreStage] = stage
	}
	return x.r.Client.Patch(ctx, x.nc, patch)
}

// storagedStage: every storaged pod's restore agent downloads its host's
// data and the chain's WAL and plays it back; then storaged must register.
func (r *Reconciler) storagedStage(ctx context.Context, x *run) (ctrl.Result, error) {
	rt, plan := x.rt, x.plan
	if err := x.setStage(ctx, v1alpha1.RestoreStageStoraged); err != nil {
		return ctrl.Result{}, err
	}
	targets := x.storageHosts()
	assign, err := plan.Assign(targets)
	if err != nil {
		return r.failWith(ctx, rt, err)
	}
	res, err := r.runPodJobs(ctx, x, naming.Storaged, len(targets), "DownloadingData", func(i int, agent, dataPath string) (podJob, error) {
		req := plan.HostJob(x.runID(), assign, targets[i], dataPath, x.concurrency())
		if err := x.setCheckpoint(ctx, agent, req.JournalPath, "record of the restore's download"); err != nil {
			return podJob{}, err
		}
		return podJob{pod: fmt.Sprintf("storaged pod %d", i), req: req, what: fmt.Sprintf("share of %s for %s:%d downloaded and played back", plan.Name, targets[i].Host, targets[i].Port)}, nil
	})
	if res != nil {
		return *res, err
	}

	// Every storaged has its data: wait until each registers with metad.
	m, err := nebulaclient.NewMetaClient(x.metadAddr(0), nebulaclient.Options{ConnectTimeout: dialTimeout})
	if err != nil {
		return r.progress(ctx, rt, v1alpha1.RestoreReasonWaitingForAgent, fmt.Sprintf("cannot reach metad %s: %v", x.metadAddr(0), err))
	}
	defer m.Close()
	missing, err := br.StorageOffline(ctx, m, targets)
	if err != nil {
		return r.progress(ctx, rt, v1alpha1.RestoreReasonWaitingForAgent, err.Error())
	}
	if len(missing) > 0 {
		return r.progress(ctx, rt, "WaitingForStoraged", fmt.Sprintf("data in place; waiting for storaged to register with metad: %s", strings.Join(missing, ", ")))
	}
	return r.advance(ctx, rt, v1alpha1.RestoreStoragedComplete, v1alpha1.RestoreReasonStoragedRestored,
		fmt.Sprintf("data of %d storage hosts downloaded and played back (chain %v); storaged online", len(targets), plan.Chain))
}

// cleanupStage removes the downloaded meta export, lifts the hold (graphd
// starts, init containers go) and waits for the cluster to be ready.
func (r *Reconciler) cleanupStage(ctx context.Context, x *run) (ctrl.Result, error) {
	rt := x.rt
	agents := make([]string, 0, len(rt.Status.Checkpoints))
	for a := range rt.Status.Checkpoints {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	for _, a := range agents {
		c, _, err := dialAgent(ctx, a)
		if err != nil {
			return r.progress(ctx, rt, "CleaningUp", fmt.Sprintf("waiting for agent %s to remove downloaded data: %v", a, err))
		}
		for dir := range rt.Status.Checkpoints[a] {
			if err := c.RemoveDir(ctx, dir); err != nil {
				c.Close()
				return r.progress(ctx, rt, "CleaningUp", fmt.Sprintf("remove %s through agent %s: %v", dir, a, err))
			}
		}
		c.Close()
		delete(rt.Status.Checkpoints, a)
		if err := r.Client.Status().Update(ctx, rt); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := x.setStage(ctx, ""); err != nil {
		return ctrl.Result{}, err
	}
	nc := x.nc
	ready := nc.Status.Condition(v1alpha1.ClusterReady)
	if nc.Status.ObservedGeneration < nc.Generation || ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration < nc.Generation {
		return r.progress(ctx, rt, "WaitingForCluster", fmt.Sprintf("downloads removed, hold lifted; waiting for NebulaCluster %s to be ready (graphd starting, init containers removed)", nc.Name))
	}
	return r.advance(ctx, rt, v1alpha1.RestoreComplete, v1alpha1.RestoreReasonRestored,
		fmt.Sprintf("backup %s restored into NebulaCluster %s in %s", x.plan.Name, nc.Name, time.Since(rt.Status.TimeStarted.Time).Round(time.Second)))
}
