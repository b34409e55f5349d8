# Helm v4 for the Gatehouse chart's own CI checks (issue 21 item 4: `helm lint` and
# `helm template` of deploy/helm/gatehouse run with the real helm v4 from the Go module
# proxy). 67-helm-kustomize.sh keeps helm v3 as `helm` for `k8s check CHART_DIR`; this
# one installs v4 beside it as `helm4` so both majors are exercised.
# v4.3.2 is the newest helm.sh/helm/v4 on the proxy (`go list -m -versions
# helm.sh/helm/v4`); its go.mod asks for go 1.26.0, which this Go (1.26) satisfies.
# Built niced into a temporary GOBIN and moved into the cache under a versioned name, so
# an interrupted build never leaves a half-written binary. A re-run only checks.
set -euo pipefail
source .ci/env.sh
command -v go >/dev/null || { echo "69-helm4.sh: Go is required on PATH to build helm v4" >&2; exit 1; }
BIN="$GATEHOUSE_TEST_CACHE/bin"
mkdir -p "$BIN"
HELM4=v4.3.2
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
if [ ! -x "$BIN/helm-$HELM4" ]; then
  step "building helm $HELM4"
  tmp=$(mktemp -d)
  # The version is set at link time as Helm's release builds do; without it `helm version`
  # says only v4.3.
  GOBIN="$tmp" nice -n 10 go install -trimpath \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=$HELM4" \
    "helm.sh/helm/v4/cmd/helm@$HELM4"
  mv "$tmp/helm" "$BIN/helm-$HELM4"
  rmdir "$tmp"
fi
ln -sf "helm-$HELM4" "$BIN/helm4"
"$BIN/helm4" version --short
