use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::*;
use crate::plugin::Version;
use crate::sources::metrics::SnapshotStatus;

fn stamp_plugin() -> PluginState {
    let version = |hash: &str, accepted| Version {
        hash: hash.into(),
        loaded_at_ms: 0,
        load_ms: 1.0,
        accepted: Some(accepted),
        tier: Default::default(),
    };
    PluginState {
        versions: vec![version("a", true), version("b", false)],
        users: Default::default(),
        live: Default::default(),
        reloads: 3,
        rejected: 1,
        last_error: Some("bad \"world\"\nline".into()),
        upgrades: 2,
    }
}

#[test]
fn renders_connector_plugin_and_engine_families() {
    let stats = PipelineStats::default();
    stats.records_in.store(7, Relaxed);
    let other = PipelineStats::default();
    let plugins = BTreeMap::from([("stamp".to_owned(), stamp_plugin())]);
    let compilations = [Compilations {
        tier: crate::plugin::Tier::Baseline,
        metered: false,
        count: 2,
    }];
    let view = |name, state, pipeline| ConnectorView {
        name,
        state,
        pipeline: Some(pipeline),
        source: None,
        usage: None,
    };
    let text = render(
        &[
            view("c1", State::Running, &stats),
            view("c2", State::Failed, &other),
        ],
        &plugins,
        &compilations,
    );
    assert_eq!(
        text.matches("# TYPE tidemark_records_in_total").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("tidemark_records_in_total{connector=\"c2\",task=\"0\"} 0\n"),
        "{text}"
    );
    assert!(text.contains("tidemark_records_in_total{connector=\"c1\",task=\"0\"} 7\n"));
    assert!(text.contains("tidemark_connector_state{connector=\"c2\",state=\"FAILED\"} 1\n"));
    assert!(text.contains("tidemark_plugin_reloads_total{plugin=\"stamp\"} 3\n"));
    assert!(
        text.contains(
            "tidemark_plugin_compilations_total{tier=\"baseline\",metered=\"false\"} 2\n"
        )
    );
    assert!(text.contains("tidemark_plugin_reload_failures_total{plugin=\"stamp\"} 1\n"));
    assert!(text.contains("tidemark_plugin_upgrades_total{plugin=\"stamp\"} 2\n"));
    assert!(text.contains("tidemark_plugin_reload_error{plugin=\"stamp\"} 1\n"));
    assert!(
        !text.contains("bad \\\"world"),
        "no free text in labels: {text}"
    );
}

#[test]
fn renders_debezium_metrics_and_the_lag_of_a_source() {
    let stats = PipelineStats::default();
    let source = SourceMetrics::new("postgres", "shop", 8192);
    let scans = source
        .snapshot
        .start(vec!["public.a".into(), "public.b".into()]);
    scans[0].row();
    scans[0].row();
    scans[0].finished();
    source.streaming.connected.store(true, Relaxed);
    let scrape = || {
        render(
            &[ConnectorView {
                name: "c",
                state: State::Running,
                pipeline: Some(&stats),
                source: Some(&source),
                usage: Some(DatabaseUsage::Slot {
                    slot: "s".into(),
                    held_bytes: Some(42),
                    retained_bytes: Some(50),
                    wal_status: Some("reserved".into()),
                }),
            }],
            &BTreeMap::new(),
            &[],
        )
    };
    let text = scrape();
    let labels = |context: &str| {
        format!("connector=\"c\",context=\"{context}\",name=\"shop\",plugin=\"postgres\"")
    };
    for line in [
        format!(
            "debezium_metrics_SnapshotRunning{{{}}} 1",
            labels("snapshot")
        ),
        format!(
            "debezium_metrics_TotalTableCount{{{}}} 2",
            labels("snapshot")
        ),
        format!(
            "debezium_metrics_RemainingTableCount{{{}}} 1",
            labels("snapshot")
        ),
        format!(
            "debezium_metrics_RowsScanned{{{},table=\"public.a\"}} 2",
            labels("snapshot")
        ),
        format!("debezium_metrics_Connected{{{}}} 1", labels("streaming")),
        format!(
            "debezium_metrics_MilliSecondsBehindSource{{{}}} -1",
            labels("streaming")
        ),
        format!(
            "debezium_metrics_QueueTotalCapacity{{{}}} 8192",
            labels("streaming")
        ),
        "tidemark_source_lag_seconds{connector=\"c\",task=\"0\"} 0.0".to_owned(),
        "tidemark_end_to_end_latency_seconds_count{connector=\"c\",task=\"0\"} 0".to_owned(),
        "tidemark_pg_slot_wal_held_bytes{connector=\"c\",slot=\"s\"} 42".to_owned(),
        "tidemark_pg_slot_wal_status{connector=\"c\",slot=\"s\",status=\"reserved\"} 1".to_owned(),
    ] {
        assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
    }
    source.snapshot.end(SnapshotStatus::Completed);
    let text = scrape();
    assert!(text.contains(&format!(
        "debezium_metrics_SnapshotCompleted{{{}}} 1\n",
        labels("snapshot")
    )));
}
