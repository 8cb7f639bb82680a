package nebulacluster_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacluster"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }

// startManager runs the NebulaCluster controller, watching only ns.
func startManager(t *testing.T, env *envtest.Env, ns string) {
	t.Helper()
	envtest.StartManager(t, env, []string{ns}, func(mgr ctrl.Manager) error {
		return (&nebulacluster.Reconciler{Images: nebulacluster.Images{Agent: "default/agent:v1"}}).SetupWithManager(mgr)
	})
}

func cluster(ns, name string, enableBR bool) *v1alpha1.NebulaCluster {
	comp := func(img string) v1alpha1.ComponentSpec {
		return v1alpha1.ComponentSpec{Replicas: ptr.To(int32(1)), Image: img, Version: "v3.8.0"}
	}
	nc := &v1alpha1.NebulaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.NebulaClusterSpec{
			Metad:    &v1alpha1.MetadSpec{ComponentSpec: comp("vesoft/nebula-metad"), Config: map[string]string{"v": "1"}},
			Storaged: &v1alpha1.StoragedSpec{ComponentSpec: comp("vesoft/nebula-storaged")},
			Graphd:   &v1alpha1.GraphdSpec{ComponentSpec: comp("vesoft/nebula-graphd")},
			EnableBR: enableBR,
		},
	}
	if enableBR {
		nc.Spec.Agent = &v1alpha1.AgentSpec{Image: "nebula-br/br-agent", Version: "v0.1", RateLimit: 100, HeartbeatInterval: 30}
	}
	return nc
}

func eventually(t *testing.T, what string, f func() (bool, error)) {
	t.Helper()
	envtest.Eventually(t, 30*time.Second, what, f)
}

func getSTS(ctx context.Context, c client.Client, ns, name string) (*appsv1.StatefulSet, error) {
	sts := &appsv1.StatefulSet{}
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, sts)
	return sts, err
}

// waitComponent waits for the component's ConfigMap, headless Service and
// StatefulSet and returns the StatefulSet.
func waitComponent(t *testing.T, c client.Client, nc *v1alpha1.NebulaCluster, role string) *appsv1.StatefulSet {
	t.Helper()
	ctx := context.Background()
	var sts *appsv1.StatefulSet
	eventually(t, role+" StatefulSet", func() (bool, error) {
		var err error
		sts, err = getSTS(ctx, c, nc.Namespace, nc.Name+"-"+role)
		return err == nil, err
	})
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: nc.Namespace, Name: nc.Name + "-" + role}, cm); err != nil {
		t.Fatalf("%s ConfigMap: %v", role, err)
	}
	if _, ok := cm.Data["nebula-"+role+".conf"]; !ok {
		t.Fatalf("%s ConfigMap has no flag file: %v", role, cm.Data)
	}
	svc := &corev1.Service{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: nc.Namespace, Name: nc.Name + "-" + role + "-headless"}, svc); err != nil {
		t.Fatalf("%s headless Service: %v", role, err)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("%s headless Service has clusterIP %q", role, svc.Spec.ClusterIP)
	}
	for _, o := range []metav1.Object{cm, svc, sts} {
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Name != nc.Name || refs[0].Kind != "NebulaCluster" || !ptr.Deref(refs[0].Controller, false) {
			t.Errorf("%s %s: owner references %+v", role, o.GetName(), refs)
		}
	}
	return sts
}

// markReady plays the StatefulSet controller: all replicas ready.
func markReady(t *testing.T, c client.Client, sts *appsv1.StatefulSet) {
	t.Helper()
	ctx := context.Background()
	eventually(t, "status update of "+sts.Name, func() (bool, error) {
		cur, err := getSTS(ctx, c, sts.Namespace, sts.Name)
		if err != nil {
			return false, err
		}
		n := ptr.Deref(cur.Spec.Replicas, 1)
		cur.Status.ObservedGeneration = cur.Generation
		cur.Status.Replicas, cur.Status.ReadyReplicas, cur.Status.AvailableReplicas = n, n, n
		cur.Status.CurrentReplicas, cur.Status.UpdatedReplicas = n, n
		err = c.Status().Update(ctx, cur)
		return err == nil, err
	})
}

func absent(t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	// Give the controller time to (wrongly) create it.
	time.Sleep(500 * time.Millisecond)
	if _, err := getSTS(context.Background(), c, ns, name); !apierrors.IsNotFound(err) {
		t.Fatalf("StatefulSet %s exists before its predecessor is ready (err %v)", name, err)
	}
}

