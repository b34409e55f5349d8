# A real Kubernetes API server for the live-cluster tests (`k8s check --cluster`, `rbac
# analyze --cluster`, `rbac who-can --cluster` against the apiserver's own authorizer):
# kube-apiserver v1.34.3 built from the Go module proxy, with kine (an etcd API over SQLite)
# as its store, both cached. k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces
# the k8s.io/* staging modules with ./staging paths that the module zip leaves out), so its
# source is copied from the module cache, the 31 replaces are pointed at the published
# k8s.io/* v0.34.3 modules, and the copy's go.work/vendor are dropped (GOWORK=off).
# The tests start both processes themselves (test/helpers/kube-cluster.ts); no controller
# manager or kubelet runs, so objects stay exactly as created.
# Fresh-machine cost, measured on this 2-core machine: kine ~1 min; kube-apiserver ~6 min
# (module downloads + compile, while CI tests ran; ~3.5 min with a warm Go build cache);
# a re-run only checks.
set -euo pipefail
source .ci/env.sh
command -v go >/dev/null || { echo "66-kube.sh: Go is required on PATH to build kube-apiserver and kine" >&2; exit 1; }
BIN="$GATEHOUSE_TEST_CACHE/bin"
mkdir -p "$BIN"
KUBE=v1.34.3
STAGING=v0.34.3
KINE=v0.17.5
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=1
if [ ! -x "$BIN/kine-$KINE" ]; then
  step "building kine $KINE"
  tmp=$(mktemp -d)
  GOBIN="$tmp" nice -n 10 go install -trimpath "github.com/k3s-io/kine@$KINE"
  mv "$tmp/kine" "$BIN/kine-$KINE"
  rmdir "$tmp"
fi
ln -sf "kine-$KINE" "$BIN/kine"
if [ ! -x "$BIN/kube-apiserver-$KUBE" ]; then
  step "building kube-apiserver $KUBE"
  src=$(go mod download -json "k8s.io/kubernetes@$KUBE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src" "$work/kubernetes"
  chmod -R u+w "$work/kubernetes"
  cd "$work/kubernetes"
  rm -rf vendor go.work go.work.sum
  for m in $(grep -oP '^\s*k8s.io/[a-z0-9-]+(?= => ./staging)' go.mod | tr -d ' \t'); do go mod edit -replace "$m=$m@$STAGING"; done
  grep -q '=> ./staging' go.mod && { echo "66-kube.sh: staging replaces left in go.mod" >&2; exit 1; }
  ver="-X k8s.io/component-base/version.gitVersion=$KUBE -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean"
  CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$ver" -o "$BIN/kube-apiserver-$KUBE.tmp" ./cmd/kube-apiserver
  mv "$BIN/kube-apiserver-$KUBE.tmp" "$BIN/kube-apiserver-$KUBE"
  cd /
  rm -rf "$work"
fi
ln -sf "kube-apiserver-$KUBE" "$BIN/kube-apiserver"
"$BIN/kube-apiserver" --version
