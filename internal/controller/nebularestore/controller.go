// Package nebularestore reconciles NebulaRestores: it restores a backup
// into a new NebulaCluster, stage by stage (design.md section 6).
//
//  1. Pending: the spec, the source cluster, the Secret and the bucket are
//     checked, the backup chain is loaded and the topology compared, all
//     before anything is created; the restored cluster's name is chosen
//     and recorded.
//  2. Running: the new cluster is created, held at the metad stage; each
//     metad pod's restore-agent init container downloads metad's export
//     and is stopped, metad starts, restoreMeta maps the backed-up storage
//     hosts to the new pods. Part placement goes to status.
//  3. MetadComplete: storaged is released; each storaged pod's restore
//     agent downloads its host's data and the chain's WAL, plays it back
//     and is stopped; storaged starts and registers.
//  4. StoragedComplete: the downloaded meta export is removed, the hold is
//     lifted (graphd starts, the init containers go), the cluster becomes
//     ready: Complete.
//
// Every step reads the state it acts on (is the agent still in its init
// stage? does metad already hold spaces?), so an operator restart at any
// point resumes where the restore stood.
package nebularestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/br"
	ctl "github.com/nebula-open/nebula-br/internal/controller"
	"github.com/nebula-open/nebula-br/internal/controller/storageaccess"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// Reconciler reconciles NebulaRestores.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader        // uncached reads (Secrets, the source cluster)
	Recorder  events.EventRecorder // may be nil
	// Timeout bounds a whole restore unless its spec.timeout says
	// otherwise; past it the restore fails, naming what it was waiting
	// for (default 1h: the operator's --restore-timeout).
	Timeout time.Duration
	// Poll is how often a waiting stage looks again (default 2s).
	Poll time.Duration

	plans sync.Map // restore UID -> *br.RestorePlan: the chain is read once per operator run
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("nebularestore-controller")
	}
	if r.Timeout == 0 {
		r.Timeout = time.Hour
	}
	if r.Poll == 0 {
		r.Poll = 2 * time.Second
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.NebulaRestore{}).
		// The restored cluster is not owned by the restore (deleting the
		// restore must not delete the data), so it is found by label.
		Watches(&v1alpha1.NebulaCluster{}, handler.EnqueueRequestsFromMapFunc(restoreOf)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("nebularestore").
		Complete(r)
}

func restoreOf(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[v1alpha1.LabelRestore]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

func (r *Reconciler) event(rt *v1alpha1.NebulaRestore, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(rt, nil, typ, reason, reason, "%s", msg)
	}
}

// Reconcile moves a restore on by one stage at most.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctl.RetryLostRaces(r.reconcile(ctx, req))
}

func (r *Reconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rt := &v1alpha1.NebulaRestore{}
	if err := r.Client.Get(ctx, req.NamespacedName, rt); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rt.DeletionTimestamp.IsZero() {
		r.plans.Delete(rt.UID)
		return ctrl.Result{}, nil
	}
	if rt.Status.Finished() {
		r.plans.Delete(rt.UID)
		return ctrl.Result{}, nil
	}
	switch rt.Status.Phase {
	case "", v1alpha1.RestorePending:
		return r.start(ctx, rt)
	}
	if timeout := r.timeoutOf(rt); time.Since(rt.Status.TimeStarted.Time) > timeout {
		return r.fail(ctx, rt, v1alpha1.RestoreReasonTimeout, fmt.Sprintf("the restore did not finish within %s (spec.timeout, else the operator's --restore-timeout); it stood at %s: %s",
			timeout, rt.Status.Phase, rt.Status.WaitingFor()))
	}
	run, res, err := r.prepare(ctx, rt)
	if run == nil {
		return res, err
	}
	switch rt.Status.Phase {
	case v1alpha1.RestoreRunning:
		return r.metadStage(ctx, run)
	case v1alpha1.RestoreMetadComplete:
		return r.storagedStage(ctx, run)
	case v1alpha1.RestoreStoragedComplete:
		return r.cleanupStage(ctx, run)
	}
	return ctrl.Result{}, nil
}

