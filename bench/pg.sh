#!/usr/bin/env bash
# Postgres throughput: Tidemark beside pg_recvlogical (the walsender's own decode rate on the
# same data) and Debezium 3.6.3 (/work/shared/dbz/bench-pg.sh), in one run on this machine.
#
#   bench/pg.sh [stream|snapshot|all|chain]
#
# Env: N (rows, 1000000), SCHEMAS ("true false": JsonConverter schemas on, off), REPEAT
# (Tidemark and pg_recvlogical measurements per case, 3; the table shows medians), DBZ (1
# runs Debezium too, once per case; 0 skips it), W (work dir, /tmp/tidemark-bench), PORT (55470),
# ONLY_DEBEZIUM=1 (add Debezium's figures to the results of an earlier run).
# Debezium runs on the oracle's own throwaway cluster (port 55432, /tmp/dbzpg: its connector
# config names that port), with the same table shape and row count.
# Prints RESULT lines as they come and a Markdown table at the end.
#
# Streaming: the connector streams (snapshot.mode=no_data) while one transaction inserts N
# rows into (id bigint primary key, v text, n int); rate = N / (first → last event), from the
# events' own ts_ms, as Debezium's runner measures it. Snapshot: N rows read by
# snapshot.mode=initial_only. Peak RSS: /usr/bin/time's maximum resident set size.
#
# chain (not part of all): the same streaming case with and without the Wasm chain
# unwrap + route + mask + filter (ExtractNewRecordState, RegexRouter, MaskField$Value,
# io.debezium.transforms.Filter with a CEL condition), alternating, REPEAT times each; rate =
# N / (commit of the insert -> last record in the file), wall clock, since the chain runs after
# the events' ts_ms is taken. Plugins come from target/plugins (cargo xtask plugins).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-1000000}
W=${W:-/tmp/tidemark-bench}
PORT=${PORT:-55470}
SCHEMAS_LIST=${SCHEMAS:-true false}
DBZ=${DBZ:-1}
REPEAT=${REPEAT:-3}
what=${1:-all}
BIN=/usr/lib/postgresql/15/bin
TIDEMARK=$ROOT/target/release/tidemark
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=bench"
mkdir -p "$W"
RESULTS=$W/results.txt
ONLY_DEBEZIUM=${ONLY_DEBEZIUM:-0}
[ "$ONLY_DEBEZIUM" = 1 ] || : > "$RESULTS"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
P() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d bench -qtAX -v ON_ERROR_STOP=1 "$@"; }
now_ms() { date +%s%3N; }
rss_of() { awk -F': ' '/Maximum resident set size/{print $2}' "$1"; }
result() { echo "RESULT $*" | tee -a "$RESULTS"; }
drop_slot() { P -c "SELECT pg_drop_replication_slot('$1') FROM pg_replication_slots WHERE slot_name='$1'" >/dev/null; }
span_of() { # seconds between the first and last event's ts_ms in a JSON-lines file
  python3 - "$1" <<'PY'
import json, sys
def ts(line):
    v = json.loads(line)["value"]
    v = v.get("payload", v)
    return v["ts_ms"]
with open(sys.argv[1], "rb") as f:
    first = f.readline()
    f.seek(0, 2); size = f.tell(); f.seek(max(0, size - 65536))
    last = f.read().splitlines()[-1]
print("%.3f" % ((ts(last) - ts(first)) / 1000))
PY
}

start_pg() {
  if [ ! -f "$W/pg/PG_VERSION" ]; then
    mkdir -p "$W/pg"; [ "$(id -u)" = 0 ] && chown postgres "$W" "$W/pg"; chmod 700 "$W/pg"
    as_pg "$BIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$W/pg/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_wal_size = 4GB
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  as_pg "$BIN/pg_ctl" -D "$W/pg" status >/dev/null 2>&1 || as_pg "$BIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start >/dev/null
  "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qtAX -c "SELECT 1 FROM pg_database WHERE datname='bench'" | grep -q 1 \
    || "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE bench"
}

