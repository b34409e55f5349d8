# engine-proxy tests: a tiny busybox image in podman (and in the local registry, for an
# allowed `docker pull`), built from Debian's busybox-static; openssl makes the TLS test
# certificates. Seconds on a fresh machine, a no-op when cached.
source .ci/env.sh
set -euo pipefail
apt_install busybox-static openssl curl g++ make docker-compose python3-docker
# Unix peer credentials need the sockopt addon; its linux-x64 prebuild is broken (a
# Mach-O file), so it must be compiled (allowScripts in package.json does it on npm ci).
if ! node -e 'require("sockopt")' >/dev/null 2>&1; then npm rebuild sockopt >/dev/null; fi
node -e 'require("sockopt")'
IMG=localhost/gatehouse-ep-busybox:1
if ! podman image exists "$IMG"; then
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/data"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo 'hello from the image' > "$root/data/greeting.txt"
  chmod 1777 "$root/tmp"
  tar --numeric-owner -C "$root" -cf "$root.tar" .
  podman import -q --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$root.tar" "$IMG" >/dev/null
  rm -rf "$root" "$root.tar"
fi
REG_IMG="$GATEHOUSE_TEST_REGISTRY/gatehouse-test/ep-busybox:1"
if ! curl -sf -o /dev/null "http://$GATEHOUSE_TEST_REGISTRY/v2/gatehouse-test/ep-busybox/manifests/1" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'; then
  podman push -q --tls-verify=false "$IMG" "docker://$REG_IMG"
fi