// timeoutOf is the restore's deadline: its spec's, else the operator's.
func (r *Reconciler) timeoutOf(rt *v1alpha1.NebulaRestore) time.Duration {
	if rt.Spec.Timeout != nil && rt.Spec.Timeout.Duration > 0 {
		return rt.Spec.Timeout.Duration
	}
	return r.Timeout
}

// reasons maps each kind of failure of br's restore engine to the one
// NebulaRestore reason it gets, wherever it happens.
var reasons = []struct {
	kind   error
	reason string
}{
	{br.ErrBackupNotFound, v1alpha1.RestoreReasonBackupNotFound},
	{br.ErrBackupDamaged, v1alpha1.RestoreReasonBackupDamaged},
	{br.ErrStorageUnavailable, v1alpha1.RestoreReasonStorageUnavailable},
	{br.ErrStorageRefused, v1alpha1.RestoreReasonStorageRefused},
	{br.ErrTargetBusy, v1alpha1.RestoreReasonTargetBusy},
	{br.ErrAgentUnavailable, v1alpha1.RestoreReasonWaitingForAgent},
	{br.ErrPlaybackFailed, v1alpha1.RestoreReasonPlaybackFailed},
	{br.ErrTopology, v1alpha1.RestoreReasonTopology},
	{br.ErrTargetFailed, v1alpha1.RestoreReasonTargetFailed},
}

// reasonFor is err's reason, and whether the failure is waited out
// (transient) rather than ending the restore.
func reasonFor(err error) (reason string, transient bool) {
	err = br.Classify(err)
	for _, k := range reasons {
		if errors.Is(err, k.kind) {
			return k.reason, br.Transient(err)
		}
	}
	return v1alpha1.RestoreReasonFailed, false
}

// failWith ends the restore with err's reason, or waits if it is
// transient.
func (r *Reconciler) failWith(ctx context.Context, rt *v1alpha1.NebulaRestore, err error) (ctrl.Result, error) {
	reason, transient := reasonFor(err)
	if transient {
		return r.progress(ctx, rt, reason, "retrying: "+err.Error())
	}
	return r.fail(ctx, rt, reason, err.Error())
}

// sourceKey is the backed-up cluster as recorded when the restore started.
func sourceKey(rt *v1alpha1.NebulaRestore, cfg *v1alpha1.RestoreConfig) types.NamespacedName {
	if ns, name, ok := strings.Cut(rt.Status.SourceCluster, "/"); ok {
		return types.NamespacedName{Namespace: ns, Name: name}
	}
	ns := rt.Namespace
	if cfg.ClusterNamespace != nil && *cfg.ClusterNamespace != "" {
		ns = *cfg.ClusterNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: cfg.ClusterName}
}

// findSource finds the backed-up cluster: in clusterNamespace when set,
// else in the restore's namespace, else the only cluster of that name in
// any namespace (the reference page restores into "default" a cluster
// backed up in another namespace, without naming it).
func (r *Reconciler) findSource(ctx context.Context, rt *v1alpha1.NebulaRestore, cfg *v1alpha1.RestoreConfig) (*v1alpha1.NebulaCluster, *storageaccess.Problem) {
	key := sourceKey(rt, cfg)
	src := &v1alpha1.NebulaCluster{}
	err := r.APIReader.Get(ctx, key, src)
	if err == nil {
		return src, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, &storageaccess.Problem{Reason: v1alpha1.RestoreReasonClusterNotFound, Message: fmt.Sprintf("cannot read NebulaCluster %s: %v", key, err)}
	}
	notFound := &storageaccess.Problem{Reason: v1alpha1.RestoreReasonClusterNotFound, Message: fmt.Sprintf(
		"NebulaCluster %s not found: spec.config.clusterName must name the cluster the backup was taken of", key)}
	if cfg.ClusterNamespace != nil && *cfg.ClusterNamespace != "" {
		return nil, notFound
	}
	var all v1alpha1.NebulaClusterList
	if err := r.APIReader.List(ctx, &all); err != nil {
		return nil, notFound
	}
	var found []*v1alpha1.NebulaCluster
	var where []string
	for i := range all.Items {
		if nc := &all.Items[i]; nc.Name == cfg.ClusterName {
			found = append(found, nc)
			where = append(where, nc.Namespace)
		}
	}
	switch len(found) {
	case 0:
		notFound.Message = fmt.Sprintf("NebulaCluster %s not found in namespace %s nor in any other: spec.config.clusterName must name the cluster the backup was taken of", cfg.ClusterName, rt.Namespace)
		return nil, notFound
	case 1:
		return found[0], nil
	}
	return nil, &storageaccess.Problem{Reason: v1alpha1.RestoreReasonClusterNotFound, Message: fmt.Sprintf(
		"NebulaCluster %s is not in namespace %s, and clusters of that name are in namespaces %s: set spec.config.clusterNamespace",
		cfg.ClusterName, rt.Namespace, strings.Join(where, ", "))}
}

