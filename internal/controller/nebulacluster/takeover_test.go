package nebulacluster_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacluster"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

// The objects upstream's nebula-operator (1.8.x) creates for a
// NebulaCluster, written here from its naming rules, independently of this
// operator's code: names, labels and selectors, volume claim templates and
// their PVCs, pod templates (its command line, its dynamic-flags init
// container and post-start hook, its agent), headless Services, graphd's
// Service and the flag files in its layout.

// upstreamLabels are upstream's component labels (its selector too, with
// no pod labels in the spec).
func upstreamLabels(cluster, role string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       "nebula-graph",
		"app.kubernetes.io/cluster":    cluster,
		"app.kubernetes.io/component":  role,
		"app.kubernetes.io/managed-by": "nebula-operator",
	}
}

// upstreamTemplates: abbreviated flag files in upstream's layout (its
// template's sections and lines, a leading blank line).
var upstreamTemplates = map[string]string{
	"metad": `
########## basics ##########
# Whether to run as a daemon process
--daemonize=true
# The file to host the process id
--pid_file=pids/nebula-metad.pid

########## logging ##########
# The directory to host logging files
--log_dir=logs
# Log level, 0, 1, 2, 3 for INFO, WARNING, ERROR, FATAL respectively
--minloglevel=0
--v=0

########## networking ##########
# Comma separated Meta Server addresses
--meta_server_addrs=127.0.0.1:9559
--local_ip=127.0.0.1
--port=9559
--ws_ip=0.0.0.0
--ws_http_port=19559
--ws_storage_http_port=19779

########## storage ##########
# Root data path, here should be only single path for metad
--data_path=data/meta

########## Misc #########
# The default number of parts when a space is created
--default_parts_num=10
--default_replica_factor=1
--heartbeat_interval_secs=10
`,
	"storaged": `
########## basics ##########
--daemonize=true
--pid_file=pids/nebula-storaged.pid
--local_config=true

########## logging ##########
--log_dir=logs
--minloglevel=0
--v=0

########## networking ##########
--meta_server_addrs=127.0.0.1:9559
--local_ip=127.0.0.1
--port=9779
--ws_ip=0.0.0.0
--ws_http_port=19779
--heartbeat_interval_secs=10

######### Raft #########
--raft_heartbeat_interval_secs=30
# recycle Raft WAL
--wal_ttl=14400

########## Disk ##########
--data_path=data/storage
--rocksdb_block_cache=4096
--rocksdb_compression_per_level=
--rocksdb_column_family_options={"write_buffer_size":"67108864","max_write_buffer_number":"4"}
`,
	"graphd": `
########## basics ##########
--daemonize=true
--pid_file=pids/nebula-graphd.pid
--enable_optimizer=true

########## logging ##########
--log_dir=logs
--v=0

########## networking ##########
--meta_server_addrs=127.0.0.1:9559
--local_ip=127.0.0.1
--port=9669
--ws_ip=0.0.0.0
--ws_http_port=19669
--ws_meta_http_port=19559

########## authentication ##########
--enable_authorize=false
--auth_type=password
--audit_log_es_address=
`,
}

// upstreamDynamicFlags are (some of) the flags upstream leaves out of the
// flag file and sets over HTTP.
var upstreamDynamicFlags = map[string]bool{"v": true, "minloglevel": true, "wal_ttl": true, "heartbeat_interval_secs": true}

var upstreamFlagLine = regexp.MustCompile(`^--(\w+)=(.+)$`)

// upstreamFlagFile is the flag file upstream writes: its template, the
// static flags of the config set on the lines that match, the others
// appended under a Custom section.
func upstreamFlagFile(role string, config map[string]string) string {
	custom := map[string]string{}
	for k, v := range config {
		if !upstreamDynamicFlags[k] {
			custom[k] = v
		}
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(upstreamTemplates[role], "\n"), "\n") {
		if m := upstreamFlagLine.FindStringSubmatch(line); m != nil {
			if v, ok := custom[m[1]]; ok {
				line = "--" + m[1] + "=" + v
				delete(custom, m[1])
			}
		}
		b.WriteString(line + "\n")
	}
	if len(custom) > 0 {
		b.WriteString("\n########## Custom ##########\n")
		var keys []string
		for k := range custom {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString("--" + k + "=" + custom[k] + "\n")
		}
	}
	return b.String()
}

func quantity(s string) corev1.VolumeResourceRequirements {
	return corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(s)}}
}

