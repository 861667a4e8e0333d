//! Downloading straight into artifact storage: one pass that hashes every allowed digest,
//! checks size and expected digests, and writes the staging file (no temporary copy).

use std::time::Duration;

use futures::StreamExt;

use super::{DownloadError, Downloader};
use crate::storage::{ArtifactStorage, ExpectedArtifact, NewFiles, StorageError, StoredArtifact};

/// The download error carried by a stream error, or a connection error naming `url`.
fn unwrap_source(url: &str, e: std::io::Error) -> DownloadError {
    match e
        .into_inner()
        .map(|inner| inner.downcast::<DownloadError>())
    {
        Some(Ok(download)) => *download,
        Some(Err(other)) => DownloadError::Connection {
            url: url.to_string(),
            message: other.to_string(),
        },
        None => DownloadError::Connection {
            url: url.to_string(),
            message: "the body stream failed".into(),
        },
    }
}

/// A storage error of the download of `url`, naming the URL.
fn from_storage(url: &str, e: StorageError) -> DownloadError {
    match e {
        StorageError::Source(source) => unwrap_source(url, source),
        StorageError::SizeMismatch { expected, actual } => DownloadError::SizeMismatch {
            url: url.into(),
            expected,
            actual,
        },
        StorageError::DigestMismatch {
            checksum,
            expected,
            actual,
        } => DownloadError::DigestMismatch {
            url: url.into(),
            kind: checksum,
            expected,
            actual,
        },
        other => DownloadError::Storage {
            url: url.into(),
            source: other,
        },
    }
}

impl Downloader {
    /// Downloads `url` straight into `storage` as an artifact, validating size and every
    /// expected digest while it streams; retried as a whole on retryable errors (like
    /// [`Downloader::fetch`]). Nothing is stored when it fails.
    pub async fn fetch_artifact(
        &self,
        url: &str,
        expected: &ExpectedArtifact,
        storage: &ArtifactStorage,
    ) -> Result<StoredArtifact, DownloadError> {
        self.fetch_artifact_logged(url, expected, storage, None)
            .await
    }

    /// [`Downloader::fetch_artifact`], placing the file through `new_files` (see
    /// [`ArtifactStorage::ingest_stream_logged`]).
    pub async fn fetch_artifact_logged(
        &self,
        url: &str,
        expected: &ExpectedArtifact,
        storage: &ArtifactStorage,
        new_files: Option<NewFiles>,
    ) -> Result<StoredArtifact, DownloadError> {
        if let Some(path) = super::fetch::local_path(url) {
            // `file://` (pulpcore's FileDownloader): streamed from the local file.
            let file = super::fetch::open_local(url, &path).await?;
            let stream = tokio_util::io::ReaderStream::new(file);
            return storage
                .ingest_stream_logged(stream, expected, new_files)
                .await
                .map_err(|e| from_storage(url, e));
        }
        let mut delay = Duration::from_millis(200);
        let mut tries = 0;
        loop {
            let attempt = async {
                let response = self.open(url).await?;
                if let (Some(want), Some(announced)) = (expected.size, response.content_length) {
                    if want != announced {
                        return Err(DownloadError::SizeMismatch {
                            url: url.into(),
                            expected: want,
                            actual: announced,
                        });
                    }
                }
                let stream = response
                    .into_stream()
                    .map(|item| item.map_err(std::io::Error::other));
                storage
                    .ingest_stream_logged(stream, expected, new_files.clone())
                    .await
                    .map_err(|e| from_storage(url, e))
            };
            match attempt.await {
                // `open` already retried what failed before the body.
                Err(e) if e.is_retryable() && tries < self.max_retries() => {
                    tries += 1;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }
}
