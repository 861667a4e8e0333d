//! Log output: text (coloured only on a terminal) or JSON, with levels per target from the
//! `logging` settings (`RUST_LOG` overrides them).

use std::io::IsTerminal;

use pulp_core::settings::{LogFormat, LoggingSettings};
use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber, writing to standard error.
pub fn init(settings: &LoggingSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(settings.directives()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests running commands in one process) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Logging before the settings are known (or when they cannot be loaded): text at `info`.
pub fn init_default() {
    init(&LoggingSettings::default());
}
