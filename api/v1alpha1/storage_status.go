package v1alpha1

// Condition reasons of a NebulaBackup or NebulaRestore whose S3 storage
// cannot be used (the reason of its Invalid condition).
const (
	// StorageReasonSecretNotFound: s3.secretName is empty or names no
	// readable Secret.
	StorageReasonSecretNotFound = "SecretNotFound"
	// StorageReasonSecretInvalid: the Secret lacks the key pair.
	StorageReasonSecretInvalid = "SecretMissingKeys"
	// StorageReasonBucketNotFound: the bucket does not exist.
	StorageReasonBucketNotFound = "BucketNotFound"
	// StorageReasonAccessDenied: the credentials are refused.
	StorageReasonAccessDenied = "AccessDenied"
	// StorageReasonUnreachable: the storage service does not answer.
	StorageReasonUnreachable = "StorageUnreachable"
	// StorageReasonInvalid: the storage settings are missing or unusable.
	StorageReasonInvalid = "StorageInvalid"
)
