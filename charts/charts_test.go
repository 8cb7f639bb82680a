// Package charts tests the Helm charts nebula-operator and nebula-cluster
// with Helm's own Go library (no helm binary): they lint, they render with
// their default values and with values files shaped like upstream
// nebula-operator 1.8.x's (testdata/), the rendered objects decode strictly
// into their API types and carry the values where upstream's charts put
// them, the manager accepts the command line the chart gives it, and a real
// API server (internal/envtest) accepts every rendered object.
package charts

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }

const (
	operatorChart = "nebula-operator"
	clusterChart  = "nebula-cluster"
	ns            = "nebula-operator-system"

	operatorValues = "testdata/upstream-operator-values.yaml"
	clusterValues  = "testdata/upstream-cluster-values.yaml"
)

// ---------------------------------------------------------------------------
// Rendering.

type object struct {
	u      *unstructured.Unstructured
	raw    []byte // the document as rendered
	source string // the template it came from
}

type rendered struct {
	objs  []object
	notes string
}

func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return v.AsMap()
}

// values parses inline YAML values.
func values(t *testing.T, s string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v.AsMap()
}

// render renders chart dir as `helm install --namespace namespace` would
// (client-only: no cluster is asked anything).
func render(chartDir, namespace string, vals map[string]any) (*rendered, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	if vals == nil {
		vals = map[string]any{}
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: "rel", Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	r := &rendered{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		content := files[name]
		base := filepath.Base(name)
		switch {
		case base == "NOTES.txt":
			r.notes = content
			continue
		case strings.HasPrefix(base, "_"):
			continue
		}
		rd := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(content)))
		for {
			doc, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := yaml.Unmarshal(doc, &m); err != nil {
				return nil, errors.New(name + ": " + err.Error())
			}
			if len(m) == 0 {
				continue
			}
			r.objs = append(r.objs, object{u: &unstructured.Unstructured{Object: m}, raw: doc, source: name})
		}
	}
	return r, nil
}

func mustRender(t *testing.T, chartName string, vals map[string]any) *rendered {
	t.Helper()
	r, err := render(chartName, ns, vals)
	if err != nil {
		t.Fatalf("render %s: %v", chartName, err)
	}
	return r
}

func (r *rendered) kinds() []string {
	var out []string
	for _, o := range r.objs {
		out = append(out, o.u.GetKind()+"/"+o.u.GetName())
	}
	return out
}

func (r *rendered) find(t *testing.T, kind, name string) object {
	t.Helper()
	for _, o := range r.objs {
		if o.u.GetKind() == kind && o.u.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s among %v", kind, name, r.kinds())
	return object{}
}

func (r *rendered) count(kind string) int {
	n := 0
	for _, o := range r.objs {
		if o.u.GetKind() == kind {
			n++
		}
	}
	return n
}

// decodeStrict decodes the rendered document into its API type, refusing
// unknown fields.
func decodeStrict[T any](t *testing.T, o object) *T {
	t.Helper()
	v := new(T)
	if err := yaml.UnmarshalStrict(o.raw, v); err != nil {
		t.Fatalf("%s %s (%s): strict decoding: %v\n%s", o.u.GetKind(), o.u.GetName(), o.source, err, o.raw)
	}
	return v
}

// eq compares semantically (quantities by value) and reports the lines of
// the two values' YAML that differ.
func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !equality.Semantic.DeepEqual(got, want) {
		gy, _ := yaml.Marshal(got)
		wy, _ := yaml.Marshal(want)
		t.Errorf("%s differs (- want, + got):\n%s", what, lineDiff(string(wy), string(gy)))
	}
}

// lineDiff is a longest-common-subsequence diff of two texts' lines.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + y[j] + "\n")
			j++
		default:
			out.WriteString("- " + x[i] + "\n")
			i++
		}
	}
	return out.String()
}

func qty(s string) resource.Quantity { return resource.MustParse(s) }

func ptr[T any](v T) *T { return &v }

// ---------------------------------------------------------------------------
// Files copied from config/ by make generate (hack/gen-k8s.sh).

func TestChartCopiesMatchConfig(t *testing.T) {
	bases, err := filepath.Glob("../config/crd/bases/*.yaml")
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	copies, _ := filepath.Glob(operatorChart + "/crds/*.yaml")
	var want, got []string
	for _, f := range bases {
		want = append(want, filepath.Base(f))
	}
	for _, f := range copies {
		got = append(got, filepath.Base(f))
	}
	eq(t, "crds/ files (run make generate)", got, want)
	same := func(a, b string) {
		da, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs from %s: run make generate (hack/gen-k8s.sh copies it)", b, a)
		}
	}
	for _, f := range bases {
		same(f, filepath.Join(operatorChart, "crds", filepath.Base(f)))
	}
	same("../config/rbac/role.yaml", operatorChart+"/files/role.yaml")

	// Helm installs what it loads from crds/.
	ch, err := loader.Load(operatorChart)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ch.CRDObjects()); n != len(bases) {
		t.Errorf("helm loads %d CRDs from the chart, want %d", n, len(bases))
	}
}

// ---------------------------------------------------------------------------
// Lint.

func TestLint(t *testing.T) {
	cases := []struct {
		chart string
		vals  map[string]any
		name  string
	}{
		{operatorChart, nil, "operator defaults"},
		{operatorChart, readValues(t, operatorValues), "operator upstream values"},
		{operatorChart, values(t, upstream180OperatorValues), "operator 1.8.0 values"},
		{clusterChart, nil, "cluster defaults"},
		{clusterChart, readValues(t, clusterValues), "cluster upstream values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals := c.vals
			if vals == nil {
				vals = map[string]any{}
			}
			l := lint.All(c.chart, vals, ns, false)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				} else {
					t.Logf("lint: %s", m)
				}
			}
		})
	}
}

