//! `/access_policies/`: the stored access policy of each viewset — list, read, customize
//! (`PUT`/`PATCH`, which marks it `customized`) and reset to the declared default.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Map, Value};

use super::generic::page;
use super::list::{
    core_object_reference, in_id_order, ordering, parse_bool, reference_filters, text_filters,
    BadIds, Page, Paging, QueryParams, SqlValue, SqlWhere, TEXT_LOOKUPS,
};
use super::openapi::{
    field_params, list_params, reference_filter_params, FieldType, Operation, Param, RequestBody,
    Response as Doc,
};
use super::request::path_id;
use super::timestamp::format as ts;
use super::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::access_policy::{self, parse_statements, PolicyDocuments, StoredPolicy};
use crate::app::App;
use crate::db::PulpId;
use crate::validation::ValidationErrors;

const TAG: &str = "Access_Policies";

/// Mounts `/access_policies/`, documented.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    let collection = format!("{API_ROOT}/access_policies/");
    let object = format!("{API_ROOT}/access_policies/{{id}}/");
    let writable = json!({
        "permissions_assignment": {"type": "array", "items": {"type": "object"}, "description": "List of callables that define the new permissions to be created for new objects.This is deprecated. Use `creation_hooks` instead."},
        "creation_hooks": {"type": "array", "items": {"type": "object"}, "description": "List of callables that may associate user roles for new objects."},
        "statements": {"type": "array", "items": {"type": "object"}, "description": "List of policy statements defining the policy."},
        "queryset_scoping": {"type": "object", "description": "A callable for performing queryset scoping. See plugin documentation for valid callables. Set to blank to turn off queryset scoping."},
    });
    let mut response_props = json!({
        "pulp_href": {"type": "string", "format": "uri", "readOnly": true},
        "prn": {"type": "string", "readOnly": true, "description": "The Pulp Resource Name (PRN)."},
        "pulp_created": {"type": "string", "format": "date-time", "readOnly": true, "description": "Timestamp of creation."},
        "pulp_last_updated": {"type": "string", "format": "date-time", "readOnly": true, "description": "Timestamp of the last time this resource was updated."},
        "viewset_name": {"type": "string", "readOnly": true, "description": "The name of ViewSet this AccessPolicy authorizes."},
        "customized": {"type": "boolean", "readOnly": true, "description": "True if the AccessPolicy has been user-modified. False otherwise."},
    });
    if let (Some(target), Some(extra)) = (response_props.as_object_mut(), writable.as_object()) {
        target.extend(extra.clone());
    }
    routes
        .raw_schema("AccessPolicy", json!({"type": "object", "description": "Serializer for AccessPolicy.", "properties": writable, "required": ["statements"]}))
        .raw_schema("PatchedAccessPolicy", json!({"type": "object", "description": "Serializer for AccessPolicy.", "properties": writable}))
        .raw_schema("AccessPolicyResponse", json!({"type": "object", "description": "Serializer for AccessPolicy.", "properties": response_props, "required": ["statements"]}))
        .raw_schema("PaginatedAccessPolicyResponseList", json!({
            "type": "object", "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/AccessPolicyResponse"}},
            },
        }));
    let mut filters = list_params(&["viewset_name", "customized", "pulp_created"]);
    filters.push(Param::query(
        "customized",
        FieldType::Boolean,
        "Filter results where customized matches value",
    ));
    for lookup in TEXT_LOOKUPS {
        filters.push(Param::query(
            &format!("viewset_name{lookup}"),
            FieldType::String,
            "Filter results by viewset_name",
        ));
    }
    filters.extend(reference_filter_params());
    let href = "{access_policy_href}";
    routes.route(
        &collection,
        get(list),
        [
            Operation::new("get", &collection, "access_policies_list", TAG)
                .summary("List access policys")
                .params(filters)
                .response(200, Doc::Schema("PaginatedAccessPolicyResponseList".into())),
        ],
    );
    routes.route(
        &object,
        get(read).put(update).patch(partial_update),
        [
            Operation::new("get", href, "access_policies_read", TAG)
                .summary("Inspect an access policy")
                .params(field_params())
                .response(200, Doc::Schema("AccessPolicyResponse".into())),
            Operation::new("put", href, "access_policies_update", TAG)
                .summary("Update an access policy")
                .body(RequestBody::Schema("AccessPolicy".into()))
                .response(200, Doc::Schema("AccessPolicyResponse".into())),
            Operation::new("patch", href, "access_policies_partial_update", TAG)
                .summary("Update an access policy")
                .body(RequestBody::Schema("PatchedAccessPolicy".into()))
                .response(200, Doc::Schema("AccessPolicyResponse".into())),
        ],
    );
    routes.route(
        &format!("{object}reset/"),
        post(reset),
        [Operation::new(
            "post",
            &format!("{href}reset/"),
            "access_policies_reset",
            TAG,
        )
        .summary("Reset the access policy to its uncustomized default value.")
        .response(200, Doc::Schema("AccessPolicyResponse".into()))],
    );
}

