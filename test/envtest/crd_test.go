package envtest_test

import (
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/discovery"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

// TestCRDs checks what `kubectl get` relies on: the four kinds are served,
// under the short names of the reference page and upstream (nc, nb, rt and
// nr, ncb), in the category "nebula", with a status subresource and the
// print columns (NebulaRestore's: Status, Restored-Cluster, Started,
// Completed, Age).
func TestCRDs(t *testing.T) {
	env := envtest.Shared(t)
	ctx := ctxT(t)

	want := map[string]struct {
		kind    string
		short   []string
		columns []string
	}{
		"nebulaclusters": {"NebulaCluster", []string{"nc"},
			[]string{"Ready", "Phase", "Graphd-Desired", "Graphd-Ready", "Metad-Desired", "Metad-Ready", "Storaged-Desired", "Storaged-Ready", "Age"}},
		"nebulabackups": {"NebulaBackup", []string{"nb"},
			[]string{"Type", "Backup", "Status", "Started", "Completed", "Age"}},
		"nebularestores": {"NebulaRestore", []string{"rt", "nr"},
			[]string{"Status", "Restored-Cluster", "Started", "Completed", "Age"}},
		"nebulacronbackups": {"NebulaCronBackup", []string{"ncb"},
			[]string{"Schedule", "Pause", "LastBackup", "LastScheduleTime", "LastSuccessfulTime", "BackupCleanTime", "Age"}},
	}

	// The CRDs as stored: established, one served version with status.
	for plural, w := range want {
		var crd apiextensionsv1.CustomResourceDefinition
		name := plural + "." + v1alpha1.Group
		if err := env.Client.Get(ctx, keyOf("", name), &crd); err != nil {
			t.Fatalf("CRD %s: %v", name, err)
		}
		established := false
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		if !established {
			t.Errorf("CRD %s is not established: %+v", name, crd.Status.Conditions)
		}
		if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
			t.Errorf("CRD %s: scope %s", name, crd.Spec.Scope)
		}
		if !slices.Contains(crd.Spec.Names.Categories, "nebula") {
			t.Errorf("CRD %s: categories %v", name, crd.Spec.Names.Categories)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v1alpha1" || !crd.Spec.Versions[0].Served || !crd.Spec.Versions[0].Storage {
			t.Fatalf("CRD %s: versions %+v", name, crd.Spec.Versions)
		}
		v := crd.Spec.Versions[0]
		if v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("CRD %s: no status subresource", name)
		}
		var cols []string
		for _, c := range v.AdditionalPrinterColumns {
			cols = append(cols, c.Name)
		}
		if !slices.Equal(cols, w.columns) {
			t.Errorf("CRD %s: print columns %v, want %v", name, cols, w.columns)
		}
	}

	// Discovery, which is what kubectl resolves `get rt` through.
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion(v1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range list.APIResources {
		served[r.Name] = true
	}
	seen := map[string]bool{}
	for _, r := range list.APIResources {
		w, ok := want[r.Name]
		if !ok {
			continue // subresources
		}
		seen[r.Name] = true
		if r.Kind != w.kind || !r.Namespaced {
			t.Errorf("%s: kind %s namespaced %v", r.Name, r.Kind, r.Namespaced)
		}
		if !slices.Equal(r.ShortNames, w.short) {
			t.Errorf("%s: short names %v, want %v", r.Name, r.ShortNames, w.short)
		}
		if !slices.Contains(r.Categories, "nebula") {
			t.Errorf("%s: categories %v", r.Name, r.Categories)
		}
		if !served[r.Name+"/status"] {
			t.Errorf("%s: no %s/status in discovery", r.Name, r.Name)
		}
	}
	for plural := range want {
		if !seen[plural] {
			t.Errorf("%s not served", plural)
		}
	}
}
