package nebulacronbackup_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacronbackup"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type fixture struct {
	t     *testing.T
	c     client.Client
	ns    string
	clock *fakeClock
	r     *nebulacronbackup.Reconciler
	ncb   *v1alpha1.NebulaCronBackup
	// hour is the first top of the hour after the NebulaCronBackup's
	// creation: the first time "0 * * * *" is due.
	hour time.Time
}

// setup creates, in a fresh namespace, a NebulaCronBackup "ncb" backing up
// cluster "nc" every hour, and a Reconciler whose clock starts at its
// creation.
func setup(t *testing.T, mutate func(*v1alpha1.NebulaCronBackup)) *fixture {
	t.Helper()
	env := envtest.Shared(t)
	f := &fixture{t: t, c: env.Client, ns: env.Namespace(t)}
	f.ncb = &v1alpha1.NebulaCronBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "ncb"},
		Spec: v1alpha1.NebulaCronBackupSpec{
			Schedule: "0 * * * *",
			BackupTemplate: v1alpha1.NebulaBackupSpec{Config: &v1alpha1.BackupConfig{
				ClusterName: "nc",
				S3:          &v1alpha1.S3StorageProvider{Region: "us-east-1", Bucket: "backups", Endpoint: "http://127.0.0.1:9", SecretName: "s3"},
			}},
		},
	}
	if mutate != nil {
		mutate(f.ncb)
	}
	if err := f.c.Create(context.Background(), f.ncb); err != nil {
		t.Fatal(err)
	}
	created := f.ncb.CreationTimestamp.Time
	f.clock = &fakeClock{t: created}
	f.hour = created.Truncate(time.Hour).Add(time.Hour)
	f.r = &nebulacronbackup.Reconciler{Client: f.c, APIReader: f.c, Clock: f.clock}
	return f
}

func (f *fixture) reconcileAt(at time.Time) ctrl.Result {
	f.t.Helper()
	f.clock.Set(at)
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(f.ncb)})
	if err != nil {
		f.t.Fatalf("reconcile at %s: %v", at, err)
	}
	return res
}

func (f *fixture) get() *v1alpha1.NebulaCronBackup {
	f.t.Helper()
	ncb := &v1alpha1.NebulaCronBackup{}
	if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(f.ncb), ncb); err != nil {
		f.t.Fatal(err)
	}
	return ncb
}

func (f *fixture) update(mutate func(*v1alpha1.NebulaCronBackup)) {
	f.t.Helper()
	ncb := f.get()
	mutate(ncb)
	if err := f.c.Update(context.Background(), ncb); err != nil {
		f.t.Fatal(err)
	}
}

// names lists the names of the schedule's backups, sorted.
func (f *fixture) names() []string {
	f.t.Helper()
	var list v1alpha1.NebulaBackupList
	if err := f.c.List(context.Background(), &list, client.InNamespace(f.ns),
		client.MatchingLabels{v1alpha1.LabelCronBackup: f.ncb.Name}); err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, nb := range list.Items {
		out = append(out, nb.Name)
	}
	slices.Sort(out)
	return out
}

func (f *fixture) name(at time.Time) string { return nebulacronbackup.BackupName(f.ncb, at) }

func (f *fixture) wantNames(what string, want ...string) {
	f.t.Helper()
	slices.Sort(want)
	if got := f.names(); !slices.Equal(got, want) {
		f.t.Fatalf("%s: backups %q, want %q", what, got, want)
	}
}

// setPhase plays the NebulaBackup controller.
func (f *fixture) setPhase(name string, phase v1alpha1.BackupPhase, completed time.Time) {
	f.t.Helper()
	nb := &v1alpha1.NebulaBackup{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, nb); err != nil {
		f.t.Fatal(err)
	}
	nb.Status.Phase = phase
	if !completed.IsZero() {
		nb.Status.TimeCompleted = &metav1.Time{Time: completed}
	}
	if err := f.c.Status().Update(context.Background(), nb); err != nil {
		f.t.Fatal(err)
	}
}

// owned creates a backup as the controller would have for schedule time at,
// in the given phase.
func (f *fixture) owned(at time.Time, phase v1alpha1.BackupPhase) string {
	f.t.Helper()
	ncb := f.get()
	nb := &v1alpha1.NebulaBackup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   f.ns,
			Name:        f.name(at),
			Labels:      map[string]string{v1alpha1.LabelCronBackup: ncb.Name},
			Annotations: map[string]string{nebulacronbackup.AnnotationScheduledTime: at.UTC().Format(time.RFC3339)},
		},
		Spec: *ncb.Spec.BackupTemplate.DeepCopy(),
	}
	if err := controllerutil.SetControllerReference(ncb, nb, envtest.Scheme); err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.Create(context.Background(), nb); err != nil {
		f.t.Fatal(err)
	}
	var done time.Time
	if phase != v1alpha1.BackupRunning {
		done = at.Add(10 * time.Minute)
	}
	f.setPhase(nb.Name, phase, done)
	return nb.Name
}

func sameTime(a *metav1.Time, b time.Time) bool { return a != nil && a.Time.Equal(b) }

