// Package restorek8s is `br restore full --mode=k8s`: it creates a
// NebulaRestore for the operator, or finds the one an earlier run created,
// and follows it until it completes or fails.
//
// The restore's name is derived from the cluster and the backup, so a
// re-run (the reference page's Pod has restartPolicy Always) follows the
// same restore instead of starting a second one. It needs only what a
// namespaced Role grants: nebularestores get, list, watch and create
// (config/samples/br_restore_rbac.yaml).
package restorek8s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
)

// Options are br's flags in k8s mode.
type Options struct {
	Namespace string // of the NebulaRestore and of the restored cluster
	Cluster   string // the backed-up NebulaCluster
	Secret    string // Secret with the S3 keys (or gs credentials JSON), read by the operator
	Backup    string // BACKUP_YYYY_MM_DD_HH_MM_SS
	Storage   string // s3://BUCKET[/PREFIX]
	Region    string
	Endpoint  string
	// Concurrency is spec.config.concurrency; 0 leaves it to the default.
	Concurrency int32
	// Timeout bounds the wait; 0 waits until the restore ends.
	Timeout time.Duration
	// Retry is the pause before re-establishing a broken watch (default 1s).
	Retry time.Duration
}

// The same rules as the CRD's, checked before contacting the API server so
// that mistakes are reported in terms of br's flags.
var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	backupName = regexp.MustCompile(`^BACKUP_[0-9]{4}(_[0-9]{2}){5}$`)
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	endpoint   = regexp.MustCompile(`^https?://[^ /]+(/.*)?$`)
)

// Validate checks the options and says which flag to fix.
func (o Options) Validate() error {
	var errs []error
	if o.Cluster == "" {
		errs = append(errs, errors.New("--cluster: name the backed-up NebulaCluster (required with --mode=k8s)"))
	} else if len(o.Cluster) > 63 || !dnsLabel.MatchString(o.Cluster) {
		errs = append(errs, fmt.Errorf("--cluster %q: a NebulaCluster name is at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", o.Cluster))
	}
	if o.Namespace == "" || len(o.Namespace) > 63 || !dnsLabel.MatchString(o.Namespace) {
		errs = append(errs, fmt.Errorf("--namespace %q: give the namespace of the restore and the new cluster (a lowercase DNS label)", o.Namespace))
	}
	if o.Secret == "" {
		errs = append(errs, errors.New("--secret: name the Secret holding the S3 keys (access_key/secret_key or access-key/secret-key), or for gs:// the credentials JSON (key credentials), in --namespace; required with --mode=k8s, the operator reads it"))
	} else if len(o.Secret) > 253 {
		errs = append(errs, fmt.Errorf("--secret %q: longer than a Secret name may be (253)", o.Secret))
	}
	if !backupName.MatchString(o.Backup) {
		errs = append(errs, fmt.Errorf("--name %q: give a backup name like BACKUP_2023_02_12_10_04_16 (br show --storage ... lists them)", o.Backup))
	}
	if _, _, err := o.bucket(); err != nil {
		errs = append(errs, err)
	}
	if o.Endpoint != "" && !endpoint.MatchString(o.Endpoint) {
		errs = append(errs, fmt.Errorf("--s3.endpoint %q: give an http:// or https:// URL, e.g. https://s3.us-east-1.amazonaws.com", o.Endpoint))
	}
	if o.Concurrency < 0 || o.Concurrency > 1024 {
		errs = append(errs, fmt.Errorf("--concurrency %d: give 1 to 1024", o.Concurrency))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: give a positive duration", o.Timeout))
	}
	return errors.Join(errs...)
}

