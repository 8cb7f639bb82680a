package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NebulaCronBackup creates a NebulaBackup from backupTemplate on a cron
// schedule (never while the previous one still runs) and deletes old ones
// by maxReservedTime and maxBackups. Its backups carry the label
// apps.nebula-graph.io/cron-backup=<name>.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ncb,categories=nebula
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`,description="The cron schedule of the backups"
// +kubebuilder:printcolumn:name="Pause",type=boolean,JSONPath=`.spec.pause`,priority=1,description="Whether scheduling is paused"
// +kubebuilder:printcolumn:name="LastBackup",type=string,JSONPath=`.status.lastBackup`,description="The last NebulaBackup created"
// +kubebuilder:printcolumn:name="LastScheduleTime",type=date,JSONPath=`.status.lastScheduleTime`,description="The last time a backup was scheduled"
// +kubebuilder:printcolumn:name="LastSuccessfulTime",type=date,JSONPath=`.status.lastSuccessfulTime`,description="The last time a backup completed"
// +kubebuilder:printcolumn:name="BackupCleanTime",type=date,JSONPath=`.status.backupCleanTime`,priority=1,description="The last time expired backups were deleted"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NebulaCronBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   NebulaCronBackupSpec   `json:"spec"`
	Status NebulaCronBackupStatus `json:"status,omitempty"`
}

// NebulaCronBackupList is a list of NebulaCronBackups.
//
// +kubebuilder:object:root=true
type NebulaCronBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NebulaCronBackup `json:"items"`
}

// NebulaCronBackupSpec is a backup schedule.
type NebulaCronBackupSpec struct {
	// Schedule in cron format: five fields (minute hour day-of-month
	// month day-of-week, such as "0 2 * * *"), optionally after CRON_TZ=ZONE,
	// or a descriptor: @yearly, @monthly, @weekly, @daily, @hourly,
	// @every DURATION.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|@every ([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+|((CRON_TZ|TZ)=[^ ]+ +)?[0-9A-Za-z*?,/-]+( +[0-9A-Za-z*?,/-]+){4})$')",message="schedule must be a cron expression of five fields (minute hour day-of-month month day-of-week), such as \"0 2 * * *\", or @hourly, @daily, @weekly, @monthly, @yearly or @every DURATION"
	Schedule string `json:"schedule"`

	// Pause stops scheduling new backups; running ones finish.
	// +kubebuilder:default=false
	// +optional
	Pause bool `json:"pause,omitempty"`

	// MaxReservedTime deletes backups older than this (a Go duration such
	// as 720h or 60m).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="maxReservedTime must be a duration such as 720h, 60m or 1h30m"
	// +optional
	MaxReservedTime *string `json:"maxReservedTime,omitempty"`

	// MaxBackups keeps at most this many backups, deleting the oldest.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxBackups *int32 `json:"maxBackups,omitempty"`

	// BackupTemplate is the spec of every NebulaBackup created.
	// +required
	BackupTemplate NebulaBackupSpec `json:"backupTemplate"`
}

// NebulaCronBackupStatus is the schedule's record.
type NebulaCronBackupStatus struct {
	// LastBackup is the name of the last NebulaBackup created.
	// +optional
	LastBackup string `json:"lastBackup,omitempty"`

	// LastScheduleTime is when the last backup was scheduled.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// LastSuccessfulTime is when the last successful backup completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// BackupCleanTime is when expired backups were last deleted.
	// +optional
	BackupCleanTime *metav1.Time `json:"backupCleanTime,omitempty"`

	// Conditions of the schedule.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
