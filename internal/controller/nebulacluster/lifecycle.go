package nebulacluster

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
)

// PVReclaimFinalizer holds a NebulaCluster with spec.enablePVReclaim until
// the operator has deleted its PersistentVolumeClaims.
const PVReclaimFinalizer = v1alpha1.Group + "/pv-reclaim"

// Event reasons of the NebulaCluster controller (besides Created, Ready).
const (
	EventPVCsDeleted = "PVCsDeleted"
	EventSuspended   = "Suspended"
)

// syncReclaimFinalizer adds PVReclaimFinalizer when enablePVReclaim is set
// and removes it when it is not; it reports whether it updated the object
// (the update brings another reconcile).
func (r *Reconciler) syncReclaimFinalizer(ctx context.Context, nc *v1alpha1.NebulaCluster) (bool, error) {
	if nc.Spec.EnablePVReclaim == controllerutil.ContainsFinalizer(nc, PVReclaimFinalizer) {
		return false, nil
	}
	if nc.Spec.EnablePVReclaim {
		controllerutil.AddFinalizer(nc, PVReclaimFinalizer)
	} else {
		controllerutil.RemoveFinalizer(nc, PVReclaimFinalizer)
	}
	if err := r.Client.Update(ctx, nc); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return true, nil
}

// finalize runs when the cluster is being deleted: with PVReclaimFinalizer
// (enablePVReclaim) it deletes the cluster's claims, then lets the cluster
// go. Its other objects go by garbage collection (owner references).
func (r *Reconciler) finalize(ctx context.Context, nc *v1alpha1.NebulaCluster) error {
	if !controllerutil.ContainsFinalizer(nc, PVReclaimFinalizer) {
		return nil
	}
	n, err := r.deleteClaims(ctx, nc)
	if err != nil {
		return err
	}
	if n > 0 {
		r.event(nc, corev1.EventTypeNormal, EventPVCsDeleted, fmt.Sprintf("deleted %d PersistentVolumeClaims (enablePVReclaim)", n))
	}
	controllerutil.RemoveFinalizer(nc, PVReclaimFinalizer)
	return client.IgnoreNotFound(r.Client.Update(ctx, nc))
}

// deleteClaims deletes the claims of the cluster's component pods: those
// in its namespace labelled with the cluster's name and a component. A
// claim still used by a pod goes once the pod has (the claim's
// kubernetes.io/pvc-protection finalizer).
func (r *Reconciler) deleteClaims(ctx context.Context, nc *v1alpha1.NebulaCluster) (int, error) {
	comp, err := k8slabels.NewRequirement(v1alpha1.LabelComponent, selection.In, naming.Roles)
	if err != nil {
		return 0, err
	}
	clu, err := k8slabels.NewRequirement(v1alpha1.LabelCluster, selection.Equals, []string{nc.Name})
	if err != nil {
		return 0, err
	}
	var reader client.Reader = r.Client
	if r.APIReader != nil {
		reader = r.APIReader // no informer on every claim of the cluster
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := reader.List(ctx, &pvcs, client.InNamespace(nc.Namespace),
		client.MatchingLabelsSelector{Selector: k8slabels.NewSelector().Add(*clu, *comp)}); err != nil {
		return 0, fmt.Errorf("list PersistentVolumeClaims: %w", err)
	}
	n := 0
	for i := range pvcs.Items {
		p := &pvcs.Items[i]
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		if err := r.Client.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
			return n, fmt.Errorf("delete PersistentVolumeClaim %s: %w", p.Name, err)
		}
		n++
	}
	return n, nil
}

// suspended says whether spec.suspend is set.
func suspended(nc *v1alpha1.NebulaCluster) bool {
	return nc.Spec.Suspend != nil && *nc.Spec.Suspend
}

// suspend deletes the components' StatefulSets, graphd first, then
// storaged, then metad, each once the previous one is gone (its claims,
// ConfigMap and Services stay), and records the suspension in st. It
// reports whether every StatefulSet is gone.
func (r *Reconciler) suspend(ctx context.Context, nc *v1alpha1.NebulaCluster, st *v1alpha1.NebulaClusterStatus) (bool, error) {
	order := []string{naming.Graphd, naming.Storaged, naming.Metad}
	for i, role := range order {
		sts := &appsv1.StatefulSet{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: nc.Namespace, Name: naming.WorkloadName(nc.Name, role)}, sts)
		if apierrors.IsNotFound(err) {
			st.SetComponentSuspended(role, true, nc.Generation)
			continue
		}
		if err != nil {
			return false, err
		}
		if !controlledBy(sts, nc) {
			// Not ours to delete (a name clash): leave it, call it gone.
			st.SetComponentSuspended(role, true, nc.Generation)
			continue
		}
		if sts.DeletionTimestamp.IsZero() {
			if err := r.Client.Delete(ctx, sts, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("suspend %s: delete StatefulSet %s: %w", role, sts.Name, err)
			}
			r.event(nc, corev1.EventTypeNormal, EventSuspended, fmt.Sprintf("suspending %s: deleted StatefulSet %s (claims kept)", role, sts.Name))
		}
		st.SetComponentSuspended(role, false, nc.Generation)
		for _, later := range order[i+1:] {
			st.SetComponentSuspended(later, false, nc.Generation)
		}
		return false, nil
	}
	st.SetSuspended(nc.Generation)
	return true, nil
}

func controlledBy(obj *appsv1.StatefulSet, nc *v1alpha1.NebulaCluster) bool {
	for _, o := range obj.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.UID == nc.UID
		}
	}
	return true // no controller: the operator's own (older) or left over
}

// workloadStatus is a component's status from its StatefulSet: the
// version (image tag) its service container runs, and its counts.
func workloadStatus(c component, sts *appsv1.StatefulSet) (string, *v1alpha1.WorkloadStatus) {
	version := c.spec.Version
	if m := podContainer(sts.Spec.Template.Spec.Containers, c.role); m != nil {
		if tag := imageTag(m.Image); tag != "" {
			version = tag
		}
	}
	var cc *int32
	if sts.Status.CollisionCount != nil {
		v := *sts.Status.CollisionCount
		cc = &v
	}
	return version, &v1alpha1.WorkloadStatus{
		ObservedGeneration: sts.Status.ObservedGeneration,
		Replicas:           sts.Status.Replicas,
		ReadyReplicas:      sts.Status.ReadyReplicas,
		AvailableReplicas:  sts.Status.AvailableReplicas,
		CurrentReplicas:    sts.Status.CurrentReplicas,
		UpdatedReplicas:    sts.Status.UpdatedReplicas,
		CurrentRevision:    sts.Status.CurrentRevision,
		UpdateRevision:     sts.Status.UpdateRevision,
		CollisionCount:     cc,
	}
}

// imageTag is the tag of an image reference ("" without one).
func imageTag(img string) string {
	if i := strings.Index(img, "@"); i >= 0 {
		img = img[:i]
	}
	slash := strings.LastIndex(img, "/")
	if colon := strings.LastIndex(img, ":"); colon > slash {
		return img[colon+1:]
	}
	return ""
}
