//! TLS to a real MariaDB with certificates made by the test, its user created with REQUIRE
//! SSL: verify_identity and verify_ca snapshot and stream; a wrong CA, plain text and a Java
//! truststore fail with errors naming the setting (a JKS store with the commands that
//! convert it, which the test follows). One server for the whole file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tidemark_tests::capture::{Capture, maria_properties};
use tidemark_tests::mariadb::MariaDb;
use tidemark_tests::tls::Certificates;

const TIMEOUT: Duration = Duration::from_secs(90);

/// Runs a connector with `extra` settings that must stop with an error; returns its text.
fn failure(server: &MariaDb, extra: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(server, dir.path(), extra),
    );
    // A retried error would keep the connector running: TLS errors must be fatal.
    match capture.end_within(Duration::from_secs(60)) {
        Ok(()) => panic!("the connector with {extra:?} ended without an error"),
        Err(error) => error.to_string(),
    }
}

/// Runs a connector with `extra` settings: it must snapshot row 1 and stream row `id`.
fn streams(server: &MariaDb, extra: &[(&str, &str)], id: i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut capture = Capture::start(
        dir.path().to_owned(),
        maria_properties(server, dir.path(), extra),
    );
    let has = |lines: &[String], op: &str, id: i64| {
        lines.iter().any(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            event.pointer("/value/payload/op") == Some(&op.into())
                && event.pointer("/value/payload/after/id") == Some(&id.into())
        })
    };
    capture.wait_until("the snapshot of row 1", TIMEOUT, |lines| has(lines, "r", 1));
    server.wait_binlog_dump();
    server.sql(
        "dbz",
        &format!("INSERT INTO items VALUES ({id}, 'streamed')"),
    );
    capture.wait_until(&format!("the insert of row {id}"), TIMEOUT, |lines| {
        has(lines, "c", id)
    });
    capture.stop().expect("the connector stops cleanly");
}

fn run(program: &str, dir: &Path, args: &[&str]) {
    let output = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn tls_settings_are_enforced() {
    let certs = Certificates::new();
    let options = [
        format!("--ssl-cert={}", certs.server_cert.display()),
        format!("--ssl-key={}", certs.server_key.display()),
        format!("--ssl-ca={}", certs.ca.display()),
    ];
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let server = MariaDb::start_with(&options);
    server.sql(
        "",
        "ALTER USER 'root'@'127.0.0.1' REQUIRE SSL; CREATE DATABASE dbz; \
         CREATE TABLE dbz.items (id int PRIMARY KEY, name text); \
         INSERT INTO dbz.items VALUES (1, 'first')",
    );
    let ca = certs.ca.display().to_string();
    let other_ca = certs.other_ca.display().to_string();

    // verify_identity: the certificate is for 127.0.0.1.
    streams(
        &server,
        &[
            ("database.ssl.mode", "verify_identity"),
            ("database.ssl.truststore", &ca),
        ],
        2,
    );

    // A CA that did not sign the server's certificate.
    let error = failure(
        &server,
        &[
            ("database.ssl.mode", "verify_identity"),
            ("database.ssl.truststore", &other_ca),
        ],
    );
    assert!(
        error.contains("database.ssl.mode=verify_identity")
            && error.contains("not signed by a trusted CA")
            && error.contains("database.ssl.truststore"),
        "{error}"
    );

    // verify_identity through a name the certificate is not for.
    let error = failure(
        &server,
        &[
            ("database.hostname", "localhost"),
            ("database.ssl.mode", "verify_identity"),
            ("database.ssl.truststore", &ca),
        ],
    );
    assert!(error.contains("not valid for the host name"), "{error}");

    // Plain text for a user that must use TLS.
    let error = failure(&server, &[("database.ssl.mode", "disabled")]);
    assert!(
        error.contains("database.ssl.mode=disabled")
            && error.contains("refused a connection without TLS"),
        "{error}"
    );

    // A Java truststore: refused with the commands that convert it; following them works,
    // here with verify_ca through a name the certificate is not for.
    let dir = certs.dir.path();
    run(
        "keytool",
        dir,
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            "ca.pem",
            "-keystore",
            "truststore.jks",
            "-storetype",
            "JKS",
            "-storepass",
            "changeit",
        ],
    );
    let jks = dir.join("truststore.jks").display().to_string();
    let error = failure(
        &server,
        &[
            ("database.ssl.mode", "verify_ca"),
            ("database.ssl.truststore", &jks),
            ("database.ssl.truststore.password", "changeit"),
        ],
    );
    assert!(
        error.contains("'database.ssl.truststore'")
            && error.contains("Java KeyStore (JKS)")
            && error.contains("keytool -importkeystore")
            && error.contains("openssl pkcs12"),
        "{error}"
    );
    run(
        "keytool",
        dir,
        &[
            "-importkeystore",
            "-srckeystore",
            "truststore.jks",
            "-srcstoretype",
            "JKS",
            "-destkeystore",
            "store.p12",
            "-deststoretype",
            "PKCS12",
            "-srcstorepass",
            "changeit",
            "-deststorepass",
            "changeit",
        ],
    );
    run(
        "openssl",
        dir,
        &[
            "pkcs12",
            "-in",
            "store.p12",
            "-nokeys",
            "-out",
            "converted-ca.pem",
            "-passin",
            "pass:changeit",
        ],
    );
    let converted = dir.join("converted-ca.pem").display().to_string();
    streams(
        &server,
        &[
            ("database.hostname", "localhost"),
            ("database.ssl.mode", "verify_ca"),
            ("database.ssl.truststore", &converted),
            ("database.ssl.truststore.password", "changeit"),
        ],
        3,
    );
}
