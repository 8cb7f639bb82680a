package nebularestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/br"
	ctl "github.com/nebula-open/nebula-br/internal/controller"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacluster"
	"github.com/nebula-open/nebula-br/internal/controller/s3access"
	nebulaclient "github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	metathrift "github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/meta"
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
		creds, p := s3access.ReadSecret(ctx, r.APIReader, rt.Namespace, cfg.S3.SecretName)
		if p != nil {
			res, err := r.progress(ctx, rt, p.Reason, "cannot read the backup: "+p.Message)
			return nil, res, err
		}
		st := s3access.Storage(cfg.S3, creds)
		plan, err := br.PlanRestore(ctx, st, cfg.BackupName)
		if errors.Is(err, br.ErrBackupNotFound) {
			res, err := r.fail(ctx, rt, ReasonBackupNotFound, st.Redact(err.Error()))
			return nil, res, err
		}
		if err != nil {
			res, err := r.progress(ctx, rt, "StorageUnavailable", "cannot read the backup: "+st.Redact(err.Error()))
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
		res, err := r.fail(ctx, rt, ReasonClusterGone, fmt.Sprintf("the restored NebulaCluster %s was deleted during the restore", rt.Status.ClusterName))
		return nil, res, err
	}
	src := &v1alpha1.NebulaCluster{}
	key := sourceKey(rt, cfg)
	if err := r.APIReader.Get(ctx, key, src); err != nil {
		if apierrors.IsNotFound(err) {
			res, err := r.fail(ctx, rt, ReasonClusterNotFound, fmt.Sprintf("NebulaCluster %s, whose spec the restored cluster copies, was deleted before the restore created its cluster", key))
			return nil, res, err
		}
		return nil, ctrl.Result{}, err
	}
	nc = restoredCluster(rt, src)
	if err := r.Client.Create(ctx, nc); err != nil {
		return nil, ctrl.Result{}, err
	}
	r.event(rt, corev1.EventTypeNormal, ReasonClusterCreated, fmt.Sprintf("created NebulaCluster %s (spec of %s), held at the metad stage", nc.Name, key))
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
	return fmt.Sprintf("%s:%d", nebulacluster.PodFQDN(x.nc.Name, x.nc.Namespace, role, i), nebulacluster.AgentPort)
}

func (x *run) metadAddr(i int) string {
	return fmt.Sprintf("%s:%d", nebulacluster.PodFQDN(x.nc.Name, x.nc.Namespace, nebulacluster.Metad, i), nebulacluster.MetadPort)
}

// storageHosts are the restored cluster's storaged identities.
func (x *run) storageHosts() []*nebula.HostAddr {
	var out []*nebula.HostAddr
	for i := 0; i < int(replicas(x.nc.Spec.Storaged.Replicas)); i++ {
		out = append(out, &nebula.HostAddr{Host: nebulacluster.PodFQDN(x.nc.Name, x.nc.Namespace, nebulacluster.Storaged, i), Port: nebulacluster.StoragedPort})
	}
	return out
}

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

// transient errors are worth waiting out: the peer is not up (yet), or
// went away mid-call (a pod restarting).
func transient(err error) bool {
	var te *nebulaclient.TransportError
	if errors.As(err, &te) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
		return true
	}
	return false
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

