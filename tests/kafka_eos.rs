//! Exactly-once delivery to Apache Kafka (`exactly.once.support=required`) against a real
//! broker and a real Postgres: `tidemark run` killed with SIGKILL at random points while a
//! snapshot and then a stream are written, the same crashes without exactly-once (at least
//! once, no gap), a second instance with the same transactional id fencing the first, and a
//! snapshot that outlives its transaction timeout. The tests share one broker, each with
//! topics, a connector name (so a transactional id) and a Postgres server of its own.
//!
//! The crash points come from a seeded generator; the seed is printed, and
//! `TIDEMARK_EOS_SEED=<seed>` replays a run's points.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tidemark_tests::capture::pg_properties;
use tidemark_tests::kafka::tally::{changes, tally};
use tidemark_tests::kafka::{Kafka, read_topics, wait_for};
use tidemark_tests::postgres::{Postgres, psql_command};
use tidemark_tests::process::{signal, spawn_tidemark};
use tidemark_tests::write_properties;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Rows in the table the crash runs snapshot.
const SNAPSHOT_ROWS: i64 = 50_000;
/// Kills while the snapshot is written, then while the stream is.
const SNAPSHOT_KILLS: usize = 3;
const STREAM_KILLS: usize = 7;

/// A seeded generator of crash points (SplitMix64: a few lines, and the same points for the
/// same seed on every platform, which a replay needs).
struct Dice(u64);

