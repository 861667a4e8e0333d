//! Wire forms: how objects are named and dated on the wire (hrefs, PRNs, timestamps), shared
//! by the domain (task records, content summaries) and the HTTP layers that serve them.

pub mod timestamp;

use crate::db::PulpId;

/// Prefix of every REST API path.
pub const API_ROOT: &str = "/pulp/api/v3";

/// `/pulp/api/v3/<kind endpoint>/<type endpoint>/<id>/`, e.g.
/// `/pulp/api/v3/repositories/file/file/<id>/`.
pub fn detail_href(kind_endpoint: &str, endpoint: &str, id: PulpId) -> String {
    format!("{API_ROOT}/{kind_endpoint}/{endpoint}/{id}/")
}

/// `prn:<app>.<model>:<id>`, e.g. `prn:file.filerepository:<id>`.
pub fn prn(model: &str, id: PulpId) -> String {
    format!("prn:{model}:{id}")
}

/// The href of an artifact.
pub fn artifact_href(id: PulpId) -> String {
    format!("{API_ROOT}/artifacts/{id}/")
}

/// The href of a task.
pub fn task_href(id: PulpId) -> String {
    format!("{API_ROOT}/tasks/{id}/")
}

/// The href of version `number` of the repository whose href is `repository_href`.
pub fn version_href(repository_href: &str, number: i64) -> String {
    format!("{repository_href}versions/{number}/")
}
