// Package nebulacronbackup reconciles NebulaCronBackups: on every time
// spec.schedule names it creates a NebulaBackup from spec.backupTemplate,
// unless the schedule is paused or a backup it created for the same cluster
// is still running (runs are never overlapped and never caught up in a
// burst: after a gap, at most one backup runs, for the latest missed time),
// and it deletes its finished backups beyond maxBackups or older than
// maxReservedTime.
package nebulacronbackup

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller"
)

// AnnotationScheduledTime is set on every NebulaBackup the controller
// creates: the schedule time (RFC 3339) it was created for. Retention
// orders and ages backups by it.
const AnnotationScheduledTime = v1alpha1.Group + "/scheduled-time"

// maxMissed bounds the walk over missed schedule times (a schedule of
// @every 1s left alone for a day).
const maxMissed = 1 << 20

// Clock tells the time; tests inject their own.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Reconciler reconciles NebulaCronBackups.
type Reconciler struct {
	Client client.Client
	// APIReader lists the backups uncached, so a backup created a moment
	// ago is always seen (default: the manager's API reader, or Client).
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Clock is the time source (default: the real clock).
	Clock Clock
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("nebulacronbackup-controller")
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.NebulaCronBackup{}).
		// A backup that finishes may unblock the schedule or be retained.
		Owns(&v1alpha1.NebulaBackup{}).
		Named("nebulacronbackup").
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func (r *Reconciler) reader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

func (r *Reconciler) event(obj *v1alpha1.NebulaCronBackup, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, reason, "%s", msg)
	}
}

// ParseSchedule parses a schedule as the controller does: five fields,
// optionally after CRON_TZ=ZONE, or a descriptor (@daily, @every 1h...).
func ParseSchedule(s string) (cron.Schedule, error) {
	return cron.ParseStandard(s)
}

// BackupName is the name of the backup created for the schedule time t,
// as upstream's operator names it: <cron>-YYYYMMDDtHHMMSS (UTC).
func BackupName(ncb *v1alpha1.NebulaCronBackup, t time.Time) string {
	return ncb.Name + "-" + t.UTC().Format("20060102t150405")
}

// scheduledTime is when the backup was scheduled: its annotation, or its
// creation time.
func scheduledTime(nb *v1alpha1.NebulaBackup) time.Time {
	if v, ok := nb.Annotations[AnnotationScheduledTime]; ok {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	return nb.CreationTimestamp.Time
}

func clusterKey(ns string, spec *v1alpha1.NebulaBackupSpec) types.NamespacedName {
	if spec.Config == nil {
		return types.NamespacedName{Namespace: ns}
	}
	if c := spec.Config.ClusterNamespace; c != nil && *c != "" {
		ns = *c
	}
	return types.NamespacedName{Namespace: ns, Name: spec.Config.ClusterName}
}

// Reconcile creates the backup that is due, applies retention, records the
// status and requeues at the next schedule time.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controller.RetryLostRaces(r.reconcile(ctx, req))
}

