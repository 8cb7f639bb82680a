package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller"
	"github.com/nebula-open/nebula-br/internal/envtest"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

func TestMain(m *testing.M) {
	controllerOptions.SkipNameValidation = ptr.To(true)
	code := envtest.Main(m)
	miniotest.Cleanup()
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestHelp(t *testing.T) {
	if err := run(context.Background(), []string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}

// startRun runs the manager with args until the test ends and returns a
// channel that receives run's error if it ends early.
func startRun(t *testing.T, cfg *rest.Config, args ...string) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := make(chan struct{})
	var runErr error
	go func() {
		runErr = run(ctx, args, cfg)
		done <- runErr
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
			if runErr != nil {
				t.Errorf("run: %v", runErr)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop")
		}
	})
	return done
}

func waiter(t *testing.T, done <-chan error) func(string, func() error) {
	return func(what string, f func() error) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			if err = f(); err == nil {
				return
			}
			select {
			case e := <-done:
				t.Fatalf("manager exited: %v", e)
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Fatalf("%s: %v", what, err)
	}
}

// The manager, running as its ServiceAccount with only the permissions of
// config/rbac, runs a cluster and a backup through to the end, including
// the cleanBackupData finalizer.
func TestManagerWithConfigRBAC(t *testing.T) {
	env := envtest.Shared(t)
	ctx := context.Background()
	const saNS = "nebula-operator-system"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: saNS}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, f := range []string{"role.yaml", "role_binding.yaml", "leader_election_role.yaml", "leader_election_role_binding.yaml", "service_account.yaml"} {
		objs, err := envtest.ReadManifests(filepath.Join(env.Root, "config", "rbac", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Apply(ctx, saNS, objs...); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	cfg, err := env.UserConfig("system:serviceaccount:"+saNS+":nebula-operator", "system:serviceaccounts", "system:serviceaccounts:"+saNS)
	if err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	done := startRun(t, cfg, "--leader-elect", "--leader-election-namespace="+saNS,
		"--health-probe-bind-address=0", "--metrics-bind-address=0")
	wait := waiter(t, done)

	nc := &v1alpha1.NebulaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rb"},
		Spec: v1alpha1.NebulaClusterSpec{
			Metad:    &v1alpha1.MetadSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "m"}},
			Storaged: &v1alpha1.StoragedSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "s"}},
			Graphd:   &v1alpha1.GraphdSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "g"}},
			EnableBR: true,
		},
	}
	if err := env.Client.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	wait("cluster status", func() error {
		cur := &v1alpha1.NebulaCluster{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(nc), cur); err != nil {
			return err
		}
		if cur.Status.Phase != v1alpha1.ClusterCreating {
			return fmt.Errorf("phase %q", cur.Status.Phase)
		}
		return env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "rb-metad"}, &appsv1.StatefulSet{})
	})

	mio := miniotest.Shared(t)
	bucket := mio.Bucket(t, "rbac")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s3"},
		Data: map[string][]byte{"access-key": []byte(mio.AccessKey), "secret-key": []byte(mio.SecretKey)}}
	if err := env.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	const name = "BACKUP_2026_11_25_06_30_00"
	mc, err := mio.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, bucket, name+"/meta/x", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	nb := &v1alpha1.NebulaBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"},
		Spec: v1alpha1.NebulaBackupSpec{CleanBackupData: true, Config: &v1alpha1.BackupConfig{
			ClusterName: "rb",
			S3:          &v1alpha1.S3StorageProvider{Region: "us-east-1", Bucket: bucket, Endpoint: mio.Endpoint, SecretName: "s3"},
		}},
	}
	if err := env.Client.Create(ctx, nb); err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{}
	wait("backup Job", func() error {
		return env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "backup-full-b"}, job)
	})
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.Name == "AWS_SECRET_ACCESS_KEY" && e.ValueFrom.SecretKeyRef.Key != "secret-key" {
			t.Errorf("secret key ref %+v", e.ValueFrom.SecretKeyRef)
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backup-full-b-abc", Labels: map[string]string{"batch.kubernetes.io/job-name": job.Name}},
		Spec: *job.Spec.Template.Spec.DeepCopy()}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "backup", Image: pod.Spec.Containers[0].Image, ImageID: "sha256:0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: name, StartedAt: now, FinishedAt: now}}}}
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	wait("job status", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
			return err
		}
		start := metav1.NewTime(now.Add(-time.Second))
		job.Status.StartTime, job.Status.CompletionTime, job.Status.Succeeded = &start, &now, 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		return env.Client.Status().Update(ctx, job)
	})
	wait("Complete", func() error {
		cur := &v1alpha1.NebulaBackup{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(nb), cur); err != nil {
			return err
		}
		if cur.Status.Phase != v1alpha1.BackupComplete || cur.Status.BackupName != name {
			return fmt.Errorf("status %+v", cur.Status)
		}
		return nil
	})
	if err := env.Client.Delete(ctx, nb); err != nil {
		t.Fatal(err)
	}
	wait("backup removed", func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(nb), &v1alpha1.NebulaBackup{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("NebulaBackup still there (%v)", err)
		}
		return nil
	})
	for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: name + "/", Recursive: true}) {
		t.Errorf("object left: %s %v", o.Key, o.Err)
	}
}

