package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/envtest"
	"github.com/nebula-open/nebula-br/internal/restorek8s"
)

func TestMain(m *testing.M) { os.Exit(envtest.Main(m)) }

// runBR runs the command line as main does, with no Kubernetes config around
// unless the test gives one.
func runBR(t *testing.T, args ...string) error {
	t.Helper()
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
	root := newRoot(&app{})
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return root.ExecuteContext(ctx)
}

// The reference page's Pod, without a kubeconfig of ours.
var reference = []string{"restore", "full", "--mode=k8s", "--cluster=nebula", "--namespace", "default",
	"--secret=aws-s3-secret", "--name", "BACKUP_2023_02_12_10_04_16", "--storage", "s3://bucket",
	"--s3.region=REGION", "--s3.endpoint", "https://s3.REGION.amazonaws.com"}

func TestRestoreK8sFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		// Flags are checked before any Kubernetes config is looked for.
		{[]string{"restore", "full", "--mode=k8s", "--name", "BACKUP_2023_02_12_10_04_16", "--storage", "s3://bucket"},
			[]string{"--cluster: name the backed-up NebulaCluster", "--secret: name the Secret"}},
		{[]string{"restore", "full", "--mode=k8s", "--cluster", "nebula", "--secret", "s", "--name", "b1", "--storage", "local:///x"},
			[]string{`--name "b1"`, "the operator restores from S3 or Google Cloud Storage"}},
		// Valid flags (no keys needed): only the Kubernetes config is missing.
		{reference, []string{"no Kubernetes config", "--kubeconfig"}},
		{[]string{"restore", "full", "--mode=kube", "--name", "x", "--storage", "s3://bucket"}, []string{`--mode "kube": use local or k8s`}},
	} {
		err := runBR(t, tc.args...)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", tc.args, err, w)
			}
		}
	}
}

// TestRestoreK8sAPI runs the command against a real API server through
// --kubeconfig: it creates the NebulaRestore and, as --timeout was given,
// stops following it when that runs out.
func TestRestoreK8sAPI(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := env.Config
	err := clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"envtest": {Server: cfg.Host, CertificateAuthorityData: cfg.CAData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"admin": {ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}},
		Contexts:       map[string]*clientcmdapi.Context{"envtest": {Cluster: "envtest", AuthInfo: "admin"}},
		CurrentContext: "envtest",
	}, kc)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{}, reference...)
	args[5] = ns
	err = runBR(t, append(args, "--kubeconfig", kc, "--timeout", "1s", "--concurrency", "3")...)
	if err == nil || !strings.Contains(err.Error(), "still Pending after --timeout 1s") {
		t.Fatalf("error %v, want the --timeout one", err)
	}
	var nr v1alpha1.NebulaRestore
	key := client.ObjectKey{Namespace: ns, Name: restorek8s.Name("nebula", "BACKUP_2023_02_12_10_04_16")}
	if err := env.Client.Get(context.Background(), key, &nr); err != nil {
		t.Fatal(err)
	}
	c := nr.Spec.Config
	if c.Concurrency != 3 || c.S3.Bucket != "bucket" || c.S3.SecretName != "aws-s3-secret" || c.S3.Region != "REGION" {
		t.Errorf("spec %+v s3 %+v", c, c.S3)
	}
}