func (r *Reconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ncb := &v1alpha1.NebulaCronBackup{}
	if err := r.Client.Get(ctx, req.NamespacedName, ncb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ncb.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the garbage collector removes its backups
	}
	orig := ncb.Status.DeepCopy()
	now := r.now()

	sched, err := ParseSchedule(ncb.Spec.Schedule)
	if err != nil {
		msg := fmt.Sprintf("cannot parse schedule %q: %v", ncb.Spec.Schedule, err)
		return ctrl.Result{}, r.invalid(ctx, ncb, orig, v1alpha1.CronBackupReasonInvalidSchedule, msg)
	}
	var retain time.Duration
	if ncb.Spec.MaxReservedTime != nil && *ncb.Spec.MaxReservedTime != "" {
		retain, err = time.ParseDuration(*ncb.Spec.MaxReservedTime)
		if err != nil || retain <= 0 {
			msg := fmt.Sprintf("cannot parse maxReservedTime %q as a positive duration", *ncb.Spec.MaxReservedTime)
			return ctrl.Result{}, r.invalid(ctx, ncb, orig, v1alpha1.CronBackupReasonInvalidRetain, msg)
		}
	}

	owned, err := r.owned(ctx, ncb)
	if err != nil {
		return ctrl.Result{}, err
	}

	// The reference time after which schedule times count as missed: the
	// last schedule time, or the end of the last backup (times that passed
	// while it ran are skipped), or the resource's creation.
	ref := ncb.CreationTimestamp.Time
	if t := ncb.Status.LastScheduleTime; t != nil && t.After(ref) {
		ref = t.Time
	}
	running := ""
	myCluster := clusterKey(ncb.Namespace, &ncb.Spec.BackupTemplate)
	for _, nb := range owned {
		if !nb.Status.Finished() {
			if clusterKey(nb.Namespace, &nb.Spec) == myCluster {
				running = nb.Name
			}
			continue
		}
		if t := nb.Status.TimeCompleted; t != nil && t.After(ref) {
			ref = t.Time
		}
	}
	var due time.Time
	for t, i := sched.Next(ref), 0; !t.IsZero() && !t.After(now) && i < maxMissed; t, i = sched.Next(t), i+1 {
		due = t
	}

	if ncb.Spec.Pause {
		ncb.Status.SetPaused(ncb.Generation)
	} else {
		ncb.Status.SetActive(ncb.Spec.Schedule, ncb.Generation)
		if !due.IsZero() {
			if running != "" {
				// Not recorded in lastScheduleTime: the due time is
				// skipped once the running backup finishes (see ref above).
				msg := fmt.Sprintf("backup for %s skipped: backup %s is still running", due.UTC().Format(time.RFC3339), running)
				if c := orig.ScheduledCondition(); c == nil || c.Message != msg {
					r.event(ncb, corev1.EventTypeNormal, v1alpha1.CronBackupReasonSkipped, msg)
				}
				ncb.Status.SetSkipped(msg, ncb.Generation)
			} else {
				nb, err := r.create(ctx, ncb, due)
				if err != nil {
					return ctrl.Result{}, err
				}
				owned = append(owned, nb)
				ncb.Status.RecordBackup(nb.Name, metav1.Time{Time: due})
			}
		}
	}

	for _, nb := range owned {
		if nb.Status.Phase != v1alpha1.BackupComplete {
			continue
		}
		t := scheduledTime(nb)
		if nb.Status.TimeCompleted != nil {
			t = nb.Status.TimeCompleted.Time
		}
		ncb.Status.RecordSuccess(metav1.Time{Time: t})
	}

	nextExpiry, err := r.retain(ctx, ncb, owned, retain, now)
	if err != nil {
		return ctrl.Result{}, err
	}

	if !equality.Semantic.DeepEqual(orig, &ncb.Status) {
		if err := r.Client.Status().Update(ctx, ncb); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	var wake time.Time
	if !ncb.Spec.Pause {
		wake = sched.Next(now)
	}
	if !nextExpiry.IsZero() && (wake.IsZero() || nextExpiry.Before(wake)) {
		wake = nextExpiry
	}
	if wake.IsZero() {
		return ctrl.Result{}, nil
	}
	after := wake.Sub(now)
	if after < time.Second {
		after = time.Second
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// owned lists the NebulaBackups this schedule created.
func (r *Reconciler) owned(ctx context.Context, ncb *v1alpha1.NebulaCronBackup) ([]*v1alpha1.NebulaBackup, error) {
	var list v1alpha1.NebulaBackupList
	if err := r.reader().List(ctx, &list, client.InNamespace(ncb.Namespace),
		client.MatchingLabels{v1alpha1.LabelCronBackup: ncb.Name}); err != nil {
		return nil, err
	}
	var out []*v1alpha1.NebulaBackup
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], ncb) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// create makes the backup for schedule time t (it may exist already, from
// a reconcile whose status update was lost).
func (r *Reconciler) create(ctx context.Context, ncb *v1alpha1.NebulaCronBackup, t time.Time) (*v1alpha1.NebulaBackup, error) {
	labels := map[string]string{
		v1alpha1.LabelCronBackup: ncb.Name,
		v1alpha1.LabelManagedBy:  v1alpha1.ManagedByOperator,
	}
	if c := ncb.Spec.BackupTemplate.Config; c != nil && c.ClusterName != "" {
		labels[v1alpha1.LabelCluster] = c.ClusterName
	}
	nb := &v1alpha1.NebulaBackup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   ncb.Namespace,
			Name:        BackupName(ncb, t),
			Labels:      labels,
			Annotations: map[string]string{AnnotationScheduledTime: t.UTC().Format(time.RFC3339)},
		},
		Spec: *ncb.Spec.BackupTemplate.DeepCopy(),
	}
	if err := controllerutil.SetControllerReference(ncb, nb, r.Client.Scheme()); err != nil {
		return nil, err
	}
	if err := r.Client.Create(ctx, nb); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			r.event(ncb, corev1.EventTypeWarning, "CreateFailed", fmt.Sprintf("cannot create backup %s: %v", nb.Name, err))
			return nil, err
		}
		if err := r.reader().Get(ctx, client.ObjectKeyFromObject(nb), nb); err != nil {
			return nil, err
		}
		return nb, nil
	}
	r.event(ncb, corev1.EventTypeNormal, v1alpha1.CronBackupReasonBackupCreated,
		fmt.Sprintf("backup %s created for %s", nb.Name, t.UTC().Format(time.RFC3339)))
	return nb, nil
}

