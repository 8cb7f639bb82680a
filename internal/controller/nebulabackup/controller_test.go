package nebulabackup_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/nebulabackup"
	"github.com/nebula-open/nebula-br/internal/envtest"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
)

func TestMain(m *testing.M) {
	code := envtest.Main(m)
	miniotest.Cleanup()
	os.Exit(code)
}

type fixture struct {
	t      *testing.T
	env    *envtest.Env
	c      client.Client
	ns     string
	minio  *miniotest.Server
	bucket string
}

// setup starts a manager with the NebulaBackup controller for a fresh
// namespace holding a NebulaCluster "nc", a Secret "s3" with MinIO's keys
// and a bucket.
func setup(t *testing.T) *fixture {
	t.Helper()
	env := envtest.Shared(t)
	f := &fixture{t: t, env: env, c: env.Client, ns: env.Namespace(t), minio: miniotest.Shared(t)}
	f.bucket = f.minio.Bucket(t, "nb")
	ctx := context.Background()
	nc := &v1alpha1.NebulaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "nc"},
		Spec: v1alpha1.NebulaClusterSpec{
			Metad:    &v1alpha1.MetadSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "m"}},
			Storaged: &v1alpha1.StoragedSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "s"}},
			Graphd:   &v1alpha1.GraphdSpec{ComponentSpec: v1alpha1.ComponentSpec{Image: "g"}},
			EnableBR: true,
		},
	}
	if err := f.c.Create(ctx, nc); err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "s3"},
		Data:       map[string][]byte{"access_key": []byte(f.minio.AccessKey), "secret_key": []byte(f.minio.SecretKey)},
	}
	if err := f.c.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	envtest.StartManager(t, env, []string{f.ns}, func(mgr ctrl.Manager) error {
		return (&nebulabackup.Reconciler{BRImage: "nebula-br/br:test", NameWait: 3 * time.Second}).SetupWithManager(mgr)
	})
	return f
}

func (f *fixture) backup(name string, mutate func(*v1alpha1.NebulaBackup)) *v1alpha1.NebulaBackup {
	f.t.Helper()
	nb := &v1alpha1.NebulaBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: v1alpha1.NebulaBackupSpec{Config: &v1alpha1.BackupConfig{
			ClusterName: "nc",
			S3: &v1alpha1.S3StorageProvider{
				Region: "us-east-1", Bucket: f.bucket, Endpoint: f.minio.Endpoint, SecretName: "s3",
			},
		}},
	}
	if mutate != nil {
		mutate(nb)
	}
	if err := f.c.Create(context.Background(), nb); err != nil {
		f.t.Fatal(err)
	}
	return nb
}

func eventually(t *testing.T, what string, f func() (bool, error)) {
	t.Helper()
	envtest.Eventually(t, 40*time.Second, what, f)
}

func (f *fixture) waitPhase(nb *v1alpha1.NebulaBackup, phase v1alpha1.BackupPhase) *v1alpha1.NebulaBackup {
	f.t.Helper()
	cur := &v1alpha1.NebulaBackup{}
	eventually(f.t, nb.Name+" phase "+string(phase), func() (bool, error) {
		err := f.c.Get(context.Background(), client.ObjectKeyFromObject(nb), cur)
		return err == nil && cur.Status.Phase == phase, err
	})
	return cur
}

func (f *fixture) waitJob(name string) *batchv1.Job {
	f.t.Helper()
	job := &batchv1.Job{}
	eventually(f.t, "Job "+name, func() (bool, error) {
		err := f.c.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, job)
		return err == nil, err
	})
	return job
}

// finishPod plays the kubelet: a pod of the Job whose container terminated
// with the given message.
func (f *fixture) finishPod(job *batchv1.Job, exitCode int32, msg string) {
	f.t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: job.Name + "-x1", Labels: map[string]string{
			"batch.kubernetes.io/job-name": job.Name, "job-name": job.Name,
		}},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	if err := f.c.Create(ctx, pod); err != nil {
		f.t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	if exitCode != 0 {
		pod.Status.Phase = corev1.PodFailed
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "backup", Image: pod.Spec.Containers[0].Image, ImageID: "sha256:0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, Message: msg, StartedAt: now, FinishedAt: now, Reason: "Completed",
		}},
	}}
	if err := f.c.Status().Update(ctx, pod); err != nil {
		f.t.Fatalf("pod status: %v", err)
	}
}

