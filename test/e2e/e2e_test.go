//go:build e2e

// Package e2e is the end-to-end suite of issue 5: the reference page's
// workflow on a real single-node Kubernetes (hack/e2e/up.sh), driven with
// kubectl. Run it with make e2e (build, up, this suite, down), or against a
// running cluster: make e2e-up; go test -tags e2e -v ./test/e2e/; make e2e-down.
//
// The steps run in order, each printing its duration; a failed step dumps
// the cluster's objects, events and pod logs (also to
// .cache/e2e/logs/dump-STEP/) and skips the steps that build on it.
package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
)

const (
	nsOperator = "nebula-operator-system"
	// The chart's Deployment, named as upstream's chart names it.
	operatorDeployment = "nebula-operator-controller-manager-deployment"
	ns                 = "nebula" // the source cluster's namespace, as on the reference page
	cluster            = "nebula"
	bucket             = "nebula-e2e"
	region             = "us-east-1"
	endpoint           = "http://minio.minio.svc.cluster.local:9000"
	minioAccess        = "e2e-access-key"
	minioSecret        = "e2e-secret-key"
	imageRepo          = "localhost/nebula-br/"
	imageTag           = "e2e"
	space              = "e2e"
	secretName         = "aws-s3-secret" // the reference page's
	refDir             = "config/samples/reference"
	backupNameRE       = `BACKUP_\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}`
)

type suite struct {
	t           *testing.T
	e           *env
	s3          *minio.Client
	failed      bool
	independent map[string]bool // steps whose failure does not stop the rest
	times       []string
	restoreNS   string

	graphd     string // graphd's pod IP:9669 (reachable from the host on cni0)
	vertices   int    // loaded so far
	fullName   string // the reference full backup
	incrName   string // the reference incremental backup
	fpAtIncr   string // the space's fingerprint when the incremental backup was taken
	fpAtFull   string
	nbComplete string // a NebulaBackup's backup
}

func TestE2E(t *testing.T) {
	start := time.Now()
	s := &suite{t: t, e: newEnv(t), independent: map[string]bool{"0-pods-stay-local": true, "5-restore": true, "6b-cron-backup": true, "7a-fault-storaged": true, "7b-fault-wrong-bucket": true}}
	var err error
	s.s3, err = minio.New(s.e.minioHost, &minio.Options{Creds: credentials.NewStaticV4(minioAccess, minioSecret, ""), Region: region})
	if err != nil {
		t.Fatal(err)
	}
	s.step("0-pods-stay-local", s.podsStayLocal)
	s.step("1-install-operator", s.installOperator)
	s.step("2-cluster-and-data", s.clusterAndData)
	s.step("3-reference-full-backup-job", s.referenceFullBackup)
	s.step("4-reference-incr-backup-job", s.referenceIncrBackup)
	s.step("5-restore", s.restore)
	s.step("6a-nebulabackup", s.nebulaBackup)
	s.step("6b-cron-backup", s.cronBackup)
	s.step("7a-fault-storaged", s.faultStoragedDeleted)
	s.step("7b-fault-wrong-bucket", s.faultWrongBucket)
	s.step("7c-fault-restore", s.faultRestore)
	fmt.Printf("===== e2e steps (total %s)\n%s\n", time.Since(start).Round(time.Second), strings.Join(s.times, "\n"))
}

// ---- step 0: the harness's network -----------------------------------------

