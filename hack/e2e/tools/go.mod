// Tools of the e2e harness (hack/e2e): mkimage writes container images
// without Docker or a registry, pause is the pod sandbox.
module github.com/nebula-open/nebula-br/hack/e2e/tools

go 1.25.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
