package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RestoreProgressing is the condition that says what a running restore
// does or waits for.
const RestoreProgressing = "Progressing"

// Reasons of a NebulaRestore's conditions. A failure of br's restore
// engine maps to exactly one of them, by the kind of the failure.
const (
	RestoreReasonSpecInvalid        = "SpecInvalid"
	RestoreReasonClusterNotFound    = "ClusterNotFound"
	RestoreReasonBackupNotFound     = "BackupNotFound"
	RestoreReasonBackupDamaged      = "BackupDamaged"
	RestoreReasonStorageUnavailable = "StorageUnavailable" // transient: waited out
	RestoreReasonStorageRefused     = "StorageRefused"
	RestoreReasonTargetBusy         = "TargetBusy"      // transient
	RestoreReasonWaitingForAgent    = "WaitingForAgent" // transient
	RestoreReasonPlaybackFailed     = "PlaybackFailed"
	RestoreReasonTopology           = "TopologyMismatch"
	RestoreReasonTargetFailed       = "TargetFailed"
	RestoreReasonFailed             = "RestoreFailed" // a failure of no known kind
	RestoreReasonClusterDeleted     = "ClusterDeleted"
	RestoreReasonTimeout            = "Timeout"

	RestoreReasonValidated        = "Validated"
	RestoreReasonClusterCreated   = "ClusterCreated"
	RestoreReasonMetadRestored    = "MetadRestored"
	RestoreReasonStoragedRestored = "StoragedRestored"
	RestoreReasonRestored         = "Restored"
)

// Finished says whether the restore has ended (Complete, Failed, Invalid).
func (s *NebulaRestoreStatus) Finished() bool {
	switch s.Phase {
	case RestoreComplete, RestoreFailed, RestoreInvalid:
		return true
	}
	return false
}

// Start records that the checks passed and the restore runs.
func (s *NebulaRestoreStatus) Start(msg string, generation int64, now metav1.Time) {
	s.Phase = RestoreRunning
	s.TimeStarted = &now
	s.setCondition(RestoreProgressing, metav1.ConditionTrue, RestoreReasonValidated, msg, generation)
}

// SetInvalid ends a restore that cannot run.
func (s *NebulaRestoreStatus) SetInvalid(reason, msg string, generation int64, now metav1.Time) {
	s.Phase = RestoreInvalid
	s.TimeCompleted = &now
	s.setCondition(string(RestoreInvalid), metav1.ConditionTrue, reason, msg, generation)
}

// SetFailed ends a restore that failed.
func (s *NebulaRestoreStatus) SetFailed(reason, msg string, generation int64, now metav1.Time) {
	s.Phase = RestoreFailed
	s.TimeCompleted = &now
	s.setCondition(string(RestoreFailed), metav1.ConditionTrue, reason, msg, generation)
	s.setCondition(RestoreProgressing, metav1.ConditionFalse, reason, "the restore failed", generation)
}

// Advance moves the restore to phase (a stage done, or Complete). Each
// stage done is also recorded in metaDownload and storageDownload: metad's
// data is in place at MetadComplete, every storaged's at StoragedComplete.
func (s *NebulaRestoreStatus) Advance(phase RestorePhase, reason, msg string, generation int64, now metav1.Time) {
	s.Phase = phase
	switch phase {
	case RestoreMetadComplete:
		s.MetaDownload = true
	case RestoreStoragedComplete, RestoreComplete:
		s.MetaDownload, s.StorageDownload = true, true
	}
	s.setCondition(string(phase), metav1.ConditionTrue, reason, msg, generation)
	progressing := metav1.ConditionTrue
	if phase == RestoreComplete {
		s.TimeCompleted = &now
		progressing = metav1.ConditionFalse
	}
	s.setCondition(RestoreProgressing, progressing, reason, msg, generation)
}

// SetProgress records what the stage does or waits for; it reports
// whether anything changed (a status update is due).
func (s *NebulaRestoreStatus) SetProgress(reason, msg string, generation int64) bool {
	if c := FindCondition(s.Conditions, RestoreProgressing); c != nil && c.Reason == reason && c.Message == msg {
		return false
	}
	s.setCondition(RestoreProgressing, metav1.ConditionTrue, reason, msg, generation)
	return true
}

// WaitingFor is what the restore last did or waited for.
func (s *NebulaRestoreStatus) WaitingFor() string {
	if c := FindCondition(s.Conditions, RestoreProgressing); c != nil {
		return c.Message
	}
	return "no progress recorded"
}

func (s *NebulaRestoreStatus) setCondition(typ string, status metav1.ConditionStatus, reason, msg string, generation int64) {
	SetCondition(&s.Conditions, Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: generation}, metav1.Now())
}

// Condition returns the condition of type typ, or nil.
func (s *NebulaRestoreStatus) Condition(typ string) *Condition {
	return FindCondition(s.Conditions, typ)
}

// IsConditionTrue says whether the condition of type typ is True.
func (s *NebulaRestoreStatus) IsConditionTrue(typ string) bool {
	return IsConditionTrue(s.Conditions, typ)
}
