# cosign (the reference peer for image signing interop tests), built from the Go module
# proxy and cached under $GATEHOUSE_TEST_CACHE/bin. Debian's skopeo/podman have sigstore
# disabled by a Debian patch, so they cannot be the peer.
# v2.6.5 signs the legacy `.sig` format by default (and bundles with --new-bundle-format);
# v3.1.3 signs sigstore bundles (OCI referrers) by default.
# Fresh-machine cost: two `go install`s (module download + compile; on 2 busy cores v2 took
# ~30 min and v3 ~40 min, several minutes each on an idle machine); a re-run only checks
# that the cached binaries exist.
set -euo pipefail
source .ci/env.sh
# cosign v2.6 needs a recent Go (the machine image ships one in /usr/local/go; Debian's is too old).
command -v go >/dev/null || { echo "50-cosign.sh: Go (>= 1.24) is required on PATH to build cosign" >&2; exit 1; }
COSIGN_BIN_DIR="$GATEHOUSE_TEST_CACHE/bin"
mkdir -p "$COSIGN_BIN_DIR"

# build_cosign MODULE VERSION NAME: go install MODULE@VERSION into the cache as NAME.
build_cosign() {
  local module=$1 version=$2 name=$3
  [ -x "$COSIGN_BIN_DIR/$name" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  step "building $name ($module@$version)"
  CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath "$module@$version"
  mv "$tmp/cosign" "$COSIGN_BIN_DIR/$name"
  rmdir "$tmp"
}

build_cosign github.com/sigstore/cosign/v2/cmd/cosign v2.6.5 cosign-v2
build_cosign github.com/sigstore/cosign/v3/cmd/cosign v3.1.3 cosign-v3
