# podman on this machine: runc (cgroups are hybrid), a raised nofile ulimit, the local
# registry as insecure, and the Docker-compatible API socket for docker-daemon: tests.
source .ci/env.sh
mkdir -p /etc/containers/containers.conf.d /etc/containers/registries.conf.d
cat > /etc/containers/containers.conf.d/50-gatehouse.conf <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
cat > /etc/containers/registries.conf.d/50-gatehouse.conf <<CONF
unqualified-search-registries = []
[[registry]]
location = "$GATEHOUSE_TEST_REGISTRY"
insecure = true
CONF
mkdir -p "$(dirname "$GATEHOUSE_PODMAN_SOCKET")"
if ! curl -sf --unix-socket "$GATEHOUSE_PODMAN_SOCKET" http://d/_ping >/dev/null 2>&1; then
  rm -f "$GATEHOUSE_PODMAN_SOCKET"
  setsid nohup podman system service --time=0 "unix://$GATEHOUSE_PODMAN_SOCKET" \
    >/tmp/gatehouse-podman-service.log 2>&1 < /dev/null &
  wait_for curl -sf --unix-socket "$GATEHOUSE_PODMAN_SOCKET" http://d/_ping
fi
