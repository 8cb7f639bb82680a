package envtest_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
	"github.com/nebula-open/nebula-br/internal/envtest"
)

// TestDefaults creates minimal resources and checks the defaults the API
// server filled in, as the controllers will read them.
func TestDefaults(t *testing.T) {
	env := envtest.Shared(t)
	ctx := ctxT(t)
	ns := env.Namespace(t)

	o := mustCreate(t, env, ns, clusterYAML(componentsOK+"\nenableBR: true\nagent:\n  image: br-agent"))
	var nc v1alpha1.NebulaCluster
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &nc); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*v1alpha1.ComponentSpec{
		"graphd": &nc.Spec.Graphd.ComponentSpec, "metad": &nc.Spec.Metad.ComponentSpec, "storaged": &nc.Spec.Storaged.ComponentSpec,
	} {
		if c.Replicas == nil || *c.Replicas != 1 {
			t.Errorf("%s replicas %v, want 1", name, c.Replicas)
		}
	}
	// Upstream's defaults: pull Always, the default scheduler, tag latest.
	if nc.Spec.ImagePullPolicy != corev1.PullAlways || nc.Spec.SchedulerName != corev1.DefaultSchedulerName {
		t.Errorf("cluster imagePullPolicy %q schedulerName %q", nc.Spec.ImagePullPolicy, nc.Spec.SchedulerName)
	}
	if nc.Spec.Graphd.Version != "latest" || nc.Spec.Metad.Version != "latest" || nc.Spec.Agent.Version != "latest" {
		t.Errorf("versions: graphd %q metad %q agent %q", nc.Spec.Graphd.Version, nc.Spec.Metad.Version, nc.Spec.Agent.Version)
	}
	if nc.Spec.Agent.HeartbeatInterval != 60 || nc.Spec.Agent.RateLimit != 0 {
		t.Errorf("agent %+v", nc.Spec.Agent)
	}
	if nc.Spec.EnablePVReclaim {
		t.Error("enablePVReclaim defaulted to true")
	}
	o = mustCreate(t, env, ns, clusterYAML(componentsOK))
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &nc); err != nil {
		t.Fatal(err)
	}
	if nc.Spec.EnableBR || nc.Spec.Agent != nil {
		t.Errorf("enableBR %v agent %+v, want false and none", nc.Spec.EnableBR, nc.Spec.Agent)
	}
	// The defaults are visible in the stored object, not only in Go's zero
	// values; enableBR, as upstream's, has none.
	if v := nested(t, o, "spec", "imagePullPolicy"); v != "Always" {
		t.Errorf("stored imagePullPolicy %v", v)
	}
	if v, ok, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "enableBR"); ok {
		t.Errorf("stored enableBR %v, want none", v)
	}

	o = mustCreate(t, env, ns, backupYAML("clusterName: nebula\ns3:\n  bucket: nebula-br-test"))
	var nb v1alpha1.NebulaBackup
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &nb); err != nil {
		t.Fatal(err)
	}
	if nb.Spec.Config.Concurrency != v1alpha1.DefaultConcurrency || nb.Spec.ImagePullPolicy != corev1.PullAlways ||
		nb.Spec.CleanBackupData || nb.Spec.AutoRemoveFinished || nb.Spec.Config.BaseBackupName != nil {
		t.Errorf("backup defaults: %+v config %+v", nb.Spec, nb.Spec.Config)
	}
	if v := nested(t, o, "spec", "config", "concurrency"); v != int64(5) {
		t.Errorf("stored concurrency %v (%T)", v, v)
	}

	for _, form := range []string{"config", "br"} {
		o = mustCreate(t, env, ns, restoreYAML(form+":\n  clusterName: nebula\n  backupName: BACKUP_2023_02_12_10_04_16\n  s3:\n    bucket: nebula-br-test"))
		var nr v1alpha1.NebulaRestore
		if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &nr); err != nil {
			t.Fatal(err)
		}
		if c := nr.Spec.EffectiveConfig(); c.Concurrency != v1alpha1.DefaultConcurrency || nr.Spec.AutoRemoveFailed {
			t.Errorf("restore (%s) defaults: %+v autoRemoveFailed %v", form, c, nr.Spec.AutoRemoveFailed)
		}
	}

	o = mustCreate(t, env, ns, cronYAML(`schedule: "@daily"`))
	var ncb v1alpha1.NebulaCronBackup
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &ncb); err != nil {
		t.Fatal(err)
	}
	tmpl := ncb.Spec.BackupTemplate
	if ncb.Spec.Pause || ncb.Spec.MaxBackups != nil || ncb.Spec.MaxReservedTime != nil ||
		tmpl.Config.Concurrency != v1alpha1.DefaultConcurrency || tmpl.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("cron defaults: %+v template config %+v", ncb.Spec, tmpl.Config)
	}
}

