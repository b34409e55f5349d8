# NATS server with JetStream (Debian bookworm's nats-server 2.9) for the event-bus tests
# (test/bus/). Tests start their own servers (`nats-server -js -sd DIR -a 127.0.0.1 -p PORT`)
# on free ports with a temporary store directory: no system service is relied on.
# Idempotent: apt_install skips an installed package.
source .ci/env.sh
set -euo pipefail
apt_install nats-server
nats-server --version
