#!/usr/bin/env bash
# Regenerates the Go gRPC bindings of the br-agent APIs: ours
# (internal/agent/pb/agent.proto) and nebula-agent's as upstream puts it on
# the wire (internal/agent/upstreampb/nebula_agent.proto), each into its
# directory's *.pb.go.
#
# Reproducible: protoc is Debian's protobuf-compiler (installed with apt-get
# when missing and we are root), the Go plugins are built at pinned versions
# into bin/. Idempotent: the generated files are replaced.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pbdir="$root/internal/agent/pb"
bin="$root/bin"

# Pinned versions. protoc-gen-go must not be newer than the
# google.golang.org/protobuf in go.mod, protoc-gen-go-grpc's output needs a
# google.golang.org/grpc that supports it (see go.mod).
protoc_want="3.21.12"
protoc_gen_go="google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"
protoc_gen_go_grpc="google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2"

if ! command -v protoc >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
	else
		echo "gen-proto: protoc $protoc_want not found (install Debian's protobuf-compiler)" >&2
		exit 1
	fi
fi

have="$(protoc --version | awk '{print $2}')"
if [ "$have" != "$protoc_want" ]; then
	echo "gen-proto: need protoc (libprotoc) $protoc_want, found $have" >&2
	exit 1
fi

mkdir -p "$bin"
GOBIN="$bin" go install "$protoc_gen_go"
GOBIN="$bin" go install "$protoc_gen_go_grpc"

# Run from each proto's directory so the generated files record the bare
# file name rather than a path that depends on the checkout.
gen() {
	local dir="$1" file="$2"
	rm -f "$dir"/*.pb.go
	(
		cd "$dir"
		PATH="$bin:$PATH" protoc -I . \
			--plugin=protoc-gen-go="$bin/protoc-gen-go" \
			--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
			--go_out=. --go_opt=paths=source_relative \
			--go-grpc_out=. --go-grpc_opt=paths=source_relative \
			"$file"
	)
	gofmt -w "$dir"
}
gen "$pbdir" agent.proto
gen "$root/internal/agent/upstreampb" nebula_agent.proto