// TestImmutable checks that the fields a change of makes no sense for
// cannot change (a backup's and a restore's configuration), while the rest
// can.
func TestImmutable(t *testing.T) {
	env := envtest.Shared(t)
	ctx := ctxT(t)
	ns := env.Namespace(t)

	o := mustCreate(t, env, ns, backupYAML("clusterName: nebula\n"+s3OK))
	var nb v1alpha1.NebulaBackup
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &nb); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*v1alpha1.NebulaBackup){
		"clusterName":    func(b *v1alpha1.NebulaBackup) { b.Spec.Config.ClusterName = "other" },
		"concurrency":    func(b *v1alpha1.NebulaBackup) { b.Spec.Config.Concurrency = 7 },
		"bucket":         func(b *v1alpha1.NebulaBackup) { b.Spec.Config.S3.Bucket = "elsewhere" },
		"baseBackupName": func(b *v1alpha1.NebulaBackup) { s := "BACKUP_2023_02_12_10_04_16"; b.Spec.Config.BaseBackupName = &s },
	} {
		t.Run("backup "+name, func(t *testing.T) {
			b := nb.DeepCopy()
			change(b)
			wantInvalid(t, env.Client.Update(ctx, b), "spec.config is immutable")
		})
	}
	b := nb.DeepCopy()
	b.Spec.AutoRemoveFinished = true
	b.Spec.CleanBackupData = true
	if err := env.Client.Update(ctx, b); err != nil {
		t.Errorf("changing autoRemoveFinished and cleanBackupData: %v", err)
	}

	for _, form := range []string{"config", "br"} {
		o := mustCreate(t, env, ns, restoreYAML(form+":\n  clusterName: nebula\n  backupName: BACKUP_2023_02_12_10_04_16\n"+indent(s3OK, 2)))
		var nr v1alpha1.NebulaRestore
		if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &nr); err != nil {
			t.Fatal(err)
		}
		r := nr.DeepCopy()
		r.Spec.EffectiveConfig().BackupName = "BACKUP_2024_01_01_00_00_00"
		wantInvalid(t, env.Client.Update(ctx, r), "spec."+form+" is immutable")

		// Moving the same configuration to the other form is a change too.
		r = nr.DeepCopy()
		r.Spec.Config, r.Spec.BR = r.Spec.BR, r.Spec.Config
		wantInvalid(t, env.Client.Update(ctx, r), "is immutable")

		r = nr.DeepCopy()
		r.Spec.AutoRemoveFailed = true
		if err := env.Client.Update(ctx, r); err != nil {
			t.Errorf("restore (%s): changing autoRemoveFailed: %v", form, err)
		}
	}

	// A schedule's template may change: later backups use the new one.
	o = mustCreate(t, env, ns, cronYAML(`schedule: "@daily"`))
	var ncb v1alpha1.NebulaCronBackup
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &ncb); err != nil {
		t.Fatal(err)
	}
	ncb.Spec.BackupTemplate.Config.ClusterName = "other"
	ncb.Spec.BackupTemplate.Config.Concurrency = 9
	ncb.Spec.Schedule = "@hourly"
	if err := env.Client.Update(ctx, &ncb); err != nil {
		t.Errorf("changing a cron backup's template: %v", err)
	}
}

// TestStatus checks the status subresource: status is written through it
// (conditions with lastUpdateTime), and spec changes sent with it are
// ignored, as are status changes sent with the spec.
func TestStatus(t *testing.T) {
	env := envtest.Shared(t)
	ctx := ctxT(t)
	ns := env.Namespace(t)

	o := mustCreate(t, env, ns, restoreYAML("br:\n  clusterName: nebula\n  backupName: BACKUP_2023_02_12_10_04_16\n"+indent(s3OK, 2)))
	var nr v1alpha1.NebulaRestore
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &nr); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	nr.Status = v1alpha1.NebulaRestoreStatus{
		ClusterName: "nebula-r7x2k",
		Phase:       v1alpha1.RestoreMetadComplete,
		TimeStarted: &now,
		Conditions: []v1alpha1.Condition{{
			Type: string(v1alpha1.RestoreMetadComplete), Status: metav1.ConditionTrue,
			Reason: "MetaRestored", Message: "restoreMeta done on 1 metad", LastTransitionTime: now, LastUpdateTime: now,
		}},
		Partitions: map[string][]v1alpha1.HostAddr{"1/1": {{Host: "nebula-r7x2k-storaged-0.nebula-r7x2k-storaged-headless", Port: 9779}}},
	}
	nr.Spec.AutoRemoveFailed = true // ignored by the status subresource
	if err := env.Client.Status().Update(ctx, &nr); err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.NebulaRestore
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.RestoreMetadComplete || got.Status.ClusterName != "nebula-r7x2k" ||
		len(got.Status.Conditions) != 1 || len(got.Status.Partitions["1/1"]) != 1 {
		t.Errorf("status not stored: %+v", got.Status)
	}
	if got.Spec.AutoRemoveFailed {
		t.Error("the status subresource changed the spec")
	}

	// A condition's status must be True, False or Unknown.
	bad := got.DeepCopy()
	bad.Status.Conditions = append(bad.Status.Conditions, v1alpha1.Condition{Type: "Failed", Status: "Maybe", Reason: "x", LastTransitionTime: now, LastUpdateTime: now})
	wantInvalid(t, env.Client.Status().Update(ctx, bad), "status.conditions[1].status", `supported values: "True", "False", "Unknown"`)

	got.Status.Phase = v1alpha1.RestoreComplete
	got.Spec.AutoRemoveFailed = true
	if err := env.Client.Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, keyOf(ns, o.GetName()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.RestoreMetadComplete || !got.Spec.AutoRemoveFailed {
		t.Errorf("an update of the resource changed the status (or not the spec): phase %s autoRemoveFailed %v", got.Status.Phase, got.Spec.AutoRemoveFailed)
	}
}
