package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// Labels the operator puts on the objects it creates; selectors use them.
const (
	// LabelCronBackup names the NebulaCronBackup that created a
	// NebulaBackup (kubectl get nb -l apps.nebula-graph.io/cron-backup=NAME).
	LabelCronBackup = Group + "/cron-backup"
	// LabelCluster names the NebulaCluster an object belongs to.
	LabelCluster = "app.kubernetes.io/cluster"
	// LabelComponent is the component of a cluster object: metad,
	// storaged or graphd.
	LabelComponent = "app.kubernetes.io/component"
	// LabelManagedBy is "nebula-operator" on everything the operator creates.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByOperator is LabelManagedBy's value.
	ManagedByOperator = "nebula-operator"
	// LabelRestore names the NebulaRestore that created a NebulaCluster.
	LabelRestore = Group + "/restore"
)

// The restore handshake between the NebulaRestore and NebulaCluster
// controllers: a cluster created by a restore carries
// AnnotationRestoreStage until the restore has filled its volumes.
const (
	// AnnotationRestoreStage holds the cluster at a restore stage. With
	// RestoreStageMetad only metad runs; with RestoreStageStoraged metad
	// and storaged run and graphd waits. While it is set, metad and
	// storaged pods start with a restore-agent init container, which the
	// restore drives and stops. The NebulaRestore controller removes the
	// annotation when the data is in place.
	AnnotationRestoreStage = Group + "/restore-stage"
	RestoreStageMetad      = "metad"
	RestoreStageStoraged   = "storaged"
)

// DefaultConcurrency is the default number of parallel transfers per host
// in a backup or restore.
const DefaultConcurrency = 5

// S3StorageProvider is an S3-compatible bucket (AWS S3, MinIO, ...) that
// holds backups.
//
// The Secret named by secretName, in the namespace of the resource, holds
// the access key and secret key under access_key and secret_key (or
// access-key and secret-key).
type S3StorageProvider struct {
	// Region of the bucket (for MinIO usually us-east-1).
	// +optional
	Region string `json:"region,omitempty"`

	// Bucket holding the backups, optionally followed by /PREFIX: backups
	// are stored under s3://BUCKET[/PREFIX]/BACKUP_YYYY_MM_DD_HH_MM_SS.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",message="bucket is a bucket name, optionally followed by /prefix, not a URL: put the service URL in endpoint"
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$')",message="bucket must start with an S3 bucket name: 3 to 63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
	Bucket string `json:"bucket"`

	// Endpoint is the URL of the S3 service, such as
	// https://s3.us-east-1.amazonaws.com or http://minio.storage:9000.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^https?://[^ /]+(/.*)?$')",message="endpoint must be an http:// or https:// URL"
	Endpoint string `json:"endpoint,omitempty"`

	// SecretName is the Secret with the credentials (keys access_key and
	// secret_key, or access-key and secret-key).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`
}

// GSStorageProvider is a Google Cloud Storage bucket that holds backups.
//
// The Secret named by secretName, in the namespace of the resource, holds
// the service account (or refresh token) JSON under the key credentials.
type GSStorageProvider struct {
	// Location of the bucket, such as us-central1.
	// +optional
	Location string `json:"location,omitempty"`

	// Bucket holding the backups, optionally followed by /PREFIX.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",message="bucket is a bucket name, optionally followed by /prefix, not a URL"
	Bucket string `json:"bucket"`

	// SecretName is the Secret with the credentials (key credentials).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`
}

// StorageClaim describes a PersistentVolumeClaim the operator creates.
type StorageClaim struct {
	// Resources of the volume: requests.storage is its size.
	// +optional
	Resources corev1.VolumeResourceRequirements `json:"resources,omitempty"`

	// StorageClassName of the claim (empty: the cluster's default class).
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}
