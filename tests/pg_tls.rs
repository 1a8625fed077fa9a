//! TLS to a real Postgres with certificates made by the test: verify-full and verify-ca
//! stream over TLS on both connections; a wrong CA, a host name the certificate is not for,
//! plain text to a server that refuses it, and TLS to a server without it fail with errors
//! naming the setting (and are not retried); prefer falls back to plain text only when the
//! server has no TLS. One server for the whole file, its settings changed between cases.

use std::path::Path;
use std::time::Duration;

use tidemark_tests::capture::{Capture, pg_properties};
use tidemark_tests::postgres::Postgres;
use tidemark_tests::tls::Certificates;

const TIMEOUT: Duration = Duration::from_secs(90);

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a connector with `extra` settings that must stop with an error; returns its text.
fn failure(server: &Postgres, extra: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut capture = Capture::start(
        dir.path().to_owned(),
        pg_properties(server, "test", dir.path(), extra),
    );
    // A retried error would keep the connector running: TLS errors must be fatal.
    match capture.end_within(Duration::from_secs(60)) {
        Ok(()) => panic!("the connector with {extra:?} ended without an error"),
        Err(error) => error.to_string(),
    }
}

/// Runs a connector with `extra` settings: it must stream the insert of row `id`; returns
/// how many replication connections use TLS while it streams.
fn streams(server: &Postgres, extra: &[(&str, &str)], id: i32) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut capture = Capture::start(
        dir.path().to_owned(),
        pg_properties(server, "test", dir.path(), extra),
    );
    capture.wait_streaming(server, "test");
    server.psql(
        "test",
        &format!("INSERT INTO items VALUES ({id}, 'streamed')"),
    );
    capture.wait_until(&format!("the insert of row {id}"), TIMEOUT, |lines| {
        lines.iter().any(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            event.pointer("/value/payload/op") == Some(&"c".into())
                && event.pointer("/value/payload/after/id") == Some(&id.into())
        })
    });
    let tls = server.psql(
        "test",
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE ssl AND backend_type = 'walsender'",
    );
    capture.stop().expect("the connector stops cleanly");
    tls.trim().to_owned()
}

fn write_hba(path: &Path, connection_type: &str) {
    std::fs::write(
        path,
        format!(
            "local all all scram-sha-256\n{connection_type} all all 127.0.0.1/32 scram-sha-256\n"
        ),
    )
    .expect("write pg_hba.conf");
}

#[test]
fn tls_settings_are_enforced_on_both_connections() {
    let certs = Certificates::new();
    if is_root() {
        certs.give_key_to("postgres");
    }
    // TLS only: hostssl lines, so plain text is refused.
    let hba = certs.dir.path().join("pg_hba.conf");
    write_hba(&hba, "hostssl");
    let settings = [
        "wal_level = logical".to_owned(),
        "ssl = on".to_owned(),
        format!("ssl_cert_file = '{}'", certs.server_cert.display()),
        format!("ssl_key_file = '{}'", certs.server_key.display()),
        format!("hba_file = '{}'", hba.display()),
    ];
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let server = Postgres::start_with(&settings);
    server.psql(
        "test",
        "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'first')",
    );
    let ca = certs.ca.display().to_string();
    let other_ca = certs.other_ca.display().to_string();

    // verify-full: the certificate is for 127.0.0.1; snapshot and stream, both over TLS.
    let tls = streams(
        &server,
        &[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &ca),
        ],
        2,
    );
    assert_eq!(tls, "1", "the replication connection must use TLS");

    // verify-ca through a name the certificate is not for: the chain alone is checked.
    let tls = streams(
        &server,
        &[
            ("database.hostname", "localhost"),
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", &ca),
        ],
        3,
    );
    assert_eq!(tls, "1");

    // A CA that did not sign the server's certificate.
    let error = failure(
        &server,
        &[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &other_ca),
        ],
    );
    assert!(
        error.contains("database.sslmode=verify-full")
            && error.contains("not signed by a trusted CA")
            && error.contains("database.sslrootcert"),
        "{error}"
    );
    // verify-ca checks the chain too.
    let error = failure(
        &server,
        &[
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", &other_ca),
        ],
    );
    assert!(error.contains("not signed by a trusted CA"), "{error}");

    // verify-full through a name the certificate is not for.
    let error = failure(
        &server,
        &[
            ("database.hostname", "localhost"),
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &ca),
        ],
    );
    assert!(
        error.contains("database.sslmode=verify-full")
            && error.contains("not valid for the host name"),
        "{error}"
    );

    // Plain text to a server that accepts TLS only.
    let error = failure(&server, &[("database.sslmode", "disable")]);
    assert!(
        error.contains("database.sslmode=disable")
            && error.contains("refuses connections without TLS"),
        "{error}"
    );

    // The server without TLS: plain text allowed.
    write_hba(&hba, "host");
    server.psql("postgres", "ALTER SYSTEM SET ssl = off");
    server.psql("postgres", "SELECT pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(500));
    let error = failure(
        &server,
        &[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &ca),
        ],
    );
    assert!(
        error.contains("database.sslmode=verify-full") && error.contains("does not accept TLS"),
        "{error}"
    );
    let error = failure(&server, &[("database.sslmode", "require")]);
    assert!(error.contains("does not accept TLS"), "{error}");
    // prefer (the default) falls back to plain text, with a warning.
    let tls = streams(&server, &[], 4);
    assert_eq!(tls, "0");
}
