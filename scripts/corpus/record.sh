#!/usr/bin/env bash
# Records the labelled evaluation corpus (issue 19 item 3) with the real sensor:
#   1. builds the workload image (build-image.sh: debootstrap root + apt packages);
#   2. starts `gatehouse sensor --events` (bpftrace; needs root and tracefs);
#   3. runs four workloads, two replicas each, labelled as Kubernetes pods would be (CRI's
#      io.kubernetes.* labels): nginx (Deployment "web"), redis (StatefulSet "cache"),
#      PostgreSQL (StatefulSet "db") and a Python web app (Deployment "api");
#   4. drives them with real load (ab from the host, redis-benchmark and pgbench from a
#      client container, liveness-probe style execs) for a learning phase and a held-out
#      benign phase, then runs the attack scenarios (scenarios.sh) one at a time;
#   5. cuts the recording into test/fixtures/corpus/ (split.ts): benign-learn, benign-test
#      and one file per scenario, gzipped JSON lines as `runtime replay` reads them
#      (`zcat F | gatehouse runtime replay - -r RULES`), plus manifest.json.
# Re-runnable: containers are named per run and removed at the end.
# Usage: sudo scripts/corpus/record.sh [OUT_DIR]   (LEARN_S, TEST_S change the phase lengths)
# CORPUS_VARIANT=2 records the held-out corpus (test/fixtures/corpus2): another seed, other
# request and client mixes, a gentler request rate, the scenarios in a shuffled order against
# the other replica, plus the extra scenarios of scenarios.sh (see docs/notes/baseline-anomaly.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-test/fixtures/corpus}"
LEARN_S="${LEARN_S:-150}"
TEST_S="${TEST_S:-120}"
VARIANT="${CORPUS_VARIANT:-1}"
[ "$VARIANT" = 2 ] && RANDOM="${CORPUS_SEED:-20261207}"  # seeded, so variant 2's scenario order repeats (CORPUS_SEED: another order)
IMAGE="${GATEHOUSE_CORPUS_IMAGE:-localhost/gatehouse-corpus:2}"
PODMAN_RUN=(podman run -d --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
WORK="$(mktemp -d /var/tmp/gatehouse-corpus.XXXXXX)"
RUN="c$(date +%s | tail -c 5)"
EVENTS="$WORK/events.jsonl"
LABELS="$WORK/labels.jsonl"
now() { date +%s%N; }

[ "$(id -u)" = 0 ] || { echo "record.sh: needs root (the sensor)" >&2; exit 2; }
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
bash scripts/corpus/build-image.sh

containers=()
SENSOR_PID=""
LOAD_PIDS=()
cleanup() {
  for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$SENSOR_PID" ] && kill -INT "$SENSOR_PID" 2>/dev/null || true
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# --- the sensor ---
GATEHOUSE_FROM_SOURCE=1 node bin/gatehouse.mjs sensor --events "$EVENTS" --opens default 2>"$WORK/sensor.log" &
SENSOR_PID=$!
for _ in $(seq 1 240); do grep -q 'sensor ready' "$WORK/sensor.log" && break; sleep 0.5; done
grep -q 'sensor ready' "$WORK/sensor.log" || { cat "$WORK/sensor.log"; exit 1; }
label() { printf '%s\n' "$1" >> "$LABELS"; }
label "{\"kind\":\"phase\",\"phase\":\"learn\",\"start\":$(now)}"

# --- workloads (name = pod name; labels as CRI sets them) ---
pod() { # pod NS POD CONTAINER KIND OWNER -- CMD...
  local ns=$1 pod=$2 ctr=$3 kind=$4 owner=$5; shift 6
  local name="corpus-$RUN-$pod"
  "${PODMAN_RUN[@]}" --name "$name" --label "io.kubernetes.pod.namespace=$ns" --label "io.kubernetes.pod.name=$pod" \
    --label "io.kubernetes.container.name=$ctr" --label "gatehouse.corpus/owner-kind=$kind" --label "gatehouse.corpus/owner=$owner" \
    "$IMAGE" "$@" >/dev/null
  containers+=("$name")
  label "{\"kind\":\"container\",\"name\":\"$name\",\"pod\":\"$pod\",\"namespace\":\"$ns\",\"container\":\"$ctr\",\"ownerKind\":\"$kind\",\"owner\":\"$owner\"}"
}
PG='printf "local all all trust\nhost all all 0.0.0.0/0 trust\n" > /etc/postgresql/15/main/pg_hba.conf
exec runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D /etc/postgresql/15/main -c "listen_addresses=*" -c ssl=off -c unix_socket_directories=/tmp'
for r in 7c9d5b6f48-x2k9p 7c9d5b6f48-m4q7z; do pod shop "web-$r" nginx Deployment web -- nginx -g 'daemon off;'; done
for r in 0 1; do pod shop "cache-$r" redis StatefulSet cache -- runuser -u redis -- redis-server --bind 0.0.0.0 --protected-mode no --enable-protected-configs yes --save 60 1000 --dir /var/lib/redis; done
for r in 0 1; do pod shop "db-$r" postgres StatefulSet db -- bash -c "$PG"; done
for r in 5f6b8d7c9-h8t2w 5f6b8d7c9-q9r2v; do pod shop "api-$r" app Deployment api -- runuser -u www-data -- python3 /srv/app/app.py 8000; done
client="corpus-$RUN-client"; "${PODMAN_RUN[@]}" --name "$client" "$IMAGE" sleep infinity >/dev/null; containers+=("$client")
attacker="corpus-$RUN-attacker"; "${PODMAN_RUN[@]}" --name "$attacker" "$IMAGE" python3 /srv/attacker.py >/dev/null; containers+=("$attacker")
ip() { podman inspect -f '{{.NetworkSettings.IPAddress}}' "corpus-$RUN-$1"; }
WEB=("$(ip web-7c9d5b6f48-x2k9p)" "$(ip web-7c9d5b6f48-m4q7z)")
CACHE=("$(ip cache-0)" "$(ip cache-1)")
DB=("$(ip db-0)" "$(ip db-1)")
API=("$(ip api-5f6b8d7c9-h8t2w)" "$(ip api-5f6b8d7c9-q9r2v)")
ATTACKER="$(ip attacker)"
sleep 5
for d in "${DB[@]}"; do podman exec "$client" pgbench -i -q -s 2 -h "$d" -U postgres postgres >/dev/null 2>&1 || true; done

# --- load: each loop runs until killed ---
load() {
  local phase=$1
  if [ "$VARIANT" = 2 ]; then load2 "$phase"; return; fi
  ( while :; do for w in "${WEB[@]}"; do ab -q -n 40 -c 2 "http://$w/" >/dev/null 2>&1; ab -q -n 10 -c 1 "http://$w/nope-$RANDOM" >/dev/null 2>&1; done; sleep 1; done ) & LOAD_PIDS+=($!)
  ( while :; do for w in "${API[@]}"; do ab -q -n 30 -c 2 "http://$w:8000/items" >/dev/null 2>&1
      printf '{"name":"n%s","n":%s}' $RANDOM $RANDOM > "$WORK/post.json"; ab -q -n 10 -c 1 -p "$WORK/post.json" -T application/json "http://$w:8000/items" >/dev/null 2>&1; done; sleep 1; done ) & LOAD_PIDS+=($!)
  ( while :; do for c in "${CACHE[@]}"; do podman exec "$client" redis-benchmark -q -h "$c" -n 2000 -c 4 -t get,set,incr,lpush >/dev/null 2>&1; done; sleep 2; done ) & LOAD_PIDS+=($!)
  ( local clients=2; [ "$phase" = test ] && clients=3
    while :; do for d in "${DB[@]}"; do podman exec "$client" pgbench -n -T 5 -c "$clients" -h "$d" -U postgres postgres >/dev/null 2>&1; done; sleep 1; done ) & LOAD_PIDS+=($!)
  # liveness/readiness probes, as the kubelet runs them (exec into each container)
  ( while :; do
      for n in web-7c9d5b6f48-x2k9p web-7c9d5b6f48-m4q7z; do podman exec "corpus-$RUN-$n" curl -fsS -o /dev/null http://127.0.0.1/ >/dev/null 2>&1; done
      for n in cache-0 cache-1; do podman exec "corpus-$RUN-$n" redis-cli ping >/dev/null 2>&1; done
      for n in db-0 db-1; do podman exec "corpus-$RUN-$n" pg_isready -h /tmp -U postgres >/dev/null 2>&1; done
      for n in api-5f6b8d7c9-h8t2w api-5f6b8d7c9-q9r2v; do podman exec "corpus-$RUN-$n" curl -fsS -o /dev/null http://127.0.0.1:8000/health >/dev/null 2>&1; done
      sleep 10; done ) & LOAD_PIDS+=($!)
}
# Variant 2: the same kinds of traffic, in other mixes and at about half the rate (the machine is
# shared, and a long held-out phase must stay a small fixture): other page/404 shares, GET/POST
# shares and bodies, other redis-benchmark commands and clients, pgbench with 3 clients while
# learning and 2 (fewer, not more, than the first corpus) while held out, probes every 10 s.
load2() {
  local phase=$1
  ( while :; do for w in "${WEB[@]}"; do ab -q -n 25 -c 3 "http://$w/" >/dev/null 2>&1; ab -q -n 6 -c 1 "http://$w/missing/$RANDOM.html" >/dev/null 2>&1; done; sleep 3; done ) & LOAD_PIDS+=($!)
  ( while :; do for w in "${API[@]}"; do ab -q -n 20 -c 1 "http://$w:8000/items" >/dev/null 2>&1
      printf '{"name":"item-%s","n":%s,"tags":["t%s"]}' $RANDOM $RANDOM $RANDOM > "$WORK/post.json"; ab -q -n 15 -c 2 -p "$WORK/post.json" -T application/json "http://$w:8000/items" >/dev/null 2>&1; done; sleep 3; done ) & LOAD_PIDS+=($!)
  ( while :; do for c in "${CACHE[@]}"; do podman exec "$client" redis-benchmark -q -h "$c" -n 1500 -c 2 -t set,get,lpush,lpop,hset,incr >/dev/null 2>&1; done; sleep 3; done ) & LOAD_PIDS+=($!)
  ( local clients=3; [ "$phase" = test ] && clients=2
    while :; do for d in "${DB[@]}"; do podman exec "$client" pgbench -n -T 4 -c "$clients" -h "$d" -U postgres postgres >/dev/null 2>&1; done; sleep 2; done ) & LOAD_PIDS+=($!)
  ( while :; do
      for n in api-5f6b8d7c9-q9r2v api-5f6b8d7c9-h8t2w; do podman exec "corpus-$RUN-$n" curl -fsS -o /dev/null http://127.0.0.1:8000/health >/dev/null 2>&1; done
      for n in db-1 db-0; do podman exec "corpus-$RUN-$n" pg_isready -h /tmp -U postgres >/dev/null 2>&1; done
      for n in cache-1 cache-0; do podman exec "corpus-$RUN-$n" redis-cli ping >/dev/null 2>&1; done
      for n in web-7c9d5b6f48-m4q7z web-7c9d5b6f48-x2k9p; do podman exec "corpus-$RUN-$n" curl -fsS -o /dev/null http://127.0.0.1/ >/dev/null 2>&1; done
      sleep 10; done ) & LOAD_PIDS+=($!)
}
stop_load() { for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait "${LOAD_PIDS[@]}" 2>/dev/null || true; LOAD_PIDS=(); sleep 2; }

load learn
sleep "$LEARN_S"
stop_load
label "{\"kind\":\"phase\",\"phase\":\"test\",\"start\":$(now)}"
load test
sleep "$TEST_S"
stop_load
label "{\"kind\":\"phase\",\"phase\":\"attacks\",\"start\":$(now)}"

# --- attack scenarios (scenarios.sh defines SCENARIOS and run_scenario) ---
source scripts/corpus/scenarios.sh
[ "$VARIANT" = 2 ] && variant2_scenarios
for s in "${SCENARIOS[@]}"; do
  IFS='|' read -r name class technique target how cmd <<<"$s"
  start=$(now)
  run_scenario "$target" "$how" "$cmd" || true
  sleep 1
  end=$(now)
  label "{\"kind\":\"scenario\",\"name\":\"$name\",\"class\":\"$class\",\"technique\":\"$technique\",\"container\":\"corpus-$RUN-$target\",\"start\":$start,\"end\":$end}"
  sleep 1
done
label "{\"kind\":\"phase\",\"phase\":\"end\",\"start\":$(now)}"
sleep 2
kill -INT "$SENSOR_PID"; wait "$SENSOR_PID" || true; SENSOR_PID=""
tail -2 "$WORK/sensor.log"
node --import tsx scripts/corpus/split.ts "$EVENTS" "$LABELS" "$OUT"
rm -rf "$WORK"
