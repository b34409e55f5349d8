# Posture tests (k8s check / rbac / dockerfile): python3 checks that JUnit output is
# well-formed XML (xml.dom.minidom). Usually already present; a no-op then.
set -euo pipefail
source .ci/env.sh
apt_install python3
