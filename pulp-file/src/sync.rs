//! Syncing a file repository from a remote serving a `PULP_MANIFEST`: [`FileFirstStage`],
//! [`synchronize`] and the task function registered as [`SYNC_TASK`].

use pulp_plugin_api::deps::tokio::io::AsyncBufReadExt;
use pulp_plugin_api::deps::{tokio, url};
use pulp_plugin_api::download::Downloader;
use pulp_plugin_api::models::{self, Policy};
use pulp_plugin_api::pipeline::{
    DeclarativeArtifact, DeclarativeContent, DeclarativeVersion, FirstStage, PipelineError,
    StageOutput, SyncContext,
};
use pulp_plugin_api::repository::RepositoryVersion;
use pulp_plugin_api::tasking::{TaskContext, TaskError, TaskOutput};
use pulp_plugin_api::{ChecksumType, ExpectedArtifact, PulpId};
use serde::{Deserialize, Serialize};

use crate::manifest::{parse_line, Entry};
use crate::{FileContent, FileRemote, FileRepository};

/// The stable name of the sync task.
pub const SYNC_TASK: &str = "pulp_file.app.tasks.synchronize";

/// The arguments of [`SYNC_TASK`]. The dispatcher reserves the repository exclusively and
/// the remote shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncArgs {
    /// The remote to sync from.
    pub remote_pk: PulpId,
    /// The repository to sync into.
    pub repository_pk: PulpId,
    /// Whether units the manifest does not list are removed (default false: additive).
    #[serde(default)]
    pub mirror: bool,
}

/// The first stage of a file sync: downloads the remote's manifest (its `url`), checks
/// every line, then emits one [`FileContent`] per line, fetched from the manifest's
/// directory. Reports "Downloading Metadata Files".
#[derive(Debug)]
pub struct FileFirstStage {
    ctx: SyncContext,
    remote_id: PulpId,
    manifest_url: url::Url,
    downloader: Downloader,
    deferred: bool,
}

impl FileFirstStage {
    /// The first stage syncing from `remote`.
    pub fn new(
        ctx: &SyncContext,
        remote: &models::Model<FileRemote>,
        downloader: Downloader,
    ) -> Result<Self, PipelineError> {
        let fields = remote.fields();
        let manifest_url = url::Url::parse(&fields.url)
            .map_err(|e| PipelineError::new(format!("remote url '{}': {e}", fields.url)))?;
        Ok(Self {
            ctx: ctx.clone(),
            remote_id: remote.pulp_id(),
            manifest_url,
            downloader,
            deferred: fields.policy != Policy::Immediate,
        })
    }

    /// The URL of a file listed by the manifest: its path segments under the manifest's
    /// directory (each percent-encoded, so `#`, `?` or `%` in a name stay in the name).
    fn file_url(&self, relative_path: &str) -> Result<String, PipelineError> {
        let mut url = self.manifest_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        {
            let mut segments = url.path_segments_mut().map_err(|_| {
                PipelineError::new(format!(
                    "remote url '{}' cannot have paths",
                    self.manifest_url
                ))
            })?;
            segments.pop();
            segments.extend(relative_path.split('/'));
        }
        Ok(url.to_string())
    }

    fn declare(&self, entry: Entry) -> Result<DeclarativeContent, PipelineError> {
        let url = self.file_url(&entry.relative_path)?;
        let expected = ExpectedArtifact::any()
            .with_size(entry.size)
            .with_digest(ChecksumType::Sha256, entry.digest.clone());
        let artifact = DeclarativeArtifact::new(
            url,
            entry.relative_path.clone(),
            expected,
            Some(self.remote_id),
            self.deferred,
        );
        Ok(DeclarativeContent::new(
            FileContent {
                relative_path: entry.relative_path,
                digest: entry.digest,
            },
            vec![artifact],
        ))
    }
}

/// Reads the manifest file line by line; `emit` gets each entry (blank and comment lines
/// skipped). Memory stays flat whatever the manifest's length.
async fn each_entry<F, Fut>(path: &std::path::Path, mut emit: F) -> Result<u64, PipelineError>
where
    F: FnMut(Entry) -> Fut,
    Fut: std::future::Future<Output = Result<(), PipelineError>>,
{
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| PipelineError::new(format!("reading the manifest: {e}")))?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let (mut number, mut count) = (0usize, 0u64);
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| PipelineError::new(format!("manifest line {}: {e}", number + 1)))?;
        let Some(line) = line else { break };
        number += 1;
        if let Some(entry) =
            parse_line(number, &line).map_err(|e| PipelineError::new(e.to_string()))?
        {
            count += 1;
            emit(entry).await?;
        }
    }
    Ok(count)
}

impl FirstStage for FileFirstStage {
    fn name(&self) -> &str {
        "FileFirstStage"
    }

    async fn run(self, output: StageOutput) -> Result<(), PipelineError> {
        let metadata = self
            .ctx
            .progress(
                "Downloading Metadata Files",
                "sync.downloading.metadata",
                None,
            )
            .await?;
        let manifest = self
            .downloader
            .fetch(
                self.manifest_url.as_str(),
                &ExpectedArtifact::any(),
                self.ctx.working_dir(),
            )
            .await?;
        metadata.increment(1).await?;
        metadata.complete().await?;
        // Check every line before emitting any: a bad manifest fails before downloads.
        let checked = each_entry(&manifest.path, |_| async { Ok(()) }).await;
        let result = match checked {
            Ok(_) => {
                each_entry(&manifest.path, |entry| {
                    let item = self.declare(entry);
                    let output = &output;
                    async move { output.put(item?).await }
                })
                .await
            }
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&manifest.path).await;
        result.map(|_| ())
    }
}

/// Syncs `repository_id` from `remote_id` with the remote's policy (immediate, on_demand,
/// streamed); `mirror`: remove units the manifest does not list. Returns the new version,
/// or `None` when nothing changed.
pub async fn synchronize(
    ctx: &SyncContext,
    remote_id: PulpId,
    repository_id: PulpId,
    mirror: bool,
) -> Result<Option<RepositoryVersion>, PipelineError> {
    let db = ctx.app().db();
    let remote = models::get::<FileRemote>(db, remote_id).await?;
    models::get::<FileRepository>(db, repository_id).await?;
    let downloader = Downloader::for_remote(remote.fields())?;
    let ctx = ctx.clone().with_downloader(remote_id, downloader.clone());
    let first = FileFirstStage::new(&ctx, &remote, downloader)?;
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
        let repository = models::href::<FileRepository>(args.repository_pk);
        task.add_created_resource(models::version_href(&repository, version.number));
    }
    Ok(None)
}
