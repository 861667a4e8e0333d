//! Write transactions on either backend, optionally serialized by a database-wide lock.

use sqlx::{Postgres, Sqlite, Transaction};

use super::{Database, DbError};

/// An open write transaction.
#[derive(Debug)]
pub enum WriteTx {
    /// SQLite (`BEGIN IMMEDIATE`: the write lock is taken at once, so no upgrade deadlock).
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx`.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::WriteTx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::WriteTx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl Database {
    /// Begins a write transaction.
    pub async fn begin_write(&self) -> Result<WriteTx, DbError> {
        Ok(match self {
            Database::Sqlite(pool) => WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Database::Postgres(pool) => WriteTx::Postgres(pool.begin().await?),
        })
    }

    /// Begins a write transaction that also holds the lock `key` until it ends, so that
    /// transactions taking the same key run one after the other (on SQLite every write
    /// transaction already does).
    pub async fn begin_locked(&self, key: i64) -> Result<WriteTx, DbError> {
        let mut tx = self.begin_write().await?;
        if let WriteTx::Postgres(inner) = &mut tx {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut **inner)
                .await?;
        }
        Ok(tx)
    }
}

impl WriteTx {
    /// Commits.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await?,
            WriteTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}
