// Package nebulacluster reconciles a NebulaCluster into flag-file
// ConfigMaps, headless Services and StatefulSets for metad, storaged and
// graphd, created in that order: each component's objects appear only once
// the previous component's StatefulSet reports all its replicas ready.
//
// The objects carry the names, labels, selectors, volume claim templates,
// mounts, ports and flag-file layout that upstream's nebula-operator gives
// them (see package naming), so a cluster that upstream's operator created
// is taken over in place (takeover.go).
package nebulacluster

import (
	"crypto/sha512"
	"encoding/hex"
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

// Annotations of the operator's objects.
const (
	// AnnotationFlagFile marks a flag-file ConfigMap whose file this
	// operator generated (value FlagFileGenerated): it is rewritten from
	// the spec. A ConfigMap without it (upstream's layout, for one) keeps
	// its file: only the flags of spec.<role>.config are set in it, each
	// on the line that defines it or appended.
	AnnotationFlagFile = v1alpha1.Group + "/flag-file"
	FlagFileGenerated  = "generated"

	// AnnotationConfigMapHash, on the pod template, is the hash of the
	// flag file (as upstream's nebula-operator records it): a changed flag
	// file rolls the pods, which read it at start.
	AnnotationConfigMapHash = "nebula-graph.io/cm-hash"
)

// Readiness probe defaults (upstream's): HTTP GET /status on the http port.
const (
	probePath                = "/status"
	probeInitialDelaySeconds = 10
	probeTimeoutSeconds      = 5
	probePeriodSeconds       = 10
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
	// cmHash is the hash of the component's flag file (set once the
	// ConfigMap is reconciled).
	cmHash string
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

// labels are the component's labels: its objects carry them and its
// Services select on them.
func labels(nc *v1alpha1.NebulaCluster, role string) map[string]string {
	return naming.Labels(nc.Name, role)
}

// podLabels are the labels of the component's pods and its StatefulSet's
// selector: the component's labels with spec.<role>.labels over them (as
// upstream merges them).
func podLabels(nc *v1alpha1.NebulaCluster, c component) map[string]string {
	out := labels(nc, c.role)
	for k, v := range c.spec.Labels {
		out[k] = v
	}
	return out
}

// addLabels sets lb on an object's labels, keeping the others.
func addLabels(cur map[string]string, lb map[string]string) map[string]string {
	if cur == nil {
		cur = map[string]string{}
	}
	for k, v := range lb {
		cur[k] = v
	}
	return cur
}

// image is img tagged version; an img that already has a tag or a digest
// is used as written (version defaults to latest).
func image(img, version string) string {
	if version == "" || strings.Contains(img, "@") || imageTag(img) != "" {
		return img
	}
	return img + ":" + version
}

func metaServerAddrs(nc *v1alpha1.NebulaCluster) string {
	n := int32(1)
	if nc.Spec.Metad != nil && nc.Spec.Metad.Replicas != nil {
		n = *nc.Spec.Metad.Replicas
	}
	port := naming.ThriftPort(nc, naming.Metad)
	addrs := make([]string, 0, n)
	for i := 0; i < int(n); i++ {
		addrs = append(addrs, fmt.Sprintf("%s:%d", naming.PodFQDN(nc.Name, nc.Namespace, naming.Metad, i), port))
	}
	return strings.Join(addrs, ",")
}

// dataVolumes is the number of data volumes of a component's pods: one
// per claim, one emptyDir without a claim, none for graphd.
func dataVolumes(c component) int {
	if c.role == naming.Graphd {
		return 0
	}
	return max(len(c.data), 1)
}

// defaultFlags are the flags the operator writes into a flag file it
// generates, before spec.<role>.config. The pod's identity
// (--meta_server_addrs, --local_ip) is on the command line, as upstream
// passes it.
func defaultFlags(nc *v1alpha1.NebulaCluster, c component) map[string]string {
	flags := map[string]string{
		"port":         fmt.Sprint(naming.Port(c.role)),
		"ws_http_port": fmt.Sprint(naming.HTTPPort(c.role)),
		"log_dir":      naming.LogDir,
	}
	switch c.role {
	case naming.Metad:
		flags["ws_storage_http_port"] = fmt.Sprint(naming.WSHTTPPort(nc, naming.Storaged))
	case naming.Graphd:
		flags["ws_meta_http_port"] = fmt.Sprint(naming.WSHTTPPort(nc, naming.Metad))
	}
	if paths := DataPaths(nc, c.role); len(paths) > 0 {
		flags["data_path"] = strings.Join(paths, ",")
	}
	return flags
}

// flagFile renders the flag file the operator generates: its defaults,
// overridden by spec.<role>.config.
func flagFile(nc *v1alpha1.NebulaCluster, c component) string {
	flags := defaultFlags(nc, c)
	for k, v := range c.config {
		flags[k] = v
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "# nebula-%s flags, generated by nebula-operator (nebula-br) for %s/%s from spec.%s.config.\n", c.role, nc.Namespace, nc.Name, c.role)
	fmt.Fprintf(&b, "# --meta_server_addrs, --local_ip and --daemonize are on the command line.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "--%s=%s\n", k, flags[k])
	}
	return b.String()
}

// customSection heads the flags appended to a flag file that did not
// define them (upstream's layout appends them the same way).
const customSection = "########## Custom ##########"

// flagLineName is the flag a flag-file line sets ("" for a comment, a
// blank line or anything else).
func flagLineName(line string) string {
	l := strings.TrimSpace(line)
	if !strings.HasPrefix(l, "-") {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimLeft(l, "-"), "=")
	return strings.TrimSpace(name)
}

// mergeFlags sets flags in a flag file without changing its layout: each
// flag on the last line that defines it (the one that counts), and the
// ones it does not define appended at its end, under customSection.
// Lines already right are left byte for byte.
func mergeFlags(file string, flags map[string]string) string {
	lines := strings.SplitAfter(file, "\n")
	last := map[string]int{}
	custom := false
	for i, l := range lines {
		if name := flagLineName(l); name != "" {
			last[name] = i
		}
		custom = custom || strings.TrimSpace(l) == customSection
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var missing []string
	for _, k := range keys {
		want := "--" + k + "=" + flags[k]
		i, ok := last[k]
		if !ok {
			missing = append(missing, want)
			continue
		}
		body := strings.TrimRight(lines[i], "\r\n")
		if strings.TrimSpace(body) != want {
			lines[i] = want + lines[i][len(body):]
		}
	}
	out := strings.Join(lines, "")
	if len(missing) == 0 {
		return out
	}
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	if !custom {
		out += "\n" + customSection + "\n"
	}
	return out + strings.Join(missing, "\n") + "\n"
}

// configHash is a flag file's hash: the first 16 hex digits of its
// SHA-512 (the value upstream's nebula-operator records).
func configHash(file string) string {
	sum := sha512.Sum512([]byte(file))
	return hex.EncodeToString(sum[:])[:16]
}

// configMap fills the component's flag-file ConfigMap (new or existing)
// and returns the flag file. A file this operator generated (or a new one)
// is generated again; any other keeps its layout, with spec.<role>.config
// set in it.
func configMap(nc *v1alpha1.NebulaCluster, c component, cm *corev1.ConfigMap) string {
	cm.Labels = addLabels(cm.Labels, labels(nc, c.role))
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	key := naming.FlagFileKey(c.role)
	cur, ok := cm.Data[key]
	switch {
	case cm.CreationTimestamp.IsZero():
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[AnnotationFlagFile] = FlagFileGenerated
		cm.Data[key] = flagFile(nc, c)
	case cm.Annotations[AnnotationFlagFile] == FlagFileGenerated || !ok:
		cm.Data[key] = flagFile(nc, c)
	default:
		cm.Data[key] = mergeFlags(cur, c.config)
	}
	return cm.Data[key]
}

// containerPorts are the component's ports, named as upstream names them:
// thrift, http and, for storaged, admin (the thrift port - 1).
func containerPorts(nc *v1alpha1.NebulaCluster, c component) []corev1.ContainerPort {
	thrift := naming.ThriftPort(nc, c.role)
	ports := []corev1.ContainerPort{
		{Name: naming.PortNameThrift, ContainerPort: thrift, Protocol: corev1.ProtocolTCP},
		{Name: naming.PortNameHTTP, ContainerPort: naming.WSHTTPPort(nc, c.role), Protocol: corev1.ProtocolTCP},
	}
	if c.role == naming.Storaged {
		ports = append(ports, corev1.ContainerPort{Name: naming.PortNameAdmin, ContainerPort: thrift - 1, Protocol: corev1.ProtocolTCP})
	}
	return ports
}

// servicePorts are the component's Service ports: its container ports.
func servicePorts(nc *v1alpha1.NebulaCluster, c component) []corev1.ServicePort {
	var out []corev1.ServicePort
	for _, p := range containerPorts(nc, c) {
		out = append(out, corev1.ServicePort{Name: p.Name, Port: p.ContainerPort, TargetPort: intstr.FromInt32(p.ContainerPort), Protocol: corev1.ProtocolTCP})
	}
	return out
}

func headless(nc *v1alpha1.NebulaCluster, c component, svc *corev1.Service) {
	svc.Labels = addLabels(svc.Labels, labels(nc, c.role))
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	svc.Spec.PublishNotReadyAddresses = true
	svc.Spec.Selector = labels(nc, c.role)
	svc.Spec.Ports = servicePorts(nc, c)
}

// graphdService is the client Service in front of the graphd pods,
// shaped by spec.graphd.service.
func graphdService(nc *v1alpha1.NebulaCluster, c component, svc *corev1.Service) {
	svc.Labels = addLabels(svc.Labels, labels(nc, c.role))
	svc.Spec.Selector = labels(nc, c.role)
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if s := nc.Spec.Graphd.Service; s != nil {
		if s.Type != "" {
			svc.Spec.Type = s.Type
		}
		if len(s.Annotations) > 0 {
			svc.Annotations = addLabels(svc.Annotations, s.Annotations)
		}
		if s.ClusterIP != nil && svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = *s.ClusterIP // immutable once set
		}
		svc.Spec.PublishNotReadyAddresses = s.PublishNotReadyAddresses
		if s.LoadBalancerIP != nil {
			svc.Spec.LoadBalancerIP = *s.LoadBalancerIP
		}
	}
	// The API server refuses externalTrafficPolicy on a ClusterIP Service,
	// and upstream's chart sets Local whatever the type: it applies to
	// NodePort and LoadBalancer only, as upstream's operator does.
	// Unset, the API server's default (Cluster) stays.
	external := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	if s := nc.Spec.Graphd.Service; external && s != nil && s.ExternalTrafficPolicy != nil {
		svc.Spec.ExternalTrafficPolicy = *s.ExternalTrafficPolicy
	} else if !external {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	svc.Spec.Ports = servicePorts(nc, c)
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

// DataPaths are the data directories of a component's pods (--data_path):
// /usr/local/nebula/data/meta for metad, /usr/local/nebula/data[N]/storage
// for storaged, one per data volume.
func DataPaths(nc *v1alpha1.NebulaCluster, role string) []string {
	for _, c := range components(nc) {
		if c.role == role {
			var out []string
			for i := 0; i < dataVolumes(c); i++ {
				out = append(out, naming.DataPath(role, i))
			}
			return out
		}
	}
	return nil
}

func agentPorts() []corev1.ContainerPort {
	return []corev1.ContainerPort{{Name: naming.AgentPortName, ContainerPort: naming.AgentPort, Protocol: corev1.ProtocolTCP}}
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
		Ports:        agentPorts(),
		VolumeMounts: dataMounts(c),
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
		Ports:        agentPorts(),
		VolumeMounts: dataMounts(c),
	}
	if a.Resources != nil {
		ct.Resources = *a.Resources
	}
	return ct
}

// dataMounts mount the component's data volumes (the agents see the data
// where the service does).
func dataMounts(c component) []corev1.VolumeMount {
	var m []corev1.VolumeMount
	for i := 0; i < dataVolumes(c); i++ {
		m = append(m, corev1.VolumeMount{Name: naming.DataVolumeName(c.role, i), MountPath: naming.DataMountPath(i), SubPath: naming.DataSubPath(i)})
	}
	return m
}

// volumeMounts are the service container's mounts: data, logs (with a log
// claim) and the flag file.
func volumeMounts(nc *v1alpha1.NebulaCluster, c component) []corev1.VolumeMount {
	m := dataMounts(c)
	if c.log != nil {
		m = append(m, corev1.VolumeMount{Name: naming.LogVolumeName(c.role), MountPath: naming.LogDir, SubPath: naming.LogSubPath})
	}
	return append(m, corev1.VolumeMount{
		Name:      naming.ConfigVolumeName(nc.Name, c.role),
		MountPath: naming.FlagFilePath(c.role),
		SubPath:   naming.FlagFileKey(c.role),
	})
}

func claim(name string, sc v1alpha1.StorageClaim) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metaName(name),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        sc.Resources,
			StorageClassName: sc.StorageClassName,
		},
	}
}

