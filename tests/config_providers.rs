//! Secrets from Kafka Connect's config providers, through the `tidemark` binary against a real
//! Postgres: a connector whose credentials come from `${file:…}` connects and streams, and
//! neither its debug log nor its errors ever show what the variables resolved to.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tidemark_tests::capture::pg_properties;
use tidemark_tests::postgres::Postgres;
use tidemark_tests::{tidemark_binary, write_properties};

const TIMEOUT: Duration = Duration::from_secs(180);
const USER: &str = "cdc_Reader_7q4w";
const PASSWORD: &str = "Tm-pw-9fK2-xV7r";
/// Not a secret, but logged when the connector starts: shows that the log hides every
/// resolved value.
const PUBLICATION: &str = "pub_hidden_k3v9";

/// A server with database `shop`, table `orders`, and a login `USER`/`PASSWORD` that may
/// replicate and create the publication.
fn server() -> Postgres {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        &format!(
            "CREATE TABLE orders (id int PRIMARY KEY, note text);
             CREATE ROLE \"{USER}\" LOGIN SUPERUSER REPLICATION PASSWORD '{PASSWORD}'"
        ),
    );
    server
}

/// Connector properties whose user and password come from `secrets`, a properties file.
fn properties(server: &Postgres, dir: &Path, secrets: &Path) -> Vec<(String, String)> {
    let user = format!("${{file:{}:pg.user}}", secrets.display());
    let password = format!("${{file:{}:pg.password}}", secrets.display());
    pg_properties(
        server,
        "shop",
        dir,
        &[
            ("config.providers", "file"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            ("database.user", &user),
            ("database.password", &password),
        ],
    )
}

/// Starts `tidemark run` with debug logging, its stderr to `log`.
fn spawn(dir: &Path, props: &[(String, String)], log: &Path) -> Child {
    let config = dir.join("connector.properties");
    write_properties(&config, props);
    Command::new(tidemark_binary())
        .arg("run")
        .arg(&config)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("tidemark starts")
}

/// Polls `done` until it holds; panics with tidemark's log after [`TIMEOUT`].
fn wait_until(what: &str, log: &Path, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; tidemark's log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the connector holds its replication slot; panics with its log if it exits
/// or takes too long.
fn wait_streaming(server: &Postgres, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let exited = child.try_wait().expect("try_wait");
        let logged = || std::fs::read_to_string(log).unwrap_or_default();
        if let Some(status) = exited {
            panic!("tidemark exited ({status}):\n{}", logged());
        }
        let active = server.psql(
            "shop",
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tidemark_slot' AND active",
        );
        if active.trim() == "1" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the connector did not start streaming:\n{}",
            logged()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the process to end by itself.
fn exit_status(child: &mut Child, log: &Path) -> ExitStatus {
    let mut status = None;
    wait_until("tidemark to exit", log, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status.expect("exited")
}

fn assert_hidden(text: &str, values: &[&str]) {
    let lower = text.to_lowercase();
    for value in values {
        assert!(
            !lower.contains(&value.to_lowercase()),
            "{value:?} shows in:\n{text}"
        );
    }
}

#[test]
fn credentials_from_a_file_provider_connect_and_never_show() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(
        &secrets,
        format!("pg.user={USER}\npg.password={PASSWORD}\npg.publication={PUBLICATION}\n"),
    )
    .unwrap();
    let mut props = properties(&server, dir.path(), &secrets);
    let publication = format!("${{file:{}:pg.publication}}", secrets.display());
    props.push(("publication.name".into(), publication.clone()));
    let log = dir.path().join("tidemark.log");
    let out = dir.path().join("out.jsonl");
    let mut child = spawn(dir.path(), &props, &log);

    wait_streaming(&server, &mut child, &log);
    server.psql("shop", "INSERT INTO orders VALUES (1, 'one'), (2, 'two')");
    wait_until("the two inserts", &log, || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(r#""op":"c""#))
            .count()
            == 2
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(
        exit_status(&mut child, &log).success(),
        "tidemark stops cleanly"
    );

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("DEBUG"),
        "the log is at debug level:\n{logged}"
    );
    assert!(
        logged.contains(&format!("<secret from {publication}>")),
        "the log shows the publication's variable:\n{logged}"
    );
    assert_hidden(&logged, &[PASSWORD, USER, PUBLICATION]);
    assert_eq!(
        server
            .psql(
                "shop",
                "SELECT pubname FROM pg_publication WHERE pubname <> 'tidemark_pub'"
            )
            .trim(),
        PUBLICATION,
        "the connector used the resolved publication name"
    );
}

#[test]
fn a_wrong_password_from_a_provider_is_not_in_the_error() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let wrong = "Tm-wrong-3hQ8-pZ1m";
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(&secrets, format!("pg.user={USER}\npg.password={wrong}\n")).unwrap();
    let log = dir.path().join("tidemark.log");
    let mut child = spawn(dir.path(), &properties(&server, dir.path(), &secrets), &log);

    assert!(!exit_status(&mut child, &log).success(), "tidemark fails");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("check database.user and database.password"),
        "the error says what to check:\n{logged}"
    );
    assert!(
        logged.contains(&format!(
            "refused user '<secret from ${{file:{}:pg.user}}>'",
            secrets.display()
        )),
        "the error shows the user's variable:\n{logged}"
    );
    assert_hidden(&logged, &[wrong, USER]);
}

#[test]
fn an_invalid_value_from_a_provider_is_not_in_the_error() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(
        &secrets,
        format!("pg.user={USER}\npg.password={PASSWORD}\nmode=Sometimes-{PASSWORD}\n"),
    )
    .unwrap();
    let mut props = properties(&server, dir.path(), &secrets);
    props.push((
        "snapshot.mode".into(),
        format!("${{file:{}:mode}}", secrets.display()),
    ));
    let log = dir.path().join("tidemark.log");
    let mut child = spawn(dir.path(), &props, &log);

    assert!(!exit_status(&mut child, &log).success(), "tidemark fails");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains(&format!(
            "property 'snapshot.mode' has an invalid value \"<secret from ${{file:{}:mode}}>\"",
            secrets.display()
        )),
        "the error names the property and the variable:\n{logged}"
    );
    assert_hidden(&logged, &[PASSWORD, USER]);
}
