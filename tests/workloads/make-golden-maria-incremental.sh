#!/usr/bin/env bash
# Regenerates tests/golden/maria-incremental*.jsonl (+ .log) with the real Debezium MariaDB
# connector: an incremental snapshot started through a source-channel signal (see
# tests/golden/README-maria-incremental.md for what each file is).
#
#   [DBZ_SRC=<debezium git dir or checkout>] make-golden-maria-incremental.sh [case...]
#
# cases: basic (scenario 1), filter (scenario 2), readonly (scenario 3: read.only=true, source
#        signal), repeat (scenario 1 again on a fresh server, to find the volatile fields), and,
#        scratch only: readonly-file (read.only=true, file signal channel, no other traffic: stalls),
#        readonly-file-nudge (the same plus one unrelated transaction 8 s after the signal).
#        Default: basic filter readonly repeat. Scratch outputs stay in $WORK/<case>/.
#
# Each case runs on a fresh throwaway MariaDB 10.11 (the oracle's maria.sh, private port 53366,
# private dir /tmp/tidemark-maria-inc) that is destroyed afterwards.
#
# The connector: Maven Central has io.debezium:debezium-connector-mariadb only up to 3.5.0.Final
# (no 3.6.x), while the oracle's wheel is Debezium 3.6.3. So, as for maria-basic
# (dbz-mariadb-jar.sh), the connector module is compiled from Debezium's sources (tag
# v3.6.1.Final; its mariadb module is identical to the 3.6 branch) against the wheel's 3.6.3 jars
# and labelled 3.6.3.Final. DBZ_SRC is a Debezium git directory (bare is fine; DBZ_SRC_REF picks
# the tag, default v3.6.1.Final) or a plain checkout. The MariaDB JDBC driver
# (org.mariadb.jdbc:mariadb-java-client 3.5.3, the version Debezium 3.6 pins) comes from Maven
# Central via `mvn dependency:copy`. (Maven's 3.5.0.Final connector jar does not run on the
# wheel's 3.6.3 jars: NoSuchMethodError DefaultQueueProvider.<init>(int) at task start.)
#
# Env: DBZ (oracle dir, default <project root>/../shared/dbz), OUT (default tests/golden),
#      TIDEMARK_CACHE (default ~/.cache/tidemark; jars in $TIDEMARK_CACHE/dbz-mariadb),
#      WORK (scratch dir, default /tmp/tidemark-golden-maria-inc), IDLE (idle stop, default 15 s),
#      EXTRA (space-separated key=value overrides added to every run, e.g. heartbeat.interval.ms=1000).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DBZ=${DBZ:-$(cd "$ROOT/../shared/dbz" && pwd)}
OUT=${OUT:-$ROOT/tests/golden}
CACHE=${TIDEMARK_CACHE:-$HOME/.cache/tidemark}/dbz-mariadb
WORK=${WORK:-/tmp/tidemark-golden-maria-inc}
IDLE=${IDLE:-15}
DRIVER_VERSION=3.5.3
export DBZ_CACHE=${DBZ_CACHE:-$HOME/.cache/dbz-3.6.3}
export MARIA_DIR=/tmp/tidemark-maria-inc MARIA_PORT=53366
mkdir -p "$CACHE" "$WORK" "$OUT"

# ---------------------------------------------------------------- jars
mvn_copy() { # groupId:artifactId:version -> jar in $CACHE
  local a=$1 f
  f=$CACHE/$(echo "$a" | awk -F: '{print $2"-"$3".jar"}')
  [ -f "$f" ] || mvn -q -B dependency:copy -Dartifact="$a" -DoutputDirectory="$CACHE" >&2
  echo "$f"
}

