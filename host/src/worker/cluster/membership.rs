//! Membership in the worker group through Kafka's group coordinator: every worker joins a
//! consumer group (`group.id`, librdkafka's classic protocol with the cooperative-sticky
//! assignor) on the assignment topic, whose partitions are connector slots. Owning a
//! partition is owning the connectors of that slot.
//!
//! The cooperative protocol gives the ordering a connector needs to run on one worker at a
//! time: a slot that moves is first revoked from its owner, whose callback returns only when
//! the slot's connectors have stopped (final flush and commit), and only then handed to the
//! next owner. A worker that lost its membership (its session expired while it was frozen or
//! cut off) learns it in the same callback, marked lost, and stops at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::ClusterError;
use crate::config::cluster::ClusterConfig;
use crate::kafka::ClientSettings;

/// What the group hands out and takes back.
pub trait SlotOwner: Send + Sync + 'static {
    /// These slots are now this worker's: start their connectors (without blocking).
    fn assigned(&self, slots: Vec<i32>);
    /// These slots are no longer this worker's: stop their connectors before returning.
    /// `lost`: the group already gave them away (the session expired), so another worker
    /// may run them now.
    fn revoked(&self, slots: Vec<i32>, lost: bool);
}

/// The group consumer's callbacks.
struct Group {
    owner: Arc<dyn SlotOwner>,
    /// Set when the client can no longer take part (another worker took this one's
    /// `group.instance.id`).
    fenced: AtomicBool,
}

fn slots(partitions: &TopicPartitionList) -> Vec<i32> {
    partitions
        .elements()
        .iter()
        .map(|p| p.partition())
        .collect()
}

impl ClientContext for Group {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(facility = fac, "worker group: {log_message}")
            }
            _ => tracing::debug!(facility = fac, "worker group: {log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::FencedInstanceId) {
            self.fenced.store(true, Ordering::Release);
            tracing::error!(
                "worker group: another worker joined with this worker's id \
                 (group.instance.id): this one stops its connectors ({reason})"
            );
            return;
        }
        tracing::warn!(%error, "worker group: {reason}");
    }
}

impl ConsumerContext for Group {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let lost = consumer.assignment_lost();
            let slots = slots(partitions);
            if lost {
                tracing::warn!(
                    ?slots,
                    "worker group: membership lost (session expired): stopping these slots' \
                     connectors, which other workers may run already"
                );
            } else {
                tracing::info!(?slots, "worker group: slots revoked");
            }
            self.owner.revoked(slots, lost);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                let slots = slots(partitions);
                tracing::info!(?slots, "worker group: slots assigned");
                self.owner.assigned(slots);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => tracing::warn!(%error, "worker group: rebalance failed"),
        }
    }
}

/// This worker's membership: a thread that polls the group consumer, on which the
/// rebalance callbacks run.
pub struct Membership {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Membership {
    /// Joins the group as worker `worker_id`. With `scheduled.rebalance.max.delay.ms` above
    /// 0 the worker is a static member (its id is its `group.instance.id`): when it leaves,
    /// its slots wait for it that long (the session timeout is raised to the delay) instead
    /// of moving at once.
    pub fn join(
        kafka: &ClientSettings,
        cluster: &ClusterConfig,
        worker_id: &str,
        owner: Arc<dyn SlotOwner>,
    ) -> Result<Membership, ClusterError> {
        let millis = |d: Duration| d.as_millis().to_string();
        let session = if cluster.rebalance_delay.is_zero() {
            cluster.session_timeout
        } else {
            cluster.session_timeout.max(cluster.rebalance_delay)
        };
        let mut config = kafka.client(&[
            ("group.id", &cluster.group_id),
            ("group.protocol", "classic"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("session.timeout.ms", &millis(session)),
            ("heartbeat.interval.ms", &millis(cluster.heartbeat_interval)),
            ("max.poll.interval.ms", &millis(cluster.rebalance_timeout)),
            // Slots added for new connectors are seen within a second.
            ("topic.metadata.refresh.interval.ms", "1000"),
            ("client.id", &format!("tidemark-{worker_id}")),
        ]);
        if !cluster.rebalance_delay.is_zero() {
            config.set("group.instance.id", worker_id);
        }
        let group = Group {
            owner,
            fenced: AtomicBool::new(false),
        };
        let consumer: BaseConsumer<Group> =
            config
                .create_with_context(group)
                .map_err(|e| ClusterError::Group {
                    group: cluster.group_id.clone(),
                    reason: format!("cannot create its consumer: {e}"),
                })?;
        consumer
            .subscribe(&[&cluster.assignment_topic])
            .map_err(|e| ClusterError::Group {
                group: cluster.group_id.clone(),
                reason: format!("cannot join: {e}"),
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("worker-group".into())
            .spawn({
                let stop = stop.clone();
                move || poll(consumer, &stop)
            })
            .map_err(|e| ClusterError::Group {
                group: cluster.group_id.clone(),
                reason: format!("cannot start its thread: {e}"),
            })?;
        Ok(Membership {
            stop,
            thread: Some(thread),
        })
    }

    /// Leaves the group: the slots are revoked (their connectors stopped) and, for a
    /// dynamic member, handed to the other workers at once.
    pub fn leave(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The group thread: polls until told to stop, then closes the consumer (which revokes its
/// slots through the callback).
fn poll(consumer: BaseConsumer<Group>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        if let Some(Err(error)) = consumer.poll(Duration::from_millis(100)) {
            tracing::warn!(%error, "worker group");
        }
        if consumer.context().fenced.load(Ordering::Acquire) {
            let slots = consumer.assignment().map(|a| slots(&a)).unwrap_or_default();
            consumer.context().owner.revoked(slots, true);
            return;
        }
    }
    consumer.unsubscribe();
    // Dropping the consumer closes it, serving the revocation.
    drop(consumer);
}
