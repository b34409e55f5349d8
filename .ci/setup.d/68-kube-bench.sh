# kube-bench (aquasecurity/kube-bench), the reference peer for the node/control-plane
# differential test (test/node/kube-bench.test.ts), built from the Go module proxy and cached
# with the cfg/ directory of the same version (its check definitions: CIS Kubernetes v1.10 is
# cfg/cis-1.10). Fresh-machine cost measured here: about 3 min (module downloads and build on
# 2 busy cores). The test copies cfg/ and points its config at fixture files, so the cached
# copy is never written. A re-run only checks.
set -euo pipefail
source .ci/env.sh
# kube-bench's audits run /bin/ps, stat, find; the test makes a CA certificate with openssl.
apt_install procps openssl findutils
command -v go >/dev/null || { echo "68-kube-bench.sh: Go is required on PATH to build kube-bench" >&2; exit 1; }
BIN="$GATEHOUSE_TEST_CACHE/bin"
mkdir -p "$BIN"
VERSION=v0.14.0
if [ ! -x "$BIN/kube-bench-$VERSION" ] || [ ! -f "$GATEHOUSE_TEST_CACHE/kube-bench-cfg-$VERSION/cis-1.10/node.yaml" ]; then
  step "building kube-bench $VERSION"
  # `go install …@v0.14.0` stops at "loading deprecation": the proxy answers 403 for the
  # module's version list. The module source is fetched by exact version instead and built
  # from a copy (its go.mod has no replaces; dependencies come from the proxy by version).
  src=$(go mod download -json "github.com/aquasecurity/kube-bench@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src" "$work/kube-bench"
  chmod -R u+w "$work/kube-bench"
  (cd "$work/kube-bench" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 go build -trimpath \
    -ldflags "-X github.com/aquasecurity/kube-bench/cmd.KubeBenchVersion=$VERSION" -o "$BIN/kube-bench-$VERSION.tmp" .)
  mv "$BIN/kube-bench-$VERSION.tmp" "$BIN/kube-bench-$VERSION"
  rm -rf "$work"
  src="$src/cfg"
  rm -rf "$GATEHOUSE_TEST_CACHE/kube-bench-cfg-$VERSION.tmp"
  cp -r "$src" "$GATEHOUSE_TEST_CACHE/kube-bench-cfg-$VERSION.tmp"
  chmod -R u+w "$GATEHOUSE_TEST_CACHE/kube-bench-cfg-$VERSION.tmp"
  rm -rf "$GATEHOUSE_TEST_CACHE/kube-bench-cfg-$VERSION"
  mv "$GATEHOUSE_TEST_CACHE/kube-bench-cfg-$VERSION.tmp" "$GATEHOUSE_TEST_CACHE/kube-bench-cfg-$VERSION"
fi
ln -sf "kube-bench-$VERSION" "$BIN/kube-bench"
ln -sfn "kube-bench-cfg-$VERSION" "$GATEHOUSE_TEST_CACHE/kube-bench-cfg"
"$BIN/kube-bench" version
