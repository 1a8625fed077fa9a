#!/usr/bin/env bash
# Postgres snapshots: Tidemark's initial snapshot of one big table with 1 and 2 reading threads,
# beside the read ceiling (psql \copy of the same table to /dev/null) and Debezium 3.6.3
# (../shared/dbz/run.sh) with the same snapshot.max.threads, then Tidemark's incremental
# snapshot of that table while it streams a steady insert load on another table.
#
#   bench/snapshot.sh
#
# Env: N (rows of the big table, 10000000), SCHEMAS ("false true": JsonConverter schemas off,
# on), THREADS ("1 2": snapshot.max.threads), REPEAT (measurements of \copy, Tidemark's initial
# snapshots and the incremental case, 1; the table shows medians), DBZ (1 runs Debezium too,
# once per case; 0 skips it), WRITER_RATE (rows/s of the incremental case's writer, 5000),
# WRITER_BATCH (rows per writer transaction, 10), INC_CHUNK (incremental.snapshot.chunk.size,
# unset: the default), TIMEOUT (s to wait for an incremental snapshot, 3600), W (work dir,
# /tmp/tidemark-bench-snapshot), PORT (55471), KEEP (1 keeps the cluster's data dir at exit).
#
# One throwaway Postgres 15 cluster (fsync off, as bench/pg.sh's) on its own port serves all
# cases, Debezium's included (its runner takes the port and database as overrides), so every
# case reads the same table (id bigint primary key, v text, n int), filled once with
# generate_series and VACUUM ANALYZE. Cases, in this order:
#
# - copy: `\copy (SELECT * FROM bench_snap) TO '/dev/null'` through psql, timed: rows/s of
#   reading the table out of Postgres with nothing done to the rows, the ceiling of a snapshot.
# - tidemark, per SCHEMAS and THREADS: `snapshot.mode=initial_only` with
#   `snapshot.max.threads=<t>`, JSON-lines file sink; rate = rows / (first -> last event), from
#   the events' own ts_ms, as bench/pg.sh measures; also wall time (process start -> exit), CPU s
#   (user + system) and peak RSS (/usr/bin/time -v). threads_key= says what Tidemark did with
#   snapshot.max.threads: accepted, ignored (its unknown-key warning names it) or refused (the
#   run failed naming it; the case is recorded without a rate and the script goes on).
# - debezium, per SCHEMAS and THREADS (DBZ=1): ../shared/dbz/run.sh with
#   `snapshot.mode=initial_only`, `snapshot.max.threads=<t>`, stopped after N events; the same
#   rate from the events' ts_ms (the runner's own arrival-clock rate is dbzrun_events_per_s).
#   Debezium 3.6.3 splits each table into row_count / snapshot.max.threads chunks read across
#   its threads (legacy.snapshot.max.threads=true would give one thread per table).
# - incremental, per SCHEMAS: Tidemark streams (`snapshot.mode=no_data`, signal table
#   public.debezium_signal) while pgbench inserts WRITER_RATE rows/s into a second table, from
#   before the signal to after the snapshot; an execute-snapshot signal (an insert into the
#   signal table) starts an incremental snapshot of the big table; the case ends when Tidemark
#   logs "incremental snapshot completed" and the writer's last row is in the file. rows/s =
#   reads with source.snapshot "incremental" / (first -> last such read's ts_ms). Stream
#   latency = event ts_ms - source.ts_ms (the commit) of the writer's events committed during
#   the snapshot (first -> last read): p50, p99, max in ms; before_p50/p99 are those committed
#   before it began, the baseline. The writer's session has synchronous_commit on (the cluster's
#   is off), so that its commits reach the walsender at once.
#
# Output files are deleted after each case: a row takes about 0.6 KB of JSON, 2.9 KB with
# schemas, so 10M rows need up to 30 GB free in W at a time. Prints RESULT lines as they come and Markdown tables at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-10000000}
W=${W:-/tmp/tidemark-bench-snapshot}
PORT=${PORT:-55471}
SCHEMAS_LIST=${SCHEMAS:-false true}
THREADS_LIST=${THREADS:-1 2}
DBZ=${DBZ:-1}
REPEAT=${REPEAT:-1}
WRITER_RATE=${WRITER_RATE:-5000}
WRITER_BATCH=${WRITER_BATCH:-10}
TIMEOUT=${TIMEOUT:-3600}
BIN=/usr/lib/postgresql/15/bin
TIDEMARK=$ROOT/target/release/tidemark
DBZ_RUN=$ROOT/../shared/dbz/run.sh
mkdir -p "$W"
RESULTS=$W/results.txt
: > "$RESULTS"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
P() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d bench -qtAX -v ON_ERROR_STOP=1 "$@"; }
now_ms() { date +%s%3N; }
secs() { awk "BEGIN{printf \"%.3f\", ($2-$1)/1000}"; }            # secs <t0 ms> <t1 ms>
rate() { awk "BEGIN{if ($2 > 0) printf \"%.0f\", $1/$2; else print \"-\"}"; }  # rate <rows> <s>
rss_of() { awk -F': ' '/Maximum resident set size/{print $2}' "$1"; }
cpu_of() { awk -F': ' '/User time \(seconds\)/{u=$2} /System time \(seconds\)/{s=$2} END{printf "%.2f", u+s}' "$1"; }
result() { echo "RESULT $*" | tee -a "$RESULTS"; }
drop_slot() { P -c "SELECT pg_drop_replication_slot('$1') FROM pg_replication_slots WHERE slot_name='$1'" >/dev/null; }
stop_timed() { # stop_timed <pid of /usr/bin/time>: SIGTERM to the program it runs, then reap
  kill -TERM "$(pgrep -P "$1" || echo "$1")" 2>/dev/null || true
  reap "$1"
}
span_of() { # seconds between the first and the last event's ts_ms in a JSON-lines file
  python3 - "$1" <<'PY'
import json, sys
def ts(line):
    v = json.loads(line)["value"]
    return v.get("payload", v)["ts_ms"]
with open(sys.argv[1], "rb") as f:
    first = f.readline()
    f.seek(0, 2); size = f.tell(); f.seek(max(0, size - 262144))
    last = f.read().splitlines()[-1]
print("%.3f" % ((ts(last) - ts(first)) / 1000))
PY
}

