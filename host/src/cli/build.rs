//! `tidemark plugin build [DIR]`: builds a plugin project (as `tidemark plugin new` writes
//! it, described by its `tidemark-plugin.json`) into one component, with the toolchain of
//! its language:
//!
//! - rust: `cargo build --target wasm32-wasip2 --release`;
//! - python: `componentize-py` (PyPI);
//! - js: `rolldown` to bundle the module with the SDK, then `componentize-js` (npm);
//! - c: `wit-bindgen c`, clang for wasm32-wasi (Debian's clang, lld and wasi-libc), then
//!   `wasm-tools component new` with the WASI preview1 adapter (which this binary carries).
//!
//! Tools are looked for on `PATH`, then in the toolchain directory (`$TIDEMARK_TOOLCHAINS`,
//! default `~/.cache/tidemark/toolchains`, where `sdk/install-toolchains.sh` puts them).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The manifest file of a plugin project.
pub const MANIFEST: &str = "tidemark-plugin.json";

/// A plugin project's `tidemark-plugin.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The plugin's name: the component is `<name>.wasm`.
    pub name: String,
    /// `rust`, `python`, `js` or `c`.
    pub lang: String,
    /// The world: `transform` or `sink`.
    pub kind: String,
    /// The main source file (Python: its module, `app.py`; JS: the ES module; C: a `.c`
    /// file; Rust: unused, the crate is built).
    #[serde(default)]
    pub source: String,
    /// The WIT directory, relative to the project.
    #[serde(default = "default_wit")]
    pub wit: String,
    /// The directory holding the language SDKs (`python/`, `js/`, `c/`), relative to the project.
    #[serde(default = "default_sdk")]
    pub sdk: String,
}

fn default_wit() -> String {
    "wit".into()
}

fn default_sdk() -> String {
    "sdk".into()
}

impl Manifest {
    /// Reads `DIR/tidemark-plugin.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (a plugin project has one; `tidemark plugin new` writes it)",
                path.display()
            )
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid plugin manifest", path.display()))?;
        if !["transform", "sink"].contains(&manifest.kind.as_str()) {
            bail!(
                "{}: kind {:?} must be transform or sink",
                path.display(),
                manifest.kind
            );
        }
        Ok(manifest)
    }
}

/// The directory where `sdk/install-toolchains.sh` installs the language toolchains.
pub fn toolchain_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TIDEMARK_TOOLCHAINS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("tidemark").join("toolchains")
}

