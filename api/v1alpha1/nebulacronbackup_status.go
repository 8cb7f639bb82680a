package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CronBackupScheduled is the NebulaCronBackup's condition type: True while
// the schedule is valid and active, False when paused or invalid.
const CronBackupScheduled = "Scheduled"

// Condition and event reasons of a NebulaCronBackup.
const (
	// Reasons of the Scheduled condition.
	CronBackupReasonActive          = "Active"
	CronBackupReasonPaused          = "Paused"
	CronBackupReasonInvalidSchedule = "InvalidSchedule"
	CronBackupReasonInvalidRetain   = "InvalidMaxReservedTime"
	CronBackupReasonSkipped         = "Skipped"
	// Event reasons.
	CronBackupReasonBackupCreated  = "BackupCreated"
	CronBackupReasonBackupsRemoved = "BackupsRemoved"
)

func (s *NebulaCronBackupStatus) setScheduled(status metav1.ConditionStatus, reason, msg string, generation int64) {
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: CronBackupScheduled, Status: status,
		Reason: reason, Message: msg, ObservedGeneration: generation})
}

// ScheduledCondition is the Scheduled condition, nil if not set yet.
func (s *NebulaCronBackupStatus) ScheduledCondition() *metav1.Condition {
	return meta.FindStatusCondition(s.Conditions, CronBackupScheduled)
}

// SetActive records that backups are scheduled by schedule: Scheduled
// True (Active).
func (s *NebulaCronBackupStatus) SetActive(schedule string, generation int64) {
	s.setScheduled(metav1.ConditionTrue, CronBackupReasonActive, "backups scheduled by "+schedule, generation)
}

// SetPaused records that scheduling is paused: Scheduled False (Paused).
func (s *NebulaCronBackupStatus) SetPaused(generation int64) {
	s.setScheduled(metav1.ConditionFalse, CronBackupReasonPaused, "scheduling is paused", generation)
}

// SetSkipped records that a due backup was skipped (msg says why): the
// schedule stays active, Scheduled True (Skipped).
func (s *NebulaCronBackupStatus) SetSkipped(msg string, generation int64) {
	s.setScheduled(metav1.ConditionTrue, CronBackupReasonSkipped, msg, generation)
}

// SetInvalid records that the spec cannot be scheduled: Scheduled False
// with reason (CronBackupReasonInvalidSchedule or
// CronBackupReasonInvalidRetain).
func (s *NebulaCronBackupStatus) SetInvalid(reason, msg string, generation int64) {
	s.setScheduled(metav1.ConditionFalse, reason, msg, generation)
}

// RecordBackup records the backup created for schedule time scheduled:
// lastBackup and lastScheduleTime.
func (s *NebulaCronBackupStatus) RecordBackup(name string, scheduled metav1.Time) {
	s.LastScheduleTime = &scheduled
	s.LastBackup = name
}

// RecordSuccess records a backup that completed at completed:
// lastSuccessfulTime moves forward to it, never back.
func (s *NebulaCronBackupStatus) RecordSuccess(completed metav1.Time) {
	if s.LastSuccessfulTime == nil || completed.After(s.LastSuccessfulTime.Time) {
		s.LastSuccessfulTime = &completed
	}
}

// RecordCleanup records that expired backups were deleted at now:
// backupCleanTime.
func (s *NebulaCronBackupStatus) RecordCleanup(now metav1.Time) {
	s.BackupCleanTime = &now
}
