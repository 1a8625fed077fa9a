//! Hostile plugins are contained: each failure is an error naming the plugin and the limit,
//! and the chain keeps working for the next batch. Capabilities exist only when granted.

use tidemark::plugin::PluginError;
use tidemark_tests::{chain, header, simple_record, step};

/// Runs a chain whose hostile step misbehaves only on topic "boom": the bad batch fails with
/// the returned error, and a following good batch still goes through.
fn contained(settings: &[(&str, &str)]) -> PluginError {
    let mut all = vec![("trigger", "boom")];
    all.extend_from_slice(settings);
    let mut chain = chain(vec![
        step("tagger", &[("tag", "before")]),
        step("hostile", &all),
    ])
    .unwrap();
    let err = chain
        .process(vec![simple_record("fine", "1"), simple_record("boom", "2")])
        .unwrap_err();
    let out = chain
        .process(vec![
            simple_record("fine", "3"),
            simple_record("also-fine", "4"),
        ])
        .expect("the chain works again after a plugin failure");
    assert_eq!(out.len(), 2);
    assert_eq!(header(&out[1], "trail"), Some("before"));
    err
}

#[test]
fn a_panicking_plugin_traps_with_its_message() {
    let err = contained(&[("mode", "panic")]);
    assert!(matches!(err, PluginError::Trap { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("plugin 'hostile' trapped"), "{text}");
    assert!(text.contains("hostile plugin panics on purpose"), "{text}");
}

#[test]
fn an_endless_loop_is_stopped_by_the_time_limit() {
    let started = std::time::Instant::now();
    let err = contained(&[("mode", "loop"), ("plugin.timeout.ms", "200")]);
    assert_eq!(
        err.to_string(),
        "plugin 'hostile' exceeded its time limit of 200 ms per batch (raise plugin.timeout.ms if the work is legitimate)"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let err = contained(&[("mode", "alloc"), ("plugin.memory.limit.bytes", "32MiB")]);
    assert!(
        matches!(
            err,
            PluginError::MemoryLimit {
                limit_bytes: 33554432,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(
        "plugin 'hostile' exceeded its memory limit of 33554432 bytes (raise plugin.memory.limit.bytes"
    ));
}

#[test]
fn runaway_recursion_overflows_the_stack_cleanly() {
    let err = contained(&[("mode", "recurse")]);
    assert_eq!(
        err.to_string(),
        "plugin 'hostile' overflowed its stack (too deep recursion)"
    );
}

#[test]
fn files_are_out_of_reach_unless_granted() {
    let err = contained(&[("mode", "file"), ("path", "/etc/hostname")]);
    let text = err.to_string();
    assert!(text.starts_with("plugin 'hostile' trapped"), "{text}");
    assert!(text.contains("reading a file"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.txt"), b"12345").unwrap();
    let grant = format!("{}:/data", dir.path().display());
    let mut chain = chain(vec![step(
        "hostile",
        &[
            ("mode", "file"),
            ("path", "/data/data.txt"),
            ("plugin.allow.dirs", &grant),
        ],
    )])
    .unwrap();
    let out = chain.process(vec![simple_record("t", "v")]).unwrap();
    assert_eq!(header(&out[0], "read"), Some("5"));
}

#[test]
fn sockets_are_out_of_reach_unless_granted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let err = contained(&[("mode", "socket"), ("address", &address)]);
    let text = err.to_string();
    assert!(text.starts_with("plugin 'hostile' trapped"), "{text}");
    assert!(text.contains("opening a socket"), "{text}");

    let mut chain = chain(vec![step(
        "hostile",
        &[
            ("mode", "socket"),
            ("address", &address),
            ("plugin.allow.connect", &address),
        ],
    )])
    .unwrap();
    let out = chain.process(vec![simple_record("t", "v")]).unwrap();
    assert_eq!(header(&out[0], "socket"), Some("connected"));
}

#[test]
fn environment_is_empty_unless_granted() {
    let mut denied = chain(vec![step("hostile", &[("mode", "env"), ("name", "PATH")])]).unwrap();
    let out = denied.process(vec![simple_record("t", "v")]).unwrap();
    assert_eq!(header(&out[0], "env"), Some("<unset>"));

    let mut granted = chain(vec![step(
        "hostile",
        &[
            ("mode", "env"),
            ("name", "PATH"),
            ("plugin.allow.env", "PATH"),
        ],
    )])
    .unwrap();
    let out = granted.process(vec![simple_record("t", "v")]).unwrap();
    assert_eq!(
        header(&out[0], "env"),
        std::env::var("PATH").ok().as_deref()
    );
}

#[test]
fn clocks_are_frozen_unless_granted() {
    let mut denied = chain(vec![step("hostile", &[("mode", "clock")])]).unwrap();
    let out = denied.process(vec![simple_record("t", "v")]).unwrap();
    assert_eq!(header(&out[0], "clock"), Some("0"));

    let mut granted = chain(vec![step(
        "hostile",
        &[("mode", "clock"), ("plugin.allow.clock", "true")],
    )])
    .unwrap();
    let out = granted.process(vec![simple_record("t", "v")]).unwrap();
    let secs: u64 = header(&out[0], "clock").unwrap().parse().unwrap();
    assert!(secs > 1_700_000_000, "{secs}");
}

#[test]
fn a_refused_configuration_is_reported() {
    let err = chain(vec![step("hostile", &[("mode", "reject")])])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "plugin 'hostile' rejected its configuration: setting 'mode' is 'reject', so this configuration is refused"
    );
}
