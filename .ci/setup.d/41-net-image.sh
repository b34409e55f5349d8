# The network-flows test image (test/sensor/flows-podman.test.ts, bench/flows-sensor.bench.ts):
# the cached debootstrap Debian bookworm minbase root (40-test-images.sh) plus nginx-light,
# redis-server, redis-tools and curl installed in a chroot, imported into podman, as
# scripts/corpus/build-image.sh builds the corpus image. Idempotent: nothing to do when the
# image exists; the rootfs tarball is cached so a lost podman store is re-imported without apt.
source .ci/env.sh
set -euo pipefail
IMAGE="${GATEHOUSE_NET_IMAGE:-localhost/gatehouse-net:1}"
C="$GATEHOUSE_TEST_CACHE"
BASE="$C/debian-rootfs"
TAR="$C/net-rootfs-1.tar"
if podman image exists "$IMAGE"; then echo "network test image $IMAGE exists"; exit 0; fi
apt_install debootstrap
if [ ! -f "$BASE/.complete" ]; then
  rm -rf "$BASE"
  debootstrap --variant=minbase bookworm "$BASE" http://deb.debian.org/debian >/tmp/gatehouse-debootstrap.log 2>&1 \
    || { tail -20 /tmp/gatehouse-debootstrap.log; exit 1; }
  touch "$BASE/.complete"
fi
if [ ! -f "$TAR" ]; then
  root="$(mktemp -d /var/tmp/gatehouse-net-root.XXXXXX)"
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
    nginx-light redis-server redis-tools curl >/dev/null
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root/usr/sbin/policy-rc.d"
  for m in dev/pts dev proc sys; do umount -l "$root/$m"; done
  tar -C "$root" --numeric-owner -cf "$TAR.tmp" .
  mv "$TAR.tmp" "$TAR"
fi
podman import --change 'CMD ["/bin/bash"]' "$TAR" "$IMAGE" >/dev/null
echo "built $IMAGE"
