#!/usr/bin/env bash
# Postgres -> Kafka: end-to-end rows/s, and commit-to-Kafka latency (p50/p99) at offered loads.
#
#   cargo build --release -p tidemark --bin tidemark --example kafka_latency && bench/kafka.sh
#
# Starts a throwaway Postgres 15 (fsync off, as bench/pg.sh) and a throwaway tansu broker
# (SQLite storage in the work dir), then for each case runs `tidemark run` (release build)
# streaming one table to Kafka, topics created with 1 partition, and reads the topic with
# target/release/examples/kafka_latency, which notes when each event becomes readable:
#
# - throughput: one transaction inserts N rows (200000) while the connector streams; rate =
#   N / (first event's processing time ts_ms -> last event readable in Kafka).
# - load R: R rows/s offered for D seconds (20) in transactions of R/100 rows every 10 ms;
#   latency = time readable in Kafka - source.ts_ms (the transaction's commit time), per
#   event; p50, p99 and max over every event. LOADS (default "5000 20000").
#
# DBZ=1 (the default) runs the same cases with Debezium 3.6.3's embedded engine writing to the
# same broker with the Java producer (bench/DbzKafka.java, as Debezium Server's Kafka sink;
# jars from /work/shared/dbz, fetched by its run.sh into DBZ_CACHE, default
# ~/.cache/dbz-3.6.3); DBZ=0 skips it.
#
# Env: N, D, LOADS, W (work dir, /tmp/tidemark-kafka-bench), PORT (55480), KPORT (55481),
# FLUSH (offset.flush.interval.ms, 1000), STORAGE (tansu's storage engine, default SQLite in the
# work dir; memory://tansu/ keeps everything in memory). Prints RESULT lines and a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-200000}
D=${D:-20}
LOADS=${LOADS:-5000 20000}
W=${W:-/tmp/tidemark-kafka-bench}
PORT=${PORT:-55480}
KPORT=${KPORT:-55481}
FLUSH=${FLUSH:-1000}
STORAGE=${STORAGE:-sqlite://tansu.db}
DBZ=${DBZ:-1}
DBZ_LIBS=${DBZ_CACHE:-$HOME/.cache/dbz-3.6.3}/libs
BIN=/usr/lib/postgresql/15/bin
TIDEMARK=$ROOT/target/release/tidemark
LATENCY=$ROOT/target/release/examples/kafka_latency
TANSU=$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")
for b in "$TIDEMARK" "$LATENCY" "$TANSU"; do
  [ -x "$b" ] || { echo "missing $b (see the header of $0)" >&2; exit 1; }
done
rm -rf "$W"; mkdir -p "$W"
RESULTS=$W/results.txt; : > "$RESULTS"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
P() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d bench -qtAX -v ON_ERROR_STOP=1 "$@"; }
result() { echo "RESULT $*" | tee -a "$RESULTS"; }

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
as_pg "$BIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start >/dev/null
"$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE bench"
# tansu opens the SQLite file relative to its working directory.
(cd "$W" && exec "$TANSU" broker --storage-engine "$STORAGE" \
  --listener-url "tcp://127.0.0.1:$KPORT" --advertised-listener-url "tcp://127.0.0.1:$KPORT" \
  >/dev/null 2>"$W/tansu.log") &
