#!/usr/bin/env bash
# hack/tools/install.sh NAME... builds the pinned tools into the repository's
# bin/ (NAME: minio, rclone). hack/tools/go.mod pins the versions (its tool
# directives; to move one: cd hack/tools && go get -tool MODULE@VERSION &&
# go mod tidy). A tool whose bin/NAME exists and whose bin/.NAME.version
# matches is skipped, so a rerun is instant. Needs only Go and the module
# proxy (no C compiler: the builds are CGO_ENABLED=0). Prints one line per
# tool. On two cores, from nothing: minio about 3 min, rclone about 2 min.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/bin"
GO=${GO:-go}

if [ $# -eq 0 ]; then
	echo "usage: $0 NAME... (NAME: minio, rclone)" >&2
	exit 2
fi

# pinned MODULE: the version hack/tools/go.mod requires (read without running go).
pinned() {
	awk -v m="$1" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$here/go.mod"
}

mkdir -p "$bin"
for name in "$@"; do
	case "$name" in
	minio) mod=github.com/minio/minio ;;
	rclone) mod=github.com/rclone/rclone ;;
	*)
		echo "$0: unknown tool $name (known: minio, rclone)" >&2
		exit 2
		;;
	esac
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
		tmp="$bin/.$name.tmp.$$"
		trap 'rm -f "$tmp"' EXIT
		start=$(date +%s)
		(cd "$here" && GOWORK=off CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o "$tmp" "$mod")
		mv -f "$tmp" "$out"
		echo "$version" >"$stamp"
		echo "$name $version: built bin/$name in $(($(date +%s) - start))s"
	)
done
