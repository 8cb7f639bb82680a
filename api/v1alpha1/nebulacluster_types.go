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
	// +optional
	EnableBR bool `json:"enableBR,omitempty"`

	// Agent configures the ng-agent sidecar added when enableBR is set.
	// +optional
	Agent *AgentSpec `json:"agent,omitempty"`

	// ImagePullPolicy of every container the operator creates (the
	// containers of initContainers and sidecarContainers keep their own).
	// +kubebuilder:default=Always
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
	// cluster is deleted (the operator holds the deletion with a finalizer
	// until they are gone).
	// +optional
	EnablePVReclaim bool `json:"enablePVReclaim,omitempty"`

	// Suspend stops the cluster without losing its data: the StatefulSets
	// are deleted (graphd, then storaged, then metad), the volume claims,
	// ConfigMaps and Services stay; clearing it starts the cluster again.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// SchedulerName of every pod.
	// +kubebuilder:default=default-scheduler
	// +optional
	SchedulerName string `json:"schedulerName,omitempty"`

	// TopologySpreadConstraints of every pod whose component sets none:
	// each spreads the component's pods over a topology key with a
	// maximum skew of 1.
	// +optional
	TopologySpreadConstraints []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// Reference names the kind of workload the components run as; the
	// operator runs StatefulSets (statefulsets.apps, v1) and reports any
	// other kind as not acted on.
	// +optional
	Reference *WorkloadReference `json:"reference,omitempty"`

	// EnableAutoFailover replaces the storaged pods of failed hosts
	// (local volumes). Accepted and kept; not acted on by this operator.
	// +optional
	EnableAutoFailover *bool `json:"enableAutoFailover,omitempty"`

	// FailoverPeriod is how long a host must be down before a failover.
	// Accepted and kept; not acted on by this operator.
	// +optional
	FailoverPeriod *metav1.Duration `json:"failoverPeriod,omitempty"`

	// LogRotate adds a log-rotating sidecar. Accepted and kept; not acted
	// on by this operator.
	// +optional
	LogRotate *LogRotate `json:"logRotate,omitempty"`

	// Exporter runs a metrics exporter next to the cluster. Accepted and
	// kept; not acted on by this operator.
	// +optional
	Exporter *ExporterSpec `json:"exporter,omitempty"`

	// Console runs a nebula-console pod. Accepted and kept; not acted on by
	// this operator.
	// +optional
	Console *ConsoleSpec `json:"console,omitempty"`

	// SSLCerts names the Secrets holding the cluster's TLS certificates.
	// Accepted and kept; not acted on by this operator (flags in config
	// and component volumes can still set TLS up by hand).
	// +optional
	SSLCerts *SSLCertsSpec `json:"sslCerts,omitempty"`

	// AlpineImage is the helper image of upstream's init containers.
	// Accepted and kept; not acted on by this operator.
	// +optional
	AlpineImage *string `json:"alpineImage,omitempty"`

	// CoredumpPreservation keeps core dumps on a volume. Accepted and
	// kept; not acted on by this operator.
	// +optional
	CoredumpPreservation *CoredumpPreservation `json:"coredumpPreservation,omitempty"`
}

// WorkloadReference names a workload kind by its resource: e.g.
// statefulsets.apps, version v1.
type WorkloadReference struct {
	// Name is resource.group, such as statefulsets.apps.
	Name string `json:"name"`

	// Version of the resource's API (empty: its first version).
	// +optional
	Version string `json:"version,omitempty"`
}

// TopologySpreadConstraint spreads a component's pods over the values of a
// node label; the operator adds maxSkew 1 and the component's labels as
// the selector.
type TopologySpreadConstraint struct {
	// TopologyKey is the node label, such as kubernetes.io/hostname or
	// topology.kubernetes.io/zone.
	TopologyKey string `json:"topologyKey"`

	// WhenUnsatisfiable: DoNotSchedule or ScheduleAnyway.
	WhenUnsatisfiable corev1.UnsatisfiableConstraintAction `json:"whenUnsatisfiable"`
}

// LogRotate is the rotation of the components' logs.
type LogRotate struct {
	// Rotate is the number of rotated files kept.
	// +kubebuilder:default=5
	// +optional
	Rotate int32 `json:"rotate,omitempty"`

	// Size a log file grows to before it is rotated, such as 200M.
	// +kubebuilder:default="200M"
	// +optional
	Size string `json:"size,omitempty"`
}

