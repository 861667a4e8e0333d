//! Layered settings: built-in defaults < plugin defaults < settings file < `PULP_*` environment.
//!
//! [`SettingsSources`] says where the layers come from; [`SettingsLoader`] folds them
//! (tables replace, unless marked `dynaconf_merge = true`) and validates the result.

mod layers;
mod model;
mod validate;

pub use layers::{SettingsLoader, SettingsSources, DEFAULT_SETTINGS_FILE, MERGE_MARKER};
pub use model::{
    LogFormat, LoggingSettings, MetricsSettings, Settings, StorageSettings, WebhookSettings,
};
pub(crate) use validate::redact;
pub use validate::{SettingError, SettingsValidator};