// takeoverCluster is the NebulaCluster upstream's operator runs: volume
// claims everywhere, storaged on two data volumes, configs with static,
// dynamic and unknown flags, the agent sidecar.
func takeoverCluster(ns string) *v1alpha1.NebulaCluster {
	comp := func(n int32, img string) v1alpha1.ComponentSpec {
		return v1alpha1.ComponentSpec{Replicas: ptr.To(n), Image: img, Version: "v3.8.0",
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}
	}
	return &v1alpha1.NebulaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nebula"},
		Spec: v1alpha1.NebulaClusterSpec{
			Metad: &v1alpha1.MetadSpec{ComponentSpec: comp(1, "vesoft/nebula-metad"),
				Config:          map[string]string{"default_parts_num": "20"},
				DataVolumeClaim: &v1alpha1.StorageClaim{Resources: quantity("2Gi")}, LogVolumeClaim: &v1alpha1.StorageClaim{Resources: quantity("1Gi")}},
			Storaged: &v1alpha1.StoragedSpec{ComponentSpec: comp(3, "vesoft/nebula-storaged"),
				Config:           map[string]string{"wal_ttl": "86400", "rocksdb_block_cache": "1024"},
				DataVolumeClaims: []v1alpha1.StorageClaim{{Resources: quantity("10Gi")}, {Resources: quantity("5Gi")}},
				LogVolumeClaim:   &v1alpha1.StorageClaim{Resources: quantity("1Gi")}},
			Graphd: &v1alpha1.GraphdSpec{ComponentSpec: comp(1, "vesoft/nebula-graphd"),
				Config:         map[string]string{"enable_authorize": "true", "my_custom_flag": "x", "audit_log_es_address": "es:9200"},
				LogVolumeClaim: &v1alpha1.StorageClaim{Resources: quantity("1Gi")}},
			EnableBR:        true,
			Agent:           &v1alpha1.AgentSpec{Image: "vesoft/nebula-agent", Version: "latest", HeartbeatInterval: 10},
			ImagePullPolicy: corev1.PullIfNotPresent,
		},
	}
}

type upstreamComponent struct {
	role     string
	replicas int32
	image    string
	ports    []corev1.ContainerPort
	data     []string // claim names
	claims   []corev1.PersistentVolumeClaim
	config   map[string]string
}

func upstreamComponents(nc *v1alpha1.NebulaCluster) []upstreamComponent {
	storagedClaims := []corev1.PersistentVolumeClaim{}
	for i, name := range []string{"storaged-data", "storaged-data-1"} {
		storagedClaims = append(storagedClaims, upstreamClaim(name, nc.Spec.Storaged.DataVolumeClaims[i]))
	}
	return []upstreamComponent{
		{role: "metad", replicas: 1, image: "vesoft/nebula-metad:v3.8.0", config: nc.Spec.Metad.Config,
			ports: []corev1.ContainerPort{{Name: "thrift", ContainerPort: 9559}, {Name: "http", ContainerPort: 19559}},
			data:  []string{"metad-data"},
			claims: []corev1.PersistentVolumeClaim{upstreamClaim("metad-data", *nc.Spec.Metad.DataVolumeClaim),
				upstreamClaim("metad-log", *nc.Spec.Metad.LogVolumeClaim)}},
		{role: "storaged", replicas: 3, image: "vesoft/nebula-storaged:v3.8.0", config: nc.Spec.Storaged.Config,
			ports:  []corev1.ContainerPort{{Name: "thrift", ContainerPort: 9779}, {Name: "http", ContainerPort: 19779}, {Name: "admin", ContainerPort: 9778}},
			data:   []string{"storaged-data", "storaged-data-1"},
			claims: append(storagedClaims, upstreamClaim("storaged-log", *nc.Spec.Storaged.LogVolumeClaim))},
		{role: "graphd", replicas: 1, image: "vesoft/nebula-graphd:v3.8.0", config: nc.Spec.Graphd.Config,
			ports:  []corev1.ContainerPort{{Name: "thrift", ContainerPort: 9669}, {Name: "http", ContainerPort: 19669}},
			claims: []corev1.PersistentVolumeClaim{upstreamClaim("graphd-log", *nc.Spec.Graphd.LogVolumeClaim)}},
	}
}

func upstreamClaim(name string, sc v1alpha1.StorageClaim) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: sc.Resources, StorageClassName: sc.StorageClassName},
	}
}

func ownerRef(nc *v1alpha1.NebulaCluster) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "NebulaCluster", Name: nc.Name, UID: nc.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
}

