#!/usr/bin/env bash
# The eBPF sensor's tests: bpftrace (Debian's 0.17), tracefs mounted, and a tiny
# busybox-based test image (Debian's busybox-static, imported into podman) whose
# containers perform the attack scenarios. Perl for the syscalls busybox cannot make
# (memfd exec, ptrace, AF_PACKET) comes from the host's perl-base, bind-mounted at /usr.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
apt_install bpftrace busybox-static perl-base
mountpoint -q /sys/kernel/tracing || [ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing
IMAGE=localhost/gatehouse-sensor-test:1
if ! podman image exists "$IMAGE"; then
  root="$(mktemp -d)"
  mkdir -p "$root"/{bin,etc,tmp,root,var/log,dev/shm,proc,sys,usr}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
  ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n' > "$root/etc/group"
  printf 'root:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
  chmod 640 "$root/etc/shadow"
  tar -C "$root" --numeric-owner -cf "$GATEHOUSE_TEST_CACHE/sensor-rootfs.tar" .
  rm -rf "$root"
  podman import --change 'CMD ["/bin/sh"]' "$GATEHOUSE_TEST_CACHE/sensor-rootfs.tar" "$IMAGE" >/dev/null
fi
bpftrace --version