// check validates everything a restore needs before it creates anything;
// a *storageaccess.Problem is an Invalid reason.
func (r *Reconciler) check(ctx context.Context, rt *v1alpha1.NebulaRestore) (*v1alpha1.NebulaCluster, br.Storage, *br.RestorePlan, *storageaccess.Problem) {
	cfg := rt.Spec.EffectiveConfig()
	if cfg == nil || (cfg.S3 == nil && cfg.GS == nil) {
		return nil, br.Storage{}, nil, &storageaccess.Problem{Reason: v1alpha1.RestoreReasonSpecInvalid, Message: "spec.config (or spec.br) with s3 or gs is required"}
	}
	src, p := r.findSource(ctx, rt, cfg)
	if p != nil {
		return nil, br.Storage{}, nil, p
	}
	key := client.ObjectKeyFromObject(src)
	if src.Spec.Metad == nil || src.Spec.Storaged == nil {
		return nil, br.Storage{}, nil, &storageaccess.Problem{Reason: v1alpha1.RestoreReasonSpecInvalid, Message: fmt.Sprintf("NebulaCluster %s has no metad or storaged to copy", key)}
	}
	acc, p := storageaccess.Resolve(ctx, r.APIReader, rt.Namespace, cfg.S3, cfg.GS)
	if p != nil {
		return nil, br.Storage{}, nil, p
	}
	st := acc.Storage
	if _, p := storageaccess.Check(ctx, st); p != nil {
		return nil, br.Storage{}, nil, p
	}
	plan, err := br.PlanRestore(ctx, st, cfg.BackupName)
	if err != nil {
		reason, _ := reasonFor(err)
		return nil, br.Storage{}, nil, &storageaccess.Problem{Reason: reason, Message: st.Redact(err.Error())}
	}
	// The restored cluster copies the source's spec: its storaged replicas
	// must be able to take the backup (addresses do not matter here).
	have := int(replicas(src.Spec.Storaged.Replicas))
	hosts := make([]*nebula.HostAddr, have)
	for i := range hosts {
		hosts[i] = &nebula.HostAddr{Host: fmt.Sprintf("storaged-%d", i), Port: 9779}
	}
	if _, err := plan.Assign(hosts); err != nil {
		return nil, br.Storage{}, nil, &storageaccess.Problem{Reason: v1alpha1.RestoreReasonTopology, Message: fmt.Sprintf(
			"%v. NebulaCluster %s has %d storaged replicas, and the restored cluster copies that spec: set spec.storaged.replicas of %s to a number the backup can be restored into",
			err, key, have, key)}
	}
	return src, st, plan, nil
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// start validates the restore and records the new cluster's name.
func (r *Reconciler) start(ctx context.Context, rt *v1alpha1.NebulaRestore) (ctrl.Result, error) {
	src, _, plan, p := r.check(ctx, rt)
	if p != nil {
		return r.invalid(ctx, rt, p.Reason, p.Message)
	}
	if rt.Status.ClusterName == "" {
		name, err := r.freeClusterName(ctx, rt.Namespace)
		if err != nil {
			return ctrl.Result{}, err
		}
		rt.Status.ClusterName = name
	}
	rt.Status.SourceCluster = src.Namespace + "/" + src.Name
	rt.Status.Start(fmt.Sprintf("backup chain %v checked; restoring into new NebulaCluster %s", plan.Chain, rt.Status.ClusterName), rt.Generation, metav1.Now())
	if err := r.Client.Status().Update(ctx, rt); err != nil {
		return ctrl.Result{}, err
	}
	r.plans.Store(rt.UID, plan)
	r.event(rt, corev1.EventTypeNormal, "Started", fmt.Sprintf("restoring %s (chain %v) into new NebulaCluster %s", plan.Name, plan.Chain, rt.Status.ClusterName))
	return ctrl.Result{Requeue: true}, nil
}

// freeClusterName names a restored cluster as upstream's operator does,
// "ng" and four random characters of Kubernetes' name alphabet, and, unlike
// it, never one a NebulaCluster of the namespace already has.
func (r *Reconciler) freeClusterName(ctx context.Context, ns string) (string, error) {
	for {
		name := "ng" + utilrand.String(4)
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &v1alpha1.NebulaCluster{})
		if apierrors.IsNotFound(err) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
	}
}