// metadStage: every metad pod's restore agent downloads the export, then
// every metad gets restoreMeta.
func (r *Reconciler) metadStage(ctx context.Context, x *run) (ctrl.Result, error) {
	rt, plan := x.rt, x.plan
	metads := int(replicas(x.nc.Spec.Metad.Replicas))
	for i := 0; i < metads; i++ {
		addr := x.agentAddr(nebulacluster.Metad, i)
		c, h, err := dialAgent(ctx, addr)
		if err != nil {
			return r.progress(ctx, rt, "WaitingForMetad", fmt.Sprintf("waiting for metad pod %d's agent at %s: %v", i, addr, err))
		}
		if !h.RestoreInit {
			c.Close()
			continue // past its init stage: downloaded earlier
		}
		if len(h.DataPaths) == 0 {
			c.Close()
			return r.fail(ctx, rt, ReasonMetaDownload, fmt.Sprintf("the restore agent at %s reports no data path (--data-path)", addr))
		}
		dir := filepath.Join(h.DataPaths[0], "restore-meta-"+plan.Name)
		if err := x.setCheckpoint(ctx, addr, dir, "metad export of "+plan.Name); err != nil {
			c.Close()
			return ctrl.Result{}, err
		}
		req, _ := plan.MetaDownload(dir, x.concurrency())
		var bytes int64
		err = c.Download(ctx, req, func(p *pb.Progress) { bytes = p.BytesDone })
		if err == nil {
			err = c.StopAgent(ctx)
		}
		c.Close()
		if err != nil {
			if transient(err) {
				return r.progress(ctx, rt, "WaitingForMetad", fmt.Sprintf("download of metad's export to %s interrupted, retrying: %v", addr, err))
			}
			return r.fail(ctx, rt, ReasonMetaDownload, fmt.Sprintf("download of metad's export of %s to %s: %v", plan.Name, addr, err))
		}
		ctl.RestoredBytes.Add(float64(bytes))
		r.event(rt, corev1.EventTypeNormal, "MetaDownloaded", fmt.Sprintf("metad pod %d: export of %s downloaded (%s); metad starts", i, plan.Name, br.HumanBytes(bytes)))
	}

	pairs, err := plan.Pair(x.storageHosts())
	if err != nil {
		return r.fail(ctx, rt, ReasonTopology, err.Error())
	}
	var parts map[string][]v1alpha1.HostAddr
	for i := 0; i < metads; i++ {
		addr := x.metadAddr(i)
		m, err := nebulaclient.NewMetaClient(addr, nebulaclient.Options{ConnectTimeout: dialTimeout})
		if err != nil {
			return r.progress(ctx, rt, "WaitingForMetad", fmt.Sprintf("waiting for metad %s to start: %v", addr, err))
		}
		err = restoreMetad(ctx, x, m, pairs, x.agentAddr(nebulacluster.Metad, i))
		if err == nil && parts == nil {
			parts, err = partitions(ctx, m, plan)
		}
		m.Close()
		if err != nil {
			if transient(err) {
				return r.progress(ctx, rt, "WaitingForMetad", fmt.Sprintf("metad %s: %v", addr, err))
			}
			return r.fail(ctx, rt, ReasonRestoreMeta, fmt.Sprintf("restoreMeta on %s: %v", addr, err))
		}
	}
	rt.Status.Partitions = parts
	// Release storaged before recording the phase: a restart in between
	// finds the annotation already moved on, which is harmless.
	if err := x.setStage(ctx, v1alpha1.RestoreStageStoraged); err != nil {
		return ctrl.Result{}, err
	}
	return r.advance(ctx, rt, v1alpha1.RestoreMetadComplete, ReasonMetadRestored,
		fmt.Sprintf("metad restored on %d pod(s): %d spaces, %d parts placed on %d storage hosts", metads, len(plan.Meta.SpaceBackups), len(parts), len(pairs)))
}

