//! Streaming a response into a temporary file while hashing and checking it.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::{DownloadError, DownloadResponse};
use crate::storage::{ChecksumType, Digests, ExpectedArtifact, MultiHasher};

/// A verified download in a temporary file. The caller owns the file: ingest it
/// (`ArtifactStorage::ingest_file`), then remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256 and every digest that was expected.
    pub digests: Digests,
}

impl DownloadedFile {
    /// Its sha256.
    pub fn sha256(&self) -> &str {
        self.digests
            .get(&ChecksumType::Sha256)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// Removes the file when dropped unless disarmed (a failed download leaves nothing).
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Streams `response` into a new file under `dir`, checking the size as bytes arrive and
/// the digests at the end.
pub(crate) async fn fetch_once(
    mut response: DownloadResponse,
    expected: &ExpectedArtifact,
    dir: &Path,
) -> Result<DownloadedFile, DownloadError> {
    let url = response.url.clone();
    let io = |source: std::io::Error| DownloadError::Io {
        url: url.clone(),
        source,
    };
    if let (Some(want), Some(announced)) = (expected.size, response.content_length) {
        if want != announced {
            return Err(DownloadError::SizeMismatch {
                url: url.clone(),
                expected: want,
                actual: announced,
            });
        }
    }
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let path = dir.join(format!("download-{}", uuid::Uuid::new_v4().simple()));
    let mut guard = Cleanup(Some(path.clone()));
    let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
    let mut types: Vec<ChecksumType> = expected.digests.keys().copied().collect();
    if !types.contains(&ChecksumType::Sha256) {
        types.push(ChecksumType::Sha256);
    }
    let mut hasher = MultiHasher::new(&types);
    while let Some(chunk) = response.chunk().await? {
        hasher.update(&chunk);
        if let Some(want) = expected.size {
            if hasher.size() > want {
                return Err(DownloadError::SizeMismatch {
                    url: url.clone(),
                    expected: want,
                    actual: hasher.size(),
                });
            }
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    drop(file);
    drop(response);
    let size = hasher.size();
    if let Some(want) = expected.size {
        if want != size {
            return Err(DownloadError::SizeMismatch {
                url: url.clone(),
                expected: want,
                actual: size,
            });
        }
    }
    let digests = hasher.finish();
    for (kind, want) in &expected.digests {
        let actual = digests.get(kind).cloned().unwrap_or_default();
        if !actual.eq_ignore_ascii_case(want) {
            return Err(DownloadError::DigestMismatch {
                url: url.clone(),
                kind: *kind,
                expected: want.clone(),
                actual,
            });
        }
    }
    guard.0 = None;
    Ok(DownloadedFile {
        path,
        size,
        digests,
    })
}

/// The local path of a `file://` URL (`None` for any other URL).
pub(crate) fn local_path(url: &str) -> Option<PathBuf> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.scheme() != "file" {
        return None;
    }
    parsed.to_file_path().ok()
}

/// Opens the file a `file://` URL names (a missing file is [`DownloadError::NotFound`], as a
/// 404 would be).
pub(crate) async fn open_local(url: &str, path: &Path) -> Result<tokio::fs::File, DownloadError> {
    tokio::fs::File::open(path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DownloadError::NotFound {
                url: url.into(),
                status: 404,
            }
        } else {
            DownloadError::Io {
                url: url.into(),
                source: e,
            }
        }
    })
}

/// [`fetch_once`] of a `file://` URL: the local file copied into a new file under `dir`,
/// checked the same way.
pub(crate) async fn fetch_local(
    url: &str,
    path: &Path,
    expected: &ExpectedArtifact,
    dir: &Path,
) -> Result<DownloadedFile, DownloadError> {
    use tokio::io::AsyncReadExt;
    let io = |source: std::io::Error| DownloadError::Io {
        url: url.into(),
        source,
    };
    let mut source = open_local(url, path).await?;
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let target = dir.join(format!("download-{}", uuid::Uuid::new_v4().simple()));
    let mut guard = Cleanup(Some(target.clone()));
    let mut file = tokio::fs::File::create(&target).await.map_err(io)?;
    let mut types: Vec<ChecksumType> = expected.digests.keys().copied().collect();
    if !types.contains(&ChecksumType::Sha256) {
        types.push(ChecksumType::Sha256);
    }
    let mut hasher = MultiHasher::new(&types);
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = source.read(&mut buffer).await.map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n]).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    drop(file);
    let size = hasher.size();
    if let Some(want) = expected.size {
        if want != size {
            return Err(DownloadError::SizeMismatch {
                url: url.into(),
                expected: want,
                actual: size,
            });
        }
    }
    let digests = hasher.finish();
    for (kind, want) in &expected.digests {
        let actual = digests.get(kind).cloned().unwrap_or_default();
        if !actual.eq_ignore_ascii_case(want) {
            return Err(DownloadError::DigestMismatch {
                url: url.into(),
                kind: *kind,
                expected: want.clone(),
                actual,
            });
        }
    }
    guard.0 = None;
    Ok(DownloadedFile {
        path: target,
        size,
        digests,
    })
}
