package envtest_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

// TestSamples applies every manifest of config/samples (server-side apply,
// strict field validation, as `kubectl apply --server-side`) and checks what
// the API server stored.
func TestSamples(t *testing.T) {
	env := envtest.Shared(t)
	ctx := ctxT(t)
	ns := env.Namespace(t)

	files, err := filepath.Glob(filepath.Join(env.Root, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		objs, err := envtest.ReadManifests(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) == 0 {
			t.Errorf("%s: no objects", f)
		}
		for _, o := range objs {
			// Besides our kinds: the S3 Secret, and br restore --mode=k8s's
			// ServiceAccount, Role and RoleBinding (br_restore_rbac.yaml).
			other := map[string]bool{"v1/Secret": true, "v1/ServiceAccount": true,
				"rbac.authorization.k8s.io/v1/Role": true, "rbac.authorization.k8s.io/v1/RoleBinding": true}
			if !other[o.GetAPIVersion()+"/"+o.GetKind()] && o.GetAPIVersion() != v1alpha1.GroupVersion.String() {
				t.Errorf("%s: %s %s is not one of our kinds", f, o.GetAPIVersion(), o.GetKind())
			}
			kinds[o.GetKind()]++
		}
		if err := env.Apply(ctx, ns, objs...); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	for _, k := range []string{"NebulaCluster", "NebulaBackup", "NebulaRestore", "NebulaCronBackup"} {
		if kinds[k] == 0 {
			t.Errorf("no sample of %s", k)
		}
	}

	var nc v1alpha1.NebulaCluster
	if err := env.Client.Get(ctx, keyOf(ns, "nebula"), &nc); err != nil {
		t.Fatal(err)
	}
	if !nc.Spec.EnableBR || nc.Spec.Agent == nil || nc.Spec.Agent.HeartbeatInterval != 10 {
		t.Errorf("cluster: enableBR %v agent %+v", nc.Spec.EnableBR, nc.Spec.Agent)
	}
	if *nc.Spec.Storaged.Replicas != 3 || len(nc.Spec.Storaged.DataVolumeClaims) != 1 || nc.Spec.Metad.DataVolumeClaim == nil {
		t.Errorf("cluster storaged/metad: %+v / %+v", nc.Spec.Storaged, nc.Spec.Metad)
	}

	var incr v1alpha1.NebulaBackup
	if err := env.Client.Get(ctx, keyOf(ns, "nebula-incr"), &incr); err != nil {
		t.Fatal(err)
	}
	if incr.Spec.Config.BaseBackupName == nil || incr.Spec.Config.Concurrency != v1alpha1.DefaultConcurrency {
		t.Errorf("incremental backup: %+v", incr.Spec.Config)
	}

	// The older spec.br form is kept as written, with its defaults.
	var rt v1alpha1.NebulaRestore
	if err := env.Client.Get(ctx, keyOf(ns, "restore1"), &rt); err != nil {
		t.Fatal(err)
	}
	if rt.Spec.Config != nil || rt.Spec.BR == nil {
		t.Fatalf("restore1: config %+v br %+v", rt.Spec.Config, rt.Spec.BR)
	}
	c := rt.Spec.EffectiveConfig()
	if c.ClusterName != "nebula" || c.BackupName != "BACKUP_2023_02_12_10_04_16" || c.Concurrency != 5 ||
		c.S3 == nil || c.S3.SecretName != "aws-s3-secret" || c.ClusterNamespace == nil || *c.ClusterNamespace != "default" {
		t.Errorf("restore1 br: %+v s3 %+v", c, c.S3)
	}

	var ncb v1alpha1.NebulaCronBackup
	if err := env.Client.Get(ctx, keyOf(ns, "nebula-daily"), &ncb); err != nil {
		t.Fatal(err)
	}
	if ncb.Spec.Schedule != "0 2 * * *" || *ncb.Spec.MaxBackups != 7 || !ncb.Spec.BackupTemplate.CleanBackupData {
		t.Errorf("cron backup: %+v", ncb.Spec)
	}
}

// TestReferenceManifests applies the manifests of the reference page
// (config/samples/reference, copied from it verbatim).
func TestReferenceManifests(t *testing.T) {
	env := envtest.Shared(t)
	ctx := ctxT(t)
	ns := env.Namespace(t)
	dir := filepath.Join(env.Root, "config", "samples", "reference")

	// The backup Jobs apply as written.
	for _, f := range []string{"full-backup-job.yaml", "incremental-backup-job.yaml"} {
		objs, err := envtest.ReadManifests(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 || objs[0].GetKind() != "Job" {
			t.Fatalf("%s: %d objects", f, len(objs))
		}
		if err := env.Apply(ctx, ns, objs...); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var job batchv1.Job
		if err := env.Client.Get(ctx, keyOf(ns, objs[0].GetName()), &job); err != nil {
			t.Fatal(err)
		}
		cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " ")
		if !strings.Contains(cmd, "/usr/local/bin/br-ent") || !strings.Contains(cmd, "--storage s3://BUCKET") {
			t.Errorf("%s: command %q", f, cmd)
		}
	}

	// The restore page: a Secret and the Pod running br-ent restore full
	// --mode=k8s. The Pod applies as written; the Secret's values are
	// placeholders (<ACCESS_KEY> is not base64, which every API server
	// refuses), so they are replaced with base64 values first.
	objs, err := envtest.ReadManifests(filepath.Join(dir, "restore-secret-and-pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetKind() != "Secret" || objs[1].GetKind() != "Pod" {
		t.Fatalf("restore-secret-and-pod.yaml: %d objects", len(objs))
	}
	secret := objs[0].DeepCopy()
	data, _, _ := unstructured.NestedStringMap(secret.Object, "data")
	placeholder := regexp.MustCompile(`^<[A-Z_]+>$`)
	for k, v := range data {
		if placeholder.MatchString(v) {
			data[k] = base64.StdEncoding.EncodeToString([]byte(strings.Trim(v, "<>")))
		}
	}
	if err := unstructured.SetNestedStringMap(secret.Object, data, "data"); err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, ns, secret, objs[1]); err != nil {
		t.Fatal(err)
	}
	var s corev1.Secret
	if err := env.Client.Get(ctx, keyOf(ns, "aws-s3-secret"), &s); err != nil {
		t.Fatal(err)
	}
	if string(s.Data["access-key"]) != "ACCESS_KEY" || string(s.Data["secret-key"]) != "SECRET_KEY" {
		t.Errorf("secret keys: %v", s.Data)
	}
	var pod corev1.Pod
	if err := env.Client.Get(ctx, keyOf(ns, "nebula-restore"), &pod); err != nil {
		t.Fatal(err)
	}
	if cmd := strings.Join(pod.Spec.Containers[0].Command, " "); !strings.Contains(cmd, "restore full --mode=k8s") {
		t.Errorf("restore pod command %q", cmd)
	}

	// The NebulaCluster excerpt: "// Partial content of a sample cluster
	// YAML file", with `enableBR: true // Set to true ...` under `spec:` and
	// "..." for the rest. Read what it states and apply it on a complete
	// cluster: it must be our kind, and spec.enableBR a field of it.
	raw, err := os.ReadFile(filepath.Join(dir, "nebulacluster-enablebr-excerpt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^//.*$|\s+//.*$`).ReplaceAllString(string(raw), "")
	var excerpt map[string]any
	if err := yaml.Unmarshal([]byte(text), &excerpt); err != nil {
		t.Fatalf("excerpt: %v\n%s", err, text)
	}
	if excerpt["apiVersion"] != v1alpha1.GroupVersion.String() || excerpt["kind"] != "NebulaCluster" {
		t.Fatalf("excerpt: %v", excerpt)
	}
	enableBR, ok := excerpt["enableBR"].(bool)
	if !ok || !enableBR {
		t.Fatalf("excerpt: enableBR %v", excerpt["enableBR"])
	}
	name := excerpt["metadata"].(map[string]any)["name"].(string)
	full, err := envtest.ReadManifests(filepath.Join(env.Root, "config", "samples", "apps_v1alpha1_nebulacluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cluster := full[0]
	cluster.SetName(name)
	if err := unstructured.SetNestedField(cluster.Object, enableBR, "spec", "enableBR"); err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, ns, cluster); err != nil {
		t.Fatal(err)
	}
	var nc v1alpha1.NebulaCluster
	if err := env.Client.Get(ctx, keyOf(ns, name), &nc); err != nil {
		t.Fatal(err)
	}
	if !nc.Spec.EnableBR {
		t.Errorf("cluster %s: enableBR not set", name)
	}
}
