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
use crate::db::{Backend, PulpId};
use crate::rbac::{has_perm, Level};

/// Restricts a list to what a user may see (a request extension set by the authentication
/// middleware; the list handlers of scoped viewsets apply it): a SQL condition on the
/// listed objects' key column, written `{id}`, with `?` placeholders for its values.
#[derive(Debug, Clone, PartialEq)]
pub struct ListScope {
    clause: String,
    values: Vec<SqlValue>,
    /// The master table whose rows the clause is about, when it also reads their
    /// `pulp_type` (written `{type}`): applied to another key, it becomes a subquery of it.
    typed: Option<String>,
}

/// How an object's key compares with `object_id` of role assignments (text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// A `pulp_id` (a UUID on PostgreSQL).
    Uuid,
    /// Already text (a group's number written `CAST(id AS TEXT)`).
    Text,
}

impl ListScope {
    /// Nothing at all.
    fn nothing() -> Self {
        Self {
            clause: "1 = 0".into(),
            values: Vec::new(),
            typed: None,
        }
    }

    /// The objects on which `user` holds `permission` through an object-level role.
    fn held(backend: Backend, key: Key, user: PulpId, permission: &str) -> Self {
        let (app, codename) = permission.split_once('.').unwrap_or(("", permission));
        let backend = match key {
            Key::Uuid => backend,
            Key::Text => Backend::Sqlite,
        };
        let user_values = || {
            [
                SqlValue::Id(Some(user)),
                SqlValue::Text(Some(app.into())),
                SqlValue::Text(Some(codename.into())),
            ]
        };
        Self {
            clause: crate::rbac::scope_clause(backend, "{id}"),
            values: user_values().into_iter().chain(user_values()).collect(),
            typed: None,
        }
    }

    /// The rows of `table` (alias `s`, key `s.{key}`) where `inner` holds of `column`,
    /// as a condition on `{id}`: `{id} IN (SELECT s.key FROM table s WHERE …)`.
    fn through(key: &str, table: &str, extra: &str, column: &str, inner: ListScope) -> Self {
        let condition = inner.condition_on(column);
        Self {
            clause: format!("{{id}} IN (SELECT s.{key} FROM {table} s WHERE {extra}{condition})"),
            values: inner.values,
            typed: None,
        }
    }

    /// The clause about the rows whose key is `column`.
    fn condition_on(&self, column: &str) -> String {
        match &self.typed {
            None => self.clause.replace("{id}", column),
            Some(table) => format!(
                "{column} IN (SELECT t.pulp_id FROM {table} t WHERE {})",
                self.clause
                    .replace("{id}", "t.pulp_id")
                    .replace("{type}", "t.pulp_type")
            ),
        }
    }

    /// Adds the scoping clause on `column` (the listed objects' key) to `filter`.
    pub fn apply(&self, filter: &mut SqlWhere, column: &str) {
        filter.add(&self.condition_on(column), self.values.clone());
    }

