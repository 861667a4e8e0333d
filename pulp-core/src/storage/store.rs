//! [`ArtifactStorage`]: where artifacts live and how they get there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;
use tokio_util::task::TaskTracker;

use super::staging::{stage_file, stage_stream, stage_stream_then, Staged, StagingPlan};
use super::{AllowedChecksums, ChecksumType, Digests, StorageError};
use crate::settings::Settings;

/// Objects smaller than this are uploaded to object storage in one request.
const SINGLE_PUT_LIMIT: u64 = 8 * 1024 * 1024;
/// Part size of multipart uploads.
const UPLOAD_PART: usize = 8 * 1024 * 1024;

/// Where a caller learns which artifact files a call places anew, and can stop further
/// placements: a sync records its new files so that it can remove them if it fails.
pub trait NewFileLog: Send + Sync {
    /// Runs `place`, which puts the file with this sha256 in place and says whether it was
    /// new, and records the file when it was; once the log is closed, refuses with
    /// [`StorageError::NotWanted`] without running it. The two must happen under one lock,
    /// so that after the log closes every file it placed is recorded and no other is placed.
    ///
    /// On local storage `place` links the file, on the blocking thread that wrote it (so it
    /// runs even when the caller has stopped waiting); on object storage it only marks the
    /// moment before the upload (the file is recorded as new before it exists).
    fn place(
        &self,
        sha256: &str,
        place: &mut dyn FnMut() -> Result<bool, StorageError>,
    ) -> Result<bool, StorageError>;

    /// Where uploads to object storage run whose files this log records, so that whoever
    /// closes the log can wait for them ([`TaskTracker::wait`]) before removing what they
    /// placed. An upload tracked here runs to its end even when the caller stops waiting;
    /// without a tracker (the default) it runs in the caller's future, and a caller dropped
    /// while its request is on the wire may see the object appear after it was removed.
    fn uploads(&self) -> Option<TaskTracker> {
        None
    }
}

/// A shared [`NewFileLog`].
pub type NewFiles = Arc<dyn NewFileLog>;

/// What the caller knows about an artifact before it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedArtifact {
    /// Expected size in bytes.
    pub size: Option<u64>,
    /// Expected hex digests.
    pub digests: Digests,
}

impl ExpectedArtifact {
    /// Nothing is expected: whatever arrives is stored.
    pub fn any() -> Self {
        Self::default()
    }

    /// Expects this size.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Expects this digest (hex, any case).
    pub fn with_digest(mut self, kind: ChecksumType, hex: impl Into<String>) -> Self {
        self.digests.insert(kind, hex.into().to_ascii_lowercase());
        self
    }

