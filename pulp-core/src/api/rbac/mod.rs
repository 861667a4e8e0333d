//! The users, groups and roles API: `/users/`, `/groups/` (with their users and roles),
//! `/roles/`, `/users/{id}/roles/`, and `list_roles/ add_role/ remove_role/ my_permissions/`
//! on every object that has roles, and `/login/` (sessions).

mod assignments;
mod groups;
mod login;
mod object_roles;
mod roles;
mod users;

use serde_json::{json, Map, Value};

use super::ApiRoutes;
use crate::app::App;

/// Mounts every route of this module, documented.
pub(crate) fn mount(routes: &mut ApiRoutes, app: &App) {
    users::mount(routes);
    login::mount(routes);
    groups::mount(routes);
    roles::mount(routes);
    assignments::mount(routes);
    object_roles::mount(routes, app);
}

/// A request/response schema: `(name, JSON schema of the field)`, required fields.
fn schema(description: &str, fields: &[(&str, Value)], required: &[&str]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|(name, s)| (name.to_string(), s.clone()))
        .collect();
    json!({"type": "object", "description": description, "properties": properties, "required": required})
}

/// Documents a paginated list of `item`.
fn page_schema(routes: &mut ApiRoutes, item: &str) {
    routes.raw_schema(
        &format!("Paginated{item}List"),
        json!({
            "type": "object", "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            },
        }),
    );
}

fn string() -> Value {
    json!({"type": "string"})
}

fn read_only(mut field: Value) -> Value {
    if let Some(o) = field.as_object_mut() {
        o.insert("readOnly".into(), Value::Bool(true));
    }
    field
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

/// `Some(value)` of a string field of a body, a 400 naming it when it is not a string.
fn text_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>, super::ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(super::ApiError::field(field, "Not a valid string.")),
    }
}

/// A list of strings field of a body.
fn text_list(body: &Map<String, Value>, field: &str) -> Result<Vec<String>, super::ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| super::ApiError::field(field, "Not a valid string."))
            })
            .collect(),
        Some(_) => Err(super::ApiError::field(field, "Expected a list of items.")),
    }
}
