//! The composition root: the one place that wires the layers together. An app is the domain
//! plus the tasks the REST API dispatches (`general_create`, `modify/`, …), which every
//! process (a worker too) must be able to run.

use crate::app::{App, AppBuilder};
use crate::settings::SettingsSources;

impl App {
    /// A builder reading settings from `sources`, with pulp-core's tasks registered.
    pub fn builder(sources: SettingsSources) -> AppBuilder {
        App::domain_builder(sources).core_tasks(crate::api::register_tasks)
    }
}
