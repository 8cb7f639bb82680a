package nebulabackup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/controller/nebulabackup"
	"github.com/nebula-open/nebula-br/internal/objstore/gcstest"
)

// TestBackupJobPodFields checks that the pod fields of upstream's
// BackupSpec reach the backup Job's pod: as upstream's TLS sample uses
// them, an init container fetching certificates into a shared volume that
// br mounts.
func TestBackupJobPodFields(t *testing.T) {
	f := setup(t)
	nb := f.backup("tls", func(nb *v1alpha1.NebulaBackup) {
		nb.Spec.InitContainers = []v1alpha1.Container{{Name: "init-auth-sidecar", Image: "certs:latest",
			Command: []string{"/bin/sh", "-c"}, Args: []string{"cp -r /certs/* /credentials/"},
			VolumeMounts: []corev1.VolumeMount{{Name: "credentials", MountPath: "/credentials"}}}}
		nb.Spec.SidecarContainers = []v1alpha1.Container{{Name: "proxy", Image: "proxy:1"}}
		nb.Spec.Volumes = []v1alpha1.Volume{{Name: "credentials", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
		nb.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "credentials", MountPath: "/usr/local/certs"}}
	})
	job := f.waitJob(nebulabackup.JobName(nb))
	pod := job.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "init-auth-sidecar" || pod.InitContainers[0].VolumeMounts[0].Name != "credentials" {
		t.Errorf("init containers %+v", pod.InitContainers)
	}
	if len(pod.Volumes) != 1 || pod.Volumes[0].Name != "credentials" || pod.Volumes[0].EmptyDir == nil {
		t.Errorf("volumes %+v", pod.Volumes)
	}
	if len(pod.Containers) != 2 || pod.Containers[1].Name != "proxy" {
		t.Fatalf("containers %+v", pod.Containers)
	}
	br := pod.Containers[0]
	if len(br.VolumeMounts) != 1 || br.VolumeMounts[0].MountPath != "/usr/local/certs" {
		t.Errorf("br's mounts %+v", br.VolumeMounts)
	}
	if br.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("br's pull policy %q, want upstream's default Always", br.ImagePullPolicy)
	}
}

// TestBackupToGS checks a backup to Google Cloud Storage as upstream's
// samples write it (spec.config.gs with a Secret holding the credentials
// JSON under "credentials"): the operator checks the bucket with those
// credentials (against a GCS API server that verifies tokens), and the Job
// gets them as a mounted file, never as a value; a wrong key is Invalid.
func TestBackupToGS(t *testing.T) {
	srv := gcstest.Shared(t)
	auth := gcstest.NewAuth(t, srv)
	t.Setenv("STORAGE_EMULATOR_HOST", auth.Endpoint) // the operator's, as in a test deployment
	bucket := srv.Bucket(t, "nb-gs")
	f := setup(t)
	ctx := context.Background()
	key := auth.ServiceAccount(t, "backup@nebula-br-test.iam.gserviceaccount.com")
	for name, data := range map[string][]byte{"gcp-secret": key, "foreign": auth.ForeignKey(t, "nobody@nebula-br-test.iam.gserviceaccount.com")} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, Data: map[string][]byte{"credentials": data}}
		if err := f.c.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	gs := func(secret string) func(*v1alpha1.NebulaBackup) {
		return func(nb *v1alpha1.NebulaBackup) {
			nb.Spec.Config.S3 = nil
			nb.Spec.Config.GS = &v1alpha1.GSStorageProvider{Location: "us-central1", Bucket: bucket, SecretName: secret}
		}
	}
	nb := f.backup("gs", gs("gcp-secret"))
	job := f.waitJob(nebulabackup.JobName(nb))
	pod := job.Spec.Template.Spec
	br := pod.Containers[0]
	args := strings.Join(br.Args, " ")
	if !strings.Contains(args, "--storage gs://"+bucket) || !strings.Contains(args, "--gs.credentials /var/run/secrets/nebula-br/gs/credentials") {
		t.Errorf("br's args: %s", args)
	}
	if strings.Contains(args, "private_key") || strings.Contains(fmt.Sprint(br.Env), "private_key") {
		t.Errorf("the credentials reached the Job as a value: %s %v", args, br.Env)
	}
	var mounted bool
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "gcp-secret" {
			for _, m := range br.VolumeMounts {
				mounted = mounted || (m.Name == v.Name && m.MountPath == "/var/run/secrets/nebula-br/gs" && m.ReadOnly)
			}
		}
	}
	if !mounted {
		t.Errorf("the Secret is not mounted read-only for br: volumes %+v, mounts %+v", pod.Volumes, br.VolumeMounts)
	}

	bad := f.backup("gs-foreign", gs("foreign"))
	cur := f.waitPhase(bad, v1alpha1.BackupInvalid)
	for _, c := range cur.Status.Conditions {
		if c.Type == string(v1alpha1.BackupInvalid) && strings.Contains(c.Message, "private_key") {
			t.Errorf("the Invalid message shows the key: %s", c.Message)
		}
	}
	t.Logf("foreign key: %+v", cur.Status.Conditions)
}
