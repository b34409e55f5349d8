# PostgreSQL 15 (Debian bookworm's server) for Central's tests: the cluster 15/main running on
# 127.0.0.1, a role `gatehouse` (password, CREATEDB) that tests use to make a database each,
# and its URL in $GATEHOUSE_TEST_CACHE/postgres-url (0600). Idempotent: a second run checks.
source .ci/env.sh
set -euo pipefail
apt_install postgresql-15

cluster_field() { pg_lsclusters -h | awk -v f="$1" '$1 == "15" && $2 == "main" { print $f }'; }
[ -n "$(cluster_field 2)" ] || pg_createcluster 15 main >/dev/null
[ "$(cluster_field 4)" = online ] || pg_ctlcluster 15 main start
port=$(cluster_field 3)
wait_for pg_isready -q -h 127.0.0.1 -p "$port"

as_postgres() { (cd /tmp && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"); }

# pg_stat_statements, so that a profile can say which statements PostgreSQL's time goes to
# (select … from pg_stat_statements in the database postgres). It must be preloaded: the cluster is restarted
# once, when the setting is first made, and never again (tests running at that moment would
# lose their connections, so do it before they start). The view is created in `postgres`
# (it covers every database); the test role reads its own statements there.
if [ "$(as_postgres -d postgres -At -c 'show shared_preload_libraries')" != pg_stat_statements ]; then
  as_postgres -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
  pg_ctlcluster 15 main restart
  wait_for pg_isready -q -h 127.0.0.1 -p "$port"
fi
as_postgres -d postgres -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'

url_file="$GATEHOUSE_TEST_CACHE/postgres-url"
if [ ! -s "$url_file" ] || ! psql -X -q -d "$(cat "$url_file")" -c 'select 1' >/dev/null 2>&1; then
  # Hex only, so the password needs no quoting in SQL or in the URL.
  password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  as_postgres -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse') THEN CREATE ROLE gatehouse; END IF;
END \$\$;
ALTER ROLE gatehouse WITH LOGIN CREATEDB PASSWORD '$password';
SQL
  (umask 077 && echo "postgres://gatehouse:$password@127.0.0.1:$port/postgres" > "$url_file.tmp")
  mv "$url_file.tmp" "$url_file"
fi
psql -X -q -d "$(cat "$url_file")" -c 'select 1' >/dev/null

# Databases left by test runs that were killed before they could drop theirs
# (test/helpers/postgres.ts names them gatehouse_test_<pid>_*). A database whose test process
# is still alive is in use (another run on this machine): it is left alone.
as_postgres -d postgres -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'gatehouse\_test\_%'" |
  while read -r db; do
    pid=$(echo "$db" | sed -n 's/^gatehouse_test_\([0-9]*\)_.*/\1/p')
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    as_postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  done
