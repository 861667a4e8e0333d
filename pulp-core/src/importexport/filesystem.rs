//! The filesystem export: a publication's or a repository version's files written to a
//! directory (copied, hard-linked or symlinked from artifact storage), as pulpcore does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::export::all_content;
use super::ImportExportError;
use crate::app::App;
use crate::db::PulpId;
use crate::models::{self, Artifact};
use crate::repository::RepositoryVersion;
use crate::validation::validate_relative_path;

/// How files are placed (Pulp's `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilesystemMethod {
    /// Copy the bytes.
    Write,
    /// Hard-link the artifact's file (local storage only; copied across filesystems).
    Hardlink,
    /// Symlink to the artifact's file (local storage only).
    Symlink,
}

impl FilesystemMethod {
    /// Pulp's name (`write`, `hardlink`, `symlink`).
    pub fn as_str(self) -> &'static str {
        match self {
            FilesystemMethod::Write => "write",
            FilesystemMethod::Hardlink => "hardlink",
            FilesystemMethod::Symlink => "symlink",
        }
    }

    /// The method of a Pulp name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "write" => Some(FilesystemMethod::Write),
            "hardlink" => Some(FilesystemMethod::Hardlink),
            "symlink" => Some(FilesystemMethod::Symlink),
            _ => None,
        }
    }
}

/// What is exported.
#[derive(Debug, Clone, PartialEq)]
pub enum FilesystemSource {
    /// A publication (its published metadata and artifacts; a pass-through one also its
    /// version's files).
    Publication(PulpId),
    /// A repository version's files at their relative paths.
    RepositoryVersion(RepositoryVersion),
}

/// The artifact ids of a version's content.
async fn artifacts_of_version(
    app: &App,
    version: &RepositoryVersion,
) -> Result<BTreeSet<PulpId>, ImportExportError> {
    let content = all_content(app, version).await?;
    Ok(models::content_artifacts(app.db(), &content)
        .await?
        .into_iter()
        .filter_map(|l| l.artifact_id)
        .collect())
}

/// `relative path → artifact id` of a version's files (those not in `start`'s artifacts).
async fn version_files(
    app: &App,
    version: &RepositoryVersion,
    skip: &BTreeSet<PulpId>,
    out: &mut BTreeMap<String, PulpId>,
) -> Result<(), ImportExportError> {
    let content = all_content(app, version).await?;
    for link in models::content_artifacts(app.db(), &content).await? {
        match link.artifact_id {
            Some(id) if !skip.contains(&id) => {
                out.insert(link.relative_path, id);
            }
            Some(_) => {}
            None => {
                return Err(ImportExportError::NotExportable(
                    "Remote artifacts cannot be exported.".into(),
                ))
            }
        }
    }
    Ok(())
}

async fn publication_files(
    app: &App,
    publication: PulpId,
    skip: &BTreeSet<PulpId>,
    out: &mut BTreeMap<String, PulpId>,
) -> Result<(), ImportExportError> {
    let db = app.db();
    let master = models::get_master::<models::PublicationKind>(db, publication).await?;
    if master.fields.pass_through {
        if let Some(version_id) = master.fields.repository_version_id {
            let version = crate::repository::get_version_by_id(db, version_id).await?;
            version_files(app, &version, skip, out).await?;
        }
    }
    let metadata: Vec<(String, PulpId)> = crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT relative_path, artifact_id FROM core_publishedmetadata WHERE publication_id = $1")
            .bind(publication)
            .fetch_all(pool)
            .await?
    });
    let published: Vec<(String, Option<PulpId>)> = crate::on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT pa.relative_path, ca.artifact_id FROM core_publishedartifact pa \
             JOIN core_contentartifact ca ON ca.pulp_id = pa.content_artifact_id \
             WHERE pa.publication_id = $1",
        )
        .bind(publication)
        .fetch_all(pool)
        .await?
    });
    for (path, artifact) in published {
        match artifact {
            Some(id) if !skip.contains(&id) => {
                out.insert(path, id);
            }
            Some(_) => {}
            None => {
                return Err(ImportExportError::NotExportable(
                    "Remote artifacts cannot be exported.".into(),
                ))
            }
        }
    }
    // Metadata is always written: it describes the whole publication.
    out.extend(metadata);
    Ok(())
}