// A broken template must fail lint (so that TestLint can fail).
func TestLintFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(clusterChart)); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "templates", "bad.yaml")
	if err := os.WriteFile(bad, []byte("kind: {{ .Values.nebula.version | nosuchfunc }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := lint.All(dir, map[string]any{}, ns, false)
	if l.HighestSeverity < support.ErrorSev {
		t.Fatalf("lint of a broken chart: highest severity %d, messages %v", l.HighestSeverity, l.Messages)
	}
}

// ---------------------------------------------------------------------------
// nebula-operator.

var defaultArgs = []string{
	"--leader-elect",
	"--leader-elect-resource-namespace=" + ns,
	"--health-probe-bind-address=:8081",
	"--metrics-bind-address=:8080",
	"--sync-period=0h30m0s",
	"--concurrent-nebulacluster-syncs=5",
	"--concurrent-nebulabackup-syncs=5",
	"--concurrent-nebulacronbackup-syncs=5",
	"--concurrent-nebularestore-syncs=5",
	"--enable-admission-webhook=false",
	"--webhook-secure-port=9443",
	"--webhook-namespace=" + ns,
	"--webhook-server-name=nebula-operator-webhook-validating",
	"--webhook-names=controller-manager-nebula-operator-webhook-service,autoscaler-nebula-operator-webhook-service",
	"--certificate-validity=5m",
	"--use-cert-generator=true",
	"--secret-namespace=" + ns,
	"--secret-name=nebula-operator-webhook-secret",
	"--kube-domain=cluster.local",
	"--enable-kruise-scheme=false",
	"--v=0",
}

func managerContainer(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "controller-manager" {
			return c
		}
	}
	t.Fatalf("no controller-manager container in %s", d.Name)
	return corev1.Container{}
}

func clusterRoleRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile("../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cr rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &cr); err != nil {
		t.Fatal(err)
	}
	if len(cr.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	return cr.Rules
}

func TestOperatorDefaults(t *testing.T) {
	r := mustRender(t, operatorChart, nil)
	eq(t, "objects", r.kinds(), []string{
		"Deployment/nebula-operator-controller-manager-deployment",
		"Service/nebula-operator-controller-manager-metrics",
		"ServiceAccount/nebula-operator-controller-manager-sa",
		"ClusterRole/nebula-operator-controller-manager-role",
		"ClusterRoleBinding/nebula-operator-controller-manager-rolebinding",
		"Role/nebula-operator-controller-manager-election-role",
		"RoleBinding/nebula-operator-controller-manager-election-rolebinding",
	})
	for _, o := range r.objs {
		switch o.u.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
		default:
			if o.u.GetNamespace() != ns {
				t.Errorf("%s %s in namespace %q, want %q", o.u.GetKind(), o.u.GetName(), o.u.GetNamespace(), ns)
			}
		}
	}

	d := decodeStrict[appsv1.Deployment](t, r.find(t, "Deployment", "nebula-operator-controller-manager-deployment"))
	eq(t, "replicas", d.Spec.Replicas, ptr(int32(2)))
	ps := d.Spec.Template.Spec
	eq(t, "serviceAccountName", ps.ServiceAccountName, "nebula-operator-controller-manager-sa")
	eq(t, "pod securityContext", ps.SecurityContext, &corev1.PodSecurityContext{
		RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)), RunAsGroup: ptr(int64(65532)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	})
	eq(t, "containers", len(ps.Containers), 1)
	eq(t, "no init containers", len(ps.InitContainers), 0)
	eq(t, "no volumes", len(ps.Volumes), 0)
	eq(t, "no scheduling", []any{ps.NodeSelector, ps.Affinity, ps.Tolerations, ps.ImagePullSecrets},
		[]any{map[string]string(nil), (*corev1.Affinity)(nil), []corev1.Toleration(nil), []corev1.LocalObjectReference(nil)})
	c := managerContainer(t, d)
	eq(t, "image", c.Image, "nebula-operator:latest")
	eq(t, "imagePullPolicy", c.ImagePullPolicy, corev1.PullIfNotPresent)
	eq(t, "command", c.Command, []string{"/nebula-operator"})
	eq(t, "args", c.Args, defaultArgs)
	eq(t, "env", c.Env, []corev1.EnvVar{{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}})
	eq(t, "resources", c.Resources, corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: qty("100m"), corev1.ResourceMemory: qty("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: qty("1"), corev1.ResourceMemory: qty("512Mi")},
	})
	eq(t, "liveness", c.LivenessProbe.HTTPGet.Path, "/healthz")
	eq(t, "readiness", c.ReadinessProbe.HTTPGet.Path, "/readyz")
	eq(t, "probe port", c.ReadinessProbe.HTTPGet.Port, intstr.FromString("health"))
	eq(t, "ports", c.Ports, []corev1.ContainerPort{
		{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP},
	})
	eq(t, "container securityContext", c.SecurityContext, &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	})
	eq(t, "selector matches the pod", d.Spec.Selector.MatchLabels["app.kubernetes.io/name"], d.Spec.Template.Labels["app.kubernetes.io/name"])

	cr := decodeStrict[rbacv1.ClusterRole](t, r.find(t, "ClusterRole", "nebula-operator-controller-manager-role"))
	eq(t, "ClusterRole rules (config/rbac/role.yaml)", cr.Rules, clusterRoleRules(t))
	crb := decodeStrict[rbacv1.ClusterRoleBinding](t, r.find(t, "ClusterRoleBinding", "nebula-operator-controller-manager-rolebinding"))
	eq(t, "ClusterRoleBinding", []any{crb.RoleRef.Name, crb.Subjects}, []any{cr.Name, []rbacv1.Subject{
		{Kind: "ServiceAccount", Name: "nebula-operator-controller-manager-sa", Namespace: ns}}})
	role := decodeStrict[rbacv1.Role](t, r.find(t, "Role", "nebula-operator-controller-manager-election-role"))
	eq(t, "election Role resources", [][]string{role.Rules[0].Resources, role.Rules[1].Resources}, [][]string{{"leases"}, {"events"}})
	rb := decodeStrict[rbacv1.RoleBinding](t, r.find(t, "RoleBinding", "nebula-operator-controller-manager-election-rolebinding"))
	eq(t, "RoleBinding", []any{rb.RoleRef.Name, rb.Subjects[0].Name}, []any{role.Name, "nebula-operator-controller-manager-sa"})
	svc := decodeStrict[corev1.Service](t, r.find(t, "Service", "nebula-operator-controller-manager-metrics"))
	eq(t, "metrics Service selector", svc.Spec.Selector, d.Spec.Selector.MatchLabels)

	if strings.Contains(r.notes, "NOTE:") {
		t.Errorf("defaults give notes:\n%s", r.notes)
	}
}

