package envtest_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nebula-open/nebula-br/internal/envtest"
)

// Manifests shaped as upstream's nebula-operator 1.8.x writes them: its
// samples (config/samples of v1.8.7), its nebula-cluster chart rendered
// with the chart's default values, and one NebulaCluster that sets every
// field of upstream's NebulaClusterSpec. Each must be accepted by our CRDs
// under strict field validation (as kubectl does) and read back with every
// field it set.

// upstreamClusterSample is upstream's config/samples/nebulacluster.yaml,
// with the lines it comments out (licenseManagerURL, enablePVReclaim,
// enableBR) set.
const upstreamClusterSample = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCluster
metadata:
  name: nebula
spec:
  graphd:
    resources:
      requests:
        cpu: "500m"
        memory: "500Mi"
      limits:
        cpu: "2"
        memory: "2Gi"
    replicas: 1
    image: vesoft/nebula-graphd
    version: v3.6.0
    service:
      type: NodePort
      externalTrafficPolicy: Local
    logVolumeClaim:
      resources:
        requests:
          storage: 1Gi
      storageClassName: ebs-sc
  metad:
    licenseManagerURL: "nebula-license-manager-svc:9119"
    resources:
      requests:
        cpu: "500m"
        memory: "500Mi"
      limits:
        cpu: "1"
        memory: "1Gi"
    replicas: 1
    image: vesoft/nebula-metad
    version: v3.6.0
    dataVolumeClaim:
      resources:
        requests:
          storage: 5Gi
      storageClassName: ebs-sc
    logVolumeClaim:
      resources:
        requests:
          storage: 1Gi
      storageClassName: ebs-sc
  storaged:
    resources:
      requests:
        cpu: "500m"
        memory: "500Mi"
      limits:
        cpu: "2"
        memory: "2Gi"
    replicas: 3
    image: vesoft/nebula-storaged
    version: v3.6.0
    dataVolumeClaims:
    - resources:
        requests:
          storage: 10Gi
      storageClassName: ebs-sc
    logVolumeClaim:
      resources:
        requests:
          storage: 1Gi
      storageClassName: ebs-sc
  exporter:
    image: vesoft/nebula-stats-exporter
    version: v3.3.0
    replicas: 1
    maxRequests: 20
  agent:
    image: vesoft/nebula-agent
    version: latest
    resources:
      requests:
        cpu: "100m"
        memory: "128Mi"
      limits:
        cpu: "200m"
        memory: "256Mi"
  reference:
    name: statefulsets.apps
    version: v1
  schedulerName: default-scheduler
  enablePVReclaim: false
  enableBR: false
  logRotate:
    rotate: 5
    size: "100M"
  imagePullPolicy: Always
  topologySpreadConstraints:
  - topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
`

// upstreamChartDefaults is upstream's charts/nebula-cluster template
// rendered with the chart's default values.yaml (release nebula-cluster).
const upstreamChartDefaults = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCluster
metadata:
  name: nebula-cluster
  labels:
    app.kubernetes.io/version: "1.8.1"
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: nebula-cluster-1.8.1
spec:
  graphd:
    replicas: 2
    resources:
      limits:
        cpu: "1"
        memory: 500Mi
      requests:
        cpu: 500m
        memory: 500Mi
    image: vesoft/nebula-graphd
    version: v3.6.0
    service:
      type: NodePort
      externalTrafficPolicy: Local
    logVolumeClaim:
      resources:
        requests:
          storage: 500Mi
  metad:
    replicas: 3
    resources:
      limits:
        cpu: "1"
        memory: 1Gi
      requests:
        cpu: 500m
        memory: 500Mi
    image: vesoft/nebula-metad
    version: v3.6.0
    logVolumeClaim:
      resources:
        requests:
          storage: 500Mi
    dataVolumeClaim:
      resources:
        requests:
          storage: 2Gi
  storaged:
    replicas: 3
    resources:
      limits:
        cpu: "1"
        memory: 1Gi
      requests:
        cpu: 500m
        memory: 500Mi
    image: vesoft/nebula-storaged
    version: v3.6.0
    enableAutoBalance: false
    enableForceUpdate: false
    logVolumeClaim:
      resources:
        requests:
          storage: 500Mi
    dataVolumeClaims:
    - resources:
        requests:
          storage: 10Gi
  exporter:
    replicas: 1
    resources:
      limits:
        cpu: 200m
        memory: 256Mi
      requests:
        cpu: 100m
        memory: 128Mi
    image: vesoft/nebula-stats-exporter
    version: v3.3.0
    maxRequests: 20
  agent:
    image: vesoft/nebula-agent
    version: latest
    resources:
      limits:
        cpu: 200m
        memory: 256Mi
      requests:
        cpu: 100m
        memory: 128Mi
  console:
    username: root
    password: nebula
    image: vesoft/nebula-console
    version: latest
  reference:
    name: statefulsets.apps
    version: v1
  imagePullPolicy: Always
  schedulerName: default-scheduler
  topologySpreadConstraints:
    - topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
  enablePVReclaim: false
  enableBR: false
  coredumpPreservation:
    maxTimeKept: 72h
    volumeSpecs:
      resources:
        requests:
          storage: 5Gi
`

