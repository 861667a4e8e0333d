//! `list_roles/`, `add_role/`, `remove_role/` and `my_permissions/` on every object that has
//! roles (repositories, remotes, publications, distributions, content guards, tasks,
//! uploads, groups), with Pulp's bodies and answers.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use super::{schema, string, strings, text_field, text_list};
use crate::api::auth::CurrentUser;
use crate::api::openapi::{field_params, Operation, RequestBody, Response as Doc};
use crate::api::{parse_json, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::rbac::{self, ObjectRef, Principal};

/// `(viewset, content type, href parameter name, tag)` of every type of object with roles.
fn role_types(app: &App) -> Vec<(String, String, String, String)> {
    let mut out = vec![
        (
            "tasks".to_string(),
            "core.task".to_string(),
            "task_href".to_string(),
            "Tasks".to_string(),
        ),
        (
            "uploads".into(),
            "core.upload".into(),
            "upload_href".into(),
            "Uploads".into(),
        ),
        (
            "groups".into(),
            "core.group".into(),
            "group_href".into(),
            "Groups".into(),
        ),
        (
            "upstream-pulps".into(),
            "core.upstreampulp".into(),
            "upstream_pulp_href".into(),
            "Upstream Pulps".into(),
        ),
    ];
    for detail in app.detail_types() {
        let kind = crate::api::generic::kinds::kind_info(detail.master_table);
        if detail.master_table == "core_content" {
            continue;
        }
        out.push((
            format!("{}/{}", detail.kind_endpoint, detail.endpoint),
            detail.prn_model.to_string(),
            if detail.href_param.is_empty() {
                format!(
                    "{}_{}_href",
                    detail.pulp_type.replace('.', "_"),
                    kind.singular
                )
            } else {
                detail.href_param.to_string()
            },
            kind.title.to_string(),
        ));
    }
    out
}

pub(super) fn mount(routes: &mut ApiRoutes, app: &App) {
    routes
        .raw_schema(
            "NestedRole",
            schema(
                "Serializer to add/remove object roles to/from users/groups.",
                &[
                    ("users", strings()),
                    ("groups", strings()),
                    ("role", string()),
                ],
                &["role"],
            ),
        )
        .raw_schema(
            "NestedRoleResponse",
            schema(
                "Serializer to add/remove object roles to/from users/groups.",
                &[
                    ("users", strings()),
                    ("groups", strings()),
                    ("role", string()),
                ],
                &["role"],
            ),
        )
        .raw_schema(
            "ObjectRolesResponse",
            schema(
                "Serializer for the roles of an object.",
                &[(
                    "roles",
                    json!({"type": "array", "items": {"type": "object"}}),
                )],
                &["roles"],
            ),
        )
        .raw_schema(
            "MyPermissionsResponse",
            schema(
                "Serializer for the permissions of the user on an object.",
                &[("permissions", json!({"type": "array", "items": {}}))],
                &["permissions"],
            ),
        );
    for (viewset, content_type, href, tag) in role_types(app) {
        let op = viewset.replace(['/', '-'], "_");
        let object = |action: &str| {
            if viewset == "groups" {
                format!("{API_ROOT}/groups/{{id}}/{action}/")
            } else {
                format!("{API_ROOT}/{viewset}/{{id}}/{action}/")
            }
        };
        let doc_path = |action: &str| format!("{{{href}}}{action}/");
        let ct = content_type.clone();
        routes.route(
            &object("list_roles"),
            get(move |State(app): State<App>, Path(id): Path<String>| {
                let ct = ct.clone();
                async move { list_roles(app, ct, id).await }
            }),
            [Operation::new(
                "get",
                &doc_path("list_roles"),
                &format!("{op}_list_roles"),
                &tag,
            )
            .summary("List roles")
            .params(field_params())
            .response(200, Doc::Schema("ObjectRolesResponse".into()))],
        );
        let ct = content_type.clone();
        routes.route(
            &object("add_role"),
            post(
                move |State(app): State<App>, Path(id): Path<String>, body: Bytes| {
                    let ct = ct.clone();
                    async move { change_role(app, ct, id, body, true).await }
                },
            ),
            [Operation::new(
                "post",
                &doc_path("add_role"),
                &format!("{op}_add_role"),
                &tag,
            )
            .summary("Add a role")
            .body(RequestBody::Schema("NestedRole".into()))
            .response(201, Doc::Schema("NestedRoleResponse".into()))],
        );
        let ct = content_type.clone();
        routes.route(
            &object("remove_role"),
            post(
                move |State(app): State<App>, Path(id): Path<String>, body: Bytes| {
                    let ct = ct.clone();
                    async move { change_role(app, ct, id, body, false).await }
                },
            ),
            [Operation::new(
                "post",
                &doc_path("remove_role"),
                &format!("{op}_remove_role"),
                &tag,
            )
            .summary("Remove a role")
            .body(RequestBody::Schema("NestedRole".into()))
            .response(201, Doc::Schema("NestedRoleResponse".into()))],
        );
        let ct = content_type.clone();
        routes.route(
            &object("my_permissions"),
            get(
                move |State(app): State<App>,
                      Path(id): Path<String>,
                      user: Option<Extension<CurrentUser>>| {
                    let ct = ct.clone();
                    async move { my_permissions(app, ct, id, user.map(|u| u.0)).await }
                },
            ),
            [Operation::new(
                "get",
                &doc_path("my_permissions"),
                &format!("{op}_my_permissions"),
                &tag,
            )
            .summary("List user permissions")
            .params(field_params())
            .response(200, Doc::Schema("MyPermissionsResponse".into()))],
        );
    }
}

/// The object of type `content_type` with the id in the path; 404 when there is none.
async fn object(app: &App, content_type: String, raw: &str) -> Result<ObjectRef, ApiError> {
    let object_id = if content_type == "core.group" {
        raw.parse::<i64>()
            .map_err(|_| ApiError::NotFound)?
            .to_string()
    } else {
        crate::api::request::path_id(raw)?.to_string()
    };
    let object = ObjectRef {
        content_type,
        object_id,
    };
    if !super::assignments::object_exists(app, &object).await? {
        return Err(ApiError::NotFound);
    }
    Ok(object)
}

async fn list_roles(app: App, content_type: String, id: String) -> Result<Response, ApiError> {
    let object = object(&app, content_type, &id).await?;
    let roles: Vec<Value> = rbac::object_roles(app.db(), &object)
        .await?
        .into_iter()
        .map(|(role, users, groups)| json!({"role": role, "users": users, "groups": groups}))
        .collect();
    Ok(Json(json!({ "roles": roles })).into_response())
}

async fn change_role(
    app: App,
    content_type: String,
    id: String,
    body: Bytes,
    add: bool,
) -> Result<Response, ApiError> {
    let object = object(&app, content_type, &id).await?;
    let body: Map<String, Value> = parse_json(&body)?;
    let role = text_field(&body, "role")?
        .ok_or_else(|| ApiError::field("role", "This field is required."))?;
    let users = text_list(&body, "users")?;
    let groups = text_list(&body, "groups")?;
    if rbac::roles::id_by_name(app.db(), &role).await?.is_none() {
        return Err(ApiError::field(
            "role",
            format!("Object with name={role} does not exist."),
        ));
    }
    let mut principals = Vec::new();
    for username in &users {
        let id = crate::auth::Users::new(app.db())
            .stored_any(username)
            .await?
            .ok_or_else(|| {
                ApiError::field(
                    "users",
                    format!("Object with username={username} does not exist."),
                )
            })?;
        principals.push((Principal::User(id), format!("user '{username}'")));
    }
    for name in &groups {
        let group = rbac::groups::by_name(app.db(), name)
            .await?
            .ok_or_else(|| {
                ApiError::field("groups", format!("Object with name={name} does not exist."))
            })?;
        principals.push((Principal::Group(group.id), format!("group '{name}'")));
    }
    if principals.is_empty() {
        return Err(ApiError::field(
            "non_field_errors",
            "Please provide at least one user or group.",
        ));
    }
    // Validate everything first, so that a refused request changes nothing.
    let holders = rbac::object_roles(app.db(), &object).await?;
    let holding = holders.iter().find(|(r, _, _)| *r == role);
    for (who, label) in &principals {
        let has = match (who, holding) {
            (_, None) => false,
            (Principal::User(_), Some((_, u, _))) => users
                .iter()
                .any(|n| label == &format!("user '{n}'") && u.contains(n)),
            (Principal::Group(_), Some((_, _, g))) => groups
                .iter()
                .any(|n| label == &format!("group '{n}'") && g.contains(n)),
        };
        if add && has {
            return Err(ApiError::field(
                "non_field_errors",
                format!("The role is already assigned to {label}."),
            ));
        }
        if !add && !has {
            return Err(ApiError::field(
                "non_field_errors",
                format!("The role is not assigned to {label}."),
            ));
        }
    }
    for (who, _) in &principals {
        if add {
            rbac::assign(app.db(), *who, &role, Some(object.clone()))
                .await
                .map_err(|e| match e {
                    rbac::RbacError::Invalid { .. } => ApiError::field(
                        "non_field_errors",
                        "The role does not contain any permission for that object.",
                    ),
                    other => other.into(),
                })?;
        } else {
            rbac::remove_on(app.db(), *who, &role, &object).await?;
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"users": users, "groups": groups, "role": role})),
    )
        .into_response())
}

async fn my_permissions(
    app: App,
    content_type: String,
    id: String,
    user: Option<CurrentUser>,
) -> Result<Response, ApiError> {
    let object = object(&app, content_type, &id).await?;
    let user = user.ok_or(ApiError::Unauthenticated)?;
    let permissions = if user.is_superuser {
        rbac::permissions_of_type(app.db(), &object.content_type).await?
    } else {
        rbac::my_permissions(app.db(), user.id, &object.content_type, &object.object_id).await?
    };
    Ok(Json(json!({ "permissions": permissions })).into_response())
}