/// The href of policy `id`.
fn policy_href(id: PulpId) -> String {
    format!("{API_ROOT}/access_policies/{id}/")
}

fn policy_reference(reference: &str) -> Option<PulpId> {
    core_object_reference(reference, "accesspolicy", "access_policies")
}

fn response(policy: &StoredPolicy) -> Value {
    json!({
        "pulp_href": policy_href(policy.pulp_id),
        "prn": format!("prn:core.accesspolicy:{}", policy.pulp_id),
        "pulp_created": ts(&policy.pulp_created),
        "pulp_last_updated": ts(&policy.pulp_last_updated),
        "permissions_assignment": policy.creation_hooks,
        "creation_hooks": policy.creation_hooks,
        "statements": policy.statements,
        "viewset_name": policy.viewset_name,
        "customized": policy.customized,
        "queryset_scoping": policy.queryset_scoping,
    })
}

async fn existing(app: &App, raw: &str) -> Result<StoredPolicy, ApiError> {
    access_policy::get(app.db(), path_id(raw)?)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    text_filters(
        &mut filter,
        &query,
        "viewset_name",
        "m.viewset_name",
        TEXT_LOOKUPS,
    );
    if let Some(raw_value) = query.get("customized") {
        let customized = parse_bool("customized", raw_value)?;
        filter.add("m.customized = ?", [SqlValue::Bool(Some(customized))]);
    }
    reference_filters(&mut filter, &query, policy_reference, BadIds::Ignore)?;
    let order = ordering(
        &query,
        &[
            ("pk", "m.pulp_id"),
            ("pulp_id", "m.pulp_id"),
            ("pulp_created", "m.pulp_created"),
            ("pulp_last_updated", "m.pulp_last_updated"),
            ("viewset_name", "m.viewset_name"),
            ("customized", "m.customized"),
        ],
        "m.viewset_name, m.pulp_id",
    )?;
    let from = "core_accesspolicy m";
    let app = &app;
    let (count, results) = page(app, from, &filter, &order, paging, |ids| async move {
        let policies = access_policy::get_many(app.db(), &ids).await?;
        Ok(in_id_order(&ids, policies, |p| p.pulp_id)
            .iter()
            .map(|p| select_fields(response(p), raw.as_deref()))
            .collect::<Vec<Value>>())
    })
    .await?;
    let base = format!("{}{API_ROOT}/access_policies/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let policy = existing(&app, &id).await?;
    Ok(Json(select_fields(response(&policy), raw.as_deref())).into_response())
}

async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(app, id, body, false).await
}

async fn partial_update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(app, id, body, true).await
}

/// Validates a `PUT`/`PATCH` body against the stored policy and stores the result as
/// customized.
async fn write(app: App, id: String, body: Bytes, partial: bool) -> Result<Response, ApiError> {
    let stored = existing(&app, &id).await?;
    let body: Map<String, Value> = parse_json(&body)?;
    let mut errors = ValidationErrors::new();
    for key in body.keys() {
        if !matches!(
            key.as_str(),
            "statements" | "creation_hooks" | "permissions_assignment" | "queryset_scoping"
        ) {
            errors.add(key, "Unexpected field.");
        }
    }
    let statements = match body.get("statements") {
        Some(value) => {
            parse_statements(value, &mut errors);
            value.clone()
        }
        None if partial => stored.statements.clone(),
        None => {
            errors.add("statements", "This field is required.");
            Value::Null
        }
    };
    let hooks_field = if body.contains_key("creation_hooks") {
        "creation_hooks"
    } else {
        "permissions_assignment"
    };
    let creation_hooks = match body.get(hooks_field) {
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => {
            Value::Array(items.clone())
        }
        Some(_) => {
            errors.add(hooks_field, "Expected a list of objects.");
            Value::Null
        }
        None if partial => stored.creation_hooks.clone(),
        None => json!([]),
    };
    let queryset_scoping = match body.get("queryset_scoping") {
        Some(Value::Object(o)) if o.is_empty() => None,
        Some(Value::Object(o)) => {
            if !o.get("function").is_some_and(Value::is_string) {
                errors.add(
                    "queryset_scoping",
                    "Expected an object naming its `function`.",
                );
            }
            Some(Value::Object(o.clone()))
        }
        Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(_) => {
            errors.add(
                "queryset_scoping",
                "Expected an object naming its `function`.",
            );
            None
        }
        None if partial => stored.queryset_scoping.clone(),
        None => None,
    };
    errors.into_result()?;
    let documents = PolicyDocuments::new(&statements, &creation_hooks, queryset_scoping.as_ref());
    let updated = access_policy::write(app.db(), stored.pulp_id, documents, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(response(&updated)).into_response())
}

async fn reset(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let stored = existing(&app, &id).await?;
    let default = app
        .default_access_policy(&stored.viewset_name)
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "no default access policy is declared for '{}' (its plugin is not installed)",
                stored.viewset_name
            ))
        })?;
    let updated = access_policy::reset(app.db(), stored.pulp_id, &default)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(response(&updated)).into_response())
}