// upstreamAuthSidecar is upstream's nebulacluster-auth-sidecar.yaml:
// component initContainers, sidecarContainers, volumes and volumeMounts,
// a license manager, imagePullSecrets, enablePVReclaim.
const upstreamAuthSidecar = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCluster
metadata:
  name: nebula-auth
spec:
  graphd:
    config:
      ca_client_path: certs/root.crt
      ca_path: certs/root.crt
      cert_path: certs/server.crt
      key_path: certs/server.key
      enable_graph_ssl: "true"
    initContainers:
      - name: init-auth-sidecar
        command:
          - /bin/sh
          - -c
        args:
          - cp /certs/* /credentials/
        imagePullPolicy: Always
        image: reg.vesoft-inc.com/nebula-certs:latest
        volumeMounts:
          - name: credentials
            mountPath: /credentials
    sidecarContainers:
      - name: auth-sidecar
        imagePullPolicy: Always
        image: reg.vesoft-inc.com/nebula-certs:latest
        volumeMounts:
          - name: credentials
            mountPath: /credentials
    volumes:
      - name: credentials
        emptyDir:
          medium: Memory
    volumeMounts:
      - name: credentials
        mountPath: /usr/local/nebula/certs
    logVolumeClaim:
      resources:
        requests:
          storage: 1Gi
      storageClassName: local-path
    resources:
      requests:
        cpu: "500m"
        memory: "500Mi"
      limits:
        cpu: "2"
        memory: "2Gi"
    replicas: 1
    image: reg.vesoft-inc.com/nebula-graphd-ent
    version: v3.6.0
  metad:
    licenseManagerURL: "nebula-license-manager-svc:9119"
    replicas: 1
    image: reg.vesoft-inc.com/rc/nebula-metad-ent
    version: v3.6.0
    dataVolumeClaim:
      resources:
        requests:
          storage: 2Gi
      storageClassName: local-path
  storaged:
    replicas: 1
    image: reg.vesoft-inc.com/nebula-storaged-ent
    version: v3.6.0
    dataVolumeClaims:
      - resources:
          requests:
            storage: 2Gi
        storageClassName: local-path
    enableAutoBalance: true
  reference:
    name: statefulsets.apps
    version: v1
  schedulerName: default-scheduler
  imagePullPolicy: Always
  imagePullSecrets:
    - name: nebula-image
  enablePVReclaim: true
  topologySpreadConstraints:
  - topologyKey: "kubernetes.io/hostname"
    whenUnsatisfiable: "ScheduleAnyway"
`

// upstreamEveryField sets every field of upstream 1.8.x's
// NebulaClusterSpec (and of the types it holds) at least once.
const upstreamEveryField = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCluster
metadata:
  name: every-field
spec:
  graphd:
    replicas: 2
    image: vesoft/nebula-graphd
    version: v3.6.0
    resources:
      requests: {cpu: 100m, memory: 128Mi}
      limits: {cpu: "1", memory: 1Gi}
    env:
    - name: GLOG_v
      value: "0"
    annotations: {example.com/a: b}
    labels: {team: graph}
    nodeSelector: {disk: ssd}
    affinity:
      podAntiAffinity:
        preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels: {app.kubernetes.io/component: graphd}
    tolerations:
    - {key: dedicated, operator: Equal, value: nebula, effect: NoSchedule}
    topologySpreadConstraints:
    - {topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}
    securityContext:
      runAsNonRoot: true
      runAsUser: 999
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
    initContainers:
    - name: init
      image: busybox:1.36
      command: [sh, -c, "true"]
      volumeMounts: [{name: extra, mountPath: /extra}]
    sidecarContainers:
    - name: side
      image: busybox:1.36
      args: [sleep, infinity]
      resources: {limits: {cpu: 10m, memory: 16Mi}}
    volumes:
    - name: extra
      emptyDir: {medium: Memory}
    - name: certs
      secret: {secretName: certs, defaultMode: 420}
    volumeMounts:
    - {name: extra, mountPath: /usr/local/nebula/extra}
    readinessProbe:
      httpGet: {path: /status, port: 19669, scheme: HTTP}
      initialDelaySeconds: 5
      periodSeconds: 5
      timeoutSeconds: 2
      failureThreshold: 3
    livenessProbe:
      tcpSocket: {port: 9669}
      initialDelaySeconds: 30
    dnsConfig:
      nameservers: [10.0.0.10]
      searches: [svc.cluster.local]
      options: [{name: ndots, value: "2"}]
    dnsPolicy: None
    config: {enable_authorize: "true"}
    service:
      type: LoadBalancer
      annotations: {example.com/lb: internal}
      selector: {team: graph}
      clusterIP: 10.96.0.50
      publishNotReadyAddresses: true
      loadBalancerIP: 192.0.2.10
      externalTrafficPolicy: Local
    logVolumeClaim:
      resources: {requests: {storage: 1Gi}}
      storageClassName: fast
  metad:
    replicas: 3
    image: vesoft/nebula-metad
    version: v3.6.0
    config: {heartbeat_interval_secs: "10"}
    service:
      type: ClusterIP
      annotations: {a: b}
      selector: {team: meta}
      publishNotReadyAddresses: true
    logVolumeClaim:
      resources: {requests: {storage: 1Gi}}
      storageClassName: fast
    dataVolumeClaim:
      resources: {requests: {storage: 5Gi}}
      storageClassName: fast
    license: {secretName: nebula-license, licenseKey: nebula.license}
    licenseManagerURL: nebula-license-manager-svc:9119
  storaged:
    replicas: 3
    image: vesoft/nebula-storaged
    version: v3.6.0
    config: {rocksdb_block_cache: "1024"}
    service: {type: ClusterIP}
    logVolumeClaim:
      resources: {requests: {storage: 1Gi}}
    dataVolumeClaims:
    - resources: {requests: {storage: 10Gi}}
      storageClassName: fast
    - resources: {requests: {storage: 10Gi}}
      storageClassName: fast
    enableAutoBalance: true
    enableForceUpdate: true
    concurrentTransfer: true
  reference: {name: statefulsets.apps, version: v1}
  suspend: false
  schedulerName: nebula-scheduler
  topologySpreadConstraints:
  - {topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}
  enablePVReclaim: true
  imagePullPolicy: IfNotPresent
  imagePullSecrets: [{name: regcred}]
  nodeSelector: {kubernetes.io/os: linux}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
  tolerations: [{key: nebula, operator: Exists}]
  enableBR: true
  enableAutoFailover: true
  failoverPeriod: 5m
  logRotate: {rotate: 7, size: 100M}
  exporter:
    image: vesoft/nebula-stats-exporter
    version: v3.3.0
    replicas: 1
    resources: {requests: {cpu: 100m}}
    env: [{name: A, value: b}]
    maxRequests: 20
    collectRegex: ".*"
    ignoreRegex: "rocksdb.*"
    httpPort: 9200
  console:
    username: root
    password: nebula
    image: vesoft/nebula-console
    version: v3.6.0
    nodeSelector: {disk: ssd}
  sslCerts:
    serverSecret: server-cert
    serverCert: tls.crt
    serverKey: tls.key
    clientSecret: client-cert
    clientCert: tls.crt
    clientKey: tls.key
    caSecret: ca-cert
    caCert: ca.crt
    clientCASecret: client-ca
    clientCACert: ca.crt
    insecureSkipVerify: false
    serverName: nebula.example.com
    autoMountServerCerts: true
  agent:
    image: vesoft/nebula-agent
    version: v3.7.1
    resources: {requests: {cpu: 100m, memory: 128Mi}}
    env: [{name: AGENT_LOG, value: debug}]
    volumeMounts: [{name: certs, mountPath: /usr/local/certs, readOnly: true}]
    rateLimit: 100
    heartbeatInterval: 30
  alpineImage: reg.vesoft-inc.com/nebula-alpine:latest
  coredumpPreservation:
    volumeSpecs:
      resources: {requests: {storage: 5Gi}}
      storageClassName: fast
    maxTimeKept: 72h
`

// upstream's NebulaBackup, NebulaRestore and NebulaCronBackup samples:
// nebulabackup-gs.yaml, nebulabackup-gs-tls.yaml, nebulabackup-s3.yaml,
// nebularestore-gs.yaml, nebularestore-s3.yaml (the NebulaRestores) and
// cronbackup.yaml.
const (
	upstreamBackupGS = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaBackup
metadata:
  name: backup-gs
spec:
  image: reg.vesoft-inc.com/cloud-dev/br-ent
  version: v3.7.0
  resources:
    limits:
      cpu: "200m"
      memory: 300Mi
    requests:
      cpu: 100m
      memory: 200Mi
  imagePullSecrets:
  - name: nebula-image
  autoRemoveFinished: true
  cleanBackupData: true
  config:
    clusterName: nebula
    gs:
      location: "us-central1"
      bucket: "nebula-test"
      secretName: "gcp-secret"
`
	upstreamBackupGSTLS = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaBackup
metadata:
  name: backup-gs-tls
spec:
  image: reg.vesoft-inc.com/cloud-dev/br-ent
  version: v3.7.0
  env:
  - name: CA_CERT_PATH
    value: /usr/local/certs/root.crt
  - name: CLIENT_CERT_PATH
    value: /usr/local/certs/client.crt
  - name: CLIENT_KEY_PATH
    value: /usr/local/certs/client.key
  resources:
    limits:
      cpu: "200m"
      memory: 300Mi
    requests:
      cpu: 100m
      memory: 200Mi
  imagePullSecrets:
  - name: nebula-image
  initContainers:
  - name: init-auth-sidecar
    command:
    - /bin/sh
    - -c
    args:
    - cp -r /certs/* /credentials/
    imagePullPolicy: Always
    image: reg.vesoft-inc.com/cloud-dev/nebula-certs:latest
    volumeMounts:
    - name: credentials
      mountPath: /credentials
  volumes:
  - name: credentials
    emptyDir:
      medium: Memory
  volumeMounts:
  - name: credentials
    mountPath: /usr/local/certs
  autoRemoveFinished: true
  cleanBackupData: true
  config:
    clusterName: nebula
    gs:
      location: "us-central1"
      bucket: "nebula-test"
      secretName: "gcp-secret"
`
	upstreamBackupS3 = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaBackup
metadata:
  name: backup-s3
spec:
  image: reg.vesoft-inc.com/cloud-dev/br-ent
  version: v3.7.0
  resources:
    limits:
      cpu: "200m"
      memory: 300Mi
    requests:
      cpu: 100m
      memory: 200Mi
  imagePullSecrets:
  - name: nebula-image
  autoRemoveFinished: true
  cleanBackupData: true
  config:
    clusterName: nebula
    s3:
      region: "us-east-2"
      bucket: "nebula-test"
      endpoint: "https://s3.us-east-2.amazonaws.com"
      secretName: "aws-secret"
`
	upstreamRestoreGS = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaRestore
metadata:
  name: restore-gs
spec:
  config:
    clusterName: nebula
    backupName: "BACKUP_2024_01_12_10_04_16"
    concurrency: 3
    gs:
      location: us-central1
      bucket: "nebula-br-test"
      secretName: "gcp-secret"
`
	upstreamRestoreS3 = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaRestore
metadata:
  name: restore-s3
spec:
  config:
    clusterName: nebula
    backupName: "BACKUP_2023_02_12_10_04_16"
    concurrency: 3
    s3:
      region: "us-west-2"
      bucket: "nebula-br-test"
      endpoint: "https://s3.us-west-2.amazonaws.com"
      secretName: "aws-secret"
`
	upstreamCronBackupGS = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCronBackup
metadata:
  name: cronbackup
spec:
  schedule: "*/5 * * * *"
  maxReservedTime: 30m
  backupTemplate:
    image: reg.vesoft-inc.com/cloud-dev/br-ent
    version: v3.7.0
    resources:
      limits:
        cpu: "200m"
        memory: 300Mi
      requests:
        cpu: 100m
        memory: 200Mi
    imagePullSecrets:
    - name: nebula-image
    autoRemoveFinished: true
    cleanBackupData: true
    config:
      clusterName: nebula
      gs:
        location: "us-central1"
        bucket: "ng-2025"
        secretName: "gcp-secret"
