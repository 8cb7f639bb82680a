#!/usr/bin/env bash
# hack/tools/install.sh NAME... builds the pinned tools into the repository's
# bin/ (NAME: minio, fake-gcs-server, rclone, kube-apiserver, etcd,
# controller-gen; for the e2e cluster of hack/e2e also helm (helm.sh/helm/v3's
# CLI, which installs the charts) and kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy and kubectl, from the same k8s.io/kubernetes).
# hack/tools/go.mod pins the versions (its tool directives; to move one:
# cd hack/tools && go get -tool MODULE@VERSION && go mod tidy). A tool whose
# bin/NAME exists and whose bin/.NAME.version matches is skipped, so a rerun
# is instant. Needs only Go and the module proxy (no C compiler: the builds
# are CGO_ENABLED=0). Prints one line per tool. On two cores, from nothing:
# minio about 3 min, fake-gcs-server about 1 min, rclone about 2 min,
# kube-apiserver about 4.5 min, etcd and controller-gen about 40 s each
# (etcd in seconds after kube-apiserver, whose build cache it shares).
#
# fake-gcs-server is the Google Cloud Storage API server of the gs:// tests
# (internal/objstore/gcstest), as minio is the S3 one (miniotest).
#
# kube-apiserver and etcd are envtest's control plane (internal/envtest).
# kube-apiserver comes from k8s.io/kubernetes, whose go.mod requires its
# staging modules (k8s.io/api, k8s.io/client-go, ...) as v0.0.0 and replaces
# them with its own tree: go.mod here replaces each with the published
# v0.Y.Z of the same release. To move Kubernetes to v1.Y.Z, update every
# such replace line to v0.Y.Z, then go get -tool
# k8s.io/kubernetes/cmd/kube-apiserver@v1.Y.Z (and check the etcd release
# that Kubernetes version is tested with).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/bin"
GO=${GO:-go}

if [ $# -eq 0 ]; then
	echo "usage: $0 NAME... (NAME: minio, fake-gcs-server, rclone, kube-apiserver, etcd, controller-gen, helm, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl)" >&2
	exit 2
fi

# pinned MODULE: the version hack/tools/go.mod requires (read without running go).
pinned() {
	awk -v m="$1" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$here/go.mod"
}

mkdir -p "$bin"
for name in "$@"; do
	# mod: the module whose pinned version names the build; pkg: the main
	# package built (default: mod).
	pkg=
	case "$name" in
	minio) mod=github.com/minio/minio ;;
	fake-gcs-server) mod=github.com/fsouza/fake-gcs-server ;;
	rclone) mod=github.com/rclone/rclone ;;
	kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy | kubectl)
		mod=k8s.io/kubernetes pkg=k8s.io/kubernetes/cmd/$name ;;
	etcd) mod=go.etcd.io/etcd/server/v3 ;;
	controller-gen) mod=sigs.k8s.io/controller-tools pkg=sigs.k8s.io/controller-tools/cmd/controller-gen ;;
	helm) mod=helm.sh/helm/v3 pkg=helm.sh/helm/v3/cmd/helm ;;
	*)
		echo "$0: unknown tool $name (known: minio, fake-gcs-server, rclone, kube-apiserver, etcd, controller-gen, helm, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl)" >&2
		exit 2
		;;
	esac
	pkg=${pkg:-$mod}
	version=$(pinned "$mod")
	if [ -z "$version" ]; then
		echo "$0: $mod is not pinned in $here/go.mod" >&2
		exit 1
	fi
	out="$bin/$name"
	stamp="$bin/.$name.version"
	current() { [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; }
	if current; then
		echo "$name $version: up to date (bin/$name)"
		continue
	fi
	(
		# One build at a time per tool (test packages may ask concurrently).
		if command -v flock >/dev/null 2>&1; then
			exec 9>"$bin/.$name.lock"
			flock 9
		fi
		if current; then
			echo "$name $version: up to date (bin/$name, built meanwhile)"
			exit 0
		fi
		ldflags="-s -w"
		if [ "$name" = minio ]; then
			# MinIO reads its version from these (as its own release builds
			# set them); a pseudo-version carries the commit's time and hash.
			ts=$(echo "$version" | sed -n 's/^v0\.0\.0-\([0-9]\{14\}\)-\([0-9a-f]\{12\}\)$/\1 \2/p')
			if [ -n "$ts" ]; then
				read -r t commit <<<"$ts"
				iso="${t:0:4}-${t:4:2}-${t:6:2}T${t:8:2}:${t:10:2}:${t:12:2}Z"
				tag="DEVELOPMENT.${iso//:/-}"
				ldflags="$ldflags -X github.com/minio/minio/cmd.Version=$iso -X github.com/minio/minio/cmd.ReleaseTag=$tag"
				ldflags="$ldflags -X github.com/minio/minio/cmd.CommitID=$commit -X github.com/minio/minio/cmd.ShortCommitID=$commit"
				ldflags="$ldflags -X github.com/minio/minio/cmd.CopyrightYear=${t:0:4}"
			fi
		fi
		if [ "$mod" = k8s.io/kubernetes ]; then
			# What /version reports (Kubernetes' own builds set these; the
			# default is v0.0.0-master).
			minor=$(echo "$version" | cut -d. -f2)
			cb=k8s.io/component-base/version
			ldflags="$ldflags -X $cb.gitVersion=$version -X $cb.gitMajor=1 -X $cb.gitMinor=$minor -X $cb.gitTreeState=clean"
			ldflags="$ldflags -X $cb.buildDate=1970-01-01T00:00:00Z"
			if [ "$name" = kubectl ]; then
				# kubectl version's client half.
				cv=k8s.io/client-go/pkg/version
				ldflags="$ldflags -X $cv.gitVersion=$version -X $cv.gitMajor=1 -X $cv.gitMinor=$minor -X $cv.gitTreeState=clean"
			fi
		fi
		if [ "$name" = controller-gen ]; then
			# What generated CRDs record in controller-gen.kubebuilder.io/version.
			ldflags="$ldflags -X sigs.k8s.io/controller-tools/pkg/version.version=$version"
		fi
		if [ "$name" = helm ]; then
			# What helm version reports (helm's release builds set it).
			ldflags="$ldflags -X helm.sh/helm/v3/internal/version.version=$version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
		fi
		tmp="$bin/.$name.tmp.$$"
		trap 'rm -f "$tmp"' EXIT
		start=$(date +%s)
		(cd "$here" && GOWORK=off CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg")
		mv -f "$tmp" "$out"
		echo "$version" >"$stamp"
		echo "$name $version: built bin/$name in $(($(date +%s) - start))s"
	)
done
