package nebulacluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacluster"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

// recorder counts the events the controller records, as they are
// recorded (no event broadcaster in between).
type recorder struct {
	mu     sync.Mutex
	events []string // "type reason: note"
}

func (r *recorder) Eventf(_ runtime.Object, _ runtime.Object, typ, reason, _ string, note string, args ...interface{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s %s: %s", typ, reason, fmt.Sprintf(note, args...)))
}

// count is the number of events recorded with reason.
func (r *recorder) count(reason string) (n int, all []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if strings.Contains(e, " "+reason+": ") {
			n++
			all = append(all, e)
		}
	}
	return n, all
}

// startWithRecorder runs the controller on ns, recording into rec.
func startWithRecorder(t *testing.T, env *envtest.Env, ns string, rec *recorder) {
	t.Helper()
	envtest.StartManager(t, env, []string{ns}, func(mgr ctrl.Manager) error {
		return (&nebulacluster.Reconciler{Recorder: rec, Images: nebulacluster.Images{Agent: "default/agent:v1"}}).SetupWithManager(mgr)
	})
}

// readyAll plays the StatefulSet controller for sts: every replica
// created, ready, available and current.
func readyAll(t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	eventually(t, "status of "+name, func() (bool, error) {
		cur, err := getSTS(context.Background(), c, ns, name)
		if err != nil {
			return false, err
		}
		n := ptr.Deref(cur.Spec.Replicas, 1)
		cur.Status.ObservedGeneration = cur.Generation
		cur.Status.Replicas, cur.Status.ReadyReplicas, cur.Status.AvailableReplicas = n, n, n
		cur.Status.CurrentReplicas, cur.Status.UpdatedReplicas = n, n
		cur.Status.CurrentRevision, cur.Status.UpdateRevision = name+"-1", name+"-1"
		return c.Status().Update(context.Background(), cur) == nil, nil
	})
}

// readyUntilNext marks StatefulSet name ready (again, should the operator
// change it meanwhile) until the next component's StatefulSet exists.
func readyUntilNext(t *testing.T, c client.Client, ns, name, next string) {
	t.Helper()
	eventually(t, next+" after "+name+" is ready", func() (bool, error) {
		cur, err := getSTS(context.Background(), c, ns, name)
		if err != nil {
			return false, err
		}
		if cur.Status.ObservedGeneration != cur.Generation || cur.Status.ReadyReplicas != ptr.Deref(cur.Spec.Replicas, 1) {
			n := ptr.Deref(cur.Spec.Replicas, 1)
			cur.Status.ObservedGeneration = cur.Generation
			cur.Status.Replicas, cur.Status.ReadyReplicas, cur.Status.AvailableReplicas = n, n, n
			cur.Status.CurrentReplicas, cur.Status.UpdatedReplicas = n, n
			cur.Status.CurrentRevision, cur.Status.UpdateRevision = name+"-1", name+"-1"
			_ = c.Status().Update(context.Background(), cur)
		}
		_, err = getSTS(context.Background(), c, ns, next)
		return err == nil, client.IgnoreNotFound(err)
	})
}

func findVolume(vs []corev1.Volume, name string) *corev1.Volume {
	for i := range vs {
		if vs[i].Name == name {
			return &vs[i]
		}
	}
	return nil
}

func hasMount(ms []corev1.VolumeMount, name, path string) bool {
	return slices.ContainsFunc(ms, func(m corev1.VolumeMount) bool { return m.Name == name && m.MountPath == path })
}