// The manager starts with the Deployment's flags, wins the leader
// election, serves probes and metrics, and its controllers reconcile.
func TestManager(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	metrics, probes := freeAddr(t), freeAddr(t)
	done := startRun(t, env.Config, "--leader-elect", "--leader-election-namespace="+ns,
		"--health-probe-bind-address="+probes, "--metrics-bind-address="+metrics, "--agent-image=agent:x")
	wait := waiter(t, done)
	for _, path := range []string{"/healthz", "/readyz"} {
		wait(path, func() error {
			code, body, err := get("http://" + probes + path)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d: %s", code, body)
			}
			return err
		})
	}
	wait("leader lease", func() error {
		return env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: LeaderElectionID}, &coordinationv1.Lease{})
	})

	// The NebulaCluster controller runs: metad's StatefulSet appears.
	nc := &v1alpha1.NebulaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mgr"},
		Spec: v1alpha1.NebulaClusterSpec{
			Metad:    &v1alpha1.MetadSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "m", Replicas: ptr.To(int32(1))}},
			Storaged: &v1alpha1.StoragedSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "s"}},
			Graphd:   &v1alpha1.GraphdSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "g"}},
			EnableBR: true,
		},
	}
	if err := env.Client.Create(context.Background(), nc); err != nil {
		t.Fatal(err)
	}
	wait("metad StatefulSet", func() error {
		sts := &appsv1.StatefulSet{}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "mgr-metad"}, sts); err != nil {
			return err
		}
		for _, c := range sts.Spec.Template.Spec.Containers {
			if c.Name == "ng-agent" && c.Image == "agent:x" {
				return nil
			}
		}
		return fmt.Errorf("no ng-agent with the --agent-image")
	})

	controller.RecordBackup(controller.ResultComplete, ns, "mgr", time.Now().Add(-time.Minute), time.Now())
	wait("metrics", func() error {
		code, body, err := get("http://" + metrics + "/metrics")
		if err != nil {
			return err
		}
		for _, want := range []string{
			`nebula_backups_total{result="complete"}`,
			"nebula_backup_duration_seconds_bucket",
			`nebula_backup_last_success_timestamp_seconds{cluster="mgr",namespace="` + ns + `"}`,
			`controller_runtime_reconcile_total{controller="nebulacluster"`,
		} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("status %d, metrics lack %s", code, want)
			}
		}
		return nil
	})
}

// The manager, running as its ServiceAccount with only the permissions of
// config/rbac, schedules NebulaCronBackups: it creates their backups and
// deletes the finished ones beyond maxBackups.
func TestCronBackupWithConfigRBAC(t *testing.T) {
	env := envtest.Shared(t)
	ctx := context.Background()
	const saNS = "nebula-operator-system"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: saNS}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, f := range []string{"role.yaml", "role_binding.yaml", "service_account.yaml"} {
		objs, err := envtest.ReadManifests(filepath.Join(env.Root, "config", "rbac", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Apply(ctx, saNS, objs...); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	cfg, err := env.UserConfig("system:serviceaccount:"+saNS+":nebula-operator", "system:serviceaccounts", "system:serviceaccounts:"+saNS)
	if err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	done := startRun(t, cfg, "--health-probe-bind-address=0", "--metrics-bind-address=0")
	wait := waiter(t, done)

	// The cluster does not exist: every backup ends Invalid at once, which
	// lets the next one start.
	ncb := &v1alpha1.NebulaCronBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cron"},
		Spec: v1alpha1.NebulaCronBackupSpec{
			Schedule:   "@every 1s",
			MaxBackups: ptr.To(int32(1)),
			BackupTemplate: v1alpha1.NebulaBackupSpec{Config: &v1alpha1.BackupConfig{
				ClusterName: "missing",
				S3:          &v1alpha1.S3StorageProvider{Region: "us-east-1", Bucket: "backups", Endpoint: "http://127.0.0.1:9", SecretName: "s3"},
			}},
		},
	}
	if err := env.Client.Create(ctx, ncb); err != nil {
		t.Fatal(err)
	}
	wait("backups created and old ones deleted", func() error {
		cur := &v1alpha1.NebulaCronBackup{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ncb), cur); err != nil {
			return err
		}
		if cur.Status.LastBackup == "" || cur.Status.BackupCleanTime == nil {
			return fmt.Errorf("status %+v", cur.Status)
		}
		var list v1alpha1.NebulaBackupList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelCronBackup: "cron"}); err != nil {
			return err
		}
		if len(list.Items) == 0 || len(list.Items) > 2 {
			return fmt.Errorf("%d backups", len(list.Items))
		}
		for _, nb := range list.Items {
			if !metav1.IsControlledBy(&nb, cur) {
				return fmt.Errorf("backup %s not owned: %+v", nb.Name, nb.OwnerReferences)
			}
		}
		return nil
	})
}

