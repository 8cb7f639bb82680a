// Package restore_test runs NebulaRestores end to end against a real
// kube-apiserver (envtest), a real MinIO, and real nebula-lite processes
// and br-agents standing behind the pods' DNS names (fakekubelet plays the
// kubelet and the StatefulSet controller, which envtest lacks).
package restore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	agentclient "github.com/nebula-open/nebula-br/internal/agent/client"
	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/br"
	"github.com/nebula-open/nebula-br/internal/controller/naming"
	"github.com/nebula-open/nebula-br/internal/controller/nebulacluster"
	"github.com/nebula-open/nebula-br/internal/controller/nebularestore"
	"github.com/nebula-open/nebula-br/internal/envtest"
	"github.com/nebula-open/nebula-br/internal/envtest/fakekubelet"
	"github.com/nebula-open/nebula-br/internal/hostmap"
	"github.com/nebula-open/nebula-br/internal/nebula/graphtest"
	"github.com/nebula-open/nebula-br/internal/objstore"
	"github.com/nebula-open/nebula-br/internal/objstore/miniotest"
	"github.com/nebula-open/nebula-br/internal/testbin"
)

var binDir string

func TestMain(m *testing.M) {
	binDir = testbin.MustBuild("nebula-lite", "br-agent", "br")
	for _, role := range []string{"metad", "storaged", "graphd"} {
		if err := os.Symlink("nebula-lite", filepath.Join(binDir, "nebula-"+role)); err != nil {
			panic(err)
		}
	}
	code := envtest.Main(m)
	miniotest.Cleanup()
	os.RemoveAll(binDir)
	os.Exit(code)
}

type world struct {
	t       *testing.T
	env     *envtest.Env
	c       client.Client
	ns, ns2 string // ns runs pods; ns2 has objects only
	hosts   string
	kubelet *fakekubelet.Kubelet
	minio   *miniotest.Server
	bucket  string
}

func newWorld(t *testing.T) *world {
	env := envtest.Shared(t)
	w := &world{t: t, env: env, c: env.Client, ns: env.Namespace(t), ns2: env.Namespace(t)}
	w.hosts = filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(w.hosts, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(hostmap.EnvFile, w.hosts)
	w.minio = miniotest.Shared(t)
	w.bucket = w.minio.Bucket(t, "restore-"+strings.ToLower(w.ns))
	for _, ns := range []string{w.ns, w.ns2} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s3"},
			Data: map[string][]byte{"access-key": []byte(w.minio.AccessKey), "secret-key": []byte(w.minio.SecretKey)}}
		if err := w.c.Create(context.Background(), sec); err != nil {
			t.Fatal(err)
		}
	}
	w.kubelet = &fakekubelet.Kubelet{
		Client: w.c, Namespace: w.ns, Root: t.TempDir(), HostsFile: w.hosts, IPBase: [3]byte{127, 0, 3},
		Binaries: map[string]string{
			"nebula-metad": filepath.Join(binDir, "nebula-metad"), "nebula-storaged": filepath.Join(binDir, "nebula-storaged"),
			"nebula-graphd": filepath.Join(binDir, "nebula-graphd"), "br-agent": filepath.Join(binDir, "br-agent"),
		},
		Logf: t.Logf,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.kubelet.Run(ctx); close(done) }()
	t.Cleanup(func() {
		if t.Failed() {
			w.dumpLogs()
		}
		cancel()
		<-done
	})
	return w
}

func (w *world) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(w.kubelet.Root, "*", "*.log"))
	more, _ := filepath.Glob(filepath.Join(w.kubelet.Root, "*", "nebula", "logs", "*"))
	for _, l := range append(logs, more...) {
		b, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 12 {
			lines = lines[len(lines)-12:]
		}
		w.t.Logf("--- %s\n%s", l, strings.Join(lines, "\n"))
	}
}

// operator runs the NebulaCluster and NebulaRestore controllers in
// process; stop ends them as an operator pod's deletion would.
func (w *world) operator() (stop func()) {
	w.t.Helper()
	return envtest.StartManager(w.t, w.env, []string{w.ns, w.ns2}, func(mgr ctrl.Manager) error {
		if err := (&nebulacluster.Reconciler{}).SetupWithManager(mgr); err != nil {
			return err
		}
		return (&nebularestore.Reconciler{Poll: 300 * time.Millisecond, Timeout: 5 * time.Minute}).SetupWithManager(mgr)
	})
}