`
)

// TestUpstreamManifests creates each upstream-shaped manifest with strict
// field validation and checks that what the server stored holds every
// field the manifest set, with its value (defaults may be added).
func TestUpstreamManifests(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	for name, manifest := range map[string]string{
		"cluster sample":                    upstreamClusterSample,
		"cluster chart defaults":            upstreamChartDefaults,
		"cluster with auth sidecar":         upstreamAuthSidecar,
		"cluster with every field":          upstreamEveryField,
		"backup to gs":                      upstreamBackupGS,
		"backup to gs with TLS init":        upstreamBackupGSTLS,
		"backup to s3":                      upstreamBackupS3,
		"restore from gs":                   upstreamRestoreGS,
		"restore from s3":                   upstreamRestoreS3,
		"cron backup to gs":                 upstreamCronBackupGS,
		"backup template with pod shaping":  cronWithPodShaping,
		"cluster zone sample (alpineImage)": upstreamZoneSample,
	} {
		t.Run(name, func(t *testing.T) {
			sent := decodeOne(t, manifest)
			sent.SetNamespace(ns)
			obj := sent.DeepCopy()
			if err := env.Client.Create(ctxT(t), obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("create (strict): %v", err)
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(sent.GroupVersionKind())
			if err := env.Client.Get(ctxT(t), client.ObjectKeyFromObject(sent), got); err != nil {
				t.Fatal(err)
			}
			for _, field := range []string{"spec", "metadata"} {
				if d := dropped(field, sent.Object[field], got.Object[field]); len(d) > 0 {
					t.Errorf("not stored as sent:\n  %s", strings.Join(d, "\n  "))
				}
			}
		})
	}
}

// TestUpstreamManifestsStrict checks the strictness the test above relies
// on: a field upstream does not have is refused, and dropped sees a field
// the server did not keep.
func TestUpstreamManifestsStrict(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	o := decodeOne(t, upstreamEveryField)
	o.SetNamespace(ns)
	o.SetName("every-field-typo")
	if err := unstructured.SetNestedField(o.Object, int64(20), "spec", "exporter", "maxRequest"); err != nil {
		t.Fatal(err)
	}
	err := env.Client.Create(ctxT(t), o, client.FieldValidation("Strict"))
	wantInvalid(t, err, `unknown field "spec.exporter.maxRequest"`)

	want := map[string]any{"a": map[string]any{"b": []any{int64(1), "x"}, "c": true}}
	if d := dropped("spec", want, map[string]any{"a": map[string]any{"b": []any{float64(1), "x"}, "c": true, "d": 1}}); len(d) != 0 {
		t.Errorf("equal up to an added field: %v", d)
	}
	if d := dropped("spec", want, map[string]any{"a": map[string]any{"b": []any{int64(1), "y"}}}); len(d) != 2 {
		t.Errorf("a changed value and a dropped field: %v", d)
	}
}

// TestCRDSize keeps each CRD small enough for `kubectl apply` without
// --server-side, which stores the whole object (compact JSON) in an
// annotation of at most 256 KiB; etcd's limit (1.5 MiB) is further away.
// Full schemas of containers and volumes (v1alpha1.Container, Volume) in
// every place that takes them would pass both.
func TestCRDSize(t *testing.T) {
	env := envtest.Shared(t)
	if len(env.CRDs) != 4 {
		t.Fatalf("%d CRDs installed", len(env.CRDs))
	}
	for _, crd := range env.CRDs {
		b, err := json.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("CRD %s: %d bytes of JSON", crd.Name, len(b))
		if len(b) > 256*1024-4096 {
			t.Errorf("CRD %s is %d bytes of JSON: kubectl apply's last-applied annotation holds at most 262144", crd.Name, len(b))
		}
	}
}

// upstreamZoneSample is upstream's nebulacluster-zone.yaml (alpineImage,
// another scheduler, zone spreading), shortened to what it adds.
const upstreamZoneSample = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCluster
metadata:
  name: nebula-zone
spec:
  alpineImage: "reg.vesoft-inc.com/nebula-alpine:latest"
  graphd:
    config:
      prioritize_intra_zone_reading: "true"
      stick_to_intra_zone_on_failure: "true"
    replicas: 1
    image: reg.vesoft-inc.com/nebula-graphd-ent
    version: v3.6.0
    service:
      type: NodePort
      externalTrafficPolicy: Local
  metad:
    licenseManagerURL: "nebula-license-manager-svc:9119"
    config:
      zone_list: az1,az2,az3
    replicas: 1
    image: reg.vesoft-inc.com/nebula-metad-ent
    version: v3.6.0
  storaged:
    replicas: 3
    image: reg.vesoft-inc.com/nebula-storaged-ent
    version: v3.6.0
  reference:
    name: statefulsets.apps
    version: v1
  schedulerName: nebula-scheduler
  imagePullPolicy: Always
  topologySpreadConstraints:
  - topologyKey: "topology.kubernetes.io/zone"
    whenUnsatisfiable: "DoNotSchedule"
`