config() { # config <file> <schemas> key=value...
  local file=$1 schemas=$2; shift 2
  {
    echo "name=bench"
    echo "connector.class=postgres"
    echo "database.hostname=127.0.0.1"
    echo "database.port=$PORT"
    echo "database.user=postgres"
    echo "database.dbname=bench"
    echo "topic.prefix=bench"
    echo "publication.name=bench_pub"
    echo "publication.autocreate.mode=disabled"
    echo "offset.flush.interval.ms=1000"
    echo "key.converter.schemas.enable=$schemas"
    echo "value.converter.schemas.enable=$schemas"
    for kv in "$@"; do echo "$kv"; done
  } > "$file"
}

setup_tables() {
  for s in bench_tm_stream bench_recv_stream bench_recv_snap; do drop_slot $s; done
  P -c "DROP PUBLICATION IF EXISTS bench_pub" -c "DROP TABLE IF EXISTS bench_stream, bench_snap" \
    -c "CREATE TABLE bench_stream (id bigint PRIMARY KEY, v text, n int)" \
    -c "CREATE TABLE bench_snap (id bigint PRIMARY KEY, v text, n int)" \
    -c "CREATE PUBLICATION bench_pub FOR TABLE bench_stream, bench_snap"
}

wait_slot_active() { # wait_slot_active <slot>: until a connector streams from it, then 1 s more
  for _ in $(seq 1 600); do
    [ "$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='$1' AND active")" = 1 ] && break
    sleep 0.1
  done
  sleep 1
}

recv() { # recv <slot> <endpos> <label>: pg_recvlogical decoding the same WAL
  local slot=$1 endpos=$2 label=$3 t0 t1
  t0=$(now_ms)
  /usr/bin/time -v "$BIN/pg_recvlogical" -d "$CONN" --slot "$slot" --start --endpos "$endpos" \
    --plugin=pgoutput -o proto_version=1 -o publication_names=bench_pub -f "$W/recv-$label.bin" \
    2> "$W/recv-$label.time" || true
  t1=$(now_ms)
  result "pg_recvlogical $label rows=$N seconds=$(awk "BEGIN{printf \"%.3f\", ($t1-$t0)/1000}") rows_per_s=$(awk "BEGIN{printf \"%.0f\", $N/(($t1-$t0)/1000)}") peak_rss_kb=$(rss_of "$W/recv-$label.time")"
  rm -f "$W/recv-$label.bin"
  drop_slot "$slot"
}

tidemark_stream() { # tidemark_stream <schemas>
  local schemas=$1 out=$W/tm-stream-$1.jsonl
  P -c "TRUNCATE bench_stream"
  drop_slot bench_tm_stream
  "$BIN/pg_recvlogical" -d "$CONN" --slot bench_recv_stream --create-slot --plugin=pgoutput
  rm -f "$out" "$W/offsets-stream.json"
  config "$W/stream.properties" "$schemas" slot.name=bench_tm_stream snapshot.mode=no_data \
    table.include.list=public.bench_stream "sink.file=$out" "offset.storage.file.filename=$W/offsets-stream.json"
  /usr/bin/time -v "$TIDEMARK" run "$W/stream.properties" 2> "$W/tm-stream-$schemas.log" &
  local pid=$!
  wait_slot_active bench_tm_stream
  P -c "INSERT INTO bench_stream SELECT g, md5(g::text), g::int FROM generate_series(1,$N) g"
  local cms endpos; cms=$(now_ms); endpos=$(P -c "SELECT pg_current_wal_lsn()")
  while [ "$(wc -l < "$out" 2>/dev/null || echo 0)" -lt "$N" ]; do sleep 0.5; done
  local lms; lms=$(now_ms)
  kill -TERM $(pgrep -P $pid tidemark || echo $pid) 2>/dev/null || true
  wait $pid || true
  local span; span=$(span_of "$out")
  result "tidemark stream rows=$N schemas=$schemas first_to_last_s=$span rows_per_s=$(awk "BEGIN{printf \"%.0f\", $N/$span}") commit_to_last_s=$(awk "BEGIN{printf \"%.3f\", ($lms-$cms)/1000}") peak_rss_kb=$(rss_of "$W/tm-stream-$schemas.log") out_bytes=$(stat -c %s "$out")"
  rm -f "$out"
  drop_slot bench_tm_stream
  recv bench_recv_stream "$endpos" "stream-$schemas"
}

