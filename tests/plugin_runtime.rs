//! Loading, caching, configuration and chaining of transform plugins.

use std::sync::Arc;

use tidemark::event::{Data, Record};
use tidemark::plugin::{
    Chain, Origin, Plugin, PluginError, Runtime, RuntimeOptions, Step, Tier, World,
};
use tidemark_tests::{
    chain, golden_records, header, never_seen_version, plugin_path, simple_record, step,
};

#[test]
fn second_load_comes_from_the_disk_cache_without_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let options = RuntimeOptions {
        cache_dir: Some(cache.path().to_owned()),
    };
    let path = plugin_path("regex-router");

    let first = Runtime::new(options.clone()).unwrap();
    let plugin = first.load_file(&path).unwrap();
    assert_eq!(plugin.origin, Origin::Compiled);
    assert_eq!(first.compiled_count(), 1);
    assert_eq!(plugin.world, World::Transform);
    assert_eq!(plugin.hash.len(), 64);
    assert_eq!(first.load_file(&path).unwrap().origin, Origin::Memory);
    assert_eq!(first.compiled_count(), 1);

    // A new process (a new runtime) finds the compiled code on disk.
    let second = Runtime::new(options).unwrap();
    let again = second.load_file(&path).unwrap();
    assert_eq!(again.origin, Origin::DiskCache);
    assert_eq!(second.compiled_count(), 0);
    assert_eq!(again.hash, plugin.hash);
    // And the cached code runs.
    let mut chain = tidemark::plugin::Chain::new(
        &second,
        vec![tidemark::plugin::Step {
            plugin: again,
            config: [("regex", "a(.)"), ("replacement", "b$1")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            condition: None,
            name: None,
        }],
    )
    .unwrap();
    let out = chain.process(vec![simple_record("ax", "v")]).unwrap();
    assert_eq!(out[0].topic, "bx");
}

#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let options = RuntimeOptions {
        cache_dir: Some(cache.path().to_owned()),
    };
    let path = plugin_path("noop");
    Runtime::new(options.clone())
        .unwrap()
        .load_file(&path)
        .unwrap();
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let runtime = Runtime::new(options).unwrap();
    assert_eq!(runtime.load_file(&path).unwrap().origin, Origin::Compiled);
}

/// The cache's entries (not its temporary files).
fn cache_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect()
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_tampered_cache_entry_is_not_loaded_but_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let options = RuntimeOptions {
        cache_dir: Some(cache.path().to_owned()),
    };
    let path = plugin_path("regex-router");
    Runtime::new(options.clone())
        .unwrap()
        .load_file(&path)
        .unwrap();
    let entries = cache_entries(cache.path());
    assert_eq!(entries.len(), 1, "{entries:?}");
    // One byte of the compiled code changed, the length and the header intact.
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&entries[0], &bytes).unwrap();

    let runtime = Runtime::new(options.clone()).unwrap();
    assert_eq!(runtime.load_file(&path).unwrap().origin, Origin::Compiled);
    assert_eq!(runtime.compiled_count(), 1);
    // The recompile replaced the entry: the next start loads it.
    let runtime = Runtime::new(options).unwrap();
    assert_eq!(runtime.load_file(&path).unwrap().origin, Origin::DiskCache);
}

#[test]
fn a_cache_directory_others_can_write_to_is_refused_and_plugins_compiled_in_memory() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let options = RuntimeOptions {
        cache_dir: Some(dir.clone()),
    };
    let runtime = Runtime::new(options.clone()).unwrap();
    let refused = runtime
        .disk_cache_refused()
        .expect("the directory is refused")
        .to_string();
    assert!(refused.contains(&dir.display().to_string()), "{refused}");
    assert!(refused.contains("writable by group or others"), "{refused}");
    assert!(
        refused.contains(&format!("chmod 700 {}", dir.display())),
        "{refused}"
    );
    // The plugin still loads, compiled in memory, and nothing is written there.
    let plugin = runtime.load_file(&plugin_path("noop")).unwrap();
    assert_eq!(plugin.origin, Origin::Compiled);
    assert!(cache_entries(&dir).is_empty());
    let again = Runtime::new(options).unwrap();
    assert_eq!(
        again.load_file(&plugin_path("noop")).unwrap().origin,
        Origin::Compiled
    );

    // Made private, the directory is used.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let private = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.clone()),
    })
    .unwrap();
    assert!(private.disk_cache_refused().is_none());
    private.load_file(&plugin_path("noop")).unwrap();
    assert_eq!(cache_entries(&dir).len(), 1);
}

