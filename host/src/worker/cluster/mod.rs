//! Distributed mode: workers with the same `group.id` share the connectors through Kafka,
//! as Kafka Connect's distributed workers do.
//!
//! - [`log`]: a compacted topic followed from its beginning (Connect's `KafkaBasedLog`).
//! - [`records`]: the config and status topics' records, in Connect's format.
//! - [`membership`]: the worker group (Kafka's group coordinator), which hands out
//!   connector slots one worker at a time.
//!
//! The config topic is the one place configs live: a REST write on any worker goes
//! straight to it, and every worker (the writer too) acts on it as it reads it. Each
//! connector has a slot, chosen when it is created (the lowest free one) and kept in its
//! config record; the assignment topic has one partition per slot, so the group balances
//! connectors by count. The status topic holds every connector's status, written by its
//! owner, so every worker answers for every connector.

pub mod log;
pub mod membership;
pub mod records;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::cluster::ClusterConfig;
use crate::kafka::{Admin, ClientSettings, TopicSettings};
use crate::worker::Status;
use log::{Reader, TopicLog};
use membership::Membership;
use records::StatusView;

/// How long reading a worker topic to its end may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong with the worker group or its topics.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A worker topic cannot be created, read or written (an outage: retriable).
    #[error("Kafka topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
    /// The worker cannot take part in its group (fatal: its settings need changing).
    #[error("worker group {group}: {reason}")]
    Group { group: String, reason: String },
}

impl ClusterError {
    /// Whether trying again later may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ClusterError::Topic { .. })
    }
}

/// The worker's part of its group: its topics, the statuses read from the status topic and
/// its membership.
pub struct Cluster {
    pub config: ClusterConfig,
    configs: TopicLog,
    statuses: TopicLog,
    view: Arc<Mutex<StatusView>>,
    admin: Admin,
    membership: Mutex<Option<Membership>>,
}

fn compacted(partitions: i32, replication_factor: i32) -> TopicSettings {
    TopicSettings {
        partitions,
        replication_factor,
        configs: BTreeMap::from([("cleanup.policy".to_owned(), "compact".to_owned())]),
    }
}

impl Cluster {
    /// Creates the worker topics unless they exist and follows them: the status topic into
    /// the status view, the config topic into `config_reader`. Both are read to their end
    /// before this returns. The group is joined later ([`Cluster::join`]).
    pub fn open(
        kafka: &ClientSettings,
        config: ClusterConfig,
        config_reader: Reader,
    ) -> Result<Cluster, ClusterError> {
        let admin = Admin::new(&kafka.client(&[("allow.auto.create.topics", "false")])).map_err(
            |reason| ClusterError::Group {
                group: config.group_id.clone(),
                reason,
            },
        )?;
        let assignment = TopicSettings {
            partitions: 1,
            replication_factor: config.config_replication,
            configs: BTreeMap::new(),
        };
        admin
            .create_topic(&config.assignment_topic, &assignment)
            .map_err(|reason| ClusterError::Topic {
                topic: config.assignment_topic.clone(),
                reason,
            })?;
        let view = Arc::new(Mutex::new(StatusView::default()));
        let statuses = TopicLog::open(
            kafka,
            &config.status_topic,
            &compacted(config.status_partitions, config.status_replication),
            status_reader(view.clone()),
        )?;
        statuses.read_to_end(READ_TIMEOUT)?;
        // Connect refuses a config topic of more than one partition: the order of its
        // records is the order of the changes.
        let configs = TopicLog::open(
            kafka,
            &config.config_topic,
            &compacted(1, config.config_replication),
            config_reader,
        )?;
        configs.read_to_end(READ_TIMEOUT)?;
        Ok(Cluster {
            config,
            configs,
            statuses,
            view,
            admin,
            membership: Mutex::new(None),
        })
    }