// bucket turns --storage s3://BUCKET[/PREFIX] or gs://BUCKET[/PREFIX] into
// spec.config.s3.bucket or spec.config.gs.bucket, "BUCKET[/PREFIX]"; gs
// tells which.
func (o Options) bucket() (rest string, gs bool, err error) {
	rest, ok := strings.CutPrefix(o.Storage, "s3://")
	if !ok {
		if rest, gs = strings.CutPrefix(o.Storage, "gs://"); !gs {
			return "", false, fmt.Errorf("--storage %q: the operator restores from S3 or Google Cloud Storage: give s3://BUCKET[/PREFIX] or gs://BUCKET[/PREFIX]", o.Storage)
		}
	}
	rest = strings.TrimRight(rest, "/")
	b, prefix, _ := strings.Cut(rest, "/")
	if len(b) < 3 || len(b) > 63 || !bucketName.MatchString(b) {
		return "", gs, fmt.Errorf("--storage %q: %q is not a bucket name (3 to 63 lowercase letters, digits, '.' or '-'); give s3://BUCKET[/PREFIX] and the service URL in --s3.endpoint, or gs://BUCKET[/PREFIX]", o.Storage, b)
	}
	if strings.Contains(prefix, "//") {
		return "", gs, fmt.Errorf("--storage %q: empty path element in the prefix", o.Storage)
	}
	return rest, gs, nil
}

// Name is the NebulaRestore's name for a cluster and a backup:
// restore-<cluster>-<backup, lowercase, '_' as '-'>. Names longer than 63
// characters are cut and end with a hash of the whole name, so two restores
// still get two names.
func Name(cluster, backup string) string {
	n := "restore-" + cluster + "-" + strings.ReplaceAll(strings.ToLower(backup), "_", "-")
	if len(n) <= 63 {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	return strings.TrimRight(n[:63-9], "-.") + "-" + hex.EncodeToString(sum[:])[:8]
}

// Restore returns the NebulaRestore the options describe.
func (o Options) Restore() (*v1alpha1.NebulaRestore, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	bucket, gs, _ := o.bucket()
	cfg := &v1alpha1.RestoreConfig{ClusterName: o.Cluster, BackupName: o.Backup, Concurrency: o.Concurrency}
	if gs {
		cfg.GS = &v1alpha1.GSStorageProvider{Bucket: bucket, SecretName: o.Secret}
	} else {
		cfg.S3 = &v1alpha1.S3StorageProvider{Region: o.Region, Bucket: bucket, Endpoint: o.Endpoint, SecretName: o.Secret}
	}
	return &v1alpha1.NebulaRestore{
		ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: Name(o.Cluster, o.Backup)},
		Spec:       v1alpha1.NebulaRestoreSpec{Config: cfg},
	}, nil
}

// Run creates the NebulaRestore (or finds the one of an earlier run with
// the same options) and follows it, writing each phase change to out, until
// it is Complete (nil) or Failed or Invalid (an error with the condition's
// reason and message). Cancelling ctx stops following, not the restore.
func Run(ctx context.Context, c client.WithWatch, o Options, out io.Writer) (*v1alpha1.NebulaRestore, error) {
	want, err := o.Restore()
	if err != nil {
		return nil, err
	}
	f := &follower{c: c, out: out, begin: time.Now(), retry: o.Retry, key: client.ObjectKeyFromObject(want)}
	if f.retry <= 0 {
		f.retry = time.Second
	}
	ref := fmt.Sprintf("NebulaRestore %s/%s", f.key.Namespace, f.key.Name)

	nr := want.DeepCopy()
	switch err := c.Create(ctx, nr); {
	case err == nil:
		fmt.Fprintf(out, "restore %s: created (%s, backup %s of cluster %s)\n", f.key.Name, ref, o.Backup, o.Cluster)
	case apierrors.IsAlreadyExists(err):
		nr = &v1alpha1.NebulaRestore{}
		if err := c.Get(ctx, f.key, nr); err != nil {
			return nil, fmt.Errorf("%s exists but cannot be read: %w%s", ref, err, hint(err))
		}
		if diff := differences(want.Spec.Config, nr); len(diff) > 0 {
			return nr, fmt.Errorf("%s already exists for another restore (%s): it is not this one; delete it (kubectl delete nr %s -n %s) if it is no longer needed, or restore into another --namespace",
				ref, strings.Join(diff, "; "), f.key.Name, f.key.Namespace)
		}
		fmt.Fprintf(out, "restore %s: exists, following it (%s)\n", f.key.Name, ref)
	default:
		return nil, fmt.Errorf("create %s: %w%s", ref, err, hint(err))
	}

	wctx, cancel := ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, o.Timeout)
	}
	defer cancel()
	nr, err = f.follow(wctx, nr)
	if err == nil {
		return nr, nil
	}
	if wctx.Err() != nil && errors.Is(err, wctx.Err()) {
		why := "stopped following"
		if ctx.Err() == nil {
			why = fmt.Sprintf("still %s after --timeout %v", phaseOf(nr), o.Timeout)
		}
		return nr, fmt.Errorf("restore %s: %s; the restore keeps running in the cluster: kubectl get nr %s -n %s -w", f.key.Name, why, f.key.Name, f.key.Namespace)
	}
	return nr, err
}

