package v1alpha1

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wantCondition checks one condition of conds.
func wantCondition(t *testing.T, conds []metav1.Condition, typ string, status metav1.ConditionStatus, reason, msg string, generation int64) {
	t.Helper()
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		t.Fatalf("no condition %s in %+v", typ, conds)
	}
	if c.Status != status || c.Reason != reason || c.Message != msg || c.ObservedGeneration != generation {
		t.Errorf("condition %s = %s/%s/%q/gen %d, want %s/%s/%q/gen %d", typ, c.Status, c.Reason, c.Message, c.ObservedGeneration,
			status, reason, msg, generation)
	}
}

func TestBackupStatusTransitions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))

	var s NebulaBackupStatus
	s.SetPending(BackupTypeIncr, BackupReasonWaiting, "waits", 1)
	if s.Phase != BackupPending || s.Type != BackupTypeIncr || s.Finished() {
		t.Fatalf("pending: %+v", s)
	}
	wantCond(t, s.Conditions, string(BackupPending), metav1.ConditionTrue, BackupReasonWaiting, "waits", 1)

	s.SetRunning(BackupTypeIncr, "backup-incr-x", BackupReasonJobCreated, "backup Job backup-incr-x created", 2, t0)
	if s.Phase != BackupRunning || s.JobName != "backup-incr-x" || s.TimeStarted == nil || !s.TimeStarted.Equal(&t0) || s.Finished() {
		t.Fatalf("running: %+v", s)
	}
	if FindCondition(s.Conditions, string(BackupPending)) != nil {
		t.Errorf("Pending condition left: %+v", s.Conditions)
	}
	wantCond(t, s.Conditions, string(BackupRunning), metav1.ConditionTrue, BackupReasonJobCreated, "backup Job backup-incr-x created", 2)

	done := s.DeepCopy()
	done.SetComplete("BACKUP_2024_01_02_03_05_05", BackupReasonJobComplete, "in storage", 2, t1)
	if done.Phase != BackupComplete || done.BackupName != "BACKUP_2024_01_02_03_05_05" || done.TimeCompleted == nil ||
		!done.TimeCompleted.Equal(&t1) || !done.TimeStarted.Equal(&t0) || !done.Finished() {
		t.Fatalf("complete: %+v", done)
	}
	wantCond(t, done.Conditions, string(BackupRunning), metav1.ConditionFalse, BackupReasonJobComplete, "backup Job finished", 2)
	wantCond(t, done.Conditions, string(BackupComplete), metav1.ConditionTrue, BackupReasonJobComplete, "in storage", 2)

	failed := s.DeepCopy()
	failed.SetFailed(BackupReasonJobFailed, "backup Job failed: boom", 3, t1)
	if failed.Phase != BackupFailed || failed.TimeCompleted == nil || !failed.TimeCompleted.Equal(&t1) || failed.BackupName != "" || !failed.Finished() {
		t.Fatalf("failed: %+v", failed)
	}
	wantCond(t, failed.Conditions, string(BackupRunning), metav1.ConditionFalse, BackupReasonJobFailed, "backup Job finished", 3)
	wantCond(t, failed.Conditions, string(BackupFailed), metav1.ConditionTrue, BackupReasonJobFailed, "backup Job failed: boom", 3)

	var inv NebulaBackupStatus
	inv.SetInvalid(BackupTypeFull, StorageReasonSecretNotFound, "Secret ns/s not found", 4, t0)
	if inv.Phase != BackupInvalid || inv.Type != BackupTypeFull || inv.TimeCompleted == nil || !inv.TimeCompleted.Equal(&t0) || !inv.Finished() {
		t.Fatalf("invalid: %+v", inv)
	}
	if len(inv.Conditions) != 1 {
		t.Errorf("invalid: conditions %+v", inv.Conditions)
	}
	wantCond(t, inv.Conditions, string(BackupInvalid), metav1.ConditionTrue, StorageReasonSecretNotFound, "Secret ns/s not found", 4)

	// The times recorded are copies: the caller's value may change.
	t0.Time = t0.Add(time.Hour)
	if inv.TimeCompleted.Equal(&t0) {
		t.Error("SetInvalid kept a reference to the caller's time")
	}
}