// Upstream's chart command line (its controller-manager Deployment with the
// default values) runs unchanged, and the flags that change behaviour act:
// only the watched namespaces and the selected objects are reconciled, the
// Lease is upstream's, profiles are served.
func TestUpstreamChartFlags(t *testing.T) {
	env := envtest.Shared(t)
	ctx := context.Background()
	watched, other, leaseNS := env.Namespace(t), env.Namespace(t), env.Namespace(t)
	metrics, probes, pprof := freeAddr(t), freeAddr(t), freeAddr(t)
	done := startRun(t, env.Config,
		"--watch-namespaces="+watched, "--nebula-object-selector=team=a",
		"--sync-period=0h30m0s",
		"--concurrent-nebulacluster-syncs=3", "--concurrent-nebularestore-syncs=2",
		"--concurrent-nebulacronbackup-syncs=2", "--concurrent-nebulabackup-syncs=2",
		"--leader-elect", "--leader-elect-resource-namespace="+leaseNS,
		"--enable-admission-webhook=false", "--webhook-secure-port=9443", "--webhook-namespace=nebula-operator-system",
		"--webhook-server-name=nebula-operator-webhook-validating", "--webhook-names=a-service,b-service",
		"--certificate-validity=8760h", "--use-cert-generator=true", "--secret-namespace=nebula-operator-system",
		"--secret-name=nebula-operator-webhook-secret", "--kube-domain=cluster.local", "--enable-kruise-scheme=false",
		"--v=0", "--enable-pprof", "--profiling-bind-address="+pprof,
		"--health-probe-bind-address="+probes, "--metrics-bind-address="+metrics)
	wait := waiter(t, done)
	wait("upstream's leader Lease", func() error {
		return env.Client.Get(ctx, types.NamespacedName{Namespace: leaseNS, Name: "nebula-controller-manager"}, &coordinationv1.Lease{})
	})
	wait("pprof", func() error {
		code, _, err := get("http://" + pprof + "/debug/pprof/")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	cluster := func(ns, name string, lbl map[string]string) {
		nc := &v1alpha1.NebulaCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbl},
			Spec: v1alpha1.NebulaClusterSpec{
				Metad:    &v1alpha1.MetadSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "m", Replicas: ptr.To(int32(1))}},
				Storaged: &v1alpha1.StoragedSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "s"}},
				Graphd:   &v1alpha1.GraphdSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "g"}},
			},
		}
		if err := env.Client.Create(ctx, nc); err != nil {
			t.Fatal(err)
		}
	}
	// Those it must leave alone first, then the one it must run.
	cluster(other, "elsewhere", map[string]string{"team": "a"})
	cluster(watched, "unselected", map[string]string{"team": "b"})
	cluster(watched, "selected", map[string]string{"team": "a"})
	wait("the selected cluster's metad StatefulSet", func() error {
		return env.Client.Get(ctx, types.NamespacedName{Namespace: watched, Name: "selected-metad"}, &appsv1.StatefulSet{})
	})
	for _, n := range []types.NamespacedName{{Namespace: other, Name: "elsewhere-metad"}, {Namespace: watched, Name: "unselected-metad"}} {
		if err := env.Client.Get(ctx, n, &appsv1.StatefulSet{}); err == nil {
			t.Errorf("%s was created: the cluster is outside --watch-namespaces or --nebula-object-selector", n)
		}
	}
}

func TestFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--enable-kruise-scheme=true"},
		{"--concurrent-nebulacluster-syncs=0"},
		{"--nebula-object-selector=a in (b"},
		{"stray"},
	} {
		if err := run(context.Background(), args, nil); err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want an error", args, err)
		} else {
			t.Logf("%v: %v", args, err)
		}
	}
}
