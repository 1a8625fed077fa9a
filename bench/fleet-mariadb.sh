#!/usr/bin/env bash
# A MariaDB fleet in one process: N tenant databases on one MariaDB server, captured by one
# `tidemark worker` in two layouts (issue 19: "one MariaDB connector can already cover many
# databases; say which layout is cheaper"):
#
# - many: N connectors, one per database (database.include.list=fleet_<i>), each its own
#   replica of the server (database.server.id 10000 + i), topic prefix, schema history file and
#   JSON-lines sink.file, as bench/fleet.sh runs Postgres;
# - one: a single connector with database.include.list=fleet_1,…,fleet_<N> (whole-name
#   regular expressions), one replica, one schema history, one sink.file.
#
#   bench/fleet-mariadb.sh                      # NS="10 100" LAYOUTS="many one"
#   NS=10 LAYOUTS=one bench/fleet-mariadb.sh    # a quick check
#
# Server: one throwaway mariadbd from Debian's packages (/usr/sbin/mariadbd, as
# tests/support/mariadb.rs starts it): ROW binlog with FULL row images and metadata, GTIDs,
# innodb_flush_log_at_trx_commit=2, sync_binlog=0, max_connections 3 x max(NS) + 64. Databases
# fleet_1 … fleet_<max NS>, each with
#   orders(id int primary key, customer varchar(64), amount decimal(12,2), created datetime)  5 rows
#   customers(id int primary key, name varchar(64), email varchar(128))                       3 rows
# and a database `other` with a table no connector captures. For each N and layout, with a
# fresh worker, fresh offsets, histories and sinks, the binlog reset (RESET MASTER) and the
# tables back to their 8 rows:
#
# - one `target/release/tidemark worker` (offsets in one file, offset.flush.interval.ms
#   FLUSH_MS, JsonConverter schemas off), the connectors POSTed one after the other on one
#   keep-alive HTTP connection (snapshot.mode=initial, include.schema.changes=false);
# - start_s: first POST -> every database's 8 snapshot rows in the sinks
#   (tidemark_records_out_total in GET /metrics, then each sink's lines counted);
# - after SETTLE s (20), idle for IDLE s (30) with no traffic: the worker's CPU as % of one core,
#   and mariadbd's; steady RSS = VmRSS then; then IDLE s more with the binlog advancing: a
#   client inserts a row a second into `other` (every connector reads and skips it);
# - traffic: every database gets M = ROWS_TOTAL / N rows (ROWS_TOTAL 200,000) in transactions
#   of TX rows (10), alternately into orders and customers, PAR (10) clients at a time;
#   rows/s = all rows / (traffic start -> every row in the sinks); CPU s of the worker and of
#   mariadbd over that time; peak RSS = VmHWM at the end; settled RSS = VmRSS AFTER_S s after
#   the last row arrived; stop_s = SIGTERM -> the worker exited.
#
# Env: NS, LAYOUTS, ROWS_TOTAL, M, TX, PAR, IDLE, SETTLE, FLUSH_MS (10000), AFTER_S, TIDEMARK (the
# binary, target/release/tidemark), TIMEOUT (per
# wait, 600 s), W (work dir, /tmp/tidemark-fleet-maria; removed at the start), BUILD (1: cargo
# build --release -p tidemark --bin tidemark first; 0: use target/release/tidemark as it is).
# Prints RESULT lines as they come ($W/results.txt) and a Markdown table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NS=${NS:-10 100}
LAYOUTS=${LAYOUTS:-many one}
ROWS_TOTAL=${ROWS_TOTAL:-200000}
TX=${TX:-10}
PAR=${PAR:-10}
IDLE=${IDLE:-30}
SETTLE=${SETTLE:-20}
FLUSH_MS=${FLUSH_MS:-10000}
AFTER_S=${AFTER_S:-$((FLUSH_MS / 1000 + 10))}
TIMEOUT=${TIMEOUT:-600}
W=${W:-/tmp/tidemark-fleet-maria}
BUILD=${BUILD:-1}
TIDEMARK=${TIDEMARK:-$ROOT/target/release/tidemark}
SNAP=8
MAXN=0
for n in $NS; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
[ "$MAXN" -gt 0 ] || { echo "bench/fleet-mariadb.sh: NS must list positive fleet sizes, got '$NS'" >&2; exit 1; }
for layout in $LAYOUTS; do
  case $layout in many|one) ;; *) echo "bench/fleet-mariadb.sh: LAYOUTS takes many and one, got '$layout'" >&2; exit 1 ;; esac
done
[ -x /usr/sbin/mariadbd ] || { echo "bench/fleet-mariadb.sh: /usr/sbin/mariadbd is missing: apt-get install mariadb-server" >&2; exit 1; }