    /// Joins the group: from now on `owner` is handed slots and asked to give them back.
    pub fn join(
        &self,
        kafka: &ClientSettings,
        worker_id: &str,
        owner: Arc<dyn membership::SlotOwner>,
    ) -> Result<(), ClusterError> {
        let membership = Membership::join(kafka, &self.config, worker_id, owner)?;
        if let Ok(mut slot) = self.membership.lock() {
            *slot = Some(membership);
        }
        Ok(())
    }

    /// Leaves the group (its slots' connectors are stopped through the owner) and stops
    /// following the topics.
    pub fn leave(&self) {
        let membership = self.membership.lock().ok().and_then(|mut m| m.take());
        if let Some(mut membership) = membership {
            membership.leave();
        }
        let _ = self.statuses.flush();
        self.configs.close();
        self.statuses.close();
    }

    /// Writes config records (`None`: a tombstone) in order and waits until this worker has
    /// read (and acted on) them.
    pub fn write_configs(&self, records: &[(String, Option<String>)]) -> Result<(), ClusterError> {
        for (key, value) in records {
            self.configs.send(key, value.as_deref())?;
        }
        self.configs.flush()?;
        self.configs.read_to_end(READ_TIMEOUT)
    }

    /// Waits until every config record written so far (by any worker) has been acted on.
    pub fn read_configs(&self) -> Result<(), ClusterError> {
        self.configs.read_to_end(READ_TIMEOUT)
    }

    /// Waits until every status written so far has been read.
    pub fn read_statuses(&self) -> Result<(), ClusterError> {
        self.statuses.read_to_end(READ_TIMEOUT)
    }

    /// Makes sure the assignment topic has a partition for every slot below `slots`.
    pub fn ensure_slots(&self, slots: usize) -> Result<(), ClusterError> {
        self.admin
            .grow(&self.config.assignment_topic, slots)
            .map_err(|reason| ClusterError::Topic {
                topic: self.config.assignment_topic.clone(),
                reason,
            })
    }

    /// A connector's status as its owner last wrote it.
    pub fn status(&self, name: &str) -> Option<Status> {
        self.view.lock().ok().and_then(|v| v.status(name))
    }

    /// The highest generation of a connector's statuses: its next owner writes one more.
    pub fn generation(&self, name: &str) -> i32 {
        self.view.lock().map_or(0, |v| v.generation(name))
    }

    /// Sends a connector's status (`None`: deleted), as `worker_id` in `generation`.
    pub fn publish(
        &self,
        name: &str,
        status: Option<&Status>,
        worker_id: &str,
        generation: i32,
    ) -> Result<(), ClusterError> {
        let connector_key = records::connector_status_key(name);
        let task_key = records::task_status_key(name);
        let Some(status) = status else {
            self.statuses.send(&connector_key, None)?;
            return self.statuses.send(&task_key, None);
        };
        tracing::debug!(connector = %name, state = ?status.state, generation, "writing a status");
        let (connector, task) = records::status_records(status, worker_id, generation);
        self.statuses
            .send(&connector_key, Some(&records::status_value(&connector)))?;
        match task {
            Some(task) => self
                .statuses
                .send(&task_key, Some(&records::status_value(&task))),
            None => self.statuses.send(&task_key, None),
        }
    }

    /// Waits until the broker has every status sent.
    pub fn flush_statuses(&self) -> Result<(), ClusterError> {
        self.statuses.flush()
    }
}

/// Reads the status topic into `view`.
fn status_reader(view: Arc<Mutex<StatusView>>) -> Reader {
    Box::new(move |key, value| {
        let Some(which) = records::parse_status_key(key) else {
            return;
        };
        let record = match value.map(|v| records::parse_status(key, v)) {
            None => None,
            Some(Ok(record)) => Some(record),
            Some(Err(problem)) => {
                tracing::warn!("skipping a status record: {problem}");
                return;
            }
        };
        if let Some(record) = &record {
            tracing::debug!(key, state = ?record.state, worker = %record.worker_id,
                generation = record.generation, "read a status");
        }
        if let Ok(mut view) = view.lock() {
            view.apply(which, record);
        }
    })
}
