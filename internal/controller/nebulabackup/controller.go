// Package nebulabackup reconciles NebulaBackups: it validates the backup
// (cluster, Secret, bucket), runs `br backup full|incr` as a Job with the
// credentials taken from the Secret as environment variables, reads the
// backup's name from the Job pod's termination message, and with
// cleanBackupData removes the stored backup when the resource is deleted.
package nebulabackup

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/br"
	"github.com/nebula-open/nebula-br/internal/controller"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
	"github.com/nebula-open/nebula-br/internal/controller/storageaccess"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Finalizer is set on NebulaBackups with cleanBackupData: it removes the
// stored backup before the resource goes.
const Finalizer = "apps.nebula-graph.io/clean-backup-data"

// DefaultBRImage is the br image used when spec.image is empty and the
// Reconciler has no BRImage.
const DefaultBRImage = "nebula-br/br:latest"

// Job pod labels read by the controller.
const (
	jobNameLabel       = "batch.kubernetes.io/job-name"
	legacyJobNameLabel = "job-name"
	// LabelBackup names the NebulaBackup on its Job.
	LabelBackup = v1alpha1.Group + "/backup"
)

var backupNameRE = regexp.MustCompile(`BACKUP_\d{4}(_\d{2}){5}`)

// ParseBackupName finds the backup name in a termination message (br
// writes just the name; anything around it is ignored).
func ParseBackupName(msg string) string { return backupNameRE.FindString(msg) }

// Reconciler reconciles NebulaBackups.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader // uncached reads of Secrets and clusters
	Recorder  events.EventRecorder
	BRImage   string
	// NameWait is how long after a Job's success the controller waits for
	// its pod's termination message before completing without a name.
	NameWait time.Duration
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
		r.Recorder = mgr.GetEventRecorder("nebulabackup-controller")
	}
	if r.NameWait == 0 {
		r.NameWait = 30 * time.Second
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.NebulaBackup{}).
		Owns(&batchv1.Job{}).
		// A backup that finishes or goes wakes the pending backups of its
		// cluster at once.
		Watches(&v1alpha1.NebulaBackup{}, handler.EnqueueRequestsFromMapFunc(r.pendingOfSameCluster)).
		Named("nebulabackup").
		Complete(r)
}

func (r *Reconciler) pendingOfSameCluster(ctx context.Context, obj client.Object) []reconcile.Request {
	nb, ok := obj.(*v1alpha1.NebulaBackup)
	if !ok || nb.Spec.Config == nil || nb.Status.Phase == v1alpha1.BackupRunning || nb.Status.Phase == v1alpha1.BackupPending {
		return nil
	}
	var list v1alpha1.NebulaBackupList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID != nb.UID && o.Spec.Config != nil && o.Status.Phase == v1alpha1.BackupPending && clusterKey(o) == clusterKey(nb) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}

func (r *Reconciler) event(nb *v1alpha1.NebulaBackup, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(nb, nil, typ, reason, reason, "%s", msg)
	}
}

// JobName is the backup Job's name: backup-<full|incr>-<name>.
func JobName(nb *v1alpha1.NebulaBackup) string {
	return fmt.Sprintf("backup-%s-%s", backupType(nb), nb.Name)
}

func backupType(nb *v1alpha1.NebulaBackup) v1alpha1.BackupType {
	if nb.Spec.Config != nil && nb.Spec.Config.BaseBackupName != nil && *nb.Spec.Config.BaseBackupName != "" {
		return v1alpha1.BackupTypeIncr
	}
	return v1alpha1.BackupTypeFull
}

func clusterKey(nb *v1alpha1.NebulaBackup) types.NamespacedName {
	ns := nb.Namespace
	if c := nb.Spec.Config.ClusterNamespace; c != nil && *c != "" {
		ns = *c
	}
	return types.NamespacedName{Namespace: ns, Name: nb.Spec.Config.ClusterName}
}

// Reconcile moves a NebulaBackup through Pending, Running and
// Complete/Failed/Invalid. A write that lost a race with another (a stale
// cached object) is retried shortly, not reported as an error.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controller.RetryLostRaces(r.reconcile(ctx, req))
}

