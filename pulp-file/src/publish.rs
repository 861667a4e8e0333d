//! Publishing a file repository version: [`publish`] and the task function registered as
//! [`PUBLISH_TASK`].

use pulp_plugin_api::deps::bytes::Bytes;
use pulp_plugin_api::models::{
    self, Labels, Model, ModelError, PublicationFields, PublicationKind,
};
use pulp_plugin_api::publication::{
    add_published_metadata, mark_complete, publish_version_artifacts,
};
use pulp_plugin_api::repository::{
    get_version_by_id, version_content_artifacts, RepositoryVersion, VersionError,
};
use pulp_plugin_api::tasking::{record_created_resource, TaskContext, TaskError, TaskOutput};
use pulp_plugin_api::{App, ExpectedArtifact, PulpId, StorageError};
use serde::{Deserialize, Serialize};

use crate::manifest::Entry;
use crate::{FileContent, FilePublication, FileRepository, DEFAULT_MANIFEST};

/// The stable name of the publish task.
pub const PUBLISH_TASK: &str = "pulp_file.app.tasks.publish";

/// The arguments of [`PUBLISH_TASK`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishArgs {
    /// The version to publish.
    pub repository_version_pk: PulpId,
    /// Name of the manifest to write (default: the repository's `manifest`).
    #[serde(default)]
    pub manifest: Option<String>,
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The version (or its repository) cannot be read.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// A model could not be read or written.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The manifest could not be stored.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A file of the version has no known size (no artifact, no remote artifact).
    #[error("the size of {0} is unknown: it has neither an artifact nor a remote artifact")]
    UnknownSize(String),
}

/// Publishes version `version_id`: a [`FilePublication`] whose published artifacts are every
/// content artifact of the version (one `INSERT … SELECT`) plus the generated manifest
/// (`relative_path,sha256,size` lines, ordered by path) stored as an artifact and recorded
/// as published metadata named `manifest` (default: the repository's `manifest`). The
/// publication becomes `complete` only at the end; a failed publish deletes it.
///
/// The published artifacts are recorded while the manifest is read from the version (at
/// once, on two connections), and the rows written before the publication is complete go
/// through [`App::bulk_db`]: only the final `complete` waits for its own disk flush.
pub async fn publish(
    app: &App,
    version_id: PulpId,
    manifest: Option<&str>,
) -> Result<Model<FilePublication>, PublishError> {
    let db = app.db();
    let version = get_version_by_id(db, version_id).await?;
    let repository = models::get::<FileRepository>(db, version.repository_id).await?;
    let name = manifest
        .map(str::to_string)
        .or(repository.detail.manifest.clone())
        .unwrap_or_else(|| DEFAULT_MANIFEST.to_string());
    let fields = PublicationFields {
        repository_version_id: Some(version.pulp_id),
        ..PublicationFields::default()
    };
    let bulk = app.bulk_db();
    let mut publication = models::create(
        bulk,
        Labels::new(),
        fields,
        FilePublication {
            manifest: Some(name.clone()),
        },
    )
    .await?;
    let id = publication.pulp_id();
    let filled = async {
        let (published, text) = pulp_plugin_api::deps::tokio::join!(
            publish_version_artifacts(bulk, id, &version),
            manifest_text(app, &version)
        );
        published?;
        let text = text?;
        let stored = app
            .storage()
            .ingest_bytes(Bytes::from(text), &ExpectedArtifact::any())
            .await?;
        let artifact = models::save_artifact(bulk, &stored).await?;
        add_published_metadata(bulk, id, artifact.pulp_id, &name).await?;
        mark_complete(db, id).await?;
        Ok::<(), PublishError>(())
    }
    .await;
    if let Err(e) = filled {
        if let Err(cleanup) = models::delete::<PublicationKind>(db, id).await {
            pulp_plugin_api::deps::tracing::warn!(%id, error = %cleanup, "cannot delete a failed publication");
        }
        return Err(e);
    }
    publication.master.fields.complete = true;
    // In the created resources of the task publishing (the publish task, or a sync or
    // modify whose new version was autopublished).
    record_created_resource(publication.pulp_href());
    Ok(publication)
}

/// The manifest of a version's files (the content artifacts
/// [`publish_version_artifacts`] publishes), ordered by the bytes of their paths.
async fn manifest_text(app: &App, version: &RepositoryVersion) -> Result<String, PublishError> {
    let mut files = version_content_artifacts::<FileContent>(app.db(), version).await?;
    // Sorted here, by the paths' bytes: the same order on every database and collation (a
    // PostgreSQL database in a language's collation would sort paths differently from
    // SQLite), and no collation-aware sort in the database.
    files.sort_unstable_by(|a, b| a.relative_path.cmp(&b.relative_path));
    let mut text = String::with_capacity(files.len() * 96);
    for file in files {
        let size = file
            .size
            .and_then(|s| u64::try_from(s).ok())
            .ok_or_else(|| PublishError::UnknownSize(file.relative_path.clone()))?;
        let entry = Entry {
            relative_path: file.relative_path,
            digest: file.content.digest,
            size,
        };
        text.push_str(&entry.to_string());
        text.push('\n');
    }
    Ok(text)
}

/// The task function of [`PUBLISH_TASK`]: the publication's href goes into
/// `created_resources` ([`publish`] records it).
pub async fn publish_task(task: TaskContext) -> TaskOutput {
    let args: PublishArgs = task.parse_args()?;
    publish(
        task.app(),
        args.repository_version_pk,
        args.manifest.as_deref(),
    )
    .await
    .map_err(|e| TaskError::new(e.to_string()))?;
    Ok(None)
}
