//! The Pulp export: repository versions written to a tar (optionally chunked) in pulpcore's
//! layout, with its table of contents.
//!
//! The tar is written on a blocking thread; artifacts are streamed from storage into it
//! (never held whole in memory), the JSON resources are built first (their rows are small).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::chunks::{file_sha256, ChunkedWriter, TOC_CHECKSUM};
use super::resource::{app_label, repository_row, EXPORT_DOMAIN};
use super::{
    ImportExportError, Row, ARTIFACT_RESOURCE, CONTENT_ARTIFACT_RESOURCE, REPOSITORY_RESOURCE,
};
use crate::app::App;
use crate::db::PulpId;
use crate::models::{self, Artifact, ContentArtifact, RepositoryKind};
use crate::repository::{version_content_ids, RepositoryVersion};
use crate::storage::{ArtifactStorage, ChecksumType};

/// Units read per page when listing a version's content.
const PAGE: i64 = 10_000;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The export's id (in the file names).
    pub export_id: PulpId,
    /// The exporter's directory (checked against `allowed_export_paths`).
    pub directory: PathBuf,
    /// The versions to export (one per repository).
    pub versions: Vec<RepositoryVersion>,
    /// For an incremental export, the versions exported last (matched by repository): only
    /// the artifacts they lack are written.
    pub start_versions: Option<Vec<RepositoryVersion>>,
    /// Bytes per chunk; 0 writes one tar.
    pub chunk_size: u64,
    /// Extra `meta` for the table of contents.
    pub meta: Map<String, Value>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOutput {
    /// Each file written (full path) with its checksum, and the table of contents with its
    /// sha256 (pulpcore's `output_file_info`).
    pub output_file_info: BTreeMap<String, String>,
    /// The table of contents' path.
    pub toc_path: PathBuf,
    /// Its sha256.
    pub toc_sha256: String,
}

/// The `versions.json` of repositories of these types: core and each type's plugin.
fn versions_json(app: &App, repository_types: &BTreeSet<String>) -> Value {
    let mut labels = BTreeSet::from(["core".to_string()]);
    labels.extend(repository_types.iter().map(|t| app_label(t).to_string()));
    let versions: Vec<Value> = labels
        .iter()
        .map(|label| {
            let version = app
                .components()
                .iter()
                .find(|c| &c.component == label)
                .map(|c| c.version.clone())
                .unwrap_or_else(|| crate::plugin::PULP_API_VERSION.to_string());
            json!({"component": label, "version": version})
        })
        .collect();
    Value::Array(versions)
}

