//! References between objects: hrefs and PRNs in requests turned into ids (checked to exist),
//! ids turned back into hrefs for responses — in bulk, one query per table and page.

use std::collections::HashMap;

use super::kinds::Target;
use crate::api::list::{SqlValue, SqlWhere};
use crate::api::{ApiError, API_ROOT};
use crate::app::App;
use crate::db::PulpId;

/// Strips `scheme://host` from an absolute URL, leaving the path.
fn path_of(reference: &str) -> &str {
    if let Some(rest) = reference
        .strip_prefix("http://")
        .or_else(|| reference.strip_prefix("https://"))
    {
        return rest.find('/').map(|i| &rest[i..]).unwrap_or("");
    }
    reference
}

fn no_match(field: &str) -> ApiError {
    ApiError::field(field, "Invalid hyperlink - No URL match.")
}

fn missing(field: &str) -> ApiError {
    ApiError::field(field, "Invalid hyperlink - Object does not exist.")
}

/// The id of the object `reference` (an href, absolute URL or PRN) names, which must be a
/// `target`; a field error on `field` when it is malformed, of another kind or missing.
pub async fn resolve(
    app: &App,
    field: &str,
    reference: &str,
    target: Target,
) -> Result<PulpId, ApiError> {
    match target {
        Target::Master(table) => resolve_master(app, field, reference, table).await,
        Target::Version => resolve_version(app, field, reference).await,
    }
}

async fn resolve_master(
    app: &App,
    field: &str,
    reference: &str,
    table: &str,
) -> Result<PulpId, ApiError> {
    let id = parse_master(app, reference, table).ok_or_else(|| no_match(field))?;
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE pulp_id = $1");
    let n: i64 = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar(&sql).bind(id).fetch_one(pool).await?
    });
    if n == 0 {
        return Err(missing(field));
    }
    Ok(id)
}

/// The id in an href or PRN of any detail type of the kind stored in `table`.
pub fn parse_master(app: &App, reference: &str, table: &str) -> Option<PulpId> {
    if let Some(rest) = reference.strip_prefix("prn:") {
        let (model, id) = rest.split_once(':')?;
        // The master's own PRN (`prn:core.contentguard:<id>`, what a distribution shows as
        // `content_guard_prn`) names the object too.
        let master_prn = table.strip_prefix("core_").map(|m| format!("core.{m}"));
        if master_prn.as_deref() != Some(model) {
            app.detail_types()
                .iter()
                .find(|d| d.prn_model == model && d.master_table == table)?;
        }
        return uuid::Uuid::parse_str(id).ok().map(PulpId);
    }
    let path = path_of(reference);
    app.detail_types()
        .iter()
        .filter(|d| d.master_table == table)
        .find_map(|d| {
            let prefix = format!("{API_ROOT}/{}/{}/", d.kind_endpoint, d.endpoint);
            let id = path.strip_prefix(&prefix)?.strip_suffix('/')?;
            uuid::Uuid::parse_str(id).ok().map(PulpId)
        })
}

/// `(repository id, number)` of a repository-version href.
pub fn parse_version(app: &App, reference: &str) -> Option<(PulpId, i64)> {
    let path = path_of(reference);
    app.detail_types()
        .iter()
        .filter(|d| d.master_table == "core_repository")
        .find_map(|d| {
            let prefix = format!("{API_ROOT}/{}/{}/", d.kind_endpoint, d.endpoint);
            let rest = path.strip_prefix(&prefix)?.strip_suffix('/')?;
            let (id, number) = rest.split_once("/versions/")?;
            let id = uuid::Uuid::parse_str(id).ok().map(PulpId)?;
            let number = number.parse::<i64>().ok().filter(|n| *n >= 0)?;
            Some((id, number))
        })
}

async fn resolve_version(app: &App, field: &str, reference: &str) -> Result<PulpId, ApiError> {
    if let Some(rest) = reference.strip_prefix("prn:core.repositoryversion:") {
        let id = uuid::Uuid::parse_str(rest)
            .map(PulpId)
            .map_err(|_| no_match(field))?;
        let n: i64 = crate::on_pool!(app.db(), pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM core_repositoryversion WHERE pulp_id = $1 AND complete")
                .bind(id).fetch_one(pool).await?
        });
        return if n == 0 { Err(missing(field)) } else { Ok(id) };
    }
    let (repository, number) = parse_version(app, reference).ok_or_else(|| no_match(field))?;
    let found: Option<PulpId> = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar(
            "SELECT pulp_id FROM core_repositoryversion WHERE repository_id = $1 AND number = $2 AND complete",
        )
        .bind(repository)
        .bind(number)
        .fetch_optional(pool)
        .await?
    });
    found.ok_or_else(|| missing(field))
}

/// The href of object `id` of type `pulp_type` in the kind stored in `table`.
pub fn href_of(app: &App, table: &str, pulp_type: &str, id: PulpId) -> Option<String> {
    app.detail_types()
        .iter()
        .find(|d| d.master_table == table && d.pulp_type == pulp_type)
        .map(|d| format!("{API_ROOT}/{}/{}/{id}/", d.kind_endpoint, d.endpoint))
}

/// The PRN of object `id` of type `pulp_type` in the kind stored in `table`.
pub fn prn_of(app: &App, table: &str, pulp_type: &str, id: PulpId) -> Option<String> {
    app.detail_types()
        .iter()
        .find(|d| d.master_table == table && d.pulp_type == pulp_type)
        .map(|d| format!("prn:{}:{id}", d.prn_model))
}

/// Hrefs of the objects `ids` of the kind stored in `table` (one query).
pub async fn hrefs(
    app: &App,
    table: &str,
    ids: Vec<PulpId>,
) -> Result<HashMap<PulpId, String>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add_in(
        "pulp_id",
        ids.into_iter().map(|v| SqlValue::Id(Some(v))).collect(),
    );
    let sql = format!("SELECT pulp_id, pulp_type FROM {table} {}", filter.sql());
    let rows: Vec<(PulpId, String)> = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(id, t)| href_of(app, table, &t, id).map(|h| (id, h)))
        .collect())
}

/// Hrefs of repository versions by id, with their repositories' hrefs (one query).
pub async fn version_hrefs(
    app: &App,
    ids: Vec<PulpId>,
) -> Result<HashMap<PulpId, (String, String)>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add_in(
        "v.pulp_id",
        ids.into_iter().map(|v| SqlValue::Id(Some(v))).collect(),
    );
    let sql = format!(
        "SELECT v.pulp_id, v.repository_id, v.number, r.pulp_type FROM core_repositoryversion v \
         JOIN core_repository r ON r.pulp_id = v.repository_id {}",
        filter.sql()
    );
    let rows: Vec<(PulpId, PulpId, i64, String)> = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(id, repo, number, t)| {
            let repo_href = href_of(app, "core_repository", &t, repo)?;
            Some((id, (format!("{repo_href}versions/{number}/"), repo_href)))
        })
        .collect())
}
