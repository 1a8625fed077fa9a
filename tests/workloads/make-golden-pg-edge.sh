#!/usr/bin/env bash
# Regenerates tests/golden/dbz/pg-edge.jsonl with the real Debezium 3.6.3 oracle
# (/work/shared/dbz: pg.sh, run.sh, DbzRun.java) from pg-edge.sql (snapshot) + pg-edge-stream.sql
# (the same rows again with ids +100, then one u and one d, while streaming via pgoutput).
# Default Debezium settings (snapshot.mode=initial, skipped.operations=none). Own Postgres
# (port 55441, data /tmp/dbzpg-edge), slot dbz_edge_slot, publication dbz_edge_pub, state dir
# /tmp/dbzrun-edge-state, so it never collides with pg-types (55440), the default oracle cluster
# (55432) or the system Postgres (5432).
#   DBZ=/work/shared/dbz  OUT=<golden dir>  DBZ_CACHE=<jar cache, default /tmp/dbz-golden-cache>
# Destroy the cluster afterwards: PGPORT=55441 PGDATA_DIR=/tmp/dbzpg-edge /work/shared/dbz/pg.sh destroy
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DBZ=${DBZ:-/work/shared/dbz}
OUT=${OUT:-$HERE/../golden/dbz}
export PGPORT=55441 PGDATA_DIR=/tmp/dbzpg-edge
export DBZ_CACHE=${DBZ_CACHE:-/tmp/dbz-golden-cache}
TMP=/tmp/dbz-golden-pgedge; mkdir -p "$TMP" "$OUT"
P() { "$DBZ/pg.sh" psql -qtA "$@"; }
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# connector config: pg-types.properties adapted (port, slot, publication, state dir)
PROPS=$TMP/pg-edge.properties
cat > "$PROPS" <<PROPS
name=dbz-pg-edge
connector.class=io.debezium.connector.postgresql.PostgresConnector
database.hostname=127.0.0.1
database.port=$PGPORT
database.user=postgres
database.password=postgres
database.dbname=dbz
topic.prefix=dbz
plugin.name=pgoutput
slot.name=dbz_edge_slot
publication.name=dbz_edge_pub
publication.autocreate.mode=all_tables
snapshot.mode=initial
table.include.list=public.*
skipped.operations=none
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.flush.interval.ms=1000
dbzrun.state.dir=/tmp/dbzrun-edge-state/main
dbzrun.schemas.enable=true
PROPS

"$DBZ/pg.sh" start >/dev/null
P -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'dbz_edge%'" >/dev/null
P -c "DROP PUBLICATION IF EXISTS dbz_edge_pub" >/dev/null
P -f "$HERE/pg-edge.sql" 2>/dev/null
NSNAP=$(P -c "SELECT count(*) FROM edge")

rm -f "$TMP/pg-edge.jsonl"
"$DBZ/run.sh" "$PROPS" "$TMP/pg-edge.jsonl" 0 8 dbzrun.reset=true 2>"$TMP/pg-edge.log" &
PID=$!
for i in $(seq 1 600); do
  act=$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='dbz_edge_slot' AND active")
  [ "$(lines "$TMP/pg-edge.jsonl")" -ge "$NSNAP" ] && [ "$act" = 1 ] && break
  kill -0 $PID 2>/dev/null || break
  sleep 0.2
done
sleep 1
P -f "$HERE/pg-edge-stream.sql"
wait $PID
grep DBZRUN_SUMMARY "$TMP/pg-edge.log"
cp "$TMP/pg-edge.jsonl" "$OUT/pg-edge.jsonl"
P -c "SELECT pg_drop_replication_slot('dbz_edge_slot')" >/dev/null || true
wc -l "$OUT/pg-edge.jsonl"