func TestOperatorUpstreamValues(t *testing.T) {
	r := mustRender(t, operatorChart, readValues(t, operatorValues))
	// nameOverride names everything; no webhook, scheduler or CRD-upgrade
	// objects come with their keys.
	eq(t, "objects", r.kinds(), []string{
		"Deployment/nbo-controller-manager-deployment",
		"Service/nbo-controller-manager-metrics",
		"ServiceAccount/nbo-controller-manager-sa",
		"ClusterRole/nbo-controller-manager-role",
		"ClusterRoleBinding/nbo-controller-manager-rolebinding",
		"Role/nbo-controller-manager-election-role",
		"RoleBinding/nbo-controller-manager-election-rolebinding",
	})
	d := decodeStrict[appsv1.Deployment](t, r.find(t, "Deployment", "nbo-controller-manager-deployment"))
	eq(t, "replicas", d.Spec.Replicas, ptr(int32(3)))
	eq(t, "name label", d.Spec.Template.Labels["app.kubernetes.io/name"], "nbo")
	ps := d.Spec.Template.Spec
	eq(t, "imagePullSecrets", ps.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}})
	eq(t, "securityContext", ps.SecurityContext, &corev1.PodSecurityContext{
		RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(65532)), FSGroup: ptr(int64(2000)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	})
	eq(t, "nodeSelector", ps.NodeSelector, map[string]string{"disktype": "ssd"})
	eq(t, "tolerations", ps.Tolerations, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "nebula", Effect: corev1.TaintEffectNoSchedule}})
	eq(t, "affinity", ps.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values, []string{"linux"})
	eq(t, "init containers", ps.InitContainers, []corev1.Container{{Name: "init-auth", Image: "busybox:1.36", Command: []string{"/bin/sh", "-c", "true"}}})
	eq(t, "volumes", ps.Volumes, []corev1.Volume{{Name: "credentials", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}})
	eq(t, "sidecars", ps.Containers[1:], []corev1.Container{
		{Name: "netshoot", Image: "nicolaka/netshoot", Command: []string{"/bin/sh"}, Args: []string{"-c", "sleep infinity"}},
		{Name: "templated", Image: "registry.example.com/nebula-br/nebula-operator:v9.9.9", Command: []string{"/bin/true"}},
	})
	c := managerContainer(t, d)
	eq(t, "image", c.Image, "registry.example.com/nebula-br/nebula-operator:v9.9.9")
	eq(t, "imagePullPolicy", c.ImagePullPolicy, corev1.PullAlways)
	eq(t, "args", c.Args, []string{
		"--leader-elect",
		"--leader-elect-resource-namespace=" + ns,
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8080",
		"--watch-namespaces=ns1,ns2",
		"--nebula-object-selector=env=prod,tier!=test",
		"--sync-period=1h15m0s",
		"--concurrent-nebulacluster-syncs=6",
		"--concurrent-nebulabackup-syncs=8",
		"--concurrent-nebulacronbackup-syncs=9",
		"--concurrent-nebularestore-syncs=7",
		"--enable-admission-webhook=true",
		"--webhook-secure-port=9543",
		"--webhook-namespace=" + ns,
		"--webhook-server-name=nbo-webhook-validating",
		"--webhook-names=controller-manager-nbo-webhook-service,autoscaler-nbo-webhook-service",
		"--certificate-validity=48h",
		"--use-cert-generator=false",
		"--secret-namespace=" + ns,
		"--secret-name=nbo-webhook-secret",
		"--kube-domain=example.org",
		"--enable-kruise-scheme=false",
		"--v=4",
	})
	eq(t, "env", c.Env[1:], []corev1.EnvVar{{Name: "KUBERNETES_CLUSTER_DOMAIN", Value: "example.org"}, {Name: "EXTRA_ENV", Value: "extra"}})
	eq(t, "volumeMounts", c.VolumeMounts, []corev1.VolumeMount{{Name: "credentials", MountPath: "/credentials"}})
	eq(t, "resources", c.Resources, corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: qty("150m"), corev1.ResourceMemory: qty("150Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: qty("300m"), corev1.ResourceMemory: qty("300Mi")},
	})
	for _, want := range []string{"admissionWebhook", "scheduler"} {
		if !strings.Contains(r.notes, "NOTE: "+want) {
			t.Errorf("notes do not mention %s:\n%s", want, r.notes)
		}
	}
}