    /// Refuses disallowed algorithms and malformed digests before any byte is written.
    pub(crate) fn check(&self, allowed: &AllowedChecksums) -> Result<(), StorageError> {
        for (kind, value) in &self.digests {
            allowed.check(*kind)?;
            if value.len() != kind.hex_len() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(StorageError::InvalidDigest {
                    checksum: *kind,
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }

    /// Compares what was received with what was expected.
    pub(crate) fn verify(&self, size: u64, digests: &Digests) -> Result<(), StorageError> {
        if let Some(expected) = self.size {
            if expected != size {
                return Err(StorageError::SizeMismatch {
                    expected,
                    actual: size,
                });
            }
        }
        for (kind, expected) in &self.digests {
            let actual = digests.get(kind).cloned().unwrap_or_default();
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(StorageError::DigestMismatch {
                    checksum: *kind,
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }
}

/// A file received and hashed, not yet an artifact (its staging file is removed when it is
/// dropped).
pub struct ReceivedFile {
    staged: Staged,
}

impl ReceivedFile {
    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.staged.size
    }

    /// Its digests (every allowed checksum).
    pub fn digests(&self) -> &Digests {
        &self.staged.digests
    }
}

impl std::fmt::Debug for ReceivedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedFile")
            .field("size", &self.staged.size)
            .field("digests", &self.staged.digests)
            .finish()
    }
}

/// An artifact in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Its sha256 (the address).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Every allowed digest.
    pub digests: Digests,
    /// Its key in storage, `artifact/ab/cdef…`.
    pub path: String,
    /// False when the artifact was already stored (by an earlier or a concurrent writer).
    pub created: bool,
}

/// Space on the storage, when the backend can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StorageUsage {
    /// Total bytes.
    pub total: Option<u64>,
    /// Bytes used.
    pub used: Option<u64>,
    /// Bytes free.
    pub free: Option<u64>,
}

#[derive(Debug, Clone)]
enum Backend {
    /// A local directory: staging files live inside it, and commit is a link (atomic, no copy).
    Local { root: PathBuf },
    /// Any other object store: staging files live in the working directory, commit is an upload.
    /// S3 buckets also keep a client that can presign URLs.
    Object {
        prefix: ObjectPath,
        signer: Option<Arc<object_store::aws::AmazonS3>>,
    },
}

/// Content-addressed artifact storage plus Pulp's shared temporary files.
#[derive(Debug, Clone)]
pub struct ArtifactStorage {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
    staging_dir: PathBuf,
    allowed: AllowedChecksums,
}

impl ArtifactStorage {
    /// The storage described by the settings.
    pub fn from_settings(settings: &Settings) -> Result<Self, StorageError> {
        let allowed = AllowedChecksums::new(
            settings
                .checksum_types()
                .map_err(|e| StorageError::Config(e.to_string()))?,
        );
        Self::open(
            &settings.effective_storage_url(),
            &settings.storage.options,
            &settings.effective_working_directory(),
            allowed,
        )
    }

