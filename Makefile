# The README's two commands are `make demo` and `make test`.
GO      ?= go
BIN     := $(CURDIR)/bin
PKGS    := ./...
TESTFLAGS ?= -count=1 -timeout 40m
# The e2e cluster's state (hack/e2e): binaries, images, PKI, logs, run/.
E2E_CACHE := $(CURDIR)/.cache/e2e

.PHONY: all build generate test bench lint demo clean tools e2e e2e-up e2e-down interop

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...
	ln -sf br $(BIN)/br-ent

generate:
	hack/gen-thrift.sh
	hack/gen-proto.sh
	hack/gen-k8s.sh

# tools: the pinned programs tests run (hack/tools/go.mod), built into bin/.
tools:
	hack/tools/install.sh minio fake-gcs-server
	hack/tools/install.sh kube-apiserver etcd controller-gen

test: build tools
	$(GO) test $(TESTFLAGS) $(PKGS)

bench: build tools
	hack/tools/install.sh rclone
	hack/bench.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

demo: build
	hack/demo.sh

# e2e: a single-node Kubernetes built from source (hack/e2e, state in
# $(E2E_CACHE)), the suite test/e2e on it, the host restored after.
e2e:
	hack/e2e/run.sh

e2e-up:
	hack/e2e/build.sh
	hack/e2e/up.sh

e2e-down:
	hack/e2e/down.sh

# interop: cross-checks of our build against upstream's own tools (nebula-go
# clients, nebula-console, nebula-agent, nebula-br), which must be built
# beforehand into INTEROP_BIN (test/interop/doc.go). Not part of test; CI
# never runs it.
INTEROP_BIN ?= $(CURDIR)/.cache/interop/bin
interop: build
	INTEROP_BIN=$(INTEROP_BIN) $(GO) test -tags interop -count=1 -timeout 60m -v ./test/interop/

# A running e2e cluster is stopped first: .cache holds its live mounts.
clean:
	@if [ -d .cache/e2e/run/pids ]; then hack/e2e/down.sh; fi
	rm -rf $(BIN) .cache
