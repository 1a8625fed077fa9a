#!/usr/bin/env bash
# The demo: a throwaway Postgres with a small shop database and a Tidemark worker; a connector
# created over Kafka Connect's REST API captures it (snapshot, then streaming) through a Wasm
# transform (RegexRouter) to stdout as Debezium JSON lines, paused and resumed over REST,
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

API=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REST() { curl -sS -X "$1" -H 'Content-Type: application/json' "http://127.0.0.1:$API$2" "${@:3}"; echo; }
state() { REST GET /connectors/shop-connector/status | python3 -c 'import json, sys; print(json.load(sys.stdin)["connector"]["state"])'; }
wait_state() { for _ in $(seq 1 100); do [ "$(state 2>/dev/null)" = "$1" ] && return; sleep 0.1; done; echo "the connector did not reach $1" >&2; exit 1; }

echo "== tidemark worker examples/postgres/worker.properties (Kafka Connect's REST API on port $API)" >&2
"$TIDEMARK" worker examples/postgres/worker.properties --set "listeners=http://127.0.0.1:$API" \
  --set "offset.storage.file.filename=$WORK/offsets.json" --set "config.storage.file=$WORK/connectors.json" &
TM_PID=$!
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$API/" >/dev/null && break; sleep 0.1; done

echo "== POST /connectors with the Debezium connector JSON (examples/postgres/connector.json)" >&2
sed "s/\"5432\"/\"$PORT\"/" examples/postgres/connector.json | REST POST /connectors -d @- >&2
wait_state RUNNING
echo "== GET /connectors/shop-connector/status" >&2
REST GET /connectors/shop-connector/status >&2

echo "== traffic: inserts, an update, a delete" >&2
SQL "INSERT INTO customers (name, email) VALUES ('Carol', 'carol@example.com')"
sleep 0.5
SQL "BEGIN; INSERT INTO orders (customer, total) VALUES (3, 5.00), (3, 7.25); UPDATE customers SET email = 'bob@example.org' WHERE name = 'Bob'; COMMIT"
sleep 0.5
SQL "DELETE FROM orders WHERE total > 50"
sleep 1

echo "== PUT /connectors/shop-connector/pause: nothing is read while paused (Dave waits)" >&2
REST PUT /connectors/shop-connector/pause >&2
wait_state PAUSED
SQL "INSERT INTO customers (name, email) VALUES ('Dave', 'dave@example.com')"
sleep 1
echo "== PUT /connectors/shop-connector/resume: Dave arrives" >&2
REST PUT /connectors/shop-connector/resume >&2
wait_state RUNNING
sleep 2

echo "== GET /connectors/shop-connector/offsets (KIP-875)" >&2
REST GET /connectors/shop-connector/offsets >&2

echo "== stopping the worker (SIGTERM): it flushes and commits every connector's offsets" >&2
kill -TERM "$TM_PID"
wait "$TM_PID"
TM_PID=
echo "== the connector's config persists for the next start ($WORK/connectors.json)" >&2
cat "$WORK/connectors.json" >&2
