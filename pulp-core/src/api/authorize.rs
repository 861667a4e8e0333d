//! The access-policy decision for a request of a user who is not a superuser: the
//! viewset's policy with every condition evaluated against the user's roles, a 404 for an
//! object the user may not view (as Pulp's scoped querysets give), and the scope of lists.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::{ApiError, SqlValue, SqlWhere, API_ROOT};
use crate::access_policy::conditions::{evaluate, ConditionContext};
use crate::access_policy::Requester;
use crate::app::App;
use crate::db::PulpId;
use crate::rbac::{has_perm, Level};

/// Restricts a list to the objects on which a user holds a permission (a request extension
/// set by the authentication middleware; the list handlers of scoped viewsets apply it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListScope {
    /// The user.
    pub user: PulpId,
    /// The permission needed on each object (`file.view_filerepository`).
    pub permission: String,
}

impl ListScope {
    /// Adds the scoping clause on `column` (the objects' `pulp_id`) to `filter`.
    pub fn apply(&self, filter: &mut SqlWhere, column: &str) {
        let (app, codename) = self
            .permission
            .split_once('.')
            .unwrap_or(("", self.permission.as_str()));
        let clause = crate::rbac::scope_clause(filter.backend(), column);
        let values = [
            SqlValue::Id(self.user),
            SqlValue::Text(app.into()),
            SqlValue::Text(codename.into()),
            SqlValue::Id(self.user),
            SqlValue::Text(app.into()),
            SqlValue::Text(codename.into()),
        ];
        filter.add(&clause, values);
    }
}

/// Applies the scope of the request, if any, to a list's filter.
pub fn scope_list(scope: Option<&ListScope>, filter: &mut SqlWhere, column: &str) {
    if let Some(scope) = scope {
        scope.apply(filter, column);
    }
}

/// What the access policy lets a request do.
pub(crate) enum Authorized {
    /// Proceed.
    Yes,
    /// A list, filtered to what the user may view.
    Scoped(ListScope),
    /// A list of a scoped viewset whose handler cannot filter: nothing to show.
    EmptyList,
}

/// The viewsets whose list handlers apply a [`ListScope`].
fn lists_apply_scope(app: &App, viewset: &str) -> bool {
    viewset == "tasks"
        || viewset == "groups"
        || viewset == "upstream-pulps"
        || app
            .object_types()
            .iter()
            .any(|t| t.viewset == viewset && t.content_type.split('.').next() != Some("core"))
}

/// The id of the object a request path is about: the first UUID in it, or a group's number.
fn object_in_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(API_ROOT)?;
    let mut segments = rest.split('/').filter(|s| !s.is_empty()).peekable();
    let mut previous = "";
    while let Some(segment) = segments.next() {
        if let Ok(id) = uuid::Uuid::parse_str(segment) {
            return Some(id.hyphenated().to_string());
        }
        if previous.is_empty() && segment == "groups" {
            return segments
                .peek()
                .and_then(|n| n.parse::<i64>().ok())
                .map(|n| n.to_string());
        }
        previous = segment;
    }
    None
}

/// `app.view_model` of the type of object served by `viewset` (or by the viewset it is
/// nested in: a repository's versions are the repository's).
fn view_permission(app: &App, viewset: &str) -> Option<String> {
    app.object_types()
        .into_iter()
        .filter(|t| viewset == t.viewset || viewset.starts_with(&format!("{}/", t.viewset)))
        .max_by_key(|t| t.viewset.len())
        .and_then(|t| {
            let (label, model) = t.content_type.split_once('.')?;
            Some(format!("{label}.view_{model}"))
        })
}