chain_stream() { # chain_stream <schemas> <label> [key=value...]: wall-clock rate of one stream
  local schemas=$1 label=$2 out=$W/tm-chain.jsonl; shift 2
  P -c "TRUNCATE bench_stream"
  drop_slot bench_tm_stream
  rm -f "$out" "$W/offsets-stream.json"
  config "$W/chain.properties" "$schemas" slot.name=bench_tm_stream snapshot.mode=no_data \
    table.include.list=public.bench_stream "sink.file=$out" "offset.storage.file.filename=$W/offsets-stream.json" \
    "plugin.path=$ROOT/target/plugins" "$@"
  /usr/bin/time -v "$TIDEMARK" run "$W/chain.properties" 2> "$W/tm-chain-$label.log" &
  local pid=$!
  wait_slot_active bench_tm_stream
  local cms lms; cms=$(now_ms)
  P -c "INSERT INTO bench_stream SELECT g, md5(g::text), g::int FROM generate_series(1,$N) g"
  # the last row's key ends the file: a cheap check of the tail instead of counting lines
  until tail -c 4096 "$out" 2>/dev/null | tail -n 1 | grep -q "\"id\":$N}"; do sleep 0.05; done
  lms=$(now_ms)
  kill -TERM $(pgrep -P $pid tidemark || echo $pid) 2>/dev/null || true
  wait $pid || true
  result "tidemark chain=$label rows=$N schemas=$schemas commit_to_last_s=$(awk "BEGIN{printf \"%.3f\", ($lms-$cms)/1000}") rows_per_s=$(awk "BEGIN{printf \"%.0f\", $N/(($lms-$cms)/1000)}") peak_rss_kb=$(rss_of "$W/tm-chain-$label.log") out_bytes=$(stat -c %s "$out")"
  rm -f "$out"
  drop_slot bench_tm_stream
}

# The chain of the issue: unwrap + route + mask + filter, every step a Wasm plugin.
CHAIN=(
  transforms=unwrap,route,mask,filter
  transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState
  transforms.unwrap.add.fields=op,source.ts_ms
  transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
  'transforms.route.regex=bench\\.public\\.(.*)'
  'transforms.route.replacement=cdc.$1'
  'transforms.mask.type=org.apache.kafka.connect.transforms.MaskField$Value'
  transforms.mask.fields=v
  transforms.filter.type=io.debezium.transforms.Filter
  transforms.filter.language=jsr223.groovy
  "transforms.filter.condition=value.n >= 0 && value.__op != 'd'"
)

tidemark_snapshot() { # tidemark_snapshot <schemas>
  local schemas=$1 out=$W/tm-snapshot-$1.jsonl t0 t1
  rm -f "$out" "$W/offsets-snapshot.json"
  config "$W/snapshot.properties" "$schemas" snapshot.mode=initial_only \
    table.include.list=public.bench_snap "sink.file=$out" "offset.storage.file.filename=$W/offsets-snapshot.json"
  t0=$(now_ms)
  /usr/bin/time -v "$TIDEMARK" run "$W/snapshot.properties" 2> "$W/tm-snapshot-$schemas.log"
  t1=$(now_ms)
  local lines span; lines=$(wc -l < "$out"); span=$(span_of "$out")
  [ "$lines" = "$N" ] || echo "WARN tidemark snapshot wrote $lines of $N rows" >&2
  result "tidemark snapshot rows=$N schemas=$schemas first_to_last_s=$span rows_per_s=$(awk "BEGIN{printf \"%.0f\", $N/$span}") wall_s=$(awk "BEGIN{printf \"%.3f\", ($t1-$t0)/1000}") peak_rss_kb=$(rss_of "$W/tm-snapshot-$schemas.log") out_bytes=$(stat -c %s "$out")"
  rm -f "$out"
}