// This chart's own keys, and controllerManager's scheduling keys over the
// top-level ones.
func TestOperatorOwnKeys(t *testing.T) {
	r := mustRender(t, operatorChart, values(t, `
operatorImage: mirror.example.com/nebula-operator:v1
image: {nebulaOperator: {image: ignored:v0}}
brImage: mirror.example.com/br:v1
agentImage: mirror.example.com/br-agent:v1
restoreTimeout: 2h30m
syncPeriod: ""
profiling: {enabled: true, bindAddress: ":6061"}
metricsService: {create: false}
nodeSelector: {a: top}
tolerations: [{key: top, operator: Exists}]
controllerManager:
  extraArgs: ["--leader-elect-lease-duration=30s"]
  nodeSelector: {a: cm}
  tolerations: [{key: cm, operator: Exists}]
  securityContext: null
`))
	if n := r.count("Service"); n != 0 {
		t.Errorf("metricsService.create false: %d Services", n)
	}
	d := decodeStrict[appsv1.Deployment](t, r.find(t, "Deployment", "nebula-operator-controller-manager-deployment"))
	c := managerContainer(t, d)
	eq(t, "image", c.Image, "mirror.example.com/nebula-operator:v1")
	want := append([]string{}, defaultArgs...)
	for i, a := range want {
		if strings.HasPrefix(a, "--sync-period=") {
			want = append(want[:i], want[i+1:]...)
			break
		}
	}
	want = append(want, "--br-image=mirror.example.com/br:v1", "--agent-image=mirror.example.com/br-agent:v1",
		"--restore-timeout=2h30m", "--enable-pprof", "--profiling-bind-address=:6061", "--leader-elect-lease-duration=30s")
	eq(t, "args", c.Args, want)
	ps := d.Spec.Template.Spec
	eq(t, "nodeSelector", ps.NodeSelector, map[string]string{"a": "cm"})
	eq(t, "tolerations", ps.Tolerations, []corev1.Toleration{{Key: "cm", Operator: corev1.TolerationOpExists}})
	eq(t, "securityContext: null", ps.SecurityContext, (*corev1.PodSecurityContext)(nil))
}

// Upstream's image, as upstream's values files name it, cannot run this
// chart's command line: the chart's own image runs, and the notes say so.
func TestOperatorUpstreamImageReplaced(t *testing.T) {
	for _, img := range []string{"vesoft/nebula-operator:v1.8.7", "reg.example.com/vesoft/nebula-operator:v1.8.3", "docker.io/vesoft/nebula-operator@sha256:0123"} {
		r := mustRender(t, operatorChart, map[string]any{"image": map[string]any{"nebulaOperator": map[string]any{"image": img}}})
		d := decodeStrict[appsv1.Deployment](t, r.find(t, "Deployment", "nebula-operator-controller-manager-deployment"))
		eq(t, img, managerContainer(t, d).Image, "nebula-operator:latest")
		if !strings.Contains(r.notes, img) {
			t.Errorf("%s: the notes do not say it was replaced:\n%s", img, r.notes)
		}
	}
	// A name that merely ends alike is not upstream's.
	r := mustRender(t, operatorChart, map[string]any{"image": map[string]any{"nebulaOperator": map[string]any{"image": "example.com/notvesoft/nebula-operator:v1"}}})
	d := decodeStrict[appsv1.Deployment](t, r.find(t, "Deployment", "nebula-operator-controller-manager-deployment"))
	eq(t, "other image", managerContainer(t, d).Image, "example.com/notvesoft/nebula-operator:v1")
}

// upstream180OperatorValues has 1.8.0's webhook keys.
const upstream180OperatorValues = `
image:
  nebulaOperator:
    image: vesoft/nebula-operator:v1.8.0
    imagePullPolicy: Always
admissionWebhook:
  create: true
  webhookBindPort: 9555
`

func TestOperator180WebhookKeys(t *testing.T) {
	r := mustRender(t, operatorChart, values(t, upstream180OperatorValues))
	d := decodeStrict[appsv1.Deployment](t, r.find(t, "Deployment", "nebula-operator-controller-manager-deployment"))
	args := strings.Join(managerContainer(t, d).Args, " ")
	for _, a := range []string{"--enable-admission-webhook=true", "--webhook-secure-port=9555"} {
		if !strings.Contains(args, a) {
			t.Errorf("args lack %s: %s", a, args)
		}
	}
}

func TestOperatorRefusals(t *testing.T) {
	_, err := render(operatorChart, ns, map[string]any{"enableKruiseScheme": true})
	if err == nil || !strings.Contains(err.Error(), "OpenKruise") {
		t.Errorf("enableKruiseScheme true: %v, want an error naming OpenKruise", err)
	}
	r := mustRender(t, operatorChart, map[string]any{"controllerManager": map[string]any{"create": false}})
	if len(r.objs) != 0 {
		t.Errorf("controllerManager.create false renders %v", r.kinds())
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(operatorChart)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "files", "role.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := render(dir, ns, nil); err == nil || !strings.Contains(err.Error(), "files/role.yaml") {
		t.Errorf("without files/role.yaml: %v, want an error naming it", err)
	}
}

// The manager accepts every command line the chart gives it: its flags
// parse (--help last stops it before it does anything else).
func TestOperatorBinaryAcceptsArgs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/nebula-operator")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the manager with")
	}
	bin := filepath.Join(t.TempDir(), "nebula-operator")
	build := exec.Command(goBin, "build", "-o", bin, "../cmd/nebula-operator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/nebula-operator: %v\n%s", err, out)
	}
	cases := map[string]map[string]any{
		"defaults":        nil,
		"upstream values": readValues(t, operatorValues),
		"1.8.0 values":    values(t, upstream180OperatorValues),
		"own keys":        values(t, `{brImage: b:1, agentImage: a:1, restoreTimeout: 90m, profiling: {enabled: true}}`),
	}
	for name, vals := range cases {
		r := mustRender(t, operatorChart, vals)
		var d *appsv1.Deployment
		for _, o := range r.objs {
			if o.u.GetKind() == "Deployment" {
				d = decodeStrict[appsv1.Deployment](t, o)
			}
		}
		if d == nil {
			t.Fatalf("%s: no Deployment", name)
		}
		args := append(managerContainer(t, d).Args, "--help")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		if err != nil || strings.Contains(string(out), "not defined") {
			t.Errorf("%s: nebula-operator %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	// And the check can fail: an unknown flag is refused.
	out, err := exec.Command(bin, "--no-such-flag", "--help").CombinedOutput()
	if err == nil {
		t.Errorf("nebula-operator accepted --no-such-flag:\n%s", out)
	}
}

// ---------------------------------------------------------------------------
// nebula-cluster.

func rl(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: qty(cpu), corev1.ResourceMemory: qty(mem)}
}

func claim(size string, class *string) *v1alpha1.StorageClaim {
	return &v1alpha1.StorageClaim{
		Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: qty(size)}},
		StorageClassName: class,
	}
}

