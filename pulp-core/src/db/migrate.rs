//! Migrations: each application (core, every plugin) owns an ordered list, recorded by
//! `(app, name)` in `pulp_migrations`. One run applies every pending migration in one
//! transaction (all or nothing), and concurrent runners (several processes starting at
//! once) are serialized by a lock.

use sqlx::Connection;

use super::{Database, DbError};

/// One schema change, written for both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The application it belongs to (`core`, or the plugin's name).
    pub app: &'static str,
    /// Its name, unique within the application (`0001_initial`); applied in list order.
    pub name: &'static str,
    /// SQL for SQLite (may hold several statements).
    pub sqlite: &'static str,
    /// SQL for PostgreSQL (may hold several statements).
    pub postgres: &'static str,
}

/// The line that marks a migration as breaking the previous release's code (a dropped or
/// renamed column it still reads, …). Migrations without it declare that code of the
/// previous release keeps working on the migrated schema (additive changes).
pub const BREAKS_PREVIOUS_RELEASE: &str = "-- breaks-previous-release";

impl Migration {
    /// Whether code of the previous release stops working once this is applied (its SQL
    /// holds a [`BREAKS_PREVIOUS_RELEASE`] line); `migrate` then refuses to run while
    /// older processes heartbeat.
    pub fn breaks_previous_release(&self) -> bool {
        [self.sqlite, self.postgres].iter().any(|sql| {
            sql.lines()
                .any(|line| line.trim() == BREAKS_PREVIOUS_RELEASE)
        })
    }
}

/// A migration that [`Database::migrate`] applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// Its application.
    pub app: String,
    /// Its name.
    pub name: String,
}

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS pulp_migrations (
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (app, name)
)";

/// Key of the PostgreSQL advisory lock held while migrating.
const PG_MIGRATION_LOCK: i64 = 0x0070_756c_706d_6967; // "pulpmig"

/// Applies every pending migration on `$conn`, a connection that already holds the lock
/// and an open transaction (a macro because the body is the same for both backends).
macro_rules! apply_all {
    ($conn:expr, $migrations:expr, $sql_of:expr) => {{
        let conn = $conn;
        sqlx::query(CREATE_LEDGER).execute(&mut *conn).await?;
        let done: Vec<(String, String)> = sqlx::query_as("SELECT app, name FROM pulp_migrations")
            .fetch_all(&mut *conn)
            .await?;
        let mut applied = Vec::new();
        for migration in $migrations {
            let key = (migration.app.to_string(), migration.name.to_string());
            if done.contains(&key) {
                continue;
            }
            let result = sqlx::raw_sql($sql_of(migration)).execute(&mut *conn).await;
            if let Err(source) = result {
                return Err(DbError::Migration {
                    app: key.0,
                    name: key.1,
                    source,
                });
            }
            sqlx::query("INSERT INTO pulp_migrations (app, name, applied_at) VALUES ($1, $2, $3)")
                .bind(&key.0)
                .bind(&key.1)
                .bind(chrono::Utc::now().to_rfc3339())
                .execute(&mut *conn)
                .await?;
            tracing::info!(
                app = migration.app,
                name = migration.name,
                "applied migration"
            );
            applied.push(AppliedMigration {
                app: key.0,
                name: key.1,
            });
        }
        Ok::<_, DbError>(applied)
    }};
}

impl Database {
    /// Applies, in order, every migration of `migrations` not applied yet; returns those applied.
    pub async fn migrate(
        &self,
        migrations: &[Migration],
    ) -> Result<Vec<AppliedMigration>, DbError> {
        match self {
            Database::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                // BEGIN IMMEDIATE takes SQLite's write lock: other runners wait on the busy timeout.
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                let result =
                    async { apply_all!(&mut *conn, migrations, |m: &Migration| m.sqlite) }.await;
                let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
                sqlx::query(end).execute(&mut *conn).await?;
                result
            }
            Database::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let applied = apply_all!(&mut *tx, migrations, |m: &Migration| m.postgres)?;
                tx.commit().await?;
                Ok(applied)
            }
        }
    }

    /// The `(app, name)` of every migration recorded as applied.
    pub async fn applied_migrations(&self) -> Result<Vec<AppliedMigration>, DbError> {
        let rows: Vec<(String, String)> = crate::on_pool!(self, pool => {
            sqlx::query(CREATE_LEDGER).execute(pool).await?;
            sqlx::query_as("SELECT app, name FROM pulp_migrations ORDER BY applied_at, app, name")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(app, name)| AppliedMigration { app, name })
            .collect())
    }

    /// The migrations of `migrations` not applied yet, as `app.name`, in order (a process
    /// that does not migrate refuses to start while there is one).
    pub async fn pending_migrations(
        &self,
        migrations: &[Migration],
    ) -> Result<Vec<String>, DbError> {
        let applied = self.applied_migrations().await?;
        Ok(migrations
            .iter()
            .filter(|m| !applied.iter().any(|a| a.app == m.app && a.name == m.name))
            .map(|m| format!("{}.{}", m.app, m.name))
            .collect())
    }
}
