#!/usr/bin/env bash
# Postgres -> Apache Kafka: Tidemark beside Debezium 3.6.1 in a Kafka Connect 4.4 distributed
# worker, on the same broker and the same data, in one run.
#
#   cargo build --release -p tidemark --bin tidemark --example kafka_latency && bench/kafka.sh
#
# Starts a throwaway Postgres 15 (fsync off; synchronous_commit on, see below) and a throwaway
# Apache Kafka 4.4 broker (single-node KRaft, broker and controller in one JVM, storage
# formatted first; jars from `tests/support/kafka/fetch.sh kafka`), on free ports of 127.0.0.1.
# Every case gets a fresh table, slot, publication and topic, and a fresh connector process:
#
# - tidemark: `target/release/tidemark run` with the case's properties (offsets in a Kafka
#   topic, `offset.storage.topic`).
# - connect: `org.apache.kafka.connect.cli.ConnectDistributed` from the jars of
#   `tests/support/kafka/fetch.sh connect` (plugin.path holding Debezium 3.6.1's Postgres
#   connector), its own group and config/offset/status topics, with the JVM options Kafka's
#   bin/connect-distributed.sh gives (-Xms256M -Xmx2G and kafka-run-class.sh's G1 options;
#   CONNECT_HEAP overrides the heap) and Connect's and Debezium's defaults otherwise; the
#   connector is POSTed to its REST API once the worker answers, as users deploy it.
#
# Both sides get the same connector settings (snapshot.mode=no_data, pgoutput, one table),
# topics created by the connector with 1 partition, replication factor 1 and
# cleanup.policy=compact (Tidemark's default for change topics, set for both), and the
# JsonConverter with key/value.converter.schemas.enable = true, then false (SCHEMAS).
# The broker gets kafka-server-start.sh's fixed heap (-Xms1G -Xmx1G, BROKER_HEAP) and the same
# G1 options. target/release/examples/kafka_latency reads the topic as events arrive, from the
# topic's end after a warm-up row created it, and notes when each became readable:
#
# - tx: one transaction inserts N rows (1,000,000) while the connector streams; rows/s =
#   rows / (the transaction's commit time, source.ts_ms -> last event readable in Kafka)
#   (commit_rows_per_s; max_ms is that time). Only the database's and the reader's clocks
#   count: rows_per_s, from the first event's ts_ms (stamped by the connector when it built
#   the event, after whatever it buffered before), is reported too.
# - load R: R rows/s offered for D seconds (20) in transactions of R/100 rows every 10 ms;
#   latency per event = time readable in Kafka - source.ts_ms (its transaction's commit
#   time); p50, p99 and max over every event. LOADS ("5000 20000") always run; then STEPS
#   ("10000 50000 100000 200000 400000") search the highest sustained rate: a step runs when it
#   lies between the highest sustained and the lowest failed rate so far, in ascending order.
#   R is sustained when Postgres offered it (>= 95% of R achieved), every row arrived, and the
#   connector kept up with it: the median latency of the run's last tenth of events exceeds its
#   first tenth's by at most 5% of the run (D x 50 ms: 1 s at D=20), the backlog a connector
#   delivering 95% of R gathers. Otherwise the verdict says which: not_offered, incomplete,
#   fell_behind.
# - Per case and process (the connector's: Tidemark or Connect's JVM, and the broker's):
#   peak RSS = /proc/<pid>/status VmHWM read at the case's end (the kernel's high-water mark;
#   the connector process is new per case, so its figure covers its start-up too; the broker's
#   is reset through /proc/<pid>/clear_refs when the workload starts, so it is the peak during
#   the workload, its heap grown in earlier cases included); CPU seconds = /proc/<pid>/stat
#   utime+stime over the workload (warm-up row read -> last event read), for the profile also
#   of the slot's walsender (Postgres decoding) and of the reader (/usr/bin/time).
# - Start-up: ready_s = process launched -> its replication slot active (both); for Connect
#   also rest_s (launched -> REST answers) and running_s (launched -> connector and task
#   RUNNING); start_cpu_s = the process's CPU seconds until ready.
#
# Env: N, D, LOADS, STEPS, SCHEMAS ("true false"), TOOLS ("tidemark connect"), TIMEOUT (the
# reader's, 900 s), W (work dir, /tmp/tidemark-kafka-bench), BROKER_HEAP, CONNECT_HEAP,
# TIDEMARK_PROPS / CONNECT_PROPS (extra lines for Tidemark's / the worker's properties, for
# experiments; the defaults are the figures' settings).
# Prints RESULT lines as they come and Markdown tables at the end (bench/summary.py, which
# also reads a saved $W/results.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-1000000}
D=${D:-20}
LOADS=${LOADS:-5000 20000}
STEPS=${STEPS:-10000 50000 100000 200000 400000}
SCHEMAS=${SCHEMAS:-true false}
TOOLS=${TOOLS:-tidemark connect}
TIMEOUT=${TIMEOUT:-900}
W=${W:-/tmp/tidemark-kafka-bench}
G1="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
BROKER_HEAP=${BROKER_HEAP:--Xms1G -Xmx1G}
CONNECT_HEAP=${CONNECT_HEAP:--Xms256M -Xmx2G}
BIN=/usr/lib/postgresql/15/bin
TIDEMARK=$ROOT/target/release/tidemark
LATENCY=$ROOT/target/release/examples/kafka_latency
CACHE=${TIDEMARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tidemark}
KAFKA_LIBS=$CACHE/kafka-4.4.0/libs
CONNECT_HOME=$CACHE/connect-4.4.0
for b in "$TIDEMARK" "$LATENCY"; do
  [ -x "$b" ] || { echo "missing $b (see the header of $0)" >&2; exit 1; }
