#!/usr/bin/env bash
# MariaDB throughput: Tidemark beside Debezium 3.6.3's MariaDB connector (the oracle in
# /work/shared/dbz, with the connector built by tests/workloads/dbz-mariadb-jar.sh), on the
# same throwaway mariadbd and the same data, in one run on this machine.
#
#   bench/maria.sh [stream|snapshot|all]
#
# Env: N (rows, 1000000), SCHEMAS ("true false": JsonConverter schemas on, off), REPEAT
# (Tidemark measurements per case, 3; the table shows medians), DBZ (1 runs Debezium too,
# once per case; 0 skips it), DBZ_SRC (a debezium/debezium checkout, branch 3.6, needed once
# to build the connector), W (work dir, /tmp/tidemark-bench-maria), PORT (55480).
# Prints RESULT lines as they come and a Markdown table at the end (bench/summary.py).
#
# Server: mariadbd from Debian's packages, its own data directory under $W, ROW binlog with
# FULL row images and metadata, GTIDs, innodb_flush_log_at_trx_commit=2, sync_binlog=0.
# Table (id bigint primary key, v varchar(32), n int), rows (seq, md5(seq), seq).
#
# Streaming: the connector streams (snapshot.mode=no_data) while one transaction inserts N
# rows; rate = N / (first → last event, from the events' own ts_ms), as Debezium's runner
# measures itself. Snapshot: N rows read by snapshot.mode=initial_only (Debezium: initial,
# stopped after N events). Both tools write the schema history to a file (Debezium needs
# one). Peak RSS: /usr/bin/time's maximum resident set size.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-1000000}
W=${W:-/tmp/tidemark-bench-maria}
PORT=${PORT:-55480}
SCHEMAS_LIST=${SCHEMAS:-true false}
DBZ=${DBZ:-1}
REPEAT=${REPEAT:-3}
what=${1:-all}
TIDEMARK=$ROOT/target/release/tidemark
SOCK=$W/maria.sock
mkdir -p "$W"
RESULTS=$W/results.txt
: > "$RESULTS"

SQL() { mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot --batch --skip-column-names bench "$@"; }
now_ms() { date +%s%3N; }
rss_of() { awk -F': ' '/Maximum resident set size/{print $2}' "$1"; }
result() { echo "RESULT $*" | tee -a "$RESULTS"; }
lines_of() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
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

start_maria() {
  local user=()
  [ "$(id -u)" = 0 ] && user=(--user=root)
  if [ ! -d "$W/data/mysql" ]; then
    mkdir -p "$W/data" "$W/tmp"
    mariadb-install-db --no-defaults --datadir="$W/data" --auth-root-authentication-method=normal \
      --skip-test-db "${user[@]}" >/dev/null
  fi
  if ! mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    /usr/sbin/mariadbd --no-defaults --datadir="$W/data" --socket="$SOCK" --port="$PORT" \
      --bind-address=127.0.0.1 --pid-file="$W/maria.pid" --log-error="$W/maria.err" \
      --tmpdir="$W/tmp" --log-bin="$W/data/binlog" --server-id=1 --binlog-format=ROW \
      --binlog-row-image=FULL --binlog-row-metadata=FULL --gtid-strict-mode=ON \
      --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
      --skip-name-resolve "${user[@]}" >/dev/null 2>&1 &
    for _ in $(seq 1 300); do
      mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.2
    done
  fi
  mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot -e "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'dbz';
    GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE IF NOT EXISTS bench;"
}

stop_maria() {
  [ -f "$W/maria.pid" ] && kill "$(cat "$W/maria.pid")" 2>/dev/null || true
  for _ in $(seq 1 100); do [ -S "$SOCK" ] || break; sleep 0.2; done
}

setup_tables() {
  SQL -e "DROP TABLE IF EXISTS bench_stream, bench_snap;
    CREATE TABLE bench_stream (id bigint PRIMARY KEY, v varchar(32), n int);
    CREATE TABLE bench_snap (id bigint PRIMARY KEY, v varchar(32), n int);
    RESET MASTER;"
}

