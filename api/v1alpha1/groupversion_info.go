package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is the API group of every kind in this package.
const Group = "apps.nebula-graph.io"

var (
	// GroupVersion is apps.nebula-graph.io/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: Group, Version: "v1alpha1"}

	// SchemeBuilder registers this package's kinds into a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource returns the group-qualified resource for the given plural name.
func Resource(resource string) schema.GroupResource {
	return GroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&NebulaCluster{}, &NebulaClusterList{},
		&NebulaBackup{}, &NebulaBackupList{},
		&NebulaRestore{}, &NebulaRestoreList{},
		&NebulaCronBackup{}, &NebulaCronBackupList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