// TestPodShapingFieldsReachStatefulSet creates a cluster whose metad sets
// every pod-shaping field and checks each in metad's StatefulSet: node
// placement, security context, extra init containers, sidecars, volumes
// and mounts (the agent's too), probes, DNS, scheduler, spread, the pull
// policy defaulted to Always; then a change of one of them reaches the
// existing StatefulSet, the workload status is upstream's, and graphd's
// client Service carries spec.graphd.service's type, selector and
// externalTrafficPolicy.
func TestPodShapingFieldsReachStatefulSet(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	c := env.Client
	startWithRecorder(t, env, ns, &recorder{})

	nc := cluster(ns, "shaped", true)
	nc.Spec.Agent.VolumeMounts = []corev1.VolumeMount{{Name: "extra", MountPath: "/agent-extra"}}
	nc.Spec.SchedulerName = "nebula-scheduler"
	nc.Spec.Tolerations = []corev1.Toleration{{Key: "cluster", Operator: corev1.TolerationOpExists}}
	nc.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	nc.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	nc.Spec.TopologySpreadConstraints = []v1alpha1.TopologySpreadConstraint{{TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway}}
	m := &nc.Spec.Metad.ComponentSpec
	m.Tolerations = []corev1.Toleration{{Key: "metad", Operator: corev1.TolerationOpEqual, Value: "yes", Effect: corev1.TaintEffectNoSchedule}}
	m.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(1000)), AllowPrivilegeEscalation: ptr.To(false)}
	m.InitContainers = []v1alpha1.Container{{Name: "init-certs", Image: "busybox:1.36", Command: []string{"sh", "-c", "true"},
		VolumeMounts: []corev1.VolumeMount{{Name: "extra", MountPath: "/extra"}}}}
	m.SidecarContainers = []v1alpha1.Container{{Name: "side", Image: "busybox:1.36", Args: []string{"sleep", "infinity"}}}
	m.Volumes = []v1alpha1.Volume{{Name: "extra", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
	m.VolumeMounts = []corev1.VolumeMount{{Name: "extra", MountPath: "/usr/local/nebula/extra"}}
	m.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9559)}}, PeriodSeconds: 7}
	m.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9559)}}, InitialDelaySeconds: 30}
	m.DNSPolicy = corev1.DNSNone
	m.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.10"}, Searches: []string{"svc.cluster.local"}}
	nc.Spec.Metad.LogVolumeClaim = &v1alpha1.StorageClaim{StorageClassName: ptr.To("fast"),
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
	nc.Spec.Graphd.Service = &v1alpha1.GraphdServiceSpec{ServiceSpec: v1alpha1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"team": "graph"}},
		ExternalTrafficPolicy: ptr.To(corev1.ServiceExternalTrafficPolicyLocal)}
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	if nc.Spec.ImagePullPolicy != corev1.PullAlways {
		t.Fatalf("imagePullPolicy defaulted to %q, want Always", nc.Spec.ImagePullPolicy)
	}

	sts := waitComponent(t, c, nc, "metad")
	pod := sts.Spec.Template.Spec
	main, agent := container(t, sts, "metad"), container(t, sts, "ng-agent")
	if main == nil || agent == nil {
		t.Fatalf("containers %v", pod.Containers)
	}
	check := func(ok bool, what string, got any) {
		t.Helper()
		if !ok {
			t.Errorf("%s: got %+v", what, got)
		}
	}
	check(pod.SchedulerName == "nebula-scheduler", "schedulerName", pod.SchedulerName)
	check(len(pod.Tolerations) == 2 && pod.Tolerations[0].Key == "cluster" && pod.Tolerations[1].Key == "metad", "tolerations (cluster's and metad's)", pod.Tolerations)
	check(pod.NodeSelector["disk"] == "ssd", "nodeSelector", pod.NodeSelector)
	check(len(pod.ImagePullSecrets) == 1 && pod.ImagePullSecrets[0].Name == "regcred", "imagePullSecrets", pod.ImagePullSecrets)
	check(len(pod.TopologySpreadConstraints) == 1 && pod.TopologySpreadConstraints[0].MaxSkew == 1 &&
		pod.TopologySpreadConstraints[0].TopologyKey == "kubernetes.io/hostname" &&
		pod.TopologySpreadConstraints[0].WhenUnsatisfiable == corev1.ScheduleAnyway &&
		pod.TopologySpreadConstraints[0].LabelSelector != nil &&
		pod.TopologySpreadConstraints[0].LabelSelector.MatchLabels[v1alpha1.LabelComponent] == "metad" &&
		pod.TopologySpreadConstraints[0].LabelSelector.MatchLabels[v1alpha1.LabelCluster] == "shaped", "topologySpreadConstraints", pod.TopologySpreadConstraints)
	check(len(pod.InitContainers) >= 1 && pod.InitContainers[0].Name == "init-certs" && hasMount(pod.InitContainers[0].VolumeMounts, "extra", "/extra"),
		"initContainers (the spec's first)", pod.InitContainers)
	check(container(t, sts, "side") != nil, "sidecar container side", pod.Containers)
	check(findVolume(pod.Volumes, "extra") != nil && findVolume(pod.Volumes, "extra").EmptyDir != nil, "volume extra", pod.Volumes)
	check(hasMount(main.VolumeMounts, "extra", "/usr/local/nebula/extra"), "metad's volumeMounts", main.VolumeMounts)
	check(hasMount(agent.VolumeMounts, "extra", "/agent-extra"), "agent's volumeMounts", agent.VolumeMounts)
	check(main.ReadinessProbe != nil && main.ReadinessProbe.TCPSocket != nil && main.ReadinessProbe.PeriodSeconds == 7, "readinessProbe", main.ReadinessProbe)
	check(main.LivenessProbe != nil && main.LivenessProbe.InitialDelaySeconds == 30, "livenessProbe", main.LivenessProbe)
	check(main.SecurityContext != nil && ptr.Deref(main.SecurityContext.RunAsUser, 0) == 1000, "securityContext", main.SecurityContext)
	check(pod.DNSPolicy == corev1.DNSNone && pod.DNSConfig != nil && slices.Equal(pod.DNSConfig.Nameservers, []string{"10.0.0.10"}), "dnsPolicy/dnsConfig",
		fmt.Sprint(pod.DNSPolicy, pod.DNSConfig))
	check(main.ImagePullPolicy == corev1.PullAlways && agent.ImagePullPolicy == corev1.PullAlways, "imagePullPolicy (default Always)",
		[]corev1.PullPolicy{main.ImagePullPolicy, agent.ImagePullPolicy})
	check(main.Image == "vesoft/nebula-metad:v3.8.0", "image", main.Image)
	var logClaim *corev1.PersistentVolumeClaim
	for i := range sts.Spec.VolumeClaimTemplates {
		if strings.Contains(sts.Spec.VolumeClaimTemplates[i].Name, "log") {
			logClaim = &sts.Spec.VolumeClaimTemplates[i]
		}
	}
	check(logClaim != nil && ptr.Deref(logClaim.Spec.StorageClassName, "") == "fast", "log volume claim with its storage class", sts.Spec.VolumeClaimTemplates)

	// A change reaches the existing StatefulSet.
	eventually(t, "a changed liveness probe applied", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
			return false, err
		}
		if cur.Spec.Metad.LivenessProbe.InitialDelaySeconds != 45 {
			cur.Spec.Metad.LivenessProbe.InitialDelaySeconds = 45
			if err := c.Update(ctx, cur); err != nil {
				return false, err
			}
		}
		s, err := getSTS(ctx, c, ns, "shaped-metad")
		if err != nil {
			return false, err
		}
		mc := container(t, s, "metad")
		return mc != nil && mc.LivenessProbe != nil && mc.LivenessProbe.InitialDelaySeconds == 45, nil
	})

	// Workload status as upstream's, and graphd's client Service.
	readyAll(t, c, ns, "shaped-metad")
	eventually(t, "metad workload status", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
			return false, err
		}
		w := cur.Status.Metad.Workload
		return w != nil && w.AvailableReplicas == 1 && w.CurrentReplicas == 1 && w.ReadyReplicas == 1 &&
				w.CurrentRevision == "shaped-metad-1" && cur.Status.Metad.Version == "v3.8.0",
			fmt.Errorf("metad status %+v workload %+v", cur.Status.Metad, w)
	})
	readyUntilNext(t, c, ns, "shaped-metad", "shaped-storaged")
	readyUntilNext(t, c, ns, "shaped-storaged", "shaped-graphd")
	waitComponent(t, c, nc, "graphd")
	svc := &corev1.Service{}
	eventually(t, "graphd client Service", func() (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shaped-graphd-svc"}, svc)
		return err == nil, client.IgnoreNotFound(err)
	})
	if svc.Spec.Selector["team"] != "graph" || svc.Spec.Selector[v1alpha1.LabelComponent] != "graphd" || svc.Spec.Selector[v1alpha1.LabelCluster] != "shaped" {
		t.Errorf("graphd client Service selector %v, want the operator's labels and team=graph", svc.Spec.Selector)
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("graphd client Service type %q externalTrafficPolicy %q, want NodePort and Local", svc.Spec.Type, svc.Spec.ExternalTrafficPolicy)
	}
	readyAll(t, c, ns, "shaped-graphd")
	eventually(t, "cluster version", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur)
		return err == nil && cur.Status.Phase == v1alpha1.ClusterRunning && cur.Status.Version == "v3.8.0", err
	})
}

