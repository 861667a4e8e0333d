//! Every API, content and worker process records itself in `core_appstatus` and refreshes
//! its `last_heartbeat`; a process is online while its heartbeat is younger than `WORKER_TTL`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Database, DbError, PulpId};

/// The role of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    /// Serves the REST API.
    Api,
    /// Serves the content app.
    Content,
    /// Runs tasks.
    Worker,
}

impl AppType {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AppType::Api => "api",
            AppType::Content => "content",
            AppType::Worker => "worker",
        }
    }
}

/// One process as `/status/` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppStatus {
    /// `<pid>@<host>`.
    pub name: String,
    /// Time of the last heartbeat.
    #[serde(serialize_with = "crate::wire::timestamp::serialize")]
    pub last_heartbeat: DateTime<Utc>,
    /// Versions of the components the process runs.
    pub versions: serde_json::Value,
}

/// The registration of one process; [`Heartbeat::beat`] keeps it online.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    db: Database,
    name: String,
    app_type: AppType,
}

impl Heartbeat {
    /// Records this process as online with `versions` (a `{component: version}` object).
    pub async fn register(
        db: &Database,
        app_type: AppType,
        name: String,
        versions: serde_json::Value,
    ) -> Result<Self, DbError> {
        let now = Utc::now();
        let versions = sqlx::types::Json(versions);
        crate::on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO core_appstatus (pulp_id, name, app_type, versions, pulp_created, last_heartbeat)
                 VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (app_type, name) DO UPDATE SET versions = $4, last_heartbeat = $5",
            )
            .bind(PulpId::new())
            .bind(&name)
            .bind(app_type.as_str())
            .bind(&versions)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(Self {
            db: db.clone(),
            name,
            app_type,
        })
    }

    /// The name this process is registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Refreshes `last_heartbeat`.
    pub async fn beat(&self) -> Result<(), DbError> {
        crate::on_pool!(&self.db, pool => {
            sqlx::query("UPDATE core_appstatus SET last_heartbeat = $1 WHERE app_type = $2 AND name = $3")
                .bind(Utc::now())
                .bind(self.app_type.as_str())
                .bind(&self.name)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes the registration (at a clean shutdown).
    pub async fn unregister(&self) -> Result<(), DbError> {
        crate::on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM core_appstatus WHERE app_type = $1 AND name = $2")
                .bind(self.app_type.as_str())
                .bind(&self.name)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Processes of `app_type` whose heartbeat is younger than `ttl`.
    pub async fn online(
        db: &Database,
        app_type: AppType,
        ttl: std::time::Duration,
    ) -> Result<Vec<AppStatus>, DbError> {
        let cutoff = Utc::now() - chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        let rows: Vec<(String, DateTime<Utc>, sqlx::types::Json<serde_json::Value>)> = crate::on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT name, last_heartbeat, versions FROM core_appstatus
                 WHERE app_type = $1 AND last_heartbeat >= $2 ORDER BY name",
            )
            .bind(app_type.as_str())
            .bind(cutoff)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(name, last_heartbeat, versions)| AppStatus {
                name,
                last_heartbeat,
                versions: versions.0,
            })
            .collect())
    }
}

/// The name a process registers under: `<pid>@<hostname>`.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{}@{}", std::process::id(), host)
}