    /// Adds the scoping clause to a list of masters (`id` and `pulp_type` columns of the
    /// listed rows), without a subquery when the scope is about that kind.
    pub fn apply_to_masters(&self, filter: &mut SqlWhere, id: &str, pulp_type: &str) {
        let clause = match &self.typed {
            Some(_) => self.clause.replace("{id}", id).replace("{type}", pulp_type),
            None => self.clause.replace("{id}", id),
        };
        filter.add(&clause, self.values.clone());
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

/// `app.view_model` of a content type `app.model`.
fn view_of(content_type: &str) -> Option<String> {
    let (label, model) = content_type.split_once('.')?;
    Some(format!("{label}.view_{model}"))
}

/// What `user` may see of objects whose `view` permission scopes them: `None` for all of
/// them (a global role), else the objects held.
async fn held_or_all(
    app: &App,
    key: Key,
    user: PulpId,
    view: &str,
) -> Result<Option<ListScope>, ApiError> {
    if has_perm(app.db(), user, view, Level::Global).await? {
        return Ok(None);
    }
    Ok(Some(ListScope::held(app.db().backend(), key, user, view)))
}

/// The objects of the master table `table` (`core_repository`…) that `user` may see, as
/// Pulp's master viewsets scope them: of each detail type, all when its viewset's policy
/// does not scope or the user holds its view permission globally, else those held. `None`
/// when that is everything.
async fn visible_of_kind(
    app: &App,
    user: PulpId,
    table: &str,
) -> Result<Option<ListScope>, ApiError> {
    let mut whole: Vec<&'static str> = Vec::new();
    let mut parts: Vec<(&'static str, ListScope)> = Vec::new();
    for detail in app
        .detail_types()
        .iter()
        .filter(|d| d.master_table == table)
    {
        let viewset = format!("{}/{}", detail.kind_endpoint, detail.endpoint);
        let scoped = crate::access_policy::find(app.db(), &viewset)
            .await?
            .is_some_and(|p| p.policy().is_scoped());
        let held = match (scoped, view_of(detail.prn_model)) {
            (true, Some(view)) => held_or_all(app, Key::Uuid, user, &view).await?,
            _ => None,
        };
        match held {
            None => whole.push(detail.pulp_type),
            Some(scope) => parts.push((detail.pulp_type, scope)),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    if !whole.is_empty() {
        clauses.push(format!(
            "{{type}} IN ({})",
            vec!["?"; whole.len()].join(", ")
        ));
        values.extend(whole.iter().map(|t| SqlValue::Text(Some((*t).into()))));
    }
    for (pulp_type, scope) in parts {
        clauses.push(format!("({{type}} = ? AND {})", scope.clause));
        values.push(SqlValue::Text(Some(pulp_type.into())));
        values.extend(scope.values);
    }
    Ok(Some(ListScope {
        clause: format!("({})", clauses.join(" OR ")),
        values,
        typed: Some(table.to_string()),
    }))
}

/// Content `user` may see: what the repositories they may see hold or held (as Pulp scopes
/// content; content in no repository is the administrators').
async fn visible_content(app: &App, user: PulpId) -> Result<ListScope, ApiError> {
    let repositories = visible_of_kind(app, user, "core_repository").await?;
    let inner = repositories.unwrap_or(ListScope {
        clause: "1 = 1".into(),
        values: Vec::new(),
        typed: None,
    });
    Ok(ListScope::through(
        "content_id",
        "core_repositorycontent",
        "",
        "s.repository_id",
        inner,
    ))
}

/// The scope of the list of scoped `viewset` for `user` (no global view permission):
/// `Some(None)` everything, `Some(Some(scope))` a part, `None` when this server's handler
/// of that list cannot be scoped.
async fn list_scope(
    app: &App,
    user: PulpId,
    viewset: &str,
) -> Result<Option<Option<ListScope>>, ApiError> {
    Ok(Some(match viewset {
        "tasks" => held_or_all(app, Key::Uuid, user, "core.view_task").await?,
        "uploads" => held_or_all(app, Key::Uuid, user, "core.view_upload").await?,
        "groups" => held_or_all(app, Key::Text, user, "core.view_group").await?,
        "upstream-pulps" => held_or_all(app, Key::Uuid, user, "core.view_upstreampulp").await?,
        "task-groups" => held_or_all(app, Key::Uuid, user, "core.view_task")
            .await?
            .map(|tasks| {
                // Groups of the top-level tasks the user may see (as Pulp's).
                ListScope::through(
                    "task_group",
                    "core_task",
                    "s.parent_task IS NULL AND s.task_group IS NOT NULL AND ",
                    "s.pulp_id",
                    tasks,
                )
            }),
        "repositories" => visible_of_kind(app, user, "core_repository").await?,
        "remotes" => visible_of_kind(app, user, "core_remote").await?,
        "publications" => visible_of_kind(app, user, "core_publication").await?,
        "distributions" => visible_of_kind(app, user, "core_distribution").await?,
        "contentguards" => visible_of_kind(app, user, "core_contentguard").await?,
        "content" => Some(visible_content(app, user).await?),
        // Versions of the repositories the user may see (the handler scopes `repository_id`).
        "repository_versions" => visible_of_kind(app, user, "core_repository").await?,
        other => {
            let Some(detail) = app
                .detail_types()
                .iter()
                .find(|d| format!("{}/{}", d.kind_endpoint, d.endpoint) == other)
            else {
                return Ok(None);
            };
            if detail.master_table == "core_content" {
                Some(visible_content(app, user).await?)
            } else {
                match view_of(detail.prn_model) {
                    Some(view) => held_or_all(app, Key::Uuid, user, &view).await?,
                    None => Some(ListScope::nothing()),
                }
            }
        }
    }))
}

/// Whether object `id` of `table` is within `scope` (retrieving one outside is a 404).
async fn within(
    app: &App,
    scope: Option<ListScope>,
    table: &str,
    id: &str,
) -> Result<bool, ApiError> {
    let Ok(id) = uuid::Uuid::parse_str(id).map(PulpId) else {
        return Ok(false);
    };
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add("m.pulp_id = ?", [SqlValue::Id(Some(id))]);
    scope_list(scope.as_ref(), &mut filter, "m.pulp_id");
    let sql = format!("SELECT COUNT(*) FROM {table} m {}", filter.sql());
    let n: i64 = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_scalar(&sql), filter.values()).fetch_one(pool).await?
    });
    Ok(n > 0)
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
        let content = app.detail_types().iter().any(|d| {
            d.master_table == "core_content"
                && format!("{}/{}", d.kind_endpoint, d.endpoint) == viewset
        });
        let visible = if content {
            within(
                app,
                Some(visible_content(app, user).await?),
                "core_content",
                object,
            )
            .await?
        } else if viewset == "task-groups" {
            let scope = list_scope(app, user, &viewset).await?.flatten();
            within(app, scope, "core_taskgroup", object).await?
        } else {
            has_perm(db, user, view, Level::GlobalOrObject(object)).await?
        };
        if action != "list" && action != "create" && !visible {
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
        return Ok(match list_scope(app, user, &viewset).await? {
            Some(Some(scope)) => Authorized::Scoped(scope),
            Some(None) => Authorized::Yes,
            None => Authorized::EmptyList,
        });
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
    fn scopes_compose_with_their_values_in_order() {
        let user = PulpId::new();
        let held = ListScope::held(
            Backend::Postgres,
            Key::Uuid,
            user,
            "file.view_filerepository",
        );
        let mut filter = SqlWhere::new(Backend::Postgres);
        held.apply(&mut filter, "m.pulp_id");
        assert!(filter
            .sql()
            .contains("ur.object_id = CAST(m.pulp_id AS TEXT)"));
        assert_eq!(filter.len(), 6);
        let text = ListScope::held(Backend::Postgres, Key::Text, user, "core.view_group");
        assert!(text.clause.contains("ur.object_id = {id}"));
        let through = ListScope::through("task_group", "core_task", "s.x AND ", "s.pulp_id", held);
        let mut filter = SqlWhere::new(Backend::Sqlite);
        filter.add("m.name = ?", [SqlValue::Text(Some("a".into()))]);
        through.apply(&mut filter, "m.pulp_id");
        assert!(filter
            .sql()
            .contains("m.pulp_id IN (SELECT s.task_group FROM core_task s WHERE s.x AND (EXISTS"));
        assert_eq!(filter.len(), 7);
        assert_eq!(filter.values()[0], SqlValue::Text(Some("a".into())));
        assert_eq!(filter.values()[1], SqlValue::Id(Some(user)));
    }
}