#[test]
fn a_fresh_cache_directory_is_created_private_with_private_entries() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("tidemark").join("plugins");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.clone()),
    })
    .unwrap();
    assert!(runtime.disk_cache_refused().is_none());
    assert_eq!(mode(&root.path().join("tidemark")), 0o700);
    assert_eq!(mode(&dir), 0o700);
    runtime.load_file(&plugin_path("noop")).unwrap();
    let entries = cache_entries(&dir);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(mode(&entries[0]), 0o600);
    // Nothing but the entry: the temporary file was renamed into place.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn files_that_are_not_components_are_refused_by_name() {
    let runtime = Runtime::new(RuntimeOptions { cache_dir: None }).unwrap();
    let err = runtime.load("notes", b"hello").unwrap_err();
    assert!(matches!(err, PluginError::Invalid { .. }));
    assert!(
        err.to_string()
            .starts_with("plugin 'notes' is not a valid WebAssembly component"),
        "{err}"
    );

    // An empty core module is WebAssembly, but not a component.
    let err = runtime.load("core", b"\0asm\x01\0\0\0").unwrap_err();
    assert!(err.to_string().contains("plugin 'core'"), "{err}");
    assert!(err.to_string().contains("component"), "{err}");

    let missing = runtime
        .load_file(std::path::Path::new("/nonexistent/x.wasm"))
        .unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/x.wasm"),
        "{missing}"
    );
}

#[test]
fn configure_errors_name_the_plugin_and_the_setting() {
    let err = chain(vec![step("regex-router", &[("regex", "a")])])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "plugin 'regex-router' has an invalid configuration: replacement must be set (The new \
         topic, in Java's replacement syntax ($1 or ${name} insert a group))"
    );
    let err = chain(vec![step(
        "regex-router",
        &[("regex", "(unclosed"), ("replacement", "x")],
    )])
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .contains("setting 'regex' is not a valid regular expression"),
        "{err}"
    );
    let err = chain(vec![step(
        "regex-router",
        &[("regex", "(a)"), ("replacement", "$2")],
    )])
    .err()
    .unwrap();
    assert!(err.to_string().contains("no group 2"), "{err}");
}

#[test]
fn host_settings_are_checked_before_the_plugin_runs() {
    let err = chain(vec![step("noop", &[("plugin.timeout.ms", "soon")])])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "plugin 'noop': setting plugin.timeout.ms=\"soon\" is invalid: expected a whole number of milliseconds"
    );
}

#[test]
fn plugins_run_in_chain_order() {
    let mut chain = chain(vec![
        step("tagger", &[("tag", "a")]),
        step("tagger", &[("tag", "b"), ("drop.topic", "gone")]),
        step("tagger", &[("tag", "c"), ("split.topic", "split")]),
    ])
    .unwrap();
    let input = vec![
        simple_record("one", "1"),
        simple_record("gone", "2"),
        simple_record("split", "3"),
        simple_record("two", "4"),
    ];
    let out = chain.process(input).unwrap();
    let summary = trails(&out);
    assert_eq!(
        summary,
        vec![
            ("one".to_owned(), Some("a,b,c"), false),
            ("split".to_owned(), Some("a,b,c"), false),
            ("split".to_owned(), Some("a,b,c"), true),
            ("two".to_owned(), Some("a,b,c"), false),
        ]
    );
}

/// The usual chain, whose plugins handle each schema's records batch-wide and hand the rest
/// (deletes, tombstones, nulls in fields with defaults, a masked field with a default,
/// conditions the fast path leaves to the interpreter) to the one-record path.
fn usual_chain() -> Chain {
    chain(vec![
        step("extract-new-record-state", &[("add.fields", "op")]),
        step(
            "regex-router",
            &[("regex", r"dbz\.public\.(.*)"), ("replacement", "cdc.$1")],
        ),
        step("mask-field", &[("fields", "name,email,note,c_real,d_int")]),
        step(
            "filter",
            &[
                ("language", "jsr223.groovy"),
                ("condition", "value.__op != 'u' && value.id > 1"),
            ],
        ),
    ])
    .unwrap()
}

