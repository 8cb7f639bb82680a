// Package naming holds the names, labels, ports and paths of a
// NebulaCluster's objects, shared by the controllers: the NebulaCluster
// controller creates the objects under these names, and the backup and
// restore controllers reach the pods through them.
//
// Every name here is the one upstream's nebula-operator (1.8.x) gives the
// same object, so that this operator takes over, in place, a cluster that
// upstream's created (a StatefulSet's selector and volume claim templates
// cannot change):
//
//	StatefulSet, ConfigMap      <cluster>-<role>
//	headless Service            <cluster>-<role>-headless
//	graphd's client Service     <cluster>-graphd-svc
//	labels (= selector)         app.kubernetes.io/name=nebula-graph, app.kubernetes.io/cluster=<cluster>,
//	                            app.kubernetes.io/component=<role>, app.kubernetes.io/managed-by=nebula-operator
//	volume claim templates      metad-data, <role>-log, storaged-data, storaged-data-1, ...
//	mounts                      /usr/local/nebula/data[N] (subPath data[N]), /usr/local/nebula/logs (subPath logs)
//	flag file                   ConfigMap key nebula-<role>.conf, mounted by subPath at /usr/local/nebula/etc/nebula-<role>.conf
//	ports                       thrift 9559/9779/9669, http 19559/19779/19669, storaged admin 9778, agent grpc 8888
package naming

import (
	"fmt"
	"strconv"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
)

// Component roles, in creation order.
const (
	Metad    = v1alpha1.ComponentMetad
	Storaged = v1alpha1.ComponentStoraged
	Graphd   = v1alpha1.ComponentGraphd
)

// Roles is the creation order.
var Roles = []string{Metad, Storaged, Graphd}

// Labels of every object of a cluster component; a StatefulSet's selector
// is these (and the component's pod labels).
const (
	// LabelName is the application label, NameValue on every component
	// object.
	LabelName = "app.kubernetes.io/name"
	// NameValue is LabelName's value.
	NameValue = "nebula-graph"
)

// Labels are the labels of a component's objects: its StatefulSet, pods,
// Services and ConfigMap. They select the component's pods.
func Labels(cluster, role string) map[string]string {
	return map[string]string{
		LabelName:               NameValue,
		v1alpha1.LabelCluster:   cluster,
		v1alpha1.LabelComponent: role,
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByOperator,
	}
}

// Default ports (a component's config may set port and ws_http_port).
const (
	MetadPort        = 9559
	StoragedPort     = 9779
	GraphdPort       = 9669
	MetadHTTPPort    = 19559
	StoragedHTTPPort = 19779
	GraphdHTTPPort   = 19669
	AgentPort        = 8888
)

// Port names, of the containers and of the Services.
const (
	PortNameThrift = "thrift"
	PortNameHTTP   = "http"
	// PortNameAdmin is storaged's admin port: its thrift port - 1.
	PortNameAdmin = "admin"
	// AgentPortName is the agent's port (ng-agent and the restore's init
	// agent).
	AgentPortName = "grpc"
)

// Port is the default thrift port of a component (graphd's for an unknown
// role).
func Port(role string) int32 {
	switch role {
	case Metad:
		return MetadPort
	case Storaged:
		return StoragedPort
	default:
		return GraphdPort
	}
}

// HTTPPort is the default HTTP port of a component (ws_http_port; graphd's
// for an unknown role).
func HTTPPort(role string) int32 {
	switch role {
	case Metad:
		return MetadHTTPPort
	case Storaged:
		return StoragedHTTPPort
	default:
		return GraphdHTTPPort
	}
}

// Config is a component's spec.<role>.config (nil if the component is
// absent).
func Config(nc *v1alpha1.NebulaCluster, role string) map[string]string {
	switch {
	case role == Metad && nc.Spec.Metad != nil:
		return nc.Spec.Metad.Config
	case role == Storaged && nc.Spec.Storaged != nil:
		return nc.Spec.Storaged.Config
	case role == Graphd && nc.Spec.Graphd != nil:
		return nc.Spec.Graphd.Config
	}
	return nil
}

