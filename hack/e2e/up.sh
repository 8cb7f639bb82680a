#!/usr/bin/env bash
# hack/e2e/up.sh starts a single-node Kubernetes on this machine as host
# processes, from the binaries of hack/e2e/build.sh (run it first):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd
# (runc), kubelet, kube-proxy and CoreDNS, then the cluster's storage
# (StorageClass "standard" over pre-created hostPath PVs) and MinIO
# (namespace minio, Service minio:9000) as the S3 endpoint.
#
# Network: the bridge cni0 10.88.0.1/16 carries the pods; the API server,
# the kubelet and CoreDNS listen on 10.88.0.1; service VIPs (10.96.0.0/12)
# are routed to cni0; `iptables -I FORWARD -s 10.88.0.0/16 ! -d 10.88.0.0/16
# -j DROP` and no masquerade keep every pod packet on this machine.
#
# Everything it writes is under .cache/e2e (run/ for the cluster, logs/,
# pki/); every process's PID is in .cache/e2e/run/pids/NAME.pid, and
# hack/e2e/down.sh stops them by PID and restores the host (a snapshot of
# the host taken here is compared after). KUBECONFIG=.cache/e2e/pki/admin.kubeconfig
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
# set -e would end the script without a word: say which command failed.
trap 'log "up.sh failed at line $LINENO: $BASH_COMMAND (exit $?)"' ERR

T0=$(date +%s)
if alive kube-apiserver; then
	log "already up (kube-apiserver pid $(cat "$PIDS/kube-apiserver.pid")); hack/e2e/down.sh first"
	exit 0
fi
if [ -d "$PIDS" ] && [ -n "$(ls -A "$PIDS" 2>/dev/null)" ]; then
	log "leftovers of an earlier run in $PIDS: running down.sh first"
	"$E2E_HERE/down.sh"
fi
for f in kube-apiserver kubelet etcd kubectl; do
	[ -x "$B/$f" ] || { log "$B/$f missing: run hack/e2e/build.sh"; exit 1; }
done
for f in containerd runc coredns; do
	[ -x "$EB/$f" ] || { log "$EB/$f missing: run hack/e2e/build.sh"; exit 1; }
done

rm -rf "$R" "$L"
mkdir -p "$R" "$PIDS" "$L" "$P"
# The host before: down.sh compares the host after with it.
rm -rf "$C/host-before" "$C/host-after"
"$E2E_HERE/hostcheck.sh" snapshot "$C/host-before"
for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s" 2>/dev/null)"; done >"$C/host-sysctls.restore"

# 1. PKI (kept between runs).
gen_pki() {
	local cn san
	cd "$P"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=nebula-br-e2e-ca" 2>/dev/null
	cert() { # NAME CN O [SANS]
		local n=$1 cn=$2 o=$3 san=${4:-} subj
		subj="/CN=$cn"
		[ -n "$o" ] && subj="/O=$o/CN=$cn"
		openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "$subj" 2>/dev/null
		if [ -n "$san" ]; then
			printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$san" >"$n.ext"
		else
			printf "extendedKeyUsage=clientAuth\n" >"$n.ext"
		fi
		openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$n.crt" -days 3650 -extfile "$n.ext" 2>/dev/null
		rm -f "$n.csr" "$n.ext"
	}
	cert apiserver kube-apiserver "" "IP:$NODE_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
	cert kubelet-serving $NODE "" "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE"
	cert admin admin system:masters
	cert kcm system:kube-controller-manager ""
	cert scheduler system:kube-scheduler ""
	cert kubelet system:node:$NODE system:nodes
	cert kube-proxy system:kube-proxy ""
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	for n in admin kcm scheduler kubelet kube-proxy; do
		cat >"$n.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority: $P/ca.crt, server: $APISERVER}
  name: e2e
contexts:
- context: {cluster: e2e, user: $n}
  name: e2e
current-context: e2e
users:
- name: $n
  user: {client-certificate: $P/$n.crt, client-key: $P/$n.key}
EOF
	done
	cd - >/dev/null
}
[ -f "$P/admin.kubeconfig" ] || { log "PKI"; gen_pki; }

# 2. Network.
log "network: cni0 $NODE_IP/16, route $SVC_CIDR, FORWARD drop"
ip link show cni0 >/dev/null 2>&1 || ip link add cni0 type bridge
ip addr replace $NODE_IP/16 dev cni0
ip link set cni0 up
ip route replace $SVC_CIDR dev cni0
iptables -C FORWARD -s $POD_CIDR ! -d $POD_CIDR -m comment --comment $TAG -j DROP 2>/dev/null ||
	iptables -I FORWARD -s $POD_CIDR ! -d $POD_CIDR -m comment --comment $TAG -j DROP

# 3. Configuration.
mkdir -p "$R/cni/net.d" "$R/cni/ipam" "$R/kubelet" "$R/pod-logs" "$R/containerd" "$R/pv"
cat >"$R/containerd.toml" <<EOF
version = 3
root = "$R/containerd/root"
state = "$R/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$R/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins.'io.containerd.internal.v1.opt']
  path = "$R/containerd/opt"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "localhost/nebula-br/pause:e2e"
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # This VM lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below 0.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$EB/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$EB/cni"]
    conf_dir = "$R/cni/net.d"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
