#!/usr/bin/env bash
# A fleet in one process: N Postgres connectors in one `tidemark worker`, created over Kafka
# Connect's REST API, each on its own database, slot and publication (issue 19).
#
#   bench/fleet.sh                 # NS="10 100 500"
#   NS=10 bench/fleet.sh           # a quick check
#
# For comparison: Debezium's connectors run as tasks of a Kafka Connect worker, a JVM; with one
# Debezium Postgres connector, that worker peaked at 1,353,784-2,375,876 kB (1.3-2.3 GiB; 1.35 GB
# at a steady 5k rows/s) in bench/kafka.sh's full run (docs/performance.md; Connect's default
# heap, -Xms256M -Xmx2G). The issue says 1.5 GB. Its targets: 500 connectors in one process
# under 1 GiB RSS, all running within 60 s, idle CPU under 5% of a core.
#
# Starts one throwaway Postgres 15 (initdb into $W/pg, fsync and synchronous_commit off as
# bench/pg.sh; max_connections 3 x max(NS) + 64, since a connector holds a management and a
# replication connection and opens a third for its snapshot; max_wal_senders and
# max_replication_slots max(NS) + 16), a template database with
#   orders(id int primary key, customer text, amount numeric(12,2), created timestamptz)  5 rows
#   customers(id int primary key, name text, email text)                                 3 rows
# and the publication fleet_pub on both tables, copied into databases fleet_1 … fleet_<max NS>
# (each database has its own publication; each connector creates its own slot fleet_slot_<i>).
# Then for each N in NS, with a fresh worker, fresh offsets and sinks, every slot dropped and the
# tables reset to their 8 rows:
#
# - one `target/release/tidemark worker` (offsets in one file, offset.flush.interval.ms
#   FLUSH_MS, JsonConverter schemas off), with a JSON-lines `sink.file` per connector;
# - N connectors POSTed one after the other on one keep-alive HTTP connection (python's
#   http.client; Debezium's Postgres connector config, snapshot.mode=initial,
#   publication.autocreate.mode=disabled, database.sslmode=disable);
# - post_s: first POST -> last POST answered (each must be 201);
#   running_s: first POST -> every connector's task RUNNING in GET /connectors?expand=status
#   (the worker says RUNNING as soon as a run is launched, before it connects);
#   slots_s: first POST -> N slots active in pg_replication_slots (each connector connected,
#   its slot created);
#   snapshot_s: first POST -> every connector's 8 snapshot rows written to its sink
#   (tidemark_records_out_total in GET /metrics, then checked by counting each file's lines);
# - after SETTLE s (30: the first offset commits, Postgres done starting N walsenders), idle for
#   IDLE s (30) with no traffic: the worker's CPU (/proc/<pid>/stat utime+stime) as % of one
#   core, and Postgres's (the postmaster and every backend, e.g. N walsenders answering the
#   connectors' status updates, and autovacuum visiting N databases), the offset commits and
#   the WAL written meanwhile (idle_commits, idle_wal_kb); steady RSS = VmRSS at the
#   end of the idle window; threads (/proc/<pid>/status Threads) and open descriptors then;
# - idle with WAL advancing, for IDLE s more: no traffic to any captured table, but a client
#   inserts a row into a table of the `postgres` database every second, so the cluster's WAL
#   moves and every connector's slot position with it (as autovacuum or any other database's
#   writes do): the worker's CPU (wal_cpu_pct), Postgres's, the offset commits and the WAL
#   written (wal_commits, wal_kb);
# - traffic: every database gets M = ROWS_TOTAL / N rows (ROWS_TOTAL 200,000; M overrides), in
#   transactions of TX rows (10), alternately into orders and customers, by PAR (10) psql
#   clients running one database's script each (xargs -P); rows_per_s = N x M / (traffic start
#   -> every row in every sink); traffic_s = how long the clients took to commit; lag_s = last
#   commit -> every row in the sinks; the worker's and Postgres's CPU seconds over that time;
#   settled RSS = VmRSS AFTER_S s after the last row arrived (default: the flush interval
#   plus 10 s, so every connector committed once after the traffic);
# - peak RSS = VmHWM at the end (start-up, snapshot, idle and traffic), max threads sampled
#   every 0.5 s; stop_s = SIGTERM -> the worker exited (every connector's final flush and commit).
#
# Env: NS, ROWS_TOTAL, M, TX, PAR, IDLE, SETTLE, FLUSH_MS (10000), AFTER_S, TIMEOUT (per wait, 600 s),
# W (work dir, /tmp/tidemark-fleet; removed at the start), TIDEMARK (the binary,
# target/release/tidemark), BUILD (1: cargo build --release -p
# tidemark --bin tidemark first, a no-op when fresh; 0: use target/release/tidemark as it is),
# KEEP (1 keeps $W/pg and the sinks at the end).
# Prints RESULT lines as they come ($W/results.txt) and a Markdown table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NS=${NS:-10 100 500}
ROWS_TOTAL=${ROWS_TOTAL:-200000}
TX=${TX:-10}
PAR=${PAR:-10}
IDLE=${IDLE:-30}
SETTLE=${SETTLE:-30}
FLUSH_MS=${FLUSH_MS:-10000}
AFTER_S=${AFTER_S:-$((FLUSH_MS / 1000 + 10))}
TIMEOUT=${TIMEOUT:-600}
W=${W:-/tmp/tidemark-fleet}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}
BIN=/usr/lib/postgresql/15/bin
TIDEMARK=${TIDEMARK:-$ROOT/target/release/tidemark}
SNAP_ORDERS=5
SNAP_CUSTOMERS=3
SNAP=$((SNAP_ORDERS + SNAP_CUSTOMERS))
MAXN=0
for n in $NS; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
[ "$MAXN" -gt 0 ] || { echo "bench/fleet.sh: NS must list positive fleet sizes, got '$NS'" >&2; exit 1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
P() { local db=$1; shift; "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d "$db" -qtAX -v ON_ERROR_STOP=1 "$@"; }
# shellcheck source=bench/fleet-common.sh
. bench/fleet-common.sh  # the working directory is the repository root (cd above)
# CPU ticks of Postgres: the postmaster (with its exited children's, cutime + cstime) and every
# live backend.
pg_ticks() {
  python3 - "$(head -n 1 "$W/pg/postmaster.pid")" <<'PY'
import os, sys
pm, total = sys.argv[1], 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if pid == pm:
        total += sum(int(x) for x in f[11:15])
    elif f[1] == pm:
        total += int(f[11]) + int(f[12])
print(total)
PY
}
# Offset commits of every connector so far (tidemark_offset_commits_total).
commits() { curl -s "http://127.0.0.1:$1/metrics" | awk -F'} ' '/^tidemark_offset_commits_total\{/ {s += $2} END {print s + 0}'; }
die() { echo "bench/fleet.sh: $*" >&2; exit 1; }

if [ "$BUILD" = 1 ]; then
  cargo build --release -p tidemark --bin tidemark
fi
[ -x "$TIDEMARK" ] || die "missing $TIDEMARK: cargo build --release -p tidemark --bin tidemark"
# Descriptors: per connector two sockets to Postgres and its sink file, plus what tokio and the
# REST API hold.
hard=$(ulimit -Hn); [ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard"
[ "$(ulimit -n)" -ge $((8 * MAXN + 256)) ] \
  || die "ulimit -n is $(ulimit -n), below the $((8 * MAXN + 256)) $MAXN connectors may need: raise the hard limit"

rm -rf "$W"; mkdir -p "$W/pg"
RESULTS=$W/results.txt; : > "$RESULTS"
PORT=$(free_port)
WORKER_PID=
SAMPLER_PID=
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$WORKER_PID" ] && kill -KILL "$WORKER_PID" 2>/dev/null || true
  as_pg "$BIN/pg_ctl" -D "$W/pg" -m immediate -w stop >/dev/null 2>&1 || true
  [ "$KEEP" = 1 ] || rm -rf "$W/pg" "$W"/n*/sinks
}
trap cleanup EXIT

# Postgres 15, as bench/pg.sh, sized for the largest fleet.
[ "$(id -u)" = 0 ] && chown postgres "$W" "$W/pg"
chmod 700 "$W/pg"
as_pg "$BIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$W/pg/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W'
wal_level = logical
max_connections = $((3 * MAXN + 64))
max_replication_slots = $((MAXN + 16))
max_wal_senders = $((MAXN + 16))
max_wal_size = 4GB
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
as_pg "$BIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start >/dev/null
t=$(now_ms)
P postgres -c "CREATE DATABASE fleet_tpl"
P fleet_tpl <<SQL
CREATE TABLE orders (id int PRIMARY KEY, customer text, amount numeric(12,2), created timestamptz);
CREATE TABLE customers (id int PRIMARY KEY, name text, email text);
INSERT INTO orders SELECT g, 'customer ' || g, g * 10.5, now() FROM generate_series(1, $SNAP_ORDERS) g;
INSERT INTO customers SELECT g, 'customer ' || g, 'customer' || g || '@example.com' FROM generate_series(1, $SNAP_CUSTOMERS) g;
CREATE PUBLICATION fleet_pub FOR TABLE orders, customers;
SQL
# The table the WAL writer of the "idle with WAL advancing" window writes to (in no publication).
P postgres -c "CREATE TABLE wal_tick (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())"
# FILE_COPY: a checkpoint per database instead of each database's ~7.5 MB in the WAL.
for i in $(seq 1 "$MAXN"); do echo "CREATE DATABASE fleet_$i TEMPLATE fleet_tpl STRATEGY FILE_COPY;"; done \
  | P postgres >/dev/null
echo "Postgres 15 on 127.0.0.1:$PORT with $MAXN databases in $(secs "$t" "$(now_ms)") s, work dir $W" >&2

# The traffic of one database: M rows in transactions of TX rows, alternately orders and customers.
traffic_sql() { # traffic_sql <m> <file>
  awk -v m="$1" -v tx="$TX" -v q="'" 'BEGIN {
    for (s = 0; s * tx < m; s++) {
      a = s * tx + 1; b = (s + 1) * tx; if (b > m) b = m
      if (s % 2 == 0)
        printf "INSERT INTO orders SELECT 1000 + g, %scustomer %s || (g %% 100), g * 1.25, now() FROM generate_series(%d, %d) g;\n", q, q, a, b
      else
        printf "INSERT INTO customers SELECT 1000 + g, %sname %s || g, %suser%s || g || %s@example.com%s FROM generate_series(%d, %d) g;\n", q, q, q, q, q, q, a, b
    }
  }' > "$2"
}

# Waits on the worker's REST API (python: one process polling, not one curl per poll).
# poll.py post <port> <n> <pg port> <sink dir> <timeout>: POSTs fleet_1 … fleet_<n> one after
# the other on one keep-alive connection (each must be 201), as a deployment script would.
# poll.py running <port> <n> <timeout>: until every fleet_* connector's task is RUNNING.
# poll.py rows <port> <n> <rows> <timeout>: until every fleet_* connector wrote >= rows records.
# Prints the epoch ms it saw it; exits 1 on timeout (or when connectors FAILED) with what it saw.
cat > "$W/poll.py" <<'PY'
import http.client, json, re, sys, time, urllib.request
mode, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = int(sys.argv[4]) if mode == "rows" else 0
deadline = time.time() + float(sys.argv[-1])
base = "http://127.0.0.1:%s" % port
series = re.compile(r'^tidemark_records_out_total\{connector="(fleet_\d+)"(?:,[^}]*)?\} (\d+)$', re.M)

def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return r.read().decode()

if mode == "post":
    pg_port, sinks = sys.argv[4], sys.argv[5]
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    for i in range(1, n + 1):
        body = json.dumps({"name": "fleet_%d" % i, "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "127.0.0.1", "database.port": pg_port, "database.user": "postgres",
            "database.sslmode": "disable", "database.dbname": "fleet_%d" % i, "topic.prefix": "fleet_%d" % i,
            "plugin.name": "pgoutput", "slot.name": "fleet_slot_%d" % i, "publication.name": "fleet_pub",
            "publication.autocreate.mode": "disabled", "table.include.list": "public.orders,public.customers",
            "snapshot.mode": "initial", "sink.file": "%s/fleet_%d.jsonl" % (sinks, i)}})
        conn.request("POST", "/connectors", body, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        text = answer.read().decode()
        if answer.status != 201:
            print("POST fleet_%d answered %d: %s" % (i, answer.status, text), file=sys.stderr)
            sys.exit(1)
    print(int(time.time() * 1000))
    sys.exit(0)

seen = ""
while time.time() < deadline:
    if mode == "running":
        states = {k: v["status"]["tasks"][0]["state"] if v["status"]["tasks"] else v["status"]["connector"]["state"]
                  for k, v in json.loads(get("/connectors?expand=status")).items() if k.startswith("fleet_")}
        running = sum(1 for s in states.values() if s == "RUNNING")
        failed = {k: v for k, v in states.items() if v == "FAILED"}
        seen = "%d of %d RUNNING, %d FAILED %s" % (running, n, len(failed), sorted(failed)[:10])
        if running == n:
            print(int(time.time() * 1000)); sys.exit(0)
        if failed and running + len(failed) == len(states) == n:
            break
        time.sleep(0.1)
    else:
        counts = {k: int(v) for k, v in series.findall(get("/metrics"))}
        done = sum(1 for v in counts.values() if v >= want)
        short = sorted((k for k in counts if counts[k] < want), key=lambda k: int(k[6:]))
        seen = "%d of %d connectors wrote >= %d records (%d series); short: %s" % (
            done, n, want, len(counts), ", ".join("%s=%d" % (k, counts[k]) for k in short[:10]))
        if done == n:
            print(int(time.time() * 1000)); sys.exit(0)
        time.sleep(0.2)
print("poll.py %s: %s" % (mode, seen), file=sys.stderr)
sys.exit(1)
PY

# Lines in each fleet sink that differ from <want>: prints "<short> <over>" (connectors).
check_sinks() { # check_sinks <dir> <n> <want>
  local dir=$1 n=$2 want=$3 short=0 over=0 lines i
  for i in $(seq 1 "$n"); do
    lines=$(wc -l < "$dir/fleet_$i.jsonl" 2>/dev/null || echo 0)
    [ "$lines" -lt "$want" ] && short=$((short + 1))
    [ "$lines" -gt "$want" ] && over=$((over + 1))
  done
  echo "$short $over"
}

run_case() { # run_case <n>
  local n=$1 cw=$W/n$1 rport m t0 t post running slots snapshot
  m=${M:-$((ROWS_TOTAL / n))}
  echo "--- $n connectors, $m rows per database" >&2
  # A clean start: no slot, every table back to its snapshot rows.
  P postgres -c "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots" >/dev/null
  seq 1 "$n" | xargs -P "$PAR" -I{} "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d fleet_{} -qtAX \
    -v ON_ERROR_STOP=1 -c "DELETE FROM orders WHERE id > 1000" -c "DELETE FROM customers WHERE id > 1000"
  P postgres -c CHECKPOINT
  mkdir -p "$cw/sinks"
  rport=$(free_port)
  cat > "$cw/worker.properties" <<PROPS
listeners=http://127.0.0.1:$rport
offset.storage.file.filename=$cw/offsets.json
config.storage.file=$cw/connectors.json
offset.flush.interval.ms=$FLUSH_MS
key.converter.schemas.enable=false
value.converter.schemas.enable=false
PROPS
  "$TIDEMARK" worker "$cw/worker.properties" >/dev/null 2>"$cw/worker.log" &
  WORKER_PID=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$rport/" >/dev/null 2>&1 && break
    kill -0 "$WORKER_PID" 2>/dev/null || { tail -n 40 "$cw/worker.log" >&2; die "the worker exited at start"; }
    sleep 0.1
  done
  # Peak threads and RSS, sampled while the case runs.
  ( while kill -0 "$WORKER_PID" 2>/dev/null; do
      awk '$1 == "Threads:" {print $2}' "/proc/$WORKER_PID/status" 2>/dev/null
      sleep 0.5
    done > "$cw/threads.txt" ) &
  SAMPLER_PID=$!

  t0=$(now_ms)
  t=$(python3 "$W/poll.py" post "$rport" "$n" "$PORT" "$cw/sinks" "$TIMEOUT") || die "creating the connectors failed"
  post=$(secs "$t0" "$t")
  local failed=0 ok=1
  if t=$(python3 "$W/poll.py" running "$rport" "$n" "$TIMEOUT"); then running=$(secs "$t0" "$t"); else running=-; ok=0; fi
  slots=-
  for _ in $(seq 1 $((TIMEOUT * 5))); do
    if [ "$(P postgres -c "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE 'fleet_slot_%'")" = "$n" ]; then
      slots=$(secs "$t0" "$(now_ms)"); break
    fi
    sleep 0.2
  done
  if t=$(python3 "$W/poll.py" rows "$rport" "$n" "$SNAP" "$TIMEOUT"); then snapshot=$(secs "$t0" "$t"); else snapshot=-; ok=0; fi
  local hwm_start; hwm_start=$(status_kb "$WORKER_PID" VmHWM)
  read -r short over < <(check_sinks "$cw/sinks" "$n" "$SNAP")
  [ "$short" = 0 ] && [ "$over" = 0 ] || { echo "WARN after the snapshot: $short sinks short of $SNAP lines, $over over" >&2; ok=0; }
  local backends; backends=$(P postgres -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tidemark'")

  # Idle.
  sleep "$SETTLE"
  local k0 k1 p0 p1 idle pg_idle rss threads fds
  local c0 c1 l0 l1
  c0=$(commits "$rport"); l0=$(P postgres -c "SELECT pg_current_wal_lsn() - '0/0'")
  k0=$(ticks "$WORKER_PID"); p0=$(pg_ticks); t=$(now_ms)
  sleep "$IDLE"
  k1=$(ticks "$WORKER_PID"); p1=$(pg_ticks)
  c1=$(commits "$rport"); l1=$(P postgres -c "SELECT pg_current_wal_lsn() - '0/0'")
  local el; el=$(( $(now_ms) - t ))
  local idle_wal_kb=$(( (${l1%.*} - ${l0%.*}) / 1024 ))
  idle=$(awk -v a="$k0" -v b="$k1" -v hz="$HZ" -v ms="$el" 'BEGIN{printf "%.2f", 100 * (b - a) / hz / (ms / 1000)}')
  pg_idle=$(awk -v a="$p0" -v b="$p1" -v hz="$HZ" -v ms="$el" 'BEGIN{printf "%.2f", 100 * (b - a) / hz / (ms / 1000)}')
  rss=$(status_kb "$WORKER_PID" VmRSS)
  threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$WORKER_PID/status")
  fds=$(find "/proc/$WORKER_PID/fd" -mindepth 1 | wc -l)

  # Idle with WAL advancing: a row a second into a table no connector captures.
  local wal_idle pg_wal_idle wal_commits wal_kb writer
  ( while :; do P postgres -c "INSERT INTO wal_tick DEFAULT VALUES" || exit 0; sleep 1; done ) &
  writer=$!
  c0=$(commits "$rport"); l0=$(P postgres -c "SELECT pg_current_wal_lsn() - '0/0'")
  k0=$(ticks "$WORKER_PID"); p0=$(pg_ticks); t=$(now_ms)
  sleep "$IDLE"
  k1=$(ticks "$WORKER_PID"); p1=$(pg_ticks)
  c1=$(commits "$rport"); l1=$(P postgres -c "SELECT pg_current_wal_lsn() - '0/0'")
  kill "$writer" 2>/dev/null || true
  wait "$writer" 2>/dev/null || true
  el=$(( $(now_ms) - t ))
  wal_idle=$(awk -v a="$k0" -v b="$k1" -v hz="$HZ" -v ms="$el" 'BEGIN{printf "%.2f", 100 * (b - a) / hz / (ms / 1000)}')
  pg_wal_idle=$(awk -v a="$p0" -v b="$p1" -v hz="$HZ" -v ms="$el" 'BEGIN{printf "%.2f", 100 * (b - a) / hz / (ms / 1000)}')
  wal_commits=$((c1 - c0))
  wal_kb=$(( (${l1%.*} - ${l0%.*}) / 1024 ))

  # Traffic: every database gets m rows, PAR clients at a time.
  traffic_sql "$m" "$cw/traffic.sql"
  local t1 t2 t3 rows_s traffic lag wcpu pcpu
  k0=$(ticks "$WORKER_PID"); p0=$(pg_ticks); t1=$(now_ms)
  seq 1 "$n" | xargs -P "$PAR" -I{} "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d fleet_{} -qtAX \
    -v ON_ERROR_STOP=1 -f "$cw/traffic.sql"
  t2=$(now_ms)
  if t3=$(python3 "$W/poll.py" rows "$rport" "$n" $((SNAP + m)) "$TIMEOUT"); then
    rows_s=$(awk -v r=$((n * m)) -v a="$t1" -v b="$t3" 'BEGIN{printf "%.0f", r / ((b - a) / 1000)}')
    lag=$(secs "$t2" "$t3")
  else
    t3=$(now_ms); rows_s=-; lag=-; ok=0
  fi
  k1=$(ticks "$WORKER_PID"); p1=$(pg_ticks)
  traffic=$(secs "$t1" "$t2")
  wcpu=$(awk -v a="$k0" -v b="$k1" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}')
  pcpu=$(awk -v a="$p0" -v b="$p1" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}')
  read -r short over < <(check_sinks "$cw/sinks" "$n" $((SNAP + m)))
  [ "$short" = 0 ] && [ "$over" = 0 ] || { echo "WARN after the traffic: $short sinks short of $((SNAP + m)) lines, $over over" >&2; ok=0; }
  failed=$(curl -s "http://127.0.0.1:$rport/connectors?expand=status" \
    | python3 -c 'import json,sys; print(sum(1 for v in json.load(sys.stdin).values() if v["status"]["tasks"] and v["status"]["tasks"][0]["state"] == "FAILED"))')
  local hwm rss_after rss_settled max_threads out_kb
  hwm=$(status_kb "$WORKER_PID" VmHWM)
  rss_after=$(status_kb "$WORKER_PID" VmRSS)
  sleep "$AFTER_S"
  rss_settled=$(status_kb "$WORKER_PID" VmRSS)
  out_kb=$(du -sk "$cw/sinks" | cut -f1)

  # Stop: every connector's final flush and commit.
  t=$(now_ms)
  kill -TERM "$WORKER_PID"
  local code_exit=0
  wait "$WORKER_PID" || code_exit=$?
  local stop; stop=$(secs "$t" "$(now_ms)")
  WORKER_PID=
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=
  max_threads=$(sort -n "$cw/threads.txt" | tail -n 1)
  [ "$code_exit" = 0 ] || { echo "WARN the worker exited with $code_exit" >&2; ok=0; }
  [ "$ok" = 1 ] || { echo "--- worker log (errors and warnings):" >&2; grep -E 'ERROR|WARN' "$cw/worker.log" | tail -n 20 >&2 || true; }
  result "fleet n=$n post_s=$post running_s=$running slots_s=$slots snapshot_s=$snapshot" \
    "start_hwm_kb=$hwm_start steady_rss_kb=$rss idle_cpu_pct=$idle pg_idle_cpu_pct=$pg_idle idle_commits=$((c1 - c0)) idle_wal_kb=$idle_wal_kb wal_cpu_pct=$wal_idle pg_wal_cpu_pct=$pg_wal_idle wal_commits=$wal_commits wal_kb=$wal_kb threads=$threads fds=$fds pg_backends=$backends" \
    "rows=$((n * m)) traffic_s=$traffic lag_s=$lag rows_per_s=$rows_s worker_cpu_s=$wcpu pg_cpu_s=$pcpu" \
    "peak_rss_kb=$hwm rss_after_kb=$rss_after rss_settled_kb=$rss_settled max_threads=$max_threads sink_kb=$out_kb stop_s=$stop failed=$failed exit=$code_exit complete=$ok"
  [ "$KEEP" = 1 ] || rm -rf "$cw/sinks"
}

for n in $NS; do run_case "$n"; done

echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$RESULTS" <<'PY'
import sys
rows = [dict(w.split("=", 1) for w in line.split()[2:]) for line in open(sys.argv[1]) if line.startswith("RESULT fleet ")]
def mb(kb):
    return "–" if kb in ("", "-", None) else "%.0f MB" % (int(kb) / 1024)
def num(v):
    try:
        return "{:,}".format(int(v))
    except ValueError:
        return v
print("| connectors | all RUNNING s | all slots active s | all snapshots in sinks s | peak RSS | steady RSS | RSS after traffic / settled | idle CPU (worker / Postgres) | idle CPU, WAL advancing (worker / Postgres, commits) | threads | rows | rows/s | lag after last commit s | CPU s worker / Postgres | stop s | complete |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    print("| %s | %s | %s | %s | %s | %s | %s / %s | %s%% / %s%% | %s%% / %s%%, %s | %s (max %s) | %s | %s | %s | %s / %s | %s | %s |" % (
        r["n"], r["running_s"], r["slots_s"], r["snapshot_s"], mb(r["peak_rss_kb"]), mb(r["steady_rss_kb"]),
        mb(r["rss_after_kb"]), mb(r["rss_settled_kb"]), r["idle_cpu_pct"], r["pg_idle_cpu_pct"],
        r["wal_cpu_pct"], r["pg_wal_cpu_pct"], num(r["wal_commits"]),
        r["threads"], r["max_threads"], num(r["rows"]), num(r["rows_per_s"]),
        r["lag_s"], r["worker_cpu_s"], r["pg_cpu_s"], r["stop_s"], "yes" if r["complete"] == "1" and r["failed"] == "0" else "NO"))
PY
