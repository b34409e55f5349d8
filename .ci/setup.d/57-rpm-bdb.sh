# BerkeleyDB rpmdb fixtures (the `Packages` hash database of RHEL/CentOS 7-8 and older SUSE)
# for the rpm analyzer: Debian's rpm can read that backend (bdb_ro) but not write it, so the
# header blobs of the sqlite rpmdb built by 55-inventory-fixtures.sh are loaded into a hash
# database by Berkeley DB's own db_load (keys: header instance numbers as native uint32,
# plus rpm's key-0 instance counter), at two page sizes (512: headers on overflow-page
# chains; 65536: headers on the hash pages). rpm itself then lists each database
# (`rpm -qa --define '_db_backend bdb_ro'`): that listing is the expected answer.
set -euo pipefail
source .ci/env.sh
VERSION=1
INV="$GATEHOUSE_TEST_CACHE/inventory"
OUT="$INV/rpm-bdb"
[ -f "$OUT/.done-v$VERSION" ] && exit 0
[ -f "$INV/root/var/lib/rpm/rpmdb.sqlite" ] || { echo "57-rpm-bdb.sh: run 55-inventory-fixtures.sh first" >&2; exit 1; }
apt_install db5.3-util rpm python3
step "rpm BerkeleyDB fixtures"
rm -rf "$OUT" && mkdir -p "$OUT"
/usr/bin/python3 - "$INV/root/var/lib/rpm/rpmdb.sqlite" > "$OUT/packages.dump" <<'PY'
import sqlite3, struct, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
print("VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END")
# rpm's BDB backend keeps the next instance number under key 0.
print(" " + struct.pack("=I", 0).hex())
print(" " + struct.pack("=I", max(h for h, _ in rows) + 1).hex())
for hnum, blob in rows:
    print(" " + struct.pack("=I", hnum).hex())
    print(" " + bytes(blob).hex())
print("DATA=END")
PY
for size in 512 65536; do
  mkdir -p "$OUT/p$size/var/lib/rpm"
  db5.3_load -c db_pagesize=$size -f "$OUT/packages.dump" "$OUT/p$size/var/lib/rpm/Packages"
  rpm -qa --dbpath "$OUT/p$size/var/lib/rpm" --define '_db_backend bdb_ro' \
    --qf '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM} %{VENDOR} %{LICENSE}\n' 2>/dev/null | sort > "$OUT/p$size/rpm-qa.txt"
  [ -s "$OUT/p$size/rpm-qa.txt" ] || { echo "57-rpm-bdb.sh: rpm lists nothing in the $size-byte-page database" >&2; exit 1; }
done
rm "$OUT/packages.dump"
touch "$OUT/.done-v$VERSION"