#[test]
fn a_batch_gives_what_its_records_give_one_by_one() {
    // Two workloads' events interleaved, so that each batch mixes three tables.
    let basic = golden_records("dbz/pg-basic.jsonl");
    let edge = golden_records("dbz/pg-edge.jsonl");
    let mut input = Vec::new();
    let (mut a, mut b) = (basic.into_iter(), edge.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) => input.extend(x.into_iter().chain(y)),
        }
    }
    let whole = usual_chain().process(input.clone()).unwrap();
    let mut each = usual_chain();
    let one_by_one: Vec<Record> = input
        .iter()
        .flat_map(|r| each.process(vec![r.clone()]).unwrap())
        .collect();
    // Compared as text: NaN (in pg-edge's float columns) is not equal to itself.
    let text = |records: &[Record]| -> Vec<String> {
        let id = |d: &Option<Data>| d.as_ref().and_then(|d| d.schema.as_ref()).map(|s| s.id());
        records
            .iter()
            .map(|r| {
                let value = |d: &Option<Data>| d.as_ref().map(|d| format!("{:?}", d.value));
                format!(
                    "{} {:?} {:?} {:?} {:?} {:?} {:?}",
                    r.topic,
                    value(&r.key),
                    id(&r.key),
                    value(&r.value),
                    id(&r.value),
                    r.headers,
                    r.timestamp
                )
            })
            .collect()
    };
    assert_eq!(text(&whole), text(&one_by_one));

    // The chain did its work: routed, unwrapped, masked, filtered.
    assert!(whole.len() < input.len(), "the filter dropped records");
    assert!(whole.iter().all(|r| r.topic.starts_with("cdc.")));
    let field = |r: &Record, name: &str| {
        let data = r.value.as_ref()?;
        let schema = data.schema.as_ref()?;
        let i = schema.field_index(name)?;
        match &data.value {
            tidemark::event::Value::Struct(fields) => fields.get(i).cloned(),
            _ => None,
        }
    };
    let emails: Vec<_> = whole.iter().filter_map(|r| field(r, "email")).collect();
    assert!(!emails.is_empty());
    assert!(emails.iter().all(|e| e.is_null() || *e == "".into()));
    assert!(
        whole
            .iter()
            .all(|r| field(r, "__op").is_none_or(|op| op != "u".into()))
    );
}

#[test]
fn regex_router_renames_debezium_topics() {
    let mut chain = chain(vec![step(
        "regex-router",
        &[("regex", r"dbz\.public\.(.*)"), ("replacement", "cdc.$1")],
    )])
    .unwrap();
    let input = golden_records("dbz/pg-basic.jsonl");
    let expected: Vec<Record> = input
        .iter()
        .cloned()
        .map(|mut r| {
            r.topic = r.topic.replace("dbz.public.", "cdc.");
            r
        })
        .collect();
    let out = chain.process(input).unwrap();
    assert_eq!(out, expected);
    assert!(out.iter().any(|r| r.topic == "cdc.customers"));
}

#[test]
fn a_field_set_by_a_plugin_must_fit_its_schema_and_shows_in_the_record() {
    let input = golden_records("dbz/pg-basic.jsonl");
    let create = input
        .iter()
        .find(|r| {
            r.topic == "dbz.public.customers"
                && r.value.as_ref().is_some_and(|v| {
                    let schema = v.schema.as_ref().unwrap();
                    let after = schema.field_index("after").unwrap();
                    matches!(&v.value, tidemark::event::Value::Struct(f) if !f[after].is_null())
                })
        })
        .unwrap()
        .clone();
    let mut chain = chain(vec![step(
        "tagger",
        &[
            ("tag", "t"),
            ("set.field", "after.email"),
            ("set.value", "***"),
        ],
    )])
    .unwrap();
    let out = chain.process(vec![create]).unwrap();
    let mut line = String::new();
    tidemark::event::write_line(&mut line, &out[0], Default::default());
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["value"]["payload"]["after"]["email"], "***");

    // A string into an int32 field is refused and reported as the plugin's failure.
    let mut chain = tidemark_tests::chain(vec![step(
        "tagger",
        &[("tag", "t"), ("set.field", "after.id"), ("set.value", "x")],
    )])
    .unwrap();
    let err = chain.process(out).unwrap_err();
    assert!(err.to_string().contains("plugin 'tagger'"), "{err}");
    assert!(
        err.to_string().contains("does not fit schema type int32"),
        "{err}"
    );
}

