//! Prometheus text exposition of the connectors' counters (labelled `connector` and `task`,
//! as Connect's task metrics are) and their plugins' reload history.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use crate::pipeline::PipelineStats;
use crate::plugin::{Compilations, PluginState};

/// Renders the metrics of the running `connectors` (name and counters), of the plugins in
/// `plugins`, and the `compilations` of the shared plugin runtime's engines.
pub fn render(
    connectors: &[(String, &PipelineStats)],
    plugins: &BTreeMap<String, PluginState>,
    compilations: &[Compilations],
) -> String {
    let mut out = String::new();
    // Each connector runs one task, task 0, as Connect's task metrics name it.
    let labels: Vec<[(&str, &str); 2]> = connectors
        .iter()
        .map(|(name, _)| [("connector", name.as_str()), ("task", "0")])
        .collect();
    let per_connector = |value: &dyn Fn(&PipelineStats) -> u64| -> Vec<(&[(&str, &str)], u64)> {
        labels
            .iter()
            .zip(connectors)
            .map(|(labels, (_, stats))| (labels.as_slice(), value(stats)))
            .collect()
    };
    counter(
        &mut out,
        "tidemark_records_in_total",
        "Records the source handed to the pipeline.",
        &per_connector(&|s| s.records_in.load(Relaxed)),
    );
    counter(
        &mut out,
        "tidemark_records_out_total",
        "Records written to the sink (dead letters included).",
        &per_connector(&|s| s.records_out.load(Relaxed)),
    );
    counter(
        &mut out,
        "tidemark_offset_commits_total",
        "Offset commits after a sink flush.",
        &per_connector(&|s| s.commits.load(Relaxed)),
    );
    counter(
        &mut out,
        "tidemark_source_reconnects_total",
        "Reconnects of the source after a retriable failure (the connector stays RUNNING meanwhile).",
        &per_connector(&|s| s.reconnects.load(Relaxed)),
    );

    let names: Vec<[(&str, &str); 1]> = plugins.keys().map(|n| [("plugin", n.as_str())]).collect();
    let per_plugin = |value: &dyn Fn(&PluginState) -> u64| -> Vec<(&[(&str, &str)], u64)> {
        names
            .iter()
            .zip(plugins.values())
            .map(|(labels, state)| (labels.as_slice(), value(state)))
            .collect()
    };
    counter(
        &mut out,
        "tidemark_plugin_reloads_total",
        "New plugin versions swapped in while running.",
        &per_plugin(&|s| s.reloads),
    );
    counter(
        &mut out,
        "tidemark_plugin_upgrades_total",
        "New plugin versions that went live with baseline code and were then swapped for their optimized code.",
        &per_plugin(&|s| s.upgrades),
    );
    counter(
        &mut out,
        "tidemark_plugin_reload_failures_total",
        "New plugin versions rejected (invalid, wrong world, configure error or canary failure).",
        &per_plugin(&|s| s.rejected),
    );
    gauge(
        &mut out,
        "tidemark_plugin_versions",
        "Versions of the plugin seen since the start.",
        &per_plugin(&|s| s.versions.len() as u64),
    );
    let errors: Vec<[(&str, &str); 2]> = plugins
        .iter()
        .filter_map(|(name, s)| {
            s.last_error
                .as_deref()
                .map(|e| [("plugin", name.as_str()), ("error", e)])
        })
        .collect();
    gauge(
        &mut out,
        "tidemark_plugin_last_reload_error",
        "Why the plugin's last rejected version was rejected (1 while there is one).",
        &errors.iter().map(|l| (l.as_slice(), 1)).collect::<Vec<_>>(),
    );
    let engines: Vec<[(&str, &str); 2]> = compilations
        .iter()
        .map(|c| {
            [
                ("tier", c.tier.name()),
                ("metered", if c.metered { "true" } else { "false" }),
            ]
        })
        .collect();
    counter(
        &mut out,
        "tidemark_plugin_compilations_total",
        "Plugin components compiled (not found in a cache) by the process's shared runtime, per engine: each version once for all connectors.",
        &engines
            .iter()
            .zip(compilations)
            .map(|(labels, c)| (labels.as_slice(), c.count))
            .collect::<Vec<_>>(),
    );
    out
}

fn counter(out: &mut String, name: &str, help: &str, samples: &[(&[(&str, &str)], u64)]) {
    family(out, name, "counter", help, samples);
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(&[(&str, &str)], u64)]) {
    family(out, name, "gauge", help, samples);
}

fn family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: &[(&[(&str, &str)], u64)],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// A label value as the exposition format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Version;

    #[test]
    fn renders_counters_and_escaped_errors() {
        let stats = PipelineStats::default();
        stats.records_in.store(7, Relaxed);
        let mut plugins = BTreeMap::new();
        plugins.insert(
            "stamp".to_owned(),
            PluginState {
                versions: vec![
                    Version {
                        hash: "a".into(),
                        loaded_at_ms: 0,
                        load_ms: 1.0,
                        accepted: Some(true),
                        tier: Default::default(),
                    },
                    Version {
                        hash: "b".into(),
                        loaded_at_ms: 0,
                        load_ms: 1.0,
                        accepted: Some(false),
                        tier: Default::default(),
                    },
                ],
                users: Default::default(),
                live: Default::default(),
                reloads: 3,
                rejected: 1,
                last_error: Some("bad \"world\"\nline".into()),
                upgrades: 2,
            },
        );
        let other = PipelineStats::default();
        let compilations = [Compilations {
            tier: crate::plugin::Tier::Baseline,
            metered: false,
            count: 2,
        }];
        let text = render(
            &[("c1".into(), &stats), ("c2".into(), &other)],
            &plugins,
            &compilations,
        );
        assert_eq!(text.matches("# TYPE tidemark_records_in_total").count(), 1);
        assert!(text.contains("tidemark_records_in_total{connector=\"c2\",task=\"0\"} 0\n"));
        assert!(text.contains("tidemark_records_in_total{connector=\"c1\",task=\"0\"} 7\n"));
        assert!(text.contains("tidemark_plugin_reloads_total{plugin=\"stamp\"} 3\n"));
        assert!(text.contains(
            "tidemark_plugin_compilations_total{tier=\"baseline\",metered=\"false\"} 2\n"
        ));
        assert!(text.contains("tidemark_plugin_reload_failures_total{plugin=\"stamp\"} 1\n"));
        assert!(text.contains("tidemark_plugin_upgrades_total{plugin=\"stamp\"} 2\n"));
        assert!(text.contains(
            "tidemark_plugin_last_reload_error{plugin=\"stamp\",error=\"bad \\\"world\\\"\\nline\"} 1\n"
        ));
    }
}
