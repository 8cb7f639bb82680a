package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

// Container is a core/v1 Container, as written in initContainers and
// sidecarContainers. Its JSON is a Container's. The CRDs keep it unchecked
// (any object, unknown fields kept): its full schema, repeated in every
// place that takes containers, would make the NebulaCluster CRD larger than
// etcd accepts. The API server checks it where it ends up, in the pod
// template the operator writes.
//
// +kubebuilder:validation:Type=object
// +kubebuilder:pruning:PreserveUnknownFields
type Container corev1.Container

// MarshalJSON writes the Container.
func (c Container) MarshalJSON() ([]byte, error) { return json.Marshal(corev1.Container(c)) }

// UnmarshalJSON reads a Container.
func (c *Container) UnmarshalJSON(b []byte) error {
	return json.Unmarshal(b, (*corev1.Container)(c))
}

// Volume is a core/v1 Volume, as written in volumes; unchecked in the CRDs
// for the same reason as Container, checked in the pod template.
//
// +kubebuilder:validation:Type=object
// +kubebuilder:pruning:PreserveUnknownFields
type Volume corev1.Volume

// MarshalJSON writes the Volume.
func (v Volume) MarshalJSON() ([]byte, error) { return json.Marshal(corev1.Volume(v)) }

// UnmarshalJSON reads a Volume.
func (v *Volume) UnmarshalJSON(b []byte) error {
	return json.Unmarshal(b, (*corev1.Volume)(v))
}

// CoreContainers converts to core/v1 Containers (deep copies).
func CoreContainers(in []Container) []corev1.Container {
	if in == nil {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i := range in {
		(*corev1.Container)(&in[i]).DeepCopyInto(&out[i])
	}
	return out
}

// CoreVolumes converts to core/v1 Volumes (deep copies).
func CoreVolumes(in []Volume) []corev1.Volume {
	if in == nil {
		return nil
	}
	out := make([]corev1.Volume, len(in))
	for i := range in {
		(*corev1.Volume)(&in[i]).DeepCopyInto(&out[i])
	}
	return out
}
