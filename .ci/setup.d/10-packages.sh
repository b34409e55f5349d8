# Debian packages the tests drive for real, and the project's npm dependencies.
source .ci/env.sh
apt_install ca-certificates curl docker-registry skopeo umoci podman runc crun uidmap slirp4netns \
  fuse-overlayfs catatonit debootstrap apache2-utils zstd gzip tar python3 openssl iproute2
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
