// Package s3access gives the controllers what they need of a resource's
// S3 settings: the credentials from its Secret and a check that the bucket
// is reachable, each failure as a condition reason and a message that
// says what to fix. Credentials never leave this package in messages.
package s3access

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
	store, err := objstore.Open(ctx, st.URI, objstore.Config{S3: st.S3})
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
