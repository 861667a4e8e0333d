//! Timestamps as Pulp's API writes them: ISO 8601, UTC, microseconds, `Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `2026-01-02T03:04:05.123456Z`.
pub fn format(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Serde `serialize_with` helper writing [`format`].
pub fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(time))
}

/// Like [`format`] with nanoseconds (for ordering events finer than Pulp shows).
pub fn format_nanos(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}
