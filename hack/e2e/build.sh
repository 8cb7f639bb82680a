#!/usr/bin/env bash
# hack/e2e/build.sh builds everything the e2e cluster runs, pinned, from the
# Go module proxy, and the project's images, without Docker or a registry:
#
#   bin/ (shared with make tools)  kube-apiserver, kube-controller-manager,
#                                  kube-scheduler, kubelet, kube-proxy, kubectl, helm,
#                                  etcd, minio (hack/tools/go.mod: Kubernetes
#                                  v1.37.2, etcd v3.7.3, MinIO)
#   .cache/e2e/bin                 containerd, ctr, containerd-shim-runc-v2,
#                                  runc, coredns, mkimage, pause; cni/ (bridge,
#                                  loopback, host-local, portmap)
#   .cache/e2e/static              nebula-lite, br, br-agent, nebula-operator
#                                  (CGO_ENABLED=0: statically linked)
#   .cache/e2e/images/*.tar        localhost/nebula-br/{nebula-lite,br,br-agent,
#                                  nebula-operator,minio,pause}:e2e
#
# A pinned program whose .NAME.version stamp matches is not rebuilt, so a
# second run only rebuilds the project's binaries (from Go's build cache) and
# rewrites the images. Installs its Debian prerequisites (iptables,
# nftables, libseccomp-dev for runc, busybox-static for the images'
# /bin/sh) when missing. Prints each step with its duration.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/e2e"
bin="$cache/bin"
static="$cache/static"
images="$cache/images"
GO=${GO:-go}
export GOWORK=off GOFLAGS=-buildvcs=false

# Pinned versions (the recipe in ../shared/local-k8s, proven on this VM kind).
CONTAINERD_VERSION=v2.2.9
RUNC_VERSION=v1.3.6
CNI_VERSION=v1.9.1
COREDNS_VERSION=v1.14.7

mkdir -p "$bin/cni" "$static" "$images"
t0=$(date +%s)
step() { # step NAME CMD...: run (set -e stops the script on failure), print its duration
	local name=$1 s
	shift
	s=$(date +%s)
	"$@"
	echo "e2e build: $name: $(($(date +%s) - s))s"
}

