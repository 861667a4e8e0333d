//! Pulp's `content_summary` of a repository version.

use serde_json::{json, Map, Value};

use super::RepositoryVersion;
use crate::app::App;
use crate::wire::API_ROOT;

/// `{"added": {type: {"count", "href"}}, "removed": {…}, "present": {…}}` as Pulp shows it,
/// with hrefs filtering the content list by this version; `version_href` is the version's
/// own href (`/pulp/api/v3/repositories/file/file/<id>/versions/<n>/`).
pub fn content_summary(app: &App, version: &RepositoryVersion, version_href: &str) -> Value {
    let section = |counts: &std::collections::BTreeMap<String, i64>, filter: &str| {
        let map: Map<String, Value> = counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(pulp_type, count)| {
                let endpoint = app
                    .content_endpoint(pulp_type)
                    .unwrap_or_else(|| pulp_type.replace('.', "/"));
                let href = format!("{API_ROOT}/content/{endpoint}/?{filter}={version_href}");
                (pulp_type.clone(), json!({ "count": count, "href": href }))
            })
            .collect();
        Value::Object(map)
    };
    json!({
        "added": section(&version.counts.added, "repository_version_added"),
        "removed": section(&version.counts.removed, "repository_version_removed"),
        "present": section(&version.counts.present, "repository_version"),
    })
}
