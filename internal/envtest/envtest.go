// Package envtest runs a real Kubernetes API server (kube-apiserver and
// etcd, no kubelet, no controllers) with nebula-operator's CRDs installed,
// for tests of the API and of the controllers.
//
// The binaries are the repository's bin/kube-apiserver and bin/etcd, built
// from the versions pinned in hack/tools/go.mod by hack/tools/install.sh
// (make tools). If they are missing or stale, the first Start runs that
// script, so a plain `go test ./...` works too, once slower (about five
// minutes on two cores). Set KUBEBUILDER_ASSETS to a directory holding
// kube-apiserver and etcd to use other binaries.
//
// One control plane per test package is plenty:
//
//	func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		env := envtest.Shared(t)
//		ns := env.Namespace(t)
//		err := env.Client.Create(ctx, &v1alpha1.NebulaBackup{...})
//	}
//
// Start(t) gives a test a control plane of its own instead (stopped when the
// test ends). KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true shows the
// processes' logs. The processes are started with a parent-death signal where
// setpriv(1) is available, so a test binary killed by `go test -timeout`
// leaves none behind.
package envtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
)

// Scheme knows the built-in kinds, the CRD kind and ours.
var Scheme = newScheme()

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// Env is a running control plane with the CRDs of config/crd/bases.
type Env struct {
	// Config reaches the API server as an administrator (system:masters).
	Config *rest.Config
	// Client uses Scheme and asks the server for strict field validation,
	// as kubectl does: an unknown field is an error, not a warning.
	Client client.Client
	// CRDs are the installed CustomResourceDefinitions.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Root is the repository's root directory.
	Root string

	env *crenvtest.Environment
}

// StartEnv starts a control plane for t alone and returns its config and
// client; it stops when t ends.
func StartEnv(t testing.TB) (*rest.Config, client.Client) {
	t.Helper()
	e := Start(t)
	return e.Config, e.Client
}

// Start starts a control plane for t alone; it stops when t ends.
func Start(t testing.TB) *Env {
	t.Helper()
	e, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("envtest: stop: %v", err)
		}
	})
	return e
}

var shared struct {
	mu  sync.Mutex
	env *Env
	err error
}

// Shared returns the package's one control plane, starting it on first
// use. Main stops it; tests must not.
func Shared(t testing.TB) *Env {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.env == nil && shared.err == nil {
		shared.env, shared.err = start()
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.env
}

// Main runs the package's tests and then stops the shared control plane,
// if one was started: func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest: stop: %v\n", err)
		}
		shared.env = nil
	}
	return code
}

// Stop stops the control plane and removes its data.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// UserConfig returns a config that reaches the API server as the given
// user and groups, whose requests RBAC authorizes: to run a controller as
// its ServiceAccount (user "system:serviceaccount:NS:NAME", groups
// "system:serviceaccounts" and "system:serviceaccounts:NS") and so test that
// config/rbac grants it enough.
func (e *Env) UserConfig(user string, groups ...string) (*rest.Config, error) {
	u, err := e.env.AddUser(crenvtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("envtest: add user %s: %w", user, err)
	}
	return u.Config(), nil
}

// Namespace creates a namespace with a fresh name for t. Nothing deletes
// it: without kube-controller-manager a namespace never finishes
// terminating, and a fresh name per test keeps tests apart anyway.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t-" + randHex(5)}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("envtest: create namespace: %v", err)
	}
	return ns.Name
}

func start() (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	apiserver, etcd, err := Binaries()
	if err != nil {
		return nil, err
	}
	wrap, err := wrapperDir(apiserver, etcd)
	if err != nil {
		return nil, err
	}
	env := &crenvtest.Environment{
		Scheme:                   Scheme,
		CRDDirectoryPaths:        []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	env.ControlPlane.GetAPIServer().Path = filepath.Join(wrap, "kube-apiserver")
	env.ControlPlane.Etcd = &crenvtest.Etcd{Path: filepath.Join(wrap, "etcd")}
	cfg, err := env.Start()
	os.RemoveAll(wrap) // the processes have exec'ed the real binaries by now
	if err != nil {
		env.Stop()
		return nil, fmt.Errorf("envtest: start control plane: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme, FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		env.Stop()
		return nil, fmt.Errorf("envtest: client: %w", err)
	}
	return &Env{Config: cfg, Client: c, CRDs: env.CRDs, Root: root, env: env}, nil
}

// wrapperDir makes a directory of scripts that exec the real binaries under
// setpriv --pdeathsig KILL (or directly, where there is no setpriv).
func wrapperDir(apiserver, etcd string) (string, error) {
	dir, err := os.MkdirTemp("", "envtest-bin-")
	if err != nil {
		return "", err
	}
	prefix := ""
	if p, err := exec.LookPath("setpriv"); err == nil {
		if exec.Command(p, "--pdeathsig", "KILL", "--", "true").Run() == nil {
			prefix = shellQuote(p) + " --pdeathsig KILL -- "
		}
	}
	for name, target := range map[string]string{"kube-apiserver": apiserver, "etcd": etcd} {
		script := "#!/bin/sh\nexec " + prefix + shellQuote(target) + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var binaries struct {
	once            sync.Once
	apiserver, etcd string
	err             error
}

// Binaries returns the kube-apiserver and etcd the control plane runs:
// from $KUBEBUILDER_ASSETS if set, else the repository's bin/, built or
// brought up to date by hack/tools/install.sh first.
func Binaries() (apiserver, etcd string, err error) {
	binaries.once.Do(func() {
		if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
			binaries.apiserver = filepath.Join(dir, "kube-apiserver")
			binaries.etcd = filepath.Join(dir, "etcd")
			return
		}
		root, err := RepoRoot()
		if err != nil {
			binaries.err = err
			return
		}
		script := filepath.Join(root, "hack", "tools", "install.sh")
		cmd := exec.Command("bash", script, "kube-apiserver", "etcd")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		binaries.apiserver = filepath.Join(root, "bin", "kube-apiserver")
		binaries.etcd = filepath.Join(root, "bin", "etcd")
		if err != nil {
			if executable(binaries.apiserver) && executable(binaries.etcd) {
				return // could not check their versions, but there are some
			}
			binaries.err = fmt.Errorf("%s kube-apiserver etcd: %v\n%s", script, err, out)
		}
	})
	return binaries.apiserver, binaries.etcd, binaries.err
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// RepoRoot walks up from the working directory to the directory whose
// go.mod declares the main module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/nebula-open/nebula-br\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("envtest: no go.mod of github.com/nebula-open/nebula-br above the working directory")
		}
		dir = parent
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