// podsStayLocal checks the harness's promise: a pod reaches MinIO and the
// API server (their ClusterIPs) but nothing off the machine (an Internet
// address, the machine's gateway).
func (s *suite) podsStayLocal(t *testing.T) {
	e := s.e
	// TCP connects with busybox nc (Debian's static busybox cannot resolve
	// names, and its wget segfaults), to the services' ClusterIPs from the
	// environment (hence namespace minio). Names are resolved by every later
	// step (br, the agents, nebula-lite through CoreDNS).
	e.k("-n", "minio", "delete", "pod", "netcheck", "--ignore-not-found")
	e.apply(t, "minio", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: netcheck
spec:
  restartPolicy: Never
  containers:
  - name: check
    image: %sbr:%s
    imagePullPolicy: Never
    command:
    - /bin/sh
    - -c
    - |
      nc -w 3 $MINIO_SERVICE_HOST $MINIO_SERVICE_PORT </dev/null && echo minio-reachable
      nc -w 3 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT </dev/null && echo apiserver-reachable
      if nc -w 3 1.1.1.1 80 </dev/null; then echo LEAK-1.1.1.1; else echo outside-blocked; fi
      if nc -w 3 192.0.2.1 80 </dev/null; then echo LEAK-gateway; else echo gateway-blocked; fi
`, imageRepo, imageTag))
	eventually(t, 2*time.Minute, time.Second, "netcheck Succeeded", func() (bool, error) {
		phase, err := e.k("-n", "minio", "get", "pod", "netcheck", "-o", "jsonpath={.status.phase}")
		return phase == "Succeeded" || phase == "Failed", fmt.Errorf("phase %q %v", phase, err)
	})
	out, err := e.k("-n", "minio", "logs", "netcheck")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("netcheck pod: %s", strings.Join(strings.Fields(out), ", "))
	for _, want := range []string{"minio-reachable", "apiserver-reachable", "outside-blocked", "gateway-blocked"} {
		if !strings.Contains(out, want) {
			t.Errorf("netcheck: no %q in %q", want, out)
		}
	}
	if strings.Contains(out, "LEAK") {
		t.Errorf("a pod reached the outside: %q", out)
	}
	e.k("-n", "minio", "delete", "pod", "netcheck", "--wait=false")
}

// ---- step 1 ----------------------------------------------------------------

// installOperator installs charts/nebula-operator with helm, as a user
// installs upstream's chart: only the images (ours, preloaded into
// containerd) and one replica (the fault steps delete the operator pod) set.
func (s *suite) installOperator(t *testing.T) {
	out, err := s.e.helm("upgrade", "--install", "nebula-operator", filepath.Join(s.e.root, "charts", "nebula-operator"),
		"--namespace", nsOperator, "--create-namespace", "--wait", "--timeout", "3m",
		"--set", "operatorImage="+imageRepo+"nebula-operator:"+imageTag,
		"--set", "brImage="+imageRepo+"br:"+imageTag,
		"--set", "agentImage="+imageRepo+"br-agent:"+imageTag,
		"--set", "controllerManager.replicas=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helm install charts/nebula-operator:\n%s", out)
	if _, err := s.e.k("-n", nsOperator, "rollout", "status", "deploy/"+operatorDeployment, "--timeout=180s"); err != nil {
		t.Fatal(err)
	}
}

// ---- step 2 ----------------------------------------------------------------

func (s *suite) clusterAndData(t *testing.T) {
	e := s.e
	e.k("create", "namespace", ns)
	s.applySecret(t, ns)
	// charts/nebula-cluster with a values file in upstream's keys: our
	// images, small requests, br enabled, one graphd and metad.
	values := fmt.Sprintf(`nameOverride: %[1]s
nebula:
  version: %[3]s
  imagePullPolicy: IfNotPresent
  enableBR: true
  graphd:
    image: %[2]snebula-lite
    replicas: 1
    serviceType: ClusterIP
    config: {enable_authorize: "false"}
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {cpu: "1", memory: 512Mi}}
    logVolume: {enable: true, storage: 1Gi}
  metad:
    image: %[2]snebula-lite
    replicas: 1
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {cpu: "1", memory: 512Mi}}
    logVolume: {enable: true, storage: 1Gi}
    dataVolume: {storage: 2Gi}
  storaged:
    image: %[2]snebula-lite
    replicas: 3
    config: {wal_ttl: "86400"}
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {cpu: "1", memory: 1Gi}}
    logVolume: {enable: true, storage: 1Gi}
    dataVolumes:
    - storage: 10Gi
  agent:
    image: %[2]sbr-agent
    version: %[3]s
    resources: {requests: {cpu: 20m, memory: 32Mi}, limits: {cpu: "1", memory: 512Mi}}
  coredumpPreservation: {enable: false}
`, cluster, imageRepo, imageTag)
	valuesFile := filepath.Join(e.cache, "run", "cluster-values.yaml")
	if err := os.MkdirAll(filepath.Dir(valuesFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(valuesFile, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.helm("upgrade", "--install", cluster, filepath.Join(e.root, "charts", "nebula-cluster"), "--namespace", ns, "-f", valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helm install charts/nebula-cluster -f %s:\n%s", valuesFile, out)
	s.waitClusterReady(t, ns, cluster, 6*time.Minute)

	ip, err := e.k("-n", ns, "get", "pod", cluster+"-graphd-0", "-o", "jsonpath={.status.podIP}")
	if err != nil || ip == "" {
		t.Fatalf("graphd pod IP: %q %v", ip, err)
	}
	s.graphd = ip + ":9669"
	start := time.Now()
	s.ngqlRetry(t, 2*time.Minute, fmt.Sprintf("CREATE SPACE IF NOT EXISTS %s (partition_num = 6, replica_factor = 3, vid_type = FIXED_STRING(16))", space))
	s.ngqlRetry(t, 2*time.Minute, fmt.Sprintf("USE %s; CREATE TAG IF NOT EXISTS person(name string, age int); CREATE EDGE IF NOT EXISTS knows(since int)", space))
	s.loadData(t, 0, 2000)
	t.Logf("space %s: %d vertices, %d edges loaded through graphd %s in %s; fingerprint %s",
		space, s.vertices, s.vertices-1, s.graphd, time.Since(start).Round(time.Millisecond), s.fingerprint(t))
}

func (s *suite) applySecret(t *testing.T, namespace string) {
	// The reference page's Secret, with the keys filled in.
	raw := readRef(t, s.e, "restore-secret-and-pod.yaml")
	doc := strings.Split(raw, "\n---")[0]
	doc = strings.ReplaceAll(doc, "<ACCESS_KEY>", b64(minioAccess))
	doc = strings.ReplaceAll(doc, "<SECRET_KEY>", b64(minioSecret))
	s.e.apply(t, namespace, doc)
}

func (s *suite) waitClusterReady(t *testing.T, namespace, name string, timeout time.Duration) {
	eventually(t, timeout, 3*time.Second, "NebulaCluster "+namespace+"/"+name+" Ready", func() (bool, error) {
		var nc v1alpha1.NebulaCluster
		if err := s.e.getJSON(&nc, "-n", namespace, "nebulacluster", name); err != nil {
			return false, err
		}
		for _, c := range nc.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return true, nil
			}
		}
		return false, fmt.Errorf("phase %q conditions %v", nc.Status.Phase, nc.Status.Conditions)
	})
}

// ngql runs statements through graphd with nebula-lite console (from the
// host: pod IPs are on cni0).
func (s *suite) ngql(stmts string) (string, error) {
	return run(2*time.Minute, "", filepath.Join(s.e.static, "nebula-lite"), "console", "--addr", s.graphd, "-e", stmts)
}

func (s *suite) ngqlRetry(t *testing.T, timeout time.Duration, stmts string) string {
	t.Helper()
	var out string
	eventually(t, timeout, 2*time.Second, "nGQL "+stmts, func() (bool, error) {
		var err error
		out, err = s.ngql(stmts)
		return err == nil, err
	})
	return out
}

// loadData inserts vertices [from, to) and an edge from each to the next.
func (s *suite) loadData(t *testing.T, from, to int) {
	const batch = 250
	for i := from; i < to; i += batch {
		var vs, es []string
		for j := i; j < min(i+batch, to); j++ {
			vs = append(vs, fmt.Sprintf(`"v%d":("name%d", %d)`, j, j, j%90))
			if j > 0 {
				es = append(es, fmt.Sprintf(`"v%d"->"v%d":(%d)`, j-1, j, 2000+j%25))
			}
		}
		stmt := fmt.Sprintf("USE %s; INSERT VERTEX person(name, age) VALUES %s;", space, strings.Join(vs, ", "))
		if len(es) > 0 {
			stmt += fmt.Sprintf(" INSERT EDGE knows(since) VALUES %s;", strings.Join(es, ", "))
		}
		s.ngqlRetry(t, time.Minute, stmt)
	}
	s.vertices = max(s.vertices, to)
}

func (s *suite) fingerprint(t *testing.T) string {
	t.Helper()
	out, err := run(time.Minute, "", filepath.Join(s.e.static, "nebula-lite"), "fingerprint", "--addr", s.graphd, "--space", space)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^fingerprint \S+ (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no fingerprint in:\n%s", out)
	}
	return m[1]
}

// ---- steps 3 and 4: the reference page's Jobs -------------------------------

func readRef(t *testing.T, e *env, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, refDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// referenceJob returns the reference page's Job with only the image (and
// its pull policy: there is no registry), bucket, region, endpoint and keys
// changed, and with the page's explanations removed from the shell command:
// as printed, YAML folds the command into one line in which the first
// " # The storage location..." starts a shell comment, so sh would run
// br-ent without the keys, region and endpoint (logged here as evidence).
func (s *suite) referenceJob(t *testing.T, file string) string {
	t.Helper()
	raw := readRef(t, s.e, file)
	r := strings.NewReplacer(
		"reg.vesoft-inc.com/cloud-dev/br-ent:v{{br_ent.release}}", imageRepo+"br:"+imageTag,
		"imagePullPolicy: Always", "imagePullPolicy: IfNotPresent",
		"s3://BUCKET", "s3://"+bucket,
		"--s3.access_key ACCESS_KEY", "--s3.access_key "+minioAccess,
		"--s3.secret_key SECRET_KEY", "--s3.secret_key "+minioSecret,
		"https://s3.REGION.amazonaws.com", endpoint,
		"--s3.region REGION", "--s3.region "+region,
	)
	asPrinted := r.Replace(raw)
	s.logShellArgs(t, "Job as printed", asPrinted)
	fixed := regexp.MustCompile(`(?m)(\S)[ \t]+#[^\n]*$`).ReplaceAllString(asPrinted, "$1")
	s.logShellArgs(t, "Job without the explanations", fixed)
	return fixed
}

