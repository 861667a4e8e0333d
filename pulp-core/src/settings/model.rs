//! The typed settings of pulp-core; plugin settings live in [`Settings::extra`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::storage::ChecksumType;

/// Where artifacts and shared temporary files are kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StorageSettings {
    /// `file:///path` or `s3://bucket/prefix`; unset means `<data_dir>/media`.
    pub url: Option<String>,
    /// Backend options passed to `object_store` (e.g. `aws_endpoint`, `aws_access_key_id`).
    pub options: BTreeMap<String, String>,
    /// Answer content requests with a redirect to a presigned object-storage URL (S3 only;
    /// Pulp's `REDIRECT_TO_OBJECT_STORAGE`, true by default as in Pulp).
    pub redirect_to_object_storage: bool,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            url: None,
            options: BTreeMap::new(),
            redirect_to_object_storage: true,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event (coloured only when written to a terminal).
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Logging (Pulp's `LOGGING`): the format and the level of each target.
///
/// `RUST_LOG`, when set, replaces `level` and `levels` (tracing's filter syntax).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LoggingSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// Level of every target not named in `levels`: `trace`, `debug`, `info`, `warn`,
    /// `error` or `off`.
    pub level: String,
    /// Levels per target (a module path such as `pulp_core::tasking`, `sqlx`, or
    /// `pulp::access` for the access log).
    pub levels: BTreeMap<String, String>,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
            levels: BTreeMap::from([("sqlx".to_string(), "warn".to_string())]),
        }
    }
}

impl LoggingSettings {
    /// The filter these settings describe, in tracing's `target=level,…` syntax.
    pub fn directives(&self) -> String {
        let mut directives = vec![self.level.clone()];
        directives.extend(self.levels.iter().map(|(t, l)| format!("{t}={l}")));
        directives.join(",")
    }
}

/// Prometheus metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MetricsSettings {
    /// Serve `/metrics` on the API and content-app listeners.
    pub enabled: bool,
    /// Address on which a process without an API or content-app listener (a worker) serves
    /// `/metrics`; unset means such a process serves none.
    pub worker_bind: Option<String>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            worker_bind: None,
        }
    }
}

/// Webhook deliveries (a pulp-rs extension).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WebhookSettings {
    /// Seconds before the first retry of a failed delivery; each retry waits twice as long.
    pub retry_delay: f64,
    /// Longest wait between retries, in seconds.
    pub max_retry_delay: f64,
    /// Attempts after which a delivery is given up (state `failed`).
    pub max_attempts: u32,
    /// Seconds a receiver has to answer.
    pub timeout: f64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            retry_delay: 10.0,
            max_retry_delay: 3600.0,
            max_attempts: 10,
            timeout: 10.0,
        }
    }
}