connector_jar() {
  local ref=${DBZ_SRC_REF:-v3.6.1.Final} b=$CACHE/src-build
  local jar=$b/debezium-connector-mariadb-${ref#v}-src.jar
  if [ ! -f "$jar" ]; then
    : "${DBZ_SRC:?set DBZ_SRC to a Debezium git dir or checkout (github.com/debezium/debezium)}"
    rm -rf "$b"; mkdir -p "$b/src" "$b/classes"
    if git -C "$DBZ_SRC" rev-parse -q --verify "$ref^{commit}" >/dev/null 2>&1; then
      git -C "$DBZ_SRC" archive "$ref" debezium-connector-mariadb/src/main | tar -x -C "$b/src"
    else
      mkdir -p "$b/src/debezium-connector-mariadb/src"
      cp -r "$DBZ_SRC/debezium-connector-mariadb/src/main" "$b/src/debezium-connector-mariadb/src/"
    fi
    local s=$b/src/debezium-connector-mariadb/src/main
    # shellcheck disable=SC2046
    javac -nowarn -proc:none -d "$b/classes" -cp "$DBZ_CACHE/libs/*:$DRIVER" $(find "$s/java" -name '*.java')
    cp -r "$s/resources/." "$b/classes/"
    echo 'version=3.6.3.Final' > "$b/classes/io/debezium/connector/mariadb/build.version"
    (cd "$b/classes" && jar cf "$jar" .)
  fi
  echo "$jar"
}

[ -f "$DBZ_CACHE/libs/.complete" ] || "$DBZ/run.sh" >/dev/null 2>&1 || true   # extracts the wheel
DRIVER=$(mvn_copy org.mariadb.jdbc:mariadb-java-client:$DRIVER_VERSION)
CONNECTOR=$(connector_jar)
export DBZ_EXTRA_CP="$CONNECTOR:$DRIVER:$(ls "$DBZ_CACHE"/libs/zstd-jni-*.jar | head -1)"
echo "DBZ_EXTRA_CP=$DBZ_EXTRA_CP" >&2

# ---------------------------------------------------------------- server
M() { "$DBZ/maria.sh" "$@"; }
SQL() { M sql "$@"; }
destroy_server() { # stop the server started here (by its pid), wait for it to exit, remove its dir
  local pid=""
  [ -f "$MARIA_DIR/mariadbd.pid" ] && pid=$(cat "$MARIA_DIR/mariadbd.pid")
  M stop >/dev/null 2>&1 || true
  if [ -n "$pid" ]; then for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; fi
  rm -rf "$MARIA_DIR"
}
trap destroy_server EXIT

fresh_server() {
  destroy_server
  M start >/dev/null
  SQL -e "RESET MASTER;
    CREATE DATABASE inv;
    CREATE TABLE inv.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INT NOT NULL);
    INSERT INTO inv.items VALUES (1,'item-1',10),(2,'item-2',20),(3,'item-3',30),(4,'item-4',40),
                                 (5,'item-5',50),(6,'item-6',60),(7,'item-7',70);
    CREATE TABLE inv.debezium_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL,
                                      data VARCHAR(2048) NULL);"
}

SIG_BASIC='{"data-collections": ["inv.items"], "type": "incremental"}'
SIG_FILTER='{"data-collections": ["inv.items"], "type": "incremental", "additional-conditions": [{"data-collection": "inv.items", "filter": "qty > 30"}]}'