func decodeCluster(t *testing.T, r *rendered, name string) *v1alpha1.NebulaCluster {
	t.Helper()
	if n := r.count("NebulaCluster"); n != 1 {
		t.Fatalf("%d NebulaClusters rendered, want 1", n)
	}
	nc := decodeStrict[v1alpha1.NebulaCluster](t, r.find(t, "NebulaCluster", name))
	eq(t, "apiVersion", nc.APIVersion, v1alpha1.GroupVersion.String())
	eq(t, "namespace", nc.Namespace, ns)
	eq(t, "labels", nc.Labels, map[string]string{
		"app.kubernetes.io/version":    "0.1.0",
		"app.kubernetes.io/managed-by": "Helm",
		"helm.sh/chart":                "nebula-cluster-0.1.0",
	})
	return nc
}

// Upstream's defaults, mapped as upstream's chart maps them (except the
// agent image: see TestClusterUpstreamAgentImage).
func TestClusterDefaults(t *testing.T) {
	r := mustRender(t, clusterChart, nil)
	eq(t, "objects", r.kinds(), []string{"NebulaCluster/nebula-cluster"})
	nc := decodeCluster(t, r, "nebula-cluster")
	res := func(rc, rm, lc, lm string) *corev1.ResourceRequirements {
		return &corev1.ResourceRequirements{Requests: rl(rc, rm), Limits: rl(lc, lm)}
	}
	want := v1alpha1.NebulaClusterSpec{
		Graphd: &v1alpha1.GraphdSpec{
			ComponentSpec: v1alpha1.ComponentSpec{Replicas: ptr(int32(2)), Image: "vesoft/nebula-graphd", Version: "v3.6.0",
				Resources: res("500m", "500Mi", "1", "500Mi")},
			Service: &v1alpha1.GraphdServiceSpec{ServiceSpec: v1alpha1.ServiceSpec{Type: corev1.ServiceTypeNodePort},
				ExternalTrafficPolicy: ptr(corev1.ServiceExternalTrafficPolicyLocal)},
			LogVolumeClaim: claim("500Mi", nil),
		},
		Metad: &v1alpha1.MetadSpec{
			ComponentSpec: v1alpha1.ComponentSpec{Replicas: ptr(int32(3)), Image: "vesoft/nebula-metad", Version: "v3.6.0",
				Resources: res("500m", "500Mi", "1", "1Gi")},
			LogVolumeClaim:  claim("500Mi", nil),
			DataVolumeClaim: claim("2Gi", nil),
		},
		Storaged: &v1alpha1.StoragedSpec{
			ComponentSpec: v1alpha1.ComponentSpec{Replicas: ptr(int32(3)), Image: "vesoft/nebula-storaged", Version: "v3.6.0",
				Resources: res("500m", "500Mi", "1", "1Gi")},
			LogVolumeClaim:    claim("500Mi", nil),
			DataVolumeClaims:  []v1alpha1.StorageClaim{*claim("10Gi", nil)},
			EnableAutoBalance: ptr(false),
			EnableForceUpdate: ptr(false),
		},
		Exporter: &v1alpha1.ExporterSpec{
			ComponentSpec: v1alpha1.ComponentSpec{Replicas: ptr(int32(1)), Image: "vesoft/nebula-stats-exporter", Version: "v3.3.0",
				Resources: res("100m", "128Mi", "200m", "256Mi")},
			MaxRequests: 20,
		},
		Agent:                     &v1alpha1.AgentSpec{Resources: res("100m", "128Mi", "200m", "256Mi")},
		Console:                   &v1alpha1.ConsoleSpec{Username: "root", Password: "nebula", Image: "vesoft/nebula-console", Version: "latest"},
		Reference:                 &v1alpha1.WorkloadReference{Name: "statefulsets.apps", Version: "v1"},
		ImagePullPolicy:           corev1.PullAlways,
		SchedulerName:             "default-scheduler",
		TopologySpreadConstraints: []v1alpha1.TopologySpreadConstraint{{TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway}},
		CoredumpPreservation:      &v1alpha1.CoredumpPreservation{MaxTimeKept: ptr("72h"), VolumeSpecs: claim("5Gi", nil)},
	}
	eq(t, "spec", nc.Spec, want)
}

func nodeAffinity(pool string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{pool}}},
		}}},
	}}
}

// fullComponent is what testdata/upstream-cluster-values.yaml gives each
// of graphd, metad, storaged and the exporter: the same keys, with values
// derived from the role.
func fullComponent(role, label, image, version string, replicas int32, res *corev1.ResourceRequirements, uid int64,
	ready, live *corev1.Probe, aff *corev1.Affinity) v1alpha1.ComponentSpec {
	return v1alpha1.ComponentSpec{
		Replicas:        ptr(replicas),
		Image:           image,
		Version:         version,
		Resources:       res,
		Env:             []corev1.EnvVar{{Name: strings.ToUpper(role) + "_ENV", Value: role[:1]}},
		Labels:          map[string]string{"role": label},
		Annotations:     map[string]string{"note": role},
		NodeSelector:    map[string]string{"pool": label},
		Affinity:        aff,
		Tolerations:     []corev1.Toleration{{Key: label, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		SecurityContext: &corev1.SecurityContext{RunAsUser: ptr(uid)},
		InitContainers:  []v1alpha1.Container{{Name: role + "-init", Image: "busybox:1.36", Command: []string{"true"}}},
		SidecarContainers: []v1alpha1.Container{{Name: role + "-sidecar", Image: "busybox:1.36",
			Command: []string{"sleep", "infinity"}}},
		Volumes:        []v1alpha1.Volume{{Name: role + "-extra", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		VolumeMounts:   []corev1.VolumeMount{{Name: role + "-extra", MountPath: "/extra"}},
		ReadinessProbe: ready,
		LivenessProbe:  live,
	}
}

func httpProbe(path string, port int, period int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port))}}, PeriodSeconds: period}
}

