//! [`VersionError`]: what can go wrong making, reading or deleting repository versions.

use crate::db::{DbError, PulpId};
use crate::models::ModelError;

/// An error of the repository-version engine.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// The repository or version does not exist.
    #[error("repository {repository} has no version {number}")]
    NoSuchVersion {
        /// The repository.
        repository: PulpId,
        /// The version number.
        number: i64,
    },
    /// The only version of a repository cannot be deleted.
    #[error("cannot delete version {number}: it is the only version of the repository")]
    OnlyVersion {
        /// The version number.
        number: i64,
    },
    /// Two units with the same repository key would be in the version.
    #[error("more than one {pulp_type} unit with the same {key} would be in the version")]
    DuplicateContent {
        /// The content type.
        pulp_type: String,
        /// The repository key, `field=value, …`.
        key: String,
    },
    /// A unit added with `overwrite=false` has the repository key of a unit already in the
    /// repository.
    /// The text carries pulpcore's error code of an overwrite conflict (`PLP0023`).
    #[error("[PLP0023] Content overwrite rejected: new content of type '{pulp_type}' would overwrite existing content in the repository with the same unique key ({key}), and overwrite is false")]
    WouldOverwrite {
        /// The content type.
        pulp_type: String,
        /// The repository key, `field=value, …`.
        key: String,
    },
    /// The plugin refused the change (its invariant would break), with its reason.
    #[error("{0}")]
    Refused(String),
    /// A model could not be read or written.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<sqlx::Error> for VersionError {
    fn from(e: sqlx::Error) -> Self {
        VersionError::Database(DbError::Sqlx(e))
    }
}
