# NDB rpmdb fixtures (the `Packages.db` of openSUSE/SLES 15) for the rpm analyzer. Debian's
# rpm is built without the ndb backend, so rpm 4.18 is built here from Debian's bookworm
# source package with --enable-ndb (only librpmio, librpm, rpm and rpmdb) into the cache: a
# reference peer for the tests, nothing of it is committed. That rpm then writes two
# databases from the header blobs of the sqlite rpmdb made by 55-inventory-fixtures.sh
# (`rpmdb --exportdb` | `rpmdb --importdb`):
#   basic/var/lib/rpm/Packages.db: the fixture's packages, once;
#   churn/usr/lib/sysimage/rpm/Packages.db: imported 150 times (two slot pages, blobs moved
#     when the second page was added), then every libdemo erased (--justdb): free slots and
#     blobs moved into the freed space, as on a long-lived system.
# The built rpm's own `rpm -qa` of each database is the expected answer.
# Cost (2 cores, measured): ~22 s on the first run (deb-src index + source download ~3 s,
# configure ~5 s, make -j2 ~14 s, databases <1 s), plus installing any missing -dev
# packages; later runs exit at once (done markers for the built rpm and the fixtures).
set -euo pipefail
source .ci/env.sh
VERSION=1
PEER_VERSION=1
INV="$GATEHOUSE_TEST_CACHE/inventory"
OUT="$INV/rpm-ndb"
PEER="$GATEHOUSE_TEST_CACHE/rpm-4.18-ndb"
QF='%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM} %{VENDOR} %{LICENSE}\n'
[ -f "$OUT/.done-v$VERSION" ] && exit 0
[ -f "$INV/root/var/lib/rpm/rpmdb.sqlite" ] || { echo "57-rpm-ndb.sh: run 55-inventory-fixtures.sh first" >&2; exit 1; }
apt_install build-essential pkg-config xz-utils debian-archive-keyring \
  zlib1g-dev libpopt-dev liblua5.3-dev libgcrypt20-dev libmagic-dev libsqlite3-dev

if [ ! -f "$PEER/.done-v$PEER_VERSION" ]; then
  step "rpm 4.18 with ndb from Debian's source package"
  WORK="$PEER.work"
  rm -rf "$PEER" "$WORK" && mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial"
  cat > "$WORK/debian-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Private lists and cache: the machine's own apt state is left alone.
  APT=(apt-get -qq -o Dir::Etc::sourcelist="$WORK/debian-src.sources" -o Dir::Etc::sourceparts=/dev/null
    -o Dir::State::Lists="$WORK/lists" -o Dir::Cache="$WORK/cache" -o APT::Sandbox::User=root)
  "${APT[@]}" update
  (cd "$WORK" && "${APT[@]}" source --download-only rpm)
  ORIG="$WORK/rpm_4.18.0+dfsg.orig.tar.xz"
  [ -f "$ORIG" ] || { echo "57-rpm-ndb.sh: bookworm's rpm source is no longer 4.18.0 (got: $(ls "$WORK"))" >&2; exit 1; }
  tar -C "$WORK" -xf "$ORIG"
  (
    cd "$WORK/rpm-4.18.0"
    ./configure -q --prefix="$PEER" --enable-ndb --enable-sqlite=yes --disable-plugins --disable-openmp \
      --disable-nls --disable-dependency-tracking --enable-zstd=no --enable-libelf=no --without-archive \
      --with-crypto=libgcrypt LUA_CFLAGS="$(pkg-config --cflags lua5.3)" LUA_LIBS="$(pkg-config --libs lua5.3)" >/dev/null
    grep -q '^#define ENABLE_NDB 1' config.h || { echo "57-rpm-ndb.sh: configure did not enable ndb" >&2; exit 1; }
    # Only what rpm and rpmdb need: no rpmbuild, rpmsign, tools, docs or plugins.
    ONLY=(SUBDIRS='misc rpmio lib' bin_PROGRAMS='rpm rpmdb' rpmlibexec_PROGRAMS=)
    make -s -j2 "${ONLY[@]}" >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log" >&2; exit 1; }
    make -s "${ONLY[@]}" install >"$WORK/install.log" 2>&1 || { tail -30 "$WORK/install.log" >&2; exit 1; }
  )
  "$PEER/bin/rpm" --version | grep -q '^RPM version 4\.18\.' || { echo "57-rpm-ndb.sh: built rpm does not run" >&2; exit 1; }
  rm -rf "$WORK"
  touch "$PEER/.done-v$PEER_VERSION"
fi

step "rpm NDB fixtures"
RPM="$PEER/bin/rpm"
RPMDB="$PEER/bin/rpmdb"
rm -rf "$OUT" && mkdir -p "$OUT/sqlite" "$OUT/basic/var/lib/rpm" "$OUT/churn/usr/lib/sysimage/rpm"
cp -a "$INV/root/var/lib/rpm/." "$OUT/sqlite/"
"$RPMDB" --dbpath "$OUT/sqlite" --define '_db_backend sqlite' --exportdb > "$OUT/headers"
[ -s "$OUT/headers" ] || { echo "57-rpm-ndb.sh: nothing exported from the sqlite rpmdb" >&2; exit 1; }
"$RPMDB" --dbpath "$OUT/basic/var/lib/rpm" --define '_db_backend ndb' --importdb < "$OUT/headers"
for _ in $(seq 150); do cat "$OUT/headers"; done | "$RPMDB" --dbpath "$OUT/churn/usr/lib/sysimage/rpm" --define '_db_backend ndb' --importdb
"$RPM" -e --allmatches --justdb --nodeps --noscripts --notriggers --dbpath "$OUT/churn/usr/lib/sysimage/rpm" --define '_db_backend ndb' libdemo
for db in basic/var/lib/rpm churn/usr/lib/sysimage/rpm; do
  [ -s "$OUT/$db/Packages.db" ] || { echo "57-rpm-ndb.sh: rpm wrote no $db/Packages.db" >&2; exit 1; }
  "$RPM" -qa --dbpath "$OUT/$db" --define '_db_backend ndb' --qf "$QF" | sort > "$OUT/${db%%/*}/rpm-qa.txt"
  [ -s "$OUT/${db%%/*}/rpm-qa.txt" ] || { echo "57-rpm-ndb.sh: rpm lists nothing in $db/Packages.db" >&2; exit 1; }
done
[ "$(wc -l < "$OUT/churn/rpm-qa.txt")" -eq 150 ] || { echo "57-rpm-ndb.sh: churn database does not list 150 packages" >&2; exit 1; }
rm -rf "$OUT/sqlite" "$OUT/headers"
touch "$OUT/.done-v$VERSION"
