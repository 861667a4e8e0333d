//! [`Replicator`]: what a plugin declares (`r.replicator(MyReplicator)`) to have the
//! upstream's distributions of its type replicated, and the type-erased form replication
//! works with.

use std::future::Future;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::{ReplicationError, UpstreamClient};
use crate::db::{Database, PulpId};
use crate::models::{self, Detail, DistributionKind, Labels, MasterKind, RemoteKind};
use crate::repository::RepositoryType;

/// How one plugin's distributions are replicated: the local types made for each upstream
/// distribution (a remote, a repository synced from it, a distribution at the same base
/// path) and the plugin-specific fields. Only [`Replicator::url`] must be written.
///
/// ```ignore
/// impl Replicator for FileReplicator {
///     type Remote = FileRemote;
///     type Repository = FileRepository;
///     type Distribution = FileDistribution;
///     const COMPONENT: &'static str = "file";
///     const DISTRIBUTIONS: &'static str = "distributions/file/file/";
///     async fn url(&self, upstream: &UpstreamClient, d: &Value) -> Result<Option<String>, ReplicationError> { … }
/// }
/// ```
pub trait Replicator: Send + Sync + 'static {
    /// The remote type made for each upstream distribution.
    type Remote: Detail<Kind = RemoteKind>;
    /// The repository type made (and synced with its registered sync task).
    type Repository: RepositoryType;
    /// The distribution type made.
    type Distribution: Detail<Kind = DistributionKind>;
    /// The component the upstream must list in its `/status/` (`file`); an upstream without
    /// it is skipped for this replicator.
    const COMPONENT: &'static str;
    /// The upstream's list of these distributions, below its API root
    /// (`distributions/file/file/`).
    const DISTRIBUTIONS: &'static str;

    /// The URL the remote of `distribution` (the upstream's JSON) syncs from; `None` when
    /// the distribution serves nothing (it is then left out, and removed locally per policy).
    fn url(
        &self,
        upstream: &UpstreamClient,
        distribution: &Value,
    ) -> impl Future<Output = Result<Option<String>, ReplicationError>> + Send;

    /// Fields of the remote besides `url`, `pulp_labels` and the upstream's TLS and
    /// download settings (REST names and values).
    fn remote_fields(&self, distribution: &Value) -> Map<String, Value> {
        let _ = distribution;
        Map::new()
    }

    /// Fields of the repository besides `pulp_labels`, from its remote's URL.
    fn repository_fields(&self, remote_url: &str) -> Map<String, Value> {
        let _ = remote_url;
        Map::new()
    }

    /// The arguments of the repository type's sync task.
    fn sync_args(&self, remote: PulpId, repository: PulpId) -> Value {
        json!({"remote_pk": remote, "repository_pk": repository, "mirror": true})
    }
}

/// A local remote, repository or distribution as replication compares it: its name, labels
/// and every field (master and detail) under its REST name.
#[derive(Debug, Clone)]
pub struct LocalObject {
    /// Its id.
    pub pulp_id: PulpId,
    /// Its href.
    pub href: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: Labels,
    /// Its fields.
    pub state: Map<String, Value>,
}

impl LocalObject {
    /// Whether every field of `wanted` already has that value.
    pub fn has(&self, wanted: &Map<String, Value>) -> bool {
        wanted.iter().all(|(key, value)| {
            if key == "pulp_labels" {
                serde_json::to_value(&self.labels).ok().as_ref() == Some(value)
            } else {
                self.state.get(key).unwrap_or(&Value::Null) == value
            }
        })
    }
}

/// The local types of a replicator (`(table, pulp_type)` each).
#[derive(Debug, Clone, Copy)]
pub struct ReplicatedTypes {
    /// The remote type.
    pub remote: &'static str,
    /// The repository type.
    pub repository: &'static str,
    /// The distribution type.
    pub distribution: &'static str,
}

/// A declared replicator, its types erased.
pub(crate) trait ErasedReplicator: Send + Sync {
    fn component(&self) -> &'static str;
    fn distributions(&self) -> &'static str;
    fn types(&self) -> ReplicatedTypes;
    fn url<'a>(
        &'a self,
        upstream: &'a UpstreamClient,
        distribution: &'a Value,
    ) -> BoxFuture<'a, Result<Option<String>, ReplicationError>>;
    fn remote_fields(&self, distribution: &Value) -> Map<String, Value>;
    fn repository_fields(&self, remote_url: &str) -> Map<String, Value>;
    fn sync_args(&self, remote: PulpId, repository: PulpId) -> Value;
    fn remotes<'a>(
        &'a self,
        db: &'a Database,
    ) -> BoxFuture<'a, Result<Vec<LocalObject>, ReplicationError>>;
    fn repositories<'a>(
        &'a self,
        db: &'a Database,
    ) -> BoxFuture<'a, Result<Vec<LocalObject>, ReplicationError>>;
    fn distribution_list<'a>(
        &'a self,
        db: &'a Database,
    ) -> BoxFuture<'a, Result<Vec<LocalObject>, ReplicationError>>;
    fn create_remote<'a>(
        &'a self,
        db: &'a Database,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, Result<LocalObject, ReplicationError>>;
    fn create_repository<'a>(
        &'a self,
        db: &'a Database,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, Result<LocalObject, ReplicationError>>;
    fn rename_distribution<'a>(
        &'a self,
        db: &'a Database,
        id: PulpId,
        name: String,
    ) -> BoxFuture<'a, Result<(), ReplicationError>>;
    /// Points distribution `id` at version `version` (no repository, no publication);
    /// whether anything changed.
    fn serve_version<'a>(
        &'a self,
        db: &'a Database,
        id: PulpId,
        version: PulpId,
    ) -> BoxFuture<'a, Result<bool, ReplicationError>>;
}