func tcpProbe(port int, period int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, PeriodSeconds: period}
}

// Every key of upstream's values, set, lands where upstream's chart puts it.
func TestClusterUpstreamValues(t *testing.T) {
	r := mustRender(t, clusterChart, readValues(t, clusterValues))
	eq(t, "objects", r.kinds(), []string{
		"NebulaCluster/mycluster",
		"PodDisruptionBudget/mycluster-graphd-pdb",
		"PodDisruptionBudget/mycluster-metad-pdb",
		"PodDisruptionBudget/mycluster-storaged-pdb",
	})
	nc := decodeCluster(t, r, "mycluster")
	class := ptr("fast-ssd")
	res := func(rc, rm, lc, lm string) *corev1.ResourceRequirements {
		return &corev1.ResourceRequirements{Requests: rl(rc, rm), Limits: rl(lc, lm)}
	}
	graphdAffinity := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 50, PodAffinityTerm: corev1.PodAffinityTerm{
			TopologyKey:   "kubernetes.io/hostname",
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": "graphd"}},
		}}},
	}}
	want := v1alpha1.NebulaClusterSpec{
		Graphd: &v1alpha1.GraphdSpec{
			ComponentSpec: fullComponent("graphd", "graph", "reg.example.com/vesoft/nebula-graphd", "v3.8.0", 4,
				res("600m", "600Mi", "2", "700Mi"), 1001, httpProbe("/status", 19669, 7), tcpProbe(9669, 11), graphdAffinity),
			Config: map[string]string{"max_sessions_per_ip_per_user": "600", "session_idle_timeout_secs": "1800", "enable_authorize": "true"},
			Service: &v1alpha1.GraphdServiceSpec{ServiceSpec: v1alpha1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
				ExternalTrafficPolicy: ptr(corev1.ServiceExternalTrafficPolicyLocal)},
			// logVolume.enable false: no claim.
		},
		Metad: &v1alpha1.MetadSpec{
			ComponentSpec: fullComponent("metad", "meta", "reg.example.com/vesoft/nebula-metad", "v3.8.0", 1,
				res("700m", "700Mi", "3", "2Gi"), 1002, httpProbe("/status", 19559, 8), tcpProbe(9559, 12), nodeAffinity("meta")),
			Config: map[string]string{"heartbeat_interval_secs": "5"},
			// Upstream's chart gives metad its log claim whatever logVolume.enable says.
			LogVolumeClaim:    claim("2Gi", class),
			DataVolumeClaim:   claim("5Gi", class),
			LicenseManagerURL: ptr("lm.example.com:9119"),
			License:           &v1alpha1.LicenseSpec{SecretName: "nebula-license", LicenseKey: "nebula.license"},
		},
		Storaged: &v1alpha1.StoragedSpec{
			ComponentSpec: fullComponent("storaged", "storage", "reg.example.com/vesoft/nebula-storaged", "v3.8.0", 5,
				res("800m", "800Mi", "4", "4Gi"), 1003, httpProbe("/status", 19779, 9), tcpProbe(9779, 13), nodeAffinity("storage")),
			Config:            map[string]string{"rocksdb_block_cache": "1048576"},
			LogVolumeClaim:    claim("3Gi", class),
			DataVolumeClaims:  []v1alpha1.StorageClaim{*claim("20Gi", class), *claim("30Gi", class)},
			EnableAutoBalance: ptr(true),
			EnableForceUpdate: ptr(true),
		},
		Exporter: &v1alpha1.ExporterSpec{
			ComponentSpec: fullComponent("exporter", "exporter", "reg.example.com/vesoft/nebula-stats-exporter", "v3.3.1", 2,
				res("110m", "130Mi", "210m", "260Mi"), 1004, httpProbe("/health", 9100, 10), httpProbe("/health", 9100, 14), nodeAffinity("exporter")),
			MaxRequests: 30,
		},
		Agent: &v1alpha1.AgentSpec{
			Image: "reg.example.com/nebula-br/br-agent", Version: "v9.9.9",
			Resources:    res("120m", "140Mi", "220m", "280Mi"),
			Env:          []corev1.EnvVar{{Name: "AGENT_ENV", Value: "a"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "metad-extra", MountPath: "/agent-extra"}},
		},
		Console: &v1alpha1.ConsoleSpec{Username: "admin", Password: "secret", Image: "reg.example.com/vesoft/nebula-console",
			Version: "v3.8.0", NodeSelector: map[string]string{"pool": "console"}},
		Reference:                 &v1alpha1.WorkloadReference{Name: "statefulsets.apps", Version: "v1"},
		ImagePullPolicy:           corev1.PullIfNotPresent,
		ImagePullSecrets:          []corev1.LocalObjectReference{{Name: "regcred"}},
		SchedulerName:             "other-scheduler",
		TopologySpreadConstraints: []v1alpha1.TopologySpreadConstraint{{TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.DoNotSchedule}},
		EnablePVReclaim:           true,
		EnableBR:                  true,
		LogRotate:                 &v1alpha1.LogRotate{Rotate: 7, Size: "100M"},
		AlpineImage:               ptr("reg.example.com/alpine:3.20"),
		SSLCerts: &v1alpha1.SSLCertsSpec{ServerSecret: "server-cert", ClientSecret: "client-cert", CASecret: "ca-cert",
			InsecureSkipVerify: ptr(true), AutoMountServerCerts: ptr(true)},
		CoredumpPreservation: &v1alpha1.CoredumpPreservation{MaxTimeKept: ptr("24h"), VolumeSpecs: claim("8Gi", class)},
	}
	eq(t, "spec", nc.Spec, want)

	pdb := func(role string) *policyv1.PodDisruptionBudget {
		p := decodeStrict[policyv1.PodDisruptionBudget](t, r.find(t, "PodDisruptionBudget", "mycluster-"+role+"-pdb"))
		eq(t, role+" pdb namespace", p.Namespace, ns)
		eq(t, role+" pdb selector", p.Spec.Selector.MatchLabels, map[string]string{
			v1alpha1.LabelCluster: "mycluster", v1alpha1.LabelComponent: role})
		return p
	}
	g, m, s := pdb("graphd"), pdb("metad"), pdb("storaged")
	eq(t, "graphd pdb", []*intstr.IntOrString{g.Spec.MinAvailable, g.Spec.MaxUnavailable}, []*intstr.IntOrString{ptr(intstr.FromInt32(3)), nil})
	eq(t, "metad pdb (minAvailable -1)", []*intstr.IntOrString{m.Spec.MinAvailable, m.Spec.MaxUnavailable}, []*intstr.IntOrString{nil, ptr(intstr.FromInt32(2))})
	eq(t, "storaged pdb", []*intstr.IntOrString{s.Spec.MinAvailable, s.Spec.MaxUnavailable}, []*intstr.IntOrString{ptr(intstr.FromString("60%")), nil})
}

