# hack/e2e/lib.sh: paths and helpers shared by up.sh, down.sh and hostcheck.sh
# (sourced, not run).

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_HERE/../.." && pwd)
C="$ROOT/.cache/e2e"     # everything the cluster writes lives here
B="$ROOT/bin"            # kube-*, kubectl, kubelet, etcd, minio (hack/tools)
EB="$C/bin"              # containerd, runc, coredns, cni/, mkimage, pause
R="$C/run"               # one cluster's state: wiped by down.sh (but pki/)
P="$C/pki"               # CA, certificates, kubeconfigs (kept between runs)
L="$C/logs"              # component logs (kept until the next up.sh)
PIDS="$R/pids"
IMAGES="$C/images"
export KUBECONFIG="$P/admin.kubeconfig"

# The cluster needs root: network namespaces, iptables, mounts, cgroups.
need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "e2e: $(basename "$0") needs root (network namespaces, iptables, mounts, cgroups): run it as root" >&2
		exit 1
	fi
}
export PATH="$B:$EB:$PATH"

NODE=e2e-node
NODE_IP=10.88.0.1
POD_CIDR=10.88.0.0/16
SVC_CIDR=10.96.0.0/12
APISERVER=https://$NODE_IP:6443
ETCD_CLIENT=127.0.0.1:12379 # not 2379: envtest and others may use it
ETCD_PEER=127.0.0.1:12380
CONTAINERD_SOCK="$R/containerd/containerd.sock"
TAG=e2e-nebula-br # comment on our iptables rule

# Host paths that the components create outside .cache/e2e whatever their
# configuration: down.sh removes each one that did not exist before up.sh.
HOST_PATHS=(/run/containerd /run/netns /var/run/netns /var/lib/cni /var/log/containers /var/log/pods /var/lib/kubelet /etc/cni /opt/cni /var/lib/containerd)

# The sysctls the kubelet, kube-proxy and the bridge plugin may change.
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys
	kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv4.conf.default.forwarding
	net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
	net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
	net.netfilter.nf_conntrack_tcp_timeout_close_wait net.ipv6.conf.all.forwarding net.ipv6.conf.default.forwarding
	net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.vs.conntrack)

log() { echo "e2e $(date +%T) $*"; }

# waitfor SECONDS DESCRIPTION CMD...: poll CMD once a second.
waitfor() {
	local n=$1 what=$2 i
	shift 2
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 1
	done
	log "timeout (${n}s) waiting for $what"
	return 1
}

# running PID: the process exists and is not a zombie (a killed daemon whose
# parent, the init of this machine, has not reaped it yet).
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
alive() { [ -f "$PIDS/$1.pid" ] && running "$(cat "$PIDS/$1.pid")"; }
