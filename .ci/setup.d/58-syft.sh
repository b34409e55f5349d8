# Syft (anchore/syft), the reference peer for the inventory differential test, built from
# the Go module proxy and cached. Fresh-machine cost: one go install (measured here: 12.7 min
# wall / ~6.8 CPU-min on a loaded 2-core machine; a few minutes idle); a re-run only checks.
set -euo pipefail
source .ci/env.sh
command -v go >/dev/null || { echo "58-syft.sh: Go is required on PATH to build syft" >&2; exit 1; }
BIN="$GATEHOUSE_TEST_CACHE/bin"
mkdir -p "$BIN"
VERSION=v1.57.0
if [ ! -x "$BIN/syft-$VERSION" ]; then
  step "building syft $VERSION"
  tmp=$(mktemp -d)
  CGO_ENABLED=0 GOBIN="$tmp" nice -n 10 go install -trimpath "github.com/anchore/syft/cmd/syft@$VERSION"
  mv "$tmp/syft" "$BIN/syft-$VERSION"
  rmdir "$tmp"
fi
ln -sf "syft-$VERSION" "$BIN/syft"
