# Console tests (test/console/): playwright-core drives Debian's chromium headless at
# /usr/bin/chromium — no browser download (users and CI may be air-gapped).
set -euo pipefail
source .ci/env.sh
apt_install chromium
