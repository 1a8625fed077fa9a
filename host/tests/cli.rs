//! The `tidemark plugin` commands, run as a user would run them.

use std::path::PathBuf;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plugin(dir: &str, name: &str) -> PathBuf {
    let path = root().join("target").join(dir).join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is not built: run `cargo xtask plugins` first",
        path.display()
    );
    path
}

fn tidemark(args: &[&str]) -> Output {
    let cache = root().join("target").join("test-plugin-cache");
    Command::new(env!("CARGO_BIN_EXE_tidemark"))
        .args(args)
        .env("TIDEMARK_CACHE_DIR", cache)
        .output()
        .expect("tidemark runs")
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("output lines are JSON"))
        .collect()
}

#[test]
fn plugin_test_runs_a_chain_over_debezium_records() {
    let input = root().join("tests/golden/dbz/pg-basic.jsonl");
    let router = plugin("plugins", "regex-router");
    let output = tidemark(&[
        "plugin",
        "test",
        router.to_str().unwrap(),
        "--config",
        r"regex=dbz\.public\.(.*)",
        "--config",
        "replacement=cdc.$1",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = lines(&output);
    let expected: Vec<serde_json::Value> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), expected.len());
    for (ours, theirs) in out.iter().zip(&expected) {
        let topic = theirs["topic"]
            .as_str()
            .unwrap()
            .replace("dbz.public.", "cdc.");
        assert_eq!(ours["topic"], topic.as_str());
        assert_eq!(ours["key"], theirs["key"]);
        assert_eq!(ours["value"], theirs["value"]);
    }
}

#[test]
fn plugin_test_sends_prefixed_settings_to_one_plugin() {
    let tagger = plugin("test-plugins", "tagger");
    let tagger = tagger.to_str().unwrap();
    let output = tidemark(&[
        "plugin",
        "test",
        tagger,
        tagger,
        "-c",
        "1.tag=first",
        "-c",
        "2.tag=second",
        "-c",
        "2.drop.topic=gone",
        "--value-schemas",
        "false",
    ]);
    // No input on stdin: an empty run succeeds and prints nothing.
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"topic\":\"keep\",\"key\":null,\"value\":{\"n\":1}}\n{\"topic\":\"gone\",\"key\":null,\"value\":2}\n").unwrap();
    let output = tidemark(&[
        "plugin",
        "test",
        tagger,
        tagger,
        "-c",
        "1.tag=first",
        "-c",
        "2.tag=second",
        "-c",
        "2.drop.topic=gone",
        "-i",
        input.to_str().unwrap(),
        "--value-schemas",
        "false",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = lines(&output);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["value"], serde_json::json!({"n": 1}));
    assert_eq!(
        out[0]["headers"],
        serde_json::json!([{"key": "trail", "value": "first,second"}])
    );
}

#[test]
fn plugin_test_reports_configuration_and_input_errors() {
    let router = plugin("plugins", "regex-router");
    let output = tidemark(&["plugin", "test", router.to_str().unwrap(), "-c", "regex=a"]);
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "error: plugin 'regex-router' has an invalid configuration: replacement must be set (The new topic, in Java's replacement syntax ($1 or ${name} insert a group))"
    );

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    std::fs::write(&input, "{\"topic\":\"t\",\"value\":1}\n{\"value\":2}\n").unwrap();
    let output = tidemark(&[
        "plugin",
        "test",
        router.to_str().unwrap(),
        "-c",
        "regex=a",
        "-c",
        "replacement=b",
        "-i",
        input.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.jsonl line 2"), "{stderr}");
    assert!(stderr.contains("\"topic\" must be a string"), "{stderr}");
}

#[test]
fn plugin_inspect_shows_world_exports_size_and_hash() {
    let router = plugin("plugins", "regex-router");
    let bytes = std::fs::read(&router).unwrap();
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let output = tidemark(&["plugin", "inspect", router.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("world:   tidemark:plugin/transform@0.1.0"),
        "{text}"
    );
    assert!(
        text.contains(&format!("size:    {} bytes", bytes.len())),
        "{text}"
    );
    assert!(text.contains(&format!("sha256:  {hash}")), "{text}");
    assert!(
        text.contains(
            "exports: tidemark:plugin/config-schema@0.1.0, tidemark:plugin/transformer@0.1.0"
        ),
        "{text}"
    );
    assert!(
        text.contains("replacement (STRING, required): The new topic"),
        "the declared keys: {text}"
    );
    assert!(text.contains("tidemark:plugin/records@0.1.0"), "{text}");

    let output = tidemark(&["plugin", "inspect", "/nonexistent.wasm"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("cannot read plugin file /nonexistent.wasm")
    );
}