// ExporterSpec is the metrics exporter's deployment.
type ExporterSpec struct {
	ComponentSpec `json:",inline"`

	// MaxRequests bounds the scrapes served at once.
	// +kubebuilder:default=40
	// +optional
	MaxRequests int32 `json:"maxRequests,omitempty"`

	// CollectRegex keeps only the metrics it matches.
	// +optional
	CollectRegex string `json:"collectRegex,omitempty"`

	// IgnoreRegex drops the metrics it matches.
	// +optional
	IgnoreRegex string `json:"ignoreRegex,omitempty"`

	// HTTPPort the exporter serves on.
	// +kubebuilder:default=9100
	// +optional
	HTTPPort int32 `json:"httpPort,omitempty"`
}

// ConsoleSpec is a nebula-console pod connected to graphd.
type ConsoleSpec struct {
	// Username graphd is logged in with.
	// +optional
	Username string `json:"username,omitempty"`

	// Password of that user.
	// +optional
	Password string `json:"password,omitempty"`

	// Image without its tag.
	// +optional
	Image string `json:"image,omitempty"`

	// Version is the image tag.
	// +optional
	Version string `json:"version,omitempty"`

	// NodeSelector of the console pod.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

// SSLCertsSpec names the Secrets (and their keys) that hold the server,
// client and CA certificates.
type SSLCertsSpec struct {
	// ServerSecret holds the server certificate and key.
	// +optional
	ServerSecret string `json:"serverSecret,omitempty"`
	// ServerCert is the key of the server certificate in ServerSecret.
	// +kubebuilder:default=tls.crt
	// +optional
	ServerCert string `json:"serverCert,omitempty"`
	// ServerKey is the key of the server private key in ServerSecret.
	// +kubebuilder:default=tls.key
	// +optional
	ServerKey string `json:"serverKey,omitempty"`

	// ClientSecret holds the client certificate and key.
	// +optional
	ClientSecret string `json:"clientSecret,omitempty"`
	// ClientCert is the key of the client certificate in ClientSecret.
	// +kubebuilder:default=tls.crt
	// +optional
	ClientCert string `json:"clientCert,omitempty"`
	// ClientKey is the key of the client private key in ClientSecret.
	// +kubebuilder:default=tls.key
	// +optional
	ClientKey string `json:"clientKey,omitempty"`

	// CASecret holds the CA certificate.
	// +optional
	CASecret string `json:"caSecret,omitempty"`
	// CACert is the key of the CA certificate in CASecret.
	// +kubebuilder:default=ca.crt
	// +optional
	CACert string `json:"caCert,omitempty"`

	// ClientCASecret holds the CA certificate clients are checked against.
	// +optional
	ClientCASecret string `json:"clientCASecret,omitempty"`
	// ClientCACert is the key of that certificate in ClientCASecret.
	// +kubebuilder:default=ca.crt
	// +optional
	ClientCACert string `json:"clientCACert,omitempty"`

	// InsecureSkipVerify: clients do not check the server's certificate.
	// +optional
	InsecureSkipVerify *bool `json:"insecureSkipVerify,omitempty"`

	// ServerName clients expect in the server's certificate.
	// +optional
	ServerName string `json:"serverName,omitempty"`

	// AutoMountServerCerts mounts the server certificate Secret into the
	// pods.
	// +optional
	AutoMountServerCerts *bool `json:"autoMountServerCerts,omitempty"`
}

// CoredumpPreservation keeps core dumps of crashed processes.
type CoredumpPreservation struct {
	// VolumeSpecs is the size and class of the core dump volume.
	// +optional
	VolumeSpecs *StorageClaim `json:"volumeSpecs,omitempty"`

	// MaxTimeKept is how long core dumps are kept (a duration of at least
	// one minute, such as 72h).
	// +optional
	MaxTimeKept *string `json:"maxTimeKept,omitempty"`
}

// LicenseSpec names the Secret holding a NebulaGraph Enterprise license.
type LicenseSpec struct {
	// SecretName of the license Secret.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// LicenseKey is the key of the license file in that Secret.
	// +optional
	LicenseKey string `json:"licenseKey,omitempty"`
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

	// Version is the image tag. An image that already has a tag or a
	// digest is used as written.
	// +kubebuilder:default=latest
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

	// TopologySpreadConstraints of the component's pods (overrides the
	// cluster's).
	// +optional
	TopologySpreadConstraints []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// SecurityContext of the component's container.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`

	// InitContainers run before the component's container, in this order
	// (before the operator's own init containers).
	// +optional
	InitContainers []Container `json:"initContainers,omitempty"`

	// SidecarContainers are added to the component's pods; one named like
	// a container of the operator's replaces it.
	// +optional
	SidecarContainers []Container `json:"sidecarContainers,omitempty"`

	// Volumes added to the component's pods (one named like a volume of
	// the operator's is ignored).
	// +optional
	Volumes []Volume `json:"volumes,omitempty"`

	// VolumeMounts added to the component's container.
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// ReadinessProbe of the component's container (replaces the
	// operator's).
	// +optional
	ReadinessProbe *corev1.Probe `json:"readinessProbe,omitempty"`

	// LivenessProbe of the component's container.
	// +optional
	LivenessProbe *corev1.Probe `json:"livenessProbe,omitempty"`

	// DNSConfig of the component's pods.
	// +optional
	DNSConfig *corev1.PodDNSConfig `json:"dnsConfig,omitempty"`

	// DNSPolicy of the component's pods (empty: ClusterFirst).
	// +optional
	DNSPolicy corev1.DNSPolicy `json:"dnsPolicy,omitempty"`
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

	// Selector is added to the selector of graphd's client Service, which
	// then reaches only the graphd pods that also carry these labels.
	// metad's and storaged's Services are headless (one DNS name per pod)
	// and keep their selectors: there it is kept, not acted on.
	// +optional
	Selector map[string]string `json:"selector,omitempty"`
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

	// License of NebulaGraph Enterprise. Accepted and kept; not acted on by
	// this operator.
	// +optional
	License *LicenseSpec `json:"license,omitempty"`

	// LicenseManagerURL of NebulaGraph Enterprise (host:port). Accepted and
	// kept; not acted on by this operator.
	// +optional
	LicenseManagerURL *string `json:"licenseManagerURL,omitempty"`
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

	// EnableAutoBalance balances data and leaders after storaged scales
	// out. Accepted and kept; not acted on by this operator when true.
	// +optional
	EnableAutoBalance *bool `json:"enableAutoBalance,omitempty"`

	// EnableForceUpdate rolls storaged without moving its leaders first.
	// Accepted and kept; not acted on by this operator when true (pods
	// roll as the StatefulSet rolls them).
	// +optional
	EnableForceUpdate *bool `json:"enableForceUpdate,omitempty"`

	// ConcurrentTransfer moves leaders concurrently during a rolling
	// update. Accepted and kept; not acted on by this operator when true.
	// +optional
	ConcurrentTransfer *bool `json:"concurrentTransfer,omitempty"`
}

// AgentSpec configures the ng-agent sidecar (br-agent).
type AgentSpec struct {
	// Image of the agent without its tag (the tag is version); empty: the
	// operator's default agent image.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Image string `json:"image,omitempty"`

	// Version is the image tag.
	// +kubebuilder:default=latest
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Version string `json:"version,omitempty"`

	// Resources of the agent container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Env of the agent container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// VolumeMounts added to the agent container (of volumes the pod has:
	// the component's volumes, for instance).
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

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
	ClusterSuspend  ClusterPhase = "Suspend"  // spec.suspend: workloads deleted, data kept
)

// Cluster condition types (NebulaClusterCondition.Type).
const (
	ClusterReady         = "Ready"
	ClusterMetadReady    = "MetadReady"
	ClusterStoragedReady = "StoragedReady"
	ClusterGraphdReady   = "GraphdReady"
	ClusterAgentsReady   = "AgentsReady"
	// ClusterFeaturesNotActedOn is True while the spec sets fields this
	// operator keeps but does not act on (its message names them).
	ClusterFeaturesNotActedOn = "FeaturesNotActedOn"
)

// NebulaClusterStatus is the observed cluster.
type NebulaClusterStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is the cluster's coarse state.
	// +optional
	Phase ClusterPhase `json:"phase,omitempty"`

	// Version of the cluster: the image tag metad runs, once every
	// component is ready.
	// +optional
	Version string `json:"version,omitempty"`

	// Metad and Graphd are the components' states.
	// +optional
	Metad ComponentStatus `json:"metad,omitempty"`
	// +optional
	Graphd ComponentStatus `json:"graphd,omitempty"`

	// Storaged is storaged's state, with its data-balancing record.
	// +optional
	Storaged StoragedStatus `json:"storaged,omitempty"`

	// Conditions: Ready, MetadReady, StoragedReady, GraphdReady,
	// FeaturesNotActedOn.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
}

