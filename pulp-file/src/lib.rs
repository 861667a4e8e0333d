//! # pulp-file
//!
//! The file plugin: repositories of plain files described by a `PULP_MANIFEST`
//! (`relative_path,sha256,size` per line). This release registers the plugin's component
//! and settings; its content types, sync and publish arrive with the next issues.

#![warn(missing_docs, rust_2018_idioms)]

use pulp_plugin_api::{Component, Plugin, Registry, SettingError};

/// The file plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilePlugin;

/// Default name of the manifest a file repository is published with.
pub const DEFAULT_MANIFEST: &str = "PULP_MANIFEST";

impl Plugin for FilePlugin {
    fn register(&self, r: &mut Registry) {
        r.component(Component::new(
            "file",
            "pulp-file",
            env!("CARGO_PKG_VERSION"),
            "pulp_file.app",
        ));
        r.settings_defaults(serde_json::json!({ "file_default_manifest": DEFAULT_MANIFEST }));
        r.settings_validator(|settings| {
            match settings.extra_value::<String>("file_default_manifest")? {
                Some(name) if name.is_empty() || name.contains('/') || name == ".." => {
                    Err(SettingError::new(
                        "file_default_manifest",
                        format!("'{name}' is not a file name"),
                    ))
                }
                _ => Ok(()),
            }
        });
    }

    fn name(&self) -> &str {
        "pulp-file"
    }
}
