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
fn an_endless_loop_runs_out_of_fuel_long_before_its_time_limit() {
    let started = std::time::Instant::now();
    let err = contained(&[
        ("mode", "loop"),
        ("plugin.fuel", "20000000"),
        ("plugin.timeout.ms", "60000"),
    ]);
    assert_eq!(
        err.to_string(),
        "plugin 'hostile' used up its fuel of 20000000 units for one batch (raise plugin.fuel if the work is legitimate)"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn fuel_is_a_budget_per_batch() {
    // Enough fuel for one batch of two records; ten such batches in a row still pass, because
    // every batch starts with the full budget.
    let mut metered = chain(vec![step(
        "tagger",
        &[("tag", "metered"), ("plugin.fuel", "5000000")],
    )])
    .unwrap();
    for n in 0..10 {
        let out = metered
            .process(vec![
                simple_record("t", &n.to_string()),
                simple_record("t", "x"),
            ])
            .expect("the budget suffices for a batch");
        assert_eq!(header(&out[0], "trail"), Some("metered"));
    }
    // The same plugin with a budget too small for anything is stopped (the budget also
    // bounds start-up and configure), and named.
    let err = chain(vec![step("tagger", &[("tag", "t"), ("plugin.fuel", "1")])])
        .and_then(|mut chain| chain.process(vec![simple_record("t", "1")]))
        .unwrap_err();
    assert!(
        matches!(err, PluginError::OutOfFuel { fuel: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn a_bad_fuel_setting_names_the_key() {
    let err = chain(vec![step("tagger", &[("plugin.fuel", "lots")])])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "plugin 'tagger': setting plugin.fuel=\"lots\" is invalid: expected a whole number of fuel units"
    );
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