// logShellArgs shows the arguments /bin/sh -ecx would give br-ent.
func (s *suite) logShellArgs(t *testing.T, what, manifest string) {
	var job batchv1.Job
	var pod corev1.Pod
	if err := yaml.Unmarshal([]byte(manifest), &job); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	containers := job.Spec.Template.Spec.Containers
	if job.Kind == "Pod" {
		if err := yaml.Unmarshal([]byte(manifest), &pod); err != nil {
			t.Fatalf("Pod: %v", err)
		}
		containers = pod.Spec.Containers
	}
	if len(containers) == 0 {
		t.Fatalf("no container in:\n%s", manifest)
	}
	c := containers[0].Command
	script := strings.Replace(c[len(c)-1], "exec /usr/local/bin/br-ent", `printf "[%s] "`, 1)
	out, err := run(10*time.Second, "", "/bin/busybox", "sh", "-ec", script)
	if err != nil {
		t.Logf("%s: sh: %v", what, err)
		return
	}
	t.Logf("reference %s: sh passes br-ent %s", what, strings.ReplaceAll(out, minioSecret, "<secret>"))
}

// runJob applies a Job in ns and waits for it to complete; it returns the
// backup name the pod printed.
func (s *suite) runJob(t *testing.T, manifest, name string) string {
	e := s.e
	e.k("-n", ns, "delete", "job", name, "--ignore-not-found", "--wait=true")
	e.apply(t, ns, manifest)
	eventually(t, 6*time.Minute, 2*time.Second, "Job "+name+" Complete", func() (bool, error) {
		var j batchv1.Job
		if err := e.getJSON(&j, "-n", ns, "job", name); err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == "True" {
				t.Fatalf("Job %s failed: %s", name, c.Message)
			}
		}
		if j.Status.Succeeded > 0 {
			return true, nil
		}
		restarts, _ := e.k("-n", ns, "get", "pods", "-l", "job-name="+name, "-o", "jsonpath={.items[*].status.containerStatuses[*].restartCount}")
		return false, fmt.Errorf("active %d failed %d restarts [%s]", j.Status.Active, j.Status.Failed, restarts)
	})
	logs, err := e.k("-n", ns, "logs", "job/"+name, "--tail=-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Job %s log (tail):\n%s", name, tail(strings.ReplaceAll(logs, minioSecret, "<secret>"), 8))
	// br prints the name alone on stdout (stderr's summary names the base too).
	names := regexp.MustCompile(`(?m)^(`+backupNameRE+`)$`).FindAllStringSubmatch(logs, -1)
	if len(names) == 0 {
		t.Fatalf("no backup name in the log of Job %s", name)
	}
	return names[len(names)-1][1]
}

