//! Responses of models: Pulp's `*Response` shapes, with ids of other objects turned into
//! hrefs and the read-only fields each kind shows (`versions_href`, `base_url`, …), filled
//! in bulk for a page.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::kinds::{kind_info, Target};
use super::refs::{hrefs, version_hrefs};
use crate::api::list::{SqlValue, SqlWhere};
use crate::api::ApiError;
use crate::app::App;
use crate::db::PulpId;
use crate::models::{to_response, Detail, MasterKind, Model};

/// The id stored in field `column` of a model's serialized fields.
fn id_field(fields: &Value, column: &str) -> Option<PulpId> {
    fields
        .get(column)
        .and_then(Value::as_str)
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .map(PulpId)
}

/// Responses of `models` (in order).
pub async fn render<T: Detail>(app: &App, models: &[Model<T>]) -> Result<Vec<Value>, ApiError> {
    let table = <T::Kind as MasterKind>::TABLE;
    let kind = kind_info(table);
    let fields: Vec<Value> = models
        .iter()
        .map(|m| serde_json::to_value(&m.master.fields).unwrap_or(Value::Null))
        .collect();
    let mut out: Vec<Map<String, Value>> = models
        .iter()
        .map(|m| match to_response(m) {
            Value::Object(map) => map,
            _ => Map::new(),
        })
        .collect();
    // References of the kind.
    for reference in kind.references {
        let ids: Vec<PulpId> = fields
            .iter()
            .filter_map(|f| id_field(f, reference.column))
            .collect();
        let names: HashMap<PulpId, String> = match reference.target {
            Target::Master(target) => hrefs(app, target, ids).await?,
            Target::Version => version_hrefs(app, ids)
                .await?
                .into_iter()
                .map(|(id, (href, _))| (id, href))
                .collect(),
        };
        for (map, f) in out.iter_mut().zip(&fields) {
            let value = id_field(f, reference.column)
                .and_then(|id| names.get(&id).cloned())
                .map(Value::String)
                .unwrap_or(Value::Null);
            map.insert(reference.api.into(), value);
        }
    }
    let ids: Vec<PulpId> = models.iter().map(|m| m.pulp_id()).collect();
    match table {
        "core_repository" => repository_extras(app, &ids, &mut out).await?,
        "core_distribution" => distribution_extras(app, &mut out),
        "core_publication" => publication_extras(app, &ids, &fields, &mut out).await?,
        "core_content" => content_extras(app, &ids, &mut out).await?,
        "core_contentguard" if T::PULP_TYPE == "core.rbac" => {
            rbac_guard_extras(app, &ids, &mut out).await?
        }
        _ => {}
    }
    Ok(out
        .into_iter()
        .map(|mut map| {
            T::api_response(&mut map);
            Value::Object(map)
        })
        .collect())
}

async fn repository_extras(
    app: &App,
    ids: &[PulpId],
    out: &mut [Map<String, Value>],
) -> Result<(), ApiError> {
    let latest = latest_versions(app, ids).await?;
    for (map, id) in out.iter_mut().zip(ids) {
        let href = map
            .get("pulp_href")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        map.insert("versions_href".into(), format!("{href}versions/").into());
        let number = latest.get(id).copied().unwrap_or(0);
        map.insert(
            "latest_version_href".into(),
            format!("{href}versions/{number}/").into(),
        );
        // A type that records its syncs (pulp_file) shows its own.
        map.entry("last_sync_details")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// The latest complete version number of each repository.
pub async fn latest_versions(app: &App, ids: &[PulpId]) -> Result<HashMap<PulpId, i64>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add("complete", []);
    filter.add_in(
        "repository_id",
        ids.iter().copied().map(|v| SqlValue::Id(Some(v))).collect(),
    );
    let sql = format!(
        "SELECT repository_id, MAX(number) FROM core_repositoryversion {} GROUP BY repository_id",
        filter.sql()
    );
    let rows: Vec<(PulpId, i64)> = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
    });
    Ok(rows.into_iter().collect())
}

