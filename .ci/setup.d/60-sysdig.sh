#!/usr/bin/env bash
# sysdig 0.29.3 (Debian bookworm): the reference filter engine for the runtime rule
# engine's differential tests and bench:rules (`sysdig -r trace.scap -j FILTER`).
set -euo pipefail
source "$(dirname "$0")/../env.sh"
apt_install sysdig
sysdig --version
