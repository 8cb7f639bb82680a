package nebulacluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
)

func metaName(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

func selector(lb map[string]string) *metav1.LabelSelector {
	m := map[string]string{}
	for k, v := range lb {
		m[k] = v
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

// Reconciler reconciles NebulaClusters.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder // may be nil
	Images   Images
	// APIReader reads what the operator does not cache (the claims it
	// deletes with enablePVReclaim); nil: Client.
	APIReader client.Reader
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("nebulacluster-controller")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.NebulaCluster{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.StatefulSet{}).
		Named("nebulacluster").
		Complete(r)
}

func (r *Reconciler) event(obj *v1alpha1.NebulaCluster, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, reason, "%s", msg)
	}
}

// Reconcile creates or updates each component in order. A write that lost
// a race (stale cache) is retried shortly, not reported as an error.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controller.RetryLostRaces(r.reconcile(ctx, req))
}

func (r *Reconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	nc := &v1alpha1.NebulaCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, nc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !nc.DeletionTimestamp.IsZero() {
		// Owned objects go with it (garbage collection); the claims with
		// enablePVReclaim.
		return ctrl.Result{}, r.finalize(ctx, nc)
	}
	if updated, err := r.syncReclaimFinalizer(ctx, nc); updated || err != nil {
		return ctrl.Result{}, err
	}
	st := nc.Status.DeepCopy()
	st.ObservedGeneration = nc.Generation
	// Fields kept but not acted on go into a condition; the Warning event
	// naming them goes once the status with the new list is written (a
	// reconcile from a stale cache fails that write with a conflict, so it
	// does not repeat the event).
	var notActedOn []string
	if fields := FieldsNotActedOn(nc); st.SetFieldsNotActedOn(fields, nc.Generation) && len(fields) > 0 {
		notActedOn = fields
	}
	if suspended(nc) {
		return r.writeSuspended(ctx, nc, st, notActedOn)
	}
	allReady := true
	previousReady := true
	var kept []string
	for _, c := range components(nc) {
		if !previousReady {
			allReady = false
			st.SetComponentWaiting(c.role, nc.Generation)
			continue
		}
		if held(nc, c.role) {
			allReady, previousReady = false, false
			st.SetComponentHeld(c.role, nc.Annotations[v1alpha1.AnnotationRestoreStage], nc.Generation)
			continue
		}
		sts, created, to, err := r.apply(ctx, nc, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		if created {
			r.event(nc, corev1.EventTypeNormal, "Created", fmt.Sprintf("created %s (ConfigMap, headless Service, StatefulSet %s)", c.role, sts.Name))
		}
		if to.Adopted {
			r.event(nc, corev1.EventTypeNormal, "TakenOver", fmt.Sprintf("took StatefulSet %s over in place: its pod template runs the spec and is kept", sts.Name))
		}
		kept = append(kept, to.Kept...)
		cs := st.Component(c.role)
		cs.Version, cs.Workload = workloadStatus(c, sts)
		// Ready only once the StatefulSet has seen its current spec and
		// every pod runs it (a template change rolls the pods).
		ready := sts.Status.ReadyReplicas >= c.replicas && sts.Status.ObservedGeneration >= sts.Generation &&
			sts.Status.UpdatedReplicas >= c.replicas
		if ready {
			st.SetComponentReady(c.role, sts.Status.ReadyReplicas, c.replicas, nc.Generation)
		} else {
			allReady, previousReady = false, false
			st.SetComponentNotReady(c.role, sts.Status.ReadyReplicas, c.replicas, nc.Generation)
		}
	}
	st.SetReady(allReady, nc.Generation)
	if allReady {
		st.Version = st.Metad.Version
	}
	if r.setWorkloadCondition(st, kept, nc.Generation) {
		r.event(nc, corev1.EventTypeWarning, ReasonImmutableFieldDiffers, strings.Join(kept, "; "))
	}
	if nc.Status.Phase != st.Phase && st.Phase == v1alpha1.ClusterRunning {
		r.event(nc, corev1.EventTypeNormal, "Ready", "every component is ready")
	}
	return r.writeStatus(ctx, nc, st, notActedOn, ctrl.Result{})
}

// writeStatus writes st as the cluster's status and then records the
// Warning event naming the fields kept but not acted on (none: no event);
// after a write conflict it looks again in a second instead of then.
func (r *Reconciler) writeStatus(ctx context.Context, nc *v1alpha1.NebulaCluster, st *v1alpha1.NebulaClusterStatus, notActedOn []string, then ctrl.Result) (ctrl.Result, error) {
	nc.Status = *st
	if err := r.Client.Status().Update(ctx, nc); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	if len(notActedOn) > 0 {
		r.event(nc, corev1.EventTypeWarning, EventFieldsNotActedOn, v1alpha1.FieldsNotActedOnMessage(notActedOn))
	}
	return then, nil
}

// writeSuspended suspends the cluster (spec.suspend) and writes its status.
func (r *Reconciler) writeSuspended(ctx context.Context, nc *v1alpha1.NebulaCluster, st *v1alpha1.NebulaClusterStatus, notActedOn []string) (ctrl.Result, error) {
	gone, err := r.suspend(ctx, nc, st)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !gone {
		st.Phase = v1alpha1.ClusterSuspend
	}
	// A deleted StatefulSet brings a reconcile (Owns); look again soon in
	// case it is held by a finalizer.
	then := ctrl.Result{}
	if !gone {
		then.RequeueAfter = 2 * time.Second
	}
	return r.writeStatus(ctx, nc, st, notActedOn, then)
}

// setWorkloadCondition records whether every StatefulSet has the desired
// spec (ConditionWorkloadSpecApplied); it returns true when the
// differences kept are new, to be reported once.
func (r *Reconciler) setWorkloadCondition(st *v1alpha1.NebulaClusterStatus, kept []string, generation int64) bool {
	cond := v1alpha1.NebulaClusterCondition{Type: ConditionWorkloadSpecApplied, Status: metav1.ConditionTrue, Reason: ReasonApplied,
		Message: "every StatefulSet has the desired spec", ObservedGeneration: generation}
	if len(kept) > 0 {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonImmutableFieldDiffers, strings.Join(kept, "; ")
	}
	prev := st.Condition(ConditionWorkloadSpecApplied)
	news := len(kept) > 0 && (prev == nil || prev.Message != cond.Message)
	st.SetCondition(cond, metav1.Now())
	return news
}

// held says whether a restore holds the component back: storaged until
// metad is restored, graphd until storaged is.
func held(nc *v1alpha1.NebulaCluster, role string) bool {
	switch nc.Annotations[v1alpha1.AnnotationRestoreStage] {
	case v1alpha1.RestoreStageMetad:
		return role != naming.Metad
	case v1alpha1.RestoreStageStoraged:
		return role == naming.Graphd
	}
	return false
}

// apply creates or updates one component's ConfigMap, headless Service and
// StatefulSet, and returns the StatefulSet, whether it was created, and
// what taking an existing one over did.
func (r *Reconciler) apply(ctx context.Context, nc *v1alpha1.NebulaCluster, c component) (*appsv1.StatefulSet, bool, takeOver, error) {
	ns := nc.Namespace
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.ConfigMapName(nc.Name, c.role), Namespace: ns}}
	var file string
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		file = configMap(nc, c, cm)
		return controllerutil.SetControllerReference(nc, cm, r.Client.Scheme())
	}); err != nil {
		return nil, false, takeOver{}, fmt.Errorf("%s ConfigMap: %w", c.role, err)
	}
	c.cmHash = configHash(file)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: naming.HeadlessName(nc.Name, c.role), Namespace: ns}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, svc, func() error {
		headless(nc, c, svc)
		return controllerutil.SetControllerReference(nc, svc, r.Client.Scheme())
	}); err != nil {
		return nil, false, takeOver{}, fmt.Errorf("%s headless Service: %w", c.role, err)
	}
	if c.role == naming.Graphd {
		client := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: naming.GraphdServiceName(nc.Name), Namespace: ns}}
		if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, client, func() error {
			graphdService(nc, c, client)
			applyServiceSelector(nc, client)
			return controllerutil.SetControllerReference(nc, client, r.Client.Scheme())
		}); err != nil {
			return nil, false, takeOver{}, fmt.Errorf("graphd client Service: %w", err)
		}
	}
	desired := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: naming.WorkloadName(nc.Name, c.role), Namespace: ns}}
	statefulSet(nc, c, r.Images, desired)
	applyPodOptions(nc, c, desired)
	desired.Annotations = addLabels(desired.Annotations, map[string]string{AnnotationTemplateHash: templateHash(&desired.Spec.Template)})
	if err := controllerutil.SetControllerReference(nc, desired, r.Client.Scheme()); err != nil {
		return nil, false, takeOver{}, err
	}
	sts := &appsv1.StatefulSet{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), sts)
	if apierrors.IsNotFound(err) {
		if err := r.Client.Create(ctx, desired); err != nil {
			return nil, false, takeOver{}, fmt.Errorf("%s StatefulSet: %w", c.role, err)
		}
		return desired, true, takeOver{}, nil
	}
	if err != nil {
		return nil, false, takeOver{}, fmt.Errorf("%s StatefulSet: %w", c.role, err)
	}
	before := sts.DeepCopy()
	res := applyStatefulSet(c.role, sts, desired)
	if err := controllerutil.SetControllerReference(nc, sts, r.Client.Scheme()); err != nil {
		return nil, false, takeOver{}, fmt.Errorf("%s StatefulSet: %w", c.role, err)
	}
	if !equality.Semantic.DeepEqual(before, sts) {
		if err := r.Client.Update(ctx, sts); err != nil {
			return nil, false, takeOver{}, fmt.Errorf("%s StatefulSet: %w", c.role, err)
		}
	}
	return sts, false, res, nil
}
