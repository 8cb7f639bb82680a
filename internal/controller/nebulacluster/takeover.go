package nebulacluster

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
)

// Taking over a StatefulSet that another operator (upstream's
// nebula-operator) created, or an older version of this one:
//
//   - it is updated in place, never recreated: its selector, service name,
//     pod management policy and volume claim templates (immutable) are
//     kept as they are, and every claim with them;
//   - its pod template is kept as long as the NebulaCluster's spec is what
//     it runs (same images, agent sidecar or not, resources, pod labels):
//     the operator records the hash of the template it would write
//     (AnnotationTemplateHash) and writes its own template only once that
//     hash changes, that is when the spec (or the restore stage) changes;
//   - a template that the StatefulSet's immutable fields cannot carry (it
//     mounts a claim the StatefulSet does not have, its labels do not match
//     the selector) is not written: the StatefulSet is left as it is and
//     the condition WorkloadSpecApplied says why, until the spec or the
//     StatefulSet changes (no retry loop);
//   - a rolling-update partition (upstream rolls pods itself, one at a time,
//     holding the others with a partition) is lowered to 0: the
//     StatefulSet controller rolls the pods, as for this operator's own
//     StatefulSets. With the template unchanged no pod restarts.

// AnnotationTemplateHash, on a StatefulSet, is the hash of the pod template
// the operator last wrote, or found running the current spec and kept.
const AnnotationTemplateHash = v1alpha1.Group + "/template-hash"

// Condition of a NebulaCluster: whether every StatefulSet has the spec the
// operator wants (False when an immutable field keeps it from it).
const (
	ConditionWorkloadSpecApplied = "WorkloadSpecApplied"
	ReasonApplied                = "Applied"
	ReasonImmutableFieldDiffers  = "ImmutableFieldDiffers"
)

// templateHash is the hash of a pod template as the operator builds it
// (before the API server fills defaults in).
func templateHash(t *corev1.PodTemplateSpec) string {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err) // a PodTemplateSpec always marshals
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// takeOver is what applyStatefulSet did to an existing StatefulSet.
type takeOver struct {
	// Adopted: its template, written by someone else, runs the current
	// spec and was kept.
	Adopted bool
	// Kept lists the immutable differences left as they are; Blocked says
	// the desired pod template could not be written because of them.
	Kept    []string
	Blocked bool
}

