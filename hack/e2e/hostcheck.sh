#!/usr/bin/env bash
# hack/e2e/hostcheck.sh snapshot DIR | compare BEFORE AFTER
#
# snapshot records what the e2e cluster may change on the host: links,
# addresses and routes, iptables/ip6tables rules (without counters),
# nf_tables tables and rules, mounts,
# network namespaces, the sysctls of lib.sh, top-level cgroups, the host
# paths of lib.sh, kernel modules and processes running our binaries.
# compare prints every difference and exits 1 if there is one.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

snapshot() {
	local d=$1 s
	mkdir -p "$d"
	ip -o link show | awk '{print $2}' | sed 's/@.*//' | sort >"$d/links"
	ip -o addr show | awk '{print $2, $3, $4}' | sort >"$d/addrs"
	ip route show table all 2>/dev/null | grep -v '^local\|^broadcast\|^multicast' | sort >"$d/routes"
	for s in iptables ip6tables; do
		if command -v $s-save >/dev/null; then
			$s-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/' >"$d/$s"
		else
			: >"$d/$s"
		fi
	done
	if command -v nft >/dev/null; then
		nft list tables 2>/dev/null | sort >"$d/nft-tables"
		nft -s list ruleset 2>/dev/null >"$d/nft-ruleset"
	fi
	awk '{print $5, $9}' /proc/self/mountinfo | sort >"$d/mounts"
	ls -1 /run/netns 2>/dev/null | sort >"$d/netns"
	for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s" 2>/dev/null)"; done >"$d/sysctls"
	for s in /sys/fs/cgroup/*/; do
		[ -d "$s" ] && find "$s" -mindepth 1 -maxdepth 1 -type d 2>/dev/null
	done | sort >"$d/cgroups"
	for s in "${HOST_PATHS[@]}"; do [ -e "$s" ] && echo "$s"; done >"$d/paths"
	awk '{print $1}' /proc/modules 2>/dev/null | sort >"$d/modules"
	ours_running >"$d/processes"
}

# ours_running: processes of the e2e cluster: executables under .cache/e2e,
# bin/ executables whose command line names .cache/e2e (tests of make test
# run bin/kube-apiserver and bin/etcd too), processes in a kubepods cgroup.
ours_running() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case "$exe" in
		"$EB"/* | "$C"/*) echo "${p#/proc/} $exe" ;;
		"$B"/*) tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "$C" && echo "${p#/proc/} $exe" ;;
		*) grep -q kubepods "$p/cgroup" 2>/dev/null && echo "${p#/proc/} $exe (kubepods)" ;;
		esac
	done
	# The loop's status is its last process's grep: a list, not a verdict
	# (under up.sh's set -e a non-matching last pid ended it silently).
	return 0
}

compare() {
	local a=$1 b=$2 f rc=0
	for f in "$a"/*; do
		f=$(basename "$f")
		if ! diff -q "$a/$f" "$b/$f" >/dev/null 2>&1; then
			echo "host differs: $f (< before, > after)"
			diff "$a/$f" "$b/$f" | grep '^[<>]' | head -40
			rc=1
		fi
	done
	[ $rc -eq 0 ] && echo "host restored: links, addresses, routes, iptables, ip6tables, nftables, mounts, netns, sysctls, cgroups, paths, modules, processes as before"
	return $rc
}

case "${1:-}" in
snapshot) snapshot "$2" ;;
compare) compare "$2" "$3" ;;
ours) ours_running ;;
*)
	echo "usage: $0 snapshot DIR | compare BEFORE AFTER | ours" >&2
	exit 2
	;;
esac