func configPort(nc *v1alpha1.NebulaCluster, role, flag string, def int32) int32 {
	if v, ok := Config(nc, role)[flag]; ok {
		if p, err := strconv.ParseInt(v, 10, 32); err == nil && p > 0 && p < 65536 {
			return int32(p)
		}
	}
	return def
}

// ThriftPort is a component's thrift port: its config's port, else the
// default.
func ThriftPort(nc *v1alpha1.NebulaCluster, role string) int32 {
	return configPort(nc, role, "port", Port(role))
}

// WSHTTPPort is a component's HTTP port: its config's ws_http_port, else
// the default.
func WSHTTPPort(nc *v1alpha1.NebulaCluster, role string) int32 {
	return configPort(nc, role, "ws_http_port", HTTPPort(role))
}

// AgentContainerName is the backup sidecar's container name.
const AgentContainerName = "ng-agent"

// RestoreAgentContainerName is the init container through which a restore
// fills a new cluster's volumes.
const RestoreAgentContainerName = "restore-agent"

// WorkloadName is the StatefulSet (and ConfigMap) name of a component.
func WorkloadName(cluster, role string) string { return cluster + "-" + role }

// ConfigMapName is the ConfigMap holding a component's flag file.
func ConfigMapName(cluster, role string) string { return WorkloadName(cluster, role) }

// ConfigVolumeName is the pod volume of the flag file's ConfigMap.
func ConfigVolumeName(cluster, role string) string { return WorkloadName(cluster, role) }

// FlagFileKey is the flag file's key in its ConfigMap, and its file name.
func FlagFileKey(role string) string { return "nebula-" + role + ".conf" }

// Paths in the containers.
const (
	InstallDir = "/usr/local/nebula"
	BinDir     = InstallDir + "/bin"
	EtcDir     = InstallDir + "/etc"
	LogDir     = InstallDir + "/logs"
	// LogSubPath is the log volume's directory mounted at LogDir.
	LogSubPath = "logs"
)

// FlagFilePath is where a component's flag file is mounted.
func FlagFilePath(role string) string { return EtcDir + "/" + FlagFileKey(role) }

// DataVolumeName is the volume (and volume claim template) of a
// component's data volume i: metad-data, storaged-data, storaged-data-1, ...
func DataVolumeName(role string, i int) string {
	if i > 0 {
		return fmt.Sprintf("%s-data-%d", role, i)
	}
	return role + "-data"
}

// LogVolumeName is the volume (and volume claim template) of a component's
// logs.
func LogVolumeName(role string) string { return role + "-log" }

// DataSubPath is the directory of data volume i mounted at DataMountPath(i).
func DataSubPath(i int) string {
	if i > 0 {
		return fmt.Sprintf("data%d", i)
	}
	return "data"
}

// DataMountPath is where data volume i is mounted.
func DataMountPath(i int) string { return InstallDir + "/" + DataSubPath(i) }

// DataPath is a component's data directory on data volume i (its
// --data_path): .../data/meta for metad, .../data[N]/storage for storaged.
func DataPath(role string, i int) string {
	dir := "storage"
	if role == Metad {
		dir = "meta"
	}
	return DataMountPath(i) + "/" + dir
}

// HeadlessName is the headless Service of a component.
func HeadlessName(cluster, role string) string { return cluster + "-" + role + "-headless" }

// GraphdServiceName is graphd's client Service, where applications and
// consoles connect: <cluster>-graphd-svc:9669.
func GraphdServiceName(cluster string) string { return cluster + "-graphd-svc" }

// PodFQDN is the DNS name of pod ordinal i of a component.
func PodFQDN(cluster, ns, role string, i int) string {
	return fmt.Sprintf("%s-%s-%d.%s.%s.svc.cluster.local", cluster, role, i, HeadlessName(cluster, role), ns)
}

// MetadAddress is metad-0's host:port, where br reaches the cluster.
func MetadAddress(nc *v1alpha1.NebulaCluster) string {
	return fmt.Sprintf("%s:%d", PodFQDN(nc.Name, nc.Namespace, Metad, 0), ThriftPort(nc, Metad))
}