# The common connector settings, for both tools.
common() { # common <name> <schemas>
  echo "name=$1"
  echo "database.hostname=127.0.0.1"
  echo "database.port=$PORT"
  echo "database.user=root"
  echo "database.password=dbz"
  echo "database.server.id=5481"
  echo "topic.prefix=bench"
  echo "database.include.list=bench"
  echo "include.schema.changes=false"
  echo "offset.flush.interval.ms=1000"
  echo "key.converter.schemas.enable=$2"
  echo "value.converter.schemas.enable=$2"
}

config() { # config <file> <schemas> key=value...
  local file=$1 schemas=$2; shift 2
  {
    echo "connector.class=io.debezium.connector.mariadb.MariaDbConnector"
    common bench "$schemas"
    echo "schema.history.internal=io.debezium.storage.file.history.FileSchemaHistory"
    for kv in "$@"; do echo "$kv"; done
  } > "$file"
}

wait_binlog_dump() { # until a connector reads the binlog, then 1 s more
  for _ in $(seq 1 600); do
    [ "$(SQL -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")" -ge 1 ] && break
    sleep 0.1
  done
  sleep 1
}

insert_rows() { # insert_rows <table>: N rows in one transaction
  SQL -e "INSERT INTO $1 SELECT seq, md5(seq), seq FROM seq_1_to_$N"
}

tidemark_stream() { # tidemark_stream <schemas>
  local schemas=$1 out=$W/tm-stream-$1.jsonl
  SQL -e "TRUNCATE bench_stream"
  rm -f "$out" "$W/offsets-stream.json" "$W/history-stream.jsonl"
  config "$W/stream.properties" "$schemas" snapshot.mode=no_data \
    table.include.list=bench.bench_stream "sink.file=$out" \
    "offset.storage.file.filename=$W/offsets-stream.json" \
    "schema.history.internal.file.filename=$W/history-stream.jsonl"
  /usr/bin/time -v "$TIDEMARK" run "$W/stream.properties" 2> "$W/tm-stream-$schemas.log" &
  local pid=$!
  wait_binlog_dump
  insert_rows bench_stream
  local cms lms; cms=$(now_ms)
  while [ "$(lines_of "$out")" -lt "$N" ]; do
    kill -0 $pid 2>/dev/null || { echo "WARN tidemark stopped early (see $W/tm-stream-$schemas.log)" >&2; break; }
    sleep 0.5
  done
  lms=$(now_ms)
  kill -TERM $(pgrep -P $pid tidemark || echo $pid) 2>/dev/null || true
  wait $pid || true
  local span; span=$(span_of "$out")
  result "tidemark stream rows=$N schemas=$schemas first_to_last_s=$span rows_per_s=$(awk "BEGIN{printf \"%.0f\", $N/$span}") commit_to_last_s=$(awk "BEGIN{printf \"%.3f\", ($lms-$cms)/1000}") peak_rss_kb=$(rss_of "$W/tm-stream-$schemas.log") out_bytes=$(stat -c %s "$out")"
  rm -f "$out"
}

tidemark_snapshot() { # tidemark_snapshot <schemas>
  local schemas=$1 out=$W/tm-snapshot-$1.jsonl t0 t1
  rm -f "$out" "$W/offsets-snapshot.json" "$W/history-snapshot.jsonl"
  config "$W/snapshot.properties" "$schemas" snapshot.mode=initial_only \
    table.include.list=bench.bench_snap "sink.file=$out" \
    "offset.storage.file.filename=$W/offsets-snapshot.json" \
    "schema.history.internal.file.filename=$W/history-snapshot.jsonl"
  t0=$(now_ms)
  /usr/bin/time -v "$TIDEMARK" run "$W/snapshot.properties" 2> "$W/tm-snapshot-$schemas.log"
  t1=$(now_ms)
  local lines span; lines=$(lines_of "$out"); span=$(span_of "$out")
  [ "$lines" = "$N" ] || echo "WARN tidemark snapshot wrote $lines of $N rows" >&2
  result "tidemark snapshot rows=$N schemas=$schemas first_to_last_s=$span rows_per_s=$(awk "BEGIN{printf \"%.0f\", $N/$span}") wall_s=$(awk "BEGIN{printf \"%.3f\", ($t1-$t0)/1000}") peak_rss_kb=$(rss_of "$W/tm-snapshot-$schemas.log") out_bytes=$(stat -c %s "$out")"
  rm -f "$out"
}

