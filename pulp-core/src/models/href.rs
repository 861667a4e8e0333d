//! Pulp's hrefs, PRNs and response shapes of models (what the REST API will serve).

use serde_json::{Map, Value};

use super::{Detail, MasterKind, Model, RemoteKind, REMOTE_SECRET_FIELDS};
use crate::db::PulpId;
pub use crate::wire::{prn, version_href};
use crate::wire::{timestamp, API_ROOT};

/// `/pulp/api/v3/<kind>/<plugin endpoint>/<id>/`, e.g.
/// `/pulp/api/v3/repositories/file/file/<id>/`.
pub fn href<T: Detail>(id: PulpId) -> String {
    crate::wire::detail_href(<T::Kind as MasterKind>::ENDPOINT, T::ENDPOINT, id)
}

/// The JSON of a model as Pulp's `*Response` schemas show it: `pulp_href`, `prn`,
/// `pulp_created`, `pulp_last_updated`, `pulp_labels`, the fields of its kind and of its
/// type. Write-only secrets are never included (remotes list them in `hidden_fields` with
/// whether they are set). Fields holding ids of other objects (`*_id`) are left out: the
/// REST layer replaces them with the hrefs of the objects they name.
pub fn to_response<T: Detail>(model: &Model<T>) -> Value {
    let mut map = Map::new();
    map.insert("pulp_href".into(), model.pulp_href().into());
    map.insert("prn".into(), model.prn().into());
    map.insert(
        "pulp_created".into(),
        timestamp::format(&model.master.pulp_created).into(),
    );
    map.insert(
        "pulp_last_updated".into(),
        timestamp::format(&model.master.pulp_last_updated).into(),
    );
    map.insert(
        "pulp_labels".into(),
        serde_json::to_value(&model.master.pulp_labels)
            .unwrap_or_else(|_| Value::Object(Map::new())),
    );
    let is_remote = <T::Kind as MasterKind>::TABLE == RemoteKind::TABLE;
    let mut hidden = Vec::new();
    for part in [
        serde_json::to_value(&model.master.fields),
        serde_json::to_value(&model.detail),
    ] {
        if let Ok(Value::Object(fields)) = part {
            for (name, value) in fields {
                if is_remote && REMOTE_SECRET_FIELDS.contains(&name.as_str()) {
                    hidden.push(serde_json::json!({ "name": name, "is_set": !value.is_null() }));
                } else if !name.ends_with("_id") {
                    map.insert(name, value);
                }
            }
        }
    }
    if is_remote {
        map.insert("hidden_fields".into(), Value::Array(hidden));
    }
    Value::Object(map)
}

/// The id in an href of type `T` (`/pulp/api/v3/remotes/file/file/<id>/` → `<id>`);
/// `None` when the href is not one of `T`.
pub fn id_from_href<T: Detail>(href: &str) -> Option<PulpId> {
    let prefix = format!(
        "{API_ROOT}/{}/{}/",
        <T::Kind as MasterKind>::ENDPOINT,
        T::ENDPOINT
    );
    let id = href.strip_prefix(&prefix)?.strip_suffix('/')?;
    uuid::Uuid::parse_str(id).ok().map(PulpId)
}

/// The repository id and version number in a version href of a repository of type `T`
/// (`/pulp/api/v3/repositories/file/file/<id>/versions/3/` → `(<id>, 3)`).
pub fn version_from_href<T: Detail>(href: &str) -> Option<(PulpId, i64)> {
    let prefix = format!(
        "{API_ROOT}/{}/{}/",
        <T::Kind as MasterKind>::ENDPOINT,
        T::ENDPOINT
    );
    let rest = href.strip_prefix(&prefix)?.strip_suffix('/')?;
    let (id, number) = rest.split_once("/versions/")?;
    let id = uuid::Uuid::parse_str(id).ok().map(PulpId)?;
    let number = number.parse::<i64>().ok().filter(|n| *n >= 0)?;
    Some((id, number))
}

/// The id in an artifact href (`/pulp/api/v3/artifacts/<id>/`).
pub fn artifact_id_from_href(href: &str) -> Option<PulpId> {
    let id = href
        .strip_prefix(&format!("{API_ROOT}/artifacts/"))?
        .strip_suffix('/')?;
    uuid::Uuid::parse_str(id).ok().map(PulpId)
}
