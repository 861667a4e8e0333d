//! [`DownloadError`]: why a download failed. Messages are short and name the URL (they end
//! up in task errors and in the content app's 502 bodies).

use crate::storage::ChecksumType;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server answered 404 or 410.
    #[error("{url} not found (HTTP {status})")]
    NotFound {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The server answered another error status (after the retries, for 429 and 5xx).
    #[error("{url} answered HTTP {status}")]
    Http {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The connection could not be made, or broke (including a body cut short).
    #[error("connection to {url} failed: {message}")]
    Connection {
        /// The URL.
        url: String,
        /// What the network layer said.
        message: String,
    },
    /// A timeout (total, connect or read) expired.
    #[error("{url} timed out: {message}")]
    Timeout {
        /// The URL.
        url: String,
        /// Which wait expired.
        message: String,
    },
    /// The body's size is not the expected one.
    #[error("{url}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The URL.
        url: String,
        /// Expected size.
        expected: u64,
        /// Bytes received (reading stops once past the expected size).
        actual: u64,
    },
    /// A digest of the body is not the expected one.
    #[error("{url}: {kind} mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// The algorithm.
        kind: ChecksumType,
        /// Expected hex digest.
        expected: String,
        /// Actual hex digest.
        actual: String,
    },
    /// Writing the downloaded file failed.
    #[error("{url}: writing the download failed: {source}")]
    Io {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Storing the download as an artifact failed.
    #[error("{url}: storing the download failed: {source}")]
    Storage {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: crate::storage::StorageError,
    },
    /// The URL is not one the downloader can fetch.
    #[error("'{0}' is not an http(s) URL")]
    InvalidUrl(String),
    /// The remote's settings cannot be used (bad proxy URL, certificate, header…).
    #[error("invalid remote settings: {0}")]
    InvalidRemote(String),
}

impl DownloadError {
    /// A short name for the kind of failure (the `reason` label of the failure metric).
    pub fn reason(&self) -> &'static str {
        match self {
            DownloadError::NotFound { .. } => "not_found",
            DownloadError::Http { .. } => "http_status",
            DownloadError::Connection { .. } => "connection",
            DownloadError::Timeout { .. } => "timeout",
            DownloadError::SizeMismatch { .. } => "size_mismatch",
            DownloadError::DigestMismatch { .. } => "digest_mismatch",
            DownloadError::Io { .. } => "io",
            DownloadError::Storage { .. } => "storage",
            DownloadError::InvalidUrl(_) => "invalid_url",
            DownloadError::InvalidRemote(_) => "invalid_remote",
        }
    }

    /// Whether trying again may help: connection errors (a body cut short too), timeouts,
    /// 429 and 5xx, and a body of the wrong size or digest (a truncated or corrupted
    /// transfer), as pulpcore's downloaders retry them.
    pub fn is_retryable(&self) -> bool {
        match self {
            DownloadError::Connection { .. }
            | DownloadError::Timeout { .. }
            | DownloadError::SizeMismatch { .. }
            | DownloadError::DigestMismatch { .. } => true,
            DownloadError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The error of a reqwest failure on `url`.
    pub(crate) fn from_reqwest(url: &str, e: &reqwest::Error) -> Self {
        let message = describe(e);
        if e.is_timeout() {
            DownloadError::Timeout {
                url: url.to_string(),
                message,
            }
        } else {
            DownloadError::Connection {
                url: url.to_string(),
                message,
            }
        }
    }
}

/// The error and its causes, on one line (reqwest's top-level message alone says little).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
