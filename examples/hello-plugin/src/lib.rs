//! A small complete pulp-rs plugin, written against `pulp-plugin-api` only.
//!
//! It declares a component (shown by `/pulp/api/v3/status/`), a setting with a default and
//! a validator, and a migration with its own table on both databases. The example grows with
//! the plugin API (content types, tasks, routes).

#![warn(missing_docs)]

use pulp_plugin_api::{Component, Migration, Plugin, Registry, SettingError};

/// The hello plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct HelloPlugin;

/// The plugin's migrations: one table of greetings.
pub const MIGRATIONS: [Migration; 1] = [Migration {
    app: "hello",
    name: "0001_greetings",
    sqlite: "CREATE TABLE hello_greeting (pulp_id TEXT PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
    postgres: "CREATE TABLE hello_greeting (pulp_id UUID PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
}];

impl Plugin for HelloPlugin {
    fn register(&self, r: &mut Registry) {
        r.component(Component::new(
            "hello",
            "hello-plugin",
            env!("CARGO_PKG_VERSION"),
            "pulp_hello.app",
        ));
        r.settings_defaults(serde_json::json!({ "hello_greeting": "hello" }));
        r.settings_validator(|settings| {
            match settings.extra_value::<String>("hello_greeting")? {
                Some(text) if text.trim().is_empty() => {
                    Err(SettingError::new("hello_greeting", "must not be blank"))
                }
                _ => Ok(()),
            }
        });
        r.migrations(MIGRATIONS);
    }

    fn name(&self) -> &str {
        "hello-plugin"
    }
}
