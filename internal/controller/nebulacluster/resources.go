// Package nebulacluster reconciles a NebulaCluster into flag-file
// ConfigMaps, headless Services and StatefulSets for metad, storaged and
// graphd, created in that order: each component's objects appear only once
// the previous component's StatefulSet reports all its replicas ready.
package nebulacluster

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
)

// DefaultAgentImage is used when spec.agent.image is empty (Images.Agent
// unset).
const DefaultAgentImage = "nebula-br/br-agent:latest"

// Images are the operator-level default images.
type Images struct {
	// Agent is the ng-agent image (with tag) used when spec.agent.image is
	// empty.
	Agent string
}

const (
	binDir  = "/usr/local/nebula/bin"
	etcDir  = "/usr/local/nebula/etc"
	dataDir = "/usr/local/nebula/data"
	logsDir = "/usr/local/nebula/logs"
)

// component gathers what differs between the three specs.
type component struct {
	role     string
	spec     *v1alpha1.ComponentSpec
	config   map[string]string
	data     []v1alpha1.StorageClaim
	log      *v1alpha1.StorageClaim
	agent    bool
	replicas int32
}

func components(nc *v1alpha1.NebulaCluster) []component {
	var out []component
	s := nc.Spec
	if s.Metad != nil {
		c := component{role: naming.Metad, spec: &s.Metad.ComponentSpec, config: s.Metad.Config, log: s.Metad.LogVolumeClaim, agent: s.EnableBR}
		if s.Metad.DataVolumeClaim != nil {
			c.data = []v1alpha1.StorageClaim{*s.Metad.DataVolumeClaim}
		}
		out = append(out, c)
	}
	if s.Storaged != nil {
		c := component{role: naming.Storaged, spec: &s.Storaged.ComponentSpec, config: s.Storaged.Config, log: s.Storaged.LogVolumeClaim, agent: s.EnableBR}
		c.data = s.Storaged.DataVolumeClaims
		if len(c.data) == 0 && s.Storaged.DataVolumeClaim != nil {
			c.data = []v1alpha1.StorageClaim{*s.Storaged.DataVolumeClaim}
		}
		out = append(out, c)
	}
	if s.Graphd != nil {
		out = append(out, component{role: naming.Graphd, spec: &s.Graphd.ComponentSpec, config: s.Graphd.Config, log: s.Graphd.LogVolumeClaim, agent: s.EnableBR})
	}
	for i := range out {
		out[i].replicas = 1
		if out[i].spec.Replicas != nil {
			out[i].replicas = *out[i].spec.Replicas
		}
	}
	return out
}

func labels(nc *v1alpha1.NebulaCluster, role string) map[string]string {
	return map[string]string{
		v1alpha1.LabelCluster:   nc.Name,
		v1alpha1.LabelComponent: role,
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByOperator,
	}
}

func image(img, version string) string {
	if version == "" {
		return img
	}
	return img + ":" + version
}

func metaServerAddrs(nc *v1alpha1.NebulaCluster) string {
	n := int32(1)
	if nc.Spec.Metad != nil && nc.Spec.Metad.Replicas != nil {
		n = *nc.Spec.Metad.Replicas
	}
	addrs := make([]string, 0, n)
	for i := 0; i < int(n); i++ {
		addrs = append(addrs, fmt.Sprintf("%s:%d", naming.PodFQDN(nc.Name, nc.Namespace, naming.Metad, i), naming.MetadPort))
	}
	return strings.Join(addrs, ",")
}

// flagFile renders the component's flag file: the operator's defaults,
// overridden by spec.<role>.config.
func flagFile(nc *v1alpha1.NebulaCluster, c component) string {
	flags := map[string]string{
		"meta_server_addrs": metaServerAddrs(nc),
		"port":              fmt.Sprint(naming.Port(c.role)),
		"log_dir":           logsDir,
	}
	switch c.role {
	case naming.Metad, naming.Storaged:
		dirs := []string{}
		n := max(len(c.data), 1)
		for i := 0; i < n; i++ {
			dirs = append(dirs, dataPath(c.role, i))
		}
		flags["data_path"] = strings.Join(dirs, ",")
	}
	for k, v := range c.config {
		flags[k] = v
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "# nebula-%s flags, written by nebula-operator for %s/%s\n", c.role, nc.Namespace, nc.Name)
	for _, k := range keys {
		fmt.Fprintf(&b, "--%s=%s\n", k, flags[k])
	}
	return b.String()
}

func dataPath(role string, i int) string {
	if role == naming.Metad || i == 0 {
		return dataDir + "/" + role
	}
	return fmt.Sprintf("%s/%s%d", dataDir, role, i)
}

func configMap(nc *v1alpha1.NebulaCluster, c component, cm *corev1.ConfigMap) {
	cm.Labels = labels(nc, c.role)
	cm.Data = map[string]string{"nebula-" + c.role + ".conf": flagFile(nc, c)}
}