// The operator runs br-agent in the agent sidecar, which upstream's
// nebula-agent image does not have: that image (the default of upstream's
// values) leaves spec.agent.image out, so that the operator's own applies.
func TestClusterUpstreamAgentImage(t *testing.T) {
	for _, img := range []string{"vesoft/nebula-agent", "reg.example.com/vesoft/nebula-agent"} {
		r := mustRender(t, clusterChart, values(t, "nebula: {enableBR: true, agent: {image: "+img+", version: latest}}"))
		nc := decodeCluster(t, r, "nebula-cluster")
		eq(t, img, []string{nc.Spec.Agent.Image, nc.Spec.Agent.Version}, []string{"", ""})
		eq(t, "resources kept", nc.Spec.Agent.Resources != nil, true)
	}
}

// As upstream's chart: sslCerts only with alpineImage; no coredump volume
// when disabled; metad's log claim regardless of logVolume.enable.
func TestClusterUpstreamQuirks(t *testing.T) {
	r := mustRender(t, clusterChart, values(t, `
nebula:
  sslCerts: {serverSecret: s}
  coredumpPreservation: {enable: false}
  metad: {logVolume: {enable: false}}
  graphd: {logVolume: {enable: false}}
  storaged: {logVolume: {enable: false}}
`))
	nc := decodeCluster(t, r, "nebula-cluster")
	eq(t, "sslCerts without alpineImage", nc.Spec.SSLCerts, (*v1alpha1.SSLCertsSpec)(nil))
	eq(t, "coredumpPreservation", nc.Spec.CoredumpPreservation, (*v1alpha1.CoredumpPreservation)(nil))
	eq(t, "log claims", []bool{nc.Spec.Graphd.LogVolumeClaim == nil, nc.Spec.Metad.LogVolumeClaim == nil, nc.Spec.Storaged.LogVolumeClaim == nil},
		[]bool{true, false, true})
}

func TestClusterPDBRefusal(t *testing.T) {
	_, err := render(clusterChart, ns, values(t, "pdb: {graphd: {enable: true, minAvailable: -1, maxUnavailable: -1}}"))
	if err == nil || !strings.Contains(err.Error(), "pdb.graphd") {
		t.Errorf("negative minAvailable and maxUnavailable: %v, want an error naming pdb.graphd", err)
	}
	r := mustRender(t, clusterChart, values(t, "pdb: {metad: {enable: true, minAvailable: 0, maxUnavailable: 0}}"))
	p := decodeStrict[policyv1.PodDisruptionBudget](t, r.find(t, "PodDisruptionBudget", "nebula-cluster-metad-pdb"))
	eq(t, "maxUnavailable 0", []*intstr.IntOrString{p.Spec.MinAvailable, p.Spec.MaxUnavailable}, []*intstr.IntOrString{nil, ptr(intstr.FromInt32(0))})
}

// ---------------------------------------------------------------------------
// Every key of upstream's values files (1.8.0 to 1.8.7) is in ours, and
// the test values set each one.

var upstreamOperatorKeys = []string{
	"admissionWebhook.autoscalerAdmissionWebhook.create", "admissionWebhook.autoscalerAdmissionWebhook.webhookBindPort",
	"admissionWebhook.certValidity", "admissionWebhook.contollerManagerAdmissionWebhook.create",
	"admissionWebhook.contollerManagerAdmissionWebhook.webhookBindPort", "admissionWebhook.useCertManager",
	"affinity", "concurrentAutoscalerSyncs", "concurrentNebulaBackupSyncs", "concurrentNebulaClusterSyncs",
	"concurrentNebulaCronBackupSyncs", "concurrentNebulaRestoreSyncs", "controllerManager.create", "controllerManager.env",
	"controllerManager.extraInitContainers", "controllerManager.extraVolumeMounts", "controllerManager.extraVolumes",
	"controllerManager.replicas", "controllerManager.resources.limits.cpu", "controllerManager.resources.limits.memory",
	"controllerManager.resources.requests.cpu", "controllerManager.resources.requests.memory",
	"controllerManager.securityContext", "controllerManager.sidecarContainers", "controllerManager.verbosity",
	"enableKruiseScheme", "image.nebulaOperator.image", "image.nebulaOperator.imagePullPolicy", "imagePullSecrets",
	"kubernetesClusterDomain", "nebulaObjectSelector", "nodeSelector", "scheduler.create", "scheduler.env",
	"scheduler.plugins.disabled", "scheduler.plugins.enabled", "scheduler.podMaxInUnschedulablePodsDuration",
	"scheduler.replicas", "scheduler.resources.limits.cpu", "scheduler.resources.limits.memory",
	"scheduler.resources.requests.cpu", "scheduler.resources.requests.memory", "scheduler.schedulerName",
	"scheduler.verbosity", "syncPeriod", "tolerations", "upgradeCRD", "watchNamespaces",
	// Used by upstream's templates, not in its values.yaml.
	"nameOverride", "fullnameOverride",
}

