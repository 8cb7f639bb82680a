package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition (and event) reasons of a NebulaBackup. An Invalid backup's
// reason is BackupReasonClusterNotFound or one of the StorageReason
// reasons.
const (
	BackupReasonClusterNotFound = "ClusterNotFound"
	BackupReasonWaiting         = "WaitingForOtherBackup"
	BackupReasonJobCreated      = "JobCreated"
	BackupReasonJobComplete     = "JobComplete"
	BackupReasonJobFailed       = "JobFailed"
)

// backupJobFinished is the Running condition's message once the Job has
// completed or failed.
const backupJobFinished = "backup Job finished"

func (s *NebulaBackupStatus) setCondition(typ BackupPhase, status metav1.ConditionStatus, reason, msg string, generation int64) {
	SetCondition(&s.Conditions, Condition{Type: string(typ), Status: status,
		Reason: reason, Message: msg, ObservedGeneration: generation}, metav1.Now())
}

// Condition returns the condition of type typ (a BackupPhase), or nil.
func (s *NebulaBackupStatus) Condition(typ string) *Condition {
	return FindCondition(s.Conditions, typ)
}

// IsConditionTrue says whether the condition of type typ is True.
func (s *NebulaBackupStatus) IsConditionTrue(typ string) bool {
	return IsConditionTrue(s.Conditions, typ)
}

// Finished says whether the backup is over: Complete, Failed or Invalid.
func (s *NebulaBackupStatus) Finished() bool {
	switch s.Phase {
	case BackupComplete, BackupFailed, BackupInvalid:
		return true
	}
	return false
}

// SetPending records that the backup waits before its Job is created:
// phase Pending, condition Pending True.
func (s *NebulaBackupStatus) SetPending(typ BackupType, reason, msg string, generation int64) {
	s.Phase = BackupPending
	s.Type = typ
	s.setCondition(BackupPending, metav1.ConditionTrue, reason, msg, generation)
}

// SetRunning records that the backup Job jobName was created at now: phase
// Running, timeStarted now, condition Pending removed and Running True.
func (s *NebulaBackupStatus) SetRunning(typ BackupType, jobName, reason, msg string, generation int64, now metav1.Time) {
	s.Type = typ
	s.JobName = jobName
	s.TimeStarted = &now
	s.Phase = BackupRunning
	RemoveCondition(&s.Conditions, string(BackupPending))
	s.setCondition(BackupRunning, metav1.ConditionTrue, reason, msg, generation)
}

// SetComplete records that the Job finished with backup backupName ("" if
// its name is unknown) in storage: phase Complete, timeCompleted now,
// condition Running False and Complete True, both with reason.
func (s *NebulaBackupStatus) SetComplete(backupName, reason, msg string, generation int64, now metav1.Time) {
	s.BackupName = backupName
	s.finish(BackupComplete, reason, msg, generation, now)
}

// SetFailed records that the backup failed: phase Failed, timeCompleted
// now, condition Running False and Failed True, both with reason.
func (s *NebulaBackupStatus) SetFailed(reason, msg string, generation int64, now metav1.Time) {
	s.finish(BackupFailed, reason, msg, generation, now)
}

func (s *NebulaBackupStatus) finish(phase BackupPhase, reason, msg string, generation int64, now metav1.Time) {
	s.Phase = phase
	s.TimeCompleted = &now
	s.setCondition(BackupRunning, metav1.ConditionFalse, reason, backupJobFinished, generation)
	s.setCondition(phase, metav1.ConditionTrue, reason, msg, generation)
}

// SetInvalid records that the backup cannot run: phase Invalid,
// timeCompleted now, condition Invalid True.
func (s *NebulaBackupStatus) SetInvalid(typ BackupType, reason, msg string, generation int64, now metav1.Time) {
	s.Type = typ
	s.Phase = BackupInvalid
	s.TimeCompleted = &now
	s.setCondition(BackupInvalid, metav1.ConditionTrue, reason, msg, generation)
}
