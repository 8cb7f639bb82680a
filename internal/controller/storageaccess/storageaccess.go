// Package storageaccess gives the controllers what they need of a
// resource's storage settings (spec.config.s3 or spec.config.gs): the
// credentials from its Secret, a check that the bucket is reachable, and
// how a br Job gets them, each failure as a condition reason and a message
// that says what to fix. Credentials never leave this package in messages,
// and reach Jobs only through the Secret (environment references or a
// mounted file), never as values.
package storageaccess

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/br"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Creds are the keys a Secret holds, and under which names (Jobs get them
// through secretKeyRef, never as values).
type Creds struct {
	AccessKeyName, SecretKeyName string
	AccessKey, SecretKey         string
}

// Problem is a reason and a message for an Invalid condition.
type Problem struct{ Reason, Message string }

func (p *Problem) Error() string { return p.Reason + ": " + p.Message }

// ReadSecret reads the Secret: keys access_key/secret_key or
// access-key/secret-key.
func ReadSecret(ctx context.Context, r client.Reader, ns, name string) (*Creds, *Problem) {
	if name == "" {
		return nil, &Problem{v1alpha1.StorageReasonSecretNotFound, "s3.secretName is empty: name a Secret with access_key and secret_key"}
	}
	sec := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &Problem{v1alpha1.StorageReasonSecretNotFound, fmt.Sprintf("Secret %s/%s not found", ns, name)}
		}
		return nil, &Problem{v1alpha1.StorageReasonSecretNotFound, fmt.Sprintf("cannot read Secret %s/%s: %v", ns, name, err)}
	}
	for _, pair := range [][2]string{{"access_key", "secret_key"}, {"access-key", "secret-key"}} {
		a, okA := sec.Data[pair[0]]
		s, okS := sec.Data[pair[1]]
		if okA && okS && len(a) > 0 && len(s) > 0 {
			return &Creds{AccessKeyName: pair[0], SecretKeyName: pair[1], AccessKey: string(a), SecretKey: string(s)}, nil
		}
	}
	return nil, &Problem{v1alpha1.StorageReasonSecretInvalid, fmt.Sprintf("Secret %s/%s has neither access_key and secret_key nor access-key and secret-key", ns, name)}
}

// Storage is the bucket as br sees it.
func Storage(s3 *v1alpha1.S3StorageProvider, c *Creds) br.Storage {
	return br.Storage{
		URI: "s3://" + strings.TrimSuffix(s3.Bucket, "/"),
		S3:  objstore.S3Config{AccessKey: c.AccessKey, SecretKey: c.SecretKey, Region: s3.Region, Endpoint: s3.Endpoint},
	}
}

// Check opens the storage and checks the bucket answers.
func Check(ctx context.Context, st br.Storage) (objstore.Store, *Problem) {
	store, err := objstore.Open(ctx, st.URI, st.Config(false))
	if err != nil {
		return nil, &Problem{v1alpha1.StorageReasonInvalid, st.Redact(err.Error())}
	}
	if err := store.Check(ctx); err != nil {
		msg := st.Redact(err.Error())
		switch {
		case errors.Is(err, objstore.ErrBucketNotFound):
			return nil, &Problem{v1alpha1.StorageReasonBucketNotFound, msg}
		case errors.Is(err, objstore.ErrAccessDenied):
			return nil, &Problem{v1alpha1.StorageReasonAccessDenied, msg}
		case errors.Is(err, objstore.ErrUnreachable):
			return nil, &Problem{v1alpha1.StorageReasonUnreachable, msg}
		default:
			return nil, &Problem{v1alpha1.StorageReasonInvalid, msg}
		}
	}
	return store, nil
}

// GSCredentialsKey is the key of a gs Secret holding the credentials JSON
// (upstream's).
const GSCredentialsKey = "credentials"

// Access is a resource's storage: what br sees, and what a br Job needs.
type Access struct {
	Storage br.Storage
	s3      *v1alpha1.S3StorageProvider
	creds   *Creds
	gs      *v1alpha1.GSStorageProvider
}

// Resolve reads the Secret of whichever of s3 and gs is set.
func Resolve(ctx context.Context, r client.Reader, ns string, s3 *v1alpha1.S3StorageProvider, gs *v1alpha1.GSStorageProvider) (*Access, *Problem) {
	switch {
	case s3 != nil && gs != nil:
		return nil, &Problem{v1alpha1.StorageReasonInvalid, "spec.config sets both s3 and gs: keep one"}
	case s3 != nil:
		c, p := ReadSecret(ctx, r, ns, s3.SecretName)
		if p != nil {
			return nil, p
		}
		return &Access{Storage: Storage(s3, c), s3: s3, creds: c}, nil
	case gs != nil:
		var json []byte
		if gs.SecretName != "" {
			sec := &corev1.Secret{}
			if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: gs.SecretName}, sec); err != nil {
				if apierrors.IsNotFound(err) {
					return nil, &Problem{v1alpha1.StorageReasonSecretNotFound, fmt.Sprintf("Secret %s/%s not found", ns, gs.SecretName)}
				}
				return nil, &Problem{v1alpha1.StorageReasonSecretNotFound, fmt.Sprintf("cannot read Secret %s/%s: %v", ns, gs.SecretName, err)}
			}
			if json = sec.Data[GSCredentialsKey]; len(strings.TrimSpace(string(json))) == 0 {
				return nil, &Problem{v1alpha1.StorageReasonSecretInvalid, fmt.Sprintf("Secret %s/%s has no %s: put the service account key's JSON there", ns, gs.SecretName, GSCredentialsKey)}
			}
		}
		return &Access{Storage: br.GSStorage(gs.Bucket, "", json, ""), gs: gs}, nil
	}
	return nil, &Problem{v1alpha1.StorageReasonInvalid, "spec.config needs s3 or gs"}
}

// gsMount is where a Job finds the gs credentials file.
const gsMount = "/var/run/secrets/nebula-br/gs"

// Job is what a br Job needs: its storage flags, and the Secret reaching
// it as environment references (s3 keys) or a mounted file (gs JSON).
func (a *Access) Job() (args []string, env []corev1.EnvVar, vols []corev1.Volume, mounts []corev1.VolumeMount) {
	if a.gs != nil {
		file := ""
		if a.gs.SecretName != "" {
			file = gsMount + "/" + GSCredentialsKey
			vols = []corev1.Volume{{Name: "gs-credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: a.gs.SecretName, Items: []corev1.KeyToPath{{Key: GSCredentialsKey, Path: GSCredentialsKey}}}}}}
			mounts = []corev1.VolumeMount{{Name: "gs-credentials", MountPath: gsMount, ReadOnly: true}}
		}
		return br.GSArgs(a.gs.Bucket, "", file, ""), nil, vols, mounts
	}
	args = []string{"--storage", a.Storage.URI}
	if a.s3.Region != "" {
		args = append(args, "--s3.region", a.s3.Region)
	}
	if a.s3.Endpoint != "" {
		args = append(args, "--s3.endpoint", a.s3.Endpoint)
	}
	env = []corev1.EnvVar{
		{Name: "AWS_ACCESS_KEY_ID", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: a.s3.SecretName}, Key: a.creds.AccessKeyName}}},
		{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: a.s3.SecretName}, Key: a.creds.SecretKeyName}}},
	}
	return args, env, nil, nil
}
