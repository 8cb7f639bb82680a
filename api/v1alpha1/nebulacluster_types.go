package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NebulaCluster runs a NebulaGraph cluster: metad, storaged and graphd as
// StatefulSets, created in that order, each waiting for the previous to be
// ready. With enableBR, every metad and storaged pod (and graphd's) gets the
// ng-agent sidecar that backup and restore work through.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=nc,categories=nebula
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Whether every component is ready"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,priority=1,description="The phase of the cluster"
// +kubebuilder:printcolumn:name="Graphd-Desired",type=integer,JSONPath=`.spec.graphd.replicas`,description="The desired number of graphd pods"
// +kubebuilder:printcolumn:name="Graphd-Ready",type=integer,JSONPath=`.status.graphd.workload.readyReplicas`,description="The number of graphd pods ready"
// +kubebuilder:printcolumn:name="Metad-Desired",type=integer,JSONPath=`.spec.metad.replicas`,description="The desired number of metad pods"
// +kubebuilder:printcolumn:name="Metad-Ready",type=integer,JSONPath=`.status.metad.workload.readyReplicas`,description="The number of metad pods ready"
// +kubebuilder:printcolumn:name="Storaged-Desired",type=integer,JSONPath=`.spec.storaged.replicas`,description="The desired number of storaged pods"
// +kubebuilder:printcolumn:name="Storaged-Ready",type=integer,JSONPath=`.status.storaged.workload.readyReplicas`,description="The number of storaged pods ready"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NebulaCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   NebulaClusterSpec   `json:"spec"`
	Status NebulaClusterStatus `json:"status,omitempty"`
}

// NebulaClusterList is a list of NebulaClusters.
//
// +kubebuilder:object:root=true
type NebulaClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NebulaCluster `json:"items"`
}

// NebulaClusterSpec is the desired cluster.
type NebulaClusterSpec struct {
	// Graphd is the query service.
	// +required
	Graphd *GraphdSpec `json:"graphd"`

	// Metad is the metadata service.
	// +required
	Metad *MetadSpec `json:"metad"`

	// Storaged is the storage service.
	// +required
	Storaged *StoragedSpec `json:"storaged"`

	// EnableBR adds the ng-agent sidecar (gRPC on port 8888) to every pod,
	// which backup and restore need.
	// +kubebuilder:default=false
	// +optional
	EnableBR bool `json:"enableBR,omitempty"`

	// Agent configures the ng-agent sidecar added when enableBR is set.
	// +optional
	Agent *AgentSpec `json:"agent,omitempty"`

	// ImagePullPolicy of every container the operator creates.
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=Always;Never;IfNotPresent
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// ImagePullSecrets of every pod.
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// NodeSelector of every pod (components may add to it).
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Affinity of every pod whose component sets none.
	// A core/v1 Affinity, left unchecked here to keep the CRD small:
	// the API server checks it in the pod template the operator writes.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// Tolerations of every pod (components may add to them).
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// EnablePVReclaim deletes the cluster's PersistentVolumeClaims when the
	// cluster is deleted.
	// +kubebuilder:default=false
	// +optional
	EnablePVReclaim bool `json:"enablePVReclaim,omitempty"`
}

// ComponentSpec is what metad, storaged and graphd have in common.
type ComponentSpec struct {
	// Replicas is the number of pods.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Image is the container image without its tag (the tag is version),
	// such as vesoft/nebula-metad or a nebula-lite image.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image"`

	// Version is the image tag (empty: image is used as written).
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Version string `json:"version,omitempty"`

	// Resources of the component's container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Env of the component's container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// Annotations added to the component's pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels added to the component's pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// NodeSelector of the component's pods, added to the cluster's.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Affinity of the component's pods (overrides the cluster's).
	// A core/v1 Affinity, left unchecked here to keep the CRD small:
	// the API server checks it in the pod template the operator writes.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// Tolerations of the component's pods, added to the cluster's.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
}