func upstreamStatefulSet(nc *v1alpha1.NebulaCluster, u upstreamComponent, cmHash string) *appsv1.StatefulSet {
	ns, name := nc.Namespace, nc.Name+"-"+u.role
	svcFQDN := fmt.Sprintf("%s-headless.%s.svc.cluster.local", name, ns)
	metad := fmt.Sprintf("%s-metad-0.%s-metad-headless.%s.svc.cluster.local:9559", nc.Name, nc.Name, ns)
	lb := upstreamLabels(nc.Name, u.role)
	var mounts, agentMounts []corev1.VolumeMount
	var volumes []corev1.Volume
	for i, d := range u.data {
		sub := "data"
		if i > 0 {
			sub = fmt.Sprintf("data%d", i)
		}
		m := corev1.VolumeMount{Name: d, MountPath: "/usr/local/nebula/" + sub, SubPath: sub}
		mounts, agentMounts = append(mounts, m), append(agentMounts, m)
	}
	for _, c := range u.claims {
		volumes = append(volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
	}
	mounts = append(mounts,
		corev1.VolumeMount{Name: u.role + "-log", MountPath: "/usr/local/nebula/logs", SubPath: "logs"},
		corev1.VolumeMount{Name: name, MountPath: "/usr/local/nebula/etc/nebula-" + u.role + ".conf", SubPath: "nebula-" + u.role + ".conf"},
		corev1.VolumeMount{Name: "flags", MountPath: "/metadata"})
	volumes = append(volumes,
		corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name},
			Items:                []corev1.KeyToPath{{Key: "nebula-" + u.role + ".conf", Path: "nebula-" + u.role + ".conf"}}}}},
		corev1.Volume{Name: "flags", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}})
	dataPath := ""
	if len(u.data) > 1 {
		dataPath = " --data_path=data/storage,data1/storage"
	}
	main := corev1.Container{
		Name: u.role, Image: u.image, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"/bin/sh", "-ecx", fmt.Sprintf("exec /usr/local/nebula/bin/nebula-%s --flagfile=/usr/local/nebula/etc/nebula-%s.conf"+
			" --meta_server_addrs=%s --local_ip=$(hostname).%s --daemonize=false%s", u.role, u.role, metad, svcFQDN, dataPath)},
		Env: []corev1.EnvVar{
			{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "HTTP_PORT", Value: fmt.Sprint(u.ports[1].ContainerPort)},
			{Name: "SCRIPT", Value: "curl -i -X PUT -d @/metadata/flags.json -s http://${MY_IP}:${HTTP_PORT}/flags"},
		},
		Ports:        u.ports,
		VolumeMounts: mounts,
		Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/status",
			Port: intstr.FromInt(int(u.ports[1].ContainerPort)), Scheme: corev1.URISchemeHTTP}},
			InitialDelaySeconds: 10, TimeoutSeconds: 5, PeriodSeconds: 10},
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
			Command: []string{"/bin/sh", "-c", `echo "$SCRIPT" > /tmp/post-start-script && sh /tmp/post-start-script`}}}},
	}
	agent := corev1.Container{
		Name: "ng-agent", Image: "vesoft/nebula-agent:latest", ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"/bin/sh", "-ecx", fmt.Sprintf("sleep 30; exec /usr/local/bin/agent --agent=$(hostname).%s:8888 --debug --ratelimit=0 --hbs=10 --meta=%s", svcFQDN, metad)},
		Ports:   []corev1.ContainerPort{{Name: "grpc", ContainerPort: 8888}},
		// Graphd's agent mounts nothing.
		VolumeMounts: agentMounts,
	}
	dynamicFlags := corev1.Container{
		Name: "dynamic-flags", Image: "vesoft/nebula-alpine:latest", ImagePullPolicy: corev1.PullIfNotPresent,
		Command:      []string{"/bin/sh", "-c"},
		Args:         []string{`echo "$SCRIPT" > /tmp/dynamic-flags-script && sh /tmp/dynamic-flags-script`},
		Env:          []corev1.EnvVar{{Name: "PARENT_NAME", Value: name}},
		VolumeMounts: []corev1.VolumeMount{{Name: "flags", MountPath: "/metadata"}},
	}
	replicas := u.replicas
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lb, OwnerReferences: ownerRef(nc),
			Annotations: map[string]string{"nebula-graph.io/last-applied-dynamic-flags": "{}",
				"nebula-graph.io/last-applied-configuration": `{"replicas":` + fmt.Sprint(replicas) + `}`}},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lb},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lb, Annotations: map[string]string{"nebula-graph.io/cm-hash": cmHash}},
				Spec: corev1.PodSpec{
					InitContainers:     []corev1.Container{dynamicFlags},
					Containers:         []corev1.Container{main, agent},
					Volumes:            volumes,
					ServiceAccountName: "nebula-sa",
				},
			},
			ServiceName:          name + "-headless",
			PodManagementPolicy:  appsv1.ParallelPodManagement,
			UpdateStrategy:       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &replicas}},
			VolumeClaimTemplates: u.claims,
		},
	}
}