func TestParseSchedule(t *testing.T) {
	for _, s := range []string{"0 2 * * *", "*/5 * * * 1-5", "CRON_TZ=Asia/Shanghai 0 2 * * *", "TZ=UTC 0 2 * * *", "@daily", "@hourly", "@every 90m"} {
		if _, err := nebulacronbackup.ParseSchedule(s); err != nil {
			t.Errorf("ParseSchedule(%q): %v", s, err)
		}
	}
	for _, s := range []string{"0 2 * * * *", "61 * * * *", "@fortnightly", "CRON_TZ=Nowhere/Land 0 2 * * *"} {
		if _, err := nebulacronbackup.ParseSchedule(s); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", s)
		}
	}
	sched, _ := nebulacronbackup.ParseSchedule("CRON_TZ=Asia/Shanghai 0 2 * * *")
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, want := sched.Next(from), time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next Shanghai 02:00 after %s = %s, want %s", from, got, want)
	}
}

func TestCreatesWhenDue(t *testing.T) {
	f := setup(t, nil)

	res := f.reconcileAt(f.ncb.CreationTimestamp.Time)
	f.wantNames("at creation")
	if d := f.hour.Sub(f.ncb.CreationTimestamp.Time); res.RequeueAfter > d || res.RequeueAfter < d-time.Second {
		t.Errorf("requeue after %s, want about %s (the next schedule time)", res.RequeueAfter, d)
	}
	f.reconcileAt(f.hour.Add(-time.Second))
	f.wantNames("a second before the schedule")
	if c := meta.FindStatusCondition(f.get().Status.Conditions, v1alpha1.CronBackupScheduled); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("condition %+v, want Scheduled True", c)
	}

	res = f.reconcileAt(f.hour.Add(2 * time.Second))
	f.wantNames("when due", f.name(f.hour))
	if d := time.Hour - 2*time.Second; res.RequeueAfter != d {
		t.Errorf("requeue after %s, want %s", res.RequeueAfter, d)
	}
	nb := &v1alpha1.NebulaBackup{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: f.name(f.hour)}, nb); err != nil {
		t.Fatal(err)
	}
	ncb := f.get()
	if !metav1.IsControlledBy(nb, ncb) {
		t.Errorf("backup owners %+v, want controlled by %s", nb.OwnerReferences, ncb.UID)
	}
	if nb.Labels[v1alpha1.LabelCronBackup] != "ncb" {
		t.Errorf("backup labels %v", nb.Labels)
	}
	tmpl := ncb.Spec.BackupTemplate
	if !equality.Semantic.DeepEqual(nb.Spec.Config, tmpl.Config) || nb.Spec.ImagePullPolicy != tmpl.ImagePullPolicy {
		t.Errorf("backup spec %+v, want the template %+v", nb.Spec, tmpl)
	}
	st := ncb.Status
	if st.LastBackup != f.name(f.hour) || !sameTime(st.LastScheduleTime, f.hour) || st.LastSuccessfulTime != nil || st.BackupCleanTime != nil {
		t.Errorf("status %+v", st)
	}

	// Later reconciles of the same hour change nothing.
	f.reconcileAt(f.hour.Add(30 * time.Minute))
	f.wantNames("half an hour later", f.name(f.hour))
}

func TestPause(t *testing.T) {
	f := setup(t, func(ncb *v1alpha1.NebulaCronBackup) { ncb.Spec.Pause = true })
	res := f.reconcileAt(f.hour.Add(time.Minute))
	f.wantNames("paused")
	if res.RequeueAfter != 0 {
		t.Errorf("paused: requeue after %s", res.RequeueAfter)
	}
	if c := meta.FindStatusCondition(f.get().Status.Conditions, v1alpha1.CronBackupScheduled); c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.CronBackupReasonPaused {
		t.Errorf("condition %+v, want Scheduled False Paused", c)
	}
	f.reconcileAt(f.hour.Add(3*time.Hour + time.Minute))
	f.wantNames("paused for hours")

	// Unpaused: one backup, for the latest missed time, not one per hour.
	f.update(func(ncb *v1alpha1.NebulaCronBackup) { ncb.Spec.Pause = false })
	latest := f.hour.Add(3 * time.Hour)
	f.reconcileAt(latest.Add(2 * time.Minute))
	f.wantNames("unpaused", f.name(latest))
	if st := f.get().Status; !sameTime(st.LastScheduleTime, latest) {
		t.Errorf("lastScheduleTime %v, want %s", st.LastScheduleTime, latest)
	}
}

