#!/usr/bin/env bash
# Chaos run (not a timed test): kill -9 Tidemark at random points of a big snapshot and of the
# stream after it, restart Postgres under it, and check at-least-once delivery with the file
# sink: every row present, duplicates counted (they may only come from the uncommitted tail
# before each crash).
#
#   bench/chaos.sh
#
# Env: N (snapshot rows, 1000000), STREAM (rows written after the snapshot, 200000), KILLS
# (kill -9 points, 10: half during the snapshot, half while streaming), RESTARTS (Postgres
# `pg_ctl restart -m fast` while streaming, 2), SEED (random seed, 1), W (work dir,
# /tmp/tidemark-chaos), PORT (55480). Uses target/release/tidemark (built if missing).
# Prints the figures and exits non-zero when a row is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-1000000}
STREAM=${STREAM:-200000}
KILLS=${KILLS:-10}
RESTARTS=${RESTARTS:-2}
SEED=${SEED:-1}
W=${W:-/tmp/tidemark-chaos}
PORT=${PORT:-55480}
BIN=/usr/lib/postgresql/15/bin
TIDEMARK=$ROOT/target/release/tidemark
RANDOM=$SEED

[ -x "$TIDEMARK" ] || cargo build --release -p tidemark
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
P() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d chaos -qtAX -v ON_ERROR_STOP=1 "$@"; }
pg_ctl() { as_pg "$BIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w "$@" >/dev/null; }
events() { [ -f "$W/out.jsonl" ] && wc -l < "$W/out.jsonl" || echo 0; }

rm -rf "$W"; mkdir -p "$W/pg"
[ "$(id -u)" = 0 ] && chown postgres "$W" "$W/pg"
chmod 700 "$W/pg"
as_pg "$BIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$W/pg/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W'
wal_level = logical
max_wal_size = 4GB
fsync = off
synchronous_commit = off
CONF
pg_ctl start
trap 'kill -9 $(jobs -p) 2>/dev/null || true; pg_ctl -m immediate stop || true' EXIT
"$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qAt -c "CREATE DATABASE chaos" >/dev/null
P -c "CREATE TABLE rows (id bigint PRIMARY KEY, v text)"
P -c "INSERT INTO rows SELECT g, md5(g::text) FROM generate_series(1, $N) g"

cat > "$W/connector.properties" <<CONF
name=chaos
connector.class=io.debezium.connector.postgresql.PostgresConnector
database.hostname=127.0.0.1
database.port=$PORT
database.user=postgres
database.password=unused
database.dbname=chaos
topic.prefix=chaos
slot.name=chaos
publication.name=chaos
snapshot.mode=initial
sink.file=$W/out.jsonl
offset.storage.file.filename=$W/offsets.json
offset.flush.interval.ms=1000
value.converter.schemas.enable=false
key.converter.schemas.enable=false
retriable.restart.connector.wait.ms=200
errors.retry.delay.max.ms=2000
CONF

run=0
start() { run=$((run + 1)); "$TIDEMARK" run "$W/connector.properties" 2>>"$W/tidemark.log" & pid=$!; }
kill_at() { # kill -9 once the output has grown past $1 lines (or the run ended)
  while [ "$(events)" -lt "$1" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}

started=$(date +%s)
snapshot_kills=$(( KILLS / 2 )); stream_kills=$(( KILLS - snapshot_kills ))
# Snapshot kills: at random points of the first N events (each restart takes the snapshot
# again from the start, as Debezium does, so the points grow with what the file holds).
for _ in $(seq "$snapshot_kills"); do
  start
  kill_at $(( $(events) + 1 + RANDOM * 32768 % (N / 2) ))
done
start
# No offset is committed inside a snapshot: the offsets file appears when one completed.
until [ -s "$W/offsets.json" ]; do sleep 0.2; done
# The stream: a writer adds STREAM rows in transactions of 1000 while Tidemark is killed and
# Postgres restarted.
(
  for i in $(seq 0 $(( STREAM / 1000 - 1 ))); do
    from=$(( N + i * 1000 + 1 ))
    until P -c "INSERT INTO rows SELECT g, md5(g::text) FROM generate_series($from, $(( from + 999 ))) g ON CONFLICT DO NOTHING" 2>/dev/null; do sleep 0.2; done
  done
) & writer=$!
restarts_done=0
for k in $(seq "$stream_kills"); do
  if [ "$restarts_done" -lt "$RESTARTS" ]; then
    # Postgres restarts under the running connector, which reconnects.
    sleep 1; pg_ctl -m fast restart; restarts_done=$((restarts_done + 1))
  fi
  kill_at $(( $(events) + 1 + RANDOM % 20000 ))
  start
done
wait "$writer"
total=$(( N + STREAM ))
deadline=$(( $(date +%s) + 600 ))
until python3 - "$W/out.jsonl" "$total" <<'PY'
import json, sys
ids = set()
for line in open(sys.argv[1], "rb"):
    v = json.loads(line)["value"]
    if v and v.get("after"):
        ids.add(v["after"]["id"])
sys.exit(0 if len(ids) >= int(sys.argv[2]) else 1)
PY
do
  [ "$(date +%s)" -lt "$deadline" ] || break
  sleep 2
done
kill -TERM "$pid"; wait "$pid" || true
python3 - "$W/out.jsonl" "$total" "$run" "$KILLS" "$restarts_done" "$(( $(date +%s) - started ))" "$STREAM" <<'PY'
import collections, json, sys
path, total, runs, kills, restarts, secs = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
seen = collections.Counter()
for line in open(path, "rb"):
    v = json.loads(line)["value"]
    if v and v.get("after"):
        seen[v["after"]["id"]] += 1
missing = total - sum(1 for i in range(1, total + 1) if i in seen)
dups = sum(n - 1 for n in seen.values())
snapshot_rows = total - int(sys.argv[7])
snap_dups = sum(n - 1 for i, n in seen.items() if i <= snapshot_rows)
print(f"runs {runs}, kill -9 {kills}, postgres restarts {restarts}, {secs} s")
print("reconnects logged:", sum(1 for l in open(path.replace("out.jsonl", "tidemark.log"), errors="replace") if "reconnecting from the committed offset" in l))
print(f"rows {total}, delivered {len(seen)}, missing {missing}, duplicates {dups} "
      f"({snap_dups} of snapshot rows, from snapshots taken again after a kill inside one; "
      f"{dups - snap_dups} of streamed rows, from the uncommitted tails)")
sys.exit(1 if missing else 0)
PY
