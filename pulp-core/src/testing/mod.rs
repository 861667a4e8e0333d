//! Test support (feature `testing`): temporary SQLite and PostgreSQL databases, so that every
//! database test runs on both backends.
//!
//! PostgreSQL is reached through the URL in `PULP_TEST_POSTGRES_URL` (set by `.ci/run`); each
//! test gets a schema of its own. Without that variable the PostgreSQL half of a test is
//! skipped with a message, except under CI (`CI=true`), where a missing or unreachable
//! PostgreSQL fails the test.

mod api;
pub mod http;

pub use api::{serve_api, ServedApi, ADMIN_PASSWORD};

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::db::{Backend, Database};

/// Environment variable holding the PostgreSQL URL tests use.
pub const POSTGRES_URL_ENV: &str = "PULP_TEST_POSTGRES_URL";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// The handle (migrations not applied).
    pub db: Database,
    /// A URL other processes can use to reach the same database (and schema).
    pub url: String,
    /// Scratch directory of the test (holds the SQLite file).
    pub dir: tempfile::TempDir,
    schema: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh SQLite database in a temporary directory.
    pub async fn sqlite() -> TestDatabase {
        let dir = scratch_dir();
        let url = format!("sqlite://{}", dir.path().join("pulp.db").display());
        let db = Database::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open test SQLite database: {e}"));
        TestDatabase {
            db,
            url,
            dir,
            schema: None,
        }
    }

    /// A fresh schema in the test PostgreSQL; `None` when none is configured outside CI.
    pub async fn postgres() -> Option<TestDatabase> {
        let base = postgres_url()?;
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!("{POSTGRES_URL_ENV} is set but PostgreSQL is unreachable: {e}")
        });
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test schema: {e}"));
        let _ = admin.close().await;
        let options = PgConnectOptions::from_str(&base)
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_ENV} is not a PostgreSQL URL: {e}"))
            .options([("search_path", schema.as_str())]);
        let db = Database::connect_postgres(&base, options)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test PostgreSQL: {e}"));
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(TestDatabase {
            db,
            url,
            dir: scratch_dir(),
            schema: Some((base, schema)),
        })
    }

    /// A fresh database of the given backend (`None`: PostgreSQL not configured).
    pub async fn of(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// Settings that use this database, with the data directory in the test's scratch dir.
    pub fn settings(&self) -> crate::settings::Settings {
        crate::settings::Settings {
            database_url: Some(self.url.clone()),
            data_dir: self.dir.path().join("data"),
            ..crate::settings::Settings::default()
        }
    }

    /// Closes the pool and drops the PostgreSQL schema.
    pub async fn cleanup(self) {
        self.db.close().await;
        if let Some((base, schema)) = &self.schema {
            if let Ok(mut admin) = PgConnection::connect(base).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// The PostgreSQL URL for tests; panics under CI when it is missing.
pub fn postgres_url() -> Option<String> {
    required_service(POSTGRES_URL_ENV, "PostgreSQL")
}

/// The address of a service a test needs, from `env_var`: `None` (with a message, so the
/// caller skips) when unset, but under CI (`CI=true`) a missing service fails the test.
pub fn required_service(env_var: &str, what: &str) -> Option<String> {
    match std::env::var(env_var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("{env_var} must be set under CI: these tests run against {what} too")
        }
        _ => {
            eprintln!("{env_var} is not set: skipping the {what} part of this test");
            None
        }
    }
}

/// Environment variable holding the URL of the S3-compatible server tests use (moto's,
/// started by `.ci/run`).
pub const S3_ENDPOINT_ENV: &str = "PULP_TEST_S3_ENDPOINT";

/// The S3 test server's URL; `None` (skip) without it, but under CI a missing one fails.
pub fn s3_endpoint() -> Option<String> {
    required_service(S3_ENDPOINT_ENV, "an S3-compatible server")
}

/// Storage settings for a new, empty bucket on the S3 test server at `endpoint`, with its
/// test credentials; artifacts go under the prefix `pulp`.
pub async fn s3_bucket(
    endpoint: &str,
    redirect_to_object_storage: bool,
) -> crate::settings::StorageSettings {
    let bucket = format!("pulp-test-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("S3 server unreachable at {endpoint}: {e}"));
    assert!(
        created.status().is_success(),
        "bucket creation failed: {}",
        created.status()
    );
    crate::settings::StorageSettings {
        url: Some(format!("s3://{bucket}/pulp")),
        options: [
            ("aws_endpoint", endpoint),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
            ("aws_region", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        redirect_to_object_storage,
    }
}

/// A temporary directory for a test.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pulp-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Declares each async test function twice, as `<name>::sqlite` and `<name>::postgres`.
///
/// ```ignore
/// pulp_core::db_tests! {
///     async fn migrations_apply(t: &TestDatabase) { /* … */ }
/// }
/// ```
#[macro_export]
macro_rules! db_tests {
    ($(async fn $name:ident($t:ident: &TestDatabase) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn body($t: &$crate::testing::TestDatabase) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let t = $crate::testing::TestDatabase::sqlite().await;
                    body(&t).await;
                    t.cleanup().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(t) = $crate::testing::TestDatabase::postgres().await else {
                        return;
                    };
                    body(&t).await;
                    t.cleanup().await;
                }
            }
        )*
    };
}

/// How many migrations pulp-core itself has (tests of plugins count theirs on top).
pub fn core_migration_count() -> usize {
    crate::db::core_migrations().len()
}