func upstreamService(nc *v1alpha1.NebulaCluster, u upstreamComponent, headless bool) *corev1.Service {
	name := nc.Name + "-" + u.role + "-svc"
	if headless {
		name = nc.Name + "-" + u.role + "-headless"
	}
	var ports []corev1.ServicePort
	for _, p := range u.ports {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Protocol: corev1.ProtocolTCP, Port: p.ContainerPort, TargetPort: intstr.FromInt(int(p.ContainerPort))})
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: nc.Namespace, Name: name, Labels: upstreamLabels(nc.Name, u.role), OwnerReferences: ownerRef(nc),
			Annotations: map[string]string{"nebula-graph.io/last-applied-configuration": "{}"}},
		Spec: corev1.ServiceSpec{Selector: upstreamLabels(nc.Name, u.role), Ports: ports},
	}
	if headless {
		svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses = corev1.ClusterIPNone, true
	}
	return svc
}

// fakeStatefulSets plays the StatefulSet controller for ns (envtest has
// none): every StatefulSet's pods are ready and current.
func fakeStatefulSets(t *testing.T, c client.Client, ns string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var list appsv1.StatefulSetList
			if err := c.List(ctx, &list, client.InNamespace(ns)); err == nil {
				for i := range list.Items {
					sts := &list.Items[i]
					n := ptr.Deref(sts.Spec.Replicas, 1)
					if sts.Status.ObservedGeneration == sts.Generation && sts.Status.ReadyReplicas == n && sts.Status.UpdatedReplicas == n {
						continue
					}
					sts.Status.ObservedGeneration = sts.Generation
					sts.Status.Replicas, sts.Status.ReadyReplicas, sts.Status.AvailableReplicas = n, n, n
					sts.Status.CurrentReplicas, sts.Status.UpdatedReplicas = n, n
					sts.Status.CurrentRevision, sts.Status.UpdateRevision = sts.Name+"-1", sts.Name+"-1"
					c.Status().Update(ctx, sts) // a conflict is retried next pass
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// snapshot is the state of a cluster's objects.
type snapshot struct {
	sts  map[string]*appsv1.StatefulSet
	svc  map[string]*corev1.Service
	cm   map[string]*corev1.ConfigMap
	pvc  map[string]*corev1.PersistentVolumeClaim
	rest map[string]string // name -> resourceVersion of everything, the NebulaCluster included
}

func takeSnapshot(t *testing.T, c client.Client, ns string) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{sts: map[string]*appsv1.StatefulSet{}, svc: map[string]*corev1.Service{}, cm: map[string]*corev1.ConfigMap{},
		pvc: map[string]*corev1.PersistentVolumeClaim{}, rest: map[string]string{}}
	var stss appsv1.StatefulSetList
	var svcs corev1.ServiceList
	var cms corev1.ConfigMapList
	var pvcs corev1.PersistentVolumeClaimList
	var ncs v1alpha1.NebulaClusterList
	for _, l := range []client.ObjectList{&stss, &svcs, &cms, &pvcs, &ncs} {
		if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range stss.Items {
		o := &stss.Items[i]
		s.sts[o.Name], s.rest["sts/"+o.Name] = o, o.ResourceVersion
	}
	for i := range svcs.Items {
		o := &svcs.Items[i]
		s.svc[o.Name], s.rest["svc/"+o.Name] = o, o.ResourceVersion
	}
	for i := range cms.Items {
		o := &cms.Items[i]
		if o.Name == "kube-root-ca.crt" {
			continue
		}
		s.cm[o.Name], s.rest["cm/"+o.Name] = o, o.ResourceVersion
	}
	for i := range pvcs.Items {
		o := &pvcs.Items[i]
		s.pvc[o.Name], s.rest["pvc/"+o.Name] = o, o.ResourceVersion
	}
	for _, o := range ncs.Items {
		s.rest["nc/"+o.Name] = o.ResourceVersion
	}
	return s
}

// createUpstream creates what upstream's operator would have for nc (which
// exists) and returns the flag files it wrote.
func createUpstream(t *testing.T, c client.Client, nc *v1alpha1.NebulaCluster) map[string]string {
	t.Helper()
	ctx := context.Background()
	files := map[string]string{}
	for _, u := range upstreamComponents(nc) {
		name := nc.Name + "-" + u.role
		file := upstreamFlagFile(u.role, u.config)
		files[u.role] = file
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: nc.Namespace, Name: name, Labels: upstreamLabels(nc.Name, u.role), OwnerReferences: ownerRef(nc)},
			Data: map[string]string{"nebula-" + u.role + ".conf": file}}
		sts := upstreamStatefulSet(nc, u, "0123456789abcdef")
		objs := []client.Object{cm, upstreamService(nc, u, true), sts}
		if u.role == "graphd" {
			objs = append(objs, upstreamService(nc, u, false))
		}
		// The claims the StatefulSet controller made, holding data.
		for i := 0; i < int(u.replicas); i++ {
			for _, cl := range u.claims {
				objs = append(objs, &corev1.PersistentVolumeClaim{
					ObjectMeta: metav1.ObjectMeta{Namespace: nc.Namespace, Name: fmt.Sprintf("%s-%s-%d", cl.Name, name, i),
						Labels: upstreamLabels(nc.Name, u.role), Annotations: map[string]string{"test.nebula-br/marker": "data"}},
					Spec: cl.Spec,
				})
			}
		}
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				t.Fatalf("create %T %s: %v", o, o.GetName(), err)
			}
		}
		// Upstream's cluster runs: every pod ready at the current revision.
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: u.replicas, ReadyReplicas: u.replicas,
			CurrentReplicas: u.replicas, UpdatedReplicas: u.replicas, AvailableReplicas: u.replicas,
			CurrentRevision: name + "-1", UpdateRevision: name + "-1"}
		if err := c.Status().Update(ctx, sts); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func getNC(t *testing.T, c client.Client, nc *v1alpha1.NebulaCluster) *v1alpha1.NebulaCluster {
	t.Helper()
	cur := &v1alpha1.NebulaCluster{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(nc), cur); err != nil {
		t.Fatal(err)
	}
	return cur
}