// TestFieldsNotActedOn sets fields the operator keeps but does not act on:
// the condition FeaturesNotActedOn names them and one Warning event does,
// not one per reconcile; a change of the list brings one more event; with
// none left the condition turns False, with no event.
func TestFieldsNotActedOn(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	c := env.Client
	rec := &recorder{}
	startWithRecorder(t, env, ns, rec)

	nc := cluster(ns, "kept", false)
	nc.Spec.Exporter = &v1alpha1.ExporterSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "vesoft/nebula-stats-exporter", Version: "v3.3.0"}, MaxRequests: 20}
	nc.Spec.LogRotate = &v1alpha1.LogRotate{Rotate: 5, Size: "100M"}
	nc.Spec.Storaged.EnableAutoBalance = ptr.To(true)
	nc.Spec.Storaged.EnableForceUpdate = ptr.To(false) // false: what the operator does anyway
	nc.Spec.Reference = &v1alpha1.WorkloadReference{Name: "statefulsets.apps", Version: "v1"}
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	first := "spec.exporter, spec.logRotate, spec.storaged.enableAutoBalance"
	waitCondition := func(status metav1.ConditionStatus, msgPart string) *v1alpha1.NebulaCluster {
		t.Helper()
		cur := &v1alpha1.NebulaCluster{}
		eventually(t, fmt.Sprintf("FeaturesNotActedOn %s %q", status, msgPart), func() (bool, error) {
			if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
				return false, err
			}
			cond := cur.Status.Condition(v1alpha1.ClusterFeaturesNotActedOn)
			return cond != nil && cond.Status == status && strings.HasSuffix(cond.Message, msgPart) &&
				cur.Status.ObservedGeneration == cur.Generation, nil
		})
		return cur
	}
	cur := waitCondition(metav1.ConditionTrue, first)
	cond := cur.Status.Condition(v1alpha1.ClusterFeaturesNotActedOn)
	if cond.Reason != v1alpha1.ClusterReasonFieldsNotActedOn || cond.LastUpdateTime.IsZero() {
		t.Errorf("condition %+v", cond)
	}
	// The event follows the status write.
	eventually(t, "the Warning event", func() (bool, error) {
		n, _ := rec.count(nebulacluster.EventFieldsNotActedOn)
		return n > 0, nil
	})
	if n, all := rec.count(nebulacluster.EventFieldsNotActedOn); n != 1 || !strings.HasPrefix(all[0], "Warning ") || !strings.HasSuffix(all[0], first) {
		t.Fatalf("%d events %q, want one Warning naming %s", n, all, first)
	}

	// More reconciles (a spec change that is acted on, StatefulSet status
	// changes): no new event.
	eventually(t, "metad config changed", func() (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
			return false, err
		}
		cur.Spec.Metad.Config = map[string]string{"v": "2"}
		return c.Update(ctx, cur) == nil, nil
	})
	sts := waitComponent(t, c, nc, "metad")
	readyUntilNext(t, c, ns, sts.Name, "kept-storaged")
	cur = waitCondition(metav1.ConditionTrue, first)
	if n, all := rec.count(nebulacluster.EventFieldsNotActedOn); n != 1 {
		t.Fatalf("after more reconciles: %d events %q, want still 1", n, all)
	}

	// One more field: a new event naming the new list.
	cur.Spec.Console = &v1alpha1.ConsoleSpec{Username: "root", Image: "vesoft/nebula-console"}
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	second := "spec.console, spec.exporter, spec.logRotate, spec.storaged.enableAutoBalance"
	cur = waitCondition(metav1.ConditionTrue, second)
	eventually(t, "a second Warning event", func() (bool, error) {
		n, _ := rec.count(nebulacluster.EventFieldsNotActedOn)
		return n > 1, nil
	})
	if n, all := rec.count(nebulacluster.EventFieldsNotActedOn); n != 2 || !strings.HasSuffix(all[1], second) {
		t.Fatalf("after adding console: %d events %q", n, all)
	}

	// None left: False, no event; the object kept every field it had.
	cur.Spec.Console, cur.Spec.Exporter, cur.Spec.LogRotate, cur.Spec.Storaged.EnableAutoBalance = nil, nil, nil, ptr.To(false)
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	cur = waitCondition(metav1.ConditionFalse, "every field set is acted on")
	if n, all := rec.count(nebulacluster.EventFieldsNotActedOn); n != 2 {
		t.Fatalf("after clearing: %d events %q", n, all)
	}
	if cur.Spec.Reference == nil || cur.Spec.Storaged.EnableForceUpdate == nil {
		t.Errorf("fields not kept: reference %v enableForceUpdate %v", cur.Spec.Reference, cur.Spec.Storaged.EnableForceUpdate)
	}
}

