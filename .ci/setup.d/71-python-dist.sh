# Inventory test (test/inventory/python-dist-egg.test.ts): Debian's python3-cryptography
# ships both a .dist-info and a .egg-info for one distribution.
set -euo pipefail
source .ci/env.sh
apt_install python3-cryptography
