//! Lists of every type of a kind (`/remotes/`, `/repositories/`, `/content/`, …) and of every
//! repository version (`/repository_versions/`).

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json};
use serde_json::Value;

use super::crud::{common_filters, ordering_columns, page};
use super::kinds::kind_info;
use crate::api::authorize::{scope_list, ListScope};
use crate::api::list::{ordering, Page, Paging, QueryParams, SqlValue, SqlWhere};
use crate::api::openapi::{
    common_filter_params, list_params, name_params, FieldType, Operation, Param, Response as Answer,
};
use crate::api::routes_doc::ApiRoutes;
use crate::api::{base_url, select_fields, ApiError, API_ROOT};
use crate::app::App;
use crate::db::PulpId;

const KINDS: [(&str, &str, &str); 6] = [
    ("core_remote", "remotes", "Remotes"),
    ("core_repository", "repositories", "Repositories"),
    ("core_publication", "publications", "Publications"),
    ("core_distribution", "distributions", "Distributions"),
    ("core_content", "content", "Content"),
    ("core_contentguard", "contentguards", "Contentguards"),
];

async fn kind_filters(
    app: App,
    table: &'static str,
    mut filter: SqlWhere,
    query: QueryParams,
) -> Result<SqlWhere, ApiError> {
    common_filters(&app, &mut filter, &query, table)?;
    if table == "core_content" {
        super::content::version_filters(&app, &mut filter, &query).await?;
    }
    Ok(filter)
}

async fn list_kind(
    app: App,
    table: &'static str,
    endpoint: &'static str,
    headers: HeaderMap,
    raw: Option<String>,
    scope: Option<ListScope>,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let filter = kind_filters(
        app.clone(),
        table,
        SqlWhere::new(app.db().backend()),
        query.clone(),
    )
    .await?;
    let mut filter = filter;
    if let Some(scope) = &scope {
        scope.apply_to_masters(&mut filter, "m.pulp_id", "m.pulp_type");
    }
    super::q::apply_q(&mut filter, &query, |f, q| {
        kind_filters(app.clone(), table, f, q)
    })
    .await?;
    let order = ordering(
        &query,
        &ordering_columns(table),
        "m.pulp_created, m.pulp_id",
    )?;
    let from = format!("{table} m");
    let (count, results) = page(&app, &from, &filter, &order, paging, |ids| {
        render_page(&app, table, ids, raw.as_deref())
    })
    .await?;
    let base = format!("{}{API_ROOT}/{endpoint}/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

/// The page of a kind's list with these ids, each unit rendered by its type's handler, in
/// the order of `ids`.
async fn render_page(
    app: &App,
    table: &'static str,
    ids: Vec<PulpId>,
    raw: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let mut types: HashMap<PulpId, String> = HashMap::new();
    if !ids.is_empty() {
        let mut f = SqlWhere::new(app.db().backend());
        f.add_in(
            "pulp_id",
            ids.iter().copied().map(|v| SqlValue::Id(Some(v))).collect(),
        );
        let sql = format!("SELECT pulp_id, pulp_type FROM {table} {}", f.sql());
        let rows: Vec<(PulpId, String)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), f.values()).fetch_all(pool).await?
        });
        types.extend(rows);
    }
    let mut by_type: HashMap<String, Vec<PulpId>> = HashMap::new();
    for id in &ids {
        if let Some(t) = types.get(id) {
            by_type.entry(t.clone()).or_default().push(*id);
        }
    }
    let artifacts = if table == "core_content" {
        content_artifacts(app, &ids).await?
    } else {
        HashMap::new()
    };
    let mut rendered: HashMap<String, Value> = HashMap::new();
    for (pulp_type, group) in by_type {
        let Some(ops) = app.detail_ops(table, &pulp_type) else {
            continue;
        };
        for value in (ops.render)(app.clone(), group).await? {
            if let Some(href) = value.get("pulp_href").and_then(Value::as_str) {
                rendered.insert(href.to_string(), value.clone());
            }
        }
    }
    let results = ids
        .iter()
        .filter_map(|id| {
            let t = types.get(id)?;
            let href = super::refs::href_of(app, table, t, *id)?;
            let mut value = rendered.remove(&href)?;
            value["pulp_type"] = Value::String(t.clone());
            if table == "core_content" {
                // pulpcore's generic content serializer: relative path → artifact href.
                let map = artifacts.get(id).cloned().unwrap_or_default();
                value["artifacts"] = Value::Object(map);
            }
            Some(select_fields(value, raw))
        })
        .collect();
    Ok(results)
}