type follower struct {
	c     client.WithWatch
	out   io.Writer
	begin time.Time
	retry time.Duration
	key   client.ObjectKey
	last  string // phase and cluster last printed
}

// follow watches nr until it ends. A watch that closes or errs is
// re-established from a fresh read.
func (f *follower) follow(ctx context.Context, nr *v1alpha1.NebulaRestore) (*v1alpha1.NebulaRestore, error) {
	for {
		if done, err := f.observe(nr); done {
			return nr, err
		}
		w, err := f.c.Watch(ctx, &v1alpha1.NebulaRestoreList{}, &client.ListOptions{
			Namespace:     f.key.Namespace,
			FieldSelector: fields.OneTermEqualSelector("metadata.name", f.key.Name),
			Raw:           &metav1.ListOptions{ResourceVersion: nr.ResourceVersion},
		})
		if err == nil {
			var done bool
			nr, done, err = f.drain(ctx, w, nr)
			w.Stop()
			if done {
				return nr, err
			}
		}
		if ctx.Err() != nil {
			return nr, ctx.Err()
		}
		if err != nil {
			if fatal(err) {
				return nr, fmt.Errorf("watch NebulaRestore %s/%s: %w%s", f.key.Namespace, f.key.Name, err, hint(err))
			}
			fmt.Fprintf(f.out, "restore %s: watch broke (%v), watching again\n", f.key.Name, err)
		}
		// Re-read, so that no change between two watches is missed.
		for {
			select {
			case <-ctx.Done():
				return nr, ctx.Err()
			case <-time.After(f.retry):
			}
			fresh := &v1alpha1.NebulaRestore{}
			err := f.c.Get(ctx, f.key, fresh)
			if err == nil {
				nr = fresh
				break
			}
			if apierrors.IsNotFound(err) {
				return nr, fmt.Errorf("NebulaRestore %s/%s was deleted while br followed it", f.key.Namespace, f.key.Name)
			}
			if fatal(err) || ctx.Err() != nil {
				return nr, fmt.Errorf("read NebulaRestore %s/%s: %w%s", f.key.Namespace, f.key.Name, err, hint(err))
			}
			fmt.Fprintf(f.out, "restore %s: cannot read it (%v), retrying\n", f.key.Name, err)
		}
	}
}

// drain reads w's events until the restore ends (done) or the watch
// breaks (not done, with the reason if there is one).
func (f *follower) drain(ctx context.Context, w watch.Interface, nr *v1alpha1.NebulaRestore) (*v1alpha1.NebulaRestore, bool, error) {
	for {
		select {
		case <-ctx.Done():
			return nr, false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nr, false, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if got, ok := ev.Object.(*v1alpha1.NebulaRestore); ok {
					nr = got
					if done, err := f.observe(nr); done {
						return nr, true, err
					}
				}
			case watch.Deleted:
				return nr, true, fmt.Errorf("NebulaRestore %s/%s was deleted while br followed it", f.key.Namespace, f.key.Name)
			case watch.Error:
				return nr, false, apierrors.FromObject(ev.Object)
			}
		}
	}
}