dbz_props() { # dbz_props <file> <schemas>
  { echo "connector.class=io.debezium.connector.mariadb.MariaDbConnector"; common "dbz-bench" "$2"; } > "$1"
}

dbz_report() { # dbz_report <phase> <schemas> <log> <out> [commit_ms]
  local phase=$1 schemas=$2 log=$3 out=$4 cms=${5:-} extra=""
  local summary; summary=$(grep -o 'DBZRUN_SUMMARY.*' "$log" | head -1)
  field() { echo "$summary" | grep -o "$1=[^ ]*" | head -1 | cut -d= -f2; }
  if [ -n "$cms" ]; then
    extra=" commit_to_last_s=$(awk "BEGIN{printf \"%.3f\", ($(field last_epoch_ms)-$cms)/1000}")"
  fi
  result "debezium $phase rows=$N schemas=$schemas events=$(field events) first_to_last_s=$(field first_to_last_s) events_per_s=$(field events_per_s)$extra jvm_total_s=$(field jvm_total_s) peak_rss_kb=$(rss_of "$log") out_bytes=$(stat -c %s "$out")"
}

debezium() { # debezium <phase> <schemas>: Debezium's MariaDB connector on the same server
  [ "$DBZ" = 1 ] || return 0
  local phase=$1 schemas=$2 out=$W/dbz-$1-$2.jsonl log=$W/dbz-$1-$2.log ready=$W/dbz-ready
  local cp; cp=$("$ROOT/tests/workloads/dbz-mariadb-jar.sh") || { echo "WARN no Debezium MariaDB connector: skipped" >&2; return 0; }
  dbz_props "$W/dbz.properties" "$schemas"
  rm -f "$out" "$ready"
  if [ "$phase" = stream ]; then
    SQL -e "TRUNCATE bench_stream"
    DBZ_EXTRA_CP=$cp DBZ_TIME=1 /work/shared/dbz/run.sh "$W/dbz.properties" "$out" "$N" 30 \
      dbzrun.reset=true dbzrun.flush=false dbzrun.state.dir="$W/dbz-state" dbzrun.ready.file="$ready" \
      dbzrun.schemas.enable="$schemas" snapshot.mode=no_data table.include.list=bench.bench_stream \
      > /dev/null 2> "$log" &
    local pid=$!
    for _ in $(seq 1 600); do [ -f "$ready" ] && break; sleep 0.2; done
    wait_binlog_dump
    sleep 1
    insert_rows bench_stream
    local cms; cms=$(now_ms)
    wait $pid || echo "WARN debezium exit code $?" >&2
    dbz_report stream "$schemas" "$log" "$out" "$cms"
  else
    DBZ_EXTRA_CP=$cp DBZ_TIME=1 /work/shared/dbz/run.sh "$W/dbz.properties" "$out" "$N" 30 \
      dbzrun.reset=true dbzrun.flush=false dbzrun.state.dir="$W/dbz-state" \
      dbzrun.schemas.enable="$schemas" snapshot.mode=initial table.include.list=bench.bench_snap \
      > /dev/null 2> "$log" || echo "WARN debezium exit code $?" >&2
    dbz_report snapshot "$schemas" "$log" "$out"
  fi
  rm -f "$out"
}

[ -x "$TIDEMARK" ] || cargo build --release -p tidemark
start_maria
setup_tables
case "$what" in
  stream|all)
    for _ in $(seq 1 "$REPEAT"); do
      for schemas in $SCHEMAS_LIST; do tidemark_stream "$schemas"; done
    done
    for schemas in $SCHEMAS_LIST; do debezium stream "$schemas"; done
    ;;
esac
case "$what" in
  snapshot|all)
    SQL -e "TRUNCATE bench_snap"
    insert_rows bench_snap
    for _ in $(seq 1 "$REPEAT"); do
      for schemas in $SCHEMAS_LIST; do tidemark_snapshot "$schemas"; done
    done
    for schemas in $SCHEMAS_LIST; do debezium snapshot "$schemas"; done
    ;;
esac
stop_maria
python3 "$ROOT/bench/summary.py" "$RESULTS"