func (r *Reconciler) invalid(ctx context.Context, rt *v1alpha1.NebulaRestore, reason, msg string) (ctrl.Result, error) {
	now := metav1.Now()
	rt.Status.SetInvalid(reason, msg, rt.Generation, now)
	if err := r.Client.Status().Update(ctx, rt); err != nil {
		return ctrl.Result{}, err
	}
	r.event(rt, corev1.EventTypeWarning, reason, msg)
	ctl.RecordRestore(ctl.ResultInvalid, time.Time{}, now.Time)
	return ctrl.Result{}, nil
}

// fail ends the restore; with autoRemoveFailed the half-built cluster goes.
func (r *Reconciler) fail(ctx context.Context, rt *v1alpha1.NebulaRestore, reason, msg string) (ctrl.Result, error) {
	now := metav1.Now()
	rt.Status.SetFailed(reason, msg, rt.Generation, now)
	if err := r.Client.Status().Update(ctx, rt); err != nil {
		return ctrl.Result{}, err
	}
	r.event(rt, corev1.EventTypeWarning, reason, msg)
	var started time.Time
	if rt.Status.TimeStarted != nil {
		started = rt.Status.TimeStarted.Time
	}
	ctl.RecordRestore(ctl.ResultFailed, started, now.Time)
	r.plans.Delete(rt.UID)
	if rt.Spec.AutoRemoveFailed && rt.Status.ClusterName != "" {
		nc := &v1alpha1.NebulaCluster{ObjectMeta: metav1.ObjectMeta{Namespace: rt.Namespace, Name: rt.Status.ClusterName}}
		if err := r.Client.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("autoRemoveFailed: delete NebulaCluster %s: %w", nc.Name, err)
		}
		r.event(rt, corev1.EventTypeNormal, "ClusterRemoved", "autoRemoveFailed: deleted the half-built NebulaCluster "+nc.Name)
	}
	return ctrl.Result{}, nil
}

// progress records what the stage waits for and looks again shortly.
func (r *Reconciler) progress(ctx context.Context, rt *v1alpha1.NebulaRestore, reason, msg string) (ctrl.Result, error) {
	if rt.Status.SetProgress(reason, msg, rt.Generation) {
		if err := r.Client.Status().Update(ctx, rt); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: r.Poll}, nil
}

// advance moves the restore to the next phase with its condition.
func (r *Reconciler) advance(ctx context.Context, rt *v1alpha1.NebulaRestore, phase v1alpha1.RestorePhase, reason, msg string) (ctrl.Result, error) {
	now := metav1.Now()
	rt.Status.Advance(phase, reason, msg, rt.Generation, now)
	if err := r.Client.Status().Update(ctx, rt); err != nil {
		return ctrl.Result{}, err
	}
	r.event(rt, corev1.EventTypeNormal, reason, msg)
	if phase == v1alpha1.RestoreComplete {
		ctl.RecordRestore(ctl.ResultComplete, rt.Status.TimeStarted.Time, now.Time)
		r.plans.Delete(rt.UID)
		return ctrl.Result{}, nil
	}
	return ctrl.Result{Requeue: true}, nil
}
