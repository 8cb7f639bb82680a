package naming

import (
	"maps"
	"testing"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
)

// The names upstream's nebula-operator 1.8 gives a cluster's objects: a
// StatefulSet's selector and claims cannot change, so taking a cluster over
// needs these exactly.
func TestUpstreamNames(t *testing.T) {
	for got, want := range map[string]string{
		WorkloadName("nebula", Storaged):        "nebula-storaged",
		ConfigMapName("nebula", Metad):          "nebula-metad",
		ConfigVolumeName("nebula", Metad):       "nebula-metad",
		FlagFileKey(Graphd):                     "nebula-graphd.conf",
		FlagFilePath(Graphd):                    "/usr/local/nebula/etc/nebula-graphd.conf",
		HeadlessName("nebula", Metad):           "nebula-metad-headless",
		GraphdServiceName("nebula"):             "nebula-graphd-svc",
		DataVolumeName(Metad, 0):                "metad-data",
		DataVolumeName(Storaged, 0):             "storaged-data",
		DataVolumeName(Storaged, 2):             "storaged-data-2",
		LogVolumeName(Graphd):                   "graphd-log",
		DataMountPath(0) + ":" + DataSubPath(0): "/usr/local/nebula/data:data",
		DataMountPath(1) + ":" + DataSubPath(1): "/usr/local/nebula/data1:data1",
		LogDir + ":" + LogSubPath:               "/usr/local/nebula/logs:logs",
		DataPath(Metad, 0):                      "/usr/local/nebula/data/meta",
		DataPath(Storaged, 1):                   "/usr/local/nebula/data1/storage",
		PodFQDN("nebula", "ns", Storaged, 1):    "nebula-storaged-1.nebula-storaged-headless.ns.svc.cluster.local",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	want := map[string]string{"app.kubernetes.io/name": "nebula-graph", "app.kubernetes.io/cluster": "nebula",
		"app.kubernetes.io/component": "graphd", "app.kubernetes.io/managed-by": "nebula-operator"}
	if got := Labels("nebula", Graphd); !maps.Equal(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
}

func TestPorts(t *testing.T) {
	nc := &v1alpha1.NebulaCluster{Spec: v1alpha1.NebulaClusterSpec{
		Metad:    &v1alpha1.MetadSpec{Config: map[string]string{"port": "9000", "ws_http_port": "x"}},
		Storaged: &v1alpha1.StoragedSpec{},
	}}
	nc.Name, nc.Namespace = "nc", "ns"
	if ThriftPort(nc, Metad) != 9000 || WSHTTPPort(nc, Metad) != 19559 || ThriftPort(nc, Storaged) != 9779 ||
		WSHTTPPort(nc, Storaged) != 19779 || WSHTTPPort(nc, Graphd) != 19669 {
		t.Errorf("ports %d %d %d %d %d", ThriftPort(nc, Metad), WSHTTPPort(nc, Metad), ThriftPort(nc, Storaged), WSHTTPPort(nc, Storaged), WSHTTPPort(nc, Graphd))
	}
	if got := MetadAddress(nc); got != "nc-metad-0.nc-metad-headless.ns.svc.cluster.local:9000" {
		t.Errorf("metad address %s", got)
	}
}