// finishJob plays the Job controller.
func (f *fixture) finishJob(name string, ok bool) {
	f.t.Helper()
	ctx := context.Background()
	eventually(f.t, "Job status update", func() (bool, error) {
		job := &batchv1.Job{}
		if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: name}, job); err != nil {
			return false, err
		}
		now := metav1.Now()
		start := metav1.NewTime(now.Add(-time.Second))
		job.Status.StartTime = &start
		if ok {
			job.Status.Succeeded = 1
			job.Status.CompletionTime = &now
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
			}
		} else {
			job.Status.Failed = 1
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now, LastProbeTime: now},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now, LastProbeTime: now},
			}
		}
		err := f.c.Status().Update(ctx, job)
		if err != nil && !apierrors.IsConflict(err) {
			f.t.Fatalf("job status: %v", err)
		}
		return err == nil, err
	})
}

func TestParseBackupName(t *testing.T) {
	for msg, want := range map[string]string{
		"BACKUP_2026_11_25_05_41_55":                      "BACKUP_2026_11_25_05_41_55",
		"BACKUP_2026_11_25_05_41_55\n":                    "BACKUP_2026_11_25_05_41_55",
		"backup BACKUP_2023_02_12_10_04_16 done, 3 hosts": "BACKUP_2023_02_12_10_04_16",
		"error: cannot reach metad":                       "",
		"":                                                "",
	} {
		if got := nebulabackup.ParseBackupName(msg); got != want {
			t.Errorf("ParseBackupName(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestBackupJobAndComplete(t *testing.T) {
	f := setup(t)
	nb := f.backup("nb1", func(nb *v1alpha1.NebulaBackup) { nb.Spec.Config.Concurrency = 7 })
	job := f.waitJob("backup-full-nb1")

	ct := job.Spec.Template.Spec.Containers[0]
	want := []string{"backup", "full",
		"--meta", "nc-metad-0.nc-metad-headless." + f.ns + ".svc.cluster.local:9559",
		"--storage", "s3://" + f.bucket,
		"--s3.region", "us-east-1", "--s3.endpoint", f.minio.Endpoint,
		"--concurrency", "7",
		"--termination-log", "/dev/termination-log"}
	if !slices.Equal(ct.Args, want) || !slices.Equal(ct.Command, []string{"br"}) {
		t.Errorf("job command %q args %q, want args %q", ct.Command, ct.Args, want)
	}
	if ct.Image != "nebula-br/br:test" {
		t.Errorf("image %q", ct.Image)
	}
	all := strings.Join(append(slices.Clone(ct.Command), ct.Args...), " ")
	for _, e := range ct.Env {
		all += " " + e.Value
	}
	if strings.Contains(all, f.minio.SecretKey) || strings.Contains(all, f.minio.AccessKey) {
		t.Errorf("credentials appear in the Job's command, args or env values: %s", all)
	}
	refs := map[string]string{}
	for _, e := range ct.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "s3" {
			refs[e.Name] = e.ValueFrom.SecretKeyRef.Key
		}
	}
	if refs["AWS_ACCESS_KEY_ID"] != "access_key" || refs["AWS_SECRET_ACCESS_KEY"] != "secret_key" {
		t.Errorf("credential env from secretKeyRef: %v", refs)
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || ptr.Deref(job.Spec.BackoffLimit, -1) != 0 {
		t.Errorf("restartPolicy %q backoffLimit %v", job.Spec.Template.Spec.RestartPolicy, job.Spec.BackoffLimit)
	}
	if len(job.OwnerReferences) != 1 || job.OwnerReferences[0].Name != "nb1" {
		t.Errorf("owner references %+v", job.OwnerReferences)
	}

	cur := f.waitPhase(nb, v1alpha1.BackupRunning)
	if cur.Status.Type != v1alpha1.BackupTypeFull || cur.Status.JobName != "backup-full-nb1" || cur.Status.TimeStarted == nil ||
		!cur.Status.IsConditionTrue(string(v1alpha1.BackupRunning)) {
		t.Errorf("running status %+v", cur.Status)
	}

	f.finishPod(job, 0, "BACKUP_2026_11_25_06_00_01\n")
	f.finishJob(job.Name, true)
	cur = f.waitPhase(nb, v1alpha1.BackupComplete)
	if cur.Status.BackupName != "BACKUP_2026_11_25_06_00_01" || cur.Status.TimeCompleted == nil ||
		!cur.Status.IsConditionTrue(string(v1alpha1.BackupComplete)) ||
		cur.Status.IsConditionTrue(string(v1alpha1.BackupRunning)) {
		t.Errorf("complete status %+v", cur.Status)
	}
	// Every transition leaves an event on the NebulaBackup.
	eventually(t, "events", func() (bool, error) {
		var evs eventsv1.EventList
		if err := f.c.List(context.Background(), &evs, client.InNamespace(f.ns)); err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, e := range evs.Items {
			if e.Regarding.Name == "nb1" && e.Regarding.Kind == "NebulaBackup" {
				seen[e.Reason] = true
			}
		}
		return seen[v1alpha1.BackupReasonJobCreated] && seen[v1alpha1.BackupReasonJobComplete], nil
	})
	// Without autoRemoveFinished the Job stays.
	time.Sleep(300 * time.Millisecond)
	f.waitJob(job.Name)
}

func TestIncrBackupFailed(t *testing.T) {
	f := setup(t)
	nb := f.backup("inc", func(nb *v1alpha1.NebulaBackup) {
		nb.Spec.Config.BaseBackupName = ptr.To("BACKUP_2026_11_25_06_00_01")
	})
	job := f.waitJob("backup-incr-inc")
	args := job.Spec.Template.Spec.Containers[0].Args
	if args[1] != "incr" || !slices.Contains(args, "--base") || !slices.Contains(args, "BACKUP_2026_11_25_06_00_01") {
		t.Errorf("incr args %q", args)
	}
	f.waitPhase(nb, v1alpha1.BackupRunning)
	f.finishPod(job, 1, "br: backup incr: WAL of part 3 expired: take a new full backup")
	f.finishJob(job.Name, false)
	cur := f.waitPhase(nb, v1alpha1.BackupFailed)
	c := cur.Status.Condition(string(v1alpha1.BackupFailed))
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.BackupReasonJobFailed || !strings.Contains(c.Message, "WAL of part 3 expired") {
		t.Errorf("failed condition %+v", c)
	}
	if cur.Status.Type != v1alpha1.BackupTypeIncr || cur.Status.BackupName != "" || cur.Status.TimeCompleted == nil {
		t.Errorf("failed status %+v", cur.Status)
	}
}

func TestBackupInvalid(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	bad := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "bad"},
		Data:       map[string][]byte{"user": []byte("x")},
	}
	wrong := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "wrong"},
		Data:       map[string][]byte{"access-key": []byte(f.minio.AccessKey), "secret-key": []byte("not-the-secret-key")},
	}
	for _, s := range []*corev1.Secret{bad, wrong} {
		if err := f.c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, reason, text string
		mutate             func(*v1alpha1.NebulaBackup)
	}{
		{"no-cluster", v1alpha1.BackupReasonClusterNotFound, "NebulaCluster " + f.ns + "/ghost not found",
			func(nb *v1alpha1.NebulaBackup) { nb.Spec.Config.ClusterName = "ghost" }},
		{"no-secret", v1alpha1.StorageReasonSecretNotFound, "Secret " + f.ns + "/missing not found",
			func(nb *v1alpha1.NebulaBackup) { nb.Spec.Config.S3.SecretName = "missing" }},
		{"bad-secret", v1alpha1.StorageReasonSecretInvalid, "neither access_key",
			func(nb *v1alpha1.NebulaBackup) { nb.Spec.Config.S3.SecretName = "bad" }},
		{"no-bucket", v1alpha1.StorageReasonBucketNotFound, "no-such-bucket-4242",
			func(nb *v1alpha1.NebulaBackup) { nb.Spec.Config.S3.Bucket = "no-such-bucket-4242" }},
		{"denied", v1alpha1.StorageReasonAccessDenied, "",
			func(nb *v1alpha1.NebulaBackup) { nb.Spec.Config.S3.SecretName = "wrong" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nb := f.backup(tc.name, tc.mutate)
			cur := f.waitPhase(nb, v1alpha1.BackupInvalid)
			c := cur.Status.Condition(string(v1alpha1.BackupInvalid))
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != tc.reason || !strings.Contains(c.Message, tc.text) {
				t.Fatalf("Invalid condition %+v, want reason %s and %q", c, tc.reason, tc.text)
			}
			if strings.Contains(c.Message, f.minio.SecretKey) {
				t.Fatalf("secret in message: %s", c.Message)
			}
			job := &batchv1.Job{}
			if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "backup-full-" + tc.name}, job); !apierrors.IsNotFound(err) {
				t.Fatalf("invalid backup got a Job (err %v)", err)
			}
		})
	}
}