func (s *suite) referenceFullBackup(t *testing.T) {
	if err := s.s3.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{Region: region}); err != nil {
		if minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			t.Fatalf("make bucket %s: %v", bucket, err)
		}
	}
	s.fpAtFull = s.fingerprint(t)
	s.fullName = s.runJob(t, s.referenceJob(t, "full-backup-job.yaml"), "nebula-full-backup")
	s.requireMeta(t, s.fullName)
	b := s.show(t)[s.fullName]
	if b.status != "complete" || b.typ != "full" {
		t.Fatalf("br show: %s is %+v, want a complete full backup", s.fullName, b)
	}
	t.Logf("full backup %s in s3://%s: %+v", s.fullName, bucket, b)
}

func (s *suite) referenceIncrBackup(t *testing.T) {
	// More data: new vertices, an update, a deletion.
	s.loadData(t, s.vertices, s.vertices+500)
	s.ngqlRetry(t, time.Minute, fmt.Sprintf(`USE %s; INSERT VERTEX person(name, age) VALUES "v1":("renamed", 99); DELETE VERTEX "v2" WITH EDGE`, space))
	s.fpAtIncr = s.fingerprint(t)
	if s.fpAtIncr == s.fpAtFull {
		t.Fatal("fingerprint unchanged by the new data")
	}
	s.incrName = s.runJob(t, s.referenceJob(t, "incremental-backup-job.yaml"), "nebula-incr-backup")
	s.requireMeta(t, s.incrName)
	b := s.show(t)[s.incrName]
	if b.status != "complete" || b.typ != "incr" || b.base != s.fullName {
		t.Fatalf("br show: %s is %+v, want a complete incremental backup with base %s", s.incrName, b, s.fullName)
	}
	t.Logf("incremental backup %s, base %s; fingerprint at it %s", s.incrName, b.base, s.fpAtIncr)
}

// requireMeta checks NAME/NAME.meta is in the bucket.
func (s *suite) requireMeta(t *testing.T, name string) {
	t.Helper()
	key := name + "/" + name + ".meta"
	info, err := s.s3.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("s3://%s/%s: %v", bucket, key, err)
	}
	t.Logf("s3://%s/%s: %d bytes", bucket, key, info.Size)
}

func (s *suite) hasMeta(name string) bool {
	_, err := s.s3.StatObject(context.Background(), bucket, name+"/"+name+".meta", minio.StatObjectOptions{})
	return err == nil
}

type shown struct{ created, spaces, typ, base, size, status string }

// show runs br show from the host against MinIO's ClusterIP.
func (s *suite) show(t *testing.T) map[string]shown {
	t.Helper()
	return s.showBucket(t, bucket)
}

func (s *suite) showBucket(t *testing.T, b string) map[string]shown {
	t.Helper()
	out, err := s.br("show", "--storage", "s3://"+b, "--s3.endpoint", "http://"+s.e.minioHost, "--s3.region", region)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("br show --storage s3://%s:\n%s", b, out)
	m := map[string]shown{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 7 {
			m[f[0]] = shown{f[1], f[2], f[3], f[4], strings.Join(f[5:len(f)-1], " "), f[len(f)-1]}
		}
	}
	return m
}

func (s *suite) br(args ...string) (string, error) {
	os.Setenv("AWS_ACCESS_KEY_ID", minioAccess)
	os.Setenv("AWS_SECRET_ACCESS_KEY", minioSecret)
	return run(2*time.Minute, "", filepath.Join(s.e.static, "br"), args...)
}

// ---- step 5: restore ---------------------------------------------------------

