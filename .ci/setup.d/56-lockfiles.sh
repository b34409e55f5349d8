# Lockfile fixtures for the yarn.lock / pnpm-lock.yaml analyzers (issue 3): one small
# project installed by each real tool from the npm registry — yarn 1.22 (classic lockfile),
# yarn 4 (berry, YAML lockfile), pnpm 9 (lockfile 9.0) and pnpm 8 (lockfile 6.0) — with the
# tool's own listing of what it installed saved as the expected answer. Cached; a few
# seconds per tool on a fresh machine. CI=true would make yarn 4 and pnpm refuse to write
# lockfiles (immutable installs), hence --no-immutable and --no-frozen-lockfile.
set -euo pipefail
source .ci/env.sh
VERSION=1
DIR="$GATEHOUSE_TEST_CACHE/lockfiles"
[ -f "$DIR/.done-v$VERSION" ] && exit 0
step "lockfile fixtures (yarn 1, yarn 4, pnpm 9, pnpm 8)"
rm -rf "$DIR"
mkdir -p "$DIR"
# Scoped package, two versions of one package (ms), peer dependencies (react-dom), a dev dependency.
PKG='{ "name": "lock-fixture", "version": "1.0.0", "private": true,
  "dependencies": { "semver": "7.6.0", "debug": "4.3.4", "ms": "2.0.0",
    "@isaacs/string-locale-compare": "1.1.0", "react": "18.2.0", "react-dom": "18.2.0" },
  "devDependencies": { "is-number": "^7.0.0" } }'
export npm_config_update_notifier=false
for tool in yarn1 berry pnpm9 pnpm8; do
  mkdir -p "$DIR/$tool"
  echo "$PKG" > "$DIR/$tool/package.json"
done
(cd "$DIR/yarn1" && npx -y yarn@1.22.22 install --non-interactive --no-progress --silent && npx -y yarn@1.22.22 list --json --silent > expected.json)
(cd "$DIR/berry" && printf 'nodeLinker: node-modules\nenableTelemetry: false\nenableGlobalCache: false\n' > .yarnrc.yml \
  && npm exec -y --package=@yarnpkg/cli-dist@4.5.3 -- yarn install --no-immutable >/dev/null \
  && npm exec -y --package=@yarnpkg/cli-dist@4.5.3 -- yarn info --all --recursive --json > expected.json)
(cd "$DIR/pnpm9" && npx -y pnpm@9.15.9 install --silent --no-frozen-lockfile && npx -y pnpm@9.15.9 list --json --depth Infinity > expected.json)
(cd "$DIR/pnpm8" && npx -y pnpm@8.15.9 install --silent --no-frozen-lockfile && npx -y pnpm@8.15.9 list --json --depth Infinity > expected.json)
# Only the lockfiles and listings are needed: drop the installed trees (and yarn's cache).
for tool in yarn1 berry pnpm9 pnpm8; do rm -rf "$DIR/$tool/node_modules" "$DIR/$tool/.yarn"; done
touch "$DIR/.done-v$VERSION"
