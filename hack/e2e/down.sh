#!/usr/bin/env bash
# hack/e2e/down.sh stops the cluster of up.sh and restores the host:
#  1. stops the controllers (no pod is recreated), deletes every pod so the
#     kubelet stops them cleanly (CNI DEL, netns, mounts, cgroups);
#  2. stops each process by the PID recorded in .cache/e2e/run/pids (TERM,
#     KILL after 20 s); then containerd's shims, found by their executable
#     (.cache/e2e/bin/containerd-shim-runc-v2), and any container left;
#  3. removes what is left: mounts under our directories and /run/netns/cni-*,
#     network namespaces, kube-proxy's and the CNI plugins' iptables chains
#     and our FORWARD rule, the route and cni0, the kubepods cgroups, host
#     paths that did not exist before up.sh; restores the sysctls;
#  4. compares the host with the snapshot up.sh took (hostcheck.sh) and exits
#     1 if anything differs; deletes .cache/e2e/run (etcd, containerd, PVs).
# Logs stay in .cache/e2e/logs until the next up.sh.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$(date +%s)

stop_pid() { # NAME
	local n=$1 p i
	[ -f "$PIDS/$n.pid" ] || return 0
	p=$(cat "$PIDS/$n.pid")
	if running "$p"; then
		kill -TERM "$p" 2>/dev/null
		for ((i = 0; i < 40; i++)); do running "$p" || break; sleep 0.5; done
		if running "$p"; then
			log "$n (pid $p) still running after 20s: KILL"
			kill -KILL "$p" 2>/dev/null
			sleep 0.5
		fi
		log "stopped $n (pid $p)"
	fi
	rm -f "$PIDS/$n.pid"
}

# 1. Pods, through the kubelet.
if alive kube-apiserver && alive kubelet && alive containerd && kubectl get --raw /readyz >/dev/null 2>&1; then
	stop_pid kube-controller-manager
	stop_pid kube-scheduler
	kubectl delete pods --all -A --grace-period=2 --wait=false >/dev/null 2>&1
	if ! waitfor 90 "pods to stop" bash -c '[ -z "$(kubectl get pods -A -o name 2>/dev/null)" ]'; then
		kubectl get pods -A -o wide 2>&1 | head -20
	fi
	waitfor 30 "containers to stop" bash -c "[ -z \"\$('$EB/ctr' --address '$CONTAINERD_SOCK' -n k8s.io tasks ls -q 2>/dev/null)\" ]"
fi

# 2. Processes, by PID.
for n in coredns kube-proxy kubelet kube-controller-manager kube-scheduler containerd kube-apiserver etcd; do
	stop_pid "$n"
done
for f in "$PIDS"/*.pid; do [ -f "$f" ] && stop_pid "$(basename "$f" .pid)"; done
# Shims (containerd starts them in their own sessions) and their containers.
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = "$EB/containerd-shim-runc-v2" ] || continue
	log "leftover shim ${p#/proc/}: KILL"
	kill -KILL "${p#/proc/}" 2>/dev/null
done
for root in /run/containerd/runc/k8s.io "$R/containerd/state/runc/k8s.io"; do
	[ -d "$root" ] || continue
	for id in $("$EB/runc" --root "$root" list -q 2>/dev/null); do
		log "leftover container $id: runc delete --force"
		"$EB/runc" --root "$root" delete --force "$id"
	done
done
for p in /proc/[0-9]*; do # container processes still in kubepods
	grep -q '/kubepods' "$p/cgroup" 2>/dev/null || continue
	log "leftover container process ${p#/proc/} ($(readlink "$p/exe" 2>/dev/null)): KILL"
	kill -KILL "${p#/proc/}" 2>/dev/null
done

# 3. Leftovers.
# Mounts: deepest first.
awk '{print $5}' /proc/self/mountinfo | grep -E "^($C/|/run/containerd/|/run/netns/cni-|/var/run/netns/cni-)" | sort -r |
	while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
for n in $(ls /run/netns 2>/dev/null | grep '^cni-'); do ip netns delete "$n" 2>/dev/null; done
if ! grep -qx /run/netns "$C/host-before/paths" 2>/dev/null && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
	mountpoint -q /run/netns && umount /run/netns
	rmdir /run/netns
fi
# iptables: kube-proxy's chains, then anything else of the kubelet, the
# CNI plugins (KUBE-*, CNI-*) or ours.
[ -x "$B/kube-proxy" ] && "$B/kube-proxy" --cleanup >/dev/null 2>&1
for v in iptables ip6tables; do
	command -v $v-save >/dev/null || continue
	if $v-save 2>/dev/null | grep -qE "KUBE-|CNI-|$TAG"; then
		$v-save 2>/dev/null | grep -vE "KUBE-|CNI-|$TAG" | $v-restore
	fi
done
# nf_tables tables that did not exist before (iptables-nft creates filter,
# nat, mangle on first use) and are empty of rules now.
if command -v nft >/dev/null && [ -f "$C/host-before/nft-tables" ]; then
	nft list tables 2>/dev/null | while read -r _ fam name; do
		grep -qx "table $fam $name" "$C/host-before/nft-tables" && continue
		if nft -s list table "$fam" "$name" 2>/dev/null | grep -vqE '^\s*(table|chain|type|policy|\}|$)'; then
			log "nf_tables table $fam $name has rules: kept"
			continue
		fi
		nft delete table "$fam" "$name"
	done
fi
ip route del $SVC_CIDR dev cni0 2>/dev/null
ip link del cni0 2>/dev/null
for v in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do
	grep -qx "$v" "$C/host-before/links" 2>/dev/null || ip link del "$v" 2>/dev/null
done
# cgroups the kubelet made (cgroupfs driver), children first.
for ss in /sys/fs/cgroup/*/; do
	[ -d "${ss}kubepods" ] && find "${ss}kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
	[ -d "${ss}kubepods" ] && log "cgroup ${ss}kubepods could not be removed"
done
# sysctls.
if [ -f "$C/host-sysctls.restore" ]; then
	while IFS='=' read -r k v; do
		[ -n "$v" ] && [ "$(sysctl -n "$k" 2>/dev/null)" != "$v" ] && sysctl -q -w "$k=$v"
	done <"$C/host-sysctls.restore"
fi
# Host paths the components created outside .cache/e2e (libcni's cache,
# the kubelet's /var/log/containers links, ...).
for pth in "${HOST_PATHS[@]}"; do
	[ -e "$pth" ] || continue
	grep -qx "$pth" "$C/host-before/paths" 2>/dev/null && continue
	[ -L "$pth" ] && continue # /var/run -> /run
	awk '{print $5}' /proc/self/mountinfo | grep -q "^$pth" && { log "$pth still has mounts: kept"; continue; }
	rm -rf "$pth"
done

# 4. Check and wipe.
rc=0
if [ -d "$C/host-before" ]; then
	rm -rf "$C/host-after"
	"$E2E_HERE/hostcheck.sh" snapshot "$C/host-after"
	"$E2E_HERE/hostcheck.sh" compare "$C/host-before" "$C/host-after" || rc=1
fi
if awk '{print $5}' /proc/self/mountinfo | grep -q "^$R/"; then
	log "mounts left under $R: not deleting it"
	rc=1
else
	rm -rf "$R"
fi
log "down in $(($(date +%s) - T0))s"
exit $rc