// steady reconciles once more, directly, and checks that it ends without
// an error or a retry and changes nothing.
func steady(t *testing.T, c client.Client, nc *v1alpha1.NebulaCluster) {
	t.Helper()
	before := takeSnapshot(t, c, nc.Namespace)
	res, err := (&nebulacluster.Reconciler{Client: c}).Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(nc)})
	if err != nil || res.RequeueAfter != 0 {
		t.Fatalf("a reconcile at steady state: %+v, %v", res, err)
	}
	after := takeSnapshot(t, c, nc.Namespace)
	if !equality.Semantic.DeepEqual(before.rest, after.rest) {
		t.Errorf("a reconcile at steady state wrote:\nbefore %v\nafter  %v", before.rest, after.rest)
	}
}

// TestTakeOverUpstreamCluster starts the operator over the objects
// upstream's nebula-operator created for a running cluster: it takes them
// over in place (nothing recreated, every claim kept, pod templates and
// flag files unchanged), the cluster is Ready and the reconcile steady; a
// later spec change is applied in place; one that would change an
// immutable field is reported, not retried.
func TestTakeOverUpstreamCluster(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	c := env.Client
	ctx := context.Background()
	nc := takeoverCluster(ns)
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	files := createUpstream(t, c, nc)
	before := takeSnapshot(t, c, ns)
	if len(before.sts) != 3 || len(before.svc) != 4 || len(before.cm) != 3 || len(before.pvc) != 2+3*3+1 {
		t.Fatalf("fixture: %d StatefulSets, %d Services, %d ConfigMaps, %d claims", len(before.sts), len(before.svc), len(before.cm), len(before.pvc))
	}

	fakeStatefulSets(t, c, ns)
	startManager(t, env, ns)
	eventually(t, "cluster Ready after the take-over", func() (bool, error) {
		cur := &v1alpha1.NebulaCluster{}
		err := c.Get(ctx, client.ObjectKeyFromObject(nc), cur)
		if err != nil {
			return false, err
		}
		s := cur.Status
		if cond := s.Condition(nebulacluster.ConditionWorkloadSpecApplied); cond != nil && cond.Status != metav1.ConditionTrue {
			return false, fmt.Errorf("%s: %s", cond.Reason, cond.Message)
		}
		return s.Phase == v1alpha1.ClusterRunning && s.IsConditionTrue(v1alpha1.ClusterReady) &&
			s.IsConditionTrue(nebulacluster.ConditionWorkloadSpecApplied), fmt.Errorf("phase %s", s.Phase)
	})
	after := takeSnapshot(t, c, ns)

	// Nothing recreated, nothing lost.
	for name, o := range before.sts {
		n := after.sts[name]
		if n == nil || n.UID != o.UID {
			t.Fatalf("StatefulSet %s recreated or gone", name)
		}
		if !equality.Semantic.DeepEqual(n.Spec.Template, o.Spec.Template) {
			t.Errorf("StatefulSet %s: pod template changed (the pods would restart):\nbefore %+v\nafter  %+v", name, o.Spec.Template, n.Spec.Template)
		}
		if !equality.Semantic.DeepEqual(n.Spec.Selector, o.Spec.Selector) || !equality.Semantic.DeepEqual(n.Spec.VolumeClaimTemplates, o.Spec.VolumeClaimTemplates) {
			t.Errorf("StatefulSet %s: selector or claims changed", name)
		}
		if p := n.Spec.UpdateStrategy.RollingUpdate; p == nil || ptr.Deref(p.Partition, 0) != 0 {
			t.Errorf("StatefulSet %s: partition %v left: the StatefulSet controller could not roll a later change", name, p)
		}
		if n.Annotations[nebulacluster.AnnotationTemplateHash] == "" || n.Annotations["nebula-graph.io/last-applied-dynamic-flags"] != "{}" {
			t.Errorf("StatefulSet %s annotations: %v", name, n.Annotations)
		}
	}
	for name, o := range before.pvc {
		n := after.pvc[name]
		if n == nil || n.UID != o.UID || n.Annotations["test.nebula-br/marker"] != "data" {
			t.Errorf("claim %s lost or replaced", name)
		}
	}
	for name, o := range before.svc {
		n := after.svc[name]
		if n == nil || n.UID != o.UID {
			t.Fatalf("Service %s recreated or gone", name)
		}
		if !equality.Semantic.DeepEqual(n.Spec.Ports, o.Spec.Ports) || !equality.Semantic.DeepEqual(n.Spec.Selector, o.Spec.Selector) ||
			n.Annotations["nebula-graph.io/last-applied-configuration"] == "" {
			t.Errorf("Service %s changed:\nbefore %+v\nafter  %+v", name, o.Spec, n.Spec)
		}
	}
	for _, role := range []string{"metad", "storaged", "graphd"} {
		name, key := nc.Name+"-"+role, "nebula-"+role+".conf"
		n := after.cm[name]
		if n == nil || n.UID != before.cm[name].UID {
			t.Fatalf("ConfigMap %s recreated or gone", name)
		}
		want := files[role]
		if role == "storaged" {
			// wal_ttl, which upstream sets over HTTP, is now in the file too,
			// on its own line.
			want = strings.Replace(want, "--wal_ttl=14400\n", "--wal_ttl=86400\n", 1)
		}
		if got := n.Data[key]; got != want {
			t.Errorf("%s flag file rewritten:\n--- got\n%s\n--- want\n%s", role, got, want)
		}
	}
	if cond := getNC(t, c, nc).Status.Condition(nebulacluster.ConditionWorkloadSpecApplied); cond == nil || cond.Reason != nebulacluster.ReasonApplied {
		t.Errorf("condition %s: %+v", nebulacluster.ConditionWorkloadSpecApplied, cond)
	}
	steady(t, c, nc)

	// A spec change (graphd's version) is applied in place: this
	// operator's template, the same StatefulSet and claims.
	cur := getNC(t, c, nc)
	cur.Spec.Graphd.Version = "v3.8.1"
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	var graphd *appsv1.StatefulSet
	eventually(t, "graphd v3.8.1 in the pod template", func() (bool, error) {
		graphd = &appsv1.StatefulSet{}
		err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "nebula-graphd"}, graphd)
		return err == nil && graphd.Spec.Template.Spec.Containers[0].Image == "vesoft/nebula-graphd:v3.8.1", err
	})
	if graphd.UID != before.sts["nebula-graphd"].UID {
		t.Fatal("graphd's StatefulSet recreated")
	}
	mounts := map[string]string{}
	for _, m := range graphd.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[m.Name] = m.MountPath + ":" + m.SubPath
	}
	if mounts["graphd-log"] != "/usr/local/nebula/logs:logs" || mounts["nebula-graphd"] != "/usr/local/nebula/etc/nebula-graphd.conf:nebula-graphd.conf" {
		t.Errorf("graphd mounts %v", mounts)
	}
	eventually(t, "cluster Ready with graphd v3.8.1", func() (bool, error) {
		s := getNC(t, c, nc).Status
		return s.Phase == v1alpha1.ClusterRunning && s.IsConditionTrue(nebulacluster.ConditionWorkloadSpecApplied) &&
			s.ObservedGeneration == getNC(t, c, nc).Generation, nil
	})
	steady(t, c, nc)

	// A third storaged data volume cannot be added to the StatefulSet
	// (immutable claims): the template is left, the condition says why,
	// the reconcile does not loop.
	storaged := before.sts["nebula-storaged"]
	cur = getNC(t, c, nc)
	cur.Spec.Storaged.DataVolumeClaims = append(cur.Spec.Storaged.DataVolumeClaims, v1alpha1.StorageClaim{Resources: quantity("5Gi")})
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	var cond *v1alpha1.NebulaClusterCondition
	eventually(t, "WorkloadSpecApplied False", func() (bool, error) {
		cond = getNC(t, c, nc).Status.Condition(nebulacluster.ConditionWorkloadSpecApplied)
		return cond != nil && cond.Status == metav1.ConditionFalse, nil
	})
	if cond.Reason != nebulacluster.ReasonImmutableFieldDiffers || !strings.Contains(cond.Message, "storaged-data-2") ||
		!strings.Contains(cond.Message, "nebula-storaged") {
		t.Errorf("condition %+v", cond)
	}
	n := &appsv1.StatefulSet{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(storaged), n); err != nil {
		t.Fatal(err)
	}
	if n.UID != storaged.UID || !equality.Semantic.DeepEqual(n.Spec.Template, storaged.Spec.Template) ||
		!equality.Semantic.DeepEqual(n.Spec.VolumeClaimTemplates, storaged.Spec.VolumeClaimTemplates) {
		t.Error("storaged's StatefulSet changed though its claims cannot")
	}
	steady(t, c, nc)
}