func TestOneBackupPerCluster(t *testing.T) {
	f := setup(t)
	first := f.backup("first", nil)
	job := f.waitJob("backup-full-first")
	f.waitPhase(first, v1alpha1.BackupRunning)
	second := f.backup("second", nil)
	cur := f.waitPhase(second, v1alpha1.BackupPending)
	if c := cur.Status.Condition(string(v1alpha1.BackupPending)); c == nil || c.Reason != v1alpha1.BackupReasonWaiting {
		t.Errorf("pending condition %+v", c)
	}
	time.Sleep(500 * time.Millisecond)
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: "backup-full-second"}, &batchv1.Job{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second Job created while the first runs (err %v)", err)
	}
	f.finishPod(job, 0, "BACKUP_2026_11_25_06_00_02")
	f.finishJob(job.Name, true)
	f.waitPhase(first, v1alpha1.BackupComplete)
	f.waitPhase(second, v1alpha1.BackupRunning)
	f.waitJob("backup-full-second")
}

func TestCleanBackupDataAndAutoRemove(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const name = "BACKUP_2026_11_25_06_00_03"
	const other = "BACKUP_2026_11_25_06_00_04"
	mc, err := f.minio.Client()
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{name + "/meta/a.sst", name + "/data/1/host_9779/data/000001.sst", name + "/" + name + ".manifest", other + "/meta/b.sst"}
	for _, k := range keys {
		if _, err := mc.PutObject(ctx, f.bucket, k, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(prefix string) int {
		n := 0
		for o := range mc.ListObjects(ctx, f.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			n++
		}
		return n
	}

	nb := f.backup("clean", func(nb *v1alpha1.NebulaBackup) {
		nb.Spec.CleanBackupData = true
		nb.Spec.AutoRemoveFinished = true
	})
	job := f.waitJob("backup-full-clean")
	cur := f.waitPhase(nb, v1alpha1.BackupRunning)
	if !slices.Contains(cur.Finalizers, nebulabackup.Finalizer) {
		t.Fatalf("finalizers %v", cur.Finalizers)
	}
	f.finishPod(job, 0, name)
	f.finishJob(job.Name, true)
	cur = f.waitPhase(nb, v1alpha1.BackupComplete)
	if cur.Status.BackupName != name {
		t.Fatalf("backup name %q", cur.Status.BackupName)
	}
	// autoRemoveFinished: the Job goes (no garbage collector in envtest,
	// so its pod stays, which is fine here).
	eventually(t, "Job removal", func() (bool, error) {
		err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: job.Name}, &batchv1.Job{})
		return apierrors.IsNotFound(err), err
	})

	if n := count(name + "/"); n != 3 {
		t.Fatalf("%d objects under %s before delete", n, name)
	}
	if err := f.c.Delete(ctx, cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, "NebulaBackup gone", func() (bool, error) {
		err := f.c.Get(ctx, client.ObjectKeyFromObject(nb), &v1alpha1.NebulaBackup{})
		return apierrors.IsNotFound(err), err
	})
	if n := count(name + "/"); n != 0 {
		t.Errorf("%d objects left under %s after delete", n, name)
	}
	if n := count(other + "/"); n != 1 {
		t.Errorf("another backup was touched: %d objects under %s", n, other)
	}
}

// A Job deleted while the backup runs fails the backup with a clear
// message instead of leaving it Running forever.
func TestJobDeletedWhileRunning(t *testing.T) {
	f := setup(t)
	nb := f.backup("gone", nil)
	job := f.waitJob("backup-full-gone")
	f.waitPhase(nb, v1alpha1.BackupRunning)
	if err := f.c.Delete(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	cur := f.waitPhase(nb, v1alpha1.BackupFailed)
	if c := cur.Status.Condition(string(v1alpha1.BackupFailed)); c == nil || !strings.Contains(c.Message, "deleted before finishing") {
		t.Fatalf("failed condition %+v", c)
	}
}
