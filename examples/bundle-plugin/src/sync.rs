//! Syncing bundles and their member blobs from a remote, into one repository version.
//!
//! The remote's `url` names an index (JSON) listing bundles and their members:
//!
//! ```json
//! {"bundles": [{"name": "app", "version": "1.0",
//!               "members": [{"name": "lib/a.so", "sha256": "…", "size": 1234}]}]}
//! ```
//!
//! A member's file is fetched from `blobs/<sha256>` next to the index. One pipeline carries
//! both content types: [`BundleFirstStage`] emits each bundle's members, waits for their saved
//! ids (content futures) and then emits the bundle naming them. A member that cannot be
//! fetched or is invalid fails the sync, and no version is made (as in Pulp, where a failed
//! stage fails the task): a bundle is never added without its members.

use std::collections::HashMap;

use pulp_plugin_api::deps::{tokio, url};
use pulp_plugin_api::download::Downloader;
use pulp_plugin_api::models::{self, Policy};
use pulp_plugin_api::pipeline::{
    ContentFuture, DeclarativeArtifact, DeclarativeContent, DeclarativeVersion, FirstStage,
    PipelineError, StageOutput, SyncContext,
};
use pulp_plugin_api::repository::RepositoryVersion;
use pulp_plugin_api::tasking::{TaskContext, TaskError, TaskOutput};
use pulp_plugin_api::{ChecksumType, ExpectedArtifact, PulpId};
use serde::{Deserialize, Serialize};

use crate::{Blob, Bundle, BundleRemote, BundleRepository};

/// The stable name of the sync task.
pub const SYNC_TASK: &str = "pulp_bundle.app.tasks.synchronize";

/// The arguments of [`SYNC_TASK`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncArgs {
    /// The remote to sync from.
    pub remote_pk: PulpId,
    /// The repository to sync into.
    pub repository_pk: PulpId,
    /// Whether bundles and blobs the index does not list are removed.
    #[serde(default)]
    pub mirror: bool,
}

/// A remote's index of bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// The bundles, each with its members.
    pub bundles: Vec<IndexBundle>,
}

/// A bundle of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexBundle {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its member files.
    pub members: Vec<IndexBlob>,
}

/// A member file of a bundle in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexBlob {
    /// Its path (the blob's name).
    pub name: String,
    /// Its sha256, lower-case hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The first stage of a bundle sync: reads the index, then per bundle emits its members not
/// emitted yet, waits for their saved ids, and emits the bundle.
#[derive(Debug)]
pub struct BundleFirstStage {
    ctx: SyncContext,
    remote_id: PulpId,
    index_url: url::Url,
    downloader: Downloader,
    deferred: bool,
}

impl BundleFirstStage {
    /// The first stage syncing from `remote`.
    pub fn new(
        ctx: &SyncContext,
        remote: &models::Model<BundleRemote>,
        downloader: Downloader,
    ) -> Result<Self, PipelineError> {
        let fields = remote.fields();
        let index_url = url::Url::parse(&fields.url)
            .map_err(|e| PipelineError::new(format!("remote url '{}': {e}", fields.url)))?;
        Ok(Self {
            ctx: ctx.clone(),
            remote_id: remote.pulp_id(),
            index_url,
            downloader,
            deferred: fields.policy != Policy::Immediate,
        })
    }

    async fn index(&self) -> Result<Index, PipelineError> {
        let fetched = self
            .downloader
            .fetch(
                self.index_url.as_str(),
                &ExpectedArtifact::any(),
                self.ctx.working_dir(),
            )
            .await?;
        let read = tokio::fs::read(&fetched.path).await;
        let _ = tokio::fs::remove_file(&fetched.path).await;
        let bytes = read.map_err(|e| PipelineError::new(format!("reading the index: {e}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| PipelineError::new(format!("the bundle index is not valid: {e}")))
    }

    fn blob(&self, member: &IndexBlob) -> Result<DeclarativeContent, PipelineError> {
        let url = self
            .index_url
            .join(&format!("blobs/{}", member.sha256))
            .map_err(|e| PipelineError::new(format!("blob {}: {e}", member.name)))?;
        let expected = ExpectedArtifact::any()
            .with_size(member.size)
            .with_digest(ChecksumType::Sha256, member.sha256.clone());
        let file = DeclarativeArtifact::new(
            url,
            member.name.clone(),
            expected,
            Some(self.remote_id),
            self.deferred,
        );
        let blob = Blob {
            name: member.name.clone(),
            digest: member.sha256.clone(),
        };
        Ok(DeclarativeContent::new(blob, vec![file]))
    }
}

impl FirstStage for BundleFirstStage {
    async fn run(self, output: StageOutput) -> Result<(), PipelineError> {
        let metadata = self
            .ctx
            .progress(
                "Downloading Metadata Files",
                "sync.downloading.metadata",
                None,
            )
            .await?;
        let index = self.index().await?;
        metadata.increment(1).await?;
        metadata.complete().await?;
        // Saved blobs by (name, digest): a blob shared by bundles is emitted once.
        let mut saved: HashMap<(String, String), PulpId> = HashMap::new();
        for bundle in index.bundles {
            let mut waiting: Vec<((String, String), ContentFuture<Blob>)> = Vec::new();
            for member in &bundle.members {
                let key = (member.name.clone(), member.sha256.clone());
                if saved.contains_key(&key) || waiting.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                let mut item = self.blob(member)?;
                waiting.push((key, item.resolution::<Blob>()));
                output.put(item).await?;
            }
            for (key, blob) in waiting {
                saved.insert(key, blob.await?.pulp_id());
            }
            let members = bundle
                .members
                .iter()
                .filter_map(|m| saved.get(&(m.name.clone(), m.sha256.clone())).copied())
                .collect();
            let bundle = Bundle {
                name: bundle.name,
                version: bundle.version,
                members,
            };
            output.put(DeclarativeContent::new(bundle, vec![])).await?;
        }
        Ok(())
    }
}

/// Syncs `repository_id` from `remote_id` (policy immediate, on_demand or streamed);
/// `mirror`: bundles and blobs the index does not list are removed. Returns the new version,
/// or `None` when nothing changed.
pub async fn synchronize(
    ctx: &SyncContext,
    remote_id: PulpId,
    repository_id: PulpId,
    mirror: bool,
) -> Result<Option<RepositoryVersion>, PipelineError> {
    let db = ctx.app().db();
    let remote = models::get::<BundleRemote>(db, remote_id).await?;
    models::get::<BundleRepository>(db, repository_id).await?;
    let downloader = Downloader::for_remote(remote.fields())?;
    let ctx = ctx.clone().with_downloader(remote_id, downloader.clone());
    let first = BundleFirstStage::new(&ctx, &remote, downloader)?;
    DeclarativeVersion::new(first, repository_id, mirror)
        .create(&ctx)
        .await
}

/// The task function of [`SYNC_TASK`]: the created version's href goes into
/// `created_resources`.
pub async fn sync_task(task: TaskContext) -> TaskOutput {
    let args: SyncArgs = task.parse_args()?;
    let ctx = SyncContext::for_task(&task);
    let made = synchronize(&ctx, args.remote_pk, args.repository_pk, args.mirror)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    if let Some(version) = made {
        let repository = models::href::<BundleRepository>(args.repository_pk);
        task.add_created_resource(models::version_href(&repository, version.number));
    }
    Ok(None)
}