#[test]
fn a_predicate_limits_a_step_to_its_records_and_keeps_their_order() {
    use tidemark::plugin::predicate::{Condition, Predicate};
    let topic_is = |pattern: &str, negate: bool| Condition {
        predicate: Predicate::TopicNameMatches(regex_of(pattern)),
        negate,
    };
    let mut only_split = step(
        "tagger",
        &[
            ("tag", "b"),
            ("split.topic", "split"),
            ("drop.topic", "gone"),
        ],
    );
    only_split.condition = Some(topic_is("split|gone", false));
    let mut not_split = step("tagger", &[("tag", "c")]);
    not_split.condition = Some(topic_is("split", true));
    let mut chain = chain(vec![step("tagger", &[("tag", "a")]), only_split, not_split]).unwrap();
    let input = vec![
        simple_record("one", "1"),
        simple_record("split", "2"),
        simple_record("gone", "3"),
        simple_record("two", "4"),
    ];
    let out = chain.process(input).unwrap();
    let summary = trails(&out);
    assert_eq!(
        summary,
        vec![
            ("one".to_owned(), Some("a,c"), false),
            ("split".to_owned(), Some("a,b"), false),
            ("split".to_owned(), Some("a,b"), true),
            ("two".to_owned(), Some("a,c"), false),
        ],
        "b ran only on split and gone (dropping gone), c on everything but split"
    );
    // When no record is selected, the plugin is not called at all.
    let out = chain.process(vec![simple_record("other", "5")]).unwrap();
    assert_eq!(header(&out[0], "trail"), Some("a,c"));
}

fn regex_of(pattern: &str) -> regex::Regex {
    regex::Regex::new(&format!("^(?:{pattern})$")).unwrap()
}

/// Each record's topic, `trail` header (which tagger steps ran, in order) and tombstone flag.
fn trails(records: &[Record]) -> Vec<(String, Option<&str>, bool)> {
    records
        .iter()
        .map(|r| (r.topic.clone(), header(r, "trail"), r.is_tombstone()))
        .collect()
}

#[test]
fn a_never_seen_version_loads_with_baseline_code_that_computes_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().join("cache")),
    })
    .unwrap();
    // Unseen content: baseline code, compiled by Winch.
    let bytes = std::fs::read(plugin_path("extract-new-record-state")).unwrap();
    let file = dir.path().join("unwrap.wasm");
    std::fs::write(&file, never_seen_version(&bytes, "baseline test")).unwrap();
    let baseline = runtime.load_new_version(&file).unwrap();
    assert_eq!(
        (baseline.tier, baseline.origin),
        (Tier::Baseline, Origin::Compiled)
    );
    let optimized = runtime.optimized(&baseline).unwrap();
    assert_eq!(optimized.tier, Tier::Optimized);
    assert_eq!(optimized.hash, baseline.hash);
    // Once optimized code exists, the same version loads with it.
    let again = runtime.load_new_version(&file).unwrap();
    assert_eq!(
        (again.tier, again.origin),
        (Tier::Optimized, Origin::Memory)
    );

    // A chain with one baseline step runs every step on baseline code, with the same results,
    // fuel budgets included.
    let run = |plugin: Arc<Plugin>, fuel: Option<&str>| {
        let mut unwrap = Step::new(plugin, [("add.fields".to_owned(), "op".to_owned())].into());
        if let Some(fuel) = fuel {
            unwrap.config.insert("plugin.fuel".into(), fuel.into());
        }
        let router = runtime.load_file(&plugin_path("regex-router")).unwrap();
        let route = Step::new(
            router,
            [
                ("regex".to_owned(), r"dbz\.public\.(.*)".to_owned()),
                ("replacement".to_owned(), "cdc.$1".to_owned()),
            ]
            .into(),
        );
        Chain::new(&runtime, vec![unwrap, route])?.process(golden_records("dbz/pg-basic.jsonl"))
    };
    let expected = run(optimized, None).unwrap();
    assert!(expected.iter().any(|r| r.topic == "cdc.customers"));
    assert_eq!(run(baseline.clone(), None).unwrap(), expected);
    assert_eq!(run(baseline.clone(), Some("100000000")).unwrap(), expected);
    let starved = run(baseline, Some("1"));
    assert!(
        matches!(starved, Err(PluginError::OutOfFuel { .. })),
        "{starved:?}"
    );
}
