//! [`FileReplicator`]: replicating an upstream Pulp's file distributions (pulpcore's
//! `FileReplicator`): each remote syncs from the manifest the upstream distribution serves.

use pulp_plugin_api::replication::{ReplicationError, Replicator, UpstreamClient};
use serde_json::{json, Map, Value};

use crate::{FileDistribution, FileRemote, FileRepository};

/// Replicates `distributions/file/file/` of an upstream with the `file` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileReplicator;

fn href<'a>(distribution: &'a Value, key: &str) -> Option<&'a str> {
    distribution.get(key).and_then(Value::as_str)
}

impl Replicator for FileReplicator {
    type Remote = FileRemote;
    type Repository = FileRepository;
    type Distribution = FileDistribution;
    const COMPONENT: &'static str = "file";
    const DISTRIBUTIONS: &'static str = "distributions/file/file/";

    /// `<the distribution's base_url><manifest>`, the manifest being named by the upstream
    /// repository (of the distribution, or of its version) or publication.
    async fn url(
        &self,
        upstream: &UpstreamClient,
        distribution: &Value,
    ) -> Result<Option<String>, ReplicationError> {
        let owner = if let Some(repository) = href(distribution, "repository") {
            repository.to_string()
        } else if let Some(publication) = href(distribution, "publication") {
            publication.to_string()
        } else if let Some(version) = href(distribution, "repository_version") {
            match version.rsplit_once("versions/") {
                Some((repository, _)) => repository.to_string(),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        let entity = upstream.get(&owner).await?;
        let Some(manifest) = entity.get("manifest").and_then(Value::as_str) else {
            return Ok(None);
        };
        let base_url = href(distribution, "base_url").unwrap_or_default();
        Ok(Some(format!("{base_url}{manifest}")))
    }

    /// The manifest's name (the URL's last segment); never autopublished.
    fn repository_fields(&self, remote_url: &str) -> Map<String, Value> {
        let manifest = remote_url.rsplit('/').next().unwrap_or_default();
        let mut fields = Map::new();
        fields.insert("manifest".into(), json!(manifest));
        fields.insert("autopublish".into(), json!(false));
        fields
    }
}
