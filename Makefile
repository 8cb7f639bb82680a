# The README's two commands are `make demo` and `make test`.
GO      ?= go
BIN     := $(CURDIR)/bin
PKGS    := ./...
TESTFLAGS ?= -count=1 -timeout 40m

.PHONY: all build generate test bench lint demo clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...
	ln -sf br $(BIN)/br-ent

generate:
	hack/gen-thrift.sh
	hack/gen-proto.sh

test: build
	$(GO) test $(TESTFLAGS) $(PKGS)

bench: build
	hack/bench.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

demo: build
	hack/demo.sh

clean:
	rm -rf $(BIN) .cache