    /// Storage at `url` (`file:///dir` or `s3://bucket/prefix`); `working_dir` holds staging
    /// files when the storage is not local.
    pub fn open(
        url: &str,
        options: &std::collections::BTreeMap<String, String>,
        working_dir: &Path,
        allowed: AllowedChecksums,
    ) -> Result<Self, StorageError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| StorageError::Config(format!("'{url}' is not a URL: {e}")))?;
        if parsed.scheme() == "file" {
            let root = parsed
                .to_file_path()
                .map_err(|_| StorageError::Config(format!("'{url}' is not a local path")))?;
            return Self::local(&root, allowed);
        }
        let (store, prefix) = object_store::parse_url_opts(&parsed, options.iter())
            .map_err(|e| StorageError::Config(format!("{url}: {e}")))?;
        let signer = match parsed.scheme() {
            "s3" | "s3a" => Some(Arc::new(s3_signer(url, options)?)),
            _ => None,
        };
        Ok(Self {
            store: Arc::from(store),
            backend: Backend::Object { prefix, signer },
            staging_dir: working_dir.join("staging"),
            allowed,
        })
    }

    /// Storage in a local directory (created when missing).
    pub fn local(root: &Path, allowed: AllowedChecksums) -> Result<Self, StorageError> {
        std::fs::create_dir_all(root).map_err(StorageError::io(format!(
            "creating storage directory {}",
            root.display()
        )))?;
        let root = root
            .canonicalize()
            .map_err(StorageError::io(format!("resolving {}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(&root)?;
        Ok(Self {
            store: Arc::new(store),
            staging_dir: root.join(".staging"),
            backend: Backend::Local { root },
            allowed,
        })
    }

    /// The checksums computed for every artifact.
    pub fn allowed_checksums(&self) -> &AllowedChecksums {
        &self.allowed
    }

    /// The underlying object store (keys are relative to the storage root).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The local directory of the storage, when it is local.
    pub fn local_root(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Local { root } => Some(root),
            Backend::Object { .. } => None,
        }
    }

    /// A presigned `GET` URL of a storage key valid for `expires`, when the storage can
    /// presign (S3); `None` otherwise.
    pub async fn presigned_url(
        &self,
        key: &str,
        expires: std::time::Duration,
    ) -> Result<Option<url::Url>, StorageError> {
        use object_store::signer::Signer;
        match &self.backend {
            Backend::Object {
                signer: Some(signer),
                ..
            } => Ok(Some(
                signer
                    .signed_url(http::Method::GET, &self.key(key), expires)
                    .await?,
            )),
            _ => Ok(None),
        }
    }

    /// Where staging files are written.
    pub fn staging_dir(&self) -> &Path {
        &self.staging_dir
    }

    /// The storage key of the artifact with this sha256 (`artifact/ab/cdef…`).
    pub fn artifact_key(sha256: &str) -> Result<String, StorageError> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(StorageError::InvalidDigest {
                checksum: ChecksumType::Sha256,
                value: sha256.to_string(),
            });
        }
        Ok(format!("artifact/{}/{}", &sha256[..2], &sha256[2..]))
    }

    /// Stores what `stream` yields as an artifact, verified against `expected`.
    pub async fn ingest_stream<S>(
        &self,
        stream: S,
        expected: &ExpectedArtifact,
    ) -> Result<StoredArtifact, StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        self.ingest_stream_logged(stream, expected, None).await
    }

    /// [`ArtifactStorage::ingest_stream`], placing the file through `new_files` (see
    /// [`NewFileLog`]).
    pub async fn ingest_stream_logged<S>(
        &self,
        stream: S,
        expected: &ExpectedArtifact,
        new_files: Option<NewFiles>,
    ) -> Result<StoredArtifact, StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let plan = self.plan(expected, None)?;
        match &self.backend {
            // Staged and moved into place on one blocking thread.
            Backend::Local { root } => {
                let root = root.clone();
                stage_stream_then(plan, stream, move |staged| {
                    let mut artifact = artifact_of(&staged)?;
                    let target = root.join(&artifact.path);
                    let mut staged = Some(staged);
                    let mut place = || match staged.take() {
                        Some(staged) => commit_local(staged, &target),
                        None => Ok(false),
                    };
                    artifact.created = match &new_files {
                        Some(log) => log.place(&artifact.sha256, &mut place)?,
                        None => place()?,
                    };
                    Ok(artifact)
                })
                .await
            }
            Backend::Object { .. } => {
                let staged = stage_stream(plan, stream).await?;
                let mut artifact = artifact_of(&staged)?;
                let tracker = new_files.as_ref().and_then(|log| log.uploads());
                let note = new_files.map(|log| {
                    let sha256 = artifact.sha256.clone();
                    move || log.place(&sha256, &mut || Ok(true)).map(|_| ())
                });
                artifact.created = match tracker {
                    Some(tracker) => {
                        let (storage, path) = (self.clone(), artifact.path.clone());
                        tracker
                            .spawn(async move { storage.upload(staged, &path, note).await })
                            .await
                            .map_err(|e| StorageError::Io {
                                action: "uploading an artifact".into(),
                                source: std::io::Error::other(e),
                            })??
                    }
                    None => self.upload(staged, &artifact.path, note).await?,
                };
                Ok(artifact)
            }
        }
    }

    /// Receives what `stream` yields (at most `max_size` bytes) into a hashed staging file
    /// that is not yet an artifact: the caller looks at its size and digests, then commits it
    /// with [`ArtifactStorage::commit_received`] or drops it (nothing is stored).
    pub async fn receive<S>(
        &self,
        stream: S,
        max_size: Option<u64>,
    ) -> Result<ReceivedFile, StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let plan = self.plan(&ExpectedArtifact::any(), max_size)?;
        Ok(ReceivedFile {
            staged: stage_stream(plan, stream).await?,
        })
    }

    /// Makes a received file an artifact, after checking it against `expected`.
    pub async fn commit_received(
        &self,
        received: ReceivedFile,
        expected: &ExpectedArtifact,
    ) -> Result<StoredArtifact, StorageError> {
        expected.check(&self.allowed)?;
        expected.verify(received.staged.size, &received.staged.digests)?;
        self.commit_artifact(received.staged).await
    }

    /// Stores bytes already in memory as an artifact.
    pub async fn ingest_bytes(
        &self,
        data: Bytes,
        expected: &ExpectedArtifact,
    ) -> Result<StoredArtifact, StorageError> {
        self.ingest_stream(futures::stream::iter([Ok(data)]), expected)
            .await
    }

    /// Stores a copy of a local file as an artifact.
    pub async fn ingest_file(
        &self,
        path: &Path,
        expected: &ExpectedArtifact,
    ) -> Result<StoredArtifact, StorageError> {
        let plan = self.plan(expected, None)?;
        let staged = stage_file(plan, path).await?;
        self.commit_artifact(staged).await
    }

    /// Whether the artifact with this sha256 is stored.
    pub async fn contains(&self, sha256: &str) -> Result<bool, StorageError> {
        let key = self.key(&Self::artifact_key(sha256)?);
        match self.store.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The whole content of a stored artifact (for small artifacts and tests).
    pub async fn read_artifact(&self, sha256: &str) -> Result<Bytes, StorageError> {
        self.read_key(&Self::artifact_key(sha256)?).await
    }

    /// Deletes a stored artifact (missing is not an error).
    pub async fn delete_artifact(&self, sha256: &str) -> Result<(), StorageError> {
        self.delete_key(&Self::artifact_key(sha256)?).await
    }

    /// Total, used and free bytes of the storage, when known.
    pub fn usage(&self) -> StorageUsage {
        match &self.backend {
            Backend::Local { root } => {
                let total = fs4::total_space(root).ok();
                let free = fs4::available_space(root).ok();
                let used = match (total, fs4::free_space(root).ok()) {
                    (Some(t), Some(f)) => Some(t.saturating_sub(f)),
                    _ => None,
                };
                StorageUsage { total, used, free }
            }
            Backend::Object { .. } => StorageUsage {
                total: None,
                used: None,
                free: None,
            },
        }
    }

    /// Removes staging files older than `age` (left by a process that was killed mid-write).
    pub fn sweep_staging(&self, age: std::time::Duration) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.staging_dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed >= age);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    pub(crate) fn plan(
        &self,
        expected: &ExpectedArtifact,
        max_size: Option<u64>,
    ) -> Result<StagingPlan, StorageError> {
        expected.check(&self.allowed)?;
        Ok(StagingPlan {
            dir: self.staging_dir.clone(),
            types: self.allowed.types().to_vec(),
            expected: expected.clone(),
            max_size,
        })
    }

    async fn commit_artifact(&self, staged: Staged) -> Result<StoredArtifact, StorageError> {
        let mut artifact = artifact_of(&staged)?;
        artifact.created = self.commit(staged, &artifact.path).await?;
        Ok(artifact)
    }

    /// Moves a staged file to `key`; false when an object was already there (it is kept).
    pub(crate) async fn commit(&self, staged: Staged, key: &str) -> Result<bool, StorageError> {
        match &self.backend {
            Backend::Local { root } => {
                let target = root.join(key);
                tokio::task::spawn_blocking(move || commit_local(staged, &target))
                    .await
                    .map_err(|e| StorageError::Io {
                        action: "committing an artifact".into(),
                        source: std::io::Error::other(e.to_string()),
                    })?
            }
            Backend::Object { .. } => {
                self.upload(staged, key, None::<fn() -> Result<(), StorageError>>)
                    .await
            }
        }
    }

    /// Uploads a staged file to `key` unless an object is there; `before_creating` runs
    /// when it is not, before anything is written (its error stops the upload).
    async fn upload(
        &self,
        staged: Staged,
        key: &str,
        before_creating: Option<impl FnOnce() -> Result<(), StorageError>>,
    ) -> Result<bool, StorageError> {
        let location = self.key(key);
        match self.store.head(&location).await {
            Ok(_) => return Ok(false),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(note) = before_creating {
            note()?;
        }
        let mut file = tokio::fs::File::from_std(
            staged
                .file
                .reopen()
                .map_err(StorageError::io("reopening the staging file"))?,
        );
        if staged.size < SINGLE_PUT_LIMIT {
            let mut data = Vec::with_capacity(staged.size as usize);
            file.read_to_end(&mut data)
                .await
                .map_err(StorageError::io("reading the staging file"))?;
            let options = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            return match self
                .store
                .put_opts(&location, PutPayload::from(data), options)
                .await
            {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(object_store::Error::NotImplemented) => {
                    Err(StorageError::Config("conditional put unsupported".into()))
                }
                Err(e) => Err(e.into()),
            };
        }
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART);
        let mut buffer = vec![0u8; UPLOAD_PART];
        loop {
            let read = file
                .read(&mut buffer)
                .await
                .map_err(StorageError::io("reading the staging file"))?;
            if read == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buffer[..read]);
        }
        writer.finish().await?;
        Ok(true)
    }

    pub(crate) async fn read_key(&self, key: &str) -> Result<Bytes, StorageError> {
        match self.store.get(&self.key(key)).await {
            Ok(result) => Ok(result.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(StorageError::NotFound(key.into())),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn delete_key(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.key(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The object-store location of a storage key.
    pub fn key(&self, key: &str) -> ObjectPath {
        match &self.backend {
            Backend::Local { .. } => ObjectPath::from(key),
            Backend::Object { prefix, .. } => prefix
                .parts()
                .chain(ObjectPath::from(key).parts())
                .collect(),
        }
    }
}

/// An S3 client built from the same URL and options as the store, used to presign URLs.
fn s3_signer(
    url: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<object_store::aws::AmazonS3, StorageError> {
    let mut builder = object_store::aws::AmazonS3Builder::new().with_url(url);
    for (key, value) in options {
        if let Ok(key) = key.parse::<object_store::aws::AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    builder
        .build()
        .map_err(|e| StorageError::Config(format!("{url}: {e}")))
}

/// The artifact a staged file becomes (not yet in place: `created` is false).
fn artifact_of(staged: &Staged) -> Result<StoredArtifact, StorageError> {
    let sha256 = staged
        .digests
        .get(&ChecksumType::Sha256)
        .cloned()
        .ok_or_else(|| StorageError::Config("sha256 was not computed".into()))?;
    Ok(StoredArtifact {
        path: ArtifactStorage::artifact_key(&sha256)?,
        sha256,
        size: staged.size,
        digests: staged.digests.clone(),
        created: false,
    })
}

fn commit_local(staged: Staged, target: &Path) -> Result<bool, StorageError> {
    set_readable(staged.file.as_file());
    // A hard link is atomic and fails if the target exists: exactly one writer wins. The
    // directory is made only when the first link into it finds it missing.
    let file = match staged.file.persist_noclobber(target) {
        Ok(_) => return Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(StorageError::io(format!("creating {}", parent.display())))?;
            }
            e.file
        }
        Err(e) => return persist_error(e.error, target),
    };
    match file.persist_noclobber(target) {
        Ok(_) => Ok(true),
        Err(e) => persist_error(e.error, target),
    }
}

/// An existing target is not an error (the same bytes are there already).
fn persist_error(error: std::io::Error, target: &Path) -> Result<bool, StorageError> {
    if error.kind() == std::io::ErrorKind::AlreadyExists {
        Ok(false)
    } else {
        Err(StorageError::Io {
            action: format!("moving the staging file to {}", target.display()),
            source: error,
        })
    }
}

#[cfg(unix)]
fn set_readable(file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: artifacts are world-readable like files Pulp writes; failure only
    // means they keep the staging file's owner-only mode.
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
}

#[cfg(not(unix))]
fn set_readable(_file: &std::fs::File) {}
