// Package controller holds nebula-operator's controllers, one package per
// kind under it. This file holds only the manager's permissions: the
// +kubebuilder:rbac markers below, from which `make generate`
// (hack/gen-k8s.sh) writes the ClusterRole config/rbac/role.yaml.
//
// Least privilege: only the verbs the controllers use, on only the
// resources they manage. A controller that needs more adds a marker here
// (and says why). Leader election is a namespaced Role of its own
// (config/rbac/leader_election_role.yaml), not part of this ClusterRole.
//
// The four kinds, their status and their finalizers (ownerReferences with
// blockOwnerDeletion need update on finalizers):
// +kubebuilder:rbac:groups=apps.nebula-graph.io,resources=nebulaclusters;nebulabackups;nebularestores;nebulacronbackups,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps.nebula-graph.io,resources=nebulaclusters/status;nebulabackups/status;nebularestores/status;nebulacronbackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps.nebula-graph.io,resources=nebulaclusters/finalizers;nebulabackups/finalizers;nebularestores/finalizers;nebulacronbackups/finalizers,verbs=update
//
// NebulaCluster: flag-file ConfigMaps, headless and client Services,
// StatefulSets; pods are read for readiness, PVCs deleted with
// enablePVReclaim or autoRemoveFailed:
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;delete
//
// NebulaBackup: the backup Jobs (and their pods' termination messages,
// read above); the S3 credentials are read, never written:
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
//
// Events for every transition:
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
package controller