/// All settings of a pulp-rs process.
///
/// Keys are the lower-case forms of Pulp's setting names; the environment variable of a
/// key is `PULP_` + its upper-case name (`worker_ttl` ← `PULP_WORKER_TTL`), nested keys
/// are joined with `__` (`PULP_STORAGE__URL`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// `sqlite:///path/pulp.db` or `postgres://user@host/db`; unset means a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// Base URL clients use to reach the content app; unset means `http://<content_bind>`.
    pub content_origin: Option<String>,
    /// Path under which distributions are served.
    pub content_path_prefix: String,
    /// Address the REST API listens on.
    pub api_bind: String,
    /// Address the content app listens on.
    pub content_bind: String,
    /// Directory for the SQLite database, local storage and working directories.
    pub data_dir: PathBuf,
    /// Where tasks get their working directories; unset means `<data_dir>/tmp`.
    pub working_directory: Option<PathBuf>,
    /// Checksums computed for every artifact; `sha256` is always required.
    pub allowed_content_checksums: Vec<String>,
    /// Artifact storage.
    pub storage: StorageSettings,
    /// Seconds after which a process that has not sent a heartbeat is considered gone.
    pub worker_ttl: u64,
    /// Password given to the `admin` user when the server first starts; unset means a random one, printed once.
    pub admin_password: Option<String>,
    /// Largest request body the REST API reads, in bytes (larger ones get 413); routes that
    /// take file uploads have their own limit.
    pub api_max_body_size: usize,
    /// Largest request body accepted by the upload endpoints (artifacts, upload chunks,
    /// content files), in bytes; larger requests are answered 413. Unset means no limit.
    pub upload_max_size: Option<u64>,
    /// Minutes content and artifacts stay protected from orphan cleanup after they were
    /// created (Pulp's `ORPHAN_PROTECTION_TIME`).
    pub orphan_protection_time: u64,
    /// Logging: format and levels.
    pub logging: LoggingSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// Directories exporters may write below (Pulp's `ALLOWED_EXPORT_PATHS`); empty: none.
    pub allowed_export_paths: Vec<PathBuf>,
    /// Directories imports may read from (Pulp's `ALLOWED_IMPORT_PATHS`); empty: none.
    pub allowed_import_paths: Vec<PathBuf>,
    /// Tasks dispatched every interval (`[[task_schedules]]`: `name`, `task_name`, `args`,
    /// `dispatch_interval` in seconds), besides those plugins declare.
    pub task_schedules: Vec<crate::tasking::TaskSchedule>,
    /// Webhook deliveries.
    pub webhooks: WebhookSettings,
    /// Settings added by plugins (and any others not known to pulp-core).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            content_origin: None,
            content_path_prefix: "/pulp/content/".into(),
            api_bind: "127.0.0.1:24817".into(),
            content_bind: "127.0.0.1:24816".into(),
            data_dir: PathBuf::from("./pulp-data"),
            working_directory: None,
            allowed_content_checksums: ["sha224", "sha256", "sha384", "sha512"]
                .map(String::from)
                .to_vec(),
            storage: StorageSettings::default(),
            worker_ttl: 30,
            admin_password: None,
            api_max_body_size: 4 * 1024 * 1024,
            upload_max_size: None,
            orphan_protection_time: 1440,
            logging: LoggingSettings::default(),
            metrics: MetricsSettings::default(),
            allowed_export_paths: Vec::new(),
            allowed_import_paths: Vec::new(),
            task_schedules: Vec::new(),
            webhooks: WebhookSettings::default(),
            extra: BTreeMap::new(),
        }
    }
}

impl Settings {
    /// The database URL in force: the configured one, or SQLite in the data dir.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("pulp.db").display()),
        }
    }

    /// The content origin in force: the configured one, or the content app's own address.
    pub fn effective_content_origin(&self) -> String {
        match &self.content_origin {
            Some(origin) => origin.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.content_bind),
        }
    }

    /// The storage URL in force: the configured one, or `<data_dir>/media` on the local disk.
    pub fn effective_storage_url(&self) -> String {
        match &self.storage.url {
            Some(url) => url.clone(),
            None => {
                let dir = absolute(&self.data_dir.join("media"));
                format!("file://{}", dir.display())
            }
        }
    }

    /// The directory under which tasks get their working directories.
    pub fn effective_working_directory(&self) -> PathBuf {
        self.working_directory
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tmp"))
    }

    /// The REST API's listen address (validated at load time).
    pub fn api_socket(&self) -> Result<SocketAddr, super::SettingError> {
        parse_socket("api_bind", &self.api_bind)
    }

    /// The content app's listen address (validated at load time).
    pub fn content_socket(&self) -> Result<SocketAddr, super::SettingError> {
        parse_socket("content_bind", &self.content_bind)
    }

    /// The worker's `/metrics` listen address (validated at load time).
    pub fn metrics_worker_socket(&self, bind: &str) -> Result<SocketAddr, super::SettingError> {
        parse_socket("metrics.worker_bind", bind)
    }

    /// The allowed checksums as types (validated at load time).
    pub fn checksum_types(&self) -> Result<Vec<ChecksumType>, super::SettingError> {
        self.allowed_content_checksums
            .iter()
            .map(|name| {
                name.parse::<ChecksumType>().map_err(|e| {
                    super::SettingError::new("allowed_content_checksums", e.to_string())
                })
            })
            .collect()
    }

    /// A plugin's (or any extra) setting, deserialized into `T`; `None` when unset.
    pub fn extra_value<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, super::SettingError> {
        match self.extra.get(key) {
            None => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| super::SettingError::new(key, e.to_string())),
        }
    }
}

fn parse_socket(key: &str, value: &str) -> Result<SocketAddr, super::SettingError> {
    value.parse().map_err(|_| {
        super::SettingError::new(
            key,
            format!("'{value}' is not an address of the form host:port"),
        )
    })
}

/// `path` made absolute against the current directory, without touching the file system.
pub(crate) fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