func sourceCluster(ns, name string, storaged int32) *v1alpha1.NebulaCluster {
	comp := func(n int32, img string) v1alpha1.ComponentSpec {
		return v1alpha1.ComponentSpec{Replicas: ptr.To(n), Image: img, Version: "v3.8.0"}
	}
	return &v1alpha1.NebulaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.NebulaClusterSpec{
			Metad:    &v1alpha1.MetadSpec{ComponentSpec: comp(1, "nebula-lite")},
			Storaged: &v1alpha1.StoragedSpec{ComponentSpec: comp(storaged, "nebula-lite")},
			Graphd:   &v1alpha1.GraphdSpec{ComponentSpec: comp(1, "nebula-lite")},
			EnableBR: true,
			// 1 Mbps: a restore's download lasts long enough to restart
			// the operator in its middle.
			Agent: &v1alpha1.AgentSpec{Image: "br-agent", HeartbeatInterval: 1, RateLimit: 1},
		},
	}
}

func (w *world) waitReady(name string, timeout time.Duration) *v1alpha1.NebulaCluster {
	w.t.Helper()
	nc := &v1alpha1.NebulaCluster{}
	envtest.Eventually(w.t, timeout, "NebulaCluster "+name+" ready", func() (bool, error) {
		err := w.c.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, nc)
		return err == nil && nc.Status.Phase == v1alpha1.ClusterRunning && nc.Status.IsConditionTrue(v1alpha1.ClusterReady), err
	})
	return nc
}

// session is a graphd session with this test's data loader.
type session struct{ *graphtest.Session }

func (w *world) connect(cluster string) *session {
	w.t.Helper()
	addr := fmt.Sprintf("%s:%d", naming.PodFQDN(cluster, w.ns, naming.Graphd, 0), naming.GraphdPort)
	return &session{graphtest.Connect(w.t, addr)}
}

func (s *session) fingerprint(space string) string {
	s.T.Helper()
	return s.FingerprintString(space)
}

func (s *session) load(space string, from, to int) {
	s.Must("USE " + space)
	for lo := from; lo < to; lo += 250 {
		var v, e strings.Builder
		for i := lo; i < min(lo+250, to); i++ {
			if i > lo {
				v.WriteByte(',')
				e.WriteByte(',')
			}
			fmt.Fprintf(&v, `"v%d":("n%d", %d)`, i, i, i)
			fmt.Fprintf(&e, `"v%d"->"v%d":(%d)`, i, i+1, i)
		}
		s.Must("INSERT VERTEX p(name, n) VALUES " + v.String())
		s.Must("INSERT EDGE r(w) VALUES " + e.String())
	}
}

var nameRE = regexp.MustCompile(`(?m)^BACKUP_\d{4}(_\d{2}){5}$`)

// backup runs br against the source cluster, as the backup Job would.
func (w *world) backup(cluster string, kind string) string {
	w.t.Helper()
	meta := fmt.Sprintf("%s:%d", naming.PodFQDN(cluster, w.ns, naming.Metad, 0), naming.MetadPort)
	cmd := exec.Command(filepath.Join(binDir, "br"), "backup", kind, "--meta", meta, "--storage", "s3://"+w.bucket,
		"--s3.endpoint", w.minio.Endpoint, "--s3.region", "us-east-1")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+w.minio.AccessKey, "AWS_SECRET_ACCESS_KEY="+w.minio.SecretKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("br backup %s: %v\n%s", kind, err, out.String())
	}
	name := nameRE.FindString(out.String())
	if name == "" {
		w.t.Fatalf("no backup name in:\n%s", out.String())
	}
	return name
}

// corruptDataObject overwrites one data object of a backup with as many
// different bytes (so only the checksum can tell) and returns its key.
func (w *world) corruptDataObject(backup string) string {
	w.t.Helper()
	ctx := context.Background()
	st, err := objstore.Open(ctx, "s3://"+w.bucket, objstore.Config{S3: objstore.S3Config{
		AccessKey: w.minio.AccessKey, SecretKey: w.minio.SecretKey, Region: "us-east-1", Endpoint: w.minio.Endpoint}})
	if err != nil {
		w.t.Fatal(err)
	}
	var victim objstore.ObjectInfo
	st.List(ctx, backup+"/data/", func(o objstore.ObjectInfo) error {
		if victim.Key == "" && o.Size > 0 {
			victim = o
		}
		return nil
	})
	if victim.Key == "" {
		w.t.Fatalf("no data object under %s", backup)
	}
	junk := bytes.Repeat([]byte{0x5a}, int(victim.Size))
	if err := st.Put(ctx, victim.Key, bytes.NewReader(junk), victim.Size); err != nil {
		w.t.Fatal(err)
	}
	return victim.Key
}

