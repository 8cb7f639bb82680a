// Package naming holds the names and ports of a NebulaCluster's objects,
// shared by the controllers: the NebulaCluster controller creates the
// objects under these names, and the backup and restore controllers reach
// the pods through them.
package naming

import (
	"fmt"

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

// Well-known ports.
const (
	MetadPort    = 9559
	StoragedPort = 9779
	GraphdPort   = 9669
	AgentPort    = 8888
)

// Port is the thrift port of a component (graphd's for an unknown role).
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

// AgentContainerName is the backup sidecar's container name.
const AgentContainerName = "ng-agent"

// RestoreAgentContainerName is the init container through which a restore
// fills a new cluster's volumes.
const RestoreAgentContainerName = "restore-agent"

// WorkloadName is the StatefulSet (and ConfigMap) name of a component.
func WorkloadName(cluster, role string) string { return cluster + "-" + role }

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
	return fmt.Sprintf("%s:%d", PodFQDN(nc.Name, nc.Namespace, Metad, 0), MetadPort)
}
