//! One database handle over SQLite (the embedded default) or PostgreSQL, and the
//! per-application migration runner.
//!
//! SQL in pulp-rs is written once with `$1`-style placeholders, which both backends accept;
//! [`on_pool!`](crate::on_pool) runs one expression against whichever pool is in use.

mod error;
mod handle;
mod migrate;
mod transaction;
mod types;

pub use error::DbError;
pub use handle::{Backend, Database};
pub use migrate::{AppliedMigration, Migration, BREAKS_PREVIOUS_RELEASE};
pub use transaction::DbTransaction;
pub use types::PulpId;

/// Runs `$body` with `$pool` bound to the SQLite or PostgreSQL pool of `$db`.
///
/// The body is compiled once per backend, so it may use backend-specific types as long as
/// the same code is valid for both (binds of `String`, `i64`, `bool`, `chrono` times, JSON).
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite($pool) => $body,
            $crate::db::Database::Postgres($pool) => $body,
        }
    };
}

/// Migrations of pulp-core itself, in order (plugins' follow them).
pub fn core_migrations() -> Vec<Migration> {
    vec![
        Migration {
            app: "core",
            name: "0001_initial",
            sqlite: include_str!("migrations/core_0001_initial.sqlite.sql"),
            postgres: include_str!("migrations/core_0001_initial.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0002_tasking",
            sqlite: include_str!("migrations/core_0002_tasking.sqlite.sql"),
            postgres: include_str!("migrations/core_0002_tasking.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0003_content",
            sqlite: include_str!("migrations/core_0003_content.sqlite.sql"),
            postgres: include_str!("migrations/core_0003_content.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0004_published",
            sqlite: include_str!("migrations/core_0004_published.sqlite.sql"),
            postgres: include_str!("migrations/core_0004_published.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0005_content_app",
            sqlite: include_str!("migrations/core_0005_content_app.sqlite.sql"),
            postgres: include_str!("migrations/core_0005_content_app.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0006_list_order",
            sqlite: include_str!("migrations/core_0006_list_order.sqlite.sql"),
            postgres: include_str!("migrations/core_0006_list_order.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0007_lean_indexes",
            sqlite: include_str!("migrations/core_0007_lean_indexes.sqlite.sql"),
            postgres: include_str!("migrations/core_0007_lean_indexes.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0008_access_policies",
            sqlite: include_str!("migrations/core_0008_access_policies.sqlite.sql"),
            postgres: include_str!("migrations/core_0008_access_policies.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0009_set_based_keys",
            sqlite: include_str!("migrations/core_0009_set_based_keys.sqlite.sql"),
            postgres: include_str!("migrations/core_0009_set_based_keys.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0010_published_keys",
            sqlite: include_str!("migrations/core_0010_published_keys.sqlite.sql"),
            postgres: include_str!("migrations/core_0010_published_keys.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0011_content_count",
            sqlite: include_str!("migrations/core_0011_content_count.sqlite.sql"),
            postgres: include_str!("migrations/core_0011_content_count.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0012_import_export",
            sqlite: include_str!("migrations/core_0012_import_export.sqlite.sql"),
            postgres: include_str!("migrations/core_0012_import_export.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0013_rbac",
            sqlite: include_str!("migrations/core_0013_rbac.sqlite.sql"),
            postgres: include_str!("migrations/core_0013_rbac.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0014_sessions",
            sqlite: include_str!("migrations/core_0014_sessions.sqlite.sql"),
            postgres: include_str!("migrations/core_0014_sessions.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0015_content_guards",
            sqlite: include_str!("migrations/core_0015_content_guards.sqlite.sql"),
            postgres: include_str!("migrations/core_0015_content_guards.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0016_signing_services",
            sqlite: include_str!("migrations/core_0016_signing_services.sqlite.sql"),
            postgres: include_str!("migrations/core_0016_signing_services.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0017_upstream_pulps",
            sqlite: include_str!("migrations/core_0017_upstream_pulps.sqlite.sql"),
            postgres: include_str!("migrations/core_0017_upstream_pulps.postgres.sql"),
        },
        Migration {
            app: "core",
            name: "0018_schedules_webhooks",
            sqlite: include_str!("migrations/core_0018_schedules_webhooks.sqlite.sql"),
            postgres: include_str!("migrations/core_0018_schedules_webhooks.postgres.sql"),
        },
    ]
}