// retain deletes finished backups beyond the newest maxBackups or older
// than maxReservedTime (retain, when not 0). Running backups are never
// deleted. It returns when the next finished backup expires (zero if
// none).
func (r *Reconciler) retain(ctx context.Context, ncb *v1alpha1.NebulaCronBackup, owned []*v1alpha1.NebulaBackup, retain time.Duration, now time.Time) (time.Time, error) {
	sorted := append([]*v1alpha1.NebulaBackup(nil), owned...)
	sort.SliceStable(sorted, func(i, j int) bool { return scheduledTime(sorted[i]).After(scheduledTime(sorted[j])) })
	var removed []string
	var nextExpiry time.Time
	for i, nb := range sorted {
		if !nb.Status.Finished() || !nb.DeletionTimestamp.IsZero() {
			continue
		}
		byCount := ncb.Spec.MaxBackups != nil && i >= int(*ncb.Spec.MaxBackups)
		expires := scheduledTime(nb).Add(retain)
		byAge := retain > 0 && !expires.After(now)
		if !byCount && !byAge {
			if retain > 0 && (nextExpiry.IsZero() || expires.Before(nextExpiry)) {
				nextExpiry = expires
			}
			continue
		}
		err := r.Client.Delete(ctx, nb, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if client.IgnoreNotFound(err) != nil {
			return time.Time{}, err
		}
		removed = append(removed, nb.Name)
	}
	if len(removed) > 0 {
		ncb.Status.RecordCleanup(metav1.Time{Time: now})
		r.event(ncb, corev1.EventTypeNormal, v1alpha1.CronBackupReasonBackupsRemoved,
			fmt.Sprintf("%d expired backup(s) deleted: %v", len(removed), removed))
	}
	return nextExpiry, nil
}

// invalid records an invalid spec (the Scheduled condition alone) and
// reports it once, when it changes.
func (r *Reconciler) invalid(ctx context.Context, ncb *v1alpha1.NebulaCronBackup, orig *v1alpha1.NebulaCronBackupStatus, reason, msg string) error {
	ncb.Status.SetInvalid(reason, msg, ncb.Generation)
	if equality.Semantic.DeepEqual(orig, &ncb.Status) {
		return nil
	}
	if err := r.Client.Status().Update(ctx, ncb); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.event(ncb, corev1.EventTypeWarning, reason, msg)
	return nil
}
