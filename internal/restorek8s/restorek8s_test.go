package restorek8s_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/envtest"
	"github.com/nebula-open/nebula-br/internal/restorek8s"
)

func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }

const backup = "BACKUP_2023_02_12_10_04_16"

// syncBuffer is Run's output, read while Run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	env *envtest.Env
	ns  string
	c   client.WithWatch // as the br-restore ServiceAccount
}

// setup applies config/samples/br_restore_rbac.yaml to a fresh namespace
// and returns a client that is the ServiceAccount it binds, so every test
// shows that the Role is enough.
func setup(t *testing.T) *fixture {
	t.Helper()
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	ctx := ctxT(t)
	objs, err := envtest.ReadManifests(filepath.Join(env.Root, "config", "samples", "br_restore_rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "RoleBinding" {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		for _, s := range subjects {
			s.(map[string]any)["namespace"] = ns // the sample's comment says to
		}
		if err := unstructured.SetNestedSlice(o.Object, subjects, "subjects"); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Apply(ctx, ns, objs...); err != nil {
		t.Fatal(err)
	}
	cfg, err := env.UserConfig("system:serviceaccount:"+ns+":br-restore", "system:serviceaccounts", "system:serviceaccounts:"+ns)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: envtest.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// RBAC reaches the authorizer through its informers: wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.List(ctx, &v1alpha1.NebulaRestoreList{}, client.InNamespace(ns))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Role does not take effect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &fixture{env: env, ns: ns, c: c}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (f *fixture) opts() restorek8s.Options {
	return restorek8s.Options{
		Namespace: f.ns, Cluster: "nebula", Secret: "aws-s3-secret", Backup: backup,
		Storage: "s3://nebula-br-test/prod/", Region: "us-east-1", Endpoint: "https://s3.us-east-1.amazonaws.com",
		Concurrency: 7, Retry: 10 * time.Millisecond,
	}
}

// step is one status the fake operator writes.
type step struct {
	phase   v1alpha1.RestorePhase
	cluster string
	cond    *v1alpha1.Condition
}

// operate plays the operator: once the restore exists, it writes each
// step's status (as an administrator, through the status subresource).
func (f *fixture) operate(t *testing.T, name string, steps ...step) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		key := client.ObjectKey{Namespace: f.ns, Name: name}
		for {
			err := f.env.Client.Get(ctx, key, &v1alpha1.NebulaRestore{})
			if err == nil {
				break
			}
			if !apierrors.IsNotFound(err) || ctx.Err() != nil {
				done <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		start := metav1.Now()
		for _, s := range steps {
			time.Sleep(50 * time.Millisecond)
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				var nr v1alpha1.NebulaRestore
				if err := f.env.Client.Get(ctx, key, &nr); err != nil {
					return err
				}
				nr.Status.Phase, nr.Status.ClusterName, nr.Status.TimeStarted = s.phase, s.cluster, &start
				if s.phase == v1alpha1.RestoreComplete || s.phase == v1alpha1.RestoreFailed {
					nr.Status.TimeCompleted = &metav1.Time{Time: start.Add(62 * time.Second)}
				}
				if s.cond != nil {
					v1alpha1.SetCondition(&nr.Status.Conditions, *s.cond, metav1.Now())
				}
				return f.env.Client.Status().Update(ctx, &nr)
			})
			if err != nil {
				done <- fmt.Errorf("status %s: %w", s.phase, err)
				return
			}
		}
		done <- nil
	}()
	return done
}

var happy = []step{
	{phase: v1alpha1.RestoreRunning, cluster: "nebula-x7k2p"},
	{phase: v1alpha1.RestoreMetadComplete, cluster: "nebula-x7k2p"},
	{phase: v1alpha1.RestoreStoragedComplete, cluster: "nebula-x7k2p"},
	{phase: v1alpha1.RestoreComplete, cluster: "nebula-x7k2p"},
}