func headless(nc *v1alpha1.NebulaCluster, c component, svc *corev1.Service) {
	svc.Labels = labels(nc, c.role)
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	svc.Spec.PublishNotReadyAddresses = true
	svc.Spec.Selector = labels(nc, c.role)
	ports := []corev1.ServicePort{{Name: "thrift", Port: naming.Port(c.role), TargetPort: intstr.FromInt32(naming.Port(c.role)), Protocol: corev1.ProtocolTCP}}
	if c.agent {
		ports = append(ports, corev1.ServicePort{Name: "agent", Port: naming.AgentPort, TargetPort: intstr.FromInt32(naming.AgentPort), Protocol: corev1.ProtocolTCP})
	}
	svc.Spec.Ports = ports
}

// graphdService is the client Service in front of the graphd pods,
// shaped by spec.graphd.service.
func graphdService(nc *v1alpha1.NebulaCluster, c component, svc *corev1.Service) {
	svc.Labels = labels(nc, c.role)
	svc.Spec.Selector = labels(nc, c.role)
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Annotations = nil
	if s := nc.Spec.Graphd.Service; s != nil {
		if s.Type != "" {
			svc.Spec.Type = s.Type
		}
		svc.Annotations = s.Annotations
		if s.ClusterIP != nil && svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = *s.ClusterIP // immutable once set
		}
		svc.Spec.PublishNotReadyAddresses = s.PublishNotReadyAddresses
		if s.LoadBalancerIP != nil {
			svc.Spec.LoadBalancerIP = *s.LoadBalancerIP
		}
	}
	svc.Spec.Ports = []corev1.ServicePort{{Name: "thrift", Port: naming.GraphdPort, TargetPort: intstr.FromInt32(naming.GraphdPort), Protocol: corev1.ProtocolTCP}}
}

func podEnv(nc *v1alpha1.NebulaCluster, c component) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_FQDN", Value: fmt.Sprintf("$(POD_NAME).%s.%s.svc.cluster.local", naming.HeadlessName(nc.Name, c.role), nc.Namespace)},
	}
}

func agentImage(nc *v1alpha1.NebulaCluster, def Images) string {
	a := nc.Spec.Agent
	if a != nil && a.Image != "" {
		return image(a.Image, a.Version)
	}
	if def.Agent != "" {
		return def.Agent
	}
	return DefaultAgentImage
}

// DataPaths are the data directories of a component's pods.
func DataPaths(nc *v1alpha1.NebulaCluster, role string) []string {
	for _, c := range components(nc) {
		if c.role == role && role != naming.Graphd {
			var out []string
			for i := 0; i < max(len(c.data), 1); i++ {
				out = append(out, dataPath(role, i))
			}
			return out
		}
	}
	return nil
}

// restoreAgentContainer is the init container a restore drives: it serves
// the agent API on the pod's agent port until the restore stops it.
func restoreAgentContainer(nc *v1alpha1.NebulaCluster, c component, def Images) corev1.Container {
	ct := corev1.Container{
		Name:            naming.RestoreAgentContainerName,
		Image:           agentImage(nc, def),
		ImagePullPolicy: nc.Spec.ImagePullPolicy,
		Command:         []string{"/usr/local/bin/br-agent"},
		Args: []string{
			"--agent", fmt.Sprintf("$(POD_FQDN):%d", naming.AgentPort),
			"--restore-init",
			"--data-path", strings.Join(DataPaths(nc, c.role), ","),
		},
		Env:          podEnv(nc, c),
		Ports:        []corev1.ContainerPort{{Name: "agent", ContainerPort: naming.AgentPort, Protocol: corev1.ProtocolTCP}},
		VolumeMounts: volumeMounts(c),
	}
	if a := nc.Spec.Agent; a != nil && a.Resources != nil {
		ct.Resources = *a.Resources
	}
	// The restore's downloads are bounded like the sidecar's transfers.
	if a := nc.Spec.Agent; a != nil && a.RateLimit > 0 {
		ct.Args = append(ct.Args, "--ratelimit", fmt.Sprint(a.RateLimit))
	}
	return ct
}

// agentContainer is the ng-agent sidecar.
func agentContainer(nc *v1alpha1.NebulaCluster, c component, def Images) corev1.Container {
	a := nc.Spec.Agent
	if a == nil {
		a = &v1alpha1.AgentSpec{}
	}
	img := agentImage(nc, def)
	hbs := a.HeartbeatInterval
	if hbs <= 0 {
		hbs = 60
	}
	ct := corev1.Container{
		Name:            naming.AgentContainerName,
		Image:           img,
		ImagePullPolicy: nc.Spec.ImagePullPolicy,
		Command:         []string{"/usr/local/bin/br-agent"},
		Args: []string{
			"--agent", fmt.Sprintf("$(POD_FQDN):%d", naming.AgentPort),
			"--meta", naming.MetadAddress(nc),
			"--hbs", fmt.Sprint(hbs),
			"--ratelimit", fmt.Sprint(a.RateLimit),
		},
		Env:          append(podEnv(nc, c), a.Env...),
		Ports:        []corev1.ContainerPort{{Name: "agent", ContainerPort: naming.AgentPort, Protocol: corev1.ProtocolTCP}},
		VolumeMounts: volumeMounts(c),
	}
	if a.Resources != nil {
		ct.Resources = *a.Resources
	}
	return ct
}