func TestNoOverlap(t *testing.T) {
	f := setup(t, nil)
	first := f.name(f.hour)
	f.reconcileAt(f.hour)
	f.wantNames("first", first)
	f.setPhase(first, v1alpha1.BackupRunning, time.Time{})

	// Two schedule times pass while the first backup runs: none is created.
	f.reconcileAt(f.hour.Add(time.Hour))
	f.reconcileAt(f.hour.Add(2*time.Hour + time.Minute))
	f.wantNames("while running", first)
	if c := meta.FindStatusCondition(f.get().Status.Conditions, v1alpha1.CronBackupScheduled); c == nil || c.Reason != v1alpha1.CronBackupReasonSkipped {
		t.Errorf("condition %+v, want reason Skipped", c)
	}

	// It completes: the missed times stay skipped until the next one.
	done := f.hour.Add(2*time.Hour + 10*time.Minute)
	f.setPhase(first, v1alpha1.BackupComplete, done)
	res := f.reconcileAt(done)
	f.wantNames("just completed", first)
	if d := 50 * time.Minute; res.RequeueAfter != d {
		t.Errorf("requeue after %s, want %s", res.RequeueAfter, d)
	}
	st := f.get().Status
	if !sameTime(st.LastSuccessfulTime, done) || st.LastBackup != first || !sameTime(st.LastScheduleTime, f.hour) {
		t.Errorf("status %+v", st)
	}

	next := f.hour.Add(3 * time.Hour)
	f.reconcileAt(next)
	f.wantNames("next schedule time", first, f.name(next))
	if st := f.get().Status; st.LastBackup != f.name(next) || !sameTime(st.LastScheduleTime, next) || !sameTime(st.LastSuccessfulTime, done) {
		t.Errorf("status %+v", st)
	}

	// A failed backup unblocks too, but does not count as a success.
	f.setPhase(f.name(next), v1alpha1.BackupFailed, next.Add(time.Minute))
	f.reconcileAt(next.Add(time.Hour))
	f.wantNames("after a failure", first, f.name(next), f.name(next.Add(time.Hour)))
	if st := f.get().Status; !sameTime(st.LastSuccessfulTime, done) {
		t.Errorf("lastSuccessfulTime %v, want %s", st.LastSuccessfulTime, done)
	}
}

func TestRetentionMaxBackups(t *testing.T) {
	f := setup(t, func(ncb *v1alpha1.NebulaCronBackup) { ncb.Spec.MaxBackups = ptr.To(int32(2)) })
	h := f.ncb.CreationTimestamp.Time.Truncate(time.Hour)
	running := f.owned(h.Add(-4*time.Hour), v1alpha1.BackupRunning)
	f.owned(h.Add(-3*time.Hour), v1alpha1.BackupComplete)
	failed := f.owned(h.Add(-2*time.Hour), v1alpha1.BackupFailed)
	newest := f.owned(h.Add(-1*time.Hour), v1alpha1.BackupComplete)

	now := f.hour.Add(-time.Minute)
	f.reconcileAt(now)
	// The two newest stay; of the older, only the finished one goes.
	f.wantNames("maxBackups 2", running, failed, newest)
	if st := f.get().Status; !sameTime(st.BackupCleanTime, now) || !sameTime(st.LastSuccessfulTime, h.Add(-50*time.Minute)) {
		t.Errorf("status %+v", st)
	}
}

func TestRetentionMaxReservedTime(t *testing.T) {
	f := setup(t, func(ncb *v1alpha1.NebulaCronBackup) { ncb.Spec.MaxReservedTime = ptr.To("24h") })
	h := f.ncb.CreationTimestamp.Time.Truncate(time.Hour)
	f.owned(h.Add(-48*time.Hour), v1alpha1.BackupComplete)
	f.owned(h.Add(-30*time.Hour), v1alpha1.BackupFailed)
	running := f.owned(h.Add(-26*time.Hour), v1alpha1.BackupRunning)
	young := f.owned(h.Add(-5*time.Hour), v1alpha1.BackupComplete)

	now := f.hour.Add(-time.Minute)
	f.reconcileAt(now)
	f.wantNames("maxReservedTime 24h", running, young)
	if st := f.get().Status; !sameTime(st.BackupCleanTime, now) {
		t.Errorf("backupCleanTime %v, want %s", st.BackupCleanTime, now)
	}

	// The running one, once finished, goes too (a new backup is due at
	// the same time).
	f.setPhase(running, v1alpha1.BackupComplete, h)
	later := h.Add(10 * time.Hour)
	f.reconcileAt(later)
	f.wantNames("10h later", young, f.name(later))
}

func TestInvalidSchedule(t *testing.T) {
	f := setup(t, func(ncb *v1alpha1.NebulaCronBackup) { ncb.Spec.Schedule = "61 * * * *" })
	f.reconcileAt(f.hour.Add(time.Hour))
	f.wantNames("invalid schedule")
	c := meta.FindStatusCondition(f.get().Status.Conditions, v1alpha1.CronBackupScheduled)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.CronBackupReasonInvalidSchedule {
		t.Errorf("condition %+v, want Scheduled False InvalidSchedule", c)
	}
}

// Backups are named as upstream's operator names them.
func TestBackupNameAsUpstream(t *testing.T) {
	ncb := &v1alpha1.NebulaCronBackup{ObjectMeta: metav1.ObjectMeta{Name: "daily"}}
	at := time.Date(2026, 11, 29, 11, 15, 2, 0, time.FixedZone("CET", 3600))
	if got, want := nebulacronbackup.BackupName(ncb, at), "daily-20261129t101502"; got != want {
		t.Errorf("BackupName = %q, want %q", got, want)
	}
}
