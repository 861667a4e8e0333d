//! [`ImportExportError`]: what can go wrong exporting or importing.

use crate::models::ModelError;
use crate::repository::VersionError;
use crate::storage::StorageError;

/// An error of an export or an import, in the user's terms.
#[derive(Debug, thiserror::Error)]
pub enum ImportExportError {
    /// A path is not below one of the allowed directories (or is not absolute).
    #[error("{0}")]
    PathNotAllowed(String),
    /// Reading or writing a file failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The table of contents is not one pulpcore writes.
    #[error("invalid table of contents: {0}")]
    Toc(String),
    /// Chunks named in the table of contents are missing.
    #[error("Missing import-chunks named in table-of-contents: {0:?}.")]
    MissingChunks(Vec<String>),
    /// Chunks whose checksum is not the one in the table of contents.
    #[error("Import chunk hash mismatch: {0:?}.")]
    ChecksumMismatch(Vec<String>),
    /// The export was made by versions of the components that this server cannot import.
    #[error("{0}")]
    IncompatibleVersions(String),
    /// A repository to import into does not exist (and is not to be created).
    #[error("{0}")]
    MissingRepository(String),
    /// The export does not hold what it should (a malformed or truncated export).
    #[error("invalid export: {0}")]
    InvalidExport(String),
    /// What is asked cannot be exported.
    #[error("{0}")]
    NotExportable(String),
    /// A model could not be read or written.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A repository version could not be read or made.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// Artifact storage failed (or an artifact's bytes are not its digest).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ImportExportError {
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| ImportExportError::Io { action, source }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ImportExportError::InvalidExport(message.into())
    }
}

impl From<sqlx::Error> for ImportExportError {
    fn from(e: sqlx::Error) -> Self {
        ImportExportError::Model(ModelError::from(e))
    }
}

impl From<crate::db::DbError> for ImportExportError {
    fn from(e: crate::db::DbError) -> Self {
        ImportExportError::Model(ModelError::from(e))
    }
}