func TestRunComplete(t *testing.T) {
	f := setup(t)
	ctx := ctxT(t)
	name := restorek8s.Name("nebula", backup)
	if name != "restore-nebula-backup-2023-02-12-10-04-16" {
		t.Errorf("name %s", name)
	}
	op := f.operate(t, name, happy...)
	var out syncBuffer
	nr, err := restorek8s.Run(ctx, f.c, f.opts(), &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if err := <-op; err != nil {
		t.Fatal(err)
	}
	if nr.Status.Phase != v1alpha1.RestoreComplete {
		t.Errorf("phase %s", nr.Status.Phase)
	}
	text := out.String()
	t.Log("\n" + text)
	for _, p := range []string{"Running", "MetadComplete", "StoragedComplete", "Complete"} {
		want := "restore " + name + ": " + p + " (restored cluster nebula-x7k2p) "
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the output", want)
		}
	}
	summary := "restored " + backup + " into NebulaCluster " + f.ns + "/nebula-x7k2p in 1m2s\n"
	if !strings.HasSuffix(text, summary) {
		t.Errorf("output does not end with %q", summary)
	}

	// What the operator is given.
	var got v1alpha1.NebulaRestore
	if err := f.env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &got); err != nil {
		t.Fatal(err)
	}
	c := got.Spec.Config
	if got.Spec.BR != nil || c == nil || c.ClusterName != "nebula" || c.BackupName != backup || c.Concurrency != 7 || c.ClusterNamespace != nil {
		t.Fatalf("spec %+v", got.Spec)
	}
	if want := (v1alpha1.S3StorageProvider{Region: "us-east-1", Bucket: "nebula-br-test/prod", Endpoint: "https://s3.us-east-1.amazonaws.com", SecretName: "aws-s3-secret"}); *c.S3 != want {
		t.Errorf("s3 %+v, want %+v", *c.S3, want)
	}

	// A re-run (the Pod restarts) follows the same restore: no second one,
	// done at once.
	out = syncBuffer{}
	began := time.Now()
	if _, err := restorek8s.Run(ctx, f.c, f.opts(), &out); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out.String())
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("re-run took %v", d)
	}
	if text := out.String(); !strings.Contains(text, "exists, following it") || !strings.HasSuffix(text, summary) {
		t.Errorf("re-run output:\n%s", text)
	}
	var list v1alpha1.NebulaRestoreList
	if err := f.env.Client.List(ctx, &list, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d NebulaRestores after a re-run, want 1", len(list.Items))
	}

	// The client is the ServiceAccount, and the Role is all it has.
	err = f.c.List(ctx, &v1alpha1.NebulaRestoreList{}, client.InNamespace("default"))
	if !apierrors.IsForbidden(err) {
		t.Errorf("list in another namespace: %v, want Forbidden", err)
	}
}

func TestRunFailed(t *testing.T) {
	f := setup(t)
	ctx := ctxT(t)
	name := restorek8s.Name("nebula", backup)
	msg := "no backup " + backup + " under s3://nebula-br-test/prod"
	op := f.operate(t, name,
		step{phase: v1alpha1.RestoreRunning},
		step{phase: v1alpha1.RestoreFailed, cond: &v1alpha1.Condition{
			Type: string(v1alpha1.RestoreFailed), Status: metav1.ConditionTrue, Reason: "BackupNotFound", Message: msg,
		}})
	var out syncBuffer
	nr, err := restorek8s.Run(ctx, f.c, f.opts(), &out)
	if opErr := <-op; opErr != nil {
		t.Fatal(opErr)
	}
	t.Log("\n" + out.String())
	if err == nil {
		t.Fatal("Run succeeded on a failed restore")
	}
	t.Log(err)
	for _, want := range []string{"BackupNotFound", msg, name, "Failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if nr == nil || nr.Status.Phase != v1alpha1.RestoreFailed {
		t.Errorf("returned %+v", nr)
	}
	if !strings.Contains(out.String(), ": Failed ") {
		t.Errorf("output does not show the Failed phase:\n%s", out.String())
	}
}

func TestRunInvalid(t *testing.T) {
	f := setup(t)
	ctx := ctxT(t)
	op := f.operate(t, restorek8s.Name("nebula", backup), step{phase: v1alpha1.RestoreInvalid, cond: &v1alpha1.Condition{
		Type: string(v1alpha1.RestoreInvalid), Status: metav1.ConditionTrue, Reason: "ClusterNotFound", Message: "no NebulaCluster nebula",
	}})
	_, err := restorek8s.Run(ctx, f.c, f.opts(), &syncBuffer{})
	if opErr := <-op; opErr != nil {
		t.Fatal(opErr)
	}
	if err == nil || !strings.Contains(err.Error(), "Invalid: ClusterNotFound: no NebulaCluster nebula") {
		t.Errorf("error %v", err)
	}
}

