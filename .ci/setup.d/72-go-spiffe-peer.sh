# The go-spiffe test peer of test/identity/go-peer.test.ts (SVIDs checked by the SPIFFE
# project's Go library): built here, named by the hash of its sources as the test names it,
# so the test finds it instead of building it inside its own timeout. A no-op when cached.
source .ci/env.sh
set -euo pipefail
command -v go >/dev/null || { echo "72-go-spiffe-peer.sh: Go is required on PATH" >&2; exit 1; }
SRC=test/identity/go-peer
HASH=$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-12)
PEER="$GATEHOUSE_TEST_CACHE/bin/svidpeer-$HASH"
if [ ! -x "$PEER" ]; then
  step "building the go-spiffe test peer"
  mkdir -p "$GATEHOUSE_TEST_CACHE/bin"
  (cd "$SRC" && CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$PEER.$$" .)
  mv "$PEER.$$" "$PEER"
fi
