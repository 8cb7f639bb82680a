//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// env is what the suite knows of the cluster of hack/e2e/up.sh.
type env struct {
	root       string // the repository
	cache      string // .cache/e2e
	kubectl    string // bin/kubectl
	helmBin    string // bin/helm (hack/tools/install.sh helm)
	static     string // .cache/e2e/static (br, nebula-lite: run from the host)
	kubeconfig string
	minioHost  string // MinIO's ClusterIP:9000, reachable from the host through kube-proxy
}

func newEnv(t *testing.T) *env {
	_, file, _, _ := runtime.Caller(0)
	root, _ := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	e := &env{
		root: root, cache: filepath.Join(root, ".cache", "e2e"), kubectl: filepath.Join(root, "bin", "kubectl"),
		helmBin: filepath.Join(root, "bin", "helm"),
	}
	e.static = filepath.Join(e.cache, "static")
	e.kubeconfig = os.Getenv("KUBECONFIG")
	if e.kubeconfig == "" {
		e.kubeconfig = filepath.Join(e.cache, "pki", "admin.kubeconfig")
	}
	if _, err := os.Stat(e.kubeconfig); err != nil {
		t.Fatalf("no cluster (%v): run make e2e-up (hack/e2e/up.sh) first", err)
	}
	ip, err := e.k("-n", "minio", "get", "svc", "minio", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		t.Fatalf("MinIO service: %v", err)
	}
	e.minioHost = strings.TrimSpace(ip) + ":9000"
	return e
}

// run runs a command with a timeout, returning its stdout; the error
// carries stderr.
func run(timeout time.Duration, stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(redact(args), " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, minioSecret, "<secret>")
		if len(out[i]) > 300 {
			out[i] = out[i][:300] + "..."
		}
	}
	return out
}

// helm runs helm against the cluster, its cache, configuration and data
// under .cache/e2e/helm (nothing in the home directory).
func (e *env) helm(args ...string) (string, error) {
	home := filepath.Join(e.cache, "helm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.helmBin, append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %v: %s", strings.Join(redact(args), " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// k runs kubectl.
func (e *env) k(args ...string) (string, error) {
	return run(2*time.Minute, "", e.kubectl, append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
}

// apply applies a manifest from a string.
func (e *env) apply(t *testing.T, ns, manifest string, extra ...string) {
	t.Helper()
	args := []string{"--kubeconfig", e.kubeconfig, "apply", "-f", "-"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	out, err := run(2*time.Minute, manifest, e.kubectl, append(args, extra...)...)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, manifest)
	}
	t.Logf("applied: %s", strings.TrimSpace(out))
}

// getJSON reads an object into v.
func (e *env) getJSON(v any, args ...string) error {
	out, err := e.k(append(append([]string{"get"}, args...), "-o", "json")...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), v)
}

// eventually polls f every interval until it returns true, an error
// that is final (fatal), or the timeout.
func eventually(t *testing.T, timeout, interval time.Duration, what string, f func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := f()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout (%s) waiting for %s; last error: %v", timeout, what, last)
		}
		time.Sleep(interval)
	}
}

// step runs one step of the suite as a subtest, printing its duration;
// on failure it dumps the cluster's state (objects, events, pod logs) and
// the steps after it are skipped (they build on it).
func (s *suite) step(name string, f func(t *testing.T)) {
	if s.failed {
		s.t.Run(name, func(t *testing.T) { t.Skip("an earlier step failed") })
		return
	}
	start := time.Now()
	fmt.Printf("=== e2e step %s: start\n", name)
	ok := s.t.Run(name, f)
	fmt.Printf("=== e2e step %s: %s in %s\n", name, map[bool]string{true: "PASS", false: "FAIL"}[ok], time.Since(start).Round(100*time.Millisecond))
	s.times = append(s.times, fmt.Sprintf("%-34s %-4s %s", name, map[bool]string{true: "ok", false: "FAIL"}[ok], time.Since(start).Round(100*time.Millisecond)))
	if !ok {
		s.dump(name)
		if !s.independent[name] {
			s.failed = true
		}
	}
}

// dump prints what explains a failure: the project's resources, the
// workloads, events and the logs of every pod in the namespaces involved.
func (s *suite) dump(step string) {
	e := s.e
	dir := filepath.Join(e.cache, "logs", "dump-"+strings.ReplaceAll(step, "/", "_"))
	os.MkdirAll(dir, 0o755)
	var b strings.Builder
	section := func(title string, args ...string) {
		out, err := e.k(args...)
		fmt.Fprintf(&b, "----- %s\n%s", title, out)
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
		}
	}
	section("resources", "get", "nebulaclusters,nebulabackups,nebulacronbackups,nebularestores,jobs,statefulsets,deployments,pods,pvc", "-A", "-o", "wide")
	section("NebulaBackups", "get", "nebulabackups", "-A", "-o", "yaml")
	section("NebulaClusters (status)", "get", "nebulaclusters", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}: {.status}{\"\\n\"}{end}")
	section("events", "get", "events", "-A", "--sort-by=.lastTimestamp")
	for _, ns := range []string{"nebula", nsOperator, "minio", "default", s.restoreNS} {
		if ns == "" {
			continue
		}
		out, _ := e.k("-n", ns, "get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}")
		for _, pod := range strings.Fields(out) {
			logs, err := e.k("-n", ns, "logs", pod, "--all-containers", "--prefix", "--tail=200")
			fmt.Fprintf(&b, "----- logs %s/%s\n%s", ns, pod, logs)
			if err != nil {
				fmt.Fprintf(&b, "(%v)\n", err)
			}
			if prev, err := e.k("-n", ns, "logs", pod, "--all-containers", "--prefix", "--previous", "--tail=100"); err == nil && prev != "" {
				fmt.Fprintf(&b, "----- previous logs %s/%s\n%s", ns, pod, prev)
			}
		}
	}
	os.WriteFile(filepath.Join(dir, "dump.txt"), []byte(b.String()), 0o644)
	text := b.String()
	if len(text) > 60000 {
		text = text[:20000] + "\n...\n" + text[len(text)-40000:]
	}
	fmt.Printf("===== e2e dump after failed step %s (all of it in %s)\n%s===== end of dump\n", step, dir, text)
}