// ComponentStatus is one component's state.
type ComponentStatus struct {
	// Phase of the component.
	// +optional
	Phase ClusterPhase `json:"phase,omitempty"`

	// Version (image tag) the component's StatefulSet runs.
	// +optional
	Version string `json:"version,omitempty"`

	// Workload is the component's StatefulSet status (absent while there
	// is no StatefulSet).
	// +optional
	Workload *WorkloadStatus `json:"workload,omitempty"`

	// FailureHosts are the component's hosts found failed, by host.
	// Not filled by this operator (no automatic failover).
	// +optional
	FailureHosts map[string]FailureHost `json:"failureHosts,omitempty"`

	// Volume is the state of the component's volume claims.
	// Not filled by this operator.
	// +optional
	Volume *VolumeStatus `json:"volume,omitempty"`
}

// StoragedStatus is storaged's state and its data-balancing record. The
// balancing fields are not filled by this operator, which does not
// balance data.
type StoragedStatus struct {
	ComponentStatus `json:",inline"`

	// HostsAdded says the storaged hosts have been added to metad.
	// +optional
	HostsAdded bool `json:"hostsAdded,omitempty"`

	// RemovedSpaces are the spaces whose data left removed hosts.
	// +optional
	RemovedSpaces []int32 `json:"removedSpaces,omitempty"`

	// BalancedSpaces are the spaces already balanced after a scale-out.
	// +optional
	BalancedSpaces []int32 `json:"balancedSpaces,omitempty"`

	// LastBalancedTime is when data was last balanced.
	// +optional
	LastBalancedTime *metav1.Time `json:"lastBalancedTime,omitempty"`

	// LastBalanceJob is the last balance job submitted.
	// +optional
	LastBalanceJob *BalanceJob `json:"lastBalanceJob,omitempty"`

	// BalancedAfterFailover says data was balanced after a failover.
	// +optional
	BalancedAfterFailover *bool `json:"balancedAfterFailover,omitempty"`

	// HostInfo is, per host, its pod's UID and restart count.
	// +optional
	HostInfo map[string]HostInfo `json:"hostInfo,omitempty"`
}

