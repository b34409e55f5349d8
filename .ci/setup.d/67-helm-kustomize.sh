# Helm and kustomize for the chart/kustomization tests (`k8s check CHART_DIR`, `k8s check
# KUSTOMIZE_DIR`; issue 24 item 8): Gatehouse renders through the real tools, as
# kube-linter and Kubescape do, so the tests need them. Both are built from the Go module
# proxy (the only way in without internet), cached under versioned names, niced.
# helm v3.21.4 is the newest v3 approved for this Go; kustomize v5.8.2 is the newest whose
# go.mod this Go (1.26) accepts.
# Fresh-machine cost, measured on this 2-core machine (load ~10, Go build cache warm from
# 66-kube.sh's k8s.io modules): helm ~4 min, kustomize ~1 min, mostly module downloads;
# allow ~8 min with a cold build cache. A re-run only checks.
set -euo pipefail
source .ci/env.sh
command -v go >/dev/null || { echo "67-helm-kustomize.sh: Go is required on PATH to build helm and kustomize" >&2; exit 1; }
BIN="$GATEHOUSE_TEST_CACHE/bin"
mkdir -p "$BIN"
HELM=v3.21.4
KUSTOMIZE=v5.8.2
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
# go_install_as NAME PACKAGE@VERSION [LDFLAGS]: builds into a temporary GOBIN, then moves the
# binary into the cache as NAME, so an interrupted build never leaves a half-written one there.
go_install_as() {
  local name=$1 pkg=$2 ldflags=${3:-} tmp
  tmp=$(mktemp -d)
  GOBIN="$tmp" nice -n 10 go install -trimpath -ldflags "$ldflags" "$pkg"
  mv "$tmp"/* "$BIN/$name"
  rmdir "$tmp"
}
if [ ! -x "$BIN/helm-$HELM" ]; then
  step "building helm $HELM"
  # Helm's version is set at link time (its release builds do the same); without it
  # `helm version` and .Capabilities.HelmVersion say only v3.21.
  go_install_as "helm-$HELM" "helm.sh/helm/v3/cmd/helm@$HELM" "-X helm.sh/helm/v3/internal/version.version=$HELM"
fi
ln -sf "helm-$HELM" "$BIN/helm"
if [ ! -x "$BIN/kustomize-$KUSTOMIZE" ]; then
  step "building kustomize $KUSTOMIZE"
  go_install_as "kustomize-$KUSTOMIZE" "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE"
fi
ln -sf "kustomize-$KUSTOMIZE" "$BIN/kustomize"
"$BIN/helm" version --short
"$BIN/kustomize" version
