//! The Pulp import: reading an export made by pulpcore or pulp-rs.
//!
//! In order: [`read_export`] reads the export's JSON files (seeking over the artifacts'
//! bytes); [`prepare_import`] checks everything that can be checked before anything is
//! written (component versions, destination repositories, every artifact present); then
//! [`ImportPlan::import_artifacts`] streams the artifacts out of the tar into storage (each
//! verified against its sha256), and [`import_repository_version`] creates each repository's
//! content and one new version. A failure before the versions leaves no artifact behind.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};
use std::path::{Component, PathBuf};

use bytes::Bytes;
use serde_json::Value;

use super::chunks::ChunkedReader;
use super::{
    ImportExportError, Row, ARTIFACT_RESOURCE, CONTENT_ARTIFACT_RESOURCE, REPOSITORY_RESOURCE,
};
use crate::app::App;
use crate::db::PulpId;
use crate::models;
use crate::repository::NewVersion;
use crate::storage::{ChecksumType, ExpectedArtifact, StoredArtifact};

/// Where an export's bytes are: one tar, or its chunks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFiles {
    /// A tar file.
    Tar(PathBuf),
    /// The chunks of a tar, in order.
    Chunks(Vec<PathBuf>),
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

impl ExportFiles {
    fn open(&self) -> Result<Box<dyn ReadSeek>, ImportExportError> {
        match self {
            ExportFiles::Tar(path) => Ok(Box::new(
                std::fs::File::open(path)
                    .map_err(ImportExportError::io(format!("opening {}", path.display())))?,
            )),
            ExportFiles::Chunks(paths) => Ok(Box::new(ChunkedReader::open(paths)?)),
        }
    }
}

/// The JSON files of an export and the names of the artifacts it holds.
#[derive(Debug, Clone, Default)]
pub struct ExportContents {
    /// `versions.json`.
    pub versions: Vec<Value>,
    /// `ArtifactResource.json`.
    pub artifacts: Vec<Row>,
    /// `RepositoryResource.json`.
    pub repositories: Vec<Row>,
    /// Per repository-version directory, its files (name → bytes).
    pub version_dirs: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// The artifact files the tar holds (`artifact/ab/cdef…`).
    pub artifact_files: BTreeSet<String>,
}

fn entry_path(entry: &tar::Entry<'_, impl Read>) -> Result<String, ImportExportError> {
    let path = entry
        .path()
        .map_err(ImportExportError::io("reading the export"))?
        .into_owned();
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(ImportExportError::invalid(format!(
            "it holds a path outside the export: {}",
            path.display()
        )));
    }
    Ok(path.to_string_lossy().trim_start_matches("./").to_string())
}

fn parse_rows(name: &str, bytes: &[u8]) -> Result<Vec<Row>, ImportExportError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImportExportError::invalid(format!("{name} is not a list of rows: {e}")))
}