// cronWithPodShaping is a NebulaCronBackup whose template sets the pod
// fields of upstream's BackupSpec (initContainers, sidecarContainers,
// volumes, volumeMounts, node selection, pull policy).
const cronWithPodShaping = `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCronBackup
metadata:
  name: cron-pod-shaping
spec:
  schedule: "@daily"
  pause: true
  maxReservedTime: 720h
  backupTemplate:
    image: vesoft/br-ent
    version: v3.7.0
    imagePullPolicy: IfNotPresent
    env: [{name: A, value: b}]
    nodeSelector: {disk: ssd}
    tolerations: [{key: backup, operator: Exists}]
    affinity:
      nodeAffinity:
        preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 1
          preference:
            matchExpressions: [{key: zone, operator: In, values: [a]}]
    initContainers:
    - name: certs
      image: busybox:1.36
      command: [sh, -c, "cp /src/* /certs/"]
      volumeMounts: [{name: certs, mountPath: /certs}]
    sidecarContainers:
    - name: proxy
      image: busybox:1.36
      args: [sleep, "10"]
    volumes:
    - name: certs
      emptyDir: {}
    volumeMounts:
    - name: certs
      mountPath: /usr/local/certs
    cleanBackupData: false
    autoRemoveFinished: false
    config:
      clusterName: nebula
      concurrency: 10
      s3:
        bucket: nebula-br-test
        region: us-east-1
`