# 1. Debian prerequisites.
apt_prereqs() {
	local missing=()
	command -v iptables >/dev/null || missing+=(iptables)
	command -v nft >/dev/null || missing+=(nftables) # down.sh removes the nf_tables tables iptables-nft made
	[ -e /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
	[ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' || missing+=(busybox-static)
	command -v gcc >/dev/null || missing+=(gcc libc6-dev)
	command -v pkg-config >/dev/null || missing+=(pkg-config)
	command -v openssl >/dev/null || missing+=(openssl)
	command -v file >/dev/null || missing+=(file)
	command -v flock >/dev/null || missing+=(util-linux)
	if [ ${#missing[@]} -gt 0 ]; then
		echo "e2e build: apt-get install ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}
step apt apt_prereqs

# 2. Kubernetes, etcd and MinIO from hack/tools/go.mod (into bin/).
step kubernetes "$root/hack/tools/install.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl minio helm

# 3. Container runtime, CNI, DNS: go install MODULE/PKG@VERSION into .cache/e2e/bin.
stamped() { # stamped NAME VERSION: is the build of NAME at VERSION there?
	[ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]
}
install_pinned() { # install_pinned NAME VERSION GOBIN ENV... -- go install ARGS...
	local name=$1 version=$2 gobin=$3 s
	shift 3
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	if stamped "$name" "$version"; then
		echo "e2e build: $name $version: up to date"
		return 0
	fi
	s=$(date +%s)
	env GOBIN="$gobin" "${envs[@]}" "$GO" install -trimpath "$@"
	echo "$version" >"$bin/.$name.version"
	echo "e2e build: $name $version: built in $(($(date +%s) - s))s"
}
cd "$cache"
step containerd install_pinned containerd "$CONTAINERD_VERSION" "$bin" CGO_ENABLED=0 -- \
	-tags 'no_btrfs no_devmapper no_zfs' \
	-ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
	"github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
	"github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
# runc needs cgo (its nsexec is C) and libseccomp for the seccomp tag.
step runc install_pinned runc "$RUNC_VERSION" "$bin" CGO_ENABLED=1 -- \
	-tags seccomp -ldflags "-s -w -X main.version=${RUNC_VERSION#v}" \
	"github.com/opencontainers/runc@$RUNC_VERSION"
step cni install_pinned cni "$CNI_VERSION" "$bin/cni" CGO_ENABLED=0 -- -ldflags "-s -w" \
	"github.com/containernetworking/plugins/plugins/main/bridge@$CNI_VERSION" \
	"github.com/containernetworking/plugins/plugins/main/loopback@$CNI_VERSION" \
	"github.com/containernetworking/plugins/plugins/ipam/host-local@$CNI_VERSION" \
	"github.com/containernetworking/plugins/plugins/meta/portmap@$CNI_VERSION"
step coredns install_pinned coredns "$COREDNS_VERSION" "$bin" CGO_ENABLED=0 -- -ldflags "-s -w" \
	"github.com/coredns/coredns@$COREDNS_VERSION"

# 4. The harness's own tools (hack/e2e/tools/go.mod).
step tools bash -c "cd '$here/tools' && CGO_ENABLED=0 '$GO' build -trimpath -ldflags '-s -w' -o '$bin/' ./mkimage ./pause"

# 5. The project's binaries, static.
build_static() {
	cd "$root"
	CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$static/" ./cmd/...
	local f
	for f in "$static"/*; do
		if ! file "$f" | grep -q 'statically linked'; then
			echo "e2e build: $f is not statically linked: $(file -b "$f")" >&2
			return 1
		fi
	done
}
step static build_static

# 6. Images (docker-archive tarballs; up.sh imports them into containerd).
busybox=/bin/busybox
build_images() {
	local m="$bin/mkimage" s="$static" tag=localhost/nebula-br
	"$m" -o "$images/pause.tar" -t $tag/pause:e2e -entrypoint /pause "$bin/pause:/pause"
	# nebula-lite laid out like NebulaGraph's images: the daemons answer to
	# their names (argv[0]); br-agent starts them through `nebula-lite service`.
	"$m" -o "$images/nebula-lite.tar" -t $tag/nebula-lite:e2e -workdir /usr/local/nebula \
		"$s/nebula-lite:/usr/local/nebula/bin/nebula-lite" \
		"/usr/local/nebula/bin/nebula-metad=>nebula-lite" \
		"/usr/local/nebula/bin/nebula-storaged=>nebula-lite" \
		"/usr/local/nebula/bin/nebula-graphd=>nebula-lite" \
		"/usr/local/bin/nebula-lite=>/usr/local/nebula/bin/nebula-lite" \
		"$busybox:/bin/busybox" "/bin/sh=>busybox"
	# br, also br-ent, with a shell for the reference page's /bin/sh -ecx.
	"$m" -o "$images/br.tar" -t $tag/br:e2e \
		"$s/br:/usr/local/bin/br" "/usr/local/bin/br-ent=>br" \
		"$busybox:/bin/busybox" "/bin/sh=>busybox"
	"$m" -o "$images/br-agent.tar" -t $tag/br-agent:e2e -entrypoint /usr/local/bin/br-agent \
		"$s/br-agent:/usr/local/bin/br-agent" "$s/nebula-lite:/usr/local/bin/nebula-lite" \
		"$busybox:/bin/busybox" "/bin/sh=>busybox"
	# config/manager/manager.yaml runs /nebula-operator as 65532.
	"$m" -o "$images/nebula-operator.tar" -t $tag/nebula-operator:e2e -entrypoint /nebula-operator -user 65532 \
		"$s/nebula-operator:/nebula-operator"
	"$m" -o "$images/minio.tar" -t $tag/minio:e2e -entrypoint /usr/local/bin/minio \
		"$root/bin/minio:/usr/local/bin/minio"
}
step images build_images

echo "e2e build: done in $(($(date +%s) - t0))s"