func container(t *testing.T, sts *appsv1.StatefulSet, name string) *corev1.Container {
	t.Helper()
	for i := range sts.Spec.Template.Spec.Containers {
		if sts.Spec.Template.Spec.Containers[i].Name == name {
			return &sts.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

func TestClusterCreatedInOrderWithAgents(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	startManager(t, env, ns)
	ctx := context.Background()
	c := env.Client
	nc := cluster(ns, "nc", true)
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}

	metad := waitComponent(t, c, nc, "metad")
	absent(t, c, ns, "nc-storaged")
	metaAddr := "nc-metad-0.nc-metad-headless." + ns + ".svc.cluster.local:9559"

	main := container(t, metad, "metad")
	if main == nil {
		t.Fatal("no metad container")
	}
	if main.Image != "vesoft/nebula-metad:v3.8.0" {
		t.Errorf("metad image %q", main.Image)
	}
	wantCmd := []string{"/usr/local/nebula/bin/nebula-metad", "--flagfile=/usr/local/nebula/etc/nebula-metad.conf",
		"--meta_server_addrs=" + metaAddr, "--local_ip=$(POD_FQDN)", "--daemonize=false"}
	if got := append(slices.Clone(main.Command), main.Args...); !slices.Equal(got, wantCmd) {
		t.Errorf("metad command %q, want %q", got, wantCmd)
	}
	if metad.Spec.ServiceName != "nc-metad-headless" {
		t.Errorf("serviceName %q", metad.Spec.ServiceName)
	}
	checkAgent := func(sts *appsv1.StatefulSet) {
		t.Helper()
		a := container(t, sts, "ng-agent")
		if a == nil {
			t.Fatalf("%s has no ng-agent sidecar", sts.Name)
		}
		if a.Image != "nebula-br/br-agent:v0.1" {
			t.Errorf("%s agent image %q", sts.Name, a.Image)
		}
		want := []string{"--agent", "$(POD_FQDN):8888", "--meta", metaAddr, "--hbs", "30", "--ratelimit", "100"}
		if !slices.Equal(a.Args, want) {
			t.Errorf("%s agent args %q, want %q", sts.Name, a.Args, want)
		}
		if len(a.Ports) != 1 || a.Ports[0].ContainerPort != 8888 || a.Ports[0].Name != "grpc" {
			t.Errorf("%s agent ports %+v", sts.Name, a.Ports)
		}
		var fqdn string
		for _, e := range a.Env {
			if e.Name == "POD_FQDN" {
				fqdn = e.Value
			}
		}
		role := strings.TrimPrefix(sts.Name, "nc-")
		if want := "$(POD_NAME).nc-" + role + "-headless." + ns + ".svc.cluster.local"; fqdn != want {
			t.Errorf("%s POD_FQDN %q, want %q", sts.Name, fqdn, want)
		}
	}
	checkAgent(metad)
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "nc-metad"}, cm); err != nil {
		t.Fatal(err)
	}
	flags := cm.Data["nebula-metad.conf"]
	for _, want := range []string{"--data_path=/usr/local/nebula/data/meta\n", "--port=9559\n", "--ws_http_port=19559\n", "--v=1\n"} {
		if !strings.Contains(flags, want) {
			t.Errorf("metad flag file lacks %q:\n%s", want, flags)
		}
	}

	markReady(t, c, metad)
	storaged := waitComponent(t, c, nc, "storaged")
	checkAgent(storaged)
	absent(t, c, ns, "nc-graphd")

	markReady(t, c, storaged)
	graphd := waitComponent(t, c, nc, "graphd")
	gsvc := &corev1.Service{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: naming.GraphdServiceName(nc.Name)}, gsvc); err != nil {
		t.Fatalf("graphd client Service: %v", err)
	}
	if gsvc.Spec.Type != corev1.ServiceTypeClusterIP || gsvc.Spec.ClusterIP == corev1.ClusterIPNone || len(gsvc.Spec.Ports) != 2 ||
		gsvc.Spec.Ports[0].Port != 9669 || gsvc.Spec.Ports[1].Name != "http" || gsvc.Spec.Ports[1].Port != 19669 {
		t.Errorf("graphd client Service: %+v", gsvc.Spec)
	}
	// Every pod runs an agent: metad's listCluster wants one on every
	// host that runs a service, graphd's included.
	if container(t, graphd, "ng-agent") == nil {
		t.Error("graphd has no ng-agent sidecar")
	}
	if len(graphd.Spec.Template.Spec.Containers) != 2 || len(graphd.Spec.Template.Spec.InitContainers) != 0 {
		t.Errorf("graphd containers: %d, init containers %d", len(graphd.Spec.Template.Spec.Containers), len(graphd.Spec.Template.Spec.InitContainers))
	}

	// Until graphd is ready, the cluster is Creating.
	eventually(t, "Creating phase", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur)
		return err == nil && cur.Status.Phase == v1alpha1.ClusterCreating && cur.Status.Metad.Workload != nil && cur.Status.Metad.Workload.ReadyReplicas == 1, err
	})
	markReady(t, c, graphd)
	eventually(t, "Running phase and Ready condition", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
			return false, err
		}
		s := cur.Status
		return s.Phase == v1alpha1.ClusterRunning &&
			s.IsConditionTrue(v1alpha1.ClusterReady) && s.IsConditionTrue(v1alpha1.ClusterGraphdReady) &&
			s.Graphd.Workload != nil && s.Graphd.Workload.ReadyReplicas == 1 &&
			s.Storaged.Workload != nil && s.Storaged.Workload.ReadyReplicas == 1 &&
			s.Metad.Phase == v1alpha1.ClusterRunning, nil
	})
	// Once converged, reconciling again writes nothing (no hot loop).
	before, err := getSTS(ctx, c, ns, "nc-metad")
	if err != nil {
		t.Fatal(err)
	}
	ncBefore := &v1alpha1.NebulaCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(nc), ncBefore); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	after, _ := getSTS(ctx, c, ns, "nc-metad")
	ncAfter := &v1alpha1.NebulaCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(nc), ncAfter); err != nil {
		t.Fatal(err)
	}
	if before.ResourceVersion != after.ResourceVersion || ncBefore.ResourceVersion != ncAfter.ResourceVersion {
		t.Errorf("objects keep changing after convergence: sts %s -> %s, cluster %s -> %s",
			before.ResourceVersion, after.ResourceVersion, ncBefore.ResourceVersion, ncAfter.ResourceVersion)
	}
}