fn distribution_extras(app: &App, out: &mut [Map<String, Value>]) {
    let settings = app.settings();
    let origin = settings.effective_content_origin();
    let prefix = settings
        .content_path_prefix
        .trim_end_matches('/')
        .to_string();
    for map in out.iter_mut() {
        let base_path = map
            .get("base_path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        map.insert(
            "base_url".into(),
            format!("{}{prefix}/{base_path}/", origin.trim_end_matches('/')).into(),
        );
        let guard_prn = map
            .get("content_guard")
            .and_then(Value::as_str)
            .and_then(|href| {
                let id = href.trim_end_matches('/').rsplit('/').next()?;
                Some(format!("prn:core.contentguard:{id}"))
            });
        map.insert(
            "content_guard_prn".into(),
            guard_prn.map(Value::String).unwrap_or(Value::Null),
        );
        // What a publication or a version serves never changes: since the distribution was
        // last changed (pulpcore's rule; replication skips syncs with it). The latest version
        // of a repository may change at any time: no guarantee.
        let fixed = ["publication", "repository_version"]
            .iter()
            .any(|k| map.get(*k).is_some_and(|v| !v.is_null()));
        let since = if fixed {
            map.get("pulp_last_updated").cloned().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        map.insert("no_content_change_since".into(), since);
    }
}

async fn publication_extras(
    app: &App,
    ids: &[PulpId],
    fields: &[Value],
    out: &mut [Map<String, Value>],
) -> Result<(), ApiError> {
    let versions = version_hrefs(
        app,
        fields
            .iter()
            .filter_map(|f| id_field(f, "repository_version_id"))
            .collect(),
    )
    .await?;
    let mut distributions: HashMap<PulpId, Vec<String>> = HashMap::new();
    if !ids.is_empty() {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add_in(
            "publication_id",
            ids.iter().copied().map(|v| SqlValue::Id(Some(v))).collect(),
        );
        let sql = format!(
            "SELECT publication_id, pulp_id, pulp_type FROM core_distribution {}",
            filter.sql()
        );
        let rows: Vec<(PulpId, PulpId, String)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        for (publication, id, t) in rows {
            if let Some(href) = super::refs::href_of(app, "core_distribution", &t, id) {
                distributions.entry(publication).or_default().push(href);
            }
        }
    }
    for ((map, f), id) in out.iter_mut().zip(fields).zip(ids) {
        let version = id_field(f, "repository_version_id").and_then(|v| versions.get(&v));
        map.insert(
            "repository".into(),
            version
                .map(|(_, repo)| Value::String(repo.clone()))
                .unwrap_or(Value::Null),
        );
        map.insert(
            "distributions".into(),
            distributions
                .remove(id)
                .map(|d| d.into_iter().map(Value::String).collect())
                .unwrap_or_else(|| Value::Array(Vec::new())),
        );
        map.remove("complete");
        map.remove("pass_through");
    }
    Ok(())
}

/// Content of a single artifact shows its `artifact` href.
async fn content_extras(
    app: &App,
    ids: &[PulpId],
    out: &mut [Map<String, Value>],
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add_in(
        "content_id",
        ids.iter().copied().map(|v| SqlValue::Id(Some(v))).collect(),
    );
    let sql = format!(
        "SELECT content_id, artifact_id FROM core_contentartifact {}",
        filter.sql()
    );
    let rows: Vec<(PulpId, Option<PulpId>)> = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
    });
    let mut artifacts: HashMap<PulpId, Vec<Option<PulpId>>> = HashMap::new();
    for (content, artifact) in rows {
        artifacts.entry(content).or_default().push(artifact);
    }
    for (map, id) in out.iter_mut().zip(ids) {
        let artifact = match artifacts.get(id).map(Vec::as_slice) {
            Some([Some(a)]) => Value::String(format!("{}/artifacts/{a}/", crate::api::API_ROOT)),
            _ => Value::Null,
        };
        map.insert("artifact".into(), artifact);
    }
    Ok(())
}

/// An rbac guard's `users` and `groups`: who holds its download permission on it.
async fn rbac_guard_extras(
    app: &App,
    ids: &[PulpId],
    out: &mut [Map<String, Value>],
) -> Result<(), ApiError> {
    let mut users: HashMap<String, Vec<Value>> = HashMap::new();
    let mut groups: HashMap<String, Vec<Value>> = HashMap::new();
    if !ids.is_empty() {
        let id_texts: Vec<SqlValue> = ids
            .iter()
            .map(|id| SqlValue::Text(Some(id.to_string())))
            .collect();
        let granting = "JOIN core_role_permissions rp ON rp.role_id = a.role_id \
             JOIN core_permission p ON p.id = rp.permission_id \
             AND p.app_label = 'core' AND p.codename = 'download_rbaccontentguard'";
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add_in("a.object_id", id_texts.clone());
        let sql = format!(
            "SELECT DISTINCT a.object_id, u.pulp_id, u.username FROM core_userrole a \
             JOIN core_user u ON u.pulp_id = a.user_id {granting} {} ORDER BY u.username",
            filter.sql()
        );
        let rows: Vec<(String, PulpId, String)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        for (object, id, username) in rows {
            users.entry(object).or_default().push(serde_json::json!({
                "username": username,
                "pulp_href": format!("{}/users/{id}/", crate::api::API_ROOT),
                "prn": format!("prn:auth.user:{id}"),
            }));
        }
        let sql = format!(
            "SELECT DISTINCT a.object_id, g.id, g.name FROM core_grouprole a \
             JOIN core_group g ON g.id = a.group_id {granting} {} ORDER BY g.name",
            filter.sql()
        );
        let rows: Vec<(String, i64, String)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        for (object, id, name) in rows {
            groups.entry(object).or_default().push(serde_json::json!({
                "name": name,
                "id": id,
                "pulp_href": format!("{}/groups/{id}/", crate::api::API_ROOT),
                "prn": format!("prn:auth.group:{id}"),
            }));
        }
    }
    for (map, id) in out.iter_mut().zip(ids) {
        let key = id.to_string();
        map.insert(
            "users".into(),
            Value::Array(users.remove(&key).unwrap_or_default()),
        );
        map.insert(
            "groups".into(),
            Value::Array(groups.remove(&key).unwrap_or_default()),
        );
    }
    Ok(())
}