func volumeMounts(c component) []corev1.VolumeMount {
	m := []corev1.VolumeMount{{Name: "config", MountPath: etcDir}, {Name: "logs", MountPath: logsDir}}
	if c.role != naming.Graphd {
		n := max(len(c.data), 1)
		for i := 0; i < n; i++ {
			m = append(m, corev1.VolumeMount{Name: dataVolume(i), MountPath: dataPath(c.role, i)})
		}
	}
	return m
}

func dataVolume(i int) string {
	if i == 0 {
		return "data"
	}
	return fmt.Sprintf("data%d", i)
}

func claim(name string, sc v1alpha1.StorageClaim) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metaName(name),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        sc.Resources,
			StorageClassName: sc.StorageClassName,
			VolumeMode:       ptr(corev1.PersistentVolumeFilesystem),
		},
	}
}

func ptr[T any](v T) *T { return &v }

// statefulSet fills sts (new or existing) with the desired spec. The
// selector is set only on creation (it is immutable).
func statefulSet(nc *v1alpha1.NebulaCluster, c component, def Images, sts *appsv1.StatefulSet) {
	lb := labels(nc, c.role)
	sts.Labels = lb
	if sts.CreationTimestamp.IsZero() {
		sts.Spec.Selector = selector(lb)
		sts.Spec.ServiceName = naming.HeadlessName(nc.Name, c.role)
		sts.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		var claims []corev1.PersistentVolumeClaim
		if c.role != naming.Graphd {
			for i, d := range c.data {
				claims = append(claims, claim(dataVolume(i), d))
			}
		}
		if c.log != nil {
			claims = append(claims, claim("logs", *c.log))
		}
		sts.Spec.VolumeClaimTemplates = claims
	}
	sts.Spec.Replicas = ptr(c.replicas)

	podLabels := map[string]string{}
	for k, v := range c.spec.Labels {
		podLabels[k] = v
	}
	for k, v := range lb {
		podLabels[k] = v
	}
	main := corev1.Container{
		Name:            c.role,
		Image:           image(c.spec.Image, c.spec.Version),
		ImagePullPolicy: nc.Spec.ImagePullPolicy,
		Command:         []string{fmt.Sprintf("%s/nebula-%s", binDir, c.role)},
		Args: []string{
			fmt.Sprintf("--flagfile=%s/nebula-%s.conf", etcDir, c.role),
			"--local_ip=$(POD_FQDN)",
		},
		Env:          append(podEnv(nc, c), c.spec.Env...),
		Ports:        []corev1.ContainerPort{{Name: "thrift", ContainerPort: naming.Port(c.role), Protocol: corev1.ProtocolTCP}},
		VolumeMounts: volumeMounts(c),
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(naming.Port(c.role))}},
			// Probed often: each component waits for the previous one to be
			// ready, and a restore rolls metad and storaged once.
			InitialDelaySeconds: 1, PeriodSeconds: 3, TimeoutSeconds: 3,
		},
	}
	if c.spec.Resources != nil {
		main.Resources = *c.spec.Resources
	}
	containers := []corev1.Container{main}
	if c.agent {
		containers = append(containers, agentContainer(nc, c, def))
	}
	volumes := []corev1.Volume{{
		Name: "config",
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.WorkloadName(nc.Name, c.role)},
		}},
	}}
	if c.log == nil {
		volumes = append(volumes, corev1.Volume{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	if c.role != naming.Graphd && len(c.data) == 0 {
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	nodeSel := map[string]string{}
	for k, v := range nc.Spec.NodeSelector {
		nodeSel[k] = v
	}
	for k, v := range c.spec.NodeSelector {
		nodeSel[k] = v
	}
	if len(nodeSel) == 0 {
		nodeSel = nil
	}
	aff := c.spec.Affinity
	if aff == nil {
		aff = nc.Spec.Affinity
	}
	tol := append(append([]corev1.Toleration{}, nc.Spec.Tolerations...), c.spec.Tolerations...)
	if len(tol) == 0 {
		tol = nil
	}
	sts.Spec.Template.ObjectMeta.Labels = podLabels
	sts.Spec.Template.ObjectMeta.Annotations = c.spec.Annotations
	sts.Spec.Template.Spec.Containers = containers
	sts.Spec.Template.Spec.InitContainers = nil
	if nc.Annotations[v1alpha1.AnnotationRestoreStage] != "" && c.role != naming.Graphd {
		sts.Spec.Template.Spec.InitContainers = []corev1.Container{restoreAgentContainer(nc, c, def)}
	}
	sts.Spec.Template.Spec.Volumes = volumes
	sts.Spec.Template.Spec.ImagePullSecrets = nc.Spec.ImagePullSecrets
	sts.Spec.Template.Spec.NodeSelector = nodeSel
	sts.Spec.Template.Spec.Affinity = aff
	sts.Spec.Template.Spec.Tolerations = tol
}