pub(crate) struct Erased<R>(pub(crate) R);

/// Every model of type `T`, as [`LocalObject`]s.
async fn all_of<T: Detail>(db: &Database) -> Result<Vec<LocalObject>, ReplicationError> {
    const BATCH: i64 = 1000;
    let mut out = Vec::new();
    loop {
        let page = models::list::<T>(db, BATCH, out.len() as i64).await?;
        let done = (page.len() as i64) < BATCH;
        out.extend(page.iter().map(local_of::<T>));
        if done {
            return Ok(out);
        }
    }
}

fn object(value: impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn local_of<T: Detail>(model: &models::Model<T>) -> LocalObject {
    let mut state = object(&model.master.fields);
    state.extend(object(&model.detail));
    let name = state
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    LocalObject {
        pulp_id: model.pulp_id(),
        href: model.pulp_href(),
        name,
        labels: model.master.pulp_labels.clone(),
        state,
    }
}

/// Creates a `T` from REST-named fields (labels under `pulp_labels`), validated.
async fn create_of<T: Detail>(
    db: &Database,
    mut body: Map<String, Value>,
) -> Result<LocalObject, ReplicationError> {
    let labels: Labels = match body.remove("pulp_labels") {
        Some(v) => {
            serde_json::from_value(v).map_err(|e| ReplicationError::Invalid(e.to_string()))?
        }
        None => Labels::new(),
    };
    let fields: <T::Kind as MasterKind>::Fields =
        serde_json::from_value(Value::Object(body.clone()))
            .map_err(|e| ReplicationError::Invalid(e.to_string()))?;
    let detail: T = serde_json::from_value(Value::Object(body))
        .map_err(|e| ReplicationError::Invalid(e.to_string()))?;
    let mut errors = crate::validation::ValidationErrors::new();
    crate::validation::Validate::validate(&fields, &mut errors);
    crate::validation::Validate::validate(&detail, &mut errors);
    errors
        .into_result()
        .map_err(|e| ReplicationError::Invalid(e.to_string()))?;
    let model = models::create::<T>(db, labels, fields, detail).await?;
    Ok(local_of(&model))
}

impl<R: Replicator> ErasedReplicator for Erased<R> {
    fn component(&self) -> &'static str {
        R::COMPONENT
    }
    fn distributions(&self) -> &'static str {
        R::DISTRIBUTIONS
    }
    fn types(&self) -> ReplicatedTypes {
        ReplicatedTypes {
            remote: R::Remote::PULP_TYPE,
            repository: R::Repository::PULP_TYPE,
            distribution: R::Distribution::PULP_TYPE,
        }
    }
    fn url<'a>(
        &'a self,
        upstream: &'a UpstreamClient,
        distribution: &'a Value,
    ) -> BoxFuture<'a, Result<Option<String>, ReplicationError>> {
        Box::pin(self.0.url(upstream, distribution))
    }
    fn remote_fields(&self, distribution: &Value) -> Map<String, Value> {
        self.0.remote_fields(distribution)
    }
    fn repository_fields(&self, remote_url: &str) -> Map<String, Value> {
        self.0.repository_fields(remote_url)
    }
    fn sync_args(&self, remote: PulpId, repository: PulpId) -> Value {
        self.0.sync_args(remote, repository)
    }
    fn remotes<'a>(
        &'a self,
        db: &'a Database,
    ) -> BoxFuture<'a, Result<Vec<LocalObject>, ReplicationError>> {
        Box::pin(all_of::<R::Remote>(db))
    }
    fn repositories<'a>(
        &'a self,
        db: &'a Database,
    ) -> BoxFuture<'a, Result<Vec<LocalObject>, ReplicationError>> {
        Box::pin(all_of::<R::Repository>(db))
    }
    fn distribution_list<'a>(
        &'a self,
        db: &'a Database,
    ) -> BoxFuture<'a, Result<Vec<LocalObject>, ReplicationError>> {
        Box::pin(all_of::<R::Distribution>(db))
    }
    fn create_remote<'a>(
        &'a self,
        db: &'a Database,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, Result<LocalObject, ReplicationError>> {
        Box::pin(create_of::<R::Remote>(db, body))
    }
    fn create_repository<'a>(
        &'a self,
        db: &'a Database,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, Result<LocalObject, ReplicationError>> {
        Box::pin(create_of::<R::Repository>(db, body))
    }
    fn rename_distribution<'a>(
        &'a self,
        db: &'a Database,
        id: PulpId,
        name: String,
    ) -> BoxFuture<'a, Result<(), ReplicationError>> {
        Box::pin(async move {
            let mut model = models::get::<R::Distribution>(db, id).await?;
            model.master.fields.name = name;
            models::update::<R::Distribution>(db, model).await?;
            Ok(())
        })
    }
    fn serve_version<'a>(
        &'a self,
        db: &'a Database,
        id: PulpId,
        version: PulpId,
    ) -> BoxFuture<'a, Result<bool, ReplicationError>> {
        Box::pin(async move {
            let mut model = models::get::<R::Distribution>(db, id).await?;
            let fields = &mut model.master.fields;
            if fields.repository_version_id == Some(version)
                && fields.repository_id.is_none()
                && fields.publication_id.is_none()
            {
                return Ok(false);
            }
            fields.repository_version_id = Some(version);
            fields.repository_id = None;
            fields.publication_id = None;
            models::update::<R::Distribution>(db, model).await?;
            Ok(true)
        })
    }
}
