//! The body of `GET /pulp/api/v3/status/`, in Pulp's shape.

use serde::Serialize;

use super::{AppStatus, AppType, Heartbeat};
use crate::app::App;
use crate::storage::StorageUsage;

/// Pulp's `StatusResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Components and their versions.
    pub versions: Vec<crate::plugin::Component>,
    /// Workers with a recent heartbeat.
    pub online_workers: Vec<AppStatus>,
    /// API processes with a recent heartbeat.
    pub online_api_apps: Vec<AppStatus>,
    /// Content-app processes with a recent heartbeat.
    pub online_content_apps: Vec<AppStatus>,
    /// Whether the database answers.
    pub database_connection: Connected,
    /// Pulp's cache connection: this server has no Redis cache, so never connected (as
    /// pulpcore answers with `CACHE_ENABLED` off).
    pub redis_connection: Connected,
    /// Space on the artifact storage.
    pub storage: StorageUsage,
    /// How clients reach the content app.
    pub content_settings: ContentSettings,
    /// Whether domains are enabled (never, yet).
    pub domain_enabled: bool,
}

/// `{"connected": bool}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Connected {
    /// Whether the connection works.
    pub connected: bool,
}

/// Pulp's `ContentSettingsResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct ContentSettings {
    /// The `CONTENT_ORIGIN` in force.
    pub content_origin: String,
    /// The `CONTENT_PATH_PREFIX` in force.
    pub content_path_prefix: String,
}

/// Builds the status report; a database that does not answer gives empty process lists
/// and `connected: false` rather than an error.
pub async fn status_report(app: &App) -> StatusReport {
    let db = app.db();
    let connected = db.ping().await;
    let ttl = std::time::Duration::from_secs(app.settings().worker_ttl);
    let online = |kind| async move {
        if connected {
            Heartbeat::online(db, kind, ttl).await.unwrap_or_default()
        } else {
            Vec::new()
        }
    };
    StatusReport {
        versions: app.components().to_vec(),
        online_workers: online(AppType::Worker).await,
        online_api_apps: online(AppType::Api).await,
        online_content_apps: online(AppType::Content).await,
        database_connection: Connected { connected },
        redis_connection: Connected { connected: false },
        storage: app.storage().usage(),
        content_settings: ContentSettings {
            content_origin: app.settings().effective_content_origin(),
            content_path_prefix: app.settings().content_path_prefix.clone(),
        },
        domain_enabled: false,
    }
}