// ServiceSpec shapes a component's Service.
type ServiceSpec struct {
	// Type of the Service (the headless Service is always created too).
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`

	// Annotations of the Service.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// ClusterIP of the Service.
	// +optional
	ClusterIP *string `json:"clusterIP,omitempty"`

	// PublishNotReadyAddresses of the Service.
	// +optional
	PublishNotReadyAddresses bool `json:"publishNotReadyAddresses,omitempty"`
}

// GraphdServiceSpec shapes graphd's client-facing Service.
type GraphdServiceSpec struct {
	ServiceSpec `json:",inline"`

	// LoadBalancerIP of a LoadBalancer Service.
	// +optional
	LoadBalancerIP *string `json:"loadBalancerIP,omitempty"`

	// ExternalTrafficPolicy of a NodePort or LoadBalancer Service.
	// +kubebuilder:validation:Enum=Cluster;Local
	// +optional
	ExternalTrafficPolicy *corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
}

// GraphdSpec is the desired graphd.
type GraphdSpec struct {
	ComponentSpec `json:",inline"`

	// Config holds graphd's flags (name without the leading --, value),
	// written into its flag file.
	// +optional
	Config map[string]string `json:"config,omitempty"`

	// Service shapes graphd's client-facing Service.
	// +optional
	Service *GraphdServiceSpec `json:"service,omitempty"`

	// LogVolumeClaim, when set, keeps logs on a PersistentVolumeClaim.
	// +optional
	LogVolumeClaim *StorageClaim `json:"logVolumeClaim,omitempty"`
}

// MetadSpec is the desired metad.
//
// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas >= 1",message="metad needs at least 1 replica"
type MetadSpec struct {
	ComponentSpec `json:",inline"`

	// Config holds metad's flags (name without the leading --, value),
	// written into its flag file.
	// +optional
	Config map[string]string `json:"config,omitempty"`

	// Service shapes metad's Service.
	// +optional
	Service *ServiceSpec `json:"service,omitempty"`

	// LogVolumeClaim, when set, keeps logs on a PersistentVolumeClaim.
	// +optional
	LogVolumeClaim *StorageClaim `json:"logVolumeClaim,omitempty"`

	// DataVolumeClaim, when set, keeps metad's data on a
	// PersistentVolumeClaim (otherwise an emptyDir).
	// +optional
	DataVolumeClaim *StorageClaim `json:"dataVolumeClaim,omitempty"`
}

// StoragedSpec is the desired storaged.
//
// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas >= 1",message="storaged needs at least 1 replica"
// +kubebuilder:validation:XValidation:rule="!(has(self.dataVolumeClaim) && has(self.dataVolumeClaims))",message="set dataVolumeClaims or the older dataVolumeClaim, not both"
type StoragedSpec struct {
	ComponentSpec `json:",inline"`

	// Config holds storaged's flags (name without the leading --, value),
	// written into its flag file.
	// +optional
	Config map[string]string `json:"config,omitempty"`

	// Service shapes storaged's Service.
	// +optional
	Service *ServiceSpec `json:"service,omitempty"`

	// LogVolumeClaim, when set, keeps logs on a PersistentVolumeClaim.
	// +optional
	LogVolumeClaim *StorageClaim `json:"logVolumeClaim,omitempty"`

	// DataVolumeClaims, one PersistentVolumeClaim per data path.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	DataVolumeClaims []StorageClaim `json:"dataVolumeClaims,omitempty"`

	// DataVolumeClaim is the older single-claim form of dataVolumeClaims.
	// +optional
	DataVolumeClaim *StorageClaim `json:"dataVolumeClaim,omitempty"`
}

// AgentSpec configures the ng-agent sidecar (br-agent).
type AgentSpec struct {
	// Image of the agent without its tag (the tag is version); empty: the
	// operator's default agent image.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Image string `json:"image,omitempty"`

	// Version is the image tag.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Version string `json:"version,omitempty"`

	// Resources of the agent container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Env of the agent container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// RateLimit bounds the bandwidth of all the agent's transfers together,
	// in Mbps (0: no limit); br-agent --ratelimit.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RateLimit int32 `json:"rateLimit,omitempty"`

	// HeartbeatInterval is the number of seconds between the agent's
	// heartbeats to metad; br-agent --hbs.
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=1
	// +optional
	HeartbeatInterval int32 `json:"heartbeatInterval,omitempty"`
}

// ClusterPhase is a cluster's (or component's) coarse state.
type ClusterPhase string

// Cluster phases.
const (
	ClusterPending  ClusterPhase = "Pending"  // nothing created yet
	ClusterCreating ClusterPhase = "Creating" // workloads created, not all ready
	ClusterRunning  ClusterPhase = "Running"  // every component ready
	ClusterUpdating ClusterPhase = "Updating" // a spec change is rolling out
	ClusterFailed   ClusterPhase = "Failed"   // see the conditions
)

// Cluster condition types (metav1.Condition.Type).
const (
	ClusterReady         = "Ready"
	ClusterMetadReady    = "MetadReady"
	ClusterStoragedReady = "StoragedReady"
	ClusterGraphdReady   = "GraphdReady"
	ClusterAgentsReady   = "AgentsReady"
)

// NebulaClusterStatus is the observed cluster.
type NebulaClusterStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is the cluster's coarse state.
	// +optional
	Phase ClusterPhase `json:"phase,omitempty"`

	// Metad, Storaged and Graphd are the components' states.
	// +optional
	Metad ComponentStatus `json:"metad,omitempty"`
	// +optional
	Storaged ComponentStatus `json:"storaged,omitempty"`
	// +optional
	Graphd ComponentStatus `json:"graphd,omitempty"`

	// Conditions: Ready, MetadReady, StoragedReady, GraphdReady, ...
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ComponentStatus is one component's state.
type ComponentStatus struct {
	// Phase of the component.
	// +optional
	Phase ClusterPhase `json:"phase,omitempty"`

	// Version (image tag) running.
	// +optional
	Version string `json:"version,omitempty"`

	// Workload is the component's StatefulSet status.
	// +optional
	Workload WorkloadStatus `json:"workload,omitempty"`
}

// WorkloadStatus mirrors the counts of a component's StatefulSet.
type WorkloadStatus struct {
	// ObservedGeneration of the StatefulSet.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas created.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas is the number of pods with a Ready condition.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// UpdatedReplicas is the number of pods at updateRevision.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
	// CurrentRevision of the StatefulSet.
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty"`
	// UpdateRevision of the StatefulSet.
	// +optional
	UpdateRevision string `json:"updateRevision,omitempty"`
}