func (r *Reconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	nb := &v1alpha1.NebulaBackup{}
	if err := r.Client.Get(ctx, req.NamespacedName, nb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !nb.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, nb)
	}
	if nb.Spec.CleanBackupData != controllerutil.ContainsFinalizer(nb, Finalizer) {
		if nb.Spec.CleanBackupData {
			controllerutil.AddFinalizer(nb, Finalizer)
		} else {
			controllerutil.RemoveFinalizer(nb, Finalizer)
		}
		if err := r.Client.Update(ctx, nb); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if nb.Spec.Config == nil || (nb.Spec.Config.S3 == nil && nb.Spec.Config.GS == nil) {
		return r.invalid(ctx, nb, v1alpha1.StorageReasonInvalid, "spec.config needs s3 or gs")
	}
	switch {
	case nb.Status.Finished():
		return r.finished(ctx, nb)
	case nb.Status.Phase == v1alpha1.BackupRunning:
		return r.running(ctx, nb)
	default:
		return r.start(ctx, nb)
	}
}

// access reads the backup's storage settings and their Secret.
func (r *Reconciler) access(ctx context.Context, nb *v1alpha1.NebulaBackup) (*storageaccess.Access, *storageaccess.Problem) {
	return storageaccess.Resolve(ctx, r.APIReader, nb.Namespace, nb.Spec.Config.S3, nb.Spec.Config.GS)
}

// validate checks the cluster, the Secret and the bucket; it returns the
// cluster and the credentials, or an Invalid reason and message.
func (r *Reconciler) validate(ctx context.Context, nb *v1alpha1.NebulaBackup) (*v1alpha1.NebulaCluster, *storageaccess.Access, string, string) {
	key := clusterKey(nb)
	nc := &v1alpha1.NebulaCluster{}
	if err := r.APIReader.Get(ctx, key, nc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, v1alpha1.BackupReasonClusterNotFound, fmt.Sprintf("NebulaCluster %s/%s not found", key.Namespace, key.Name)
		}
		return nil, nil, v1alpha1.BackupReasonClusterNotFound, fmt.Sprintf("cannot read NebulaCluster %s/%s: %v", key.Namespace, key.Name, err)
	}
	c, p := r.access(ctx, nb)
	if p != nil {
		return nil, nil, p.Reason, p.Message
	}
	if _, p := storageaccess.Check(ctx, c.Storage); p != nil {
		return nil, nil, p.Reason, p.Message
	}
	return nc, c, "", ""
}

func (r *Reconciler) setStatus(ctx context.Context, nb *v1alpha1.NebulaBackup) error {
	return r.Client.Status().Update(ctx, nb)
}

func (r *Reconciler) invalid(ctx context.Context, nb *v1alpha1.NebulaBackup, reason, msg string) (ctrl.Result, error) {
	now := metav1.Now()
	nb.Status.SetInvalid(backupType(nb), reason, msg, nb.Generation, now)
	if err := r.setStatus(ctx, nb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.event(nb, corev1.EventTypeWarning, reason, msg)
	controller.RecordBackup(controller.ResultInvalid, nb.Namespace, nb.Spec.Config.ClusterName, time.Time{}, now.Time)
	return ctrl.Result{}, nil
}

// otherRunning names another backup of the same cluster that is running.
// It reads the API server, not the cache: reconciles run one at a time, so
// a backup that has just started is always seen by the next one.
func (r *Reconciler) otherRunning(ctx context.Context, nb *v1alpha1.NebulaBackup) (string, error) {
	var list v1alpha1.NebulaBackupList
	if err := r.APIReader.List(ctx, &list); err != nil {
		return "", err
	}
	me := clusterKey(nb)
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == nb.UID || o.Spec.Config == nil || o.Status.Phase != v1alpha1.BackupRunning {
			continue
		}
		if clusterKey(o) == me {
			return o.Namespace + "/" + o.Name, nil
		}
	}
	return "", nil
}

