#!/usr/bin/env bash
# Regenerates tests/golden/dbz/pg-types*.jsonl with the real Debezium 3.6.3 oracle
# (/work/shared/dbz: pg.sh, run.sh, DbzRun.java) from pg-types.sql + pg-types-stream.sql.
# Uses its own Postgres (port 55440, data /tmp/dbzpg-golden), slot dbz_golden_slot,
# publication dbz_golden_pub and state dir /tmp/dbzrun-golden-state, so it never collides with
# the default oracle cluster on 55432 or the system Postgres on 5432.
#   DBZ=/work/shared/dbz  OUT=<golden dir>  DBZ_CACHE=<jar cache, default /tmp/dbz-golden-cache>
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DBZ=${DBZ:-/work/shared/dbz}
OUT=${OUT:-$HERE/../golden/dbz}
export PGPORT=55440 PGDATA_DIR=/tmp/dbzpg-golden
export DBZ_CACHE=${DBZ_CACHE:-/tmp/dbz-golden-cache}
PROPS=$HERE/pg-types.properties
TMP=/tmp/dbz-golden-pgtypes; mkdir -p "$TMP" "$OUT"
P() { "$DBZ/pg.sh" psql -qtA "$@"; }
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

"$DBZ/pg.sh" start >/dev/null
P -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'dbz_golden%'" >/dev/null
P -c "DROP PUBLICATION IF EXISTS dbz_golden_pub" >/dev/null
P -f "$HERE/pg-types.sql" 2>/dev/null
NALL=$(P -c "SELECT count(*) FROM all_types")

# 1) snapshot-only variants of all_types (initial_only: no slot, no publication, no streaming)
snap() { # <out-name> [key=value ...]
  local name=$1; shift
  "$DBZ/run.sh" "$PROPS" "$TMP/$name.jsonl" 0 5 dbzrun.reset=true snapshot.mode=initial_only \
     table.include.list=public.all_types dbzrun.state.dir=/tmp/dbzrun-golden-state/$name "$@" 2>"$TMP/$name.log"
  grep DBZRUN_SUMMARY "$TMP/$name.log"
  [ "$(lines "$TMP/$name.jsonl")" = "$NALL" ] || { echo "$name: expected $NALL events" >&2; exit 1; }
  cp "$TMP/$name.jsonl" "$OUT/$name.jsonl"
}
snap pg-types-decimal-double  decimal.handling.mode=double
snap pg-types-decimal-string  decimal.handling.mode=string
snap pg-types-time-connect    time.precision.mode=connect
snap pg-types-time-micro      time.precision.mode=adaptive_time_microseconds
snap pg-types-binary-base64   binary.handling.mode=base64
snap pg-types-binary-hex      binary.handling.mode=hex
snap pg-types-noschema        dbzrun.schemas.enable=false

# 2) default settings: snapshot of every table, then the streaming part
NSNAP=$(P -c "SELECT (SELECT count(*) FROM all_types)+(SELECT count(*) FROM toasty)+(SELECT count(*) FROM ri_default)+(SELECT count(*) FROM nopk)")
rm -f "$TMP/pg-types.jsonl"
"$DBZ/run.sh" "$PROPS" "$TMP/pg-types.jsonl" 0 8 dbzrun.reset=true 2>"$TMP/pg-types.log" &
PID=$!
for i in $(seq 1 600); do
  act=$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='dbz_golden_slot' AND active")
  [ "$(lines "$TMP/pg-types.jsonl")" -ge "$NSNAP" ] && [ "$act" = 1 ] && break
  sleep 0.2
done
sleep 1
P -f "$HERE/pg-types-stream.sql"
wait $PID
grep DBZRUN_SUMMARY "$TMP/pg-types.log"
cp "$TMP/pg-types.jsonl" "$OUT/pg-types.jsonl"
P -c "SELECT pg_drop_replication_slot('dbz_golden_slot')" >/dev/null
wc -l "$OUT"/pg-types*.jsonl
