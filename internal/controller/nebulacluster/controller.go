package nebulacluster

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("nebulacluster-controller")
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
		return ctrl.Result{}, nil // owned objects go with it (garbage collection)
	}
	st := nc.Status.DeepCopy()
	st.ObservedGeneration = nc.Generation
	allReady := true
	previousReady := true
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
		sts, created, err := r.apply(ctx, nc, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		if created {
			r.event(nc, corev1.EventTypeNormal, "Created", fmt.Sprintf("created %s (ConfigMap, headless Service, StatefulSet %s)", c.role, sts.Name))
		}
		cs := st.Component(c.role)
		cs.Version = c.spec.Version
		cs.Workload = v1alpha1.WorkloadStatus{
			ObservedGeneration: sts.Status.ObservedGeneration,
			Replicas:           sts.Status.Replicas,
			ReadyReplicas:      sts.Status.ReadyReplicas,
			UpdatedReplicas:    sts.Status.UpdatedReplicas,
			CurrentRevision:    sts.Status.CurrentRevision,
			UpdateRevision:     sts.Status.UpdateRevision,
		}
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
	if nc.Status.Phase != st.Phase && st.Phase == v1alpha1.ClusterRunning {
		r.event(nc, corev1.EventTypeNormal, "Ready", "every component is ready")
	}
	nc.Status = *st
	if err := r.Client.Status().Update(ctx, nc); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
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
// StatefulSet, and returns the StatefulSet and whether it was created.
func (r *Reconciler) apply(ctx context.Context, nc *v1alpha1.NebulaCluster, c component) (*appsv1.StatefulSet, bool, error) {
	ns := nc.Namespace
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.WorkloadName(nc.Name, c.role), Namespace: ns}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		configMap(nc, c, cm)
		return controllerutil.SetControllerReference(nc, cm, r.Client.Scheme())
	}); err != nil {
		return nil, false, fmt.Errorf("%s ConfigMap: %w", c.role, err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: naming.HeadlessName(nc.Name, c.role), Namespace: ns}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, svc, func() error {
		headless(nc, c, svc)
		return controllerutil.SetControllerReference(nc, svc, r.Client.Scheme())
	}); err != nil {
		return nil, false, fmt.Errorf("%s headless Service: %w", c.role, err)
	}
	if c.role == naming.Graphd {
		client := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: naming.GraphdServiceName(nc.Name), Namespace: ns}}
		if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, client, func() error {
			graphdService(nc, c, client)
			return controllerutil.SetControllerReference(nc, client, r.Client.Scheme())
		}); err != nil {
			return nil, false, fmt.Errorf("graphd client Service: %w", err)
		}
	}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: naming.WorkloadName(nc.Name, c.role), Namespace: ns}}
	op, err := controllerutil.CreateOrUpdate(ctx, r.Client, sts, func() error {
		statefulSet(nc, c, r.Images, sts)
		return controllerutil.SetControllerReference(nc, sts, r.Client.Scheme())
	})
	if err != nil {
		return nil, false, fmt.Errorf("%s StatefulSet: %w", c.role, err)
	}
	return sts, op == controllerutil.OperationResultCreated, nil
}
