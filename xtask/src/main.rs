//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `plugins`: builds every plugin crate for wasm32-wasip2 into `target/plugins/<name>.wasm`
//!   (crates under `plugins/`), `target/test-plugins/<name>.wasm` (under `tests/plugins/`) and
//!   `target/example-plugins/<name>.wasm` (the Rust crates under `examples/plugins/`).
//! - `test`: builds the plugins, then runs the whole test suite.
//! - `demo`: builds the plugins and the binary, then runs the demo pipeline.
//! - `bench`: builds the plugins and the other languages' examples, then runs the benchmarks
//!   and prints their figures.
//! - `dist`: a release binary with the bundled plugins next to it, in `target/dist/`
//!   (`tidemark` and `plugins/*.wasm`): what a user installs, needing no other download.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const WASM_TARGET: &str = "wasm32-wasip2";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("plugins") => build_plugins(&root),
        Some("test") => {
            build_plugins(&root)?;
            run(Command::new(cargo())
                .current_dir(&root)
                .args(["test", "--workspace"])
                .args(&args[1..]))
        }
        Some("demo") => {
            build_plugins(&root)?;
            run(Command::new(cargo())
                .current_dir(&root)
                .args(["build", "-p", "tidemark"]))?;
            run(Command::new("bash")
                .current_dir(&root)
                .arg("examples/demo.sh"))
        }
        Some("bench") => {
            build_plugins(&root)?;
            build_examples(&root);
            run(Command::new(cargo())
                .current_dir(&root)
                .args(["bench", "-p", "tidemark"])
                .args(&args[1..]))
        }
        Some("dist") => dist(&root),
        // docs/config.md from the key declarations: the test that checks it writes it first.
        Some("config-docs") => run(Command::new(cargo())
            .current_dir(&root)
            .env("TIDEMARK_WRITE_CONFIG_DOCS", "1")
            .args([
                "test",
                "-p",
                "tidemark",
                "--lib",
                "docs_config_md_is_up_to_date",
            ])),
        _ => bail!("usage: cargo xtask plugins|test|demo|bench|dist|config-docs [args for cargo]"),
    }
}

/// Builds the Python, JavaScript and C examples (`examples/plugins/<lang>`) into
/// `target/example-plugins/mask-email-<lang>.wasm` with `tidemark plugin build`, for the
/// language benchmark; a language whose toolchain is missing is reported and left out.
fn build_examples(root: &Path) {
    for lang in ["python", "js", "c"] {
        let out = root
            .join("target")
            .join("example-plugins")
            .join(format!("mask-email-{lang}.wasm"));
        let built = run(Command::new(cargo())
            .current_dir(root)
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "tidemark",
                "--",
                "plugin",
                "build",
            ])
            .arg(root.join("examples").join("plugins").join(lang))
            .arg("-o")
            .arg(&out));
        if let Err(e) = built {
            eprintln!("example {lang} not built, so not benchmarked: {e:#}");
        }
    }
}

/// Builds `target/dist/`: the release binary and, next to it, the bundled plugins, where
/// the binary looks for them.
fn dist(root: &Path) -> anyhow::Result<()> {
    build_plugins(root)?;
    run(Command::new(cargo())
        .current_dir(root)
        .args(["build", "--release", "-p", "tidemark"]))?;
    let dist = root.join("target").join("dist");
    let plugins = dist.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(
        root.join("target").join("release").join("tidemark"),
        dist.join("tidemark"),
    )?;
    for entry in std::fs::read_dir(root.join("target").join("plugins"))? {
        let path = entry?.path();
        // noop exists for benchmarks only.
        if path.extension().is_some_and(|e| e == "wasm")
            && path.file_stem().is_some_and(|s| s != "noop")
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, plugins.join(name))?;
        }
    }
    println!("{}", dist.display());
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Installs the wasm32-wasip2 standard library through rustup when it is missing.
fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm32-wasip2 target")?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

/// A plugin crate: its package name and where its `.wasm` goes.
struct PluginCrate {
    name: String,
    out_dir: &'static str,
}

/// Plugin crates are the workspace members under `plugins/`, `tests/plugins/` and
/// `examples/plugins/`.
fn plugin_crates(root: &Path) -> anyhow::Result<Vec<PluginCrate>> {
    let output = Command::new(cargo())
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut crates = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let manifest = Path::new(package["manifest_path"].as_str().unwrap_or_default());
        let Ok(relative) = manifest.strip_prefix(root) else {
            continue;
        };
        // Plugin crates build a component (a cdylib); libraries they share do not.
        let is_component = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| {
                t["crate_types"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c == "cdylib")
            });
        if !is_component {
            continue;
        }
        let out_dir = if relative.starts_with("plugins") {
            "plugins"
        } else if relative.starts_with("tests/plugins") {
            "test-plugins"
        } else if relative.starts_with("examples/plugins") {
            "example-plugins"
        } else {
            continue;
        };
        crates.push(PluginCrate {
            name: package["name"].as_str().unwrap_or_default().to_owned(),
            out_dir,
        });
    }
    Ok(crates)
}

fn build_plugins(root: &Path) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    let crates = plugin_crates(root)?;
    let mut build = Command::new(cargo());
    build
        .current_dir(root)
        .args(["build", "--target", WASM_TARGET, "--profile", "plugin"]);
    for c in &crates {
        build.args(["-p", &c.name]);
    }
    run(&mut build)?;
    let built = root.join("target").join(WASM_TARGET).join("plugin");
    for c in &crates {
        let from = built.join(format!("{}.wasm", c.name.replace('-', "_")));
        let dir = root.join("target").join(c.out_dir);
        std::fs::create_dir_all(&dir)?;
        let to = dir.join(format!("{}.wasm", c.name));
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        println!("{}", to.display());
    }
    Ok(())
}