// restore is step 5: a NebulaRestore of the full backup, then the reference
// page's restore Secret and Pod (`br-ent restore full --mode=k8s ...`) on
// the incremental one, each followed with `kubectl get rt NAME -w` to
// Complete; each new cluster has an operator-generated name and the
// fingerprint the source had at that backup; the source still serves,
// unchanged. The restored clusters are deleted after (resources).
func (s *suite) restore(t *testing.T) {
	if s.fullName == "" || s.incrName == "" {
		t.Skip("needs the backups of steps 3 and 4")
	}
	srcBefore := s.fingerprint(t)
	if srcBefore != s.fpAtIncr {
		t.Fatalf("source fingerprint %s, want %s (nothing was written since the incremental backup)", srcBefore, s.fpAtIncr)
	}

	// 5a. NebulaRestore of the full backup.
	const rt = "rt-full"
	nc := s.runRestore(t, rt, func() {
		s.e.apply(t, ns, fmt.Sprintf(`apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaRestore
metadata:
  name: %s
spec:
  config:
    clusterName: %s
    backupName: %s
    concurrency: 5
    s3: {region: %s, bucket: %s, endpoint: %q, secretName: %s}
`, rt, cluster, s.fullName, region, bucket, endpoint, secretName))
	})
	s.checkRestored(t, nc, s.fpAtFull, s.fullName)

	// 5b. The reference page's Secret and restore Pod, on the incremental
	// backup, in namespace default as printed: br restore --mode=k8s
	// creates NebulaRestore restore-<cluster>-<backup> there, and the
	// operator finds the backed-up cluster in namespace nebula, the only
	// one of that name. RBAC: config/samples/br_restore_rbac.yaml as is.
	const podNS = "default"
	s.e.apply(t, podNS, readFile(t, filepath.Join(s.e.root, "config", "samples", "br_restore_rbac.yaml")))
	raw := readRef(t, s.e, "restore-secret-and-pod.yaml")
	r := strings.NewReplacer(
		"<ACCESS_KEY>", b64(minioAccess), "<SECRET_KEY>", b64(minioSecret),
		"reg.vesoft-inc.com/cloud-dev/br-ent:v{{br_ent.release}}", imageRepo+"br:"+imageTag,
		"imagePullPolicy: Always", "imagePullPolicy: IfNotPresent",
		"--name BACKUP_2023_02_12_10_04_16", "--name "+s.incrName,
		"s3://BUCKET", "s3://"+bucket,
		"--s3.region=REGION", "--s3.region="+region,
		"https://s3.REGION.amazonaws.com", endpoint,
	)
	manifest := r.Replace(raw)
	podDoc := strings.SplitN(manifest, "\n---", 2)[1]
	s.logShellArgs(t, "restore Pod as printed", podDoc)
	manifest = regexp.MustCompile(`(?m)(\S)[ \t]+#[^\n]*$`).ReplaceAllString(manifest, "$1")
	s.logShellArgs(t, "restore Pod without the explanations", strings.SplitN(manifest, "\n---", 2)[1])
	podRT := "restore-" + cluster + "-" + strings.ToLower(strings.ReplaceAll(s.incrName, "_", "-"))
	nc = s.runRestoreIn(t, podNS, podRT, func() {
		s.e.k("-n", podNS, "delete", "pod", "nebula-restore", "--ignore-not-found")
		s.e.apply(t, podNS, manifest)
	})
	// The page's Pod names no restartPolicy (Always): once br has exited 0,
	// the kubelet starts it again (it then finds the restore Complete and
	// exits 0 again). Success is the first exit: code 0.
	var first string
	eventually(t, 2*time.Minute, 500*time.Millisecond, "the restore Pod's br to exit 0", func() (bool, error) {
		var pod corev1.Pod
		if err := s.e.getJSON(&pod, "-n", podNS, "pod", "nebula-restore"); err != nil {
			return false, err
		}
		if len(pod.Status.ContainerStatuses) == 0 {
			return false, fmt.Errorf("no container status")
		}
		cs := pod.Status.ContainerStatuses[0]
		term := cs.State.Terminated
		prev := false
		if term == nil && cs.RestartCount > 0 {
			term, prev = cs.LastTerminationState.Terminated, true
		}
		if term == nil {
			return false, fmt.Errorf("container %s, restarts %d", containerState(cs.State), cs.RestartCount)
		}
		if term.ExitCode != 0 {
			logs, _ := s.e.k("-n", podNS, "logs", "nebula-restore", fmt.Sprintf("--previous=%v", prev))
			t.Fatalf("restore Pod: br exited %d:\n%s", term.ExitCode, logs)
		}
		first, _ = s.e.k("-n", podNS, "logs", "nebula-restore", fmt.Sprintf("--previous=%v", prev))
		t.Logf("restore Pod: br exited 0 (restarts so far %d: restartPolicy Always, as printed)", cs.RestartCount)
		return true, nil
	})
	t.Logf("restore Pod log:\n%s", tail(first, 15))
	s.e.k("-n", podNS, "delete", "pod", "nebula-restore", "--wait=false")
	s.checkRestoredIn(t, podNS, nc, s.fpAtIncr, s.incrName)

	if fp := s.fingerprint(t); fp != srcBefore {
		t.Fatalf("source cluster's fingerprint changed by the restores: %s, was %s", fp, srcBefore)
	}
	t.Logf("source cluster %s/%s still serves, fingerprint unchanged (%s)", ns, cluster, srcBefore)
}

// runRestore starts a restore (create) and follows NebulaRestore NAME with
// kubectl get rt NAME -w until Complete; it returns the new cluster's name.
func (s *suite) runRestore(t *testing.T, name string, create func()) string {
	t.Helper()
	return s.runRestoreIn(t, ns, name, create)
}

// runRestoreIn is runRestore for a NebulaRestore in namespace rns.
func (s *suite) runRestoreIn(t *testing.T, rns, name string, create func()) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := exec.CommandContext(ctx, s.e.kubectl, "--kubeconfig", s.e.kubeconfig, "-n", rns, "get", "rt", name, "-w")
	var wout strings.Builder
	watch.Stdout, watch.Stderr = &wout, &wout
	start := time.Now()
	create()
	// -w on an object that does not exist yet exits: start it once it does.
	eventually(t, time.Minute, 500*time.Millisecond, "NebulaRestore "+name, func() (bool, error) {
		_, err := s.e.k("-n", rns, "get", "rt", name)
		return err == nil, err
	})
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	var rt v1alpha1.NebulaRestore
	eventually(t, 10*time.Minute, 2*time.Second, "NebulaRestore "+name+" Complete", func() (bool, error) {
		if err := s.e.getJSON(&rt, "-n", rns, "rt", name); err != nil {
			return false, err
		}
		switch rt.Status.Phase {
		case v1alpha1.RestoreFailed, v1alpha1.RestoreInvalid:
			t.Fatalf("NebulaRestore %s: %s %v", name, rt.Status.Phase, rt.Status.Conditions)
		case v1alpha1.RestoreComplete:
			return true, nil
		}
		return false, fmt.Errorf("phase %q", rt.Status.Phase)
	})
	time.Sleep(time.Second)
	cancel()
	watch.Wait()
	t.Logf("NebulaRestore %s Complete in %s; kubectl get rt %s -w:\n%s", name, time.Since(start).Round(time.Second), name, wout.String())
	for _, p := range []v1alpha1.RestorePhase{v1alpha1.RestoreMetadComplete, v1alpha1.RestoreStoragedComplete, v1alpha1.RestoreComplete} {
		if !strings.Contains(wout.String(), string(p)) {
			t.Errorf("kubectl get rt -w did not show %s", p)
		}
	}
	nc := rt.Status.ClusterName
	if !regexp.MustCompile(`^ng[a-z0-9]{4}$`).MatchString(nc) {
		t.Fatalf("restored cluster name %q: want an operator-generated ng + 4 characters, as upstream's", nc)
	}
	return nc
}

