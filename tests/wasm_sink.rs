//! The wasm sink adapter (`sink.type=wasm`) with the `http-sink` plugin, against a small
//! HTTP server started by each test: batches arrive as JSON, retriable answers (500, 503)
//! are retried until delivered with nothing lost, a 400 stops with a clear error, an
//! authority that was not granted is never contacted, and a Postgres connector delivers its
//! snapshot through the plugin.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tidemark::event::{self, Record};
use tidemark::sinks::wasm::{RetryPolicy, WasmSink};
use tidemark::sinks::{Sink, SinkError};
use tidemark_tests::capture::{Capture, pg_properties};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::{golden_records, plugin_path, runtime, workload};

/// One request the server saw, and the status it answered.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    status: u16,
    body: Vec<u8>,
}

/// A one-request-per-connection HTTP/1.1 server answering statuses from a script (then 200).
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(script: &[(u16, &str)]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: VecDeque<(u16, String)> =
            script.iter().map(|(s, b)| (*s, b.to_string())).collect();
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            let mut script = script;
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (status, reply) = script.pop_front().unwrap_or((200, "ok".into()));
                    serve(stream, status, &reply, &seen);
                }
            })
        };
        Server {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/ingest", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The records of every accepted (2xx) request, in order.
    fn accepted(&self) -> Vec<Json> {
        self.seen()
            .iter()
            .filter(|s| (200..300).contains(&s.status))
            .flat_map(|s| {
                let batch: Json = serde_json::from_slice(&s.body).expect("the body is JSON");
                batch.as_array().expect("a JSON array").clone()
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request, notes it in `seen`, and answers it. The request is noted before the
/// answer goes out, so a client that has its answer finds its request in `seen`.
fn serve(stream: TcpStream, status: u16, reply: &str, seen: &Mutex<Vec<Seen>>) -> Option<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    seen.lock().unwrap().push(Seen { path, status, body });
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.flush();
    Some(())
}

fn config(url: &str, grant: &str) -> BTreeMap<String, String> {
    [("url", url), ("plugin.allow.http", grant)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn fast_retries(timeout: Option<Duration>) -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        timeout,
    }
}

fn open(url: &str, grant: &str, retry: RetryPolicy) -> Result<WasmSink, SinkError> {
    WasmSink::open(
        runtime(),
        &plugin_path("http-sink"),
        &config(url, grant),
        retry,
    )
}

/// What the sink should post for a record: the host's own payload JSON.
fn expected(record: &Record) -> Json {
    let part = |d: &Option<event::Data>| {
        d.as_ref().map_or(Json::Null, |d| {
            serde_json::from_str(&event::payload_json(d)).unwrap()
        })
    };
    serde_json::json!({
        "topic": record.topic,
        "key": part(&record.key),
        "value": part(&record.value),
        "headers": record.headers.iter().map(|h| serde_json::json!({"key": h.key, "value": h.value})).collect::<Vec<_>>(),
        "timestamp": record.timestamp,
    })
}

#[test]
fn retriable_failures_are_retried_until_every_record_is_delivered_once() {
    let server = Server::start(&[(500, "busy"), (503, "later")]);
    let records = golden_records("dbz/pg-basic.jsonl");
    let mut sink = open(&server.url(), &server.addr.to_string(), fast_retries(None)).unwrap();
    for batch in records.chunks(5) {
        sink.write(batch).unwrap();
    }
    sink.flush().unwrap();

    let seen = server.seen();
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    let batches = records.len().div_ceil(5);
    assert_eq!(statuses[..3], [500, 503, 200]);
    assert_eq!(statuses.len(), batches + 2, "{statuses:?}");
    assert!(seen.iter().all(|s| s.path == "/ingest"));
    // The retries resent the same batch.
    assert_eq!(seen[0].body, seen[2].body);
    assert_eq!(seen[1].body, seen[2].body);
    // Every record arrived exactly once among the accepted requests, in order, as the host
    // itself would write its payload.
    let accepted = server.accepted();
    let wanted: Vec<Json> = records.iter().map(expected).collect();
    assert_eq!(accepted.len(), wanted.len());
    for (got, want) in accepted.iter().zip(&wanted) {
        assert_eq!(got, want);
    }
}

#[test]
fn a_client_error_stops_with_the_status_and_the_reply() {
    let server = Server::start(&[(400, "field 'email' is not allowed")]);
    let records = golden_records("dbz/pg-basic.jsonl");
    let mut sink = open(&server.url(), &server.addr.to_string(), fast_retries(None)).unwrap();
    let err = sink.write(&records[..3]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SinkError::Rejected { .. }), "{text}");
    assert!(
        text.contains("http-sink")
            && text.contains("400")
            && text.contains("field 'email' is not allowed"),
        "{text}"
    );
    assert_eq!(server.seen().len(), 1, "a fatal answer is not retried");
}

#[test]
fn an_authority_that_was_not_granted_is_never_contacted() {
    let server = Server::start(&[]);
    let records = golden_records("dbz/pg-basic.jsonl");
    // Granted another port of the same host only.
    let other = format!("127.0.0.1:{}", server.addr.port().wrapping_add(1).max(1));
    let mut sink = open(&server.url(), &other, fast_retries(None)).unwrap();
    let err = sink.write(&records[..1]).unwrap_err().to_string();
    assert!(
        err.contains("refused the request") && err.contains("plugin.allow.http"),
        "{err}"
    );
    // Without any grant, the same.
    let mut sink = open(&server.url(), "", fast_retries(None)).unwrap();
    assert!(sink.write(&records[..1]).is_err());
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

#[test]
fn retries_stop_at_the_retry_timeout() {
    let script: Vec<(u16, &str)> = (0..100).map(|_| (503, "down")).collect();
    let server = Server::start(&script);
    let records = golden_records("dbz/pg-basic.jsonl");
    let mut sink = open(
        &server.url(),
        &server.addr.to_string(),
        fast_retries(Some(Duration::from_millis(300))),
    )
    .unwrap();
    let started = Instant::now();
    let err = sink.write(&records[..2]).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = err.to_string();
    assert!(
        matches!(err, SinkError::RetriesExhausted { .. })
            && text.contains("errors.retry.timeout")
            && text.contains("503"),
        "{text}"
    );
    assert!(server.seen().len() >= 3, "{}", server.seen().len());
}

#[test]
fn bad_settings_are_refused_at_start() {
    let err = open("ftp://x", "x:1", RetryPolicy::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("http-sink") && err.contains("url"), "{err}");
    let err = WasmSink::open(
        runtime(),
        &plugin_path("noop"),
        &BTreeMap::new(),
        RetryPolicy::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("not a sink"), "{err}");
}

#[test]
fn a_postgres_connector_delivers_its_snapshot_through_the_http_sink() {
    let server = Server::start(&[(503, "warming up")]);
    let pg = Postgres::start();
    pg.create_database("dbz");
    pg.psql_file("dbz", &workload("pg-basic.sql"));
    let dir = tempfile::tempdir().unwrap();
    let plugin = plugin_path("http-sink").display().to_string();
    let url = server.url();
    let grant = server.addr.to_string();
    let props = pg_properties(
        &pg,
        "dbz",
        dir.path(),
        &[
            ("snapshot.mode", "initial_only"),
            ("sink.type", "wasm"),
            ("sink.plugin", &plugin),
            ("sink.config.url", &url),
            ("sink.config.plugin.allow.http", &grant),
            ("sink.retry.backoff.ms", "20"),
        ],
    );
    let mut capture = Capture::start(dir.path().to_owned(), props);
    capture.join().expect("the snapshot-only run ends cleanly");
    assert_eq!(server.seen()[0].status, 503);
    // The snapshot rows, as Debezium's golden output has them.
    let golden: Vec<Json> = golden_records("dbz/pg-basic.jsonl")
        .iter()
        .map(expected)
        .filter(|r| r["value"]["op"] == "r")
        .collect();
    let accepted = server.accepted();
    assert_eq!(accepted.len(), golden.len(), "{accepted:#?}");
    for (got, want) in accepted.iter().zip(&golden) {
        assert_eq!(got["topic"], want["topic"]);
        assert_eq!(got["key"], want["key"]);
        assert_eq!(got["value"]["after"], want["value"]["after"]);
        assert_eq!(got["value"]["op"], "r");
    }
    assert!(
        !dir.path().join("out.jsonl").exists(),
        "nothing goes to the file sink"
    );
}
