package envtest_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nebula-open/nebula-br/internal/envtest"
)

// TestGeneratedUpToDate regenerates, into a temporary directory, what
// `make generate` (hack/gen-k8s.sh) writes from api/ and
// internal/controller (deepcopy, CRDs, the manager's ClusterRole) and
// compares it with the committed files.
func TestGeneratedUpToDate(t *testing.T) {
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	install := exec.Command("bash", filepath.Join(root, "hack", "tools", "install.sh"), "controller-gen")
	install.Dir = root
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("install controller-gen: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	gen := exec.Command(filepath.Join(root, "bin", "controller-gen"),
		"object", "crd", "rbac:roleName=nebula-operator",
		"paths=./api/...", "paths=./internal/controller/...",
		"output:object:dir="+filepath.Join(tmp, "object"),
		"output:crd:dir="+filepath.Join(tmp, "crd"),
		"output:rbac:dir="+filepath.Join(tmp, "rbac"))
	gen.Dir = root
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, out)
	}

	compare := func(generated, committed string) {
		t.Helper()
		want, err := os.ReadFile(generated)
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join(root, committed))
		if err != nil {
			t.Errorf("%s: %v (run make generate)", committed, err)
			return
		}
		if !bytes.Equal(want, have) {
			t.Errorf("%s is not what controller-gen generates from the markers: run make generate", committed)
		}
	}
	compare(filepath.Join(tmp, "object", "zz_generated.deepcopy.go"), "api/v1alpha1/zz_generated.deepcopy.go")
	compare(filepath.Join(tmp, "rbac", "role.yaml"), "config/rbac/role.yaml")
	crds, err := filepath.Glob(filepath.Join(tmp, "crd", "*.yaml"))
	if err != nil || len(crds) != 4 {
		t.Fatalf("generated CRDs: %v %v", crds, err)
	}
	for _, f := range crds {
		compare(f, filepath.Join("config", "crd", "bases", filepath.Base(f)))
	}
	committed, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if len(committed) != len(crds) {
		t.Errorf("config/crd/bases holds %d CRDs, controller-gen makes %d: run make generate", len(committed), len(crds))
	}
}
