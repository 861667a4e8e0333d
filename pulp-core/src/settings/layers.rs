//! Reading the settings layers and folding them into one table.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

use super::validate::{validate_core, SettingError, SettingsValidator};
use super::Settings;

/// The settings file read when `PULP_SETTINGS` names none.
pub const DEFAULT_SETTINGS_FILE: &str = "/etc/pulp/settings.toml";

/// A table holding `dynaconf_merge = true` is merged into the lower layer's table instead
/// of replacing it; a list whose first item is `"dynaconf_merge"` is appended to it.
pub const MERGE_MARKER: &str = "dynaconf_merge";

/// Where the settings layers above the built-in and plugin defaults come from.
#[derive(Debug, Clone, Default)]
pub struct SettingsSources {
    file: Option<PathBuf>,
    file_required: bool,
    environment: bool,
}

impl SettingsSources {
    /// What a server process reads: the file named by `PULP_SETTINGS` (which must exist),
    /// else `/etc/pulp/settings.toml` if it exists, then the `PULP_*` environment.
    pub fn from_environment() -> Self {
        match std::env::var_os("PULP_SETTINGS") {
            Some(path) if !path.is_empty() => Self {
                file: Some(PathBuf::from(path)),
                file_required: true,
                environment: true,
            },
            _ => Self {
                file: Some(PathBuf::from(DEFAULT_SETTINGS_FILE)),
                file_required: false,
                environment: true,
            },
        }
    }

    /// Built-in and plugin defaults only.
    pub fn defaults_only() -> Self {
        Self::default()
    }

    /// Read this settings file (it must exist).
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self.file_required = true;
        self
    }

    /// Read (or ignore) the `PULP_*` environment variables.
    pub fn with_environment(mut self, read: bool) -> Self {
        self.environment = read;
        self
    }
}

/// Folds the layers into [`Settings`] and runs the validators.
#[derive(Clone, Default)]
pub struct SettingsLoader {
    plugin_defaults: Vec<(String, Map<String, Value>)>,
    validators: Vec<(String, SettingsValidator)>,
}

impl std::fmt::Debug for SettingsLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsLoader")
            .field("plugin_defaults", &self.plugin_defaults)
            .field("validators", &self.validators.len())
            .finish()
    }
}

impl SettingsLoader {
    /// A loader with only pulp-core's defaults and validators.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin's default settings (a layer between the built-in defaults and the file).
    pub fn add_defaults(&mut self, owner: &str, defaults: Map<String, Value>) {
        self.plugin_defaults.push((owner.to_string(), defaults));
    }

    /// Adds a validator that runs after pulp-core's own.
    pub fn add_validator(&mut self, owner: &str, validator: SettingsValidator) {
        self.validators.push((owner.to_string(), validator));
    }

    /// Reads every layer, folds them and validates the result.
    pub fn load(&self, sources: &SettingsSources) -> Result<Settings, SettingError> {
        let mut table = match serde_json::to_value(Settings::default()) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut known: Vec<String> = table.keys().cloned().collect();
        for (_, defaults) in &self.plugin_defaults {
            known.extend(defaults.keys().map(|k| k.to_lowercase()));
            fold(&mut table, defaults.clone(), false);
        }
        if let Some(path) = &sources.file {
            if let Some(layer) = read_file_layer(path, sources.file_required)? {
                warn_unknown(&layer, &known, &format!("settings file {}", path.display()));
                fold(&mut table, layer, false);
            }
        }
        if sources.environment {
            let layer = read_env_layer()?;
            warn_unknown(&layer, &known, "environment");
            fold(&mut table, layer, true);
        }
        let settings: Settings = Figment::from(Serialized::defaults(Value::Object(table)))
            .extract()
            .map_err(|e| SettingError::new(&e.path.join("."), e.kind.to_string()))?;
        self.validate(&settings)?;
        Ok(settings)
    }

    /// Runs pulp-core's checks, then every registered validator.
    pub fn validate(&self, settings: &Settings) -> Result<(), SettingError> {
        validate_core(settings)?;
        for (_, validator) in &self.validators {
            validator(settings)?;
        }
        Ok(())
    }
}

fn read_file_layer(
    path: &Path,
    required: bool,
) -> Result<Option<Map<String, Value>>, SettingError> {
    if !path.exists() {
        if required {
            return Err(SettingError::source(
                "PULP_SETTINGS",
                format!("settings file {} does not exist", path.display()),
            ));
        }
        return Ok(None);
    }
    let value: Value = Figment::from(Toml::file_exact(path))
        .extract()
        .map_err(|e| {
            SettingError::source(
                "PULP_SETTINGS",
                format!("cannot read settings file {}: {}", path.display(), e.kind),
            )
        })?;
    Ok(Some(as_table(value)))
}

fn read_env_layer() -> Result<Map<String, Value>, SettingError> {
    let value: Value = Figment::from(Env::prefixed("PULP_").split("__").ignore(&["settings"]))
        .extract()
        .map_err(|e| SettingError::new(&e.path.join("."), e.kind.to_string()))?;
    Ok(as_table(value))
}

fn as_table(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn warn_unknown(layer: &Map<String, Value>, known: &[String], origin: &str) {
    for key in layer.keys() {
        let key = key.to_lowercase();
        if !known.contains(&key) {
            tracing::warn!(setting = %key, %origin, "unknown setting (no component uses it)");
        }
    }
}

/// Folds `incoming` onto `base`: keys are compared in lower case; values replace, except
/// tables that are marked with [`MERGE_MARKER`] (or all tables when `merge_tables`), which
/// merge recursively, and lists that start with the marker, which are appended.
pub(crate) fn fold(
    base: &mut Map<String, Value>,
    incoming: Map<String, Value>,
    merge_tables: bool,
) {
    for (key, value) in incoming {
        let key = key.to_lowercase();
        match value {
            Value::Object(mut table) => {
                let marked = table.remove(MERGE_MARKER) == Some(Value::Bool(true));
                match base.get_mut(&key) {
                    Some(Value::Object(existing)) if marked || merge_tables => {
                        fold(existing, table, true);
                    }
                    _ => {
                        let mut fresh = Map::new();
                        fold(&mut fresh, table, false);
                        base.insert(key, Value::Object(fresh));
                    }
                }
            }
            Value::Array(items)
                if items.first() == Some(&Value::String(MERGE_MARKER.to_string())) =>
            {
                let additions = items.into_iter().skip(1);
                match base.get_mut(&key) {
                    Some(Value::Array(existing)) => {
                        for item in additions {
                            if !existing.contains(&item) {
                                existing.push(item);
                            }
                        }
                    }
                    _ => {
                        base.insert(key, Value::Array(additions.collect()));
                    }
                }
            }
            other => {
                base.insert(key, other);
            }
        }
    }
}
