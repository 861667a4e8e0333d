//! Errors of the database layer.

/// What can go wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported database.
    #[error("unsupported database URL '{0}'; use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL (password redacted).
        url: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed; nothing of it was applied.
    #[error("migration {app}.{name} failed: {source}")]
    Migration {
        /// The application (core or a plugin).
        app: String,
        /// The migration's name.
        name: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}