// TestUpstreamStatus writes upstream-shaped status through the status
// subresource (the fields tools read) and reads it back whole.
func TestUpstreamStatus(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)
	ctx := ctxT(t)

	for _, tc := range []struct {
		manifest string
		status   string
	}{
		{upstreamClusterSample, `
observedGeneration: 1
version: v3.6.0
graphd:
  version: v3.6.0
  phase: Running
  workload:
    observedGeneration: 1
    replicas: 1
    readyReplicas: 1
    availableReplicas: 1
    currentReplicas: 1
    updatedReplicas: 1
    collisionCount: 0
    currentRevision: nebula-graphd-5d8f7c9b6
    updateRevision: nebula-graphd-5d8f7c9b6
metad:
  version: v3.6.0
  phase: Running
  workload:
    replicas: 1
    readyReplicas: 1
    availableReplicas: 1
    currentReplicas: 1
    updatedReplicas: 1
    currentRevision: nebula-metad-6c4d8b7f5
  volume:
    provisionedDone: true
    provisionedVolumes:
      metad-data-nebula-metad-0:
        volumeName: pvc-1
        storageClass: ebs-sc
        capacity: 5Gi
storaged:
  version: v3.6.0
  phase: Running
  workload:
    replicas: 3
    readyReplicas: 3
    availableReplicas: 3
    currentReplicas: 3
    updatedReplicas: 3
    currentRevision: nebula-storaged-7b9c6d8f4
  hostsAdded: true
  removedSpaces: [4]
  balancedSpaces: [1, 2]
  lastBalancedTime: "2024-05-01T10:00:00Z"
  lastBalanceJob:
    spaceID: 2
    jobID: 17
  balancedAfterFailover: true
  hostInfo:
    nebula-storaged-0:
      uid: 0b5a8c4e-1111-2222-3333-444455556666
      restartTimes: 1
  failureHosts:
    nebula-storaged-2.nebula-storaged-headless.default.svc.cluster.local:
      host: nebula-storaged-2.nebula-storaged-headless.default.svc.cluster.local
      pvcSet:
        9f1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff: {}
      podRestarted: true
      podRebuilt: false
      nodeDown: false
      creationTime: "2024-05-01T09:00:00Z"
      confirmationTime: "2024-05-01T09:05:00Z"
conditions:
- type: Ready
  status: "True"
  lastUpdateTime: "2024-05-01T10:00:00Z"
  lastTransitionTime: "2024-05-01T09:59:00Z"
  reason: WorkloadReady
  message: Nebula cluster is running
`},
		{upstreamBackupS3, `
type: full
backupName: BACKUP_2024_05_01_10_00_00
timeStarted: "2024-05-01T10:00:00Z"
timeCompleted: "2024-05-01T10:05:00Z"
phase: Complete
conditions:
- type: Complete
  status: "True"
  lastUpdateTime: "2024-05-01T10:05:00Z"
  lastTransitionTime: "2024-05-01T10:05:00Z"
  reason: BackupComplete
  message: backup job complete
`},
		{upstreamRestoreS3, `
timeStarted: "2024-05-01T10:00:00Z"
clusterName: nebula-r7x2k
phase: MetadComplete
metaDownload: true
storageDownload: false
conditions:
- type: MetadComplete
  status: "True"
  lastUpdateTime: "2024-05-01T10:02:00Z"
  lastTransitionTime: "2024-05-01T10:02:00Z"
  reason: MetadRestored
partitions:
  "1":
  - host: nebula-storaged-0.nebula-storaged-headless.default.svc.cluster.local
    port: 9779
checkpoints:
  nebula-storaged-0:
    /usr/local/nebula/data/checkpoints/BACKUP_2023_02_12_10_04_16: ""
`},
	} {
		sent := decodeOne(t, tc.manifest)
		sent.SetName(sent.GetName() + "-status")
		sent.SetNamespace(ns)
		obj := sent.DeepCopy()
		if err := env.Client.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
			t.Fatalf("%s: create: %v", sent.GetKind(), err)
		}
		status := decodeStatus(t, tc.status)
		obj.Object["status"] = status
		if err := env.Client.Status().Update(ctx, obj, client.FieldValidation("Strict")); err != nil {
			t.Fatalf("%s: status update (strict): %v", sent.GetKind(), err)
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(sent.GroupVersionKind())
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sent), got); err != nil {
			t.Fatal(err)
		}
		if d := dropped("status", status, got.Object["status"]); len(d) > 0 {
			t.Errorf("%s status not stored as sent:\n  %s", sent.GetKind(), strings.Join(d, "\n  "))
		}
	}
}

// decodeStatus decodes a YAML status into JSON-shaped values.
func decodeStatus(t *testing.T, y string) map[string]any {
	t.Helper()
	o := decodeOne(t, "apiVersion: v1\nkind: Status\nstatus:\n"+indent(y, 2))
	st, ok := o.Object["status"].(map[string]any)
	if !ok {
		t.Fatalf("status: %v", o.Object)
	}
	return st
}

// dropped lists where got lacks or differs from what want holds: every key
// of every map of want must be in got with the same value; got may hold
// more (defaults). Lists must have the same length.
func dropped(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T %v", path, got, got)}
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: dropped", path, k))
				continue
			}
			out = append(out, dropped(path+"."+k, w[k], gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %d items, got %v", path, len(w), got)}
		}
		var out []string
		for i := range w {
			out = append(out, dropped(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		if !reflect.DeepEqual(number(want), number(got)) {
			return []string{fmt.Sprintf("%s: sent %v (%T), stored %v (%T)", path, want, want, got, got)}
		}
		return nil
	}
}

// number makes integers and whole floats comparable.
func number(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int32:
		return float64(n)
	case int64:
		return float64(n)
	}
	return v
}
