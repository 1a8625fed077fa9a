//! The Grafana dashboard (`examples/grafana/tidemark.json`) and the Prometheus alert rules
//! (`examples/prometheus/alerts.yml`) query only series that a real worker exposes: a worker
//! with a Postgres connector (with a transform) and a MariaDB connector is scraped, and every
//! metric name the dashboard's and the rules' expressions use must be in the scrape. The
//! rules pass `promtool check rules` and their unit tests (`promtool test rules`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{Value as Json, json};
use tidemark_tests::capture::maria_properties;
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::process::free_port;
use tidemark_tests::worker::{TIMEOUT, WorkerProcess, pg_connector};
use tidemark_tests::{plugin_path, workspace_root};

fn example(path: &str) -> PathBuf {
    workspace_root().join("examples").join(path)
}

/// The metric names an expression text uses.
fn metric_names(text: &str) -> BTreeSet<String> {
    let name = Regex::new(r"\b(?:tidemark_[a-z0-9_]+|debezium_metrics_[A-Za-z0-9]+)\b").unwrap();
    name.find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// Every expression of the dashboard's panels (and its template variables' queries).
fn dashboard_expressions() -> String {
    let text = std::fs::read_to_string(example("grafana/tidemark.json")).unwrap();
    let dashboard: Json = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut out = String::new();
    fn walk(value: &Json, out: &mut String) {
        match value {
            Json::Object(map) => {
                for (key, value) in map {
                    if matches!(key.as_str(), "expr" | "query" | "definition")
                        && let Some(text) = value.as_str()
                    {
                        out.push_str(text);
                        out.push('\n');
                    } else {
                        walk(value, out);
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut out);
    out
}

/// The names of the series in a scrape.
fn scraped(worker: &WorkerProcess) -> BTreeSet<String> {
    let (_, text) = worker.call("GET", "/metrics", None);
    text.as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

fn promtool(args: &[&str]) {
    let output = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool runs (Debian's prometheus package; .ci/run installs it)");
    assert!(
        output.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_metric_the_dashboard_and_the_alerts_query_is_in_a_real_scrape() {
    let rules = std::fs::read_to_string(example("prometheus/alerts.yml")).unwrap();
    let wanted: BTreeSet<String> = metric_names(&dashboard_expressions())
        .into_iter()
        .chain(metric_names(&rules))
        .collect();
    assert!(wanted.len() > 20, "{wanted:?}");

    let postgres = Postgres::start();
    postgres.create_database("shop");
    postgres.psql(
        "shop",
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')",
    );
    let maria = MariaDb::start();
    maria.sql(
        "",
        "CREATE DATABASE dbz; CREATE TABLE dbz.t (id int PRIMARY KEY, v text); \
         INSERT INTO dbz.t VALUES (1, 'a');",
    );
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_path("extract-new-record-state");
    let worker = WorkerProcess::start_with(
        &tidemark_tests::tidemark_binary(),
        dir.path(),
        free_port(),
        &format!(
            "plugin.path={}\nmetrics.database.poll.interval.ms=300\n",
            plugins.parent().unwrap().display()
        ),
        &[],
    );
    let shop = pg_connector(
        &postgres,
        "shop",
        &dir.path().join("shop.jsonl"),
        &[
            ("transforms", json!("unwrap")),
            ("transforms.unwrap.type", json!("extract-new-record-state")),
        ],
    );
    let mut maria_config = serde_json::Map::new();
    for (key, value) in maria_properties(&maria, dir.path(), &[]) {
        if key != "name" {
            maria_config.insert(key, Json::String(value));
        }
    }
    for (name, config) in [("shop", shop), ("maria", Json::Object(maria_config))] {
        let (code, body) = worker.call(
            "POST",
            "/connectors",
            Some(json!({"name": name, "config": config})),
        );
        assert_eq!(code, 201, "{body}");
    }
    // Streamed changes give the binlog reader a position, and the latency histogram data.
    std::thread::sleep(Duration::from_secs(2));
    postgres.psql("shop", "INSERT INTO t VALUES (2, 'b')");
    maria.sql("dbz", "INSERT INTO t VALUES (2, 'b');");

    let deadline = Instant::now() + TIMEOUT;
    loop {
        let have = scraped(&worker);
        let missing: Vec<&String> = wanted.iter().filter(|m| !have.contains(*m)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard or the alerts query series a worker does not expose: {missing:?}\n{}",
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    worker.stop();

    let alerts = example("prometheus/alerts.yml");
    promtool(&["check", "rules", alerts.to_str().unwrap()]);
    let tests = example("prometheus/alerts_test.yml");
    let status = Command::new("promtool")
        .args([
            "test",
            "rules",
            tests.file_name().unwrap().to_str().unwrap(),
        ])
        .current_dir(tests.parent().unwrap())
        .status()
        .expect("promtool runs");
    assert!(status.success(), "promtool test rules alerts_test.yml");
}