func claimNames(claims []corev1.PersistentVolumeClaim) []string {
	var out []string
	for _, c := range claims {
		out = append(out, c.Name)
	}
	return out
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// withoutStorage drops storage from resources (upstream leaves it out of
// its containers).
func withoutStorage(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	r = *r.DeepCopy()
	delete(r.Requests, corev1.ResourceStorage)
	delete(r.Limits, corev1.ResourceStorage)
	if len(r.Requests) == 0 {
		r.Requests = nil
	}
	if len(r.Limits) == 0 {
		r.Limits = nil
	}
	return r
}

// runsSpec says whether an existing pod template, written by someone
// else, runs what the desired one would: the same service image and
// resources, the agent sidecar (or none) with the same image, the same
// init containers, and the pod labels.
func runsSpec(role string, cur, desired *corev1.PodTemplateSpec) bool {
	m, dm := findContainer(cur.Spec.Containers, role), findContainer(desired.Spec.Containers, role)
	if m == nil || dm == nil || m.Image != dm.Image ||
		!equality.Semantic.DeepEqual(withoutStorage(m.Resources), withoutStorage(dm.Resources)) {
		return false
	}
	a, da := findContainer(cur.Spec.Containers, naming.AgentContainerName), findContainer(desired.Spec.Containers, naming.AgentContainerName)
	if (a == nil) != (da == nil) || (a != nil && a.Image != da.Image) {
		return false
	}
	if len(desired.Spec.InitContainers) > 0 && findContainer(cur.Spec.InitContainers, naming.RestoreAgentContainerName) == nil {
		return false
	}
	for k, v := range desired.Labels {
		if cur.Labels[k] != v {
			return false
		}
	}
	return true
}

// applyStatefulSet brings the existing StatefulSet cur toward desired
// (built by statefulSet, with its AnnotationTemplateHash) without touching
// its immutable fields.
func applyStatefulSet(role string, cur, desired *appsv1.StatefulSet) takeOver {
	var res takeOver
	h := desired.Annotations[AnnotationTemplateHash]
	cur.Labels = addLabels(cur.Labels, desired.Labels)
	cur.Spec.Replicas = desired.Spec.Replicas
	if u := &cur.Spec.UpdateStrategy; u.Type == "" || u.Type == appsv1.RollingUpdateStatefulSetStrategyType {
		if u.RollingUpdate != nil && u.RollingUpdate.Partition != nil && *u.RollingUpdate.Partition != 0 {
			u.RollingUpdate.Partition = ptr(int32(0))
		}
	}

	name := cur.Name
	tpl := desired.Spec.Template.DeepCopy()
	if !equality.Semantic.DeepEqual(cur.Spec.Selector, desired.Spec.Selector) {
		res.Kept = append(res.Kept, fmt.Sprintf("StatefulSet %s: selector %s kept (immutable), wanted %s",
			name, metav1.FormatLabelSelector(cur.Spec.Selector), metav1.FormatLabelSelector(desired.Spec.Selector)))
		// The pods must still match the selector they are owned through.
		if cur.Spec.Selector != nil {
			tpl.Labels = addLabels(tpl.Labels, cur.Spec.Selector.MatchLabels)
		}
		sel, err := metav1.LabelSelectorAsSelector(cur.Spec.Selector)
		if err != nil || !sel.Matches(k8slabels.Set(tpl.Labels)) {
			res.Blocked = true
		}
	}
	if cur.Spec.ServiceName != desired.Spec.ServiceName {
		res.Kept = append(res.Kept, fmt.Sprintf("StatefulSet %s: serviceName %q kept (immutable), wanted %q", name, cur.Spec.ServiceName, desired.Spec.ServiceName))
	}
	if cur.Spec.PodManagementPolicy != desired.Spec.PodManagementPolicy {
		res.Kept = append(res.Kept, fmt.Sprintf("StatefulSet %s: podManagementPolicy %s kept (immutable), wanted %s", name, cur.Spec.PodManagementPolicy, desired.Spec.PodManagementPolicy))
	}
	have, want := claimNames(cur.Spec.VolumeClaimTemplates), claimNames(desired.Spec.VolumeClaimTemplates)
	if !slices.Equal(have, want) {
		res.Kept = append(res.Kept, fmt.Sprintf("StatefulSet %s: volumeClaimTemplates [%s] kept (immutable), wanted [%s]",
			name, strings.Join(have, " "), strings.Join(want, " ")))
		for _, w := range want {
			if !slices.Contains(have, w) {
				res.Blocked = true // the template would mount a claim the pods do not get
			}
		}
	}

	switch {
	case h != "" && cur.Annotations[AnnotationTemplateHash] == h:
		// Written (or kept) for this very spec: nothing to do.
	case cur.Annotations[AnnotationTemplateHash] == "" && runsSpec(role, &cur.Spec.Template, tpl):
		// Taken over: the running template already runs the spec.
		res.Adopted = true
		cur.Annotations = addLabels(cur.Annotations, map[string]string{AnnotationTemplateHash: h})
	case res.Blocked:
		res.Kept = append(res.Kept, fmt.Sprintf("StatefulSet %s: pod template left as it is, the desired one does not fit the fields kept "+
			"(a spec whose volume claims match the StatefulSet's applies; a different selector applies once the StatefulSet "+
			"is deleted with --cascade=orphan and created again, pods and claims staying)", name))
	default:
		cur.Spec.Template = *tpl
		cur.Annotations = addLabels(cur.Annotations, map[string]string{AnnotationTemplateHash: h})
	}
	return res
}
