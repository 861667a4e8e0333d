//! Replication from an upstream Pulp (pulpcore's `replicate`): the stored upstreams
//! ([`records`]), a client of the upstream's API ([`UpstreamClient`]), the [`Replicator`]s
//! plugins declare, and the tasks of a replication's task group ([`tasks`]). No HTTP
//! serving here: the REST layer (`api::replication`) stores upstreams and dispatches.

pub mod records;
mod replicator;
pub mod tasks;
mod upstream;

pub use records::{Policy, UpstreamPulp};
pub(crate) use replicator::{Erased, ErasedReplicator};
pub use replicator::{LocalObject, ReplicatedTypes, Replicator};
pub use tasks::{register_tasks, FINALIZE_TASK, MULTI_DELETE_TASK, REPLICATE_TASK};
pub use upstream::UpstreamClient;

use crate::db::DbError;
use crate::models::ModelError;

/// The label replication puts on what it creates: the upstream's id.
pub const UPSTREAM_LABEL: &str = "UpstreamPulp";

/// What can go wrong while replicating.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// A model could not be read or written.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The upstream could not be read.
    #[error("Replication from the upstream Pulp {base_url} failed: {message}")]
    Upstream {
        /// The upstream's base URL.
        base_url: String,
        /// What went wrong.
        message: String,
    },
    /// A local object could not be made from what the upstream has.
    #[error("invalid object: {0}")]
    Invalid(String),
}

impl ReplicationError {
    /// An upstream failure.
    pub fn upstream(base_url: &str, message: impl Into<String>) -> Self {
        ReplicationError::Upstream {
            base_url: base_url.to_string(),
            message: message.into(),
        }
    }
}

/// The replicators the plugins declared (in [`crate::plugin::Registry`]).
#[derive(Clone, Default)]
pub struct Replicators {
    pub(crate) all: Vec<std::sync::Arc<dyn ErasedReplicator>>,
}

impl std::fmt::Debug for Replicators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.all.iter().map(|r| r.distributions()))
            .finish()
    }
}

impl Replicators {
    /// Adds `replicator` (replacing one of the same distribution type).
    pub fn add<R: Replicator>(&mut self, replicator: R) {
        let erased: std::sync::Arc<dyn ErasedReplicator> = std::sync::Arc::new(Erased(replicator));
        self.all
            .retain(|r| r.types().distribution != erased.types().distribution);
        self.all.push(erased);
    }

    /// The local types of every declared replicator.
    pub fn types(&self) -> Vec<ReplicatedTypes> {
        self.all.iter().map(|r| r.types()).collect()
    }
}
