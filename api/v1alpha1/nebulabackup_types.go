package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NebulaBackup backs a NebulaCluster up to S3-compatible storage: full, or
// incremental on top of config.baseBackupName. The operator runs it as a Job
// (backup-<full|incr>-<name>) and records the backup's name in status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=nb,categories=nebula
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.status.type`,description="full or incr"
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.status.backupName`,description="The name of the backup in storage"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`,description="The current status of the backup"
// +kubebuilder:printcolumn:name="Started",type=date,JSONPath=`.status.timeStarted`,description="The time at which the backup was started"
// +kubebuilder:printcolumn:name="Completed",type=date,JSONPath=`.status.timeCompleted`,description="The time at which the backup was completed"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NebulaBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	// +kubebuilder:validation:XValidation:rule="self.config == oldSelf.config",message="spec.config is immutable: create a new NebulaBackup instead"
	Spec   NebulaBackupSpec   `json:"spec"`
	Status NebulaBackupStatus `json:"status,omitempty"`
}

// NebulaBackupList is a list of NebulaBackups.
//
// +kubebuilder:object:root=true
type NebulaBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NebulaBackup `json:"items"`
}

// NebulaBackupSpec is a backup to take. NebulaCronBackup's backupTemplate
// has the same shape.
type NebulaBackupSpec struct {
	// Image of the br tool without its tag (the tag is version); empty:
	// the operator's default br image.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Image string `json:"image,omitempty"`

	// Version is the image tag.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Version string `json:"version,omitempty"`

	// ImagePullPolicy of the backup Job's container.
	// +kubebuilder:default=Always
	// +kubebuilder:validation:Enum=Always;Never;IfNotPresent
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// ImagePullSecrets of the backup Job's pod.
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Resources of the backup Job's container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Env of the backup Job's container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// NodeSelector of the backup Job's pod.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the backup Job's pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the backup Job's pod.
	// A core/v1 Affinity, left unchecked here to keep the CRD small:
	// the API server checks it in the pod template the operator writes.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// InitContainers run in the backup Job's pod before br (to fetch
	// certificates into a shared volume, for instance).
	// +optional
	InitContainers []Container `json:"initContainers,omitempty"`

	// SidecarContainers are added to the backup Job's pod. A sidecar that
	// does not exit keeps the Job from finishing: give such containers
	// restartPolicy Always in initContainers instead (native sidecars).
	// +optional
	SidecarContainers []Container `json:"sidecarContainers,omitempty"`

	// Volumes added to the backup Job's pod.
	// +optional
	Volumes []Volume `json:"volumes,omitempty"`

	// VolumeMounts added to the br container.
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// CleanBackupData deletes the backup from storage when this resource
	// is deleted (through a finalizer).
	// +kubebuilder:default=false
	// +optional
	CleanBackupData bool `json:"cleanBackupData,omitempty"`

	// AutoRemoveFinished deletes the backup Job once it has completed or
	// failed.
	// +kubebuilder:default=false
	// +optional
	AutoRemoveFinished bool `json:"autoRemoveFinished,omitempty"`

	// Config says what to back up and where to.
	// +required
	Config *BackupConfig `json:"config"`
}

// BackupConfig names the cluster to back up and the storage to back it up
// to.
//
// +kubebuilder:validation:XValidation:rule="has(self.s3) != has(self.gs)",message="set exactly one of s3 and gs: the bucket the backups are stored in"
type BackupConfig struct {
	// ClusterName is the NebulaCluster to back up.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="clusterName must be a NebulaCluster name: lowercase letters, digits and '-', starting and ending with a letter or digit"
	ClusterName string `json:"clusterName"`

	// ClusterNamespace is the cluster's namespace (default: the backup's).
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ClusterNamespace *string `json:"clusterNamespace,omitempty"`

	// BaseBackupName, when set, makes the backup incremental on top of
	// this backup (which must be of the same cluster in the same storage).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^BACKUP_[0-9]{4}(_[0-9]{2}){5}$')",message="baseBackupName must name a backup, like BACKUP_2023_02_12_10_04_16"
	// +optional
	BaseBackupName *string `json:"baseBackupName,omitempty"`

	// Concurrency is the number of parallel uploads per host.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	// +optional
	Concurrency int32 `json:"concurrency,omitempty"`

	// S3 is the bucket to back up to (or gs).
	// +optional
	S3 *S3StorageProvider `json:"s3,omitempty"`

	// GS is the Google Cloud Storage bucket to back up to (or s3).
	// +optional
	GS *GSStorageProvider `json:"gs,omitempty"`
}

// BackupType is full or incr.
// +kubebuilder:validation:Enum=full;incr
type BackupType string

// Backup types.
const (
	BackupTypeFull BackupType = "full"
	BackupTypeIncr BackupType = "incr"
)

// BackupPhase is a backup's coarse state.
type BackupPhase string

// Backup phases; the condition types (Condition.Type) have the same
// names.
const (
	BackupPending  BackupPhase = "Pending"  // accepted, Job not created yet
	BackupRunning  BackupPhase = "Running"  // the Job runs
	BackupComplete BackupPhase = "Complete" // the backup is in storage
	BackupFailed   BackupPhase = "Failed"   // the Job failed; see the conditions
	BackupInvalid  BackupPhase = "Invalid"  // the resource cannot run (missing cluster, secret, bucket...)
)

// NebulaBackupStatus is the observed backup.
type NebulaBackupStatus struct {
	// Type is full, or incr when the spec has a base backup.
	// +optional
	Type BackupType `json:"type,omitempty"`

	// BackupName is the backup's name in storage
	// (BACKUP_YYYY_MM_DD_HH_MM_SS), known once the Job has finished.
	// +optional
	BackupName string `json:"backupName,omitempty"`

	// JobName is the backup Job.
	// +optional
	JobName string `json:"jobName,omitempty"`

	// TimeStarted is when the backup Job was created.
	// +optional
	TimeStarted *metav1.Time `json:"timeStarted,omitempty"`

	// TimeCompleted is when the backup completed (or failed).
	// +optional
	TimeCompleted *metav1.Time `json:"timeCompleted,omitempty"`

	// Phase: Pending, Running, Complete, Failed or Invalid.
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`

	// Conditions: Running, Complete, Failed, Invalid.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
}
