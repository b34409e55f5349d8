# Test images, built once and cached: a debootstrap Debian bookworm minbase image and a
# crafted multi-layer image, as an OCI layout, pushed to the local registry, pulled into
# podman (for docker-daemon:) and saved with `podman save` (docker-archive:).
source .ci/env.sh
set -euo pipefail
C="$GATEHOUSE_TEST_CACHE"
STAMP_VERSION=4 # bump when the images change
if [ ! -f "$C/debian-rootfs/.complete" ]; then
  rm -rf "$C/debian-rootfs"
  debootstrap --variant=minbase bookworm "$C/debian-rootfs" http://deb.debian.org/debian >/tmp/gatehouse-debootstrap.log 2>&1 \
    || { tail -20 /tmp/gatehouse-debootstrap.log; exit 1; }
  touch "$C/debian-rootfs/.complete"
fi
if [ "$(cat "$C/oci/.stamp" 2>/dev/null)" != "$STAMP_VERSION" ]; then
  tar --numeric-owner --sort=name --mtime='2024-06-01 00:00:00' --exclude=./.complete \
    -C "$C/debian-rootfs" -cf "$C/debian-rootfs.tar" .
  node --import tsx test/fixtures/build-images.ts "$C/debian-rootfs.tar"
  rm -f "$C/debian-rootfs.tar"
  echo "$STAMP_VERSION" > "$C/oci/.stamp"
  rm -rf "$C/archives"
fi
R="$GATEHOUSE_TEST_REGISTRY/gatehouse-test"
push() { # push TAG REPO:TAG [--all]
  local digest; digest=$(skopeo inspect --raw "oci:$C/oci:$1" | sha256sum | cut -d' ' -f1)
  if [ "$(skopeo inspect --raw --tls-verify=false "docker://$R/$2" 2>/dev/null | sha256sum | cut -d' ' -f1)" != "$digest" ]; then
    skopeo copy -q --preserve-digests ${3:-} --dest-tls-verify=false "oci:$C/oci:$1" "docker://$R/$2"
  fi
}
push debian debian:bookworm
push layers layers:v1
push layers-zstd layers:zstd
push multiarch multiarch:v1 --all
mkdir -p "$C/archives"
for pair in debian:bookworm layers:v1; do
  name="${pair%%:*}"
  podman pull -q --tls-verify=false "$R/$pair" >/dev/null
  [ -f "$C/archives/$name.tar" ] || podman save -q --format docker-archive -o "$C/archives/$name.tar" "$R/$pair"
done
