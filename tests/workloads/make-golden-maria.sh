#!/usr/bin/env bash
# Regenerates tests/golden/dbz/maria-*.jsonl with the real Debezium 3.6.3 MariaDB connector.
#
# Debezium's MariaDB connector is built from its sources by dbz-mariadb-jar.sh (see there);
# MariaDB: the oracle's maria.sh on port 53310, directory /tmp/dbzmaria-golden (never the
# system server on 3306).
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
export DBZ_EXTRA_CP
DBZ_EXTRA_CP=$(DBZ=$DBZ "$HERE/dbz-mariadb-jar.sh")

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

cases=${*:-basic types schema modes txn}
for c in $cases; do case $c in
  basic) run maria-basic maria-basic.sql maria-basic-stream.sql 4 ;;
  types) run maria-types maria-types.sql maria-types-stream.sql 3 ;;
  schema) run maria-schema maria-types.sql maria-types-stream.sql 3 include.schema.changes=true ;;
  txn) run maria-txn maria-txn.sql maria-txn-stream.sql 4 provide.transaction.metadata=true \
         table.include.list=dbz.customers,dbz.orders ;;
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
