#!/usr/bin/env bash
# Regenerates what the Kubernetes API of api/ implies, with controller-gen
# (pinned in hack/tools/go.mod, built into bin/ by hack/tools/install.sh):
#   - api/*/zz_generated.deepcopy.go      from the types (object)
#   - config/crd/bases/*.yaml             from the kubebuilder markers (crd)
#   - config/rbac/role.yaml               from the +kubebuilder:rbac markers
#                                         under internal/controller (rbac)
# Idempotent: the generated files are replaced (stale CRDs removed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

hack/tools/install.sh controller-gen >/dev/null
cg="$root/bin/controller-gen"

rm -f api/*/zz_generated.deepcopy.go config/crd/bases/*.yaml
"$cg" object paths=./api/...
"$cg" \
	crd:allowDangerousTypes=false \
	rbac:roleName=nebula-operator \
	paths=./api/... \
	paths=./internal/controller/... \
	output:crd:artifacts:config=config/crd/bases \
	output:rbac:artifacts:config=config/rbac
gofmt -w api

# The nebula-operator Helm chart carries the same CRDs (crds/, installed by
# `helm install`) and the manager's ClusterRole rules (files/role.yaml, read
# by its templates/rbac.yaml).
chart=charts/nebula-operator
mkdir -p "$chart/crds" "$chart/files"
rm -f "$chart"/crds/*.yaml
cp config/crd/bases/*.yaml "$chart/crds/"
cp config/rbac/role.yaml "$chart/files/role.yaml"
