#!/usr/bin/env bash
# Regenerates the Go thrift bindings in internal/nebula/gen from our IDL in
# internal/nebula/idl. Idempotent: the generated tree is wiped first.
#
# Needs the Apache thrift compiler 0.17.0 (matching github.com/apache/thrift
# v0.17.0 in go.mod); Debian ships it as thrift-compiler.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
idl="$root/internal/nebula/idl"
out="$root/internal/nebula/gen"
module="github.com/nebula-open/nebula-br"
want="0.17.0"

if ! command -v thrift >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq thrift-compiler >/dev/null
	else
		echo "gen-thrift: thrift $want not found (install Debian's thrift-compiler)" >&2
		exit 1
	fi
fi

have="$(thrift --version | awk '{print $3}')"
if [ "$have" != "$want" ]; then
	echo "gen-thrift: need thrift $want, found $have" >&2
	exit 1
fi

rm -rf "$out"
mkdir -p "$out"

# package_prefix makes cross-file imports module paths, e.g.
# $module/internal/nebula/gen/nebula for common.thrift.
opts="package_prefix=$module/internal/nebula/gen/,thrift_import=github.com/apache/thrift/lib/go/thrift,skip_remote"
for f in common meta storage graph; do
	thrift -I "$idl" --gen "go:$opts" -out "$out" "$idl/$f.thrift"
done

# skip_remote should already prevent the *-remote CLIs; make sure.
find "$out" -type d -name '*-remote' -prune -exec rm -rf {} +

# NebulaGraph's unions may legitimately be empty: an unset common.Value is
# the __EMPTY__ value and metad leaves ExecResp.id unset on errors. Apache
# thrift's Go writer rejects (or, for a nil pointer, panics on) unions with
# no member set, so relax that to "at most one" and make the count nil-safe.
find "$out" -name '*.go' -exec sed -i \
	-e '/^func (p \*[A-Za-z0-9_]*) CountSetFields[A-Za-z0-9_]*() int {$/a\
	if p == nil {\
		return 0\
	}' \
	-e 's/^\([[:space:]]*if c := p\.CountSetFields[A-Za-z0-9_]*(); c\) != 1 {$/\1 > 1 {/' \
	-e 's/write union: exactly one field must be set/write union: at most one field may be set/' \
	{} +

gofmt -w "$out"