# run <name> <signal json> <channel source|file> [key=value ...]
run() {
  local name=$1 sig=$2 chan=$3; shift 3
  local st=$WORK/$name
  rm -rf "$st"; mkdir -p "$st"
  fresh_server
  cat > "$st/inc.properties" <<EOF
name=dbz-maria-inc
connector.class=io.debezium.connector.mariadb.MariaDbConnector
database.hostname=127.0.0.1
database.port=$MARIA_PORT
database.user=root
database.password=dbz
database.server.id=5466
topic.prefix=inc
database.include.list=inv
snapshot.mode=no_data
signal.enabled.channels=$chan
signal.data.collection=inv.debezium_signal
incremental.snapshot.chunk.size=3
notification.enabled.channels=sink,log
notification.sink.topic.name=inc-notifications
include.schema.changes=false
schema.history.internal=io.debezium.storage.file.history.FileSchemaHistory
schema.history.internal.file.filename=$st/schemahistory.dat
offset.storage.file.filename=$st/offsets.dat
offset.flush.interval.ms=1000
dbzrun.state.dir=$st
dbzrun.reset=true
dbzrun.schemas.enable=true
EOF
  [ "$chan" = file ] && { : > "$st/signals.txt"; echo "signal.file=$st/signals.txt" >> "$st/inc.properties"; }
  # shellcheck disable=SC2086
  DBZ_LOG_LEVEL=INFO "$DBZ/run.sh" "$st/inc.properties" "$st/out.jsonl" 0 "$IDLE" "$@" ${EXTRA:-} \
    dbzrun.ready.file="$st/ready" 2>"$st/run.log" &
  local pid=$!
  # offsets.dat watcher: a copy each time it changes (Java-serialized map, read with `strings`)
  ( n=0; last=""; while kill -0 $pid 2>/dev/null; do
      if [ -f "$st/offsets.dat" ]; then
        s=$(md5sum < "$st/offsets.dat"); [ "$s" != "$last" ] && { n=$((n+1)); cp "$st/offsets.dat" "$st/offsets-$n.dat"; last=$s; }
      fi; sleep 0.05; done ) &
  local wpid=$!
  # wait until the binlog client is connected (streaming), then a little more
  for i in $(seq 1 600); do
    [ "$(SQL -N -e "SELECT count(*) FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'" 2>/dev/null)" -ge 1 ] 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
  done
  sleep 2
  if [ "$chan" = file ]; then
    printf '{"id":"ad-hoc-1","type":"execute-snapshot","data":%s}\n' "$sig" >> "$st/signals.txt"
    if [ "${NUDGE:-0}" = 1 ]; then # one unrelated transaction, outside database.include.list
      sleep 8; SQL -e "CREATE TABLE dbz.nudge (id INT PRIMARY KEY); INSERT INTO dbz.nudge VALUES (1);"
    fi
  else
    SQL -e "INSERT INTO inv.debezium_signal VALUES ('ad-hoc-1', 'execute-snapshot', '$sig')"
  fi
  if ! wait $pid; then
    grep -E 'DBZRUN_ERROR|ERROR' "$st/run.log" | head -5 >&2
    echo "Debezium failed, see $st/run.log" >&2; exit 1
  fi
  wait $wpid 2>/dev/null || true
  SQL -N -e "SELECT id, type, data FROM inv.debezium_signal ORDER BY id" > "$st/signal-table.tsv" || true
  destroy_server
  grep DBZRUN_SUMMARY "$st/run.log" >&2 || true
}

LOGPAT='LogNotificationChannel|IncrementalSnapshot[A-Za-z]* - |ExecuteSnapshot|SignalProcessor - SignalProcessor started|According to the connector configuration|Snapshot step 7|FileSignalChannel| WARN | ERROR '

publish() { # <run name> <golden base name>
  cp "$WORK/$1/out.jsonl" "$OUT/$2.jsonl"
  grep -E "$LOGPAT" "$WORK/$1/run.log" > "$OUT/$2.log" || true
  echo "$2.jsonl: $(wc -l < "$OUT/$2.jsonl") records" >&2
}

compare() { # <a.jsonl> <b.jsonl>: the fields that differ between two runs (volatile fields)
  python3 - "$1" "$2" <<'PY'
import collections, json, re, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
print(f"compare: {len(a)} vs {len(b)} records")
def flat(x, p=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from flat(v, p + "." + k)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from flat(v, p + f"[{i}]")
    else:
        yield p, x
diffs = collections.defaultdict(list)
for n, (x, y) in enumerate(zip(a, b), 1):
    if x["topic"] != y["topic"]:
        diffs[("topic", "")].append(n)
        continue
    fx, fy = list(flat(x)), list(flat(y))
    if [k for k, _ in fx] != [k for k, _ in fy]:
        diffs[(x["topic"], "(field order)")].append(n)
    dy = dict(fy)
    for k, v in fx:
        if dy.get(k, v) != v:
            diffs[(x["topic"], re.sub(r"\[\d+\]", "[]", k))].append(n)
for (t, k), ns in diffs.items():
    print(f"  {t} {k}: records {sorted(set(ns))}")
PY
}

cases=${*:-basic filter readonly repeat}
for c in $cases; do case $c in
  basic)    run basic "$SIG_BASIC" source; publish basic maria-incremental ;;
  filter)   run filter "$SIG_FILTER" source; publish filter maria-incremental-filter ;;
  readonly) run readonly "$SIG_BASIC" source read.only=true; publish readonly maria-incremental-readonly ;;
  readonly-file) run readonly-file "$SIG_BASIC" file read.only=true
            echo "readonly-file: $(wc -l < "$WORK/readonly-file/out.jsonl") records (scratch only)" >&2 ;;
  readonly-file-nudge) NUDGE=1 run readonly-file-nudge "$SIG_BASIC" file read.only=true
            echo "readonly-file-nudge: $(wc -l < "$WORK/readonly-file-nudge/out.jsonl") records (scratch only)" >&2 ;;
  repeat)   run repeat "$SIG_BASIC" source
            echo "repeat: $(wc -l < "$WORK/repeat/out.jsonl") records in $WORK/repeat/out.jsonl" >&2
            compare "$OUT/maria-incremental.jsonl" "$WORK/repeat/out.jsonl" ;;
  *) echo "unknown case $c" >&2; exit 2 ;;
esac; done
