//! Validation of loaded settings and the one-line error that stops start-up.

use std::path::Path;
use std::sync::Arc;

use super::Settings;
use crate::storage::ChecksumType;

/// A validator a plugin registers for its own settings.
pub type SettingsValidator = Arc<dyn Fn(&Settings) -> Result<(), SettingError> + Send + Sync>;

/// A setting that cannot be used; its `Display` is the one line printed before exiting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct SettingError {
    /// The setting, as `key (PULP_KEY)`, or the source (`PULP_SETTINGS`).
    pub setting: String,
    /// What is wrong with it.
    pub message: String,
}

impl SettingError {
    /// An error about the setting `key` (lower-case, nested keys joined by `.`).
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        let key = key.to_lowercase();
        let env = format!("PULP_{}", key.replace('.', "__").to_uppercase());
        Self {
            setting: format!("{key} ({env})"),
            message: message.into(),
        }
    }

    /// An error about a source of settings rather than one key.
    pub fn source(source: &str, message: impl Into<String>) -> Self {
        Self {
            setting: source.to_string(),
            message: message.into(),
        }
    }
}

/// pulp-core's own checks.
pub(crate) fn validate_core(s: &Settings) -> Result<(), SettingError> {
    validate_checksums(&s.allowed_content_checksums)?;
    s.api_socket()?;
    s.content_socket()?;
    if let Some(origin) = &s.content_origin {
        validate_http_url("content_origin", origin)?;
    }
    if !s.content_path_prefix.starts_with('/') || !s.content_path_prefix.ends_with('/') {
        return Err(SettingError::new(
            "content_path_prefix",
            format!("'{}' must start and end with '/'", s.content_path_prefix),
        ));
    }
    if let Some(url) = &s.database_url {
        validate_database_url(url)?;
    }
    if s.worker_ttl == 0 {
        return Err(SettingError::new("worker_ttl", "must be at least 1 second"));
    }
    if let Some(url) = &s.storage.url {
        validate_storage_url(url)?;
    }
    validate_level("logging.level", &s.logging.level)?;
    for (target, level) in &s.logging.levels {
        if target.is_empty() || target.contains([',', '=', ' ']) {
            return Err(SettingError::new(
                "logging.levels",
                format!(
                    "'{target}' is not a log target (a module path such as pulp_core::tasking)"
                ),
            ));
        }
        validate_level(&format!("logging.levels.{target}"), level)?;
    }
    crate::tasking::validate_schedules(&s.task_schedules)
        .map_err(|e| SettingError::new("task_schedules", e))?;
    let w = &s.webhooks;
    let valid = w.retry_delay.is_finite()
        && w.retry_delay > 0.0
        && w.max_retry_delay >= w.retry_delay
        && w.timeout.is_finite()
        && w.timeout > 0.0
        && w.max_attempts > 0;
    if !valid {
        return Err(SettingError::new(
            "webhooks",
            "retry_delay, timeout and max_attempts must be positive, max_retry_delay at least retry_delay",
        ));
    }
    if let Some(bind) = &s.metrics.worker_bind {
        s.metrics_worker_socket(bind)?;
    }
    for (key, paths) in [
        ("allowed_export_paths", &s.allowed_export_paths),
        ("allowed_import_paths", &s.allowed_import_paths),
    ] {
        if let Some(path) = paths.iter().find(|p| !p.is_absolute()) {
            return Err(SettingError::new(
                key,
                format!("'{}' is not an absolute path", path.display()),
            ));
        }
    }
    ensure_writable_dir("data_dir", &s.data_dir)?;
    if let Some(dir) = &s.working_directory {
        ensure_writable_dir("working_directory", dir)?;
    }
    Ok(())
}

fn validate_checksums(names: &[String]) -> Result<(), SettingError> {
    for name in names {
        name.parse::<ChecksumType>()
            .map_err(|e| SettingError::new("allowed_content_checksums", e.to_string()))?;
    }
    if !names.iter().any(|n| n == "sha256") {
        return Err(SettingError::new(
            "allowed_content_checksums",
            "must include sha256 (artifacts are addressed by it)",
        ));
    }
    Ok(())
}

fn validate_level(key: &str, level: &str) -> Result<(), SettingError> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    if LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
        return Ok(());
    }
    Err(SettingError::new(
        key,
        format!("'{level}' is not a level; use one of {}", LEVELS.join(", ")),
    ))
}

fn validate_http_url(key: &str, value: &str) -> Result<(), SettingError> {
    let url = url::Url::parse(value)
        .map_err(|e| SettingError::new(key, format!("'{value}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingError::new(
            key,
            format!("'{value}' must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(())
}

fn validate_database_url(value: &str) -> Result<(), SettingError> {
    let url = url::Url::parse(value).map_err(|e| {
        SettingError::new(
            "database_url",
            format!("'{}' is not a URL: {e}", redact(value)),
        )
    })?;
    match url.scheme() {
        "sqlite" => Ok(()),
        "postgres" | "postgresql" if url.host_str().is_some() => Ok(()),
        "postgres" | "postgresql" => Err(SettingError::new(
            "database_url",
            format!("'{}' names no host", redact(value)),
        )),
        other => Err(SettingError::new(
            "database_url",
            format!("unsupported database '{other}'; use sqlite:// or postgres://"),
        )),
    }
}

fn validate_storage_url(value: &str) -> Result<(), SettingError> {
    let url = url::Url::parse(value)
        .map_err(|e| SettingError::new("storage.url", format!("'{value}' is not a URL: {e}")))?;
    match url.scheme() {
        "file" | "s3" | "s3a" | "memory" => Ok(()),
        other => Err(SettingError::new(
            "storage.url",
            format!("unsupported storage '{other}'; use file:// or s3://"),
        )),
    }
}

fn ensure_writable_dir(key: &str, dir: &Path) -> Result<(), SettingError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        SettingError::new(
            key,
            format!("cannot create directory {}: {e}", dir.display()),
        )
    })?;
    tempfile_probe(dir).map_err(|e| {
        SettingError::new(
            key,
            format!("directory {} is not writable: {e}", dir.display()),
        )
    })
}

fn tempfile_probe(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".pulp-write-probe-{}", uuid::Uuid::new_v4()));
    std::fs::write(&probe, b"probe")?;
    std::fs::remove_file(&probe)
}

/// `url` with any password replaced, for messages.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