/// Every unit of a version.
pub(crate) async fn all_content(
    app: &App,
    version: &RepositoryVersion,
) -> Result<Vec<PulpId>, ImportExportError> {
    let mut out = Vec::new();
    loop {
        let page = version_content_ids(app.db(), version, PAGE, out.len() as i64).await?;
        let done = (page.len() as i64) < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// The artifact ids of a version's content; refuses content whose artifact is not downloaded.
async fn version_artifacts(
    app: &App,
    content: &[PulpId],
) -> Result<(Vec<ContentArtifact>, BTreeSet<PulpId>), ImportExportError> {
    let links = models::content_artifacts(app.db(), content).await?;
    let mut ids = BTreeSet::new();
    for link in &links {
        match link.artifact_id {
            Some(id) => {
                ids.insert(id);
            }
            None => {
                return Err(ImportExportError::NotExportable(
                    "Remote artifacts cannot be exported.".into(),
                ))
            }
        }
    }
    Ok((links, ids))
}

/// The `pulp_type` of each of these units.
async fn content_types(
    app: &App,
    ids: &[PulpId],
) -> Result<Vec<(PulpId, String)>, ImportExportError> {
    use crate::models::sql::{placeholders, rows_per_statement};
    use crate::models::SqlValue;
    let db = app.db();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(rows_per_statement(1)) {
        let sql = format!(
            "SELECT pulp_id, pulp_type FROM core_content WHERE pulp_id IN ({})",
            placeholders(1, chunk.len())
        );
        let binds = chunk.iter().map(|id| SqlValue::Id(Some(*id)));
        let rows: Vec<(PulpId, String)> = crate::on_pool!(db, pool => {
            crate::models::sql::bind_all!(db.backend(), sqlx::query_as, &sql, binds, |q| q.fetch_all(pool).await?)
        });
        out.extend(rows);
    }
    Ok(out)
}

/// pulpcore's `ArtifactResource` row.
fn artifact_row(artifact: &Artifact) -> Row {
    let mut row = Row::new();
    row.insert("file".into(), artifact.file.clone().into());
    row.insert("size".into(), artifact.size.to_string().into());
    for kind in ChecksumType::ALL {
        let value = artifact.digests.get(&kind).cloned().unwrap_or_default();
        row.insert(kind.as_str().into(), value.into());
    }
    row.insert("pulp_domain".into(), EXPORT_DOMAIN.into());
    row
}

fn to_json(rows: &[Row]) -> Result<Vec<u8>, ImportExportError> {
    serde_json::to_vec(rows).map_err(|e| ImportExportError::invalid(e.to_string()))
}

/// Writes the export of `request.versions`; on failure, removes what it wrote.
pub async fn export_versions(
    app: &App,
    request: ExportRequest,
) -> Result<ExportOutput, ImportExportError> {
    let db = app.db();
    let mut repositories = Vec::with_capacity(request.versions.len());
    for version in &request.versions {
        repositories.push(models::get_master::<RepositoryKind>(db, version.repository_id).await?);
    }
    let start_by_repository: BTreeMap<PulpId, &RepositoryVersion> = request
        .start_versions
        .iter()
        .flatten()
        .map(|v| (v.repository_id, v))
        .collect();
    let resources = app.import_export_resources();
    let mut artifact_ids = BTreeSet::new();
    // (directory, file name, bytes) of the JSON files of each version.
    let mut version_files: Vec<(String, String, Vec<u8>)> = Vec::new();
    let mut all_links: Vec<ContentArtifact> = Vec::new();
    for (version, repository) in request.versions.iter().zip(&repositories) {
        let content = all_content(app, version).await?;
        let (links, ids) = version_artifacts(app, &content).await?;
        match start_by_repository.get(&version.repository_id) {
            Some(start) => {
                let earlier = all_content(app, start).await?;
                let (_, before) = version_artifacts(app, &earlier).await?;
                artifact_ids.extend(ids.difference(&before).copied());
            }
            None => artifact_ids.extend(ids),
        }
        let dir = format!("repository-{}_{}", repository.fields.name, version.number);
        let masters = content_types(app, &content).await?;
        for resource in resources.content_for(&repository.pulp_type) {
            let of_type: Vec<PulpId> = masters
                .iter()
                .filter(|(_, t)| t == resource.pulp_type())
                .map(|(id, _)| *id)
                .collect();
            if of_type.is_empty() {
                continue;
            }
            let rows = resource.export(app, &of_type).await?;
            version_files.push((
                dir.clone(),
                format!("{}.json", resource.name()),
                to_json(&rows)?,
            ));
        }
        if let Some(resource) = resources.repository_for(&repository.pulp_type) {
            let row = resource.export(app, repository.pulp_id).await?;
            version_files.push((
                dir.clone(),
                format!("{}.json", resource.name()),
                to_json(&[row])?,
            ));
        }
        all_links.extend(links.iter().cloned());
        version_files.push((dir, format!("{CONTENT_ARTIFACT_RESOURCE}.json"), Vec::new()));
        // Filled below, once the artifacts' digests are known.
        let last = version_files.len() - 1;
        version_files[last].2 = serde_json::to_vec(&links_marker(&links))
            .map_err(|e| ImportExportError::invalid(e.to_string()))?;
    }
    // Digests of every artifact linked (an incremental export still names them all).
    let linked: Vec<PulpId> = all_links
        .iter()
        .filter_map(|l| l.artifact_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let linked_artifacts = models::artifacts_by_id(db, &linked).await?;
    let sha_of: BTreeMap<PulpId, String> = linked_artifacts
        .iter()
        .map(|a| (a.pulp_id, a.sha256().to_string()))
        .collect();
    for (_, name, bytes) in version_files.iter_mut() {
        if name.as_str() != format!("{CONTENT_ARTIFACT_RESOURCE}.json") {
            continue;
        }
        let marked: Vec<(PulpId, PulpId, String)> =
            serde_json::from_slice(bytes).map_err(|e| ImportExportError::invalid(e.to_string()))?;
        let rows: Vec<Row> = marked
            .into_iter()
            .map(|(content, artifact, path)| {
                let mut row = Row::new();
                row.insert(
                    "artifact".into(),
                    sha_of.get(&artifact).cloned().unwrap_or_default().into(),
                );
                row.insert("content".into(), content.to_string().into());
                row.insert("relative_path".into(), path.into());
                row
            })
            .collect();
        *bytes = to_json(&rows)?;
    }
    let mut artifacts: Vec<Artifact> = linked_artifacts
        .into_iter()
        .filter(|a| artifact_ids.contains(&a.pulp_id))
        .collect();
    artifacts.sort_by(|a, b| a.sha256().cmp(b.sha256()));
    let artifact_rows: Vec<Row> = artifacts.iter().map(artifact_row).collect();
    let repository_rows: Vec<Row> = repositories.iter().map(repository_row).collect();
    let types: BTreeSet<String> = repositories.iter().map(|r| r.pulp_type.clone()).collect();
    let mut top_files = vec![(
        String::new(),
        format!("{ARTIFACT_RESOURCE}.json"),
        to_json(&artifact_rows)?,
    )];
    top_files.push((
        String::new(),
        format!("{REPOSITORY_RESOURCE}.json"),
        to_json(&repository_rows)?,
    ));
    top_files.extend(version_files);
    let versions = serde_json::to_vec(&versions_json(app, &types))
        .map_err(|e| ImportExportError::invalid(e.to_string()))?;

    std::fs::create_dir_all(&request.directory).map_err(ImportExportError::io(format!(
        "creating {}",
        request.directory.display()
    )))?;
    let base = request.directory.join(format!(
        "export-{}-{}.tar",
        request.export_id,
        Utc::now().format("%Y%m%d_%H%M")
    ));
    let storage = app.storage().clone();
    let handle = tokio::runtime::Handle::current();
    let chunk_size = request.chunk_size;
    let tar_base = base.clone();
    let written = tokio::task::spawn_blocking(move || {
        write_tar(
            &storage, &handle, tar_base, chunk_size, &versions, &artifacts, &top_files,
        )
    })
    .await
    .map_err(|e| ImportExportError::io("writing the export")(std::io::Error::other(e)))??;

    let mut meta = request.meta.clone();
    meta.insert("checksum_type".into(), TOC_CHECKSUM.into());
    if chunk_size > 0 {
        meta.insert("chunk_size".into(), chunk_size.into());
    }
    let files: Map<String, Value> = written
        .iter()
        .map(|(path, sum)| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, Value::String(sum.clone()))
        })
        .collect();
    let toc_path = toc_path_of(&base);
    let toc = json!({"meta": meta, "files": files});
    let written_toc = serde_json::to_vec(&toc)
        .map_err(|e| ImportExportError::invalid(e.to_string()))
        .and_then(|bytes| {
            std::fs::write(&toc_path, bytes).map_err(ImportExportError::io(format!(
                "writing {}",
                toc_path.display()
            )))
        });
    if let Err(e) = written_toc {
        for path in written.keys() {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    let toc_sha256 = file_sha256(&toc_path)?;
    let mut output_file_info: BTreeMap<String, String> = written
        .into_iter()
        .map(|(p, s)| (p.display().to_string(), s))
        .collect();
    output_file_info.insert(toc_path.display().to_string(), toc_sha256.clone());
    Ok(ExportOutput {
        output_file_info,
        toc_path,
        toc_sha256,
    })
}

/// `…/export-<id>-<time>.tar` → `…/export-<id>-<time>-toc.json`.
fn toc_path_of(base: &Path) -> PathBuf {
    let name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    base.with_file_name(format!(
        "{}-toc.json",
        name.strip_suffix(".tar").unwrap_or(&name)
    ))
}

/// The links as `(content, artifact, relative_path)` (artifact digests are added later).
fn links_marker(links: &[ContentArtifact]) -> Vec<(PulpId, PulpId, String)> {
    let mut out: Vec<(PulpId, PulpId, String)> = links
        .iter()
        .filter_map(|l| {
            l.artifact_id
                .map(|a| (l.content_id, a, l.relative_path.clone()))
        })
        .collect();
    out.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
    out
}

fn header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(Utc::now().timestamp().max(0) as u64);
    header
}

/// Writes the tar; returns each file written with its checksum. On failure every file it
/// created is removed.
fn write_tar(
    storage: &ArtifactStorage,
    handle: &tokio::runtime::Handle,
    base: PathBuf,
    chunk_size: u64,
    versions: &[u8],
    artifacts: &[Artifact],
    files: &[(String, String, Vec<u8>)],
) -> Result<BTreeMap<PathBuf, String>, ImportExportError> {
    let writer = ChunkedWriter::new(base, chunk_size);
    let mut builder = tar::Builder::new(writer);
    let result = (|| -> Result<(), ImportExportError> {
        let io = |what: &str| ImportExportError::io(format!("writing {what} into the export"));
        builder
            .append_data(
                &mut header(versions.len() as u64),
                "versions.json",
                versions,
            )
            .map_err(io("versions.json"))?;
        for artifact in artifacts {
            let reader = open_artifact(storage, handle, artifact)?;
            let size = u64::try_from(artifact.size).unwrap_or(0);
            // A reader of exactly `size` bytes: a file changed underneath fails the entry.
            let mut limited = ExactReader {
                inner: reader,
                left: size,
            };
            builder
                .append_data(&mut header(size), &artifact.file, &mut limited)
                .map_err(io(&artifact.file))?;
        }
        for (dir, name, bytes) in files {
            let path = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            builder
                .append_data(&mut header(bytes.len() as u64), &path, bytes.as_slice())
                .map_err(io(&path))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let created = builder.get_ref().created_paths();
        drop(builder);
        for path in &created {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    let finished = Ok(()).and_then(|()| {
        builder
            .into_inner()
            .map_err(ImportExportError::io("finishing the export"))
    });
    match finished {
        Ok(writer) => {
            let created = writer.created_paths();
            writer.finish().map_err(|e| {
                for path in &created {
                    let _ = std::fs::remove_file(path);
                }
                ImportExportError::io("finishing the export")(e)
            })
        }
        Err(e) => Err(e),
    }
}

/// An artifact's bytes: the file itself on local storage, a stream from object storage.
fn open_artifact(
    storage: &ArtifactStorage,
    handle: &tokio::runtime::Handle,
    artifact: &Artifact,
) -> Result<Box<dyn Read + Send>, ImportExportError> {
    if let Some(root) = storage.local_root() {
        let path = root.join(&artifact.file);
        let file = std::fs::File::open(&path).map_err(ImportExportError::io(format!(
            "opening artifact {}",
            artifact.file
        )))?;
        return Ok(Box::new(file));
    }
    let store = storage.object_store();
    let key = storage.key(&artifact.file);
    let result = handle
        .block_on(store.get(&key))
        .map_err(|e| ImportExportError::Storage(e.into()))?;
    use futures::TryStreamExt;
    let stream = result.into_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
        reader,
        handle.clone(),
    )))
}

/// Reads exactly `left` bytes from `inner` (an error if it holds fewer).
struct ExactReader {
    inner: Box<dyn Read + Send>,
    left: u64,
}

impl Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.left) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the artifact is shorter than recorded",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
