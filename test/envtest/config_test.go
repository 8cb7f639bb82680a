package envtest_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

const (
	operatorNS = "nebula-operator-system"
	operatorSA = "system:serviceaccount:" + operatorNS + ":nebula-operator"
)

// TestConfigManifests applies config/rbac and config/manager and checks the
// manager's Deployment (probes on 8081, metrics on 8080) and that its
// ServiceAccount may do what the controllers need and nothing more.
func TestConfigManifests(t *testing.T) {
	env := envtest.Shared(t)
	ctx := ctxT(t)

	// The Namespace first (kustomize orders it so too).
	var objs = readDir(t, env, "manager")
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return boolInt(b.GetKind() == "Namespace") - boolInt(a.GetKind() == "Namespace")
	})
	objs = append(objs, readDir(t, env, "rbac")...)
	if err := env.Apply(ctx, "", objs...); err != nil {
		t.Fatal(err)
	}

	var dep appsv1.Deployment
	if err := env.Client.Get(ctx, keyOf(operatorNS, "nebula-operator"), &dep); err != nil {
		t.Fatal(err)
	}
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != "nebula-operator" || len(pod.Containers) != 1 {
		t.Fatalf("deployment pod: %+v", pod)
	}
	c := pod.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["metrics"] != 8080 || ports["health"] != 8081 {
		t.Errorf("ports %v, want metrics 8080 and health 8081", ports)
	}
	for name, probe := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port.String() != "health" {
			t.Errorf("probe %s: %+v", name, probe)
		}
	}
	args := strings.Join(c.Args, " ")
	for _, a := range []string{"--health-probe-bind-address=:8081", "--metrics-bind-address=:8080", "--leader-elect"} {
		if !strings.Contains(args, a) {
			t.Errorf("args %q lack %s", args, a)
		}
	}

	// No wildcard anywhere in the generated ClusterRole.
	var role rbacv1.ClusterRole
	if err := env.Client.Get(ctx, keyOf("", "nebula-operator"), &role); err != nil {
		t.Fatal(err)
	}
	for _, r := range role.Rules {
		if slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
			t.Errorf("wildcard rule %+v", r)
		}
	}

	// Act as the ServiceAccount, as the manager will.
	saCfg, err := env.UserConfig(operatorSA, "system:serviceaccounts", "system:serviceaccounts:"+operatorNS, "system:authenticated")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := client.New(saCfg, client.Options{Scheme: envtest.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var backups v1alpha1.NebulaBackupList
	if err := sa.List(ctx, &backups); err != nil {
		t.Errorf("as the operator, list NebulaBackups in every namespace: %v", err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: operatorNS}}
	if err := sa.Create(ctx, secret); !apierrors.IsForbidden(err) {
		t.Errorf("as the operator, create a Secret: %v, want Forbidden", err)
	}

	// Ask the API server's RBAC authorizer what the ServiceAccount may do.
	type ask struct {
		verb, group, resource, sub, ns string
		allowed                        bool
	}
	for _, a := range []ask{
		{"create", "apps.nebula-graph.io", "nebulaclusters", "", "prod", true},
		{"watch", "apps.nebula-graph.io", "nebularestores", "", "", true},
		{"patch", "apps.nebula-graph.io", "nebulabackups", "status", "prod", true},
		{"update", "apps.nebula-graph.io", "nebulabackups", "finalizers", "prod", true},
		{"delete", "apps.nebula-graph.io", "nebulabackups", "", "prod", true},
		{"create", "apps", "statefulsets", "", "prod", true},
		{"create", "", "configmaps", "", "prod", true},
		{"create", "", "services", "", "prod", true},
		{"create", "batch", "jobs", "", "prod", true},
		{"list", "", "pods", "", "prod", true},
		{"get", "", "secrets", "", "prod", true},
		{"delete", "", "persistentvolumeclaims", "", "prod", true},
		{"create", "", "events", "", "prod", true},
		{"update", "coordination.k8s.io", "leases", "", operatorNS, true},
		// and not more:
		{"create", "", "secrets", "", "prod", false},
		{"update", "", "secrets", "", "prod", false},
		{"delete", "", "pods", "", "prod", false},
		{"create", "", "pods", "", "prod", false},
		{"create", "", "pods", "exec", "prod", false},
		{"update", "coordination.k8s.io", "leases", "", "prod", false},
		{"get", "", "nodes", "", "", false},
		{"create", "rbac.authorization.k8s.io", "rolebindings", "", "prod", false},
		{"update", "apiextensions.k8s.io", "customresourcedefinitions", "", "", false},
		{"create", "apps", "deployments", "", "prod", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   operatorSA,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNS, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.sub, Namespace: a.ns,
			},
		}}
		if err := env.Client.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != a.allowed {
			t.Errorf("%s %s/%s %s in %q: allowed %v, want %v (%s)", a.verb, a.group, a.resource, a.sub, a.ns,
				sar.Status.Allowed, a.allowed, sar.Status.Reason)
		}
	}
}

func readDir(t *testing.T, env *envtest.Env, dir string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env.Root, "config", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		o, err := envtest.ReadManifests(f)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	if len(objs) == 0 {
		t.Fatalf("config/%s: no manifests", dir)
	}
	return objs
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