// TestSuspend suspends a running cluster: the StatefulSets go (claims,
// ConfigMaps and Services stay), the phase is Suspend; resumed, they come
// back.
func TestSuspend(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	c := env.Client
	startWithRecorder(t, env, ns, &recorder{})

	nc := cluster(ns, "nap", false)
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	waitComponent(t, c, nc, "metad")
	readyUntilNext(t, c, ns, "nap-metad", "nap-storaged")

	setSuspend := func(v bool) {
		t.Helper()
		eventually(t, fmt.Sprintf("suspend=%v", v), func() (bool, error) {
			cur := &v1alpha1.NebulaCluster{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
				return false, err
			}
			cur.Spec.Suspend = ptr.To(v)
			return c.Update(ctx, cur) == nil, nil
		})
	}
	setSuspend(true)
	eventually(t, "suspended", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
			return false, err
		}
		for _, role := range []string{"metad", "storaged", "graphd"} {
			if _, err := getSTS(ctx, c, ns, "nap-"+role); !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		s := cur.Status
		return s.Phase == v1alpha1.ClusterSuspend && s.Metad.Phase == v1alpha1.ClusterSuspend && s.Metad.Workload == nil &&
			s.Storaged.Phase == v1alpha1.ClusterSuspend && !s.IsConditionTrue(v1alpha1.ClusterReady) &&
			s.Condition(v1alpha1.ClusterReady).Reason == v1alpha1.ClusterReasonSuspended, nil
	})
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nap-metad"}, cm); err != nil {
		t.Errorf("metad ConfigMap gone with the suspension: %v", err)
	}
	// The suspension is recorded with every StatefulSet gone: nothing came
	// back meanwhile.
	if _, err := getSTS(ctx, c, ns, "nap-metad"); !apierrors.IsNotFound(err) {
		t.Fatalf("metad StatefulSet while suspended: %v", err)
	}

	setSuspend(false)
	waitComponent(t, c, nc, "metad")
}

