// Package envtest_test checks nebula-operator's Kubernetes API against a
// real kube-apiserver and etcd (internal/envtest): the generated CRDs
// install, every sample and every reference-page manifest applies, the CRDs
// reject bad specs with readable messages, apply their defaults and keep
// their immutable fields, and config/'s RBAC and manager manifests are valid
// and least-privilege.
package envtest_test

import (
	"os"
	"testing"

	"github.com/nebula-open/nebula-br/internal/envtest"
)

func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }
