//! A connector's committed offsets over REST (Connect's KIP-875): read them, and alter or
//! reset them while it is stopped.

use serde_json::Value as Json;

use super::{State, Worker, WorkerError};
use crate::config::Properties;
use crate::offsets::{OffsetError, OffsetMap, OffsetStore, Partition};
use crate::pipeline::connector::OffsetScope;

impl Worker {
    /// The connector's offset scope and store, opened off the async workers.
    async fn offset_store(
        &self,
        name: &str,
        stopped_only: bool,
    ) -> Result<(OffsetScope, Box<dyn OffsetStore>), WorkerError> {
        let config = self.config(name).await?;
        let state = self.status(name).await?.state;
        if stopped_only && state != State::Stopped {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/{name}/stop' endpoint"
            )));
        }
        let mut merged = self.inner.defaults.clone();
        merged.extend(config);
        tokio::task::spawn_blocking(move || {
            let scope = OffsetScope::of(&Properties::from_pairs(merged))
                .map_err(|e| WorkerError::BadRequest(e.to_string()))?;
            let store = scope
                .open_store()
                .map_err(|e| WorkerError::Internal(e.to_string()))?;
            Ok((scope, store))
        })
        .await
        .map_err(|e| WorkerError::Internal(format!("reading offsets failed: {e}")))?
    }

    /// A connector's committed offsets, per source partition (Connect's KIP-875).
    pub async fn offsets(&self, name: &str) -> Result<Vec<Partition>, WorkerError> {
        let (scope, store) = self.offset_store(name, false).await?;
        tokio::task::spawn_blocking(move || store.offsets(&scope.name))
            .await
            .map_err(|e| WorkerError::Internal(format!("reading offsets failed: {e}")))?
            .map_err(|e| WorkerError::Internal(e.to_string()))
    }

    /// Sets (or, for `None`, removes) the offsets of a stopped connector's partitions. Each
    /// partition must be the connector's and each offset valid for its source.
    pub async fn alter_offsets(
        &self,
        name: &str,
        changes: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<(), WorkerError> {
        let (scope, mut store) = self.offset_store(name, true).await?;
        for (partition, offset) in &changes {
            if *partition != scope.partition {
                return Err(WorkerError::BadRequest(format!(
                    "the partition {} is not one of connector {name}'s: its only partition is {}",
                    Json::Object(partition.clone()),
                    Json::Object(scope.partition.clone())
                )));
            }
            if let Some(offset) = offset {
                scope.check(offset).map_err(|problem| {
                    WorkerError::BadRequest(format!(
                        "the offset {} is not valid: {problem}",
                        Json::Object(offset.clone())
                    ))
                })?;
            }
        }
        tokio::task::spawn_blocking(move || {
            for (partition, offset) in changes {
                match offset {
                    Some(offset) => store.commit(&scope.name, &partition, &offset)?,
                    None => store.reset(&scope.name, &partition)?,
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| WorkerError::Internal(format!("writing offsets failed: {e}")))?
        .map_err(|e: OffsetError| WorkerError::Internal(e.to_string()))
    }

    /// Removes every offset of a stopped connector: its next start follows `snapshot.mode`.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), WorkerError> {
        let (scope, mut store) = self.offset_store(name, true).await?;
        tokio::task::spawn_blocking(move || {
            for partition in store.offsets(&scope.name)? {
                store.reset(&scope.name, &partition.partition)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| WorkerError::Internal(format!("resetting offsets failed: {e}")))?
        .map_err(|e: OffsetError| WorkerError::Internal(e.to_string()))
    }
}