// BalanceJob identifies a balance job of a space.
type BalanceJob struct {
	// +optional
	SpaceID int32 `json:"spaceID,omitempty"`
	// +optional
	JobID int32 `json:"jobID,omitempty"`
}

// HostInfo is the pod last seen for a host.
type HostInfo struct {
	// +optional
	UID string `json:"uid,omitempty"`
	// +optional
	RestartTimes int32 `json:"restartTimes,omitempty"`
}

// FailureHost is a host found failed.
type FailureHost struct {
	// +optional
	Host string `json:"host,omitempty"`
	// PVCSet holds the UIDs of the host's volume claims (as keys).
	// +optional
	PVCSet map[string]EmptyStruct `json:"pvcSet,omitempty"`
	// +optional
	HostDeleted bool `json:"hostDeleted,omitempty"`
	// +optional
	PodRestarted bool `json:"podRestarted,omitempty"`
	// +optional
	PodRebuilt bool `json:"podRebuilt,omitempty"`
	// +optional
	NodeDown bool `json:"nodeDown,omitempty"`
	// +optional
	CreationTime *metav1.Time `json:"creationTime,omitempty"`
	// +optional
	ConfirmationTime *metav1.Time `json:"confirmationTime,omitempty"`
	// +optional
	DeletionTime *metav1.Time `json:"deletionTime,omitempty"`
}

// EmptyStruct is a set member's value.
type EmptyStruct struct{}

// VolumeStatus is the state of a component's volume claims.
type VolumeStatus struct {
	// ProvisionedVolumes by claim name.
	// +optional
	ProvisionedVolumes map[string]ProvisionedVolume `json:"provisionedVolumes,omitempty"`

	// ProvisionedDone says every claim has its requested size.
	// +optional
	ProvisionedDone bool `json:"provisionedDone,omitempty"`
}

// ProvisionedVolume is a claim's bound volume.
type ProvisionedVolume struct {
	// +optional
	VolumeName string `json:"volumeName,omitempty"`
	// +optional
	StorageClass string `json:"storageClass,omitempty"`
	// +optional
	Capacity string `json:"capacity,omitempty"`
}

// WorkloadStatus mirrors the counts of a component's StatefulSet.
type WorkloadStatus struct {
	// ObservedGeneration of the StatefulSet.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas created.
	// +optional
	Replicas int32 `json:"replicas"`
	// ReadyReplicas is the number of pods with a Ready condition.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// AvailableReplicas is the number of pods ready for minReadySeconds.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas"`
	// CurrentReplicas is the number of pods at currentRevision.
	// +optional
	CurrentReplicas int32 `json:"currentReplicas,omitempty"`
	// UpdatedReplicas is the number of pods at updateRevision.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// CurrentRevision of the StatefulSet.
	// +optional
	CurrentRevision string `json:"currentRevision"`
	// UpdateRevision of the StatefulSet.
	// +optional
	UpdateRevision string `json:"updateRevision,omitempty"`
	// CollisionCount of the StatefulSet's revision hashes.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
}