// observe prints a phase change and says whether the restore has ended.
func (f *follower) observe(nr *v1alpha1.NebulaRestore) (bool, error) {
	line := string(phaseOf(nr))
	if nr.Status.ClusterName != "" {
		line += " (restored cluster " + nr.Status.ClusterName + ")"
	}
	if line != f.last {
		f.last = line
		fmt.Fprintf(f.out, "restore %s: %s %s\n", f.key.Name, line, round(time.Since(f.begin)))
	}
	switch nr.Status.Phase {
	case v1alpha1.RestoreComplete:
		fmt.Fprintf(f.out, "restored %s into NebulaCluster %s/%s in %s\n",
			nr.Spec.EffectiveConfig().BackupName, nr.Namespace, nr.Status.ClusterName, round(f.took(nr)))
		return true, nil
	case v1alpha1.RestoreFailed, v1alpha1.RestoreInvalid:
		why := "no " + string(nr.Status.Phase) + " condition says why: kubectl describe nr " + nr.Name + " -n " + nr.Namespace
		if c := nr.Status.Condition(string(nr.Status.Phase)); c != nil {
			why = c.Reason + ": " + c.Message
		}
		// A re-run follows this same restore, so it must go first.
		next := "to try again, delete it first: kubectl delete nr " + nr.Name + " -n " + nr.Namespace
		if nr.Status.ClusterName != "" && !nr.Spec.AutoRemoveFailed {
			next = "the half-built NebulaCluster " + nr.Status.ClusterName + " stays; " + next
		}
		return true, fmt.Errorf("restore %s/%s %s: %s; %s", nr.Namespace, nr.Name, nr.Status.Phase, why, next)
	}
	return false, nil
}

// took is the restore's duration by the API server's clock when the
// operator recorded it, else by ours.
func (f *follower) took(nr *v1alpha1.NebulaRestore) time.Duration {
	if s, e := nr.Status.TimeStarted, nr.Status.TimeCompleted; s != nil && e != nil && !e.Before(s) {
		return e.Sub(s.Time)
	}
	return time.Since(f.begin)
}

func phaseOf(nr *v1alpha1.NebulaRestore) v1alpha1.RestorePhase {
	if nr == nil || nr.Status.Phase == "" {
		return v1alpha1.RestorePending
	}
	return nr.Status.Phase
}

// fatal errors do not go away by watching again.
func fatal(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) ||
		apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) || meta.IsNoMatchError(err)
}

const rbacHint = "; br needs nebularestores get, list, watch and create in the namespace: apply config/samples/br_restore_rbac.yaml there"

func hint(err error) string {
	if apierrors.IsForbidden(err) {
		return rbacHint
	}
	return ""
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// differences lists how an existing restore's configuration differs from
// the wanted one, with the server's defaults taken into account.
func differences(want *v1alpha1.RestoreConfig, nr *v1alpha1.NebulaRestore) []string {
	have := nr.Spec.EffectiveConfig()
	if have == nil {
		return []string{"it has no spec.config"}
	}
	var d []string
	diff := func(field, h, w string) {
		if h != w {
			d = append(d, fmt.Sprintf("%s is %q, not %q", field, h, w))
		}
	}
	diff("clusterName", have.ClusterName, want.ClusterName)
	if have.ClusterNamespace != nil {
		diff("clusterNamespace", *have.ClusterNamespace, nr.Namespace)
	}
	diff("backupName", have.BackupName, want.BackupName)
	conc := func(c int32) string {
		if c == 0 {
			c = v1alpha1.DefaultConcurrency
		}
		return fmt.Sprint(c)
	}
	diff("concurrency", conc(have.Concurrency), conc(want.Concurrency))
	if want.GS != nil {
		hg := have.GS
		if hg == nil {
			hg = &v1alpha1.GSStorageProvider{}
		}
		diff("gs.bucket", hg.Bucket, want.GS.Bucket)
		diff("gs.secretName", hg.SecretName, want.GS.SecretName)
		return d
	}
	hs, ws := have.S3, want.S3
	if hs == nil {
		hs = &v1alpha1.S3StorageProvider{}
	}
	diff("s3.bucket", hs.Bucket, ws.Bucket)
	diff("s3.region", hs.Region, ws.Region)
	diff("s3.endpoint", hs.Endpoint, ws.Endpoint)
	diff("s3.secretName", hs.SecretName, ws.SecretName)
	return d
}
