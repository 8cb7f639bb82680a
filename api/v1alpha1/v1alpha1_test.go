package v1alpha1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func TestScheme(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for kind, obj := range map[string]runtime.Object{
		"NebulaCluster": &NebulaCluster{}, "NebulaClusterList": &NebulaClusterList{},
		"NebulaBackup": &NebulaBackup{}, "NebulaBackupList": &NebulaBackupList{},
		"NebulaRestore": &NebulaRestore{}, "NebulaRestoreList": &NebulaRestoreList{},
		"NebulaCronBackup": &NebulaCronBackup{}, "NebulaCronBackupList": &NebulaCronBackupList{},
	} {
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil || len(gvks) != 1 || gvks[0] != GroupVersion.WithKind(kind) {
			t.Errorf("%s: %v %v", kind, gvks, err)
		}
	}
	if got := Resource("nebularestores").String(); got != "nebularestores.apps.nebula-graph.io" {
		t.Errorf("Resource: %s", got)
	}
}

// TestSamplesDecodeStrictly decodes every sample of config/samples into the
// Go types with unknown fields as errors: the field names of the manifests
// are those of the types.
func TestSamplesDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob("../../config/samples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var obj any
			switch meta.Kind {
			case "NebulaCluster":
				obj = &NebulaCluster{}
			case "NebulaBackup":
				obj = &NebulaBackup{}
			case "NebulaRestore":
				obj = &NebulaRestore{}
			case "NebulaCronBackup":
				obj = &NebulaCronBackup{}
			default:
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

func TestEffectiveConfig(t *testing.T) {
	br := &RestoreConfig{ClusterName: "old"}
	cfg := &RestoreConfig{ClusterName: "new"}
	if got := (&NebulaRestoreSpec{BR: br}).EffectiveConfig(); got != br {
		t.Errorf("br only: %v", got)
	}
	if got := (&NebulaRestoreSpec{Config: cfg}).EffectiveConfig(); got != cfg {
		t.Errorf("config only: %v", got)
	}
	if got := (&NebulaRestoreSpec{}).EffectiveConfig(); got != nil {
		t.Errorf("neither: %v", got)
	}
}

func TestDeepCopy(t *testing.T) {
	ns := "prod"
	r := &NebulaRestore{Spec: NebulaRestoreSpec{BR: &RestoreConfig{ClusterName: "nebula", ClusterNamespace: &ns, S3: &S3StorageProvider{Bucket: "b"}}}}
	r.Status.Partitions = map[string][]HostAddr{"1/1": {{Host: "h", Port: 9779}}}
	c := r.DeepCopy()
	c.Spec.BR.S3.Bucket = "other"
	*c.Spec.BR.ClusterNamespace = "dev"
	c.Status.Partitions["1/1"][0].Port = 1
	if r.Spec.BR.S3.Bucket != "b" || *r.Spec.BR.ClusterNamespace != "prod" || r.Status.Partitions["1/1"][0].Port != 9779 {
		t.Errorf("DeepCopy shares memory: %+v", r)
	}
}
