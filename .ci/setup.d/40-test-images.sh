# Test images, built once and cached: a debootstrap Debian bookworm minbase image (packed
# by umoci) and a crafted multi-layer image, as an OCI layout, pushed to the local registry, pulled into
# podman (for docker-daemon:) and saved with `podman save` (docker-archive:).
source .ci/env.sh
set -euo pipefail
C="$GATEHOUSE_TEST_CACHE"
STAMP_VERSION=5 # bump when the images change
if [ ! -f "$C/debian-rootfs/.complete" ]; then
  rm -rf "$C/debian-rootfs"
  debootstrap --variant=minbase bookworm "$C/debian-rootfs" http://deb.debian.org/debian >/tmp/gatehouse-debootstrap.log 2>&1 \
    || { tail -20 /tmp/gatehouse-debootstrap.log; exit 1; }
  touch "$C/debian-rootfs/.complete"
fi
if [ "$(cat "$C/oci/.stamp" 2>/dev/null)" != "$STAMP_VERSION" ]; then
  # Crafted images (exact whiteouts, opaque dirs, implicit parents) from our fixture writer.
  node --import tsx test/fixtures/build-images.ts
  # The Debian image through a real image tool: umoci packs the debootstrap root.
  rm -rf "$C/umoci" "$C/umoci-bundle"
  umoci init --layout "$C/umoci"
  umoci new --image "$C/umoci:debian"
  umoci unpack --image "$C/umoci:debian" "$C/umoci-bundle" >/dev/null
  cp -a "$C/debian-rootfs/." "$C/umoci-bundle/rootfs/"
  rm -f "$C/umoci-bundle/rootfs/.complete"
  umoci repack --image "$C/umoci:debian" --history.created 2024-06-01T00:00:00Z \
    --history.created_by "debootstrap --variant=minbase bookworm" "$C/umoci-bundle"
  umoci config --image "$C/umoci:debian" --created 2024-06-01T00:00:00Z --config.cmd /bin/bash \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --history.created 2024-06-01T00:00:00Z --history.created_by 'CMD ["/bin/bash"]'
  skopeo copy -q --preserve-digests "oci:$C/umoci:debian" "oci:$C/oci:debian"
  rm -rf "$C/umoci" "$C/umoci-bundle"
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