func (w *world) restore(ns, name, cluster, backup string, opts ...func(*v1alpha1.NebulaRestore)) *v1alpha1.NebulaRestore {
	w.t.Helper()
	rt := &v1alpha1.NebulaRestore{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.NebulaRestoreSpec{
			// The older spec.br form, as the reference page writes it.
			BR: &v1alpha1.RestoreConfig{ClusterName: cluster, BackupName: backup,
				S3: &v1alpha1.S3StorageProvider{Region: "us-east-1", Bucket: w.bucket, Endpoint: w.minio.Endpoint, SecretName: "s3"}},
		},
	}
	for _, o := range opts {
		o(rt)
	}
	if err := w.c.Create(context.Background(), rt); err != nil {
		w.t.Fatal(err)
	}
	return rt
}

func (w *world) get(rt *v1alpha1.NebulaRestore) *v1alpha1.NebulaRestore {
	cur := &v1alpha1.NebulaRestore{}
	if err := w.c.Get(context.Background(), client.ObjectKeyFromObject(rt), cur); err != nil {
		w.t.Fatal(err)
	}
	return cur
}

// waitPhase waits for one of phases and returns the restore.
func (w *world) waitPhase(rt *v1alpha1.NebulaRestore, timeout time.Duration, phases ...v1alpha1.RestorePhase) *v1alpha1.NebulaRestore {
	w.t.Helper()
	var cur *v1alpha1.NebulaRestore
	envtest.Eventually(w.t, timeout, fmt.Sprintf("restore %s in %v", rt.Name, phases), func() (bool, error) {
		cur = w.get(rt)
		for _, p := range phases {
			if cur.Status.Phase == p {
				return true, nil
			}
		}
		if cur.Status.Phase == v1alpha1.RestoreFailed || cur.Status.Phase == v1alpha1.RestoreInvalid {
			w.t.Fatalf("restore %s ended %s: %+v", rt.Name, cur.Status.Phase, cur.Status.Conditions)
		}
		return false, fmt.Errorf("phase %q, conditions %+v", cur.Status.Phase, cur.Status.Conditions)
	})
	return cur
}