fill_snapshot_table() {
  local t0 t1 endpos
  "$BIN/pg_recvlogical" -d "$CONN" --slot bench_recv_snap --create-slot --plugin=pgoutput
  t0=$(now_ms)
  P -c "TRUNCATE bench_snap" -c "INSERT INTO bench_snap SELECT g, md5(g::text), g::int FROM generate_series(1,$N) g" -c "VACUUM ANALYZE bench_snap"
  t1=$(now_ms)
  endpos=$(P -c "SELECT pg_current_wal_lsn()")
  echo "INFO fill of $N rows took $(( t1 - t0 )) ms" >&2
  recv bench_recv_snap "$endpos" "snapfill"
  for _ in $(seq 2 "$REPEAT"); do  # the same decode again, for a median
    "$BIN/pg_recvlogical" -d "$CONN" --slot bench_recv_snap --create-slot --plugin=pgoutput
    P -c "TRUNCATE bench_snap" -c "INSERT INTO bench_snap SELECT g, md5(g::text), g::int FROM generate_series(1,$N) g" -c "VACUUM ANALYZE bench_snap"
    endpos=$(P -c "SELECT pg_current_wal_lsn()")
    recv bench_recv_snap "$endpos" "snapfill"
  done
}

debezium() { # Debezium on its own throwaway cluster, same data shape and row count
  [ "$DBZ" = 1 ] || return 0
  [ -x /work/shared/dbz/bench-pg.sh ] || { echo "WARN no Debezium oracle at /work/shared/dbz: skipped" >&2; return 0; }
  local schemas
  for schemas in $SCHEMAS_LIST; do
    W="$W/dbz-$schemas" NSTREAM=$N NSNAP=$N SCHEMAS=$schemas \
      /work/shared/dbz/bench-pg.sh "$what" 2>&1 | grep '^RESULT debezium' | sed 's/^RESULT //' \
      | while read -r line; do result "$line"; done
  done
  /work/shared/dbz/pg.sh destroy >/dev/null 2>&1 || true
}

if [ "$ONLY_DEBEZIUM" = 1 ]; then
  debezium
  python3 "$ROOT/bench/summary.py" "$RESULTS"
  exit 0
fi
[ -x "$TIDEMARK" ] || cargo build --release -p tidemark
start_pg
setup_tables
if [ "$what" = chain ]; then
  for _ in $(seq 1 "$REPEAT"); do
    for schemas in $SCHEMAS_LIST; do
      chain_stream "$schemas" none
      chain_stream "$schemas" unwrap+route+mask+filter "${CHAIN[@]}"
    done
  done
  as_pg "$BIN/pg_ctl" -D "$W/pg" -m fast -w stop >/dev/null
  python3 "$ROOT/bench/summary.py" "$RESULTS"
  exit 0
fi
for _ in $(seq 1 "$REPEAT"); do
  for schemas in $SCHEMAS_LIST; do
    case "$what" in stream|all) tidemark_stream "$schemas" ;; esac
  done
done
case "$what" in
  snapshot|all)
    fill_snapshot_table
    for _ in $(seq 1 "$REPEAT"); do
      for schemas in $SCHEMAS_LIST; do tidemark_snapshot "$schemas"; done
    done
    ;;
esac
as_pg "$BIN/pg_ctl" -D "$W/pg" -m fast -w stop >/dev/null
debezium
python3 "$ROOT/bench/summary.py" "$RESULTS"
