package envtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nebula-open/nebula-br/internal/envtest"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// decodeOne decodes a one-object YAML manifest.
func decodeOne(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	objs, err := envtest.DecodeManifests([]byte(manifest))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, manifest)
	}
	if len(objs) != 1 {
		t.Fatalf("want 1 object, got %d:\n%s", len(objs), manifest)
	}
	return objs[0]
}

// create creates the one object of manifest in ns, as kubectl create
// would (strict field validation), and returns the server's error.
func create(t *testing.T, env *envtest.Env, ns, manifest string) (*unstructured.Unstructured, error) {
	t.Helper()
	o := decodeOne(t, manifest)
	o.SetNamespace(ns)
	err := env.Client.Create(ctxT(t), o)
	return o, err
}

// mustCreate is create that fails the test on error.
func mustCreate(t *testing.T, env *envtest.Env, ns, manifest string) *unstructured.Unstructured {
	t.Helper()
	o, err := create(t, env, ns, manifest)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, manifest)
	}
	return o
}

// wantInvalid checks err is the API server's Invalid (422) error and that
// its message holds every substring of want.
func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want an error containing %q", want)
	}
	if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
		t.Fatalf("error %v (reason %s); want Invalid", err, apierrors.ReasonForError(err))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
	t.Logf("rejected as expected: %v", err)
}

// nested reads a field of an unstructured object, failing if it is absent.
func nested(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no field %s (%v)", o.GetKind(), o.GetName(), strings.Join(path, "."), err)
	}
	return v
}

func keyOf(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