func TestRunDifferentSpec(t *testing.T) {
	f := setup(t)
	ctx := ctxT(t)
	o := f.opts()
	other := o
	other.Storage = "s3://another-bucket"
	existing, err := other.Restore()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.env.Client.Create(ctx, existing); err != nil {
		t.Fatal(err)
	}
	_, err = restorek8s.Run(ctx, f.c, o, &syncBuffer{})
	if err == nil {
		t.Fatal("Run followed a restore of another bucket")
	}
	t.Log(err)
	for _, want := range []string{"NebulaRestore " + f.ns + "/" + existing.Name + " already exists", `s3.bucket is "another-bucket", not "nebula-br-test/prod"`, "kubectl delete"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var got v1alpha1.NebulaRestore
	if err := f.env.Client.Get(ctx, client.ObjectKeyFromObject(existing), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Config.S3.Bucket != "another-bucket" {
		t.Errorf("the existing restore was changed: %+v", got.Spec.Config.S3)
	}

	// The older spec.br form with the server's defaults is the same restore.
	o.Namespace = f.ns
	o.Cluster = "nebula2"
	o.Concurrency = 0
	same, _ := o.Restore()
	same.Spec.BR, same.Spec.Config = same.Spec.Config, nil
	same.Spec.BR.ClusterNamespace = &f.ns
	if err := f.env.Client.Create(ctx, same); err != nil {
		t.Fatal(err)
	}
	op := f.operate(t, same.Name, step{phase: v1alpha1.RestoreComplete, cluster: "nebula2-abc"})
	o.Concurrency = 5
	if _, err := restorek8s.Run(ctx, f.c, o, &syncBuffer{}); err != nil {
		t.Errorf("spec.br restore: %v", err)
	}
	if err := <-op; err != nil {
		t.Fatal(err)
	}
}

// breakingClient ends every watch after its first event, as a flaky
// connection or an API server restart would.
type breakingClient struct {
	client.WithWatch
	watches atomic.Int32
}

func (b *breakingClient) Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
	b.watches.Add(1)
	w, err := b.WithWatch.Watch(ctx, list, opts...)
	if err != nil {
		return nil, err
	}
	out := make(chan watch.Event)
	go func() {
		defer close(out)
		defer w.Stop()
		select {
		case ev, ok := <-w.ResultChan():
			if ok {
				select {
				case out <- ev:
				case <-ctx.Done():
				}
			}
		case <-ctx.Done():
		}
	}()
	return watch.NewProxyWatcher(out), nil
}

func TestRunWatchBreaks(t *testing.T) {
	f := setup(t)
	ctx := ctxT(t)
	bc := &breakingClient{WithWatch: f.c}
	op := f.operate(t, restorek8s.Name("nebula", backup), happy...)
	var out syncBuffer
	nr, err := restorek8s.Run(ctx, bc, f.opts(), &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if err := <-op; err != nil {
		t.Fatal(err)
	}
	if nr.Status.Phase != v1alpha1.RestoreComplete {
		t.Errorf("phase %s", nr.Status.Phase)
	}
	if n := bc.watches.Load(); n < 2 {
		t.Errorf("%d watches: the broken watch was not re-established", n)
	}
}

func TestRunTimeoutAndCancel(t *testing.T) {
	f := setup(t)
	ctx := ctxT(t)
	o := f.opts()
	o.Timeout = 300 * time.Millisecond
	_, err := restorek8s.Run(ctx, f.c, o, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "still Pending after --timeout 300ms") || !strings.Contains(err.Error(), "keeps running") {
		t.Errorf("timeout: %v", err)
	}

	// Ctrl-C: following stops, the restore stays.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err = restorek8s.Run(cctx, f.c, f.opts(), &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "stopped following") || !strings.Contains(err.Error(), "keeps running") {
		t.Errorf("cancel: %v", err)
	}
	if err := f.env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: restorek8s.Name("nebula", backup)}, &v1alpha1.NebulaRestore{}); err != nil {
		t.Errorf("the restore is gone: %v", err)
	}
}

