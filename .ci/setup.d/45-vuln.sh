# Vulnerability engine tests: the native version tools the comparators are checked against
# (dpkg; rpm's labelCompare via python3-rpm; python packaging, both for Debian's python3),
# zip for osv.dev-style all.zip fixtures, and a loadable better-sqlite3 native module.
source .ci/env.sh
apt_install dpkg python3 python3-rpm python3-packaging zip
# npm 11 runs better-sqlite3's build script only when allowed (package.json allowScripts);
# if the module still does not load (e.g. scripts skipped), build it from source here.
if ! node -e "new (require('better-sqlite3'))(':memory:').close()" >/dev/null 2>&1; then
  step "building better-sqlite3"
  apt_install build-essential
  if [ -d /usr/include/node ]; then npm rebuild better-sqlite3 --nodedir=/usr; else npm rebuild better-sqlite3; fi
  node -e "new (require('better-sqlite3'))(':memory:').close()"
fi
