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
use pulp_plugin_api::repository::{latest_version, version_lacks_artifacts, RepositoryVersion};
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
    /// Whether the sync is skipped when nothing changed since the last one (remote, its
    /// url and policy, mirror, the latest version, the manifest's checksum), as pulp_file's
    /// `optimize` (the API sends `true` unless told otherwise).
    #[serde(default)]
    pub optimize: bool,
}

/// What [`synchronize_with`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncOutcome {
    /// Nothing changed upstream since the last sync: skipped (`optimize`).
    Skipped,
    /// Synced; the new version, or `None` when the content was already the same.
    Synced(Option<RepositoryVersion>),
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
    /// The manifest, when already downloaded (removed by the stage).
    manifest: Option<std::path::PathBuf>,
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
            manifest: None,
        })
    }

    /// The same stage reading the manifest already downloaded to `path` (which it removes).
    pub fn with_manifest(mut self, path: std::path::PathBuf) -> Self {
        self.manifest = Some(path);
        self
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
        let path = match &self.manifest {
            Some(path) => path.clone(),
            None => {
                download_manifest(&self.ctx, &self.downloader, &self.manifest_url)
                    .await?
                    .path
            }
        };
        // Check every line before emitting any: a bad manifest fails before downloads.
        let checked = each_entry(&path, |_| async { Ok(()) }).await;
        let result = match checked {
            Ok(_) => {
                each_entry(&path, |entry| {
                    let item = self.declare(entry);
                    let output = &output;
                    async move { output.put(item?).await }
                })
                .await
            }
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&path).await;
        result.map(|_| ())
    }
}

/// Downloads the manifest at `url` (progress "Downloading Metadata Files").
async fn download_manifest(
    ctx: &SyncContext,
    downloader: &Downloader,
    url: &url::Url,
) -> Result<pulp_plugin_api::download::DownloadedFile, PipelineError> {
    let metadata = ctx
        .progress(
            "Downloading Metadata Files",
            "sync.downloading.metadata",
            None,
        )
        .await?;
    let manifest = downloader
        .fetch(url.as_str(), &ExpectedArtifact::any(), ctx.working_dir())
        .await?;
    metadata.increment(1).await?;
    metadata.complete().await?;
    Ok(manifest)
}

/// Whether a sync described by `details` may be skipped after the last one, `last`
/// (pulp_file's rules: same remote, url, version and manifest; not newly mirror; not newly
/// immediate).
fn unchanged(details: &serde_json::Value, last: &serde_json::Value) -> bool {
    let same = |key: &str| last.get(key).is_some() && last.get(key) == details.get(key);
    let is = |value: &serde_json::Value, key: &str, want: &serde_json::Value| {
        value.get(key) == Some(want)
    };
    let immediate = serde_json::Value::from("immediate");
    let yes = serde_json::Value::from(true);
    if is(details, "download_policy", &immediate) && !is(last, "download_policy", &immediate) {
        return false;
    }
    if is(details, "mirror", &yes) && !is(last, "mirror", &yes) {
        return false;
    }
    [
        "remote_pk",
        "url",
        "most_recent_version",
        "manifest_checksum",
    ]
    .into_iter()
    .all(same)
}

/// Syncs `repository_id` from `remote_id` with the remote's policy (immediate, on_demand,
/// streamed); `mirror`: remove units the manifest does not list. Returns the new version,
/// or `None` when nothing changed. (Never skipped: see [`synchronize_with`].)
pub async fn synchronize(
    ctx: &SyncContext,
    remote_id: PulpId,
    repository_id: PulpId,
    mirror: bool,
) -> Result<Option<RepositoryVersion>, PipelineError> {
    match synchronize_with(ctx, remote_id, repository_id, mirror, false).await? {
        SyncOutcome::Synced(version) => Ok(version),
        SyncOutcome::Skipped => Ok(None),
    }
}

/// [`synchronize`], skipped when `optimize` and nothing changed since the last sync (its
/// details are kept in the repository's `last_sync_details`); a mirror sync that made a
/// version also publishes it, as pulp_file does (unless autopublish already did).
pub async fn synchronize_with(
    ctx: &SyncContext,
    remote_id: PulpId,
    repository_id: PulpId,
    mirror: bool,
    optimize: bool,
) -> Result<SyncOutcome, PipelineError> {
    let app = ctx.app().clone();
    let db = app.db();
    let remote = models::get::<FileRemote>(db, remote_id).await?;
    let repository = models::get::<FileRepository>(db, repository_id).await?;
    let downloader = Downloader::for_remote(remote.fields())?;
    let ctx = ctx.clone().with_downloader(remote_id, downloader.clone());
    let first = FileFirstStage::new(&ctx, &remote, downloader.clone())?;
    let latest = latest_version(db, repository_id).await?;
    let manifest = download_manifest(&ctx, &downloader, &first.manifest_url).await?;
    let policy = serde_json::to_value(remote.fields().policy).unwrap_or_default();
    let mut details = serde_json::json!({
        "remote_pk": remote_id,
        "url": remote.fields().url,
        "download_policy": policy,
        "mirror": mirror,
        "most_recent_version": latest.number,
        "manifest_checksum": manifest.sha256(),
    });
    if optimize && unchanged(&details, &repository.detail.last_sync_details) {
        let lacking = remote.fields().policy == Policy::Immediate
            && version_lacks_artifacts(db, &latest).await?;
        if !lacking {
            let _ = tokio::fs::remove_file(&manifest.path).await;
            let skipped = ctx
                .progress(
                    "Skipping Sync (no change from previous sync)",
                    "sync.was_skipped",
                    Some(1),
                )
                .await?;
            skipped.increment(1).await?;
            skipped.complete().await?;
            return Ok(SyncOutcome::Skipped);
        }
    }
    let made = DeclarativeVersion::new(first.with_manifest(manifest.path), repository_id, mirror)
        .create(&ctx)
        .await?;
    if let Some(version) = &made {
        details["most_recent_version"] = version.number.into();
    }
    // Re-read: the new version's autopublish may not change the repository, but an update
    // made before this sync took its reservation must not be overwritten with old fields.
    let mut repository = models::get::<FileRepository>(db, repository_id).await?;
    let autopublished = repository.detail.autopublish;
    repository.detail.last_sync_details = details;
    models::update(db, repository).await?;
    if let (Some(version), true, false) = (&made, mirror, autopublished) {
        crate::publish::publish(&app, version.pulp_id, None)
            .await
            .map_err(|e| PipelineError::new(format!("publishing the mirrored version: {e}")))?;
    }
    Ok(SyncOutcome::Synced(made))
}

/// The task function of [`SYNC_TASK`]: the created version's href goes first into
/// `created_resources` (then its publication, when published), and the version is the
/// task's `result`, as pulp_file's.
pub async fn sync_task(task: TaskContext) -> TaskOutput {
    let args: SyncArgs = task.parse_args()?;
    let ctx = SyncContext::for_task(&task);
    let outcome = synchronize_with(
        &ctx,
        args.remote_pk,
        args.repository_pk,
        args.mirror,
        args.optimize,
    )
    .await
    .map_err(|e| TaskError::new(e.to_string()))?;
    let SyncOutcome::Synced(Some(version)) = outcome else {
        return Ok(None);
    };
    let repository = models::href::<FileRepository>(args.repository_pk);
    let href = models::version_href(&repository, version.number);
    task.add_created_resource_first(href.clone());
    Ok(Some(serde_json::json!({
        "pulp_href": href,
        "prn": version.prn(),
        "number": version.number,
        "repository": repository,
    })))
}
