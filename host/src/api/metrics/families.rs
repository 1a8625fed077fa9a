//! Metric families gathered at scrape time, encoded by `prometheus-client` (a collector
//! registered in a registry made for the scrape).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::sources::metrics::Histogram;

/// Labels of one sample: (name, value) pairs.
pub type Labels = Vec<(String, String)>;

/// One sample's value.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Float(f64),
    Histogram {
        sum: f64,
        count: u64,
        /// Per-bucket (not cumulative) counts by upper bound.
        buckets: Vec<(f64, u64)>,
    },
}

impl Value {
    /// A histogram's current buckets.
    pub fn histogram(histogram: &Histogram) -> Value {
        Value::Histogram {
            sum: histogram.sum(),
            count: histogram.count(),
            buckets: histogram.buckets(),
        }
    }
}

#[derive(Debug)]
struct Family {
    /// Without `_total` for a counter (the encoder adds it).
    name: String,
    help: String,
    kind: MetricType,
    samples: Vec<(Labels, Value)>,
}

/// The families of one scrape, in the order they were added.
#[derive(Debug, Default)]
pub struct Families(Vec<Family>);

impl Families {
    /// A counter family; `name` without `_total`.
    pub fn counter(&mut self, name: &str, help: &str, samples: Vec<(Labels, Value)>) {
        self.add(name, help, MetricType::Counter, samples);
    }

    /// A gauge family.
    pub fn gauge(&mut self, name: &str, help: &str, samples: Vec<(Labels, Value)>) {
        self.add(name, help, MetricType::Gauge, samples);
    }

    /// A histogram family (samples made with [`Value::histogram`]).
    pub fn histogram(&mut self, name: &str, help: &str, samples: Vec<(Labels, Value)>) {
        self.add(name, help, MetricType::Histogram, samples);
    }

    fn add(&mut self, name: &str, help: &str, kind: MetricType, samples: Vec<(Labels, Value)>) {
        self.0.push(Family {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            samples,
        });
    }

    /// The Prometheus text (0.0.4) of every family that has samples.
    pub fn encode(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in self.0.iter().filter(|f| !f.samples.is_empty()) {
            let mut metric =
                encoder.encode_descriptor(&family.name, &family.help, None, family.kind)?;
            for (labels, value) in &family.samples {
                let mut sample = metric.encode_family(labels)?;
                match (family.kind, value) {
                    (MetricType::Counter, Value::Int(v)) => sample
                        .encode_counter::<NoLabelSet, _, u64>(&(*v).max(0).cast_unsigned(), None)?,
                    (MetricType::Counter, Value::Float(v)) => {
                        sample.encode_counter::<NoLabelSet, _, u64>(v, None)?
                    }
                    (_, Value::Int(v)) => sample.encode_gauge(v)?,
                    (_, Value::Float(v)) => sample.encode_gauge(v)?,
                    (
                        _,
                        Value::Histogram {
                            sum,
                            count,
                            buckets,
                        },
                    ) => sample.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?,
                }
            }
        }
        Ok(())
    }
}
