package nebulacluster

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
)

// The fields of a NebulaCluster that shape its pods beyond the base
// template statefulSet builds (names, labels, ports, mounts, claims,
// images, resources, node selector, affinity, tolerations, pull secrets):
// applyPodOptions adds them to that template, before its hash is taken,
// so that a change of any of them rolls the pods.
//
//	spec.schedulerName                    pod schedulerName (default-scheduler)
//	spec[.<role>].topologySpreadConstraints pod topologySpreadConstraints: the component's, else the
//	                                      cluster's, each with maxSkew 1 and the component's labels
//	spec.<role>.securityContext           the service container's securityContext
//	spec.<role>.initContainers            before the operator's init containers
//	spec.<role>.sidecarContainers         appended; one named like an operator container replaces it
//	spec.<role>.volumes                   appended, unless the pod already has a volume of that name
//	spec.<role>.volumeMounts              appended to the service container's mounts
//	spec.agent.volumeMounts               appended to the agent sidecar's and the restore init agent's mounts,
//	                                      where the pod has the volume
//	spec.<role>.readinessProbe            replaces the service container's default probe
//	spec.<role>.livenessProbe             the service container's liveness probe
//	spec.<role>.dnsConfig, dnsPolicy      pod dnsConfig, dnsPolicy (default ClusterFirst)
//	spec.imagePullPolicy                  the operator's containers (Always when unset, as upstream)
func applyPodOptions(nc *v1alpha1.NebulaCluster, c component, sts *appsv1.StatefulSet) {
	spec := c.spec
	pod := &sts.Spec.Template.Spec

	pod.SchedulerName = nc.Spec.SchedulerName
	if pod.SchedulerName == "" {
		pod.SchedulerName = corev1.DefaultSchedulerName
	}
	pod.TopologySpreadConstraints = topologySpread(nc, c)
	pod.DNSConfig = spec.DNSConfig.DeepCopy()
	pod.DNSPolicy = spec.DNSPolicy
	if pod.DNSPolicy == "" {
		pod.DNSPolicy = corev1.DNSClusterFirst
	}

	pull := nc.Spec.ImagePullPolicy
	if pull == "" {
		pull = corev1.PullAlways
	}
	for _, cs := range [][]corev1.Container{pod.Containers, pod.InitContainers} {
		for i := range cs {
			if cs[i].ImagePullPolicy == "" {
				cs[i].ImagePullPolicy = pull
			}
		}
	}

	if main := podContainer(pod.Containers, c.role); main != nil {
		if spec.SecurityContext != nil {
			main.SecurityContext = spec.SecurityContext.DeepCopy()
		}
		if spec.ReadinessProbe != nil {
			main.ReadinessProbe = spec.ReadinessProbe.DeepCopy()
		}
		if spec.LivenessProbe != nil {
			main.LivenessProbe = spec.LivenessProbe.DeepCopy()
		}
		main.VolumeMounts = appendMounts(main.VolumeMounts, spec.VolumeMounts)
	}
	if len(spec.InitContainers) > 0 {
		pod.InitContainers = append(v1alpha1.CoreContainers(spec.InitContainers), pod.InitContainers...)
	}
	for _, sc := range v1alpha1.CoreContainers(spec.SidecarContainers) {
		if cur := podContainer(pod.Containers, sc.Name); cur != nil && sc.Name != c.role {
			*cur = sc
			continue
		}
		if sc.Name == c.role {
			continue // the service container is the operator's
		}
		pod.Containers = append(pod.Containers, sc)
	}
	have := map[string]bool{}
	for _, v := range pod.Volumes {
		have[v.Name] = true
	}
	for _, v := range v1alpha1.CoreVolumes(spec.Volumes) {
		if !have[v.Name] {
			pod.Volumes = append(pod.Volumes, v)
			have[v.Name] = true
		}
	}

	// spec.agent is one for every component: its mounts go where the pod
	// has the volume (a component's volumes, a claim), as one agent
	// volume declared on a single component must not break the others.
	if a := nc.Spec.Agent; a != nil && len(a.VolumeMounts) > 0 {
		for _, t := range sts.Spec.VolumeClaimTemplates {
			have[t.Name] = true
		}
		var mounts []corev1.VolumeMount
		for _, m := range a.VolumeMounts {
			if have[m.Name] {
				mounts = append(mounts, m)
			}
		}
		for _, name := range []string{naming.AgentContainerName, naming.RestoreAgentContainerName} {
			for _, cs := range [][]corev1.Container{pod.Containers, pod.InitContainers} {
				if ct := podContainer(cs, name); ct != nil {
					ct.VolumeMounts = appendMounts(ct.VolumeMounts, mounts)
				}
			}
		}
	}
}

// appendMounts appends extra to mounts (copies), skipping a mount already
// there (same volume at the same path).
func appendMounts(mounts, extra []corev1.VolumeMount) []corev1.VolumeMount {
	for _, m := range extra {
		dup := false
		for _, cur := range mounts {
			if cur.Name == m.Name && cur.MountPath == m.MountPath {
				dup = true
				break
			}
		}
		if !dup {
			mounts = append(mounts, *m.DeepCopy())
		}
	}
	return mounts
}

// topologySpread is the component's spread constraints (else the
// cluster's), each with maxSkew 1 over the component's pods.
func topologySpread(nc *v1alpha1.NebulaCluster, c component) []corev1.TopologySpreadConstraint {
	tscs := c.spec.TopologySpreadConstraints
	if len(tscs) == 0 {
		tscs = nc.Spec.TopologySpreadConstraints
	}
	if len(tscs) == 0 {
		return nil
	}
	out := make([]corev1.TopologySpreadConstraint, 0, len(tscs))
	for _, t := range tscs {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       t.TopologyKey,
			WhenUnsatisfiable: t.WhenUnsatisfiable,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: labels(nc, c.role)},
		})
	}
	return out
}

// applyServiceSelector adds spec.graphd.service.selector to graphd's client
// Service's selector (the operator's own keys win: the Service must still
// select graphd pods of this cluster).
func applyServiceSelector(nc *v1alpha1.NebulaCluster, svc *corev1.Service) {
	if nc.Spec.Graphd == nil || nc.Spec.Graphd.Service == nil || len(nc.Spec.Graphd.Service.Selector) == 0 {
		return
	}
	sel := map[string]string{}
	for k, v := range nc.Spec.Graphd.Service.Selector {
		sel[k] = v
	}
	for k, v := range svc.Spec.Selector {
		sel[k] = v
	}
	svc.Spec.Selector = sel
}

// podContainer is the container of cs named name, or nil.
func podContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}