// volumeClaimTemplates are the component's claims: data (storaged's
// first, then data-1, ...) and log.
func volumeClaimTemplates(c component) []corev1.PersistentVolumeClaim {
	var claims []corev1.PersistentVolumeClaim
	if c.role != naming.Graphd {
		for i, d := range c.data {
			claims = append(claims, claim(naming.DataVolumeName(c.role, i), d))
		}
	}
	if c.log != nil {
		claims = append(claims, claim(naming.LogVolumeName(c.role), *c.log))
	}
	return claims
}

func ptr[T any](v T) *T { return &v }

// serviceArgs are the service's arguments: the flag file, then the pod's
// identity, which wins over the file; several storaged data volumes are
// named on the command line too (as upstream does).
func serviceArgs(nc *v1alpha1.NebulaCluster, c component) []string {
	args := []string{
		"--flagfile=" + naming.FlagFilePath(c.role),
		"--meta_server_addrs=" + metaServerAddrs(nc),
		"--local_ip=$(POD_FQDN)",
		"--daemonize=false",
	}
	if c.role == naming.Storaged && dataVolumes(c) > 1 {
		args = append(args, "--data_path="+strings.Join(DataPaths(nc, c.role), ","))
	}
	return args
}

// statefulSet fills sts (a new object) with the desired StatefulSet; the
// controller creates it, or applies it to the existing one (applyStatefulSet).
func statefulSet(nc *v1alpha1.NebulaCluster, c component, def Images, sts *appsv1.StatefulSet) {
	lb := labels(nc, c.role)
	pl := podLabels(nc, c)
	sts.Labels = lb
	sts.Spec.Selector = selector(pl)
	sts.Spec.ServiceName = naming.HeadlessName(nc.Name, c.role)
	sts.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	sts.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
	sts.Spec.VolumeClaimTemplates = volumeClaimTemplates(c)
	sts.Spec.Replicas = ptr(c.replicas)

	main := corev1.Container{
		Name:            c.role,
		Image:           image(c.spec.Image, c.spec.Version),
		ImagePullPolicy: nc.Spec.ImagePullPolicy,
		Command:         []string{fmt.Sprintf("%s/nebula-%s", naming.BinDir, c.role)},
		Args:            serviceArgs(nc, c),
		Env:             append(podEnv(nc, c), c.spec.Env...),
		Ports:           containerPorts(nc, c),
		VolumeMounts:    volumeMounts(nc, c),
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: probePath, Port: intstr.FromInt32(naming.WSHTTPPort(nc, c.role)), Scheme: corev1.URISchemeHTTP,
			}},
			InitialDelaySeconds: probeInitialDelaySeconds, TimeoutSeconds: probeTimeoutSeconds, PeriodSeconds: probePeriodSeconds,
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
		Name: naming.ConfigVolumeName(nc.Name, c.role),
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.ConfigMapName(nc.Name, c.role)},
			Items:                []corev1.KeyToPath{{Key: naming.FlagFileKey(c.role), Path: naming.FlagFileKey(c.role)}},
		}},
	}}
	// Without a claim, metad's and storaged's data are on an emptyDir
	// under the claim's name.
	if c.role != naming.Graphd && len(c.data) == 0 {
		volumes = append(volumes, corev1.Volume{Name: naming.DataVolumeName(c.role, 0), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
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
	annotations := map[string]string{}
	for k, v := range c.spec.Annotations {
		annotations[k] = v
	}
	if c.cmHash != "" {
		annotations[AnnotationConfigMapHash] = c.cmHash
	}
	sts.Spec.Template.ObjectMeta.Labels = pl
	sts.Spec.Template.ObjectMeta.Annotations = annotations
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
