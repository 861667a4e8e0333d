//! [`Database`]: a pool of SQLite or PostgreSQL connections.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use super::DbError;
use crate::settings::redact;

/// Which database a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (one file; the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A connection pool to the database pulp-rs keeps its state in.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite pool (WAL journal, busy timeout, foreign keys on).
    Sqlite(SqlitePool),
    /// PostgreSQL pool.
    Postgres(PgPool),
}

impl Database {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file if missing.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            let options =
                SqliteConnectOptions::from_str(url).map_err(|source| connect_error(url, source))?;
            Self::connect_sqlite(url, options).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options =
                PgConnectOptions::from_str(url).map_err(|source| connect_error(url, source))?;
            Self::connect_postgres(url, options).await
        } else {
            Err(DbError::UnsupportedUrl(redact(url)))
        }
    }

    /// Connects to SQLite with pulp-rs's connection settings applied to `options`.
    pub async fn connect_sqlite(url: &str, options: SqliteConnectOptions) -> Result<Self, DbError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // `REGEXP` (the `__regex` list filters; PostgreSQL has `~` natively).
            .with_regexp()
            // 32 MiB of page cache per connection (SQLite's default is 2 MiB): bulk changes
            // to big repositories touch index pages all over the file. More made a 100,000-file
            // sync's memory grow with the repository (the cache fills as the tables grow).
            .pragma("cache_size", "-32768")
            // And 32 MiB for all of SQLite's memory in this process together (page caches,
            // prepared statements), whatever the number of pooled connections: SQLite then
            // reuses cache pages instead of allocating more. Without it every connection that
            // had served a big sync or list kept its own full cache, so the process grew with
            // the pool (a 200,000-file sync: 65 MiB of SQLite memory). Measured: no sync or
            // version step got slower (docs/performance.md, eleventh session).
            .pragma("soft_heap_limit", "33554432")
            // Checkpoint the WAL into the database file every 8,192 pages (32 MiB) instead of
            // SQLite's 1,000: a checkpoint runs inside whichever commit crosses the mark and
            // costs two disk flushes, so a bulk change (a sync) met one every few batches.
            .pragma("wal_autocheckpoint", "8192");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|source| connect_error(url, source))?;
        Ok(Database::Sqlite(pool))
    }

    /// Connects to PostgreSQL with `options`.
    pub async fn connect_postgres(url: &str, options: PgConnectOptions) -> Result<Self, DbError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| connect_error(url, source))?;
        Ok(Database::Postgres(pool))
    }

    /// The same database, for bulk writes that need not be durable one by one (the batches
    /// of a sync, progress reports): on PostgreSQL a small pool of its own whose commits do
    /// not wait for their WAL flush (`synchronous_commit = off`), saving a disk flush per
    /// transaction; on SQLite the same pool (its commits in WAL mode with
    /// `synchronous = NORMAL` already do not flush).
    ///
    /// Nothing is lost that matters: a crash can drop only the last of these commits, and
    /// the durable commit that finishes the work (the new repository version, the task's
    /// end) flushes the WAL up to itself, so everything it refers to is durable with it.
    pub fn relaxed(&self) -> Database {
        match self {
            Database::Sqlite(pool) => Database::Sqlite(pool.clone()),
            Database::Postgres(pool) => {
                let options = (*pool.connect_options())
                    .clone()
                    .options([("synchronous_commit", "off")]);
                Database::Postgres(
                    PgPoolOptions::new()
                        .max_connections(8)
                        .acquire_timeout(Duration::from_secs(10))
                        .idle_timeout(Duration::from_secs(60))
                        .connect_lazy_with(options),
                )
            }
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        crate::on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// Connections of the pool: (open, idle); those in use are the difference.
    pub fn pool_usage(&self) -> (u32, usize) {
        crate::on_pool!(self, pool => (pool.size(), pool.num_idle()))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        crate::on_pool!(self, pool => pool.close().await)
    }
}

fn connect_error(url: &str, source: sqlx::Error) -> DbError {
    DbError::Connect {
        url: redact(url),
        source,
    }
}