done
bash tests/support/kafka/fetch.sh kafka >/dev/null
rm -rf "$W"; mkdir -p "$W"
# fetch.sh connect also puts the Sanitizer shim Debezium 3.6.1 needs on a Kafka 4.4 worker
# (tests/support/kafka/shim) into Connect's libs.
connect_plugins() { bash tests/support/kafka/fetch.sh connect >/dev/null; }
RESULTS=$W/results.txt; : > "$RESULTS"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
P() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d bench -qtAX -v ON_ERROR_STOP=1 "$@"; }
result() { echo "RESULT $*" | tee -a "$RESULTS"; }
die() { echo "bench/kafka.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# CPU ticks (utime + stime, all threads) and peak RSS (kB) of a process.
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hwm_kb() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
cpu_s() { awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b - a) / 1000}'; }
tail_log() { echo "--- $1:" >&2; tail -n 40 "$1" >&2; }

case " $TOOLS " in *" connect "*) connect_plugins ;; esac
PORT=$(free_port); KPORT=$(free_port); CPORT=$(free_port)
while [ "$KPORT" = "$PORT" ]; do KPORT=$(free_port); done
while [ "$CPORT" = "$PORT" ] || [ "$CPORT" = "$KPORT" ]; do CPORT=$(free_port); done

# Postgres 15, as bench/pg.sh.
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
full_page_writes = off
CONF
# synchronous_commit stays on (free with fsync off): with it off, a commit's WAL reaches the
# walsender only at the WAL writer's next flush (wal_writer_delay, 200 ms), which would add up
# to 200 ms to every latency figure, whatever the connector.
as_pg "$BIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start >/dev/null
"$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE bench"