TANSU_PID=$!
cleanup() {
  [ -n "${TM_PID:-}" ] && kill "$TM_PID" 2>/dev/null || true
  kill "$TANSU_PID" 2>/dev/null || true
  as_pg "$BIN/pg_ctl" -D "$W/pg" -m immediate -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
sleep 1

# Starts Tidemark for a case (its table, slot, publication, topic).
start_tidemark() { # name table
  local name=$1 table=$2
  cat > "$W/$name.properties" <<PROPS
name=bench-$name
connector.class=io.debezium.connector.postgresql.PostgresConnector
database.hostname=127.0.0.1
database.port=$PORT
database.user=postgres
database.dbname=bench
topic.prefix=bench
table.include.list=public.$table
slot.name=slot_$name
publication.name=pub_$name
publication.autocreate.mode=filtered
snapshot.mode=no_data
bootstrap.servers=127.0.0.1:$KPORT
topic.creation.default.partitions=1
topic.creation.default.replication.factor=1
offset.storage.file.filename=$W/$name.offsets.json
offset.flush.interval.ms=$FLUSH
PROPS
  "$TIDEMARK" run "$W/$name.properties" 2>"$W/$name.log" &
  TM_PID=$!
}

# Starts Debezium 3.6.3's embedded engine writing to Kafka (bench/DbzKafka.java) for a case.
start_debezium() { # name table
  local name=$1 table=$2
  cat > "$W/$name.properties" <<PROPS
name=bench-$name
connector.class=io.debezium.connector.postgresql.PostgresConnector
database.hostname=127.0.0.1
database.port=$PORT
database.user=postgres
database.password=postgres
database.dbname=bench
topic.prefix=bench
table.include.list=public.$table
slot.name=slot_$name
publication.name=pub_$name
publication.autocreate.mode=filtered
snapshot.mode=no_data
plugin.name=pgoutput
offset.storage.file.filename=$W/$name.offsets.dat
offset.flush.interval.ms=$FLUSH
key.converter.schemas.enable=true
value.converter.schemas.enable=true
bootstrap.servers=127.0.0.1:$KPORT
PROPS
  cat > "$W/log4j2.properties" <<PROPS
rootLogger.level=WARN
appender.console.type=Console
appender.console.name=err
appender.console.target=SYSTEM_ERR
appender.console.layout.type=PatternLayout
appender.console.layout.pattern=%d{HH:mm:ss.SSS} %-5level [%t] %c{1} - %m%n
rootLogger.appenderRef.err.ref=err
PROPS
  java -Dlog4j2.configurationFile="$W/log4j2.properties" -cp "$W/classes:$DBZ_LIBS/*" \
    DbzKafka "$W/$name.properties" "bench.public.$table" 2>"$W/$name.log" >/dev/null &
  TM_PID=$!
}

# One case: a fresh table and topic, the connector streaming, the workload, the reader.
run_case() { # tool name rows workload-sql
  local tool=$1 name=$2 rows=$3 sql=$4 table="t_$2"
  P -c "CREATE TABLE $table (id bigint PRIMARY KEY, v text, n int)"
  "start_$tool" "$name" "$table"
  for _ in $(seq 1 1200); do
    [ "$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='slot_$name' AND active")" = 1 ] && break
    sleep 0.1
  done
  # The topic exists once the first record is written: a warm-up row creates it.
  P -c "INSERT INTO $table VALUES (0, 'warm-up', 0)"
  "$LATENCY" "127.0.0.1:$KPORT" "bench.public.$table" 1 120 >/dev/null
  "$LATENCY" "127.0.0.1:$KPORT" "bench.public.$table" $((rows + 1)) 600 >"$W/$name.latency.json" &
  local reader=$!
  P -c "$sql"
  wait $reader
  kill "$TM_PID"; wait "$TM_PID" || true; TM_PID=
  result "$tool $name $(cat "$W/$name.latency.json")"
}

TOOLS="tidemark"
if [ "$DBZ" = 1 ]; then
  TOOLS="tidemark debezium"
  mkdir -p "$W/classes"
  javac -nowarn -d "$W/classes" -cp "$DBZ_LIBS/*" "$ROOT/bench/DbzKafka.java"
fi
for tool in $TOOLS; do
  run_case "$tool" "${tool}_throughput" "$N" \
    "INSERT INTO t_${tool}_throughput SELECT g, 'value ' || g, g FROM generate_series(1, $N) g"
  for R in $LOADS; do
    per=$((R / 100)); steps=$((D * 100)); rows=$((per * steps))
    run_case "$tool" "${tool}_load$R" "$rows" "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
        FOR i IN 0..$((steps - 1)) LOOP
          INSERT INTO t_${tool}_load$R SELECT g, 'value ' || g, g FROM generate_series(i * $per + 1, i * $per + $per) g;
          COMMIT;
          PERFORM pg_sleep(greatest(0, extract(epoch FROM (t0 + (i + 1) * interval '10 ms' - clock_timestamp()))));
        END LOOP; END \$\$"
  done
done

python3 - "$RESULTS" <<'PY'
import json, sys
print("\n| tool | case | rows | rows/s | p50 ms | p99 ms | max ms |\n|---|---|---:|---:|---:|---:|---:|")
for line in open(sys.argv[1]):
    _, tool, name, data = line.split(" ", 3)
    r = json.loads(data)
    case = name.split("_", 1)[1]
    print(f"| {tool} | {case} | {r['rows']:,} | {int(r['rows_per_s']):,} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
PY