/// Reads the export's JSON files (blocking; the artifacts' bytes are skipped, not read).
pub fn read_export(files: &ExportFiles) -> Result<ExportContents, ImportExportError> {
    let reader = files.open()?;
    let mut archive = tar::Archive::new(reader);
    let mut contents = ExportContents::default();
    let mut versions = None;
    let entries = archive
        .entries_with_seek()
        .map_err(ImportExportError::io("reading the export"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ImportExportError::invalid(format!("not a tar: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry_path(&entry)?;
        if path.starts_with("artifact/") {
            contents.artifact_files.insert(path);
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| ImportExportError::invalid(format!("reading {path}: {e}")))?;
        if path == "versions.json" {
            versions = Some(serde_json::from_slice::<Vec<Value>>(&bytes).map_err(|e| {
                ImportExportError::invalid(format!("versions.json is not a list: {e}"))
            })?);
        } else if path == format!("{ARTIFACT_RESOURCE}.json") {
            contents.artifacts = parse_rows(&path, &bytes)?;
        } else if path == format!("{REPOSITORY_RESOURCE}.json") {
            contents.repositories = parse_rows(&path, &bytes)?;
        } else if let Some((dir, name)) = path.split_once('/') {
            if dir.starts_with("repository-") && !name.contains('/') {
                contents
                    .version_dirs
                    .entry(dir.to_string())
                    .or_default()
                    .insert(name.to_string(), bytes);
            }
        }
    }
    contents.versions =
        versions.ok_or_else(|| ImportExportError::invalid("it has no versions.json"))?;
    Ok(contents)
}

/// Refuses an export whose components this server lacks or has at another `X.Y` (pulpcore's
/// definition of compatible).
pub fn check_versions(app: &App, versions: &[Value]) -> Result<(), ImportExportError> {
    let mut errors = Vec::new();
    for entry in versions {
        let component = entry.get("component").and_then(Value::as_str).unwrap_or("");
        let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
        match app.components().iter().find(|c| c.component == component) {
            None => errors.push(format!("Export uses {component} which is not installed.")),
            Some(installed) => {
                let ours: Vec<&str> = installed.version.split('.').take(2).collect();
                let theirs: Vec<&str> = version.split('.').take(2).collect();
                if ours != theirs {
                    errors.push(format!(
                        "Export version {version} of {component} incompatible with installed version {}.",
                        installed.version
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ImportExportError::IncompatibleVersions(errors.join(" ")))
    }
}

/// One repository of the export and where it goes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RepositoryImport {
    /// Its name in the export.
    pub source_name: String,
    /// Its type.
    pub pulp_type: String,
    /// The local repository's name (after `repo_mapping`).
    pub dest_name: String,
    /// The local repository, when it exists.
    pub dest_id: Option<PulpId>,
    /// Its version's directory in the export (`repository-<name>_<n>`).
    pub dir: String,
}

/// What an import will do, checked before anything is written.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// The repositories, in the export's order.
    pub repositories: Vec<RepositoryImport>,
    /// Artifacts to take from the tar (sha256 → size), those not stored yet.
    pub artifacts: BTreeMap<String, u64>,
}

async fn repository_by_name(
    app: &App,
    name: &str,
) -> Result<Option<(PulpId, String)>, ImportExportError> {
    let db = app.db();
    let row: Option<(PulpId, String)> = crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT pulp_id, pulp_type FROM core_repository WHERE name = $1 AND pulp_domain = $2")
            .bind(name.to_string())
            .bind(models::DEFAULT_DOMAIN)
            .fetch_optional(pool)
            .await?
    });
    Ok(row)
}

/// The version directory of repository `name` in the export (`repository-<name>_<n>`).
fn version_dir(contents: &ExportContents, name: &str) -> Option<String> {
    let prefix = format!("repository-{name}_");
    contents
        .version_dirs
        .keys()
        .find(|dir| {
            dir.strip_prefix(&prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .cloned()
}

/// Checks an export against this server: its component versions, a destination for each
/// repository (existing, of the same type, or to be created), every artifact either in the
/// tar or already stored. Nothing is written.
pub async fn prepare_import(
    app: &App,
    contents: &ExportContents,
    repo_mapping: &BTreeMap<String, String>,
    create_repositories: bool,
) -> Result<ImportPlan, ImportExportError> {
    check_versions(app, &contents.versions)?;
    let resources = app.import_export_resources();
    let mut repositories = Vec::new();
    let mut missing = Vec::new();
    for row in &contents.repositories {
        let source_name = row
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportExportError::invalid("a repository row has no name"))?
            .to_string();
        let pulp_type = row
            .get("pulp_type")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportExportError::invalid("a repository row has no pulp_type"))?
            .to_string();
        if resources.content_for(&pulp_type).is_empty() {
            return Err(ImportExportError::IncompatibleVersions(format!(
                "Export holds {pulp_type} repositories, which this server cannot import."
            )));
        }
        let dest_name = repo_mapping
            .get(&source_name)
            .cloned()
            .unwrap_or_else(|| source_name.clone());
        let dest_id = match repository_by_name(app, &dest_name).await? {
            Some((id, local_type)) if local_type == pulp_type => Some(id),
            Some((_, local_type)) => {
                return Err(ImportExportError::MissingRepository(format!(
                    "Repository '{dest_name}' is a {local_type} repository; the export's '{source_name}' is {pulp_type}."
                )))
            }
            None if create_repositories => {
                if resources.repository_for(&pulp_type).is_none() {
                    return Err(ImportExportError::MissingRepository(format!(
                        "Repository '{dest_name}' does not exist and {pulp_type} repositories cannot be created by an import."
                    )));
                }
                None
            }
            None => {
                missing.push(dest_name.clone());
                None
            }
        };
        let dir = version_dir(contents, &source_name).ok_or_else(|| {
            ImportExportError::invalid(format!("No RepositoryVersion found for {source_name}"))
        })?;
        repositories.push(RepositoryImport {
            source_name,
            pulp_type,
            dest_name,
            dest_id,
            dir,
        });
    }
    if !missing.is_empty() {
        return Err(ImportExportError::MissingRepository(format!(
            "Repositories {} do not exist; create them, map the export's repositories to existing ones (repo_mapping) or import with create_repositories.",
            missing
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut wanted = BTreeMap::new();
    for row in &contents.artifacts {
        let sha256 = row
            .get("sha256")
            .and_then(Value::as_str)
            .filter(|s| crate::storage::ArtifactStorage::artifact_key(s).is_ok())
            .ok_or_else(|| ImportExportError::invalid("an artifact row has no valid sha256"))?;
        let size = row
            .get("size")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .ok_or_else(|| {
                ImportExportError::invalid(format!("artifact {sha256} has no valid size"))
            })?;
        wanted.insert(sha256.to_string(), size);
    }
    // Every artifact the versions link must be in the tar or stored here already.
    let mut linked = BTreeSet::new();
    for repository in &repositories {
        let rows = dir_rows(contents, &repository.dir, CONTENT_ARTIFACT_RESOURCE)?;
        for row in rows {
            if let Some(sha) = row.get("artifact").and_then(Value::as_str) {
                if !sha.is_empty() {
                    linked.insert(sha.to_string());
                }
            }
        }
    }
    let known: Vec<String> = linked
        .iter()
        .chain(wanted.keys())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored: BTreeSet<String> = models::find_artifacts(app.db(), &known)
        .await?
        .into_iter()
        .map(|a| a.sha256().to_string())
        .collect();
    let mut absent = Vec::new();
    for sha in &linked {
        let in_tar = wanted.contains_key(sha)
            && contents.artifact_files.contains(&format!(
                "artifact/{}/{}",
                &sha[..2.min(sha.len())],
                sha.get(2..).unwrap_or("")
            ));
        if !in_tar && !stored.contains(sha) {
            absent.push(sha.clone());
        }
    }
    if !absent.is_empty() {
        return Err(ImportExportError::invalid(format!(
            "artifacts are neither in the export nor on this server: {}",
            absent.join(", ")
        )));
    }
    let artifacts = wanted
        .into_iter()
        .filter(|(sha, _)| !stored.contains(sha))
        .collect();
    Ok(ImportPlan {
        repositories,
        artifacts,
    })
}

/// The rows of resource `name` in a version directory (none when the file is absent).
pub(crate) fn dir_rows(
    contents: &ExportContents,
    dir: &str,
    name: &str,
) -> Result<Vec<Row>, ImportExportError> {
    match contents
        .version_dirs
        .get(dir)
        .and_then(|files| files.get(&format!("{name}.json")))
    {
        Some(bytes) => parse_rows(&format!("{dir}/{name}.json"), bytes),
        None => Ok(Vec::new()),
    }
}

/// What the tar reader hands the async side.
enum TarItem {
    Artifact {
        sha256: String,
        size: u64,
        chunks: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    },
}

/// Bytes per piece streamed out of the tar.
const PIECE: usize = 256 * 1024;

impl ImportPlan {
    /// Streams the planned artifacts out of the tar into storage (each verified against its
    /// sha256 and size) and records them. On failure, the files and rows it added are removed.
    pub async fn import_artifacts(
        &self,
        app: &App,
        files: &ExportFiles,
    ) -> Result<Vec<PulpId>, ImportExportError> {
        let mut stored: Vec<StoredArtifact> = Vec::new();
        let result = self.stream_artifacts(app, files, &mut stored).await;
        let recorded = match result {
            Ok(()) => models::save_artifacts(app.db(), &stored)
                .await
                .map_err(ImportExportError::from),
            Err(e) => Err(e),
        };
        match recorded {
            Ok((_, inserted)) => Ok(inserted),
            Err(e) => {
                for artifact in stored.iter().filter(|a| a.created) {
                    let _ = app.storage().delete_artifact(&artifact.sha256).await;
                }
                Err(e)
            }
        }
    }

    async fn stream_artifacts(
        &self,
        app: &App,
        files: &ExportFiles,
        stored: &mut Vec<StoredArtifact>,
    ) -> Result<(), ImportExportError> {
        if self.artifacts.is_empty() {
            return Ok(());
        }
        let wanted = self.artifacts.clone();
        let files = files.clone();
        let (items, mut receive) = tokio::sync::mpsc::channel::<TarItem>(1);
        let reader = tokio::task::spawn_blocking(move || read_artifacts(&files, &wanted, items));
        let mut failure = None;
        while let Some(item) = receive.recv().await {
            let TarItem::Artifact {
                sha256,
                size,
                chunks,
            } = item;
            let expected = ExpectedArtifact::any()
                .with_size(size)
                .with_digest(ChecksumType::Sha256, sha256.clone());
            let stream = tokio_stream_of(chunks);
            match app.storage().ingest_stream(stream, &expected).await {
                Ok(artifact) => stored.push(artifact),
                Err(e) => {
                    failure = Some(ImportExportError::invalid(format!(
                        "artifact {sha256}: {e}"
                    )));
                    break;
                }
            }
        }
        drop(receive);
        let read = reader
            .await
            .map_err(|e| ImportExportError::io("reading the export")(std::io::Error::other(e)))?;
        if let Some(e) = failure {
            return Err(e);
        }
        let found = read?;
        if found < self.artifacts.len() {
            return Err(ImportExportError::invalid(format!(
                "it holds {found} of the {} artifacts it lists",
                self.artifacts.len()
            )));
        }
        Ok(())
    }
}

fn tokio_stream_of(
    mut chunks: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin {
    Box::pin(futures::stream::poll_fn(move |cx| chunks.poll_recv(cx)))
}

/// Reads the tar in order and sends each wanted artifact's bytes; returns how many were sent.
fn read_artifacts(
    files: &ExportFiles,
    wanted: &BTreeMap<String, u64>,
    items: tokio::sync::mpsc::Sender<TarItem>,
) -> Result<usize, ImportExportError> {
    let reader = files.open()?;
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries_with_seek()
        .map_err(ImportExportError::io("reading the export"))?;
    let mut sent = BTreeSet::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| ImportExportError::invalid(format!("not a tar: {e}")))?;
        let path = entry_path(&entry)?;
        let Some(rest) = path.strip_prefix("artifact/") else {
            continue;
        };
        // `ab/cdef…`, or `DOMAIN/ab/cdef…` from a domain-enabled pulpcore.
        let rest = rest.strip_prefix("DOMAIN/").unwrap_or(rest);
        let sha256 = rest.replace('/', "");
        let Some(size) = wanted.get(&sha256) else {
            continue;
        };
        if !sent.insert(sha256.clone()) {
            continue;
        }
        let (chunks, receive) = tokio::sync::mpsc::channel(4);
        if items
            .blocking_send(TarItem::Artifact {
                sha256,
                size: *size,
                chunks: receive,
            })
            .is_err()
        {
            // The async side stopped (it failed): stop reading.
            return Ok(sent.len());
        }
        loop {
            let mut buffer = vec![0u8; PIECE];
            match entry.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    buffer.truncate(n);
                    if chunks.blocking_send(Ok(Bytes::from(buffer))).is_err() {
                        return Ok(sent.len());
                    }
                }
                Err(e) => {
                    let _ = chunks.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
                    return Err(ImportExportError::invalid(format!("reading {path}: {e}")));
                }
            }
        }
    }
    Ok(sent.len())
}

/// Imports one repository version: creates the repository when it is missing (from the
/// plugin's repository resource), saves the units of the plugin's content resources (units
/// already here are reused), links them to their artifacts, and makes one new version holding
/// exactly them. Returns the new version's number (`None`: the repository already held exactly
/// that content).
pub async fn import_repository_version(
    app: &App,
    contents: &ExportContents,
    repository: &RepositoryImport,
) -> Result<(PulpId, Option<i64>), ImportExportError> {
    let resources = app.import_export_resources();
    let dest_id = match repository.dest_id {
        Some(id) => id,
        None => match repository_by_name(app, &repository.dest_name).await? {
            Some((id, _)) => id,
            None => {
                let resource =
                    resources
                        .repository_for(&repository.pulp_type)
                        .ok_or_else(|| {
                            ImportExportError::MissingRepository(format!(
                                "{} repositories cannot be created by an import",
                                repository.pulp_type
                            ))
                        })?;
                let rows = dir_rows(contents, &repository.dir, resource.name())?;
                let row = rows.into_iter().next().unwrap_or_default();
                resource.create(app, &row, &repository.dest_name).await?
            }
        },
    };
    let mut local_of: BTreeMap<String, PulpId> = BTreeMap::new();
    for resource in resources.content_for(&repository.pulp_type) {
        let rows = dir_rows(contents, &repository.dir, resource.name())?;
        for batch in rows.chunks(1000) {
            local_of.extend(resource.import(app, batch).await?);
        }
    }
    let links_rows = dir_rows(contents, &repository.dir, CONTENT_ARTIFACT_RESOURCE)?;
    let shas: Vec<String> = links_rows
        .iter()
        .filter_map(|r| r.get("artifact").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let artifact_of: BTreeMap<String, PulpId> = models::find_artifacts(app.db(), &shas)
        .await?
        .into_iter()
        .map(|a| (a.sha256().to_string(), a.pulp_id))
        .collect();
    let mut links = Vec::with_capacity(links_rows.len());
    for row in &links_rows {
        let content = row.get("content").and_then(Value::as_str).unwrap_or("");
        let Some(local) = local_of.get(content) else {
            return Err(ImportExportError::invalid(format!(
                "a content artifact names content {content}, which the export does not hold"
            )));
        };
        let sha = row.get("artifact").and_then(Value::as_str).unwrap_or("");
        let artifact = if sha.is_empty() {
            None
        } else {
            Some(*artifact_of.get(sha).ok_or_else(|| {
                ImportExportError::invalid(format!("artifact {sha} was not imported"))
            })?)
        };
        let path = row
            .get("relative_path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        links.push((*local, artifact, path));
    }
    for batch in links.chunks(5000) {
        models::save_content_artifacts(app.db(), batch).await?;
    }
    let mut ids: Vec<PulpId> = local_of
        .values()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    ids.sort();
    let mut version = NewVersion::start(app, dest_id).await?;
    version.remove_all_content().await?;
    version.add_content(&ids).await?;
    let made = version.commit().await?;
    Ok((dest_id, made.map(|v| v.number)))
}