// jobProgress polls a restore agent's job until ok holds for it.
func (w *world) jobProgress(agent, id string, ok func(*pb.RestoreDataJob) bool) *pb.RestoreDataJob {
	w.t.Helper()
	var last *pb.RestoreDataJob
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := agentclient.Dial(ctx, agent)
		if err == nil {
			last, err = c.RestoreDataStatus(ctx, id, false)
			c.Close()
		}
		cancel()
		if err == nil && last.State == pb.RestoreDataState_RESTORE_DATA_FAILED {
			w.t.Fatalf("job %s on %s failed: %s", id, agent, last.Error)
		}
		if err == nil && ok(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("job %s on %s: not there in 2m (last %v)", id, agent, last)
	return nil
}

// event is the message of rt's event of that reason whose message starts
// with prefix ("" if none).
func (w *world) event(rt *v1alpha1.NebulaRestore, reason, prefix string) string {
	w.t.Helper()
	var evs eventsv1.EventList
	if err := w.c.List(context.Background(), &evs, client.InNamespace(rt.Namespace)); err != nil {
		w.t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.Regarding.Name == rt.Name && e.Reason == reason && strings.HasPrefix(e.Note, prefix) {
			return e.Note
		}
	}
	return ""
}

// TestRestoreIntoNewCluster restores an incremental backup (with its full
// base) of a live source cluster into a new cluster, stopping the operator
// twice along the way, and checks the data is exact and the source
// untouched. Then the Invalid cases, on the same backups.
func TestRestoreIntoNewCluster(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	stop := w.operator()

	src := sourceCluster(w.ns, "src", 3)
	if err := w.c.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	w.waitReady("src", 2*time.Minute)
	s := w.connect("src")
	envtest.Eventually(t, time.Minute, "space created (storaged registered)", func() (bool, error) {
		_, err := s.G.Execute(ctx, "CREATE SPACE g (partition_num = 6, vid_type = FIXED_STRING(12))")
		return err == nil, err
	})
	s.Must("USE g; CREATE TAG p(name string, n int); CREATE EDGE r(w int)")
	// And a replicated space: each part's replicas restored alike.
	s.Must("CREATE SPACE rg (partition_num = 6, replica_factor = 3, vid_type = FIXED_STRING(12))")
	envtest.Eventually(t, time.Minute, "replicated space's schema", func() (bool, error) {
		return s.Exec("USE rg; CREATE TAG IF NOT EXISTS p(name string, n int); CREATE EDGE IF NOT EXISTS r(w int)") == nil, nil
	})
	// Leaders elected in every part: 60 vids reach all 6 parts.
	var probe strings.Builder
	for i := range 60 {
		if i > 0 {
			probe.WriteByte(',')
		}
		fmt.Fprintf(&probe, `"probe%d":("x", %d)`, i, i)
	}
	envtest.Eventually(t, time.Minute, "replicated space takes writes in every part (leaders elected)", func() (bool, error) {
		err := s.Exec("USE rg; INSERT VERTEX p(name, n) VALUES " + probe.String())
		return err == nil, err
	})
	s.load("g", 0, 6000)
	s.load("rg", 0, 300)
	full := w.backup("src", "full")
	s.load("g", 6000, 6300)
	s.load("rg", 300, 400)
	s.Must(`USE g; INSERT VERTEX p(name, n) VALUES "v7":("renamed", 777); DELETE VERTEX "v9" WITH EDGE`)
	incr := w.backup("src", "incr")
	want, wantRG := s.fingerprint("g"), s.fingerprint("rg")
	srcBefore := &v1alpha1.NebulaCluster{}
	if err := w.c.Get(ctx, client.ObjectKeyFromObject(src), srcBefore); err != nil {
		t.Fatal(err)
	}
	t.Logf("backups %s (full) and %s (incremental); fingerprint %s", full, incr, want)

	rt := w.restore(w.ns, "rt", "src", incr)
	// Restart the operator in the metad stage, once the new cluster's
	// metad pod has started its restore agent ...
	cur := w.waitPhase(rt, time.Minute, v1alpha1.RestoreRunning)
	restored := cur.Status.ClusterName
	if !regexp.MustCompile(`^ng[a-z0-9]{4}$`).MatchString(restored) {
		t.Fatalf("restored cluster name %q: want an operator-generated ng + 4 characters, as upstream's", restored)
	}
	envtest.Eventually(t, time.Minute, "restored metad pod started", func() (bool, error) {
		return w.kubelet.IP(restored+"-metad-0") != "", nil
	})
	stop()
	t.Log("operator stopped in the metad stage")
	stop = w.operator()
	// ... and again while storaged pod 0's restore agent downloads (the
	// source's agents are rate-limited, and the restored cluster copies
	// that): the agent's own progress shows the stop landed mid-download
	// and that the download went on without the operator.
	agent := fmt.Sprintf("%s:%d", naming.PodFQDN(restored, w.ns, naming.Storaged, 0), naming.AgentPort)
	job := br.DataJobID(nebularestore.RunID(cur))
	mid := w.jobProgress(agent, job, func(j *pb.RestoreDataJob) bool { return j.BytesDone > 0 && j.BytesDone < j.BytesTotal })
	stop()
	t.Logf("operator stopped while storaged pod 0 downloads: %d of %d bytes", mid.BytesDone, mid.BytesTotal)
	later := w.jobProgress(agent, job, func(j *pb.RestoreDataJob) bool {
		return j.BytesDone > mid.BytesDone || j.State == pb.RestoreDataState_RESTORE_DATA_DONE
	})
	t.Logf("with no operator running, the download went on: %d of %d bytes", later.BytesDone, later.BytesTotal)
	w.operator()
	cur = w.waitPhase(rt, 3*time.Minute, v1alpha1.RestoreComplete)
	// Nothing was downloaded twice: the job fetched its share once.
	if msg := w.event(cur, "DataRestored", "storaged pod 0:"); !strings.Contains(msg, "("+br.HumanBytes(mid.BytesTotal)+" downloaded, 0 files already in place)") {
		t.Errorf("storaged pod 0's event %q: want %s downloaded once, no file found in place", msg, br.HumanBytes(mid.BytesTotal))
	}
	t.Logf("restore %s Complete into %s after %s (two operator restarts included)", rt.Name, restored,
		cur.Status.TimeCompleted.Sub(cur.Status.TimeStarted.Time))

	for _, c := range []string{string(v1alpha1.RestoreMetadComplete), string(v1alpha1.RestoreStoragedComplete), string(v1alpha1.RestoreComplete)} {
		if !cur.Status.IsConditionTrue(c) {
			t.Errorf("condition %s not true: %+v", c, cur.Status.Conditions)
		}
	}
	if cur.Status.TimeStarted == nil || cur.Status.TimeCompleted == nil {
		t.Errorf("times not set: %+v", cur.Status)
	}
	if len(cur.Status.Partitions) != 12 {
		t.Errorf("partitions in status: %v, want 12 parts (two spaces)", cur.Status.Partitions)
	}
	for p, hosts := range cur.Status.Partitions {
		if (len(hosts) != 1 && len(hosts) != 3) || !strings.HasPrefix(hosts[0].Host, restored+"-storaged-") {
			t.Errorf("part %s on %v: want 1 or 3 (replica_factor) of the restored storaged pods", p, hosts)
		}
	}
	if len(cur.Status.Checkpoints) != 0 {
		t.Errorf("downloads not cleaned: %v", cur.Status.Checkpoints)
	}
	if left, _ := filepath.Glob(filepath.Join(w.kubelet.PodDir(restored+"-metad-0"), "nebula", "data", "metad", "restore-meta-*")); len(left) != 0 {
		t.Errorf("downloaded meta export left behind: %v", left)
	}
	nc := w.waitReady(restored, time.Minute)
	if nc.Labels[v1alpha1.LabelRestore] != "rt" || nc.Annotations[v1alpha1.AnnotationRestoreStage] != "" {
		t.Errorf("restored cluster labels %v annotations %v", nc.Labels, nc.Annotations)
	}
	got := w.connect(restored).fingerprint("g")
	if got != want {
		t.Fatalf("restored fingerprint %s, want %s", got, want)
	}
	if got := w.connect(restored).fingerprint("rg"); got != wantRG {
		t.Fatalf("restored replicated space: fingerprint %s, want %s", got, wantRG)
	}
	// The source is untouched: same spec generation, same data, serving.
	srcAfter := &v1alpha1.NebulaCluster{}
	if err := w.c.Get(ctx, client.ObjectKeyFromObject(src), srcAfter); err != nil {
		t.Fatal(err)
	}
	if srcAfter.Generation != srcBefore.Generation || len(srcAfter.Annotations) != len(srcBefore.Annotations) {
		t.Errorf("source cluster modified: generation %d -> %d, annotations %v", srcBefore.Generation, srcAfter.Generation, srcAfter.Annotations)
	}
	if fp := s.fingerprint("g"); fp != want {
		t.Errorf("source fingerprint changed: %s -> %s", want, fp)
	}

	// Into another topology: the backup of 3 storage hosts, kept per part,
	// restored into a copy of a cluster with 4; the parts (and replicas)
	// are spread over all of them, the data exact.
	if err := w.c.Create(ctx, sourceCluster(w.ns, "four", 4)); err != nil {
		t.Fatal(err)
	}
	into4 := w.waitPhase(w.restore(w.ns, "into-four", "four", incr), 3*time.Minute, v1alpha1.RestoreComplete)
	perHost := map[string]int{}
	for _, hosts := range into4.Status.Partitions {
		for _, h := range hosts {
			perHost[h.Host]++
		}
	}
	// 6 parts of g and 18 replicas of rg: 24 over 4 hosts.
	if len(into4.Status.Partitions) != 12 || len(perHost) != 4 {
		t.Errorf("restore into 4 storage hosts: partitions %v (per host %v), want 12 parts over 4 hosts", into4.Status.Partitions, perHost)
	}
	for h, n := range perHost {
		if n != 6 || !strings.HasPrefix(h, into4.Status.ClusterName+"-storaged-") {
			t.Errorf("host %s holds %d replicas, want 6 (a storaged pod of %s)", h, n, into4.Status.ClusterName)
		}
	}
	w.waitReady(into4.Status.ClusterName, time.Minute)
	d4 := w.connect(into4.Status.ClusterName)
	if got, gotRG := d4.fingerprint("g"), d4.fingerprint("rg"); got != want || gotRG != wantRG {
		t.Fatalf("restored into 4 storage hosts: fingerprints %s and %s, want %s and %s", got, gotRG, want, wantRG)
	}

	// A damaged object fails the restore in the storaged stage, naming the
	// object; autoRemoveFailed deletes the half-built cluster.
	key := w.corruptDataObject(full)
	bad := w.restore(w.ns, "bad", "src", full, func(rt *v1alpha1.NebulaRestore) { rt.Spec.AutoRemoveFailed = true })
	var failed *v1alpha1.NebulaRestore
	envtest.Eventually(t, 2*time.Minute, "damaged restore Failed", func() (bool, error) {
		failed = w.get(bad)
		return failed.Status.Phase == v1alpha1.RestoreFailed, fmt.Errorf("phase %s", failed.Status.Phase)
	})
	cond := failed.Status.Condition(string(v1alpha1.RestoreFailed))
	if cond == nil || cond.Reason != v1alpha1.RestoreReasonBackupDamaged || !strings.Contains(cond.Message, "checksum mismatch") || !strings.Contains(cond.Message, filepath.Base(key)) {
		t.Errorf("Failed condition %+v: want %s naming %s", cond, v1alpha1.RestoreReasonBackupDamaged, key)
	}
	envtest.Eventually(t, 20*time.Second, "half-built cluster removed", func() (bool, error) {
		err := w.c.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: failed.Status.ClusterName}, &v1alpha1.NebulaCluster{})
		return apierrors.IsNotFound(err), err
	})

	// Invalid cases, in a namespace without pods. Each ends within seconds
	// with a reason and a message naming the problem.
	if err := w.c.Create(ctx, sourceCluster(w.ns2, "three", 3)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cluster, backup, reason, text string
	}{
		{"missing-backup", "three", "BACKUP_2001_01_01_00_00_00", v1alpha1.RestoreReasonBackupNotFound, "BACKUP_2001_01_01_00_00_00 not found"},
		{"wrong-cluster", "nosuch", incr, v1alpha1.RestoreReasonClusterNotFound, "NebulaCluster nosuch not found in namespace " + w.ns2 + " nor in any other"},
	} {
		start := time.Now()
		rt := w.restore(w.ns2, tc.name, tc.cluster, tc.backup)
		var cond *v1alpha1.Condition
		envtest.Eventually(t, 20*time.Second, tc.name+" Invalid", func() (bool, error) {
			cur := w.get(rt)
			cond = cur.Status.Condition(string(v1alpha1.RestoreInvalid))
			return cur.Status.Phase == v1alpha1.RestoreInvalid && cond != nil, nil
		})
		if cond.Reason != tc.reason || !strings.Contains(cond.Message, tc.text) {
			t.Errorf("%s: Invalid %s: %s; want %s containing %q", tc.name, cond.Reason, cond.Message, tc.reason, tc.text)
		}
		var ncs v1alpha1.NebulaClusterList
		if err := w.c.List(ctx, &ncs, client.InNamespace(w.ns2)); err != nil || len(ncs.Items) != 1 {
			t.Errorf("%s: an invalid restore created a cluster (%d clusters, %v)", tc.name, len(ncs.Items), err)
		}
		t.Logf("%s: Invalid %s after %s", tc.name, cond.Reason, time.Since(start).Round(time.Millisecond))
	}

	// The reference page restores into another namespace than the backed-up
	// cluster's without naming it: the only cluster of that name is found.
	cross := w.restore(w.ns2, "cross", "src", full)
	envtest.Eventually(t, 20*time.Second, "cross-namespace restore validated", func() (bool, error) {
		cur := w.get(cross)
		if cur.Status.Phase == v1alpha1.RestoreInvalid {
			t.Fatalf("cross-namespace restore Invalid: %+v", cur.Status.Conditions)
		}
		return cur.Status.Phase == v1alpha1.RestoreRunning && cur.Status.SourceCluster == w.ns+"/src", fmt.Errorf("status %+v", cur.Status)
	})
}