# Apache Kafka 4.4: one KRaft node, as tests/support/kafka/broker.rs starts it.
mkdir -p "$W/kafka"
cat > "$W/kafka/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KPORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KPORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$W/kafka/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
# shellcheck disable=SC2086
java $BROKER_HEAP $G1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_LIBS/*" \
  kafka.tools.StorageTool format -t dGlkZW1hcmstYmVuY2gtMQ -c "$W/kafka/server.properties" \
  >"$W/kafka/format.log" 2>&1 || { tail_log "$W/kafka/format.log"; die "formatting Kafka's storage failed"; }
# shellcheck disable=SC2086
java $BROKER_HEAP $G1 -cp "$KAFKA_LIBS/*" kafka.Kafka "$W/kafka/server.properties" \
  >"$W/kafka/broker.log" 2>&1 &
BROKER_PID=$!
TOOL_PID=
BROKER_PEAK=0
cleanup() {
  [ -n "$TOOL_PID" ] && kill "$TOOL_PID" 2>/dev/null || true
  kill "$BROKER_PID" 2>/dev/null || true
  as_pg "$BIN/pg_ctl" -D "$W/pg" -m immediate -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 900); do
  grep -q "Kafka Server started" "$W/kafka/broker.log" && break
  kill -0 "$BROKER_PID" 2>/dev/null || { tail_log "$W/kafka/broker.log"; die "the broker exited"; }
  sleep 0.1
done
grep -q "Kafka Server started" "$W/kafka/broker.log" || { tail_log "$W/kafka/broker.log"; die "the broker did not start in 90 s"; }
echo "Apache Kafka 4.4.0 on 127.0.0.1:$KPORT, Postgres on $PORT, work dir $W" >&2

# The connector settings both sides get (properties lines).
connector_properties() { # name table
  cat <<PROPS
connector.class=io.debezium.connector.postgresql.PostgresConnector
tasks.max=1
database.hostname=127.0.0.1
database.port=$PORT
database.user=postgres
database.password=postgres
database.dbname=bench
topic.prefix=bench
table.include.list=public.$2
slot.name=slot_$1
publication.name=pub_$1
publication.autocreate.mode=filtered
plugin.name=pgoutput
snapshot.mode=no_data
topic.creation.default.partitions=1
topic.creation.default.replication.factor=1
topic.creation.default.cleanup.policy=compact
PROPS
}

# Starts `tidemark run` for a case; sets TOOL_PID.
start_tidemark() { # name table schemas
  { echo "name=bench-$1"; connector_properties "$1" "$2"; cat <<PROPS; } > "$W/$1.properties"
bootstrap.servers=127.0.0.1:$KPORT
offset.storage.topic=tidemark-offsets-$1
offset.storage.replication.factor=1
key.converter.schemas.enable=$3
value.converter.schemas.enable=$3
${TIDEMARK_PROPS:-}
PROPS
  "$TIDEMARK" run "$W/$1.properties" >"$W/$1.log" 2>&1 &
  TOOL_PID=$!
}

# Starts a Connect worker for a case, waits for its REST API, POSTs the connector and waits
# until it and its task are RUNNING; sets TOOL_PID, REST_MS and RUNNING_MS (since LAUNCH_MS).
start_connect() { # name table schemas
  local rest; rest=$(free_port)
  cat > "$W/$1.worker.properties" <<PROPS
bootstrap.servers=127.0.0.1:$KPORT
group.id=connect-$1
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=$3
value.converter.schemas.enable=$3
config.storage.topic=connect-configs-$1
offset.storage.topic=connect-offsets-$1
status.storage.topic=connect-status-$1
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
listeners=http://127.0.0.1:$rest
plugin.path=$CONNECT_HOME/plugins
${CONNECT_PROPS:-}
PROPS
  connector_properties "$1" "$2" | jq -Rn --arg name "bench-$1" \
    '{name: $name, config: ([inputs | capture("(?<key>[^=]+)=(?<value>.*)")] | from_entries)}' \
    > "$W/$1.connector.json"
  # shellcheck disable=SC2086
  java $CONNECT_HEAP $G1 -Dlog4j2.configurationFile="$ROOT/tests/support/kafka/connect-log4j2.properties" \
    -cp "$CONNECT_HOME/libs/*" org.apache.kafka.connect.cli.ConnectDistributed \
    "$W/$1.worker.properties" >"$W/$1.log" 2>&1 &
  TOOL_PID=$!
  local url=http://127.0.0.1:$rest
  for _ in $(seq 1 1800); do
    curl -sf "$url/" >/dev/null 2>&1 && break
    kill -0 "$TOOL_PID" 2>/dev/null || { tail_log "$W/$1.log"; die "the Connect worker exited"; }
    sleep 0.1
  done
  curl -sf "$url/" >/dev/null || { tail_log "$W/$1.log"; die "Connect's REST API did not answer in 180 s"; }
  REST_MS=$(($(now_ms) - LAUNCH_MS))
  # A worker answers before it has joined its group (409 then): the POST is retried.
  local code=
  for _ in $(seq 1 600); do
    code=$(curl -s -o "$W/$1.post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data @"$W/$1.connector.json" "$url/connectors" || true)
    case "$code" in
      201) break ;;
      409 | 000 | 5*) sleep 0.1 ;;
      *) cat "$W/$1.post.json" >&2; die "Connect refused the connector (HTTP $code)" ;;
    esac
  done
  [ "$code" = 201 ] || { cat "$W/$1.post.json" >&2; die "Connect did not take the connector in 60 s (HTTP $code)"; }
  local state=
  for _ in $(seq 1 1800); do
    state=$(curl -sf "$url/connectors/bench-$1/status" 2>/dev/null \
      | jq -r '[.connector.state, (.tasks[0].state // "NONE")] | join(" ")' || true)
    [ "$state" = "RUNNING RUNNING" ] && break
    case "$state" in *FAILED*)
      curl -s "$url/connectors/bench-$1/status" >&2; die "the connector failed (see $W/$1.log)" ;;
    esac
    sleep 0.1
  done
  [ "$state" = "RUNNING RUNNING" ] || { tail_log "$W/$1.log"; die "the connector is not RUNNING after 180 s: $state"; }
  RUNNING_MS=$(($(now_ms) - LAUNCH_MS))
  CONNECT_URL=$url
}

stop_tool() { # tool name
  if [ "$1" = connect ]; then
    # Removing the connector first stops its task, as a user would before a worker goes.
    curl -sf -X DELETE "$CONNECT_URL/connectors/bench-$2" >/dev/null || true
  fi
  kill "$TOOL_PID" 2>/dev/null || true
  wait "$TOOL_PID" 2>/dev/null || true
  TOOL_PID=
  for _ in $(seq 1 300); do
    [ "$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='slot_$2' AND active")" = 0 ] && break
    sleep 0.1
  done
  P -c "SELECT pg_drop_replication_slot('slot_$2') FROM pg_replication_slots WHERE slot_name='slot_$2'" >/dev/null
  P -c "DROP TABLE t_$2; DROP PUBLICATION IF EXISTS pub_$2"
}

# One case: a fresh table, the connector started and streaming, a warm-up row, the workload
# while the reader reads, then the figures. Sets VERDICT (load cases).
run_case() { # tool case schemas rows workload-sql [offered-rate]
  local tool=$1 case=$2 schemas=$3 rows=$4 sql=$5 rate=${6:-}
  local name="${tool}_s${schemas:0:1}_$case" table topic
  table="t_$name"; topic="bench.public.$table"
  P -c "CREATE TABLE $table (id bigint PRIMARY KEY, v text, n int)"
  REST_MS=; RUNNING_MS=
  LAUNCH_MS=$(now_ms)
  "start_$tool" "$name" "$table" "$schemas"
  for _ in $(seq 1 1800); do
    [ "$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='slot_$name' AND active")" = 1 ] && break
    kill -0 "$TOOL_PID" 2>/dev/null || { tail_log "$W/$name.log"; die "$tool exited before streaming"; }
    sleep 0.1
  done
  local ready_ms=$(($(now_ms) - LAUNCH_MS)) start_ticks
  start_ticks=$(ticks "$TOOL_PID")
  P -c "INSERT INTO $table VALUES (0, 'warm-up', 0)"
  "$LATENCY" "127.0.0.1:$KPORT" "$topic" 1 180 beginning >"$W/$name.warmup.json" 2>/dev/null \
    || { tail_log "$W/$name.log"; die "no warm-up event in $topic"; }
  [ "$(jq .rows "$W/$name.warmup.json")" = 1 ] || { tail_log "$W/$name.log"; die "no warm-up event in $topic within 180 s"; }
  local t0 b0 s0 w0 w1 walsender
  walsender=$(P -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name='slot_$name'")
  t0=$(ticks "$TOOL_PID"); b0=$(ticks "$BROKER_PID"); s0=$(ticks "$walsender")
  echo 5 > "/proc/$BROKER_PID/clear_refs"
  /usr/bin/time -f "%U %S" -o "$W/$name.reader.time" \
    "$LATENCY" "127.0.0.1:$KPORT" "$topic" "$rows" "$TIMEOUT" end >"$W/$name.latency.json" \
    2>"$W/$name.reader.log" &
  local reader=$!
  # The workload starts once the reader has the topic's end offset.
  for _ in $(seq 1 300); do
    grep -qs "^kafka_latency: reading" "$W/$name.reader.log" && break
    kill -0 "$reader" 2>/dev/null || { tail_log "$W/$name.reader.log"; die "the reader exited"; }
    sleep 0.1
  done
  w0=$(now_ms)
  P -c "$sql"
  w1=$(now_ms)
  wait "$reader"
  local t1 b1 s1 rss brss
  t1=$(ticks "$TOOL_PID"); b1=$(ticks "$BROKER_PID"); s1=$(ticks "$walsender")
  rss=$(hwm_kb "$TOOL_PID"); brss=$(hwm_kb "$BROKER_PID")
  stop_tool "$tool" "$name"
  local got achieved=
  got=$(jq .rows "$W/$name.latency.json")
  VERDICT=-
  if [ -n "$rate" ]; then
    achieved=$(awk -v r="$rows" -v ms="$((w1 - w0))" 'BEGIN{printf "%.0f", r * 1000 / ms}')
    VERDICT=$(jq -r --argjson rate "$rate" --argjson achieved "$achieved" --argjson rows "$rows" \
      --argjson slack "$((D * 50))" '
      if $achieved < 0.95 * $rate then "not_offered"
      elif .rows < $rows then "incomplete"
      elif .tail_p50_ms - .head_p50_ms > $slack then "fell_behind"
      else "sustained" end' "$W/$name.latency.json")
  fi
  [ "$got" = "$rows" ] || echo "bench/kafka.sh: $name: $got of $rows rows read within ${TIMEOUT}s" >&2
  result "$tool $case schemas=$schemas expected=$rows" \
    "$(jq -r 'to_entries | map("\(.key)=\(.value)") | join(" ")' "$W/$name.latency.json")" \
    "offered=${rate:--} achieved=${achieved:--} workload_s=$(secs "$w0" "$w1") verdict=$VERDICT" \
    "rss_kb=$rss cpu_s=$(cpu_s "$t0" "$t1") broker_rss_kb=$brss broker_cpu_s=$(cpu_s "$b0" "$b1")" \
    "walsender_cpu_s=$(cpu_s "$s0" "$s1") reader_cpu_s=$(awk '{printf "%.1f", $1 + $2}' "$W/$name.reader.time")" \
    "ready_s=$(secs 0 "$ready_ms") start_cpu_s=$(cpu_s 0 "$start_ticks")" \
    "rest_s=$([ -n "$REST_MS" ] && secs 0 "$REST_MS" || echo -)" \
    "running_s=$([ -n "$RUNNING_MS" ] && secs 0 "$RUNNING_MS" || echo -)"
  [ "$brss" -gt "$BROKER_PEAK" ] && BROKER_PEAK=$brss
  return 0
}

# R rows/s for D s: transactions of R/100 rows every 10 ms (the loop catches up when late).
load_sql() { # table rate
  local per=$(($2 / 100)) steps=$((D * 100))
  echo "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
    FOR i IN 0..$((steps - 1)) LOOP
      INSERT INTO $1 SELECT g, 'value ' || g, g FROM generate_series(i * $per + 1, i * $per + $per) g;
      COMMIT;
      PERFORM pg_sleep(greatest(0, extract(epoch FROM (t0 + (i + 1) * interval '10 ms' - clock_timestamp()))));
    END LOOP; END \$\$"
}

run_load() { # tool schemas rate
  local per=$(($3 / 100)) name="${1}_s${2:0:1}_load$3"
  run_case "$1" "load$3" "$2" $((per * D * 100)) "$(load_sql "t_$name" "$3")" "$3"
  if [ "$VERDICT" = sustained ]; then
    [ "$3" -gt "$LO" ] && LO=$3
  elif [ "$HI" = 0 ] || [ "$3" -lt "$HI" ]; then
    HI=$3; HI_VERDICT=$VERDICT
  fi
}

for schemas in $SCHEMAS; do
  for tool in $TOOLS; do
    name="${tool}_s${schemas:0:1}_tx"
    run_case "$tool" tx "$schemas" "$N" \
      "INSERT INTO t_$name SELECT g, 'value ' || g, g FROM generate_series(1, $N) g"
    LO=0; HI=0; HI_VERDICT=-
    for R in $LOADS; do run_load "$tool" "$schemas" "$R"; done
    for R in $(printf '%s\n' $STEPS | sort -n); do
      case " $LOADS " in *" $R "*) continue ;; esac
      if [ "$R" -gt "$LO" ] && { [ "$HI" = 0 ] || [ "$R" -lt "$HI" ]; }; then
        run_load "$tool" "$schemas" "$R"
      fi
    done
    result "$tool best schemas=$schemas sustained_rows_per_s=$LO first_failed=$HI failed_verdict=$HI_VERDICT"
  done
done
result "broker run peak_rss_kb=$BROKER_PEAK"

echo
python3 "$ROOT/bench/summary.py" "$RESULTS"