SOCK=$W/maria.sock
SQL() { local db=$1; shift; mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot --batch --skip-column-names "$db" "$@"; }
# shellcheck source=bench/fleet-common.sh
. bench/fleet-common.sh  # the working directory is the repository root (cd above)
pct() { awk -v a="$1" -v b="$2" -v hz="$HZ" -v ms="$3" 'BEGIN{printf "%.2f", 100 * (b - a) / hz / (ms / 1000)}'; }
die() { echo "bench/fleet-mariadb.sh: $*" >&2; exit 1; }

if [ "$BUILD" = 1 ]; then
  cargo build --release -p tidemark --bin tidemark
fi
[ -x "$TIDEMARK" ] || die "missing $TIDEMARK: cargo build --release -p tidemark --bin tidemark"
hard=$(ulimit -Hn); [ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard"

rm -rf "$W"; mkdir -p "$W/data" "$W/tmp"
RESULTS=$W/results.txt; : > "$RESULTS"
PORT=$(free_port)
WORKER_PID=
MARIA_PID=
cleanup() {
  [ -n "$WORKER_PID" ] && kill -KILL "$WORKER_PID" 2>/dev/null || true
  [ -n "$MARIA_PID" ] && kill "$MARIA_PID" 2>/dev/null && wait "$MARIA_PID" 2>/dev/null || true
  rm -rf "$W/data" "$W"/*/sinks
}
trap cleanup EXIT

user=(); [ "$(id -u)" = 0 ] && user=(--user=root)
mariadb-install-db --no-defaults --datadir="$W/data" --auth-root-authentication-method=normal \
  --skip-test-db --innodb-log-file-size=64M "${user[@]}" >/dev/null
/usr/sbin/mariadbd --no-defaults --datadir="$W/data" --socket="$SOCK" --port="$PORT" \
  --bind-address=127.0.0.1 --pid-file="$W/maria.pid" --log-error="$W/maria.err" --tmpdir="$W/tmp" \
  --log-bin="$W/data/binlog" --server-id=1 --binlog-format=ROW --binlog-row-image=FULL \
  --binlog-row-metadata=FULL --gtid-strict-mode=ON --innodb-buffer-pool-size=256M \
  --innodb-log-file-size=64M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
  --max-connections=$((3 * MAXN + 64)) --skip-name-resolve "${user[@]}" >/dev/null 2>&1 &
MARIA_PID=$!
for _ in $(seq 1 300); do SQL mysql -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
SQL mysql -e 'SELECT 1' >/dev/null || { tail -n 20 "$W/maria.err" >&2; die "mariadbd did not start"; }
t=$(now_ms)
SQL mysql -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'dbz';
  GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
  CREATE DATABASE other; CREATE TABLE other.wal_tick (id bigint AUTO_INCREMENT PRIMARY KEY, at datetime DEFAULT now());"
for i in $(seq 1 "$MAXN"); do
  echo "CREATE DATABASE fleet_$i;
    CREATE TABLE fleet_$i.orders (id int PRIMARY KEY, customer varchar(64), amount decimal(12,2), created datetime);
    CREATE TABLE fleet_$i.customers (id int PRIMARY KEY, name varchar(64), email varchar(128));
    INSERT INTO fleet_$i.orders SELECT seq, concat('customer ', seq), seq * 10.5, now() FROM seq_1_to_5;
    INSERT INTO fleet_$i.customers SELECT seq, concat('customer ', seq), concat('customer', seq, '@example.com') FROM seq_1_to_3;"
done | SQL mysql
echo "mariadbd on 127.0.0.1:$PORT with $MAXN databases in $(secs "$t" "$(now_ms)") s, work dir $W" >&2

# The traffic of one database: M rows in transactions of TX rows, alternately orders and customers.
traffic_sql() { # traffic_sql <m> <file>
  awk -v m="$1" -v tx="$TX" 'BEGIN {
    for (s = 0; s * tx < m; s++) {
      a = s * tx + 1; b = (s + 1) * tx; if (b > m) b = m
      if (s % 2 == 0)
        printf "INSERT INTO orders SELECT 1000 + seq, concat(\"customer \", seq %% 100), seq * 1.25, now() FROM seq_%d_to_%d;\n", a, b
      else
        printf "INSERT INTO customers SELECT 1000 + seq, concat(\"name \", seq), concat(\"user\", seq, \"@example.com\") FROM seq_%d_to_%d;\n", a, b
    }
  }' > "$2"
}

# poll.py post <port> <layout> <n> <maria port> <dir> <timeout>: POSTs the layout's connectors.
# poll.py rows <port> <names> <rows> <timeout>: until each named connector wrote >= rows.
cat > "$W/poll.py" <<'PY'
import http.client, json, re, sys, time, urllib.request
mode, port = sys.argv[1], sys.argv[2]
deadline = time.time() + float(sys.argv[-1])
base = "http://127.0.0.1:%s" % port
if mode == "post":
    layout, n, maria, out = sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
    def config(name, dbs, server_id):
        return {"name": name, "config": {
            "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
            "database.hostname": "127.0.0.1", "database.port": maria, "database.user": "root",
            "database.password": "dbz", "database.server.id": str(server_id), "topic.prefix": name,
            "database.include.list": ",".join(dbs), "include.schema.changes": "false",
            "snapshot.mode": "initial",
            "schema.history.internal": "io.debezium.storage.file.history.FileSchemaHistory",
            "schema.history.internal.file.filename": "%s/history/%s.jsonl" % (out, name),
            "sink.file": "%s/sinks/%s.jsonl" % (out, name)}}
    if layout == "many":
        bodies = [config("fleet_%d" % i, ["fleet_%d" % i], 10000 + i) for i in range(1, n + 1)]
    else:
        bodies = [config("fleet_all", ["fleet_%d" % i for i in range(1, n + 1)], 9999)]
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    for body in bodies:
        conn.request("POST", "/connectors", json.dumps(body), {"Content-Type": "application/json"})
        answer = conn.getresponse()
        text = answer.read().decode()
        if answer.status != 201:
            print("POST %s answered %d: %s" % (body["name"], answer.status, text), file=sys.stderr)
            sys.exit(1)
    print(" ".join(b["name"] for b in bodies))
    sys.exit(0)
names, want = sys.argv[3].split(), int(sys.argv[4])
series = re.compile(r'^tidemark_records_out_total\{connector="([^"]+)"(?:,[^}]*)?\} (\d+)$', re.M)
seen = ""
while time.time() < deadline:
    with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
        counts = dict(series.findall(r.read().decode()))
    short = [k for k in names if int(counts.get(k, 0)) < want]
    seen = "%d of %d connectors wrote >= %d records; short: %s" % (
        len(names) - len(short), len(names), want,
        ", ".join("%s=%s" % (k, counts.get(k, 0)) for k in short[:10]))
    if not short:
        print(int(time.time() * 1000)); sys.exit(0)
    time.sleep(0.2)
print("poll.py rows: %s" % seen, file=sys.stderr)
sys.exit(1)
PY

# Sinks whose line count differs from <want>: prints "<short> <over>".
check_sinks() { # check_sinks <dir> <want> <names>
  local dir=$1 want=$2 short=0 over=0 lines name
  for name in $3; do
    lines=$(wc -l < "$dir/$name.jsonl" 2>/dev/null || echo 0)
    [ "$lines" -lt "$want" ] && short=$((short + 1))
    [ "$lines" -gt "$want" ] && over=$((over + 1))
  done
  echo "$short $over"
}

run_case() { # run_case <n> <layout>
  local n=$1 layout=$2 cw=$W/$2-$1 rport m t0 t names per ok=1
  m=${M:-$((ROWS_TOTAL / n))}
  echo "--- $n databases, layout $layout, $m rows per database" >&2
  seq 1 "$n" | xargs -P "$PAR" -I{} mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot fleet_{} \
    -e "DELETE FROM orders WHERE id > 1000; DELETE FROM customers WHERE id > 1000"
  SQL mysql -e "RESET MASTER"
  mkdir -p "$cw/sinks" "$cw/history"
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
  # One connector carries all n databases' rows.
  if [ "$layout" = many ]; then per=1; else per=$n; fi
  t0=$(now_ms)
  names=$(python3 "$W/poll.py" post "$rport" "$layout" "$n" "$PORT" "$cw" "$TIMEOUT") || die "creating the connectors failed"
  local start=-
  if t=$(python3 "$W/poll.py" rows "$rport" "$names" $((per * SNAP)) "$TIMEOUT"); then start=$(secs "$t0" "$t"); else ok=0; fi
  read -r short over < <(check_sinks "$cw/sinks" $((per * SNAP)) "$names")
  [ "$short" = 0 ] && [ "$over" = 0 ] || { echo "WARN after the snapshot: $short sinks short, $over over" >&2; ok=0; }

  sleep "$SETTLE"
  local k0 k1 p0 p1 el idle maria_idle rss wal_idle maria_wal threads writer
  k0=$(ticks "$WORKER_PID"); p0=$(ticks "$MARIA_PID"); t=$(now_ms)
  sleep "$IDLE"
  k1=$(ticks "$WORKER_PID"); p1=$(ticks "$MARIA_PID"); el=$(( $(now_ms) - t ))
  idle=$(pct "$k0" "$k1" "$el"); maria_idle=$(pct "$p0" "$p1" "$el")
  rss=$(status_kb "$WORKER_PID" VmRSS)
  threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$WORKER_PID/status")
  ( while :; do SQL other -e "INSERT INTO wal_tick () VALUES ()" || exit 0; sleep 1; done ) &
  writer=$!
  k0=$(ticks "$WORKER_PID"); p0=$(ticks "$MARIA_PID"); t=$(now_ms)
  sleep "$IDLE"
  k1=$(ticks "$WORKER_PID"); p1=$(ticks "$MARIA_PID"); el=$(( $(now_ms) - t ))
  kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true
  wal_idle=$(pct "$k0" "$k1" "$el"); maria_wal=$(pct "$p0" "$p1" "$el")

  traffic_sql "$m" "$cw/traffic.sql"
  local t1 t2 t3 rows_s=- lag=- wcpu pcpu
  k0=$(ticks "$WORKER_PID"); p0=$(ticks "$MARIA_PID"); t1=$(now_ms)
  seq 1 "$n" | xargs -P "$PAR" -I{} sh -c "mariadb --no-defaults --protocol=socket -S '$SOCK' -uroot fleet_{} < '$cw/traffic.sql'"
  t2=$(now_ms)
  if t3=$(python3 "$W/poll.py" rows "$rport" "$names" $((per * (SNAP + m))) "$TIMEOUT"); then
    rows_s=$(awk -v r=$((n * m)) -v a="$t1" -v b="$t3" 'BEGIN{printf "%.0f", r / ((b - a) / 1000)}')
    lag=$(secs "$t2" "$t3")
  else
    ok=0
  fi
  k1=$(ticks "$WORKER_PID"); p1=$(ticks "$MARIA_PID")
  wcpu=$(awk -v a="$k0" -v b="$k1" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}')
  pcpu=$(awk -v a="$p0" -v b="$p1" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}')
  read -r short over < <(check_sinks "$cw/sinks" $((per * (SNAP + m))) "$names")
  [ "$short" = 0 ] && [ "$over" = 0 ] || { echo "WARN after the traffic: $short sinks short, $over over" >&2; ok=0; }
  local hwm settled
  hwm=$(status_kb "$WORKER_PID" VmHWM)
  sleep "$AFTER_S"
  settled=$(status_kb "$WORKER_PID" VmRSS)

  t=$(now_ms)
  kill -TERM "$WORKER_PID"
  local code_exit=0
  wait "$WORKER_PID" || code_exit=$?
  local stop; stop=$(secs "$t" "$(now_ms)")
  WORKER_PID=
  [ "$code_exit" = 0 ] || { echo "WARN the worker exited with $code_exit" >&2; ok=0; }
  [ "$ok" = 1 ] || { echo "--- worker log (errors and warnings):" >&2; grep -E 'ERROR|WARN' "$cw/worker.log" | tail -n 20 >&2 || true; }
  result "fleet-mariadb n=$n layout=$layout connectors=$(echo "$names" | wc -w) start_s=$start" \
    "steady_rss_kb=$rss idle_cpu_pct=$idle maria_idle_cpu_pct=$maria_idle wal_cpu_pct=$wal_idle maria_wal_cpu_pct=$maria_wal threads=$threads" \
    "rows=$((n * m)) lag_s=$lag rows_per_s=$rows_s worker_cpu_s=$wcpu maria_cpu_s=$pcpu" \
    "peak_rss_kb=$hwm rss_settled_kb=$settled stop_s=$stop exit=$code_exit complete=$ok"
  rm -rf "$cw/sinks"
}

for n in $NS; do
  for layout in $LAYOUTS; do run_case "$n" "$layout"; done
done

echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$RESULTS" <<'PY'
import sys
rows = [dict(w.split("=", 1) for w in line.split()[2:]) for line in open(sys.argv[1]) if line.startswith("RESULT fleet-mariadb ")]
def mb(kb):
    return "–" if kb in ("", "-", None) else "%.0f MB" % (int(kb) / 1024)
def num(v):
    try:
        return "{:,}".format(int(v))
    except ValueError:
        return v
print("| databases | layout | connectors | all snapshots in sinks s | steady RSS | peak RSS / settled | idle CPU worker / mariadbd | binlog advancing: worker / mariadbd | threads | rows/s | lag s | CPU s worker / mariadbd | stop s | complete |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    print("| %s | %s | %s | %s | %s | %s / %s | %s%% / %s%% | %s%% / %s%% | %s | %s | %s | %s / %s | %s | %s |" % (
        r["n"], r["layout"], r["connectors"], r["start_s"], mb(r["steady_rss_kb"]), mb(r["peak_rss_kb"]),
        mb(r["rss_settled_kb"]), r["idle_cpu_pct"], r["maria_idle_cpu_pct"], r["wal_cpu_pct"],
        r["maria_wal_cpu_pct"], r["threads"], num(r["rows_per_s"]), r["lag_s"], r["worker_cpu_s"],
        r["maria_cpu_s"], r["stop_s"], "yes" if r["complete"] == "1" else "NO"))
PY