# Every connector, Debezium and the writer run in the background (spawn), so that the script,
# stopped early, ends them (with what /usr/bin/time runs), then the cluster.
BG_PIDS=()
spawn() { "$@" & BG=$!; BG_PIDS+=("$BG"); }
reap() { # reap <pid>: waits for it (its exit code in RC) and forgets it
  RC=0; wait "$1" || RC=$?
  local keep=() p; for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; BG_PIDS=("${keep[@]}")
}
cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do
    kill -TERM $(pgrep -P "$pid") "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  as_pg "$BIN/pg_ctl" -D "$W/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -f "$W"/*.jsonl
  [ "${KEEP:-0}" = 1 ] || rm -rf "$W/pg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_pg() {
  if [ ! -f "$W/pg/PG_VERSION" ]; then
    mkdir -p "$W/pg"; [ "$(id -u)" = 0 ] && chown postgres "$W" "$W/pg"; chmod 700 "$W/pg"
    as_pg "$BIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$W/pg/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_wal_size = 4GB
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  as_pg "$BIN/pg_ctl" -D "$W/pg" status >/dev/null 2>&1 || as_pg "$BIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start >/dev/null
  "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qtAX -c "SELECT 1 FROM pg_database WHERE datname='bench'" | grep -q 1 \
    || "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE bench"
}

setup_tables() { # the big table, the writer's table, the signal table (Debezium's columns)
  for s in bench_tm_snap bench_dbz_snap bench_tm_inc; do drop_slot $s; done
  local t0; t0=$(now_ms)
  P -c "DROP PUBLICATION IF EXISTS bench_pub" \
    -c "DROP TABLE IF EXISTS bench_snap, bench_stream, debezium_signal" \
    -c "CREATE TABLE bench_snap (id bigint PRIMARY KEY, v text, n int)" \
    -c "CREATE TABLE bench_stream (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text, n int)" \
    -c "CREATE TABLE debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))" \
    -c "CREATE PUBLICATION bench_pub FOR TABLE bench_snap, bench_stream, debezium_signal" \
    -c "INSERT INTO bench_snap SELECT g, md5(g::text), g::int FROM generate_series(1,$N) g" \
    -c "VACUUM ANALYZE bench_snap"
  echo "INFO fill of $N rows took $(( $(now_ms) - t0 )) ms; table $(P -c "SELECT pg_size_pretty(pg_table_size('bench_snap'))")" >&2
}

config() { # config <file> <schemas> key=value...
  local file=$1 schemas=$2; shift 2
  {
    echo "name=bench"
    echo "connector.class=postgres"
    echo "database.hostname=127.0.0.1"
    echo "database.port=$PORT"
    echo "database.user=postgres"
    echo "database.dbname=bench"
    echo "topic.prefix=bench"
    echo "publication.name=bench_pub"
    echo "publication.autocreate.mode=disabled"
    echo "offset.flush.interval.ms=1000"
    echo "key.converter.schemas.enable=$schemas"
    echo "value.converter.schemas.enable=$schemas"
    for kv in "$@"; do echo "$kv"; done
  } > "$file"
}

copy_out() {
  local t0 t1
  t0=$(now_ms); P -c "\\copy (SELECT * FROM bench_snap) TO '/dev/null'"; t1=$(now_ms)
  result "psql copy rows=$N seconds=$(secs "$t0" "$t1") rows_per_s=$(rate "$N" "$(secs "$t0" "$t1")")"
}

threads_key() { # threads_key <log> <exit code>: what Tidemark did with snapshot.max.threads
  if grep "ignoring unknown properties" "$1" | grep -q "snapshot.max.threads"; then echo ignored
  elif [ "$2" != 0 ] && grep -q "snapshot.max.threads" "$1"; then echo refused
  elif [ "$2" != 0 ]; then echo "failed(exit=$2)"
  else echo accepted
  fi
}

tidemark_initial() { # tidemark_initial <schemas> <threads>
  local schemas=$1 threads=$2 label=tm-initial-$1-$2 t0 t1 rc
  local out=$W/$label.jsonl log=$W/$label.log
  rm -f "$out" "$W/offsets-$label.json"
  drop_slot bench_tm_snap
  config "$W/$label.properties" "$schemas" slot.name=bench_tm_snap snapshot.mode=initial_only \
    "snapshot.max.threads=$threads" table.include.list=public.bench_snap "sink.file=$out" \
    "offset.storage.file.filename=$W/offsets-$label.json"
  t0=$(now_ms)
  spawn /usr/bin/time -v "$TIDEMARK" run "$W/$label.properties" 2> "$log"
  reap "$BG"; rc=$RC
  t1=$(now_ms)
  drop_slot bench_tm_snap
  local key; key=$(threads_key "$log" "$rc")
  if [ "$key" != accepted ] && [ "$key" != ignored ]; then
    echo "WARN tidemark initial threads=$threads schemas=$schemas: $key; its log says:" >&2
    grep -iE "error|snapshot.max.threads" "$log" | tail -n 5 >&2 || true
  fi
  local lines=0 span=0
  [ -s "$out" ] && { lines=$(wc -l < "$out"); span=$(span_of "$out"); }
  [ "$lines" = "$N" ] || echo "WARN tidemark initial threads=$threads schemas=$schemas wrote $lines of $N rows" >&2
  result "tidemark initial threads=$threads schemas=$schemas rows=$lines first_to_last_s=$span rows_per_s=$(rate "$lines" "$span") wall_s=$(secs "$t0" "$t1") cpu_s=$(cpu_of "$log") peak_rss_kb=$(rss_of "$log") out_bytes=$(stat -c %s "$out" 2>/dev/null || echo 0) threads_key=$key"
  rm -f "$out"
}

debezium_initial() { # debezium_initial <schemas> <threads>
  local schemas=$1 threads=$2 label=dbz-initial-$1-$2 t0 t1 rc
  local out=$W/$label.jsonl log=$W/$label.log
  rm -f "$out"
  drop_slot bench_dbz_snap
  t0=$(now_ms)
  spawn env DBZ_TIME=1 "$DBZ_RUN" "$ROOT/../shared/dbz/pg.properties" "$out" "$N" 30 \
    "name=bench-$label" dbzrun.reset=true dbzrun.flush=false "dbzrun.schemas.enable=$schemas" \
    "dbzrun.state.dir=$W/dbz-state" "offset.storage.file.filename=$W/dbz-state/offsets-$label.dat" \
    "database.port=$PORT" database.dbname=bench topic.prefix=bench \
    slot.name=bench_dbz_snap publication.name=bench_pub publication.autocreate.mode=disabled \
    snapshot.mode=initial_only "snapshot.max.threads=$threads" table.include.list=public.bench_snap \
    > /dev/null 2> "$log"
  reap "$BG"; rc=$RC
  t1=$(now_ms)
  drop_slot bench_dbz_snap
  [ "$rc" = 0 ] || { echo "WARN debezium initial threads=$threads schemas=$schemas exited with $rc:" >&2; grep -E "DBZRUN_ERROR|Exception" "$log" | head -n 3 >&2 || true; }
  local lines=0 span=0
  [ -s "$out" ] && { lines=$(wc -l < "$out"); span=$(span_of "$out"); }
  [ "$lines" = "$N" ] || echo "WARN debezium initial threads=$threads schemas=$schemas wrote $lines of $N rows" >&2
  result "debezium initial threads=$threads schemas=$schemas rows=$lines first_to_last_s=$span rows_per_s=$(rate "$lines" "$span") dbzrun_events_per_s=$(grep -o 'events_per_s=[^ ]*' "$log" | head -n 1 | cut -d= -f2) wall_s=$(secs "$t0" "$t1") cpu_s=$(cpu_of "$log") peak_rss_kb=$(rss_of "$log") out_bytes=$(stat -c %s "$out" 2>/dev/null || echo 0)"
  rm -f "$out"
}

incremental_stats() { # incremental_stats <out.jsonl>: the key=value fields of the incremental case
  python3 - "$1" <<'PY'
import json, sys
decoder = json.JSONDecoder()
def payload(line):
    s = line.decode()
    i = s.rfind('"payload":')           # schemas on: the value's payload is the line's last one
    i = s.find('"value":') + 8 if i < 0 else i + 10
    return decoder.raw_decode(s, i)[0]
snap = b'"topic":"bench.public.bench_snap"'
stream = b'"topic":"bench.public.bench_stream"'
reads, first, last, writes = 0, None, None, []
with open(sys.argv[1], "rb") as f:
    for line in f:
        head = line[:64]
        if snap in head:
            if b'"snapshot":"incremental"' in line:
                reads += 1
                if first is None:
                    first = line
                last = line
        elif stream in head:
            p = payload(line)
            writes.append((p["source"]["ts_ms"], p["ts_ms"] - p["source"]["ts_ms"]))
def pct(values, q):
    if not values:
        return "-"
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]
if reads:
    t0, t1 = payload(first)["ts_ms"], payload(last)["ts_ms"]
else:
    t0 = t1 = 0
during = [lag for commit, lag in writes if t0 <= commit <= t1]
before = [lag for commit, lag in writes if commit < t0]
span = (t1 - t0) / 1000
print("reads=%d first_to_last_s=%.3f rows_per_s=%s writer_events=%d lag_events=%d lag_p50_ms=%s lag_p99_ms=%s lag_max_ms=%s before_p50_ms=%s before_p99_ms=%s" % (
    reads, span, "%.0f" % (reads / span) if span > 0 else "-", len(writes), len(during),
    pct(during, 0.5), pct(during, 0.99), max(during) if during else "-", pct(before, 0.5), pct(before, 0.99)))
PY
}

incremental() { # incremental <schemas>
  local schemas=$1 label=tm-incremental-$1
  local out=$W/$label.jsonl log=$W/$label.log
  rm -f "$out" "$W/offsets-$label.json"
  drop_slot bench_tm_inc
  P -c "TRUNCATE bench_stream RESTART IDENTITY" -c "TRUNCATE debezium_signal"
  local extra=(); [ -n "${INC_CHUNK:-}" ] && extra=("incremental.snapshot.chunk.size=$INC_CHUNK")
  config "$W/$label.properties" "$schemas" slot.name=bench_tm_inc snapshot.mode=no_data \
    table.include.list=public.bench_snap,public.bench_stream,public.debezium_signal \
    signal.data.collection=public.debezium_signal "sink.file=$out" \
    "offset.storage.file.filename=$W/offsets-$label.json" "${extra[@]}"
  spawn /usr/bin/time -v "$TIDEMARK" run "$W/$label.properties" 2> "$log"
  local tm=$BG
  for _ in $(seq 1 600); do
    [ "$(P -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name='bench_tm_inc' AND active")" = 1 ] && break
    kill -0 "$tm" 2>/dev/null || break
    sleep 0.1
  done
  # the writer: WRITER_RATE rows/s in transactions of WRITER_BATCH rows, on pgbench's schedule
  echo "INSERT INTO bench_stream (v, n) SELECT md5(random()::text), g FROM generate_series(1, $WRITER_BATCH) g;" > "$W/writer.sql"
  local w0 w1; w0=$(now_ms)
  # synchronous_commit on for the writer alone: with the cluster's off, its commits would reach
  # the walsender only at the WAL writer's next flush (up to 200 ms), a delay of Postgres' own
  spawn env PGOPTIONS="-c synchronous_commit=on" "$BIN/pgbench" -n -h 127.0.0.1 -p "$PORT" -U postgres -c 2 -j 2 -T 86400 \
    -R $(( WRITER_RATE / WRITER_BATCH )) -f "$W/writer.sql" bench > "$W/writer.log" 2>&1
  local writer=$BG
  sleep 5   # the baseline: the stream alone
  local s0 s1 done_ok=0
  s0=$(now_ms)
  P -c "INSERT INTO debezium_signal VALUES ('bench-$s0', 'execute-snapshot', '{\"data-collections\": [\"public.bench_snap\"], \"type\": \"incremental\"}')"
  while [ $(( $(now_ms) - s0 )) -lt $(( TIMEOUT * 1000 )) ]; do
    grep -q "incremental snapshot completed" "$log" && { done_ok=1; break; }
    kill -0 "$tm" 2>/dev/null || break
    sleep 0.2
  done
  s1=$(now_ms)
  [ "$done_ok" = 1 ] || echo "WARN tidemark incremental schemas=$schemas: no \"incremental snapshot completed\" in its log after $(secs "$s0" "$s1") s" >&2
  sleep 3   # the stream after the snapshot, then the writer stops
  kill -TERM "$writer" 2>/dev/null || true; reap "$writer"
  w1=$(now_ms)
  local written; written=$(P -c "SELECT count(*) FROM bench_stream")
  for _ in $(seq 1 120); do   # until the writer's last row is in the file
    local got; got=$(grep -cF '"topic":"bench.public.bench_stream"' "$out" 2>/dev/null || true)
    [ "${got:-0}" -ge "$written" ] && break
    kill -0 "$tm" 2>/dev/null || break
    sleep 1
  done
  stop_timed "$tm"
  drop_slot bench_tm_inc
  local stats; stats=$(incremental_stats "$out")
  case " $stats " in *" reads=$N "*) ;; *) echo "WARN tidemark incremental schemas=$schemas: $stats (want reads=$N)" >&2 ;; esac
  result "tidemark incremental schemas=$schemas rows=$N $stats signal_to_done_s=$(secs "$s0" "$s1") writer_rows=$written writer_rows_per_s=$(rate "$written" "$(secs "$w0" "$w1")") cpu_s=$(cpu_of "$log") peak_rss_kb=$(rss_of "$log") out_bytes=$(stat -c %s "$out" 2>/dev/null || echo 0)"
  rm -f "$out"
}

summary() {
  python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = []
for line in open(sys.argv[1]):
    w = line.split()
    if len(w) >= 3 and w[0] == "RESULT":
        rows.append((w[1], w[2], dict(x.split("=", 1) for x in w[3:] if "=" in x)))
def num(f, k):
    try:
        return float(f[k])
    except (KeyError, ValueError):
        return None
def med(found, k):
    v = [x for x in (num(f, k) for f in found) if x is not None]
    return statistics.median(v) if v else None
def peak(found):
    v = [x for x in (num(f, "peak_rss_kb") for f in found) if x is not None]
    return "{:,.0f} kB".format(max(v)) if v else "–"
def cell(v, fmt):
    return fmt.format(v) if v is not None else "–"
def pick(tool, case, **want):
    return [f for t, c, f in rows if t == tool and c == case and all(f.get(k) == v for k, v in want.items())]
copy = med(pick("psql", "copy"), "rows_per_s")
keys = lambda tool: sorted({(f["schemas"], f["threads"]) for f in pick(tool, "initial")})
print("| case | threads | schemas | rows/s | % of copy | Tidemark/Debezium | peak RSS |")
print("|---|---:|---|---:|---:|---:|---:|")
print("| copy | – | – | {} | 100% | – | – |".format(cell(copy, "{:,.0f}")))
notes = []
for tool in ("tidemark", "debezium"):
    for schemas, threads in keys(tool):
        found = pick(tool, "initial", schemas=schemas, threads=threads)
        r = med(found, "rows_per_s")
        dbz = med(pick("debezium", "initial", schemas=schemas, threads=threads), "rows_per_s")
        ratio = r / dbz if tool == "tidemark" and r and dbz else None
        print("| {} | {} | {} | {} | {} | {} | {} |".format(tool, threads, schemas, cell(r, "{:,.0f}"),
              cell(r / copy * 100 if r and copy else None, "{:.1f}%"), cell(ratio, "{:.2f}x"), peak(found)))
        for f in found:
            if f.get("threads_key", "accepted") != "accepted":
                notes.append("{} (threads={} schemas={})".format(f["threads_key"], threads, schemas))
inc = pick("tidemark", "incremental")
for schemas in sorted({f["schemas"] for f in inc}):
    found = [f for f in inc if f["schemas"] == schemas]
    r = med(found, "rows_per_s")
    print("| incremental | – | {} | {} | {} | – | {} |".format(schemas, cell(r, "{:,.0f}"),
          cell(r / copy * 100 if r and copy else None, "{:.1f}%"), peak(found)))
if notes:
    print("\nTidemark and snapshot.max.threads: " + ", ".join(dict.fromkeys(notes)))
if inc:
    print("\nStream latency (event ts_ms - commit) of the writer's rows during the incremental snapshot, medians of the runs:\n")
    print("| schemas | writer rows/s | events | p50 ms | p99 ms | max ms | before: p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for schemas in sorted({f["schemas"] for f in inc}):
        found = [f for f in inc if f["schemas"] == schemas]
        print("| {} | {} | {} | {} | {} | {} | {} | {} |".format(schemas, cell(med(found, "writer_rows_per_s"), "{:,.0f}"),
              cell(med(found, "lag_events"), "{:,.0f}"), *(cell(med(found, k), "{:,.0f}") for k in
              ("lag_p50_ms", "lag_p99_ms", "lag_max_ms", "before_p50_ms", "before_p99_ms"))))
PY
}

[ -x "$TIDEMARK" ] || cargo build --release -p tidemark
start_pg
setup_tables
for _ in $(seq 1 "$REPEAT"); do copy_out; done
for _ in $(seq 1 "$REPEAT"); do
  for schemas in $SCHEMAS_LIST; do
    for threads in $THREADS_LIST; do tidemark_initial "$schemas" "$threads"; done
  done
done
if [ "$DBZ" = 1 ]; then
  if [ -x "$DBZ_RUN" ]; then
    for schemas in $SCHEMAS_LIST; do
      for threads in $THREADS_LIST; do debezium_initial "$schemas" "$threads"; done
    done
  else
    echo "WARN no Debezium oracle at ../shared/dbz: skipped" >&2
  fi
fi
for _ in $(seq 1 "$REPEAT"); do
  for schemas in $SCHEMAS_LIST; do incremental "$schemas"; done
done
summary