func TestClusterWithoutBRHasNoAgent(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	startManager(t, env, ns)
	c := env.Client
	nc := cluster(ns, "plain", false)
	if err := c.Create(context.Background(), nc); err != nil {
		t.Fatal(err)
	}
	metad := waitComponent(t, c, nc, "metad")
	if n := len(metad.Spec.Template.Spec.Containers); n != 1 || container(t, metad, "ng-agent") != nil {
		t.Fatalf("metad without enableBR has %d containers", n)
	}
	markReady(t, c, metad)
	storaged := waitComponent(t, c, nc, "storaged")
	if container(t, storaged, "ng-agent") != nil {
		t.Fatal("storaged without enableBR has an ng-agent")
	}
	svc := &corev1.Service{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "plain-storaged-headless"}, svc); err != nil {
		t.Fatal(err)
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == 8888 {
			t.Error("headless Service exposes the agent port without enableBR")
		}
	}
}

// The agent image falls back to the operator's default when spec.agent
// names none.
func TestAgentDefaultImage(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	startManager(t, env, ns)
	nc := cluster(ns, "dflt", true)
	nc.Spec.Agent = nil
	if err := env.Client.Create(context.Background(), nc); err != nil {
		t.Fatal(err)
	}
	metad := waitComponent(t, env.Client, nc, "metad")
	a := container(t, metad, "ng-agent")
	if a == nil || a.Image != "default/agent:v1" || !slices.Contains(a.Args, "60") {
		t.Fatalf("agent %+v", a)
	}
}

// The sample manifest (enableBR, volume claims, 3 storaged) runs through
// the controller: claims become volumeClaimTemplates mounted by both the
// service and the agent, and every data path is in the flag file.
func TestSampleCluster(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	startManager(t, env, ns)
	ctx := context.Background()
	objs, err := envtest.ReadManifests(filepath.Join(env.Root, "config", "samples", "apps_v1alpha1_nebulacluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, ns, objs...); err != nil {
		t.Fatal(err)
	}
	nc := &v1alpha1.NebulaCluster{}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: objs[0].GetName()}, nc); err != nil {
		t.Fatal(err)
	}
	metad := waitComponent(t, env.Client, nc, "metad")
	var claims []string
	for _, c := range metad.Spec.VolumeClaimTemplates {
		claims = append(claims, c.Name)
	}
	if !slices.Equal(claims, []string{"metad-data", "metad-log"}) {
		t.Errorf("metad claims %v", claims)
	}
	for _, v := range metad.Spec.Template.Spec.Volumes {
		if v.Name == "metad-data" || v.Name == "metad-log" {
			t.Errorf("metad has volume %s besides its claim", v.Name)
		}
	}
	markReady(t, env.Client, metad)
	storaged := waitComponent(t, env.Client, nc, "storaged")
	if n := ptr.Deref(storaged.Spec.Replicas, 0); n != 3 {
		t.Errorf("storaged replicas %d", n)
	}
	agent := container(t, storaged, "ng-agent")
	main := container(t, storaged, "storaged")
	if agent == nil || main == nil {
		t.Fatal("storaged containers missing")
	}
	// The agent sees the data volumes where storaged does.
	if !equality.Semantic.DeepEqual(agent.VolumeMounts, main.VolumeMounts[:len(agent.VolumeMounts)]) || len(agent.VolumeMounts) != 1 {
		t.Errorf("agent mounts %v, storaged's %v", agent.VolumeMounts, main.VolumeMounts)
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: nc.Name + "-storaged"}, cm); err != nil {
		t.Fatal(err)
	}
	flags := cm.Data["nebula-storaged.conf"]
	var dataPath string
	for _, l := range strings.Split(flags, "\n") {
		if strings.HasPrefix(l, "--data_path=") {
			dataPath = strings.TrimPrefix(l, "--data_path=")
		}
	}
	paths := strings.Split(dataPath, ",")
	if len(paths) != len(nc.Spec.Storaged.DataVolumeClaims) || len(storaged.Spec.VolumeClaimTemplates) != len(paths)+1 {
		t.Errorf("data_path %q for %d claims, templates %d", dataPath, len(nc.Spec.Storaged.DataVolumeClaims), len(storaged.Spec.VolumeClaimTemplates))
	}
	for _, p := range paths {
		found := false
		for _, m := range main.VolumeMounts {
			found = found || strings.HasPrefix(p, m.MountPath+"/") && strings.HasPrefix(m.Name, "storaged-data")
		}
		if !found {
			t.Errorf("data path %s is not mounted", p)
		}
	}
	if !strings.Contains(flags, "--wal_ttl=86400\n") {
		t.Errorf("storaged flags lack the sample's wal_ttl:\n%s", flags)
	}
}

