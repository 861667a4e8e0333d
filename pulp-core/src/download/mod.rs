//! The downloader: one [`Downloader`] per remote, configured from its fields (proxy, auth,
//! TLS, headers, timeouts), limiting concurrent downloads (`download_concurrency`, default
//! 10) and requests per second (`rate_limit`), retrying connection errors, 429 and 5xx with
//! exponential backoff (`max_retries`, default 3), and validating size and digests while a
//! download streams to a temporary file.
//!
//! ```no_run
//! # async fn run(remote: &pulp_core::models::RemoteFields, dir: &std::path::Path)
//! # -> Result<(), pulp_core::download::DownloadError> {
//! use pulp_core::download::Downloader;
//! use pulp_core::storage::{ChecksumType, ExpectedArtifact};
//!
//! let downloader = Downloader::for_remote(remote)?;
//! let expected = ExpectedArtifact::any().with_size(3).with_digest(ChecksumType::Sha256, "ab…");
//! let file = downloader.fetch("https://example.com/a.txt", &expected, dir).await?;
//! // ingest `file.path` with ArtifactStorage::ingest_file, then remove it.
//! # Ok(()) }
//! ```

mod client;
mod error;
mod fetch;
mod ingest;
mod limits;
mod response;

pub use client::{warm_up, Downloader, DEFAULT_DOWNLOAD_CONCURRENCY, DEFAULT_MAX_RETRIES};
pub use error::DownloadError;
pub use fetch::DownloadedFile;
pub use response::DownloadResponse;
