//! Process heartbeats (`core_appstatus`) and the `/status/` report built from them.

mod heartbeat;
mod report;

pub use heartbeat::{process_name, AppStatus, AppType, Heartbeat};
pub use report::{status_report, StatusReport};