// TestObjectsAsUpstream creates a cluster from scratch and compares what
// the operator builds with what upstream's operator builds for the same
// spec: the immutable fields of the StatefulSets exactly (selector,
// service name, pod management, volume claim templates), and in the pod
// templates the labels, ports, mounts (subPaths, the flag file), volumes
// and the readiness probe; the Services' names, selectors and ports.
func TestObjectsAsUpstream(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	c := env.Client
	ctx := context.Background()
	nc := takeoverCluster(ns)
	if err := c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	fakeStatefulSets(t, c, ns)
	startManager(t, env, ns)
	eventually(t, "cluster Ready", func() (bool, error) {
		s := getNC(t, c, nc).Status
		return s.Phase == v1alpha1.ClusterRunning, nil
	})
	nc = getNC(t, c, nc)
	for _, u := range upstreamComponents(nc) {
		want := upstreamStatefulSet(nc, u, "")
		got := &appsv1.StatefulSet{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(got.Spec.Selector, want.Spec.Selector) || got.Spec.ServiceName != want.Spec.ServiceName ||
			got.Spec.PodManagementPolicy != want.Spec.PodManagementPolicy || !equality.Semantic.DeepEqual(got.Labels, want.Labels) {
			t.Errorf("%s: selector %v, serviceName %s, podManagementPolicy %s, labels %v", u.role,
				got.Spec.Selector, got.Spec.ServiceName, got.Spec.PodManagementPolicy, got.Labels)
		}
		if len(got.Spec.VolumeClaimTemplates) != len(want.Spec.VolumeClaimTemplates) {
			t.Errorf("%s: claims %v, want %v", u.role, got.Spec.VolumeClaimTemplates, want.Spec.VolumeClaimTemplates)
		}
		for i := range want.Spec.VolumeClaimTemplates {
			if i >= len(got.Spec.VolumeClaimTemplates) {
				break
			}
			g, w := got.Spec.VolumeClaimTemplates[i], want.Spec.VolumeClaimTemplates[i]
			if g.Name != w.Name || !equality.Semantic.DeepEqual(g.Spec.AccessModes, w.Spec.AccessModes) ||
				!equality.Semantic.DeepEqual(g.Spec.Resources, w.Spec.Resources) {
				t.Errorf("%s: claim %d %s %+v, want %s %+v", u.role, i, g.Name, g.Spec, w.Name, w.Spec)
			}
		}
		gt, wt := got.Spec.Template, want.Spec.Template
		if !equality.Semantic.DeepEqual(gt.Labels, wt.Labels) {
			t.Errorf("%s: pod labels %v, want %v", u.role, gt.Labels, wt.Labels)
		}
		gm, wm := gt.Spec.Containers[0], wt.Spec.Containers[0]
		if gm.Name != wm.Name || gm.Image != wm.Image {
			t.Errorf("%s: container %s %s", u.role, gm.Name, gm.Image)
		}
		if !equality.Semantic.DeepEqual(gm.Ports, withTCP(wm.Ports)) {
			t.Errorf("%s: ports %+v, want %+v", u.role, gm.Ports, wm.Ports)
		}
		if !equality.Semantic.DeepEqual(gm.VolumeMounts, wm.VolumeMounts[:len(wm.VolumeMounts)-1]) { // all but upstream's dynamic-flags mount
			t.Errorf("%s: mounts %+v, want %+v", u.role, gm.VolumeMounts, wm.VolumeMounts)
		}
		rp, wp := gm.ReadinessProbe, wm.ReadinessProbe
		if rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Path != wp.HTTPGet.Path || rp.HTTPGet.Port.IntValue() != wp.HTTPGet.Port.IntValue() ||
			rp.InitialDelaySeconds != wp.InitialDelaySeconds || rp.TimeoutSeconds != wp.TimeoutSeconds || rp.PeriodSeconds != wp.PeriodSeconds {
			t.Errorf("%s: readiness probe %+v, want %+v", u.role, rp, wp)
		}
		gv := map[string]corev1.Volume{}
		for _, v := range gt.Spec.Volumes {
			gv[v.Name] = v
		}
		cmv := wt.Spec.Volumes[len(wt.Spec.Volumes)-2] // the flag file's
		if v, ok := gv[cmv.Name]; !ok || v.ConfigMap == nil || v.ConfigMap.Name != cmv.ConfigMap.Name ||
			!equality.Semantic.DeepEqual(v.ConfigMap.Items, cmv.ConfigMap.Items) {
			t.Errorf("%s: flag file volume %+v, want %+v", u.role, v, cmv)
		}
		agent := gt.Spec.Containers[1]
		if wa := wt.Spec.Containers[1]; agent.Name != wa.Name || !equality.Semantic.DeepEqual(agent.Ports, withTCP(wa.Ports)) ||
			!equality.Semantic.DeepEqual(agent.VolumeMounts, wa.VolumeMounts) {
			t.Errorf("%s: agent %s ports %+v mounts %+v", u.role, agent.Name, agent.Ports, agent.VolumeMounts)
		}
		if u.role == "storaged" && !slices.Contains(gm.Args, "--data_path=/usr/local/nebula/data/storage,/usr/local/nebula/data1/storage") {
			t.Errorf("storaged args %q lack both data paths", gm.Args)
		}

		headless := upstreamService(nc, u, true)
		svcs := []*corev1.Service{headless}
		if u.role == "graphd" {
			svcs = append(svcs, upstreamService(nc, u, false))
		}
		for _, w := range svcs {
			g := &corev1.Service{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(w), g); err != nil {
				t.Fatalf("Service %s: %v", w.Name, err)
			}
			if !equality.Semantic.DeepEqual(g.Spec.Selector, w.Spec.Selector) || !equality.Semantic.DeepEqual(g.Spec.Ports, w.Spec.Ports) ||
				(w.Spec.ClusterIP == corev1.ClusterIPNone) != (g.Spec.ClusterIP == corev1.ClusterIPNone) {
				t.Errorf("Service %s: %+v, want %+v", w.Name, g.Spec, w.Spec)
			}
		}
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: want.Name}, cm); err != nil {
			t.Fatal(err)
		}
		if _, ok := cm.Data["nebula-"+u.role+".conf"]; !ok || !equality.Semantic.DeepEqual(cm.Labels, upstreamLabels(nc.Name, u.role)) {
			t.Errorf("ConfigMap %s: labels %v, keys %v", cm.Name, cm.Labels, cm.Data)
		}
	}
}

func withTCP(ports []corev1.ContainerPort) []corev1.ContainerPort {
	out := append([]corev1.ContainerPort(nil), ports...)
	for i := range out {
		out[i].Protocol = corev1.ProtocolTCP // the API server's default
	}
	return out
}
