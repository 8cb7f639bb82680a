// Package v1alpha1 is the apps.nebula-graph.io/v1alpha1 API: NebulaCluster,
// NebulaBackup, NebulaRestore and NebulaCronBackup.
//
// The shapes follow NebulaGraph Operator's (field names, short names, print
// columns), so manifests written for it apply unchanged where they use the
// fields described here. Validation, defaults and immutability live in the
// generated CRDs (config/crd/bases, from the kubebuilder markers in this
// package; regenerate with `make generate`), so the API server enforces them
// for every client, not only for the operator.
//
// +kubebuilder:object:generate=true
// +groupName=apps.nebula-graph.io
package v1alpha1
