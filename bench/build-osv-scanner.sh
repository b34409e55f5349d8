#!/usr/bin/env bash
# Builds osv-scanner (the bench:scan peer) into the test cache. It needs Go 1.27, which the
# go command fetches from the Go module proxy (GOTOOLCHAIN). Measured here: 5.1 min wall,
# ~6 CPU-min, on a loaded 2-core machine. Not run by CI: only the benchmark uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/env.sh
BIN="$GATEHOUSE_TEST_CACHE/bin"
mkdir -p "$BIN"
if [ ! -x "$BIN/osv-scanner" ]; then
  tmp=$(mktemp -d)
  GOTOOLCHAIN=go1.27.3 CGO_ENABLED=0 GOBIN="$tmp" nice -n 10 go install -trimpath github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0
  mv "$tmp/osv-scanner" "$BIN/osv-scanner"
  rmdir "$tmp"
fi
"$BIN/osv-scanner" --version | head -1