func TestCronBackupStatusTransitions(t *testing.T) {
	var s NebulaCronBackupStatus
	if s.ScheduledCondition() != nil {
		t.Fatal("condition before any transition")
	}
	s.SetActive("@daily", 1)
	wantCondition(t, s.Conditions, CronBackupScheduled, metav1.ConditionTrue, CronBackupReasonActive, "backups scheduled by @daily", 1)
	s.SetSkipped("backup for X skipped", 1)
	wantCondition(t, s.Conditions, CronBackupScheduled, metav1.ConditionTrue, CronBackupReasonSkipped, "backup for X skipped", 1)
	s.SetPaused(2)
	wantCondition(t, s.Conditions, CronBackupScheduled, metav1.ConditionFalse, CronBackupReasonPaused, "scheduling is paused", 2)
	s.SetInvalid(CronBackupReasonInvalidSchedule, "cannot parse", 3)
	wantCondition(t, s.Conditions, CronBackupScheduled, metav1.ConditionFalse, CronBackupReasonInvalidSchedule, "cannot parse", 3)
	if c := s.ScheduledCondition(); c == nil || c.Reason != CronBackupReasonInvalidSchedule || len(s.Conditions) != 1 {
		t.Fatalf("ScheduledCondition: %+v", s.Conditions)
	}

	t0 := metav1.NewTime(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	s.RecordBackup("cron-1", t0)
	if s.LastBackup != "cron-1" || s.LastScheduleTime == nil || !s.LastScheduleTime.Equal(&t0) {
		t.Errorf("RecordBackup: %+v", s)
	}
	s.RecordSuccess(t1)
	s.RecordSuccess(t0) // older: ignored
	if s.LastSuccessfulTime == nil || !s.LastSuccessfulTime.Equal(&t1) {
		t.Errorf("RecordSuccess: %v", s.LastSuccessfulTime)
	}
	s.RecordCleanup(t1)
	if s.BackupCleanTime == nil || !s.BackupCleanTime.Equal(&t1) {
		t.Errorf("RecordCleanup: %v", s.BackupCleanTime)
	}
}

func TestClusterStatusTransitions(t *testing.T) {
	var s NebulaClusterStatus
	for role, cs := range map[string]*ComponentStatus{ComponentMetad: &s.Metad, ComponentStoraged: &s.Storaged.ComponentStatus, ComponentGraphd: &s.Graphd} {
		if s.Component(role) != cs {
			t.Errorf("Component(%s) is not its field", role)
		}
	}
	if s.Component("other") != nil || ComponentReadyCondition("other") != "" {
		t.Error("unknown role has a status")
	}

	s.SetComponentReady(ComponentMetad, 3, 3, 5)
	s.SetComponentNotReady(ComponentStoraged, 1, 3, 5)
	s.SetComponentWaiting(ComponentGraphd, 5)
	s.SetReady(false, 5)
	if s.Metad.Phase != ClusterRunning || s.Storaged.Phase != ClusterCreating || s.Graphd.Phase != ClusterPending || s.Phase != ClusterCreating {
		t.Fatalf("phases: %+v", s)
	}
	wantClusterCondition(t, &s, ClusterMetadReady, metav1.ConditionTrue, ClusterReasonReady, "3/3 metad pods ready", 5)
	wantClusterCondition(t, &s, ClusterStoragedReady, metav1.ConditionFalse, ClusterReasonNotReady, "1/3 storaged pods ready", 5)
	wantClusterCondition(t, &s, ClusterGraphdReady, metav1.ConditionFalse, ClusterReasonWaitingForPrevious, "graphd waits for the previous component to be ready", 5)
	wantClusterCondition(t, &s, ClusterReady, metav1.ConditionFalse, ClusterReasonComponentsNotReady, "not every component is ready", 5)

	s.SetComponentHeld(ComponentStoraged, RestoreStageMetad, 6)
	if s.Storaged.Phase != ClusterPending {
		t.Errorf("held: %+v", s.Storaged)
	}
	wantClusterCondition(t, &s, ClusterStoragedReady, metav1.ConditionFalse, ClusterReasonRestoreInProgress,
		"storaged waits for the restore (apps.nebula-graph.io/restore-stage=metad)", 6)

	s.SetReady(true, 7)
	if s.Phase != ClusterRunning {
		t.Errorf("ready: phase %s", s.Phase)
	}
	wantClusterCondition(t, &s, ClusterReady, metav1.ConditionTrue, ClusterReasonAllReady, "metad, storaged and graphd are ready", 7)

	n := len(s.Conditions)
	s.SetComponentReady("other", 1, 1, 8)
	if len(s.Conditions) != n {
		t.Errorf("unknown role added a condition: %+v", s.Conditions)
	}
}

// wantClusterCondition checks one condition of a NebulaClusterStatus.
func wantClusterCondition(t *testing.T, s *NebulaClusterStatus, typ string, status metav1.ConditionStatus, reason, msg string, generation int64) {
	t.Helper()
	c := s.Condition(typ)
	if c == nil {
		t.Fatalf("no condition %s in %+v", typ, s.Conditions)
	}
	if c.Status != status || c.Reason != reason || c.Message != msg || c.ObservedGeneration != generation {
		t.Errorf("condition %s = %s/%s/%q/gen %d, want %s/%s/%q/gen %d", typ, c.Status, c.Reason, c.Message, c.ObservedGeneration,
			status, reason, msg, generation)
	}
	if c.LastTransitionTime.IsZero() || c.LastUpdateTime.IsZero() {
		t.Errorf("condition %s: times not set: %+v", typ, c)
	}
}

// TestClusterConditionTimes checks lastTransitionTime and lastUpdateTime:
// the first moves when the status changes, the second on any change, and
// neither when nothing changes.
func TestClusterConditionTimes(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	t1, t2, t3 := metav1.NewTime(t0.Add(time.Minute)), metav1.NewTime(t0.Add(2*time.Minute)), metav1.NewTime(t0.Add(3*time.Minute))
	var s NebulaClusterStatus
	c := NebulaClusterCondition{Type: ClusterReady, Status: metav1.ConditionFalse, Reason: "A", Message: "a"}
	if !s.SetCondition(c, t0) {
		t.Fatal("new condition not reported as a change")
	}
	if s.SetCondition(c, t1) {
		t.Error("unchanged condition reported as a change")
	}
	if got := s.Condition(ClusterReady); !got.LastUpdateTime.Equal(&t0) || !got.LastTransitionTime.Equal(&t0) {
		t.Errorf("unchanged: %+v", got)
	}
	c.Message = "b"
	s.SetCondition(c, t2)
	if got := s.Condition(ClusterReady); !got.LastUpdateTime.Equal(&t2) || !got.LastTransitionTime.Equal(&t0) || got.Message != "b" {
		t.Errorf("message changed: %+v", got)
	}
	c.Status = metav1.ConditionTrue
	s.SetCondition(c, t3)
	if got := s.Condition(ClusterReady); !got.LastUpdateTime.Equal(&t3) || !got.LastTransitionTime.Equal(&t3) || !s.IsConditionTrue(ClusterReady) {
		t.Errorf("status changed: %+v", got)
	}
	s.RemoveCondition(ClusterReady)
	if s.Condition(ClusterReady) != nil || s.IsConditionTrue(ClusterReady) {
		t.Errorf("removed: %+v", s.Conditions)
	}
}

// TestFieldsNotActedOnCondition checks the condition's life: absent with
// nothing to report, True naming the fields, unchanged (no new event) for
// the same fields at a new generation, False once they are gone.
func TestFieldsNotActedOnCondition(t *testing.T) {
	var s NebulaClusterStatus
	if s.SetFieldsNotActedOn(nil, 1) || s.Condition(ClusterFeaturesNotActedOn) != nil {
		t.Fatalf("nothing to report added %+v", s.Conditions)
	}
	if !s.SetFieldsNotActedOn([]string{"spec.logRotate", "spec.exporter"}, 2) {
		t.Fatal("fields not reported as a change")
	}
	wantClusterCondition(t, &s, ClusterFeaturesNotActedOn, metav1.ConditionTrue, ClusterReasonFieldsNotActedOn,
		"set but not acted on by this operator (kept in the object): spec.exporter, spec.logRotate", 2)
	if s.SetFieldsNotActedOn([]string{"spec.exporter", "spec.logRotate"}, 3) {
		t.Error("same fields at a new generation reported as a change")
	}
	if !s.SetFieldsNotActedOn([]string{"spec.exporter"}, 4) {
		t.Error("fewer fields not reported as a change")
	}
	if !s.SetFieldsNotActedOn(nil, 5) {
		t.Error("no fields not reported as a change")
	}
	wantClusterCondition(t, &s, ClusterFeaturesNotActedOn, metav1.ConditionFalse, ClusterReasonAllFieldsActedOn, "every field set is acted on", 5)
}

func TestRestoreDownloadFlags(t *testing.T) {
	now := metav1.Now()
	var s NebulaRestoreStatus
	s.Advance(RestoreMetadComplete, RestoreReasonMetadRestored, "m", 1, now)
	if !s.MetaDownload || s.StorageDownload {
		t.Errorf("MetadComplete: metaDownload %v storageDownload %v", s.MetaDownload, s.StorageDownload)
	}
	s.Advance(RestoreStoragedComplete, RestoreReasonStoragedRestored, "s", 1, now)
	if !s.MetaDownload || !s.StorageDownload {
		t.Errorf("StoragedComplete: metaDownload %v storageDownload %v", s.MetaDownload, s.StorageDownload)
	}
}

// wantCond checks one of our conditions in conds.
func wantCond(t *testing.T, conds []Condition, typ string, status metav1.ConditionStatus, reason, msg string, generation int64) {
	t.Helper()
	c := FindCondition(conds, typ)
	if c == nil {
		t.Fatalf("no condition %s in %+v", typ, conds)
	}
	if c.Status != status || c.Reason != reason || c.Message != msg || c.ObservedGeneration != generation {
		t.Errorf("condition %s = %s/%s/%q/gen %d, want %s/%s/%q/gen %d", typ, c.Status, c.Reason, c.Message, c.ObservedGeneration,
			status, reason, msg, generation)
	}
	if c.LastTransitionTime.IsZero() || c.LastUpdateTime.IsZero() {
		t.Errorf("condition %s: times not set: %+v", typ, c)
	}
}