/// Whether `path` is missing or an empty directory (pulpcore exports only there).
fn is_clean(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Writes `source` below `directory` (which must be missing or empty); with `start`, only
/// the files whose artifacts `start` lacks (and a publication's metadata). Returns the
/// relative paths written.
pub async fn filesystem_export(
    app: &App,
    directory: &Path,
    method: FilesystemMethod,
    source: &FilesystemSource,
    start: Option<&RepositoryVersion>,
) -> Result<Vec<String>, ImportExportError> {
    if !is_clean(directory) {
        return Err(ImportExportError::NotExportable(
            "Cannot export to directories that contain existing data.".into(),
        ));
    }
    let local_root = app.storage().local_root().map(Path::to_path_buf);
    if method != FilesystemMethod::Write && local_root.is_none() {
        return Err(ImportExportError::NotExportable(
            "Only write is supported for non-filesystem storage.".into(),
        ));
    }
    let skip = match start {
        Some(version) => artifacts_of_version(app, version).await?,
        None => BTreeSet::new(),
    };
    let mut files = BTreeMap::new();
    match source {
        FilesystemSource::RepositoryVersion(version) => {
            version_files(app, version, &skip, &mut files).await?
        }
        FilesystemSource::Publication(id) => publication_files(app, *id, &skip, &mut files).await?,
    }
    for path in files.keys() {
        validate_relative_path(path)
            .map_err(|e| ImportExportError::NotExportable(format!("'{path}': {e}")))?;
    }
    let ids: Vec<PulpId> = files
        .values()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let artifacts: BTreeMap<PulpId, Artifact> = models::artifacts_by_id(app.db(), &ids)
        .await?
        .into_iter()
        .map(|a| (a.pulp_id, a))
        .collect();
    std::fs::create_dir_all(directory).map_err(ImportExportError::io(format!(
        "creating {}",
        directory.display()
    )))?;
    let mut written = Vec::with_capacity(files.len());
    for (relative, id) in files {
        let artifact = artifacts
            .get(&id)
            .ok_or_else(|| ImportExportError::NotExportable(format!("artifact {id} is gone")))?;
        let dest = directory.join(&relative);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(ImportExportError::io(format!(
                "creating {}",
                parent.display()
            )))?;
        }
        place(app, local_root.as_deref(), method, artifact, &dest).await?;
        written.push(relative);
    }
    Ok(written)
}

async fn place(
    app: &App,
    local_root: Option<&Path>,
    method: FilesystemMethod,
    artifact: &Artifact,
    dest: &Path,
) -> Result<(), ImportExportError> {
    let io = |what: &str| ImportExportError::io(format!("{what} {}", dest.display()));
    let source: Option<PathBuf> = local_root.map(|root| root.join(&artifact.file));
    match (method, source) {
        (FilesystemMethod::Symlink, Some(src)) => {
            let _ = std::fs::remove_file(dest);
            symlink(&src, dest).map_err(io("symlinking"))
        }
        (FilesystemMethod::Hardlink, Some(src)) => {
            let _ = std::fs::remove_file(dest);
            if std::fs::hard_link(&src, dest).is_err() {
                // Another filesystem: pulpcore copies then.
                std::fs::copy(&src, dest).map_err(io("copying to"))?;
            }
            Ok(())
        }
        (_, Some(src)) => std::fs::copy(&src, dest)
            .map(|_| ())
            .map_err(io("copying to")),
        (_, None) => {
            use futures::StreamExt;
            use tokio::io::AsyncWriteExt;
            let store = app.storage().object_store();
            let key = app.storage().key(&artifact.file);
            let mut stream = store
                .get(&key)
                .await
                .map_err(|e| ImportExportError::Storage(e.into()))?
                .into_stream();
            let mut file = tokio::fs::File::create(dest)
                .await
                .map_err(io("creating"))?;
            while let Some(piece) = stream.next().await {
                let piece = piece.map_err(|e| ImportExportError::Storage(e.into()))?;
                file.write_all(&piece).await.map_err(io("writing"))?;
            }
            file.flush().await.map_err(io("writing"))
        }
    }
}

#[cfg(unix)]
fn symlink(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(src, dest)
}

#[cfg(not(unix))]
fn symlink(_src: &Path, _dest: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("symlinks are not supported here"))
}