/// A tool found on `PATH` or in one of `extra` directories.
fn find_tool(names: &[&str], extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .collect();
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Where each language's tools are, or why they are missing.
pub struct Toolchain {
    pub lang: String,
    tools: Vec<PathBuf>,
}

impl Toolchain {
    /// Finds the tools `lang` builds with; the error names what is missing and how to get it.
    pub fn find(lang: &str) -> anyhow::Result<Toolchain> {
        let base = toolchain_dir();
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .map(|d| d.join("bin"))
            .into_iter()
            .collect::<Vec<_>>();
        let need = |names: &[&str], extra: &[PathBuf], hint: &str| {
            find_tool(names, extra).ok_or_else(|| {
                anyhow::anyhow!(
                    "{} not found on PATH or in {}: {hint} (sdk/install-toolchains.sh installs every toolchain)",
                    names[0],
                    extra
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        };
        let tools = match lang {
            "rust" => vec![need(
                &["cargo"],
                &cargo_bin,
                "install Rust with rustup, then `rustup target add wasm32-wasip2`",
            )?],
            "python" => vec![need(
                &["componentize-py"],
                &[base.join("python").join("bin")],
                "pip install componentize-py==0.25.1",
            )?],
            "js" => {
                let bin = base.join("js").join("node_modules").join(".bin");
                let hint = "npm install @bytecodealliance/componentize-js@0.23.0 (it brings rolldown) in the toolchain directory's js/";
                vec![
                    need(&["componentize-js"], std::slice::from_ref(&bin), hint)?,
                    need(&["rolldown"], &[bin], hint)?,
                ]
            }
            "c" => {
                let clang = need(
                    &["clang-16", "clang"],
                    &[],
                    "apt-get install clang-16 lld-16 libclang-rt-16-dev-wasm32 wasi-libc",
                )?;
                if !Path::new("/usr/include/wasm32-wasi/stdlib.h").is_file()
                    && std::env::var_os("WASI_SYSROOT").is_none()
                {
                    bail!(
                        "the wasm32-wasi C library is missing: apt-get install wasi-libc (or set WASI_SYSROOT to a wasi-sdk sysroot)"
                    );
                }
                vec![
                    clang,
                    need(
                        &["wit-bindgen"],
                        &cargo_bin,
                        "cargo install --locked wit-bindgen-cli@0.61.1 --no-default-features --features c",
                    )?,
                    need(
                        &["wasm-tools"],
                        &cargo_bin,
                        "cargo install --locked wasm-tools@1.263.0",
                    )?,
                ]
            }
            other => bail!("unknown language {other:?}: use rust, python, js or c"),
        };
        Ok(Toolchain {
            lang: lang.to_owned(),
            tools,
        })
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot start {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}):\n{}{}",
            command,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Checks that the toolchain of the project in `dir` is installed; returns its language.
pub fn check(dir: &Path) -> anyhow::Result<String> {
    let manifest = Manifest::read(dir)?;
    Ok(Toolchain::find(&manifest.lang)?.lang)
}

/// Builds the project in `dir` into `output` (default `DIR/build/<name>.wasm`); returns the
/// component's path.
pub fn build(dir: &Path, output: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let manifest = Manifest::read(dir)?;
    let toolchain = Toolchain::find(&manifest.lang)?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot open {}", dir.display()))?;
    let build_dir = dir.join("build");
    std::fs::create_dir_all(&build_dir)
        .with_context(|| format!("cannot create {}", build_dir.display()))?;
    let output = match output {
        Some(path) => std::path::absolute(path)?,
        None => build_dir.join(format!("{}.wasm", manifest.name)),
    };
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let wit = dir.join(&manifest.wit);
    let sdk = dir.join(&manifest.sdk);
    let tools = &toolchain.tools;
    match manifest.lang.as_str() {
        "rust" => build_rust(&dir, &tools[0], &output)?,
        "python" => {
            let module = manifest.source.trim_end_matches(".py");
            run(Command::new(&tools[0])
                .current_dir(&dir)
                .arg("-d")
                .arg(&wit)
                .args(["-w", &manifest.kind, "componentize", "-p", "."])
                .arg("-p")
                .arg(sdk.join("python"))
                .arg(module)
                .arg("-o")
                .arg(&output))?;
        }
        "js" => {
            let bundle = build_dir.join(format!("{}.bundle.js", manifest.name));
            run(Command::new(&tools[1])
                .current_dir(&dir)
                .arg(&manifest.source)
                .args([
                    "--format",
                    "esm",
                    "--external",
                    "tidemark:plugin/*",
                    "--external",
                    "wasi:*",
                ])
                .arg("-o")
                .arg(&bundle))?;
            run(Command::new(&tools[0])
                .current_dir(&dir)
                .arg(&bundle)
                .arg("--wit")
                .arg(&wit)
                .args(["-n", &manifest.kind])
                .arg("-o")
                .arg(&output))?;
        }
        "c" => build_c(&dir, &manifest, tools, &wit, &sdk, &build_dir, &output)?,
        _ => unreachable!("Toolchain::find accepts the known languages only"),
    }
    Ok(output)
}

fn build_rust(dir: &Path, cargo: &Path, output: &Path) -> anyhow::Result<()> {
    run(Command::new(cargo).current_dir(dir).args([
        "build",
        "--quiet",
        "--target",
        "wasm32-wasip2",
        "--release",
    ]))?;
    let metadata = Command::new(cargo)
        .current_dir(dir)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).context("cargo metadata printed no JSON")?;
    let target = metadata["target_directory"]
        .as_str()
        .context("cargo metadata has no target_directory")?;
    let manifest_path = dir.join("Cargo.toml").canonicalize()?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| Path::new(m) == manifest_path)
        })
        .context("cargo metadata does not list this directory's package")?;
    let crate_name = package["name"]
        .as_str()
        .unwrap_or_default()
        .replace('-', "_");
    let built = Path::new(target)
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{crate_name}.wasm"));
    std::fs::copy(&built, output)
        .with_context(|| format!("cannot copy {} to {}", built.display(), output.display()))?;
    Ok(())
}

fn build_c(
    dir: &Path,
    manifest: &Manifest,
    tools: &[PathBuf],
    wit: &Path,
    sdk: &Path,
    build_dir: &Path,
    output: &Path,
) -> anyhow::Result<()> {
    let (clang, wit_bindgen, wasm_tools) = (&tools[0], &tools[1], &tools[2]);
    let generated = build_dir.join("bindings");
    run(Command::new(wit_bindgen)
        .arg("c")
        .arg(wit)
        .args(["--world", &manifest.kind])
        .arg("--out-dir")
        .arg(&generated))?;
    let world = manifest.kind.as_str();
    let core = build_dir.join(format!("{}.core.wasm", manifest.name));
    let mut compile = Command::new(clang);
    compile
        .current_dir(dir)
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-Wall",
        ])
        .arg("-I")
        .arg(&generated)
        .arg("-I")
        .arg(sdk.join("c"));
    if let Some(sysroot) = std::env::var_os("WASI_SYSROOT") {
        compile.arg("--sysroot").arg(sysroot);
    }
    compile
        .arg(&manifest.source)
        .arg(generated.join(format!("{world}.c")))
        .arg(generated.join(format!("{world}_component_type.o")))
        .arg("-o")
        .arg(&core);
    run(&mut compile)?;
    let adapter = build_dir.join("wasi_snapshot_preview1.reactor.wasm");
    std::fs::write(
        &adapter,
        wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    )?;
    run(Command::new(wasm_tools)
        .args(["component", "new"])
        .arg(&core)
        .arg("--adapt")
        .arg(format!("wasi_snapshot_preview1={}", adapter.display()))
        .arg("-o")
        .arg(output))?;
    Ok(())
}
