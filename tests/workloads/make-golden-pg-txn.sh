#!/usr/bin/env bash
# Regenerates tests/golden/dbz/pg-txn.jsonl with the real Debezium 3.6.3 oracle
# (/work/shared/dbz) and provide.transaction.metadata=true: pg-txn.sql (snapshot part), then
# pg-txn-stream.sql while streaming. Own Postgres (port 55443, data /tmp/dbzpg-txn), slot
# dbz_txn_slot, publication dbz_txn_pub (all tables), table.include.list of customers and
# orders only, state dir /tmp/dbzrun-txn-state.
#   DBZ=/work/shared/dbz  OUT=<golden dir>  DBZ_CACHE=<jar cache, default ~/.cache/dbz-3.6.3>
# Destroy the cluster afterwards: PGPORT=55443 PGDATA_DIR=/tmp/dbzpg-txn /work/shared/dbz/pg.sh destroy
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DBZ=${DBZ:-/work/shared/dbz}
OUT=${OUT:-$HERE/../golden/dbz}
export PGPORT=55443 PGDATA_DIR=/tmp/dbzpg-txn
TMP=/tmp/dbz-golden-pgtxn; mkdir -p "$TMP" "$OUT"
P() { "$DBZ/pg.sh" psql -qtA "$@"; }
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

PROPS=$TMP/pg-txn.properties
cat > "$PROPS" <<PROPS
name=dbz-pg-txn
connector.class=io.debezium.connector.postgresql.PostgresConnector
database.hostname=127.0.0.1
database.port=$PGPORT
database.user=postgres
database.password=postgres
database.dbname=dbz
topic.prefix=dbz
plugin.name=pgoutput
slot.name=dbz_txn_slot
publication.name=dbz_txn_pub
publication.autocreate.mode=all_tables
snapshot.mode=initial
table.include.list=public.customers,public.orders
skipped.operations=none
provide.transaction.metadata=true
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.flush.interval.ms=1000
dbzrun.state.dir=/tmp/dbzrun-txn-state/main
dbzrun.schemas.enable=true
PROPS

"$DBZ/pg.sh" start >/dev/null
P -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'dbz_txn%'" >/dev/null
P -c "DROP PUBLICATION IF EXISTS dbz_txn_pub" >/dev/null
P -f "$HERE/pg-txn.sql" 2>/dev/null
NSNAP=$(P -c "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders)")

rm -f "$TMP/pg-txn.jsonl"
"$DBZ/run.sh" "$PROPS" "$TMP/pg-txn.jsonl" 0 8 dbzrun.reset=true 2>"$TMP/pg-txn.log" &
PID=$!
for i in $(seq 1 600); do
  act=$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='dbz_txn_slot' AND active")
  [ "$(lines "$TMP/pg-txn.jsonl")" -ge "$NSNAP" ] && [ "$act" = 1 ] && break
  kill -0 $PID 2>/dev/null || break
  sleep 0.2
done
sleep 1
P -f "$HERE/pg-txn-stream.sql"
wait $PID
grep DBZRUN_SUMMARY "$TMP/pg-txn.log"
cp "$TMP/pg-txn.jsonl" "$OUT/pg-txn.jsonl"
P -c "SELECT pg_drop_replication_slot('dbz_txn_slot')" >/dev/null || true
wc -l "$OUT/pg-txn.jsonl"
