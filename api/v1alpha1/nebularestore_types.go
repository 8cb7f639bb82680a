package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NebulaRestore restores a backup into a new NebulaCluster, named by the
// operator (status.clusterName), with the spec of the backed-up cluster.
// The source cluster is never modified.
//
// The restore is described by spec.config or, in the older form that
// NebulaGraph Operator 1.4 documented, spec.br: the two have the same
// fields, exactly one is set, and neither changes after creation.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rt;nr,categories=nebula
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`,description="The current status of the restore"
// +kubebuilder:printcolumn:name="Restored-Cluster",type=string,JSONPath=`.status.clusterName`,description="The name of the restored NebulaCluster"
// +kubebuilder:printcolumn:name="Started",type=date,JSONPath=`.status.timeStarted`,description="The time at which the restore was started"
// +kubebuilder:printcolumn:name="Completed",type=date,JSONPath=`.status.timeCompleted`,description="The time at which the restore was completed"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NebulaRestore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	// +kubebuilder:validation:XValidation:rule="has(self.config) != has(self.br)",message="set exactly one of spec.config and spec.br (the older form of the same fields)"
	// +kubebuilder:validation:XValidation:rule="has(self.config) == has(oldSelf.config) && (!has(self.config) || self.config == oldSelf.config)",message="spec.config is immutable: create a new NebulaRestore instead"
	// +kubebuilder:validation:XValidation:rule="has(self.br) == has(oldSelf.br) && (!has(self.br) || self.br == oldSelf.br)",message="spec.br is immutable: create a new NebulaRestore instead"
	Spec   NebulaRestoreSpec   `json:"spec"`
	Status NebulaRestoreStatus `json:"status,omitempty"`
}

// NebulaRestoreList is a list of NebulaRestores.
//
// +kubebuilder:object:root=true
type NebulaRestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NebulaRestore `json:"items"`
}

// NebulaRestoreSpec is a restore to run.
type NebulaRestoreSpec struct {
	// Config names the backup to restore and the cluster it came from.
	// +optional
	Config *RestoreConfig `json:"config,omitempty"`

	// BR is the older name of config (NebulaGraph Operator 1.4's
	// documentation uses it); same fields.
	// +optional
	BR *RestoreConfig `json:"br,omitempty"`

	// Timeout bounds the whole restore (a duration, e.g. "2h"); past it
	// the restore fails with reason Timeout, naming what it waited for.
	// Unset: the operator's --restore-timeout (1h by default).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// AutoRemoveFailed deletes the half-built cluster when the restore
	// fails.
	// +kubebuilder:default=false
	// +optional
	AutoRemoveFailed bool `json:"autoRemoveFailed,omitempty"`

	// NodeSelector of the restored cluster's pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the restored cluster's pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the restored cluster's pods.
	// A core/v1 Affinity, left unchecked here to keep the CRD small:
	// the API server checks it in the pod template the operator writes.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
}

// RestoreConfig names a backup and the cluster it was taken of.
//
// +kubebuilder:validation:XValidation:rule="has(self.s3) != has(self.gs)",message="set exactly one of s3 and gs: the bucket holding the backup"
type RestoreConfig struct {
	// ClusterName is the NebulaCluster the backup was taken of: the
	// restored cluster copies its spec.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="clusterName must be a NebulaCluster name: lowercase letters, digits and '-', starting and ending with a letter or digit"
	ClusterName string `json:"clusterName"`

	// ClusterNamespace is that cluster's namespace. Unset, the cluster is
	// looked for in the restore's namespace, then in every namespace (it
	// must be the only one of that name). The restored cluster is created
	// in the restore's namespace.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ClusterNamespace *string `json:"clusterNamespace,omitempty"`

	// BackupName is the backup to restore; an incremental backup brings
	// its chain of bases with it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^BACKUP_[0-9]{4}(_[0-9]{2}){5}$')",message="backupName must name a backup, like BACKUP_2023_02_12_10_04_16"
	BackupName string `json:"backupName"`

	// Concurrency is the number of parallel downloads per host.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	// +optional
	Concurrency int32 `json:"concurrency,omitempty"`

	// S3 is the bucket holding the backup (or gs).
	// +optional
	S3 *S3StorageProvider `json:"s3,omitempty"`

	// GS is the Google Cloud Storage bucket holding the backup (or s3).
	// +optional
	GS *GSStorageProvider `json:"gs,omitempty"`
}

// EffectiveConfig returns the restore's configuration: spec.config, or
// else the older spec.br.
func (s *NebulaRestoreSpec) EffectiveConfig() *RestoreConfig {
	if s.Config != nil {
		return s.Config
	}
	return s.BR
}

// RestorePhase is a restore's coarse state.
type RestorePhase string

// Restore phases, in the order a restore goes through them. Complete,
// MetadComplete, StoragedComplete, Failed and Invalid are also condition
// types (Condition.Type).
const (
	RestorePending          RestorePhase = "Pending"          // accepted, not validated yet
	RestoreRunning          RestorePhase = "Running"          // validated; backup chain and topology checked; cluster being created
	RestoreMetadComplete    RestorePhase = "MetadComplete"    // metad restored (restoreMeta done on every metad)
	RestoreStoragedComplete RestorePhase = "StoragedComplete" // every storaged replica downloaded and played back
	RestoreComplete         RestorePhase = "Complete"         // graphd up, downloads cleaned, init containers removed
	RestoreFailed           RestorePhase = "Failed"           // see the Failed condition's reason and message
	RestoreInvalid          RestorePhase = "Invalid"          // the resource cannot run; see the Invalid condition
)

// HostAddr is a host:port of a NebulaGraph service.
type HostAddr struct {
	Host string `json:"host"`
	Port int32  `json:"port"`
}

// NebulaRestoreStatus is the observed restore.
type NebulaRestoreStatus struct {
	// ClusterName is the new, restored NebulaCluster (in the restore's
	// namespace), chosen by the operator.
	// +optional
	ClusterName string `json:"clusterName,omitempty"`

	// SourceCluster is the backed-up NebulaCluster, namespace/name, whose
	// spec the restored cluster copies.
	// +optional
	SourceCluster string `json:"sourceCluster,omitempty"`

	// Phase: Pending, Running, MetadComplete, StoragedComplete, Complete,
	// Failed or Invalid.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`

	// TimeStarted is when the restore started.
	// +optional
	TimeStarted *metav1.Time `json:"timeStarted,omitempty"`

	// TimeCompleted is when the restore completed (or failed).
	// +optional
	TimeCompleted *metav1.Time `json:"timeCompleted,omitempty"`

	// Conditions: MetadComplete, StoragedComplete, Complete, Failed,
	// Invalid.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`

	// Partitions records where the restored cluster's parts live: for
	// each part ("SPACE_ID/PART_ID"), the storaged hosts holding a replica.
	// +optional
	Partitions map[string][]HostAddr `json:"partitions,omitempty"`

	// Checkpoints records the downloaded data to remove once the restore
	// has completed: per host, path to description.
	// +optional
	Checkpoints map[string]map[string]string `json:"checkpoints,omitempty"`

	// MetaDownload says metad's data has been downloaded and restored.
	// +optional
	MetaDownload bool `json:"metaDownload"`

	// StorageDownload says every storaged host's data has been downloaded
	// and played back.
	// +optional
	StorageDownload bool `json:"storageDownload"`
}
