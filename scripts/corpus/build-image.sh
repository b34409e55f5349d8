#!/usr/bin/env bash
# Builds the corpus workload image the way the test images are built: the cached debootstrap
# Debian bookworm minbase root (.ci/setup.d/40-test-images.sh) plus apt packages installed in a
# chroot, imported into podman. One image serves the four workloads (nginx, redis, PostgreSQL,
# a Python web app) and holds the load tools that run inside the containers (redis-benchmark,
# pgbench) and the tools the attack scenarios use. Idempotent: does nothing when the image exists.
set -euo pipefail
IMAGE="${GATEHOUSE_CORPUS_IMAGE:-localhost/gatehouse-corpus:2}"
CACHE="${GATEHOUSE_TEST_CACHE:-$HOME/.cache/gatehouse-test}"
BASE="$CACHE/debian-rootfs"
if podman image exists "$IMAGE"; then echo "corpus image $IMAGE exists"; exit 0; fi
if [ ! -f "$BASE/.complete" ]; then
  mkdir -p "$CACHE"
  debootstrap --variant=minbase bookworm "$BASE" http://deb.debian.org/debian >/tmp/gatehouse-debootstrap.log 2>&1 \
    || { tail -20 /tmp/gatehouse-debootstrap.log; exit 1; }
  touch "$BASE/.complete"
fi
root="$(mktemp -d /var/tmp/gatehouse-corpus-root.XXXXXX)"
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" && umount -l "$root/$m" || true; done
  rm -rf "$root"
}
trap cleanup EXIT
cp -a "$BASE/." "$root/"
rm -f "$root/.complete"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t sysfs sysfs "$root/sys"
# no service starts inside the chroot
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  nginx-light redis-server redis-tools postgresql-15 postgresql-contrib python3 curl procps iproute2 ca-certificates >/dev/null
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root/usr/sbin/policy-rc.d"
# the Python web app (stdlib only): a JSON API over a small SQLite table
install -d "$root/srv/app"
install -m 644 "$(dirname "$0")/webapp.py" "$root/srv/app/app.py"
install -m 644 "$(dirname "$0")/attacker.py" "$root/srv/attacker.py"
# a credential file and a service-account token, as a pod would have them
install -d "$root/var/run/secrets/kubernetes.io/serviceaccount" "$root/root/.aws"
printf 'eyJhbGciOiJSUzI1NiJ9.gatehouse-corpus-fake-token.sig\n' > "$root/var/run/secrets/kubernetes.io/serviceaccount/token"
printf '[default]\naws_access_key_id=AKIAGATEHOUSEFAKE\naws_secret_access_key=fake\n' > "$root/root/.aws/credentials"
for m in dev/pts dev proc sys; do umount -l "$root/$m"; done
tar -C "$root" --numeric-owner -cf /var/tmp/gatehouse-corpus-rootfs.tar .
podman import --change 'CMD ["/bin/bash"]' /var/tmp/gatehouse-corpus-rootfs.tar "$IMAGE" >/dev/null
rm -f /var/tmp/gatehouse-corpus-rootfs.tar
echo "built $IMAGE"