// TestRestoreStageHoldsComponents checks the restore handshake: the
// restore-stage annotation holds storaged (stage metad) or graphd (stage
// storaged) back and gives metad and storaged a restore-agent init
// container; removing it starts graphd and drops the init containers.
func TestRestoreStageHoldsComponents(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	c := env.Client
	ctx := context.Background()
	startManager(t, env, ns)

	nc := cluster(ns, "rs", true)
	nc.Annotations = map[string]string{v1alpha1.AnnotationRestoreStage: v1alpha1.RestoreStageMetad}
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	initAgent := func(sts *appsv1.StatefulSet) *corev1.Container {
		for i := range sts.Spec.Template.Spec.InitContainers {
			if ct := &sts.Spec.Template.Spec.InitContainers[i]; ct.Name == naming.RestoreAgentContainerName {
				return ct
			}
		}
		return nil
	}
	metad := waitComponent(t, c, nc, "metad")
	ia := initAgent(metad)
	if ia == nil {
		t.Fatal("metad has no restore-agent init container")
	}
	if got := strings.Join(ia.Args, " "); !strings.Contains(got, "--restore-init") || !strings.Contains(got, "--data-path /usr/local/nebula/data/meta ") {
		t.Errorf("restore-agent args: %s", got)
	}
	markReady(t, c, metad)
	// Held: storaged does not appear while the stage is metad.
	time.Sleep(time.Second)
	absent(t, c, ns, "rs-storaged")
	eventually(t, "StoragedReady=False RestoreInProgress", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur)
		cond := cur.Status.Condition(v1alpha1.ClusterStoragedReady)
		return err == nil && cond != nil && cond.Reason == v1alpha1.ClusterReasonRestoreInProgress, err
	})

	setStage := func(stage string) {
		eventually(t, "annotation "+stage, func() (bool, error) {
			cur := &v1alpha1.NebulaCluster{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
				return false, err
			}
			if stage == "" {
				delete(cur.Annotations, v1alpha1.AnnotationRestoreStage)
			} else {
				cur.Annotations[v1alpha1.AnnotationRestoreStage] = stage
			}
			err := c.Update(ctx, cur)
			return err == nil, err
		})
	}
	setStage(v1alpha1.RestoreStageStoraged)
	storaged := waitComponent(t, c, nc, "storaged")
	if initAgent(storaged) == nil {
		t.Fatal("storaged has no restore-agent init container")
	}
	markReady(t, c, storaged)
	time.Sleep(time.Second)
	absent(t, c, ns, "rs-graphd")

	setStage("")
	// The pods roll to a template without the init container; graphd
	// waits for that, then starts.
	for _, name := range []string{"rs-metad", "rs-storaged"} {
		var sts *appsv1.StatefulSet
		eventually(t, name+" without init containers", func() (bool, error) {
			var err error
			sts, err = getSTS(ctx, c, ns, name)
			return err == nil && len(sts.Spec.Template.Spec.InitContainers) == 0, err
		})
		markReady(t, c, sts)
	}
	graphd := waitComponent(t, c, nc, "graphd")
	if initAgent(graphd) != nil {
		t.Error("graphd has a restore-agent init container")
	}
}
