# Shared settings for .ci/setup and .ci/setup.d/*.sh (sourced, not run).
export GATEHOUSE_TEST_CACHE="${GATEHOUSE_TEST_CACHE:-$HOME/.cache/gatehouse-test}"
export GATEHOUSE_TEST_REGISTRY="${GATEHOUSE_TEST_REGISTRY:-127.0.0.1:5000}"
export GATEHOUSE_PODMAN_SOCKET="${GATEHOUSE_PODMAN_SOCKET:-/run/podman/podman.sock}"
export DEBIAN_FRONTEND=noninteractive
export PATH="$HOME/go/bin:/usr/local/go/bin:$PATH"
mkdir -p "$GATEHOUSE_TEST_CACHE"

# step NAME: prints a timed heading so a slow CI run shows where its time went.
step() { echo "== [$(date +%T)] $*"; }

# apt_install PKG...: installs the Debian packages that are missing (apt-get update once).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -f /tmp/.gatehouse-apt-updated ]; then apt-get update -qq && touch /tmp/.gatehouse-apt-updated; fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_for CMD...: retries CMD for up to 30 s.
wait_for() { for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done; "$@"; }
