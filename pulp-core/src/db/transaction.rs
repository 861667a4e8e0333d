//! [`DbTransaction`]: one write transaction on either backend.

use sqlx::{Postgres, Sqlite, Transaction};

use super::{Database, DbError};

/// An open write transaction. Dropping it without [`commit`](DbTransaction::commit) rolls it
/// back (also when a task fails or panics), so nothing written inside is ever seen.
#[derive(Debug)]
pub enum DbTransaction {
    /// On SQLite (started with `BEGIN IMMEDIATE`: it holds the write lock from the start, so
    /// two writers queue on the busy timeout instead of failing on a lock upgrade).
    Sqlite(Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

impl DbTransaction {
    /// Makes everything written in the transaction visible at once.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            DbTransaction::Sqlite(tx) => tx.commit().await?,
            DbTransaction::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Discards everything written in the transaction.
    pub async fn rollback(self) -> Result<(), DbError> {
        match self {
            DbTransaction::Sqlite(tx) => tx.rollback().await?,
            DbTransaction::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

impl Database {
    /// Starts a write transaction.
    pub async fn begin_write(&self) -> Result<DbTransaction, DbError> {
        Ok(match self {
            Database::Sqlite(pool) => {
                DbTransaction::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            Database::Postgres(pool) => DbTransaction::Postgres(pool.begin().await?),
        })
    }
}

/// Runs `$body` with `$conn` bound to the connection (`&mut *tx`) of the open
/// [`DbTransaction`] `$tx`; the counterpart of [`on_pool!`](crate::on_pool).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::DbTransaction::Sqlite(__tx) => {
                let $conn = &mut **__tx;
                $body
            }
            $crate::db::DbTransaction::Postgres(__tx) => {
                let $conn = &mut **__tx;
                $body
            }
        }
    };
}
