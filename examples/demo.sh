#!/usr/bin/env bash
# The demo: a throwaway Postgres with a small shop database, Tidemark capturing it (snapshot,
# then streaming) through a Wasm transform (RegexRouter) to stdout as Debezium JSON lines,
# while some traffic runs. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
TIDEMARK=${TIDEMARK:-target/debug/tidemark}
[ -x "$BIN/initdb" ] || { echo "PostgreSQL 15 server binaries are needed in $BIN (apt-get install postgresql-15)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/tidemark-demo.XXXXXX)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "${TM_PID:-}" ] && kill "$TM_PID" 2>/dev/null && wait "$TM_PID" 2>/dev/null
  as_pg "$BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$WORK"

echo "== starting a throwaway Postgres 15 on port $PORT (wal_level=logical)" >&2
as_pg "$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = logical
fsync = off
CONF
as_pg "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
SQL() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d shop -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
"$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE shop"
SQL "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text, since date DEFAULT current_date)"
SQL "CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers, total numeric(10,2), placed timestamptz DEFAULT now())"
SQL "INSERT INTO customers (name, email) VALUES ('Alice', 'alice@example.com'), ('Bob', 'bob@example.com')"
SQL "INSERT INTO orders (customer, total) VALUES (1, 12.50), (2, 99.99)"

echo "== tidemark run examples/postgres/connector.json examples/postgres/worker.properties" >&2
"$TIDEMARK" run examples/postgres/connector.json examples/postgres/worker.properties \
  --set "database.port=$PORT" --set "offset.storage.file.filename=$WORK/offsets.json" &
TM_PID=$!
for _ in $(seq 1 100); do
  [ "$(SQL "SELECT count(*) FROM pg_replication_slots WHERE active")" = 1 ] && break
  sleep 0.1
done

echo "== traffic: inserts, an update, a delete" >&2
SQL "INSERT INTO customers (name, email) VALUES ('Carol', 'carol@example.com')"
sleep 0.5
SQL "BEGIN; INSERT INTO orders (customer, total) VALUES (3, 5.00), (3, 7.25); UPDATE customers SET email = 'bob@example.org' WHERE name = 'Bob'; COMMIT"
sleep 0.5
SQL "DELETE FROM orders WHERE total > 50"
sleep 2

echo "== stopping (SIGTERM): Tidemark flushes and commits its offset" >&2
kill -TERM "$TM_PID"
wait "$TM_PID"
TM_PID=
echo "== committed offset ($WORK/offsets.json):" >&2
cat "$WORK/offsets.json" >&2