// checkRestored compares the restored cluster's space with the source's
// fingerprint at the backup, then deletes the restored cluster.
func (s *suite) checkRestored(t *testing.T, nc, want, backup string) {
	t.Helper()
	s.checkRestoredIn(t, ns, nc, want, backup)
}

// checkRestoredIn is checkRestored for a cluster in namespace cns.
func (s *suite) checkRestoredIn(t *testing.T, cns, nc, want, backup string) {
	t.Helper()
	s.waitClusterReady(t, cns, nc, 5*time.Minute)
	ip, err := s.e.k("-n", cns, "get", "pod", nc+"-graphd-0", "-o", "jsonpath={.status.podIP}")
	if err != nil || ip == "" {
		t.Fatalf("graphd of %s: %q %v", nc, ip, err)
	}
	var got string
	eventually(t, 2*time.Minute, 2*time.Second, "fingerprint of the restored space", func() (bool, error) {
		out, err := run(time.Minute, "", filepath.Join(s.e.static, "nebula-lite"), "fingerprint", "--addr", ip+":9669", "--space", space)
		if err != nil {
			return false, err
		}
		m := regexp.MustCompile(`(?m)^fingerprint \S+ (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			return false, fmt.Errorf("no fingerprint in %q", out)
		}
		got = m[1]
		return true, nil
	})
	if got != want {
		t.Fatalf("restored cluster %s (backup %s): fingerprint %s, want the source's at the backup %s", nc, backup, got, want)
	}
	t.Logf("restored cluster %s from %s: fingerprint %s equals the source's at the backup", nc, backup, got)
	s.e.k("-n", cns, "delete", "nebulacluster", nc, "--wait=false")
}

func containerState(st corev1.ContainerState) string {
	switch {
	case st.Running != nil:
		return "running"
	case st.Waiting != nil:
		return "waiting: " + st.Waiting.Reason
	case st.Terminated != nil:
		return fmt.Sprintf("terminated: %d", st.Terminated.ExitCode)
	}
	return "unknown"
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// faultRestore is step 7's restore half: the operator pod deleted
// mid-restore (the restore resumes and completes, exact), a NebulaRestore
// naming a missing cluster (Invalid ClusterNotFound within seconds).
func (s *suite) faultRestore(t *testing.T) {
	if s.incrName == "" {
		t.Skip("needs the incremental backup of step 4")
	}
	start := time.Now()
	s.e.apply(t, ns, fmt.Sprintf(`apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaRestore
metadata:
  name: rt-wrong-cluster
spec:
  config:
    clusterName: no-such-cluster
    backupName: %s
    s3: {region: %s, bucket: %s, endpoint: %q, secretName: %s}
`, s.incrName, region, bucket, endpoint, secretName))
	eventually(t, 30*time.Second, 200*time.Millisecond, "rt-wrong-cluster Invalid", func() (bool, error) {
		var rt v1alpha1.NebulaRestore
		if err := s.e.getJSON(&rt, "-n", ns, "rt", "rt-wrong-cluster"); err != nil {
			return false, err
		}
		for _, c := range rt.Status.Conditions {
			if rt.Status.Phase == v1alpha1.RestoreInvalid && c.Reason == "ClusterNotFound" {
				t.Logf("NebulaRestore rt-wrong-cluster Invalid (ClusterNotFound: %s) %s after it was applied", c.Message, time.Since(start).Round(time.Millisecond))
				return true, nil
			}
		}
		return false, fmt.Errorf("phase %q conditions %v", rt.Status.Phase, rt.Status.Conditions)
	})

	// The operator pod deleted mid-restore.
	const name = "rt-operator-restart"
	nc := s.runRestore(t, name, func() {
		s.e.apply(t, ns, fmt.Sprintf(`apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaRestore
metadata:
  name: %s
spec:
  config:
    clusterName: %s
    backupName: %s
    s3: {region: %s, bucket: %s, endpoint: %q, secretName: %s}
`, name, cluster, s.incrName, region, bucket, endpoint, secretName))
		eventually(t, 3*time.Minute, 300*time.Millisecond, name+" past Pending", func() (bool, error) {
			var rt v1alpha1.NebulaRestore
			if err := s.e.getJSON(&rt, "-n", ns, "rt", name); err != nil {
				return false, err
			}
			return rt.Status.Phase == v1alpha1.RestoreRunning || rt.Status.Phase == v1alpha1.RestoreMetadComplete, fmt.Errorf("phase %q", rt.Status.Phase)
		})
		out, err := s.e.k("-n", nsOperator, "delete", "pod", "-l", "app.kubernetes.io/name=nebula-operator", "--wait=false")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("mid-restore: %s", strings.TrimSpace(out))
	})
	s.checkRestored(t, nc, s.fpAtIncr, s.incrName)
}

// ---- step 6: NebulaBackup and NebulaCronBackup ------------------------------

func (s *suite) backupSpec(b string) string {
	return fmt.Sprintf(`  image: %[1]sbr
  version: %[2]s
  imagePullPolicy: IfNotPresent
  autoRemoveFinished: false
  cleanBackupData: %[3]s
  config:
    clusterName: %[4]s
    s3:
      region: %[5]s
      bucket: %[6]s
      endpoint: %[7]s
      secretName: %[8]s
`, imageRepo, imageTag, "false", cluster, region, b, endpoint, secretName)
}

func (s *suite) getNB(t *testing.T, name string) (*v1alpha1.NebulaBackup, error) {
	var nb v1alpha1.NebulaBackup
	if err := s.e.getJSON(&nb, "-n", ns, "nebulabackup", name); err != nil {
		return nil, err
	}
	return &nb, nil
}

// waitNB waits for a NebulaBackup to reach one of the phases.
func (s *suite) waitNB(t *testing.T, name string, timeout time.Duration, phases ...v1alpha1.BackupPhase) *v1alpha1.NebulaBackup {
	t.Helper()
	var nb *v1alpha1.NebulaBackup
	eventually(t, timeout, time.Second, "NebulaBackup "+name+" "+fmt.Sprint(phases), func() (bool, error) {
		var err error
		if nb, err = s.getNB(t, name); err != nil {
			return false, err
		}
		for _, p := range phases {
			if nb.Status.Phase == p {
				return true, nil
			}
		}
		return false, fmt.Errorf("phase %q conditions %v", nb.Status.Phase, nb.Status.Conditions)
	})
	return nb
}

func (s *suite) nebulaBackup(t *testing.T) {
	s.e.apply(t, ns, "apiVersion: apps.nebula-graph.io/v1alpha1\nkind: NebulaBackup\nmetadata:\n  name: nb-full\nspec:\n"+s.backupSpec(bucket))
	nb := s.waitNB(t, "nb-full", 5*time.Minute, v1alpha1.BackupComplete, v1alpha1.BackupFailed, v1alpha1.BackupInvalid)
	if nb.Status.Phase != v1alpha1.BackupComplete {
		t.Fatalf("NebulaBackup nb-full: phase %s, conditions %v", nb.Status.Phase, nb.Status.Conditions)
	}
	if nb.Status.BackupName == "" {
		t.Fatal("NebulaBackup nb-full Complete without status.backupName")
	}
	s.requireMeta(t, nb.Status.BackupName)
	s.nbComplete = nb.Status.BackupName
	out, _ := s.e.k("-n", ns, "get", "nb", "nb-full")
	t.Logf("kubectl get nb nb-full:\n%s", out)
}

func (s *suite) cronBackup(t *testing.T) {
	const name = "nb-cron"
	s.e.apply(t, ns, fmt.Sprintf(`apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCronBackup
metadata:
  name: %s
spec:
  schedule: "*/1 * * * *"
  maxBackups: 1
  backupTemplate:
%s`, name, indent(strings.Replace(s.backupSpec(bucket), "cleanBackupData: false", "cleanBackupData: true", 1), "  ")))
	defer s.e.k("-n", ns, "delete", "nebulacronbackup", name, "--wait=false")
	sel := "apps.nebula-graph.io/cron-backup=" + name
	seen := map[string]bool{}
	var first string
	var firstBackup string
	eventually(t, 5*time.Minute, 3*time.Second, "two scheduled backups and the older one removed", func() (bool, error) {
		var list v1alpha1.NebulaBackupList
		if err := s.e.getJSON(&list, "-n", ns, "nebulabackups", "-l", sel); err != nil {
			return false, err
		}
		present := map[string]bool{}
		var state []string
		for _, nb := range list.Items {
			present[nb.Name] = true
			if !seen[nb.Name] {
				seen[nb.Name] = true
				t.Logf("scheduled: NebulaBackup %s", nb.Name)
				if first == "" {
					first = nb.Name
				}
			}
			if nb.Name == first && nb.Status.BackupName != "" {
				firstBackup = nb.Status.BackupName
			}
			state = append(state, nb.Name+"="+string(nb.Status.Phase))
		}
		if len(seen) >= 2 && first != "" && !present[first] {
			t.Logf("retention (maxBackups 1) removed %s; now %v", first, state)
			return true, nil
		}
		return false, fmt.Errorf("seen %d, now %v", len(seen), state)
	})
	if firstBackup != "" {
		// cleanBackupData: the removed NebulaBackup's data goes with it.
		eventually(t, time.Minute, 2*time.Second, "the removed backup's .meta gone", func() (bool, error) {
			return !s.hasMeta(firstBackup), fmt.Errorf("%s still has its .meta", firstBackup)
		})
		t.Logf("backup %s of the removed NebulaBackup is gone from the bucket", firstBackup)
	}
}

// ---- step 7: faults ----------------------------------------------------------

// faultStoragedDeleted deletes a storaged pod while a NebulaBackup's Job
// runs. A backup of this data takes a second, so to be sure the pod goes
// mid-backup the suite first freezes (SIGSTOP, from the host) the ng-agent
// of that pod: the backup waits on it, then the pod is deleted (its
// processes killed). Expected: the backup fails cleanly (no new .meta, the
// NebulaBackup Failed) or, if a retry ran once the pod was back, completes
// with a backup that verifies; either way the next backup succeeds.
func (s *suite) faultStoragedDeleted(t *testing.T) {
	before := s.show(t)
	victim := cluster + "-storaged-1"
	pid := s.containerPID(t, victim, "ng-agent")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP ng-agent of %s (pid %d): %v", victim, pid, err)
	}
	t.Logf("froze the ng-agent of %s (host pid %d)", victim, pid)
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	const name = "nb-fault-storaged"
	s.e.apply(t, ns, "apiVersion: apps.nebula-graph.io/v1alpha1\nkind: NebulaBackup\nmetadata:\n  name: "+name+"\nspec:\n"+s.backupSpec(bucket))
	var job string
	eventually(t, 2*time.Minute, 300*time.Millisecond, "the backup Job's pod Running", func() (bool, error) {
		nb, err := s.getNB(t, name)
		if err != nil {
			return false, err
		}
		if nb.Status.Phase == v1alpha1.BackupComplete || nb.Status.Phase == v1alpha1.BackupFailed {
			return false, fmt.Errorf("finished (%s) before its pod was seen running", nb.Status.Phase)
		}
		job = nb.Status.JobName
		if job == "" {
			return false, nil
		}
		phase, err := s.e.k("-n", ns, "get", "pods", "-l", "job-name="+job, "-o", "jsonpath={.items[*].status.phase}")
		return strings.Contains(phase, "Running"), err
	})
	time.Sleep(3 * time.Second) // br is now waiting on the frozen agent
	logs, _ := s.e.k("-n", ns, "logs", "job/"+job, "--tail=5")
	t.Logf("Job %s before the fault:\n%s", job, logs)
	if _, err := s.e.k("-n", ns, "delete", "pod", victim, "--grace-period=1", "--wait=false"); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted pod %s while Job %s runs", victim, job)
	eventually(t, time.Minute, time.Second, "the frozen agent killed with its pod", func() (bool, error) {
		return syscall.Kill(pid, 0) != nil, nil
	})
	stopped = false
	nb := s.waitNB(t, name, 6*time.Minute, v1alpha1.BackupComplete, v1alpha1.BackupFailed)
	t.Logf("NebulaBackup %s: %s, backup %q, conditions %v", name, nb.Status.Phase, nb.Status.BackupName, nb.Status.Conditions)
	after := s.show(t)
	for n, b := range after {
		if _, ok := before[n]; ok {
			continue
		}
		switch {
		case b.status == "complete" && n == nb.Status.BackupName && nb.Status.Phase == v1alpha1.BackupComplete:
			out, err := s.br("verify", "--storage", "s3://"+bucket, "--s3.endpoint", "http://"+s.e.minioHost, "--s3.region", region, "--name", n)
			if err != nil {
				t.Fatalf("a backup completed across the fault but does not verify: %v\n%s", err, out)
			}
			t.Logf("the backup completed across the fault (a retry after the pod came back) and verifies: %s", strings.TrimSpace(out))
		case b.status == "complete":
			t.Errorf("new complete backup %s although NebulaBackup %s is %s", n, name, nb.Status.Phase)
		default:
			if s.hasMeta(n) {
				t.Errorf("incomplete backup %s has a .meta", n)
			}
			t.Logf("left by the failed attempt: %s (incomplete, no .meta)", n)
		}
	}
	if t.Failed() {
		return
	}
	s.waitClusterReady(t, ns, cluster, 4*time.Minute)
	const next = "nb-after-fault"
	s.e.apply(t, ns, "apiVersion: apps.nebula-graph.io/v1alpha1\nkind: NebulaBackup\nmetadata:\n  name: "+next+"\nspec:\n"+s.backupSpec(bucket))
	nb = s.waitNB(t, next, 6*time.Minute, v1alpha1.BackupComplete, v1alpha1.BackupFailed, v1alpha1.BackupInvalid)
	if nb.Status.Phase != v1alpha1.BackupComplete {
		t.Fatalf("the backup after the fault: %s %v", nb.Status.Phase, nb.Status.Conditions)
	}
	s.requireMeta(t, nb.Status.BackupName)
}

// containerPID is the host PID of a pod's container (from containerd).
func (s *suite) containerPID(t *testing.T, pod, container string) int {
	t.Helper()
	id, err := s.e.k("-n", ns, "get", "pod", pod, "-o", `jsonpath={.status.containerStatuses[?(@.name=="`+container+`")].containerID}`)
	if err != nil || !strings.HasPrefix(id, "containerd://") {
		t.Fatalf("container %s of %s: %q %v", container, pod, id, err)
	}
	id = strings.TrimPrefix(id, "containerd://")
	out, err := run(30*time.Second, "", filepath.Join(s.e.cache, "bin", "ctr"), "--address", filepath.Join(s.e.cache, "run", "containerd", "containerd.sock"), "-n", "k8s.io", "tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no task %s in ctr tasks ls:\n%s", id, out)
	return 0
}

// faultWrongBucket: a NebulaBackup naming a missing bucket is Invalid
// with reason BucketNotFound within seconds.
func (s *suite) faultWrongBucket(t *testing.T) {
	const name = "nb-wrong-bucket"
	start := time.Now()
	s.e.apply(t, ns, "apiVersion: apps.nebula-graph.io/v1alpha1\nkind: NebulaBackup\nmetadata:\n  name: "+name+"\nspec:\n"+s.backupSpec("no-such-bucket-e2e"))
	nb := s.waitNB(t, name, 30*time.Second, v1alpha1.BackupInvalid, v1alpha1.BackupFailed, v1alpha1.BackupComplete, v1alpha1.BackupRunning)
	var reasons []string
	for _, c := range nb.Status.Conditions {
		reasons = append(reasons, c.Reason)
	}
	if nb.Status.Phase != v1alpha1.BackupInvalid || !contains(reasons, "BucketNotFound") {
		t.Fatalf("NebulaBackup %s: phase %s, conditions %v; want Invalid with reason BucketNotFound", name, nb.Status.Phase, nb.Status.Conditions)
	}
	t.Logf("NebulaBackup %s Invalid (BucketNotFound) %s after it was applied", name, time.Since(start).Round(time.Millisecond))
}

// ---- small helpers -----------------------------------------------------------

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
