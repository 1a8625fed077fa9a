//! `tidemark plugin …`: run a chain of transform plugins over JSON-lines records, inspect
//! plugin files, and start (`new`) and build (`build`) plugin projects.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use tidemark::event::{self, JsonOptions, Record};
use tidemark::plugin::{Chain, Runtime, RuntimeOptions, Step};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Runs records through a chain of transform plugins and prints the result.
    ///
    /// Input and output are JSON lines `{"topic","key","value","headers"}` with Debezium
    /// JsonConverter keys and values, as the file sink writes them.
    Test {
        /// Plugin files, applied in the order given.
        #[arg(required = true)]
        plugins: Vec<PathBuf>,
        /// A configuration property `key=value`. It goes to every plugin, unless the key is
        /// prefixed by a plugin's name or 1-based position and a dot (`regex-router.regex=…`,
        /// `2.regex=…`), which sends it to that plugin only.
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Records to transform, one JSON object per line (`-` for standard input).
        #[arg(long, short = 'i', default_value = "-")]
        input: PathBuf,
        /// Where to write the result (`-` for standard output).
        #[arg(long, short = 'o', default_value = "-")]
        output: PathBuf,
        /// Records per plugin call.
        #[arg(long, default_value_t = 1024)]
        batch_size: usize,
        /// Write keys with their schemas (`key.converter.schemas.enable`).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        key_schemas: bool,
        /// Write values with their schemas (`value.converter.schemas.enable`).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        value_schemas: bool,
        /// Directory for compiled plugins (default: the user's cache directory).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Lists the plugins of a plugin directory: world, size, content hash, and what running
    /// connectors recorded (load times, versions, users, reloads, the last rejected version).
    List {
        /// The plugin directory (default: $TIDEMARK_PLUGIN_PATH, else ./plugins).
        dir: Option<PathBuf>,
        /// Directory for compiled plugins (default: the user's cache directory).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Writes a ready-to-build plugin project: source, SDK, WIT and tidemark-plugin.json.
    New {
        /// The plugin's name (lower-case letters, digits, '-'): the component is `<name>.wasm`.
        name: String,
        /// The language: rust, python, js or c.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// What the plugin is: transform or sink.
        #[arg(long, default_value = "transform")]
        kind: String,
        /// Where to write the project (default: ./<name>).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Builds a plugin project (a directory with tidemark-plugin.json) into a component,
    /// with its language's toolchain.
    Build {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the component (default: DIR/build/<name>.wasm).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Only check that the language's toolchain is installed (the error says what is
        /// missing and how to install it).
        #[arg(long)]
        check: bool,
    },
    /// Prints a plugin's world, exports, imports, size and content hash.
    Inspect {
        /// The plugin file.
        plugin: PathBuf,
        /// Directory for compiled plugins (default: the user's cache directory).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

/// Runs a `plugin` subcommand.
pub fn run(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New {
            name,
            lang,
            kind,
            dir,
        } => {
            let dir = super::scaffold::new(&name, &lang, &kind, dir)?;
            println!(
                "wrote the {lang} {kind} plugin '{name}' to {}; build it with `tidemark plugin build {}`",
                dir.display(),
                dir.display()
            );
            Ok(())
        }
        PluginCommand::Build {
            dir, check: true, ..
        } => {
            let lang = super::build::check(&dir)?;
            println!("the {lang} toolchain is installed");
            Ok(())
        }
        PluginCommand::Build { dir, output, .. } => {
            let built = super::build::build(&dir, output)?;
            println!("{}", built.display());
            Ok(())
        }
        PluginCommand::List { dir, cache_dir } => {
            let dir = dir
                .or_else(|| std::env::var_os("TIDEMARK_PLUGIN_PATH").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("plugins"));
            list(&dir, cache_dir)
        }
        PluginCommand::Test {
            plugins,
            config,
            input,
            output,
            batch_size,
            key_schemas,
            value_schemas,
            cache_dir,
        } => {
            if batch_size == 0 {
                bail!("--batch-size must be at least 1");
            }
            let runtime = runtime(cache_dir)?;
            let loaded = plugins
                .iter()
                .map(|p| runtime.load_file(p))
                .collect::<Result<Vec<_>, _>>()?;
            let names: Vec<String> = loaded.iter().map(|p| p.name.clone()).collect();
            let configs = split_config(&names, &config)?;
            let steps = loaded
                .into_iter()
                .zip(configs)
                .map(|(plugin, config)| Step::new(plugin, config))
                .collect();
            let mut chain = Chain::new(&runtime, steps)?;
            let options = JsonOptions {
                key_schemas,
                value_schemas,
                ..JsonOptions::default()
            };
            transform_lines(&mut chain, &input, &output, batch_size, options)
        }
        PluginCommand::Inspect { plugin, cache_dir } => {
            let runtime = runtime(cache_dir)?;
            let p = runtime.load_file(&plugin)?;
            println!("name:    {}", p.name);
            println!("world:   tidemark:plugin/{}@0.1.0", p.world.name());
            println!("size:    {} bytes", p.size);
            println!("sha256:  {}", p.hash);
            println!("exports: {}", p.exports.join(", "));
            println!("imports: {}", p.imports.join(", "));
            print_keys(&p)?;
            Ok(())
        }
    }
}

/// Prints the keys a plugin declares (its `config-schema` export), one a line.
fn print_keys(plugin: &tidemark::plugin::Plugin) -> anyhow::Result<()> {
    let Some(declaration) = plugin.declaration()? else {
        println!("keys:    not declared (its configuration is not checked before configure)");
        return Ok(());
    };
    println!("keys:");
    for key in declaration.def().keys() {
        let mut about = vec![key.kind.connect_name().to_owned()];
        match &key.default {
            tidemark::config::DefaultValue::Required(_) => about.push("required".into()),
            tidemark::config::DefaultValue::Value(v) => about.push(format!("default {v:?}")),
            tidemark::config::DefaultValue::None => {}
        }
        if let Some(accepted) = key.accepted() {
            about.push(accepted);
        }
        println!(
            "  {} ({}): {}",
            key.name,
            about.join(", "),
            key.documentation
        );
    }
    Ok(())
}

/// Prints the plugins of a directory with what running connectors recorded about them.
fn list(dir: &std::path::Path, cache_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the plugin directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    let state = tidemark::plugin::read_state(dir);
    let runtime = runtime(cache_dir)?;
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match runtime.load_file(&file) {
            Ok(p) => println!(
                "{name}: {} plugin, {} bytes, sha256 {}",
                p.world.name(),
                p.size,
                &p.hash[..16]
            ),
            Err(error) => println!("{name}: not loadable: {error}"),
        }
        let Some(known) = state.get(&name) else {
            println!("  not used by a running connector");
            continue;
        };
        // Each connector with the version it runs.
        let users: Vec<String> = known
            .users
            .iter()
            .map(|user| match known.live.get(user) {
                Some(hash) => format!("{user} ({})", &hash[..hash.len().min(16)]),
                None => user.clone(),
            })
            .collect();
        println!("  used by: {}", users.join(", "));
        println!(
            "  reloads: {}, rejected versions: {}, swaps to optimized code: {}",
            known.reloads, known.rejected, known.upgrades
        );
        for v in &known.versions {
            let status = match v.accepted {
                Some(true) => "live or was live",
                Some(false) => "rejected",
                None => "being validated",
            };
            println!(
                "  version {} loaded at {} ms (in {:.1} ms, {} code): {status}",
                &v.hash[..16],
                v.loaded_at_ms,
                v.load_ms,
                v.tier.name()
            );
        }
        if let Some(error) = &known.last_error {
            println!("  last rejection: {error}");
        }
    }
    Ok(())
}

fn runtime(cache_dir: Option<PathBuf>) -> anyhow::Result<Runtime> {
    let mut options = RuntimeOptions::default();
    if let Some(dir) = cache_dir {
        options.cache_dir = Some(dir);
    }
    Ok(Runtime::new(options)?)
}

/// Sorts `key=value` settings to the plugins they are meant for.
fn split_config(
    names: &[String],
    settings: &[String],
) -> anyhow::Result<Vec<BTreeMap<String, String>>> {
    let mut configs = vec![BTreeMap::new(); names.len()];
    for setting in settings {
        let Some((key, value)) = setting.split_once('=') else {
            bail!("--config {setting:?} is not of the form key=value");
        };
        let target = key.split_once('.').and_then(|(prefix, rest)| {
            let by_position = prefix
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=names.len()).contains(n))
                .map(|n| n - 1);
            by_position
                .or_else(|| names.iter().position(|n| n == prefix))
                .map(|i| (i, rest))
        });
        match target {
            Some((i, rest)) => {
                configs[i].insert(rest.to_owned(), value.to_owned());
            }
            None => {
                for config in &mut configs {
                    config.insert(key.to_owned(), value.to_owned());
                }
            }
        }
    }
    Ok(configs)
}

fn transform_lines(
    chain: &mut Chain,
    input: &PathBuf,
    output: &PathBuf,
    batch_size: usize,
    options: JsonOptions,
) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = if input.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(input)
                .with_context(|| format!("cannot open {}", input.display()))?,
        ))
    };
    let mut writer: Box<dyn Write> = if output.as_os_str() == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(BufWriter::new(std::fs::File::create(output).with_context(
            || format!("cannot create {}", output.display()),
        )?))
    };
    let mut batch: Vec<Record> = Vec::with_capacity(batch_size);
    let mut line_out = String::new();
    let mut flush = |batch: &mut Vec<Record>, writer: &mut dyn Write| -> anyhow::Result<()> {
        for record in chain.process(std::mem::take(batch))? {
            line_out.clear();
            event::write_line(&mut line_out, &record, options);
            line_out.push('\n');
            writer.write_all(line_out.as_bytes())?;
        }
        Ok(())
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", input.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = event::read_line(&line)
            .with_context(|| format!("{} line {}", input.display(), n + 1))?;
        batch.push(record);
        if batch.len() == batch_size {
            flush(&mut batch, &mut writer)?;
        }
    }
    flush(&mut batch, &mut writer)?;
    writer.flush()?;
    Ok(())
}