/// The `artifacts` of each unit: relative path → artifact href (`null` while not downloaded).
async fn content_artifacts(
    app: &App,
    ids: &[PulpId],
) -> Result<HashMap<PulpId, serde_json::Map<String, Value>>, ApiError> {
    let mut out: HashMap<PulpId, serde_json::Map<String, Value>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut f = SqlWhere::new(app.db().backend());
    f.add_in(
        "content_id",
        ids.iter().map(|id| SqlValue::Id(Some(*id))).collect(),
    );
    let sql = format!(
        "SELECT content_id, relative_path, artifact_id FROM core_contentartifact {}",
        f.sql()
    );
    let rows: Vec<(PulpId, String, Option<PulpId>)> = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_as(&sql), f.values()).fetch_all(pool).await?
    });
    for (content, path, artifact) in rows {
        let href = artifact.map_or(Value::Null, |a| {
            Value::String(crate::wire::artifact_href(a))
        });
        out.entry(content).or_default().insert(path, href);
    }
    Ok(out)
}

async fn list_versions(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    scope: Option<Extension<ListScope>>,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add("complete", []);
    scope_list(scope.as_deref(), &mut filter, "repository_id");
    if let Some(raw_number) = query.get("number") {
        let n: i64 = raw_number
            .parse()
            .map_err(|_| ApiError::field("number", "Enter a number."))?;
        filter.add("number = ?", [SqlValue::Int(Some(n))]);
    }
    let order = ordering(
        &query,
        &[("number", "number"), ("pulp_created", "pulp_created")],
        "pulp_created DESC, number DESC",
    )?;
    let (count, versions) =
        super::repositories::page_versions(&app, &filter, &order, paging).await?;
    let repositories = super::refs::hrefs(
        &app,
        "core_repository",
        versions.iter().map(|v| v.repository_id).collect(),
    )
    .await?;
    let results: Vec<Value> = versions
        .iter()
        .map(|version| {
            let href = repositories
                .get(&version.repository_id)
                .cloned()
                .unwrap_or_default();
            select_fields(
                super::repositories::version_response(&app, &href, version),
                raw.as_deref(),
            )
        })
        .collect();
    let base = format!("{}{API_ROOT}/repository_versions/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

/// Mounts the lists of every kind and of repository versions.
pub fn mount_kind_lists(routes: &mut ApiRoutes) {
    for (table, endpoint, title) in KINDS {
        let path = format!("{API_ROOT}/{endpoint}/");
        let mut params = list_params(&["pulp_created"]);
        if kind_info(table).named {
            params.extend(name_params());
        }
        params.extend(common_filter_params());
        params.extend(crate::api::openapi::time_params("pulp_created"));
        params.extend(crate::api::openapi::time_params("pulp_last_updated"));
        if table == "core_distribution" {
            for (name, ty) in [
                ("base_path", FieldType::String),
                ("base_path__contains", FieldType::String),
                ("base_path__icontains", FieldType::String),
                ("base_path__in", FieldType::StringList),
            ] {
                params.push(Param::query(name, ty, "Filter results by base_path"));
            }
        }
        params.push(Param::query(
            "pulp_type__in",
            FieldType::StringList,
            "Pulp type is in",
        ));
        if table == "core_content" {
            params.extend(super::content::version_filter_params());
        }
        let handler = move |State(app): State<App>,
                            headers: HeaderMap,
                            RawQuery(raw): RawQuery,
                            scope: Option<Extension<ListScope>>| async move {
            list_kind(app, table, endpoint, headers, raw, scope.map(|s| s.0)).await
        };
        routes.route(
            &path,
            get(handler),
            [
                Operation::new("get", &path, &format!("{endpoint}_list"), title)
                    .summary(&format!("List {}", endpoint.replace('_', " ")))
                    .params(params)
                    .response(200, Answer::Json),
            ],
        );
    }
    let path = format!("{API_ROOT}/repository_versions/");
    let mut params = list_params(&["number"]);
    params.push(Param::query("number", FieldType::Integer, ""));
    routes.route(
        &path,
        get(list_versions),
        [Operation::new(
            "get",
            &path,
            "repository_versions_list",
            "Repository_Versions",
        )
        .summary("List repository versions")
        .params(params)
        .response(200, Answer::Json)],
    );
}
