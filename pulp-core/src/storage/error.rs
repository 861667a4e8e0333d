//! Errors of the storage layer.

use super::ChecksumType;

/// What can go wrong while storing or reading artifacts.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The name is not a checksum algorithm.
    #[error("unknown checksum '{0}'; expected one of md5, sha1, sha224, sha256, sha384, sha512")]
    UnknownChecksum(String),
    /// The algorithm is known but not in `ALLOWED_CONTENT_CHECKSUMS`.
    #[error("checksum {checksum} is not allowed on this installation (ALLOWED_CONTENT_CHECKSUMS: {allowed})")]
    DisallowedChecksum {
        /// The refused algorithm.
        checksum: ChecksumType,
        /// The allowed ones, comma separated.
        allowed: String,
    },
    /// A digest given by the caller is not hex of the right length.
    #[error("'{value}' is not a valid {checksum} digest")]
    InvalidDigest {
        /// Its algorithm.
        checksum: ChecksumType,
        /// The value given.
        value: String,
    },
    /// The data's size is not the expected one.
    #[error("size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Expected size.
        expected: u64,
        /// Bytes received (at least; reading stops once past the expected size).
        actual: u64,
    },
    /// The data is larger than the limit the caller set.
    #[error("the data is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// A digest of the data is not the expected one.
    #[error("{checksum} mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The algorithm.
        checksum: ChecksumType,
        /// Expected hex digest.
        expected: String,
        /// Actual hex digest.
        actual: String,
    },
    /// No such artifact or temporary file.
    #[error("{0} not found in storage")]
    NotFound(String),
    /// The source the data was read from failed.
    #[error("reading the data failed: {0}")]
    Source(#[source] std::io::Error),
    /// A local file operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The object store failed.
    #[error("object storage: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// The caller's [`NewFileLog`](super::NewFileLog) refused the file (a failed sync that
    /// is undoing its work): nothing was stored.
    #[error("not stored: {0}")]
    NotWanted(String),
    /// The storage settings cannot be used.
    #[error("storage configuration: {0}")]
    Config(String),
}

impl StorageError {
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> StorageError {
        let action = action.into();
        move |source| StorageError::Io { action, source }
    }
}
