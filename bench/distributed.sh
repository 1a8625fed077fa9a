#!/usr/bin/env bash
# Distributed workers (issue 21): N Postgres connectors shared by a group of `tidemark worker`
# processes (group.id) through Apache Kafka, writing their changes to Kafka: how long the group
# takes to start them, to hand a share to a worker that joins, to move a killed worker's
# connectors, and how fast it delivers rows to Kafka.
#
#   bench/distributed.sh                          # N=100, WS="1 2 3"
#   N=30 ROWS_TOTAL=60000 bench/distributed.sh   # a quick check: 2 minutes on 2 cores
#
# Starts one throwaway Postgres 15 as bench/fleet.sh does (fsync and synchronous_commit off,
# max_connections 3 x N + 64, max_wal_senders and max_replication_slots N + 16) with databases
# fleet_1 … fleet_<N>, copied from a template holding
#   orders(id int primary key, customer text, amount numeric(12,2), created timestamptz)  5 rows
# and the publication fleet_pub on it (each database has its own publication; each connector
# creates its own slot fleet_slot_<i>), and one throwaway Apache Kafka 4.4 broker as
# bench/kafka.sh does (single-node KRaft, jars from `tests/support/kafka/fetch.sh kafka`,
# BROKER_HEAP -Xms1G -Xmx1G, group.initial.rebalance.delay.ms=0).
#
# Then for each W in WS a fresh group (group.id dist-w<W> and its own config, status and offset
# topics, so every connector snapshots again), every slot dropped and the tables reset to their
# 5 rows. Every worker gets the properties of a distributed worker: listeners on a free port,
# bootstrap.servers, the three worker topics with replication factor 1,
# offset.flush.interval.ms=1000, session.timeout.ms=6000, heartbeat.interval.ms=2000,
# scheduled.rebalance.max.delay.ms=0 (a departed worker's connectors move at once),
# topic.creation.default.partitions=1 and replication factor 1, JsonConverter with schemas
# SCHEMAS (false). A worker's id (worker_id in the statuses) is 127.0.0.1:<its port>.
#
# 1. start: W workers launched at once; workers_ready_s = launch -> every worker's REST API
#    answers (a distributed worker answers once it joined its group). Then N connectors are
#    POSTed round-robin over the workers (one keep-alive connection per worker, each POST must
#    be 201; Debezium's Postgres connector config, snapshot.mode=initial,
#    publication.autocreate.mode=disabled, topic.prefix dist_w<W>_<i>, and, as
#    tests/distributed.rs, slot.retry.delay.ms=500, slot.max.retries=120 and
#    retriable.restart.connector.wait.ms=200, so a moved connector that finds its slot still
#    held retries within half a second instead of Debezium's 10 s).
#    post_s = first POST -> last answered; start_s = first POST -> every connector and its task
#    RUNNING in GET /connectors?expand=status (asked of worker 1; a worker says RUNNING once it
#    launched the connector, before it connects); per_worker = connectors per worker from
#    their worker_id; slots_s = first POST -> N slots active in pg_replication_slots;
#    snapshot_s = first POST -> every connector's 5 snapshot rows in Kafka.
# 2. throughput, with all N running on W workers, after SETTLE s (5): every database gets
#    M = ROWS_TOTAL / N rows (ROWS_TOTAL 200,000; M overrides) in transactions of TX rows (10)
#    by PAR (10) psql clients running one database's script each (xargs -P), as bench/fleet.sh.
#    Records in Kafka = the sum of the end offsets (high watermarks) of the case's change topics
#    (dist_w<W>_<i>.public.orders), read by a small Java program on kafka-clients from the
#    broker's jars (compiled into the work dir with javac; AdminClient listOffsets every
#    200 ms), started before the traffic. rows_per_s = N x M / (traffic start -> records in
#    Kafka = snapshot records + N x M); traffic_s = how long the clients took to commit;
#    lag_s = last commit -> every row in Kafka; records_in_kafka and extra (records beyond the
#    expected count: an at-least-once connector's repeats; 0 when nothing restarted).
#    Per worker (in start order, "/"-separated): CPU seconds (/proc/<pid>/stat utime+stime)
#    over traffic start -> last row in Kafka, peak RSS over that time (VmHWM, reset through
#    /proc/<pid>/clear_refs at the traffic's start), records it wrote (tidemark_records_out_total
#    in its /metrics); start_hwm_kb = each worker's VmHWM before that reset (start-up, snapshot);
#    the broker's and Postgres's CPU seconds (postmaster with exited children and every backend)
#    over the same time.
# 3. failover (W > 1), after SETTLE s: kill -9 of the last worker. moved = the connectors it
#    ran; failover_s = kill -> each of them RUNNING with another worker_id (the time for the
#    last); failover_slots_s = kill -> each of their slots active under a new walsender (the
#    new owner connected); per_worker after it.
# 4. join (W > 1), after SETTLE s, starting from the W - 1 workers that now run all N: one
#    more worker launched on a new port. join_rest_s = launch -> its REST API answers;
#    join_s = launch -> every connector RUNNING and the new worker running its share,
#    floor(N / W); join_slots_s = launch -> the slots of the connectors it runs active under
#    new walsenders (the moved connectors were stopped, final flush and commit, by their old
#    owners first); per_worker after it.
# At the end of a case every worker gets SIGTERM; stop_s = until the last one exited.
#
# Env: N (100), WS ("1 2 3"), ROWS_TOTAL, M, TX, PAR, SETTLE, SCHEMAS, TIMEOUT (per wait,
# 300 s), BROKER_HEAP, W (work dir, /tmp/tidemark-distributed; removed at the start), TIDEMARK
# (the binary, target/release/tidemark), BUILD (1: cargo build --release -p tidemark --bin
# tidemark first, a no-op when fresh; 0: use the binary as it is), KEEP (1 keeps $W/pg and
# $W/kafka at the end).
# Prints RESULT lines as they come ($W/results.txt) and a Markdown table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-100}
WS=${WS:-1 2 3}
ROWS_TOTAL=${ROWS_TOTAL:-200000}
TX=${TX:-10}
PAR=${PAR:-10}
SETTLE=${SETTLE:-5}
SCHEMAS=${SCHEMAS:-false}
TIMEOUT=${TIMEOUT:-300}
W=${W:-/tmp/tidemark-distributed}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}
G1="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
BROKER_HEAP=${BROKER_HEAP:--Xms1G -Xmx1G}
BIN=/usr/lib/postgresql/15/bin
TIDEMARK=${TIDEMARK:-$ROOT/target/release/tidemark}
CACHE=${TIDEMARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tidemark}
KAFKA_LIBS=$CACHE/kafka-4.4.0/libs
SNAP=5
M=${M:-$((ROWS_TOTAL / N))}
[ "$N" -gt 0 ] && [ "$M" -gt 0 ] || { echo "bench/distributed.sh: N and M must be positive (N=$N, M=$M)" >&2; exit 1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
P() { local db=$1; shift; "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d "$db" -qtAX -v ON_ERROR_STOP=1 "$@"; }
# shellcheck source=bench/fleet-common.sh
. bench/fleet-common.sh  # the working directory is the repository root (cd above)
die() { echo "bench/distributed.sh: $*" >&2; exit 1; }
tail_log() { echo "--- $1:" >&2; tail -n 40 "$1" >&2; }
cpu_s() { awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}'; }
# CPU ticks of Postgres: the postmaster (with its exited children's, cutime + cstime) and every
# live backend (as bench/fleet.sh).
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
# Records a worker wrote so far (tidemark_records_out_total over its connectors).
records_out() { curl -s "http://127.0.0.1:$1/metrics" | awk -F'} ' '/^tidemark_records_out_total\{/ {s += $2} END {print s + 0}'; }

if [ "$BUILD" = 1 ]; then
  cargo build --release -p tidemark --bin tidemark
fi
[ -x "$TIDEMARK" ] || die "missing $TIDEMARK: cargo build --release -p tidemark --bin tidemark"
command -v javac >/dev/null || die "javac (a JDK 17+) is needed for the records counter"
bash tests/support/kafka/fetch.sh kafka >/dev/null
hard=$(ulimit -Hn); [ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard"
[ "$(ulimit -n)" -ge $((8 * N + 256)) ] \
  || die "ulimit -n is $(ulimit -n), below the $((8 * N + 256)) $N connectors may need: raise the hard limit"

rm -rf "$W"; mkdir -p "$W/pg" "$W/kafka"
RESULTS=$W/results.txt; : > "$RESULTS"
PORT=$(free_port); KPORT=$(free_port); CPORT=$(free_port)
while [ "$KPORT" = "$PORT" ]; do KPORT=$(free_port); done
while [ "$CPORT" = "$PORT" ] || [ "$CPORT" = "$KPORT" ]; do CPORT=$(free_port); done
BOOTSTRAP=127.0.0.1:$KPORT
# The running workers of the case, by index 1..W: pid, REST port.
declare -a PIDS=() PORTS=()
BROKER_PID=
WAITER_PID=
cleanup() {
  local p
  [ -n "$WAITER_PID" ] && kill "$WAITER_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null || true
  as_pg "$BIN/pg_ctl" -D "$W/pg" -m immediate -w stop >/dev/null 2>&1 || true
  if [ -n "$BROKER_PID" ]; then wait "$BROKER_PID" 2>/dev/null || true; fi
  [ "$KEEP" = 1 ] || rm -rf "$W/pg" "$W/kafka"
}
trap cleanup EXIT

# The records counter: the sum of the end offsets of the topics matching a regular expression.
#   TopicRecords <bootstrap> <regex> <want> <timeout s>: polls every 200 ms until the sum is at
#   least <want> ("+<k>": k more than at its first poll, which it announces on stderr with
#   "polling"); prints "<epoch ms> <sum> <topics>"; exits 1 on timeout with what it saw.
mkdir -p "$W/java"
cat > "$W/java/TopicRecords.java" <<'JAVA'
import java.util.*;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartition;

public class TopicRecords {
    public static void main(String[] args) throws Exception {
        Pattern topics = Pattern.compile(args[1]);
        String want = args[2];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[3]) * 1000;
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        Map<String, Integer> partitions = new TreeMap<>();
        long target = -1, total = -1;
        String problem = "";
        try (Admin admin = Admin.create(props)) {
            while (true) {
                try {
                    List<String> fresh = new ArrayList<>();
                    for (String name : admin.listTopics().names().get())
                        if (topics.matcher(name).matches() && !partitions.containsKey(name)) fresh.add(name);
                    if (!fresh.isEmpty())
                        admin.describeTopics(fresh).allTopicNames().get()
                            .forEach((name, d) -> partitions.put(name, d.partitions().size()));
                    Map<TopicPartition, OffsetSpec> query = new HashMap<>();
                    partitions.forEach((name, n) -> {
                        for (int p = 0; p < n; p++) query.put(new TopicPartition(name, p), OffsetSpec.latest());
                    });
                    long sum = 0;
                    if (!query.isEmpty())
                        for (ListOffsetsResult.ListOffsetsResultInfo info : admin.listOffsets(query).all().get().values())
                            sum += info.offset();
                    total = sum;
                    if (target < 0) {
                        target = want.startsWith("+") ? total + Long.parseLong(want.substring(1)) : Long.parseLong(want);
                        System.err.println("polling: " + total + " records in " + partitions.size() + " topics, waiting for " + target);
                    }
                    problem = "";
                } catch (java.util.concurrent.ExecutionException e) {
                    problem = " (last poll: " + e.getCause() + ")";  // a topic being created: again
                }
                long now = System.currentTimeMillis();
                if (target >= 0 && total >= target) {
                    System.out.println(now + " " + total + " " + partitions.size());
                    return;
                }
                if (now > deadline) {
                    System.err.println("TopicRecords: " + total + " of " + target + " records in "
                        + partitions.size() + " topics" + problem);
                    System.exit(1);
                }
                Thread.sleep(200);
            }
        }
    }
}
JAVA
javac -nowarn -cp "$KAFKA_LIBS/*" -d "$W/java" "$W/java/TopicRecords.java"
# Run as "${TOPIC_RECORDS[@]}" <regex> <want> <timeout> (no function: its pid is the JVM's).
TOPIC_RECORDS=(java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$W/java:$KAFKA_LIBS/*" TopicRecords "$BOOTSTRAP")

# Postgres 15, as bench/fleet.sh.
[ "$(id -u)" = 0 ] && chown postgres "$W" "$W/pg"
chmod 700 "$W/pg"
as_pg "$BIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$W/pg/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W'
wal_level = logical
max_connections = $((3 * N + 64))
max_replication_slots = $((N + 16))
max_wal_senders = $((N + 16))
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
INSERT INTO orders SELECT g, 'customer ' || g, g * 10.5, now() FROM generate_series(1, $SNAP) g;
CREATE PUBLICATION fleet_pub FOR TABLE orders;
SQL
for i in $(seq 1 "$N"); do echo "CREATE DATABASE fleet_$i TEMPLATE fleet_tpl STRATEGY FILE_COPY;"; done \
  | P postgres >/dev/null
echo "Postgres 15 on 127.0.0.1:$PORT with $N databases in $(secs "$t" "$(now_ms)") s, work dir $W" >&2

# Apache Kafka 4.4: one KRaft node, as bench/kafka.sh starts it.
cat > "$W/kafka/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KPORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KPORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$W/kafka/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
# shellcheck disable=SC2086
java $BROKER_HEAP $G1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_LIBS/*" \
  kafka.tools.StorageTool format -t dGlkZW1hcmstZGlzdC0xMg -c "$W/kafka/server.properties" \
  >"$W/kafka/format.log" 2>&1 || { tail_log "$W/kafka/format.log"; die "formatting Kafka's storage failed"; }
# shellcheck disable=SC2086
java $BROKER_HEAP $G1 -cp "$KAFKA_LIBS/*" kafka.Kafka "$W/kafka/server.properties" \
  >"$W/kafka/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 900); do
  grep -q "Kafka Server started" "$W/kafka/broker.log" && break
  kill -0 "$BROKER_PID" 2>/dev/null || { tail_log "$W/kafka/broker.log"; die "the broker exited"; }
  sleep 0.1
done
grep -q "Kafka Server started" "$W/kafka/broker.log" || { tail_log "$W/kafka/broker.log"; die "the broker did not start in 90 s"; }
echo "Apache Kafka 4.4.0 on $BOOTSTRAP" >&2

# Asks the workers' REST APIs (python: one process polling, not one curl per poll). Env ORDER:
# the workers' REST ports in start order, for per_worker ("a/b/c": connectors per worker in
# that order, "+k?" for k on workers not listed). Waits print "<epoch ms> <per_worker>" when
# done and exit 1 on timeout (or when every connector settled and some FAILED) with what they saw.
# poll.py post <n> <pg port> <topic prefix> <port>...: POSTs fleet_1 … fleet_<n> round-robin
#   over the ports (a keep-alive connection each; each POST must be 201).
# poll.py running <port> <n>: until every fleet_* connector and its task are RUNNING.
# poll.py share <port> <n> <new port> <share>: as running, and <share> of them on <new port>.
# poll.py moved <port> <killed port> <names file>: until each named connector is RUNNING on a
#   worker other than <killed port>.
# poll.py owned <port> <worker port>: the connectors on that worker, one a line (no wait).
cat > "$W/poll.py" <<'PY'
import http.client, json, os, sys, time, urllib.request
mode, args = sys.argv[1], sys.argv[2:]
deadline = time.time() + float(os.environ.get("TIMEOUT", "300"))
order = os.environ.get("ORDER", "").split()
now_ms = lambda: int(time.time() * 1000)

def port_of(worker_id):
    return worker_id.rsplit(":", 1)[-1]

def statuses(port):
    """name -> (running, failed, worker port) as the worker on `port` answers."""
    with urllib.request.urlopen("http://127.0.0.1:%s/connectors?expand=status" % port, timeout=30) as r:
        body = json.load(r)
    out = {}
    for name, entry in body.items():
        if not name.startswith("fleet_"):
            continue
        s, tasks = entry["status"], entry["status"].get("tasks") or []
        states = [s["connector"]["state"]] + [t["state"] for t in tasks]
        out[name] = (bool(tasks) and all(x == "RUNNING" for x in states), "FAILED" in states,
                     port_of(s["connector"].get("worker_id", "")))
    return out

def spread(st):
    counts = {}
    for _, _, w in st.values():
        counts[w] = counts.get(w, 0) + 1
    text = "/".join(str(counts.pop(p, 0)) for p in order)
    return text + ("+%d?" % sum(counts.values()) if counts else "")

if mode == "post":
    n, pg_port, prefix, ports = int(args[0]), args[1], args[2], args[3:]
    conns = {}
    for i in range(1, n + 1):
        port = ports[(i - 1) % len(ports)]
        body = json.dumps({"name": "fleet_%d" % i, "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "127.0.0.1", "database.port": pg_port, "database.user": "postgres",
            "database.sslmode": "disable", "database.dbname": "fleet_%d" % i,
            "topic.prefix": "%s_%d" % (prefix, i), "plugin.name": "pgoutput",
            "slot.name": "fleet_slot_%d" % i, "publication.name": "fleet_pub",
            "publication.autocreate.mode": "disabled", "table.include.list": "public.orders",
            "snapshot.mode": "initial", "slot.retry.delay.ms": "500", "slot.max.retries": "120",
            "retriable.restart.connector.wait.ms": "200"}})
        while True:
            try:
                conn = conns.setdefault(port, http.client.HTTPConnection("127.0.0.1", int(port), timeout=60))
                conn.request("POST", "/connectors", body, {"Content-Type": "application/json"})
                answer = conn.getresponse()
                text = answer.read().decode()
            except (OSError, http.client.HTTPException) as e:
                conns.pop(port).close()
                status, text = 0, str(e)
            else:
                status = answer.status
            if status == 201:
                break
            if (status in (0, 409) or status >= 500) and time.time() < deadline:
                time.sleep(0.1)
                continue
            print("POST fleet_%d to :%s answered %d: %s" % (i, port, status, text), file=sys.stderr)
            sys.exit(1)
    print(now_ms())
    sys.exit(0)

if mode == "owned":
    for name, (_, _, w) in sorted(statuses(args[0]).items()):
        if w == args[1]:
            print(name)
    sys.exit(0)

port, seen = args[0], "no answer"
names = open(args[2]).read().split() if mode == "moved" else []
while time.time() < deadline:
    try:
        st = statuses(port)
    except (OSError, ValueError, http.client.HTTPException) as e:
        seen = "no answer: %s" % e
        time.sleep(0.2)
        continue
    failed = sorted(k for k, v in st.items() if v[1])
    running = sum(1 for v in st.values() if v[0])
    if mode == "moved":
        done = sum(1 for k in names if k in st and st[k][0] and st[k][2] != args[1])
        ok = done == len(names)
        seen = "%d of %d moved; per worker %s; FAILED %s" % (done, len(names), spread(st), failed[:10])
    else:
        n = int(args[1])
        ok = running == n == len(st)
        if mode == "share":
            mine = sum(1 for v in st.values() if v[2] == args[2])
            ok = ok and mine >= int(args[3])
        seen = "%d of %d RUNNING; per worker %s; FAILED %s" % (running, n, spread(st), failed[:10])
        if failed and running + len(failed) == len(st) == n:
            break
    if ok:
        print(now_ms(), spread(st))
        sys.exit(0)
    time.sleep(0.1)
print("poll.py %s: %s" % (mode, seen), file=sys.stderr)
sys.exit(1)
PY
poll() { ORDER="${PORTS[*]}" TIMEOUT=$TIMEOUT python3 "$W/poll.py" "$@"; }

# Starts worker <i> of the case's group on a free port (PIDS[i], PORTS[i]).
start_worker() { # start_worker <i> <case dir> <group>
  local i=$1 cw=$2 group=$3 port
  port=$(free_port)
  cat > "$cw/worker-$i-$port.properties" <<PROPS
listeners=http://127.0.0.1:$port
group.id=$group
bootstrap.servers=$BOOTSTRAP
config.storage.topic=$group-configs
status.storage.topic=$group-status
offset.storage.topic=$group-offsets
config.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.replication.factor=1
offset.flush.interval.ms=1000
session.timeout.ms=6000
heartbeat.interval.ms=2000
scheduled.rebalance.max.delay.ms=0
topic.creation.default.partitions=1
topic.creation.default.replication.factor=1
key.converter.schemas.enable=$SCHEMAS
value.converter.schemas.enable=$SCHEMAS
PROPS
  "$TIDEMARK" worker "$cw/worker-$i-$port.properties" >/dev/null 2>"$cw/worker-$i-$port.log" &
  PIDS[i]=$!
  PORTS[i]=$port
}
# Until worker <i>'s REST API answers (it joined its group).
wait_rest() { # wait_rest <i> <case dir>
  local i=$1
  for _ in $(seq 1 $((TIMEOUT * 10))); do
    curl -sf "http://127.0.0.1:${PORTS[i]}/" >/dev/null 2>&1 && return 0
    kill -0 "${PIDS[i]}" 2>/dev/null || { tail_log "$2/worker-$i-${PORTS[i]}.log"; die "worker $i exited at start"; }
    sleep 0.1
  done
  die "worker $i's REST API did not answer in $TIMEOUT s"
}
# The walsender pids of the active fleet slots, comma-separated.
slot_pids() { P postgres -c "SELECT coalesce(string_agg(active_pid::text, ','), '') FROM pg_replication_slots WHERE active AND slot_name LIKE 'fleet_slot_%'"; }
# Until the slots of the named connectors (a file, one a line) are all active under walsenders
# not among <old pids>; prints the epoch ms, or - on timeout.
wait_new_slots() { # wait_new_slots <names file> <old pids>
  local list want
  list=$(sed 's/^fleet_/fleet_slot_/; s/.*/'"'&'"'/' "$1" | paste -sd, -)
  want=$(wc -l < "$1")
  [ "$want" -gt 0 ] || { now_ms; return; }
  for _ in $(seq 1 $((TIMEOUT * 5))); do
    if [ "$(P postgres -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ($list) AND active AND active_pid <> ALL('{${2}}'::int[])")" = "$want" ]; then
      now_ms; return
    fi
    sleep 0.2
  done
  echo -
}
cases_failed=0
# Marks the case incomplete.
fail() { echo "WARN $*" >&2; OK=0; }

run_case() { # run_case <w>
  local w=$1 cw=$W/w$1 group=dist-w$1 prefix=dist_w$1 i t t0 out
  local topics="dist_w$1_[0-9]+[.]public[.]orders"
  OK=1
  echo "--- $w worker(s), $N connectors, $M rows per database" >&2
  P postgres -c "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots" >/dev/null
  seq 1 "$N" | xargs -P "$PAR" -I{} "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d fleet_{} -qtAX \
    -v ON_ERROR_STOP=1 -c "DELETE FROM orders WHERE id > $SNAP"
  P postgres -c CHECKPOINT
  mkdir -p "$cw"
  PIDS=(); PORTS=()

  # 1. Start.
  t0=$(now_ms)
  for i in $(seq 1 "$w"); do start_worker "$i" "$cw" "$group"; done
  for i in $(seq 1 "$w"); do wait_rest "$i" "$cw"; done
  local ready; ready=$(secs "$t0" "$(now_ms)")
  t0=$(now_ms)
  t=$(poll post "$N" "$PORT" "$prefix" "${PORTS[@]}") || die "creating the connectors failed"
  local post; post=$(secs "$t0" "$t")
  local start=- per_worker=- slots=- snapshot=-
  if out=$(poll running "${PORTS[1]}" "$N"); then
    start=$(secs "$t0" "${out%% *}"); per_worker=${out#* }
  else fail "not every connector RUNNING"; fi
  for _ in $(seq 1 $((TIMEOUT * 5))); do
    if [ "$(P postgres -c "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE 'fleet_slot_%'")" = "$N" ]; then
      slots=$(secs "$t0" "$(now_ms)"); break
    fi
    sleep 0.2
  done
  [ "$slots" != - ] || fail "not every slot active"
  if out=$("${TOPIC_RECORDS[@]}" "$topics" $((N * SNAP)) "$TIMEOUT" 2>"$cw/snapshot.err"); then
    snapshot=$(secs "$t0" "${out%% *}")
  else cat "$cw/snapshot.err" >&2; fail "not every snapshot in Kafka"; fi
  local start_hwm=""
  for i in $(seq 1 "$w"); do start_hwm+="${start_hwm:+/}$(status_kb "${PIDS[i]}" VmHWM)"; done
  result "distributed workers=$w phase=start n=$N workers_ready_s=$ready post_s=$post start_s=$start" \
    "slots_s=$slots snapshot_s=$snapshot per_worker=$per_worker start_hwm_kb=$start_hwm"

  # 2. Throughput.
  sleep "$SETTLE"
  awk -v m="$M" -v tx="$TX" -v q="'" -v base="$SNAP" 'BEGIN {
    for (s = 0; s * tx < m; s++) {
      a = s * tx + 1; b = (s + 1) * tx; if (b > m) b = m
      printf "INSERT INTO orders SELECT %d + g, %scustomer %s || (g %% 100), g * 1.25, now() FROM generate_series(%d, %d) g;\n", base, q, q, a, b
    }
  }' > "$cw/traffic.sql"
  "${TOPIC_RECORDS[@]}" "$topics" "+$((N * M))" "$TIMEOUT" >"$cw/records.out" 2>"$cw/records.err" &
  WAITER_PID=$!
  for _ in $(seq 1 600); do
    grep -qs "^polling" "$cw/records.err" && break
    kill -0 "$WAITER_PID" 2>/dev/null || { cat "$cw/records.err" >&2; die "the records counter exited"; }
    sleep 0.1
  done
  local -a k0=() k1=() r0=() r1=()
  for i in $(seq 1 "$w"); do
    echo 5 > "/proc/${PIDS[i]}/clear_refs"
    k0[i]=$(ticks "${PIDS[i]}"); r0[i]=$(records_out "${PORTS[i]}")
  done
  local b0 b1 p0 p1 t1 t2 t3
  b0=$(ticks "$BROKER_PID"); p0=$(pg_ticks); t1=$(now_ms)
  seq 1 "$N" | xargs -P "$PAR" -I{} "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d fleet_{} -qtAX \
    -v ON_ERROR_STOP=1 -f "$cw/traffic.sql"
  t2=$(now_ms)
  local rows_s=- lag=- in_kafka=- extra=-
  if wait "$WAITER_PID"; then
    read -r t3 in_kafka _ < "$cw/records.out"
    rows_s=$(awk -v r=$((N * M)) -v a="$t1" -v b="$t3" 'BEGIN{printf "%.0f", r / ((b - a) / 1000)}')
    lag=$(secs "$t2" "$t3")
    extra=$((in_kafka - N * (SNAP + M)))
  else
    t3=$(now_ms); cat "$cw/records.err" >&2; fail "not every row in Kafka"
  fi
  WAITER_PID=
  local cpu="" hwm="" wrote=""
  b1=$(ticks "$BROKER_PID"); p1=$(pg_ticks)
  for i in $(seq 1 "$w"); do
    k1[i]=$(ticks "${PIDS[i]}"); r1[i]=$(records_out "${PORTS[i]}")
    cpu+="${cpu:+/}$(cpu_s "${k0[i]}" "${k1[i]}")"
    hwm+="${hwm:+/}$(status_kb "${PIDS[i]}" VmHWM)"
    wrote+="${wrote:+/}$((r1[i] - r0[i]))"
  done
  result "distributed workers=$w phase=traffic n=$N rows=$((N * M)) traffic_s=$(secs "$t1" "$t2") lag_s=$lag" \
    "rows_per_s=$rows_s records_in_kafka=$in_kafka extra=$extra worker_cpu_s=$cpu worker_peak_rss_kb=$hwm" \
    "worker_records=$wrote broker_cpu_s=$(cpu_s "$b0" "$b1") pg_cpu_s=$(cpu_s "$p0" "$p1")"

  if [ "$w" -gt 1 ]; then
    # 3. Failover: kill -9 of the last worker.
    sleep "$SETTLE"
    local killed=${PORTS[w]} old moved failover=- failover_slots=- after=-
    poll owned "${PORTS[1]}" "$killed" > "$cw/moved.txt"
    moved=$(wc -l < "$cw/moved.txt")
    old=$(slot_pids)
    t0=$(now_ms)
    kill -KILL "${PIDS[w]}"
    wait "${PIDS[w]}" 2>/dev/null || true
    unset 'PIDS[w]'
    if out=$(poll moved "${PORTS[1]}" "$killed" "$cw/moved.txt"); then
      failover=$(secs "$t0" "${out%% *}")
    else fail "the killed worker's connectors did not move"; fi
    t=$(wait_new_slots "$cw/moved.txt" "$old")
    if [ "$t" = - ]; then fail "the moved connectors' slots not active"; else failover_slots=$(secs "$t0" "$t"); fi
    unset 'PORTS[w]'
    if out=$(poll running "${PORTS[1]}" "$N"); then after=${out#* }; else fail "not every connector RUNNING after the failover"; fi
    result "distributed workers=$w phase=failover n=$N moved=$moved failover_s=$failover" \
      "failover_slots_s=$failover_slots per_worker=$after"

    # 4. Join: one more worker beside the W - 1 that run all N.
    sleep "$SETTLE"
    local join_rest join=- join_slots=- share=$((N / w))
    old=$(slot_pids)
    t0=$(now_ms)
    start_worker "$w" "$cw" "$group"
    wait_rest "$w" "$cw"
    join_rest=$(secs "$t0" "$(now_ms)")
    after=-
    if out=$(poll share "${PORTS[1]}" "$N" "${PORTS[w]}" "$share"); then
      join=$(secs "$t0" "${out%% *}"); after=${out#* }
    else fail "the new worker did not get its share"; fi
    poll owned "${PORTS[1]}" "${PORTS[w]}" > "$cw/joined.txt"
    t=$(wait_new_slots "$cw/joined.txt" "$old")
    if [ "$t" = - ]; then fail "the new worker's slots not active"; else join_slots=$(secs "$t0" "$t"); fi
    result "distributed workers=$w phase=join n=$N share=$share join_rest_s=$join_rest join_s=$join" \
      "join_slots_s=$join_slots joined=$(wc -l < "$cw/joined.txt") per_worker=$after"
  fi

  # Stop: SIGTERM to every worker (final flush and commit).
  local failed
  failed=$(curl -s "http://127.0.0.1:${PORTS[1]}/connectors?expand=status" \
    | python3 -c 'import json,sys; print(sum(1 for v in json.load(sys.stdin).values() if v["status"]["connector"]["state"] == "FAILED" or any(t["state"] == "FAILED" for t in v["status"]["tasks"])))' \
    || echo -)
  t=$(now_ms)
  for i in "${!PIDS[@]}"; do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  local code codes=""
  for i in "${!PIDS[@]}"; do
    code=0; wait "${PIDS[i]}" || code=$?
    codes+="${codes:+/}$code"
    [ "$code" = 0 ] || fail "worker $i exited with $code"
  done
  local stop; stop=$(secs "$t" "$(now_ms)")
  if [ "$OK" != 1 ]; then
    cases_failed=$((cases_failed + 1))
    for f in "$cw"/worker-*.log; do
      echo "--- $f (errors and warnings):" >&2; grep -E 'ERROR|WARN' "$f" | tail -n 10 >&2 || true
    done
  fi
  result "distributed workers=$w phase=stop n=$N stop_s=$stop exits=$codes failed=$failed complete=$OK"
  PIDS=(); PORTS=()
}

for w in $WS; do run_case "$w"; done

echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$RESULTS" <<'PY'
import sys
cases = {}  # workers -> phase -> fields
for line in open(sys.argv[1]):
    if line.startswith("RESULT distributed "):
        fields = dict(w.split("=", 1) for w in line.split()[2:])
        cases.setdefault(fields["workers"], {})[fields["phase"]] = fields
def mb(kbs):
    return "/".join("%.0f" % (int(k) / 1024) if k.isdigit() else k for k in kbs.split("/"))
def num(v):
    try:
        return "{:,}".format(int(v))
    except ValueError:
        return v
print("| workers | connectors | all RUNNING s (per worker) | all slots active s | snapshots in Kafka s "
      "| rows | rows/s to Kafka | lag s | extra records | CPU s per worker | peak RSS MB per worker "
      "| broker / Postgres CPU s | failover: moved, all RUNNING elsewhere s, slots s (per worker) "
      "| join: share RUNNING s, slots s (per worker) | stop s | complete |")
print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---:|---|")
for w, c in cases.items():
    s, t, f, j, e = (c.get(k, {}) for k in ("start", "traffic", "failover", "join", "stop"))
    g = lambda d, k: d.get(k, "–")
    failover = "%s, %s, %s (%s)" % (g(f, "moved"), g(f, "failover_s"), g(f, "failover_slots_s"),
                                    g(f, "per_worker")) if f else "–"
    join = "%s, %s (%s)" % (g(j, "join_s"), g(j, "join_slots_s"), g(j, "per_worker")) if j else "–"
    print("| %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |" % (
        w, g(s, "n"), g(s, "start_s"), g(s, "per_worker"), g(s, "slots_s"), g(s, "snapshot_s"),
        num(g(t, "rows")), num(g(t, "rows_per_s")), g(t, "lag_s"), g(t, "extra"), g(t, "worker_cpu_s"),
        mb(g(t, "worker_peak_rss_kb")), g(t, "broker_cpu_s"), g(t, "pg_cpu_s"), failover, join,
        g(e, "stop_s"), "yes" if g(e, "complete") == "1" and g(e, "failed") == "0" else "NO"))
PY
[ "$cases_failed" = 0 ] || die "$cases_failed case(s) incomplete (see the warnings above)"