// restoreMetad runs restoreMeta on one metad unless it already holds the
// backup's spaces (a resumed restore), then drops the spaces a per-space
// backup does not hold.
func restoreMetad(ctx context.Context, x *run, m *nebulaclient.MetaClient, pairs []*metathrift.HostPair, agent string) error {
	spaces, err := m.ListSpaces(ctx)
	if err != nil {
		return err
	}
	if len(spaces) == 0 && len(x.plan.Meta.SpaceBackups) > 0 {
		var dir string
		for d := range x.rt.Status.Checkpoints[agent] {
			dir = d
		}
		if dir == "" {
			return fmt.Errorf("metad runs without the backup's export: its restore agent at %s was stopped before a download was recorded; delete the restored cluster and restore again", agent)
		}
		_, files := x.plan.MetaDownload(dir, 0)
		if _, err := m.RestoreMeta(ctx, files, pairs); err != nil {
			return err
		}
		x.r.event(x.rt, corev1.EventTypeNormal, "MetaRestored", fmt.Sprintf("restoreMeta on %s: %d storage hosts mapped", m.Addr(), len(pairs)))
	}
	return x.plan.FinishMeta(ctx, m)
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
	pairs, err := plan.Pair(x.storageHosts())
	if err != nil {
		return r.fail(ctx, rt, ReasonTopology, err.Error())
	}
	sourceOf := map[string]*nebula.HostAddr{} // target host -> backed-up host
	for _, p := range pairs {
		sourceOf[p.ToHost.Host] = p.FromHost
	}
	targets := x.storageHosts()
	type waiting struct{ reason, msg string }
	var wait *waiting
	var failed error
	g, gctx := errgroup.WithContext(ctx)
	results := make([]error, len(targets))
	for i, t := range targets {
		addr := x.agentAddr(nebulacluster.Storaged, i)
		c, h, err := dialAgent(ctx, addr)
		if err != nil {
			wait = &waiting{"WaitingForStoraged", fmt.Sprintf("waiting for storaged pod %d's agent at %s: %v", i, addr, err)}
			continue
		}
		if !h.RestoreInit {
			c.Close()
			continue
		}
		if len(h.DataPaths) == 0 {
			c.Close()
			return r.fail(ctx, rt, ReasonDataDownload, fmt.Sprintf("the restore agent at %s reports no data path (--data-path)", addr))
		}
		g.Go(func() error {
			defer c.Close()
			results[i] = restoreStoraged(gctx, x, c, sourceOf[t.Host], h.DataPaths[0], i)
			return nil
		})
	}
	g.Wait()
	for i, err := range results {
		if err == nil {
			continue
		}
		if transient(err) {
			wait = &waiting{"WaitingForStoraged", fmt.Sprintf("storaged pod %d: interrupted, retrying: %v", i, err)}
		} else if failed == nil {
			failed = fmt.Errorf("storaged pod %d: %w", i, err)
		}
	}
	if failed != nil {
		reason := ReasonDataDownload
		var pe *playbackError
		if errors.As(failed, &pe) {
			reason = ReasonPlayback
		}
		return r.fail(ctx, rt, reason, failed.Error())
	}
	if wait != nil {
		return r.progress(ctx, rt, wait.reason, wait.msg)
	}

	// Every storaged has its data: wait until each registers with metad.
	m, err := nebulaclient.NewMetaClient(x.metadAddr(0), nebulaclient.Options{ConnectTimeout: dialTimeout})
	if err != nil {
		return r.progress(ctx, rt, "WaitingForStoraged", fmt.Sprintf("cannot reach metad %s: %v", x.metadAddr(0), err))
	}
	defer m.Close()
	hosts, err := m.ListHosts(ctx, metathrift.ListHostType_STORAGE)
	if err != nil {
		return r.progress(ctx, rt, "WaitingForStoraged", fmt.Sprintf("metad %s: list hosts: %v", x.metadAddr(0), err))
	}
	online := map[string]bool{}
	for _, h := range hosts {
		if h.Status == metathrift.HostStatus_ONLINE {
			online[fmt.Sprintf("%s:%d", h.HostAddr.Host, h.HostAddr.Port)] = true
		}
	}
	var missing []string
	for _, t := range targets {
		if a := fmt.Sprintf("%s:%d", t.Host, t.Port); !online[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return r.progress(ctx, rt, "WaitingForStoraged", fmt.Sprintf("data in place; waiting for storaged to register with metad: %s", strings.Join(missing, ", ")))
	}
	return r.advance(ctx, rt, v1alpha1.RestoreStoragedComplete, ReasonStoragedRestored,
		fmt.Sprintf("data of %d storage hosts downloaded and played back (chain %v); storaged online", len(targets), plan.Chain))
}

type playbackError struct{ err error }

func (e *playbackError) Error() string { return "play back: " + e.err.Error() }
func (e *playbackError) Unwrap() error { return e.err }

// restoreStoraged fills one storaged pod through its restore agent.
func restoreStoraged(ctx context.Context, x *run, c *agentclient.Client, source *nebula.HostAddr, dataPath string, i int) error {
	var total int64
	for _, req := range x.plan.DataDownloads(source, dataPath, x.concurrency()) {
		var done int64
		if err := c.Download(ctx, req, func(p *pb.Progress) { done = p.BytesDone }); err != nil {
			return fmt.Errorf("download %s: %w", req.Prefix, err)
		}
		total += done
	}
	parts, err := c.DataPlayBack(ctx, dataPath)
	if err != nil {
		if transient(err) {
			return err
		}
		return &playbackError{err}
	}
	if err := c.StopAgent(ctx); err != nil {
		return err
	}
	ctl.RestoredBytes.Add(float64(total))
	x.r.event(x.rt, corev1.EventTypeNormal, "DataRestored", fmt.Sprintf("storaged pod %d: data of %s:%d downloaded (%s) and played back (%d parts); storaged starts",
		i, source.Host, source.Port, br.HumanBytes(total), len(parts)))
	return nil
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
	ready := meta.FindStatusCondition(nc.Status.Conditions, v1alpha1.ClusterReady)
	if nc.Status.ObservedGeneration < nc.Generation || ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration < nc.Generation {
		return r.progress(ctx, rt, "WaitingForCluster", fmt.Sprintf("downloads removed, hold lifted; waiting for NebulaCluster %s to be ready (graphd starting, init containers removed)", nc.Name))
	}
	return r.advance(ctx, rt, v1alpha1.RestoreComplete, ReasonRestored,
		fmt.Sprintf("backup %s restored into NebulaCluster %s in %s", x.plan.Name, nc.Name, time.Since(rt.Status.TimeStarted.Time).Round(time.Second)))
}