func TestValidate(t *testing.T) {
	good := restorek8s.Options{
		Namespace: "default", Cluster: "nebula", Secret: "aws-s3-secret", Backup: backup,
		Storage: "s3://bucket", Region: "REGION", Endpoint: "https://s3.REGION.amazonaws.com",
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("the reference Pod's flags: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*restorek8s.Options)
		want   string // in the error; "" for none
	}{
		{"prefix", func(o *restorek8s.Options) { o.Storage = "s3://bucket/a/b/" }, ""},
		{"no endpoint", func(o *restorek8s.Options) { o.Endpoint = "" }, ""},
		{"no cluster", func(o *restorek8s.Options) { o.Cluster = "" }, "--cluster: name the backed-up NebulaCluster"},
		{"bad cluster", func(o *restorek8s.Options) { o.Cluster = "Nebula_1" }, `--cluster "Nebula_1"`},
		{"no secret", func(o *restorek8s.Options) { o.Secret = "" }, "--secret: name the Secret"},
		{"no namespace", func(o *restorek8s.Options) { o.Namespace = "" }, "--namespace"},
		{"no name", func(o *restorek8s.Options) { o.Backup = "" }, "like BACKUP_2023_02_12_10_04_16"},
		{"bad name", func(o *restorek8s.Options) { o.Backup = "BACKUP_2023_02_12" }, `--name "BACKUP_2023_02_12"`},
		{"gs", func(o *restorek8s.Options) { o.Storage = "gs://bucket/p" }, ""},
		{"local storage", func(o *restorek8s.Options) { o.Storage = "local:///backups" }, "the operator restores from S3 or Google Cloud Storage: give s3://BUCKET[/PREFIX] or gs://BUCKET[/PREFIX]"},
		{"no storage", func(o *restorek8s.Options) { o.Storage = "" }, "s3://BUCKET[/PREFIX]"},
		{"empty bucket", func(o *restorek8s.Options) { o.Storage = "s3://" }, "not a bucket name"},
		{"url as bucket", func(o *restorek8s.Options) { o.Storage = "s3://Bucket_X/p" }, `"Bucket_X" is not a bucket name`},
		{"gs url as bucket", func(o *restorek8s.Options) { o.Storage = "gs://Bucket_X" }, `"Bucket_X" is not a bucket name`},
		{"double slash", func(o *restorek8s.Options) { o.Storage = "s3://bucket/a//b" }, "empty path element"},
		{"bad endpoint", func(o *restorek8s.Options) { o.Endpoint = "s3.amazonaws.com" }, "--s3.endpoint"},
		{"concurrency", func(o *restorek8s.Options) { o.Concurrency = 2000 }, "--concurrency 2000"},
		{"all at once", func(o *restorek8s.Options) { o.Cluster, o.Secret = "", "" }, "--secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.mutate(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("no error, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	o := good
	o.Storage = "s3://bucket/a/b/"
	nr, err := o.Restore()
	if err != nil || nr.Spec.Config.S3.Bucket != "bucket/a/b" || nr.Spec.Config.Concurrency != 0 {
		t.Errorf("restore %+v, %v", nr, err)
	}
	o.Storage = "gs://bucket/p/"
	nr, err = o.Restore()
	if err != nil || nr.Spec.Config.S3 != nil || nr.Spec.Config.GS == nil || nr.Spec.Config.GS.Bucket != "bucket/p" || nr.Spec.Config.GS.SecretName != good.Secret {
		t.Errorf("gs restore %+v, %v", nr.Spec.Config, err)
	}
}

func TestName(t *testing.T) {
	label := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	long := strings.Repeat("c", 40)
	a, b := restorek8s.Name(long+"a", backup), restorek8s.Name(long+"b", backup)
	for _, n := range []string{a, b, restorek8s.Name(strings.Repeat("d", 63), backup), restorek8s.Name("c-", backup)} {
		if len(n) > 63 || !label.MatchString(n) {
			t.Errorf("%q is not a DNS label", n)
		}
	}
	if a == b {
		t.Errorf("two restores, one name: %s", a)
	}
	if a != restorek8s.Name(long+"a", backup) {
		t.Error("Name is not deterministic")
	}
	if restorek8s.Name("nebula", backup) == restorek8s.Name("nebula", "BACKUP_2023_02_12_10_04_17") {
		t.Error("two backups, one name")
	}
}
