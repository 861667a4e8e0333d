//! [`ModelError`]: what can go wrong reading or writing models.

use crate::db::{DbError, PulpId};
use crate::validation::ValidationErrors;

/// An error of the model layer.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A master was cast to a detail type it is not.
    #[error("{id} is a {found}, not a {expected}")]
    WrongType {
        /// The master's id.
        id: PulpId,
        /// The type asked for (`file.file`).
        expected: &'static str,
        /// The master's `pulp_type`.
        found: String,
    },
    /// No row has that id (or it is of another kind).
    #[error("no {kind} with id {id}")]
    NotFound {
        /// The kind or type looked for.
        kind: &'static str,
        /// The id.
        id: PulpId,
    },
    /// The values do not pass validation.
    #[error("invalid: {0}")]
    Invalid(#[from] ValidationErrors),
    /// A value cannot be stored in its column.
    #[error("cannot store field '{field}': {message}")]
    Encode {
        /// The field.
        field: String,
        /// Why.
        message: String,
    },
    /// A stored row cannot be read back into its type (schema and type disagree).
    #[error("cannot read a stored row: {0}")]
    Decode(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<sqlx::Error> for ModelError {
    fn from(e: sqlx::Error) -> Self {
        ModelError::Database(DbError::Sqlx(e))
    }
}

/// Whether `e` is a violation of a unique constraint.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