// 1.8.0's webhook keys: accepted (TestOperator180WebhookKeys), documented
// in a comment of values.yaml rather than set there.
var upstream180OperatorKeys = []string{"admissionWebhook.create", "admissionWebhook.webhookBindPort"}

func clusterKeys() []string {
	keys := []string{
		"fullnameOverride", "imagePullSecrets", "nameOverride",
		"nebula.agent.env", "nebula.agent.image", "nebula.agent.resources.limits.cpu", "nebula.agent.resources.limits.memory",
		"nebula.agent.resources.requests.cpu", "nebula.agent.resources.requests.memory", "nebula.agent.version",
		"nebula.agent.volumeMounts", "nebula.alpineImage", "nebula.console.image", "nebula.console.nodeSelector",
		"nebula.console.password", "nebula.console.username", "nebula.console.version",
		"nebula.coredumpPreservation.enable", "nebula.coredumpPreservation.maxTimeKept", "nebula.coredumpPreservation.volumeSize",
		"nebula.enableBR", "nebula.enableForceUpdate", "nebula.enablePVReclaim", "nebula.exporter.maxRequests",
		"nebula.exporter.version", "nebula.graphd.serviceType", "nebula.imagePullPolicy", "nebula.logRotate",
		"nebula.metad.dataVolume.storage", "nebula.metad.license", "nebula.metad.licenseManagerURL",
		"nebula.reference.name", "nebula.reference.version", "nebula.schedulerName", "nebula.sslCerts",
		"nebula.storageClassName", "nebula.storaged.dataVolumes", "nebula.storaged.enableAutoBalance",
		"nebula.topologySpreadConstraints", "nebula.version",
	}
	for _, c := range []string{"graphd", "metad", "storaged", "exporter"} {
		for _, k := range []string{"affinity", "env", "image", "initContainers", "livenessProbe", "nodeSelector",
			"podAnnotations", "podLabels", "readinessProbe", "replicas", "resources.limits.cpu", "resources.limits.memory",
			"resources.requests.cpu", "resources.requests.memory", "securityContext", "sidecarContainers", "tolerations",
			"volumeMounts", "volumes"} {
			keys = append(keys, "nebula."+c+"."+k)
		}
		if c != "exporter" {
			keys = append(keys, "nebula."+c+".config", "nebula."+c+".logVolume.enable", "nebula."+c+".logVolume.storage")
		}
	}
	for _, c := range []string{"graphd", "metad", "storaged"} {
		for _, k := range []string{"enable", "minAvailable", "maxUnavailable"} {
			keys = append(keys, "pdb."+c+"."+k)
		}
	}
	return keys
}

func hasPath(m map[string]any, path string) bool {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts {
		mm, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = mm[p]; !ok {
			return false
		}
	}
	return true
}

func TestUpstreamKeysCovered(t *testing.T) {
	check := func(keys []string, what string, v map[string]any) {
		for _, k := range keys {
			if !hasPath(v, k) {
				t.Errorf("%s lacks upstream's key %s", what, k)
			}
		}
	}
	for _, f := range []string{operatorChart + "/values.yaml", operatorValues} {
		check(upstreamOperatorKeys, f, readValues(t, f))
	}
	check(upstream180OperatorKeys, "upstream180OperatorValues", values(t, upstream180OperatorValues))
	for _, f := range []string{clusterChart + "/values.yaml", clusterValues} {
		check(clusterKeys(), f, readValues(t, f))
	}
	if n := len(clusterKeys()); n != 134 {
		t.Errorf("%d upstream nebula-cluster keys listed, want 134", n)
	}
	// The 1.8.0-only keys are documented where the others are.
	doc, err := os.ReadFile(operatorChart + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range upstream180OperatorKeys {
		if !bytes.Contains(doc, []byte(k)) {
			t.Errorf("values.yaml does not mention 1.8.0's %s", k)
		}
	}
}

// ---------------------------------------------------------------------------
// A real API server accepts every rendered object (strict field
// validation, the CRDs' schemas and rules), as `helm install` would send
// them.

func TestChartsApplyToAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver")
	}
	env := envtest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cases := []struct {
		name, chart string
		vals        map[string]any
	}{
		{"operator defaults", operatorChart, nil},
		{"operator upstream values", operatorChart, readValues(t, operatorValues)},
		{"cluster defaults", clusterChart, nil},
		{"cluster upstream values", clusterChart, readValues(t, clusterValues)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			namespace := env.Namespace(t)
			r, err := render(c.chart, namespace, c.vals)
			if err != nil {
				t.Fatal(err)
			}
			var objs []*unstructured.Unstructured
			for _, o := range r.objs {
				objs = append(objs, o.u)
			}
			if err := env.Apply(ctx, namespace, objs...); err != nil {
				t.Fatal(err)
			}
		})
	}
	// And the check can fail: a value the CRD refuses is refused.
	namespace := env.Namespace(t)
	r, err := render(clusterChart, namespace, values(t, "nebula: {graphd: {serviceType: Bogus}}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, namespace, r.objs[0].u); err == nil || !strings.Contains(err.Error(), "Bogus") {
		t.Errorf("graphd serviceType Bogus: %v, want the API server to refuse it", err)
	}
}