// TestPVReclaim deletes a cluster with enablePVReclaim: its claims are
// deleted with it (another cluster's stay); without it no finalizer holds
// the cluster.
func TestPVReclaim(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	c := env.Client
	startWithRecorder(t, env, ns, &recorder{})

	claim := func(name, clusterName, role string) *corev1.PersistentVolumeClaim {
		p := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
				Labels: map[string]string{v1alpha1.LabelCluster: clusterName, v1alpha1.LabelComponent: role}},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		}
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := func(p *corev1.PersistentVolumeClaim) (bool, error) {
		cur := &corev1.PersistentVolumeClaim{}
		err := c.Get(ctx, client.ObjectKeyFromObject(p), cur)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		// Held by kubernetes.io/pvc-protection until no pod uses it.
		return err == nil && !cur.DeletionTimestamp.IsZero(), err
	}

	nc := cluster(ns, "reclaim", false)
	nc.Spec.EnablePVReclaim = true
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "finalizer", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur)
		return err == nil && slices.Contains(cur.Finalizers, nebulacluster.PVReclaimFinalizer), err
	})
	mine := []*corev1.PersistentVolumeClaim{claim("metad-data-reclaim-metad-0", "reclaim", "metad"), claim("storaged-data-reclaim-storaged-0", "reclaim", "storaged")}
	other := claim("metad-data-keep-metad-0", "keep", "metad")

	keep := cluster(ns, "keep", false)
	if err := c.Create(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, nc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cluster deleted", func() (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(nc), &v1alpha1.NebulaCluster{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	for _, p := range mine {
		if ok, err := gone(p); !ok {
			t.Errorf("claim %s not deleted with the cluster (%v)", p.Name, err)
		}
	}
	if ok, _ := gone(other); ok {
		t.Errorf("claim %s of another cluster deleted", other.Name)
	}

	// Without enablePVReclaim: no finalizer, claims stay.
	waitComponent(t, c, keep, "metad")
	cur := &v1alpha1.NebulaCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(keep), cur); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cur.Finalizers, nebulacluster.PVReclaimFinalizer) {
		t.Errorf("finalizer without enablePVReclaim: %v", cur.Finalizers)
	}
	if err := c.Delete(ctx, cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cluster keep deleted", func() (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(keep), &v1alpha1.NebulaCluster{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if ok, _ := gone(other); ok {
		t.Errorf("claim %s deleted without enablePVReclaim", other.Name)
	}
}