func (r *Reconciler) start(ctx context.Context, nb *v1alpha1.NebulaBackup) (ctrl.Result, error) {
	nc, c, reason, msg := r.validate(ctx, nb)
	if nc == nil {
		return r.invalid(ctx, nb, reason, msg)
	}
	if other, err := r.otherRunning(ctx, nb); err != nil {
		return ctrl.Result{}, err
	} else if other != "" {
		msg := fmt.Sprintf("backup %s of cluster %s is running; this one starts after it", other, nc.Name)
		if nb.Status.Phase != v1alpha1.BackupPending {
			nb.Status.SetPending(backupType(nb), v1alpha1.BackupReasonWaiting, msg, nb.Generation)
			if err := r.setStatus(ctx, nb); err != nil {
				return ctrl.Result{}, client.IgnoreNotFound(err)
			}
			r.event(nb, corev1.EventTypeNormal, v1alpha1.BackupReasonWaiting, msg)
		}
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	job := r.job(nb, nc, c)
	if err := controllerutil.SetControllerReference(nb, job, r.Client.Scheme()); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, err
	}
	nb.Status.SetRunning(backupType(nb), job.Name, v1alpha1.BackupReasonJobCreated, "backup Job "+job.Name+" created", nb.Generation, metav1.Now())
	if err := r.setStatus(ctx, nb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.event(nb, corev1.EventTypeNormal, v1alpha1.BackupReasonJobCreated, fmt.Sprintf("%s backup of %s started as Job %s", nb.Status.Type, nc.Name, job.Name))
	return ctrl.Result{}, nil
}

// job builds the backup Job. Credentials reach it only from the Secret:
// environment references (s3 keys) or a mounted file (gs JSON).
func (r *Reconciler) job(nb *v1alpha1.NebulaBackup, nc *v1alpha1.NebulaCluster, c *storageaccess.Access) *batchv1.Job {
	cfg := nb.Spec.Config
	storageArgs, env, vols, mounts := c.Job()
	args := append([]string{"backup", string(backupType(nb)), "--meta", naming.MetadAddress(nc)}, storageArgs...)
	if backupType(nb) == v1alpha1.BackupTypeIncr {
		args = append(args, "--base", *cfg.BaseBackupName)
	}
	if cfg.Concurrency > 0 {
		args = append(args, "--concurrency", fmt.Sprint(cfg.Concurrency))
	}
	args = append(args, "--termination-log", "/dev/termination-log")

	img := r.BRImage
	if img == "" {
		img = DefaultBRImage
	}
	if nb.Spec.Image != "" {
		img = nb.Spec.Image
		if nb.Spec.Version != "" {
			img += ":" + nb.Spec.Version
		}
	}
	env = append(env, nb.Spec.Env...)
	ct := corev1.Container{
		Name:                     "backup",
		Image:                    img,
		ImagePullPolicy:          nb.Spec.ImagePullPolicy,
		Command:                  []string{"br"},
		Args:                     args,
		Env:                      env,
		TerminationMessagePath:   "/dev/termination-log",
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if nb.Spec.Resources != nil {
		ct.Resources = *nb.Spec.Resources
	}
	ct.VolumeMounts = append(append(ct.VolumeMounts, mounts...), nb.Spec.VolumeMounts...)
	lb := map[string]string{
		v1alpha1.LabelCluster:   nc.Name,
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByOperator,
		LabelBackup:             nb.Name,
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: JobName(nb), Namespace: nb.Namespace, Labels: lb},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr(int32(0)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lb},
				Spec: corev1.PodSpec{
					RestartPolicy:    corev1.RestartPolicyNever,
					InitContainers:   v1alpha1.CoreContainers(nb.Spec.InitContainers),
					Containers:       append([]corev1.Container{ct}, v1alpha1.CoreContainers(nb.Spec.SidecarContainers)...),
					Volumes:          append(vols, v1alpha1.CoreVolumes(nb.Spec.Volumes)...),
					ImagePullSecrets: nb.Spec.ImagePullSecrets,
					NodeSelector:     nb.Spec.NodeSelector,
					Tolerations:      nb.Spec.Tolerations,
					Affinity:         nb.Spec.Affinity,
				},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

// terminationMessage is the backup container's terminated-state message
// from the Job's pods ("" if none yet).
func (r *Reconciler) terminationMessage(ctx context.Context, nb *v1alpha1.NebulaBackup) (string, error) {
	for _, label := range []string{jobNameLabel, legacyJobNameLabel} {
		var pods corev1.PodList
		if err := r.APIReader.List(ctx, &pods, client.InNamespace(nb.Namespace), client.MatchingLabels{label: nb.Status.JobName}); err != nil {
			return "", err
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if t := cs.State.Terminated; t != nil && strings.TrimSpace(t.Message) != "" {
					return strings.TrimSpace(t.Message), nil
				}
			}
		}
	}
	return "", nil
}

func (r *Reconciler) running(ctx context.Context, nb *v1alpha1.NebulaBackup) (ctrl.Result, error) {
	job := &batchv1.Job{}
	key := types.NamespacedName{Namespace: nb.Namespace, Name: nb.Status.JobName}
	if err := r.Client.Get(ctx, key, job); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		// The cache may not have seen a Job created a moment ago: ask the
		// API server before concluding it is gone.
		if err := r.APIReader.Get(ctx, key, job); err != nil {
			if apierrors.IsNotFound(err) {
				return r.fail(ctx, nb, "backup Job "+nb.Status.JobName+" disappeared before finishing")
			}
			return ctrl.Result{}, err
		}
	}
	if c := jobCondition(job, batchv1.JobComplete); c != nil {
		msg, err := r.terminationMessage(ctx, nb)
		if err != nil {
			return ctrl.Result{}, err
		}
		name := ParseBackupName(msg)
		if name == "" && time.Since(c.LastTransitionTime.Time) < r.NameWait {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		now := metav1.Now()
		text := "backup " + name + " is in storage"
		if name == "" {
			text = "backup Job completed but its pod left no termination message with the backup name"
		}
		nb.Status.SetComplete(name, v1alpha1.BackupReasonJobComplete, text, nb.Generation, now)
		if err := r.setStatus(ctx, nb); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		r.event(nb, corev1.EventTypeNormal, v1alpha1.BackupReasonJobComplete, text)
		controller.RecordBackup(controller.ResultComplete, clusterKey(nb).Namespace, nb.Spec.Config.ClusterName, nb.Status.TimeStarted.Time, now.Time)
		return r.finished(ctx, nb)
	}
	if c := jobCondition(job, batchv1.JobFailed); c == nil && !job.DeletionTimestamp.IsZero() {
		return r.fail(ctx, nb, "backup Job "+job.Name+" was deleted before finishing")
	}
	if c := jobCondition(job, batchv1.JobFailed); c != nil {
		msg, err := r.terminationMessage(ctx, nb)
		if err != nil {
			return ctrl.Result{}, err
		}
		text := "backup Job " + job.Name + " failed"
		if c.Message != "" {
			text += ": " + c.Message
		}
		if msg != "" {
			text += ": " + lastLines(msg, 5)
		}
		return r.fail(ctx, nb, text)
	}
	return ctrl.Result{}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func (r *Reconciler) fail(ctx context.Context, nb *v1alpha1.NebulaBackup, text string) (ctrl.Result, error) {
	now := metav1.Now()
	nb.Status.SetFailed(v1alpha1.BackupReasonJobFailed, text, nb.Generation, now)
	if err := r.setStatus(ctx, nb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.event(nb, corev1.EventTypeWarning, v1alpha1.BackupReasonJobFailed, text)
	started := time.Time{}
	if nb.Status.TimeStarted != nil {
		started = nb.Status.TimeStarted.Time
	}
	controller.RecordBackup(controller.ResultFailed, clusterKey(nb).Namespace, nb.Spec.Config.ClusterName, started, now.Time)
	return r.finished(ctx, nb)
}

// finished applies autoRemoveFinished to a finished backup's Job.
func (r *Reconciler) finished(ctx context.Context, nb *v1alpha1.NebulaBackup) (ctrl.Result, error) {
	if !nb.Spec.AutoRemoveFinished || nb.Status.JobName == "" {
		return ctrl.Result{}, nil
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: nb.Namespace, Name: nb.Status.JobName}}
	err := r.Client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err == nil {
		r.event(nb, corev1.EventTypeNormal, "JobRemoved", "finished backup Job "+job.Name+" removed (autoRemoveFinished)")
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// finalize removes the stored backup (cleanBackupData) and then the
// finalizer.
func (r *Reconciler) finalize(ctx context.Context, nb *v1alpha1.NebulaBackup) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(nb, Finalizer) {
		return ctrl.Result{}, nil
	}
	if name := nb.Status.BackupName; name != "" && nb.Spec.Config != nil && (nb.Spec.Config.S3 != nil || nb.Spec.Config.GS != nil) {
		c, p := r.access(ctx, nb)
		if p != nil {
			r.event(nb, corev1.EventTypeWarning, p.Reason, "cannot remove backup "+name+": "+p.Message)
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
		st := c.Storage
		if err := cleanup(ctx, st, name); err != nil {
			text := "cannot remove backup " + name + ": " + st.Redact(err.Error())
			r.event(nb, corev1.EventTypeWarning, "CleanupFailed", text)
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
		r.event(nb, corev1.EventTypeNormal, "BackupRemoved", "backup "+name+" removed from "+st.URI)
	}
	controllerutil.RemoveFinalizer(nb, Finalizer)
	if err := r.Client.Update(ctx, nb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// cleanup removes a backup if it is still there. It keeps the chain whole:
// a backup that others use as base is removed anyway (the resource is
// going), as br cleanup --force would.
func cleanup(ctx context.Context, st br.Storage, name string) error {
	store, err := objstore.Open(ctx, st.URI, st.Config(false))
	if err != nil {
		return err
	}
	list, err := br.List(ctx, store)
	if err != nil {
		return err
	}
	for _, b := range list {
		if b.Name == name {
			_, err := br.Cleanup(ctx, br.CleanupOptions{Options: br.Options{Storage: st}, Name: name, Force: true})
			return err
		}
	}
	return nil // already gone
}