impl Dice {
    /// The seed from `TIDEMARK_EOS_SEED`, else from the clock; printed either way.
    fn new(test: &str) -> Dice {
        let seed = match std::env::var("TIDEMARK_EOS_SEED") {
            Ok(seed) => seed.trim().parse().expect("TIDEMARK_EOS_SEED is a number"),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
        };
        eprintln!("{test}: crash points from seed {seed} (replay with TIDEMARK_EOS_SEED={seed})");
        Dice(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

/// A Postgres server with database `shop` and table `items (id, v)`: `v` counts the row's
/// updates, so every change event is named by `(id, v)`.
struct Shop {
    server: Postgres,
    rows: i64,
}

impl Shop {
    fn start(rows: i64) -> Shop {
        let server = Postgres::start();
        server.create_database("shop");
        server.psql(
            "shop",
            &format!(
                "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); \
                 INSERT INTO items SELECT g, 0 FROM generate_series(1, {rows}) g; \
                 CREATE TABLE writer_stop (stop int)"
            ),
        );
        Shop { server, rows }
    }

    /// Connector properties: Kafka sink and offsets, topics `<name>.public.items` and
    /// `<name>-offsets`, connector (and so transactional id) `<name>`.
    fn config(&self, dir: &Path, bootstrap: &str, name: &str, extra: &[(&str, &str)]) -> PathBuf {
        let offsets = format!("{name}-offsets");
        let mut props = pg_properties(
            &self.server,
            "shop",
            dir,
            &[
                ("name", name),
                ("topic.prefix", name),
                ("offset.flush.interval.ms", "300"),
                ("offset.storage.topic", &offsets),
                ("offset.storage.partitions", "1"),
                ("offset.storage.replication.factor", "1"),
                ("topic.creation.default.partitions", "1"),
                ("topic.creation.default.replication.factor", "1"),
                // The writer's stop flag stays out of the stream.
                ("table.include.list", "public.items"),
                // After a kill -9 the old walsender may hold the slot for a moment.
                ("retriable.restart.connector.wait.ms", "200"),
            ],
        );
        props.retain(|(k, _)| k != "sink.file" && k != "offset.storage.file.filename");
        props.push(("bootstrap.servers".into(), bootstrap.into()));
        for (k, v) in extra {
            props.retain(|(key, _)| key != k);
            props.push((k.to_string(), v.to_string()));
        }
        let path = dir.join(format!("{name}.properties"));
        write_properties(&path, &props);
        path
    }

    /// Starts a writer that, until [`Shop::stop_writer`], inserts 5 rows and updates 5 rows
    /// per transaction, one transaction every ~20 ms.
    fn start_writer(&self) -> std::thread::JoinHandle<ExitStatus> {
        let rows = self.rows;
        let port = self.server.port;
        std::thread::spawn(move || {
            psql_command(port, "shop")
                .arg("-c")
                .arg(format!(
                    "DO $$ BEGIN FOR i IN 0..999999 LOOP \
                       EXIT WHEN EXISTS (SELECT FROM writer_stop); \
                       INSERT INTO items SELECT g, 0 FROM generate_series({rows} + i * 5 + 1, {rows} + i * 5 + 5) g; \
                       UPDATE items SET v = v + 1 WHERE id IN \
                         (SELECT 1 + (i * 7919 + k * 104729) % ({rows} + i * 5) FROM generate_series(0, 4) k); \
                       COMMIT; PERFORM pg_sleep(0.02); END LOOP; END $$"
                ))
                .status()
                .expect("psql runs")
        })
    }

    /// Stops the writer; returns each row's final `v`.
    fn stop_writer(&self, writer: std::thread::JoinHandle<ExitStatus>) -> BTreeMap<i64, i64> {
        self.server
            .psql("shop", "INSERT INTO writer_stop VALUES (1)");
        assert!(
            writer.join().unwrap().success(),
            "the writer ran to its end"
        );
        self.versions()
    }

    /// Each row's `v`.
    fn versions(&self) -> BTreeMap<i64, i64> {
        self.server
            .psql("shop", "SELECT id, v FROM items")
            .lines()
            .map(|line| {
                let (id, v) = line.split_once('|').expect("id|v");
                (id.parse().unwrap(), v.parse().unwrap())
            })
            .collect()
    }
}

/// The end offset of partition 0 of a topic (0 while it does not exist): aborted records
/// and transaction markers count too.
struct LogEnd {
    bootstrap: String,
    topic: String,
    /// Dropped after a failed query: a consumer that asked before the topic existed may
    /// keep answering that it does not.
    consumer: Option<BaseConsumer>,
}

impl LogEnd {
    fn new(bootstrap: &str, topic: &str) -> LogEnd {
        LogEnd {
            bootstrap: bootstrap.to_owned(),
            topic: topic.to_owned(),
            consumer: None,
        }
    }

    fn get(&mut self) -> i64 {
        let consumer = self.consumer.get_or_insert_with(|| {
            ClientConfig::new()
                .set("bootstrap.servers", &self.bootstrap)
                // The end of the log, not of what is committed (the default, read_committed).
                .set("isolation.level", "read_uncommitted")
                .set("log_level", "3")
                .create()
                .expect("a consumer")
        });
        match consumer.fetch_watermarks(&self.topic, 0, Duration::from_secs(5)) {
            Ok((_, high)) => high,
            Err(_) => {
                self.consumer = None;
                0
            }
        }
    }
}

/// A `tidemark run` and its log.
struct Run {
    child: Child,
    log: PathBuf,
}

impl Run {
    fn start(config: &Path, dir: &Path, label: &str) -> Run {
        let log = dir.join(format!("{label}.log"));
        Run {
            child: spawn_tidemark(config, &log),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the process has ended.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("tidemark ended ({status}): {}", self.log());
        }
    }

    fn kill_9(mut self) {
        self.assert_running();
        signal(&self.child, "-KILL");
        self.child.wait().unwrap();
    }

    /// SIGTERM; the run must stop cleanly.
    fn stop(mut self) {
        signal(&self.child, "-TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "a clean stop ({status}): {}", self.log());
    }

    /// Waits for the process to end by itself.
    fn exit_within(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {timeout:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the connector's last committed offset says the snapshot is over: the offset of
/// a completed snapshot, or a streaming one with no incremental snapshot left (a resumable
/// snapshot commits offsets marked in progress after each batch, and after a kill its rest
/// is read as an incremental snapshot beside the stream).
fn snapshot_over(bootstrap: &str, offsets: &str) -> bool {
    read_topics(bootstrap, &[offsets], true)
        .last()
        .map(|r| r.value_json())
        .is_some_and(|offset| {
            offset.get("incremental_snapshot_collections").is_none()
                && offset.get("snapshot_completed") != Some(&serde_json::Value::Bool(false))
        })
}

/// What a crash run left in Kafka.
struct CrashRun {
    expected: BTreeMap<i64, i64>,
    committed: Vec<(i64, i64)>,
    everything: Vec<(i64, i64)>,
}

/// Kills `tidemark run` with SIGKILL at random points: [`SNAPSHOT_KILLS`] times while the
/// snapshot of [`SNAPSHOT_ROWS`] rows is written (when a random share of it is in the log),
/// then [`STREAM_KILLS`] times at random delays while a writer inserts and updates rows;
/// then one last run writes everything and stops.
fn crash_run(name: &str, exactly_once: bool) -> CrashRun {
    let started = Instant::now();
    let mut dice = Dice::new(name);
    let broker = Kafka::shared();
    let bootstrap = broker.bootstrap();
    let shop = Shop::start(SNAPSHOT_ROWS);
    let dir = tempfile::tempdir().unwrap();
    // At most 200 records in flight, each batch lingering 20 ms: the snapshot takes seconds,
    // so the kills find it half-written.
    let mut extra = vec![
        ("producer.queue.buffering.max.messages", "200"),
        ("producer.linger.ms", "20"),
    ];
    if exactly_once {
        extra.push(("exactly.once.support", "required"));
    }
    let config = shop.config(dir.path(), &bootstrap, name, &extra);
    let topic = format!("{name}.public.items");
    let offsets = format!("{name}-offsets");
    let mut log_end = LogEnd::new(&bootstrap, &topic);

    // Kills while the snapshot is written: when a random share of it reached the log.
    let mut snapshot_kills = 0;
    for kill in 0..SNAPSHOT_KILLS {
        let base = log_end.get();
        let share = dice.between(5, 90) as i64;
        let target = base + SNAPSHOT_ROWS * share / 100;
        let mut run = Run::start(&config, dir.path(), &format!("snapshot-{kill}"));
        let deadline = Instant::now() + TIMEOUT;
        // A snapshot over (the run says so) is too late for this kill. (Reading the offsets
        // topic here would take longer than the end of a snapshot.)
        while log_end.get() < target && !run.log().contains("snapshot completed") {
            run.assert_running();
            assert!(
                Instant::now() < deadline,
                "the snapshot did not progress: {}; {}",
                run.log(),
                Kafka::shared_state()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        run.kill_9();
        let written = log_end.get() - base;
        if snapshot_over(&bootstrap, &offsets) {
            eprintln!("{name}: kill {kill} came after the snapshot was committed");
            break;
        }
        let visible = read_topics(&bootstrap, &[&topic], true).len();
        eprintln!(
            "{name}: kill {kill} at {share}% of the snapshot ({written} records written): {visible} visible to read_committed"
        );
        assert!(written > 0, "the kill came while the snapshot was written");
        if exactly_once {
            // The batches committed with their offsets, no part of one, and none twice.
            let seen = changes(&read_topics(&bootstrap, &[&topic], true));
            let ids: BTreeSet<i64> = seen.iter().map(|(id, _)| *id).collect();
            assert_eq!(
                ids.len(),
                seen.len(),
                "what a kill during the snapshot leaves visible to read_committed holds no row twice"
            );
        }
        snapshot_kills += 1;
    }
    assert!(snapshot_kills > 0, "no kill came during the snapshot");
    // A run that completes the snapshot: its offset is committed after all of it.
    let mut run = Run::start(&config, dir.path(), "snapshot-done");
    let deadline = Instant::now() + TIMEOUT;
    while !snapshot_over(&bootstrap, &offsets) {
        run.assert_running();
        assert!(Instant::now() < deadline, "no offset of the snapshot's end");
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("{name}: snapshot committed after {:?}", started.elapsed());
    if exactly_once {
        let snapshot = changes(&read_topics(&bootstrap, &[&topic], true));
        let ids: BTreeSet<i64> = snapshot.iter().map(|(id, _)| *id).collect();
        assert!(
            snapshot.len() == SNAPSHOT_ROWS as usize && ids.len() == snapshot.len(),
            "after the kills the snapshot is visible once, whole: {} records, {} rows",
            snapshot.len(),
            ids.len()
        );
    }

    // Kills at random delays while the writer changes rows.
    let writer = shop.start_writer();
    for kill in 0..STREAM_KILLS {
        // The run writes before it is killed (a slow start on a busy machine must not take the
        // whole delay), so the kill finds a transaction open.
        let started = log_end.get();
        let deadline = Instant::now() + TIMEOUT;
        while log_end.get() <= started {
            assert!(Instant::now() < deadline, "{name}: run {kill} never wrote");
            std::thread::sleep(Duration::from_millis(20));
        }
        let delay = dice.between(300, 2000);
        std::thread::sleep(Duration::from_millis(delay));
        let before = log_end.get();
        run.kill_9();
        eprintln!("{name}: stream kill {kill} after {delay} ms (log end {before})");
        run = Run::start(&config, dir.path(), &format!("stream-{kill}"));
    }
    // The last run streams live changes for a while before the writer stops.
    std::thread::sleep(Duration::from_secs(1));
    let expected = shop.stop_writer(writer);
    let want: usize = expected.values().map(|v| *v as usize + 1).sum();
    let records = wait_for(&bootstrap, &[&topic], true, TIMEOUT, "every change", |r| {
        tally(&expected, &changes(r)).missing.is_empty() && r.len() >= want
    });
    run.stop();
    let committed = changes(&records);
    let everything = changes(&read_topics(&bootstrap, &[&topic], false));
    eprintln!(
        "{name}: {} changes committed, {} records in the log, after {:?}",
        committed.len(),
        everything.len(),
        started.elapsed()
    );
    CrashRun {
        expected,
        committed,
        everything,
    }
}

#[test]
fn exactly_once_survives_kill_9_at_random_points_of_a_snapshot_and_a_stream() {
    let run = crash_run("eoscrash", true);
    let committed = tally(&run.expected, &run.committed);
    eprintln!("read_committed: {committed}");
    assert!(
        committed.exactly_once(),
        "every change exactly once, in order per key: {committed}"
    );
    // The crashes came inside open transactions: their records are in the log, aborted,
    // and read_committed hides them.
    let everything = tally(&run.expected, &run.everything);
    eprintln!("read_uncommitted: {everything}");
    assert!(
        everything.duplicates > 0 && everything.seen > committed.seen,
        "a crash landed mid-transaction, its records aborted in the log: {everything}"
    );
    assert!(
        everything.missing.is_empty() && everything.unknown.is_empty(),
        "aborted records are changes the committed view holds too: {everything}"
    );
    // Snapshot records are (id <= SNAPSHOT_ROWS, v = 0); the rest are the writer's.
    let streamed = |changes: &[(i64, i64)]| {
        changes
            .iter()
            .filter(|(id, v)| *id > SNAPSHOT_ROWS || *v > 0)
            .count()
    };
    let aborted_stream = streamed(&run.everything) - streamed(&run.committed);
    eprintln!("{aborted_stream} streamed changes in aborted transactions");
    assert!(
        aborted_stream > 0,
        "a kill during the stream landed mid-transaction: its changes are in the log, aborted"
    );
}

#[test]
fn without_exactly_once_the_same_crashes_deliver_every_change_at_least_once() {
    let run = crash_run("alocrash", false);
    let seen = tally(&run.expected, &run.committed);
    eprintln!(
        "at least once: {seen} ({} duplicates from the restarts)",
        seen.duplicates
    );
    assert!(
        seen.missing.is_empty() && seen.unknown.is_empty(),
        "every change at least once, no gap: {seen}"
    );
    assert!(
        seen.duplicates > 0,
        "kills between a write and its offset commit repeat changes without exactly-once: {seen}"
    );
}

#[test]
fn a_second_instance_fences_the_first_which_stops_with_a_clear_error() {
    let broker = Kafka::shared();
    let bootstrap = broker.bootstrap();
    let shop = Shop::start(200);
    let dir = tempfile::tempdir().unwrap();
    let name = "eosfence";
    let config = shop.config(
        dir.path(),
        &bootstrap,
        name,
        &[("exactly.once.support", "required")],
    );
    let topic = format!("{name}.public.items");
    let offsets = format!("{name}-offsets");

    let mut first = Run::start(&config, dir.path(), "first");
    wait_for(
        &bootstrap,
        &[&offsets],
        true,
        TIMEOUT,
        "the snapshot",
        |r| !r.is_empty(),
    );
    let writer = shop.start_writer();
    let committed = read_topics(&bootstrap, &[&offsets], true).len();
    wait_for(
        &bootstrap,
        &[&offsets],
        true,
        TIMEOUT,
        "streamed commits",
        |r| r.len() > committed + 2,
    );

    // Same config, same connector name: the same transactional id.
    let mut second = Run::start(&config, dir.path(), "second");
    let status = first.exit_within(Duration::from_secs(60));
    let log = first.log();
    assert!(
        !status.success(),
        "the fenced instance fails ({status}): {log}"
    );
    let error = log
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("the fenced instance ends with an error: {log}"));
    assert!(
        error.contains(&format!(
            "fenced by another instance with transactional id tidemark-{name}"
        )),
        "the error says who fenced it: {error}"
    );
    eprintln!("the zombie's error: {error}");

    // The second instance takes the slot over and streams live changes.
    std::thread::sleep(Duration::from_secs(2));
    second.assert_running();
    let expected = shop.stop_writer(writer);
    let want: usize = expected.values().map(|v| *v as usize + 1).sum();
    let records = wait_for(&bootstrap, &[&topic], true, TIMEOUT, "every change", |r| {
        tally(&expected, &changes(r)).missing.is_empty() && r.len() >= want
    });
    second.stop();
    let seen = tally(&expected, &changes(&records));
    assert!(
        seen.exactly_once(),
        "every change exactly once across the fencing: {seen}"
    );
}

#[test]
fn a_snapshot_longer_than_its_transaction_timeout_fails_clearly_and_the_default_carries_it() {
    let broker = Kafka::shared();
    let bootstrap = broker.bootstrap();
    let rows = 700;
    let shop = Shop::start(rows);
    let dir = tempfile::tempdir().unwrap();
    let name = "eostimeout";
    // One record in flight at a time, each lingering: a slow sink, so the snapshot's one
    // transaction stays open well past 2 s (the broker looks for expired transactions
    // every 10 s).
    let slow: &[(&str, &str)] = &[
        ("exactly.once.support", "required"),
        ("producer.queue.buffering.max.messages", "1"),
        ("producer.linger.ms", "15"),
    ];
    let topic = format!("{name}.public.items");

    // Built before the clock starts.
    tidemark_tests::tidemark_binary();
    let short = [slow, &[("producer.transaction.timeout.ms", "2000")]].concat();
    let config = shop.config(dir.path(), &bootstrap, name, &short);
    let started = Instant::now();
    let mut run = Run::start(&config, dir.path(), "short");
    let status = run.exit_within(TIMEOUT);
    let log = run.log();
    eprintln!(
        "with a 2 s transaction timeout the run ended after {:?}",
        started.elapsed()
    );
    let error = log
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("the run ends with an error: {log}"));
    assert!(
        !status.success()
            && error.contains("transaction.timeout.ms (2000 ms)")
            && error.contains("producer.transaction.timeout.ms"),
        "the error names the timeout and the way out ({status}): {error}"
    );
    eprintln!("the timed-out snapshot's error: {error}");
    assert_eq!(
        read_topics(&bootstrap, &[&topic], true).len(),
        0,
        "none of the aborted snapshot is visible to read_committed"
    );
    assert!(
        !read_topics(&bootstrap, &[&topic], false).is_empty(),
        "the aborted snapshot's records are in the log"
    );

    // Tidemark's default transaction timeout (15 minutes) carries the same slow snapshot.
    let config = shop.config(dir.path(), &bootstrap, name, slow);
    let started = Instant::now();
    let run = Run::start(&config, dir.path(), "default");
    let expected = shop.versions();
    let records = wait_for(&bootstrap, &[&topic], true, TIMEOUT, "the snapshot", |r| {
        r.len() >= rows as usize
    });
    eprintln!(
        "with the default transaction timeout the snapshot took {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(500));
    run.stop();
    let seen = tally(
        &expected,
        &changes(&read_topics(&bootstrap, &[&topic], true)),
    );
    assert!(
        records.len() == rows as usize
            && seen.missing.is_empty()
            && seen.duplicates == 0
            && seen.seen == seen.expected,
        "the snapshot once, whole: {seen}"
    );
}

#[test]
fn a_transaction_timeout_above_the_brokers_maximum_is_a_clear_error_at_start() {
    let broker = Kafka::shared();
    let shop = Shop::start(1);
    let dir = tempfile::tempdir().unwrap();
    // The broker's transaction.max.timeout.ms is Kafka's default, 15 minutes.
    let config = shop.config(
        dir.path(),
        &broker.bootstrap(),
        "eosmaxtimeout",
        &[
            ("exactly.once.support", "required"),
            ("producer.transaction.timeout.ms", "900001"),
        ],
    );
    tidemark_tests::tidemark_binary();
    let started = Instant::now();
    let mut run = Run::start(&config, dir.path(), "run");
    let status = run.exit_within(TIMEOUT);
    eprintln!("refused after {:?}", started.elapsed());
    let log = run.log();
    let error = log
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("the run ends with an error: {log}"));
    assert!(
        !status.success()
            && error.contains("transaction.timeout.ms=900001")
            && error.contains("transaction.max.timeout.ms")
            && error.contains("producer.transaction.timeout.ms"),
        "the error names the timeout, the broker's maximum and the key to change ({status}): {error}"
    );
}