cat >"$R/cni/net.d/10-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "e2e",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$R/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "10.88.1.0", "rangeEnd": "10.88.255.254", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
echo "nameserver $NODE_IP" >"$R/resolv.conf"
cat >"$R/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: AlwaysAllow}
tlsCertFile: $P/kubelet-serving.crt
tlsPrivateKeyFile: $P/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: $R/resolv.conf
podLogsDir: $R/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
serializeImagePulls: false
maxPods: 110
EOF
cat >"$R/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $P/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
cat >"$R/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    log . "{remote} {type} {name} {rcode} {duration}"
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $P/admin.kubeconfig e2e
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
EOF

# 4. Processes.
start() { # NAME CMD...: a session leader (its group is stopped with it), PID in run/pids
	local n=$1
	shift
	setsid "$@" >"$L/$n.log" 2>&1 </dev/null &
	echo $! >"$PIDS/$n.pid"
	log "started $n (pid $!)"
}
curl_api() { curl -sf --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" "$APISERVER$1"; }

start etcd "$B/etcd" --name e2e --data-dir "$R/etcd" --listen-client-urls http://$ETCD_CLIENT \
	--advertise-client-urls http://$ETCD_CLIENT --listen-peer-urls http://$ETCD_PEER \
	--initial-advertise-peer-urls http://$ETCD_PEER --initial-cluster e2e=http://$ETCD_PEER \
	--listen-metrics-urls "" --unsafe-no-fsync --quota-backend-bytes=2147483648
waitfor 60 etcd curl -sf http://$ETCD_CLIENT/health
start kube-apiserver "$B/kube-apiserver" --etcd-servers=http://$ETCD_CLIENT \
	--bind-address=$NODE_IP --advertise-address=$NODE_IP --secure-port=6443 \
	--service-cluster-ip-range=$SVC_CIDR --client-ca-file="$P/ca.crt" \
	--tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
	--service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--authorization-mode=Node,RBAC --allow-privileged=true \
	--kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
	--kubelet-certificate-authority="$P/ca.crt" --kubelet-preferred-address-types=InternalIP --profiling=false
waitfor 120 kube-apiserver curl_api /readyz
start kube-controller-manager "$B/kube-controller-manager" --kubeconfig="$P/kcm.kubeconfig" \
	--authentication-kubeconfig="$P/kcm.kubeconfig" --authorization-kubeconfig="$P/kcm.kubeconfig" \
	--bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --service-account-private-key-file="$P/sa.key" \
	--root-ca-file="$P/ca.crt" --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
	--use-service-account-credentials=true --service-cluster-ip-range=$SVC_CIDR --profiling=false
start kube-scheduler "$B/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" \
	--authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --profiling=false
start containerd "$EB/containerd" --config "$R/containerd.toml"
waitfor 60 containerd "$EB/ctr" --address "$CONTAINERD_SOCK" version
for img in "$IMAGES"/*.tar; do
	"$EB/ctr" --address "$CONTAINERD_SOCK" -n k8s.io images import "$img" >/dev/null 2>>"$L/ctr-import.log"
done
log "imported $(ls "$IMAGES"/*.tar | wc -l) images"
start kubelet "$B/kubelet" --config="$R/kubelet.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
	--root-dir="$R/kubelet" --hostname-override=$NODE --node-ip=$NODE_IP --v=1
start kube-proxy "$B/kube-proxy" --config="$R/kube-proxy.yaml"
start coredns "$EB/coredns" -conf "$R/Corefile"

waitfor 120 "node $NODE" kubectl get node $NODE
kubectl wait --for=condition=Ready node/$NODE --timeout=120s >/dev/null
log "node $NODE Ready $(($(date +%s) - T0))s after up.sh started"
echo "$(($(date +%s) - T0))" >"$L/node-ready-seconds"

# 5. Storage: StorageClass "standard" (default) over hostPath PVs.
{
	cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
	for i in $(seq -w 1 40); do
		mkdir -p "$R/pv/pv$i"
		cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: e2e-pv$i
spec:
  storageClassName: standard
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $R/pv/pv$i, type: Directory}
EOF
	done
} >"$R/storage.yaml"
kubectl apply -f "$R/storage.yaml" >/dev/null
log "storage: StorageClass standard, 40 hostPath PVs"

# 6. MinIO in the cluster.
kubectl apply -f "$E2E_HERE/manifests/minio.yaml" >/dev/null
kubectl -n minio rollout status deploy/minio --timeout=180s >/dev/null
log "MinIO ready: http://minio.minio.svc.cluster.local:9000 ($(kubectl -n minio get svc minio -o jsonpath='{.spec.clusterIP}'):9000)"
log "up in $(($(date +%s) - T0))s; KUBECONFIG=$KUBECONFIG"