/// The request's fields (JSON, form or multipart text parts), read once and put back.
async fn request_params(app: &App, request: &mut Request) -> Map<String, Value> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let taken = std::mem::replace(request.body_mut(), Body::empty());
    let limit = app.settings().api_max_body_size;
    let bytes = match axum::body::to_bytes(taken, limit).await {
        Ok(bytes) => bytes,
        // Too large or broken: the handler will refuse it; nothing to read here.
        Err(_) => return Map::new(),
    };
    *request.body_mut() = Body::from(bytes.clone());
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
    }
    if content_type.starts_with("multipart/form-data") {
        let mut copy = Request::new(Body::from(bytes));
        if let Some(v) = request.headers().get(CONTENT_TYPE) {
            copy.headers_mut().insert(CONTENT_TYPE, v.clone());
        }
        let mut params = Map::new();
        if let Ok(mut multipart) = axum::extract::Multipart::from_request(copy, &()).await {
            while let Ok(Some(field)) = multipart.next_field().await {
                if field.file_name().is_some() {
                    continue;
                }
                let name = field.name().unwrap_or_default().to_string();
                if let Ok(text) = field.text().await {
                    params.insert(name, Value::String(text));
                }
            }
        }
        return params;
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Checks the request of `user` (not a superuser) against the access policy of its
/// viewset: 403 when no policy covers the operation or the policy does not allow it, 404
/// when it is about an object of a scoped viewset the user may not view.
pub(crate) async fn authorize(
    app: &App,
    request: &mut Request,
    operation: Option<(String, String)>,
    user: PulpId,
    username: &str,
) -> Result<Authorized, ApiError> {
    let (viewset, action) = operation.ok_or(ApiError::Forbidden)?;
    let policy = crate::access_policy::find(app.db(), &viewset)
        .await?
        .ok_or(ApiError::Forbidden)?
        .policy();
    let db = app.db();
    let method = request.method().as_str().to_string();
    let requester = Requester {
        authenticated: true,
        is_superuser: false,
        id: Some(user.to_string()),
        username: Some(username.to_string()),
        groups: crate::rbac::group_names(db, user).await?,
    };
    let object = object_in_path(request.uri().path());
    let view = view_permission(app, &viewset);
    if let (Some(object), Some(view), true) = (&object, &view, policy.is_scoped()) {
        if action != "list"
            && action != "create"
            && !has_perm(db, user, view, Level::GlobalOrObject(object)).await?
        {
            return Err(ApiError::NotFound);
        }
    }
    let conditions = policy.conditions_to_evaluate(&action, &method, &requester);
    let needs_params = conditions
        .iter()
        .any(|c| c.contains("_param_") || c.starts_with("has_required_repo_perms_on_upload"));
    let params = if needs_params && matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        request_params(app, request).await
    } else {
        Map::new()
    };
    let context = ConditionContext {
        db,
        user,
        object: object.as_deref(),
        params: &params,
        details: app.detail_types(),
    };
    let mut answers = Vec::with_capacity(conditions.len());
    for condition in conditions {
        let answer = evaluate(&condition, &context).await?;
        answers.push((condition, answer));
    }
    let answer = |c: &str| answers.iter().find(|(k, _)| k == c).and_then(|(_, a)| *a);
    if !policy.decide(&action, &method, &requester, &answer) {
        return Err(ApiError::Forbidden);
    }
    if action == "list" && policy.is_scoped() {
        let Some(view) = view else {
            return Ok(Authorized::EmptyList);
        };
        if has_perm(db, user, &view, Level::Global).await? {
            return Ok(Authorized::Yes);
        }
        if lists_apply_scope(app, &viewset) {
            return Ok(Authorized::Scoped(ListScope {
                user,
                permission: view,
            }));
        }
        return Ok(Authorized::EmptyList);
    }
    Ok(Authorized::Yes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Backend;

    #[test]
    fn the_object_of_a_path_is_its_first_id_or_a_group_number() {
        let id = "0190c5a3-0000-7000-8000-000000000001";
        assert_eq!(
            object_in_path(&format!(
                "{API_ROOT}/repositories/file/file/{id}/versions/2/"
            ))
            .as_deref(),
            Some(id)
        );
        assert_eq!(
            object_in_path(&format!("{API_ROOT}/groups/12/users/")).as_deref(),
            Some("12")
        );
        assert_eq!(
            object_in_path(&format!("{API_ROOT}/repositories/file/file/")),
            None
        );
        assert_eq!(object_in_path(&format!("{API_ROOT}/groups/")), None);
    }

    #[test]
    fn backend_is_used_for_the_scope_clause() {
        let scope = ListScope {
            user: PulpId::new(),
            permission: "file.view_filerepository".into(),
        };
        let mut filter = SqlWhere::new(Backend::Postgres);
        scope.apply(&mut filter, "m.pulp_id");
        assert!(filter.sql().contains("CAST(ur.object_id AS UUID)"));
        assert_eq!(filter.len(), 6);
    }
}
