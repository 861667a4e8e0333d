//! The core API routes, the plugins' routes, and the OpenAPI document describing them all.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::openapi::{field_params, ApiDoc, Operation, Response};
use super::routes_doc::ApiRoutes;
use super::{base_url, select_fields, ApiError};
use crate::app::App;
use crate::status::status_report;
use crate::tasking::TaskFunctions;

use crate::wire::API_ROOT;

/// Registers the tasks the REST layer dispatches (`general_create`, …).
pub fn register_tasks(tasks: &mut TaskFunctions) {
    use super::generic as g;
    tasks.register(g::GENERAL_CREATE, g::general_create);
    tasks.register(g::GENERAL_UPDATE, g::general_update);
    tasks.register(g::GENERAL_DELETE, g::general_delete);
    tasks.register(g::ADD_AND_REMOVE, g::add_and_remove);
    tasks.register(g::DELETE_VERSION, g::delete_version_task);
    tasks.register(g::REPAIR_VERSION, g::repair_version_task);
    super::transfer::register_tasks(tasks);
    super::importexport::register_tasks(tasks);
    crate::replication::register_tasks(tasks);
}

/// Every documented route: core's and the plugins'.
pub fn api_routes(app: &App) -> ApiRoutes {
    let mut routes = ApiRoutes::new();
    routes.route(
        &format!("{API_ROOT}/status/"),
        get(status),
        [Operation::new(
            "get",
            &format!("{API_ROOT}/status/"),
            "status_read",
            "Status",
        )
        .summary("Inspect status of Pulp")
        .params(field_params())
        .response(200, Response::Json)
        .anonymous()],
    );
    routes.route(
        &format!("{API_ROOT}/livez/"),
        get(livez),
        [
            Operation::new("get", &format!("{API_ROOT}/livez/"), "livez_read", "Livez")
                .summary("Inspect liveness of Pulp's REST API.")
                .params(field_params())
                .response(200, Response::Empty)
                .anonymous(),
        ],
    );
    super::tasks::mount(&mut routes);
    super::task_schedules::mount(&mut routes);
    super::webhooks::mount(&mut routes);
    super::signing::mount(&mut routes);
    super::access_policies::mount(&mut routes);
    super::rbac::mount(&mut routes, app);
    super::transfer::mount(&mut routes);
    super::importexport::mount(&mut routes);
    super::replication::mount(&mut routes);
    super::labels::mount_schemas(&mut routes);
    super::generic::mount_kind_lists(&mut routes);
    for mounter in app.api_mounters() {
        mounter.mount(&mut routes);
    }
    routes
}

/// The REST API: every route, authenticated, plus the OpenAPI document.
pub fn api_router(app: App) -> Router {
    let routes = api_routes(&app);
    let actions = Arc::new(super::auth::OperationActions::new(&routes, &app));
    let known_filters = Arc::new(super::strict_query::KnownFilters::new(&routes));
    let root_lists = Arc::new(RootLists::new(&routes));
    let (router, doc) = routes.into_parts();
    let doc = Arc::new(doc);
    let docs = Router::new()
        .route(&format!("{API_ROOT}/docs/api.json"), get(api_json))
        .route(&format!("{API_ROOT}/docs/api.yaml"), get(api_yaml))
        .route(&format!("{API_ROOT}/docs/"), get(docs_page))
        // The API root, open to anyone as pulpcore's `PulpAPIRootView`.
        .route(&format!("{API_ROOT}/"), get(api_root))
        .layer(Extension(doc))
        .layer(Extension(root_lists));
    let limit = app.settings().api_max_body_size;
    // Plugins' routes outside the REST API (a registry's `/v2/`): their own authentication.
    let listener = app
        .api_listener_routes()
        .iter()
        .fold(Router::<()>::new(), |r, routes| {
            r.merge(routes(app.clone()))
        });
    router
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        // After authentication (added later, so outside): a list refuses a filter it lacks.
        .route_layer(axum::middleware::from_fn_with_state(
            known_filters,
            super::strict_query::refuse_unknown_filters,
        ))
        // Only matched routes are authenticated: unknown paths answer 404 to anyone.
        .route_layer(axum::middleware::from_fn_with_state(
            super::auth::AuthState {
                app: app.clone(),
                verified: Default::default(),
            },
            super::auth::require_user,
        ))
        .layer(Extension(actions))
        .merge(docs)
        .fallback(not_found)
        .layer(axum::middleware::map_response(pulp_shaped_rejections))
        .layer(axum::middleware::from_fn(no_null_characters))
        .layer(axum::middleware::from_fn(panics_are_internal_errors))
        .with_state(app)
        .merge(listener)
}

/// Refuses query strings holding NUL characters (no database can store them), as Django does.
async fn no_null_characters(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let has_nul = request.uri().query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k.contains('\0') || v.contains('\0'))
    });
    if has_nul {
        return ApiError::BadRequest("Null characters are not allowed.".into()).into_response();
    }
    next.run(request).await
}

/// A handler that panics answers 500 (logged) instead of dropping the connection.
async fn panics_are_internal_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a handler panicked".into());
            ApiError::Internal(message).into_response()
        }
    }
}

/// Answers axum's own rejections (a body over the limit, a wrong content type) in Pulp's
/// `{"detail": …}` shape instead of plain text.
async fn pulp_shaped_rejections(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let detail = match status {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_string(),
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "Unsupported media type in request.".to_string()
        }
        other => other
            .canonical_reason()
            .unwrap_or("The request failed.")
            .to_string(),
    };
    (status, Json(serde_json::json!({ "detail": detail }))).into_response()
}

async fn status(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let report = serde_json::to_value(status_report(&app).await).map_err(ApiError::internal)?;
    Ok(Json(select_fields(report, query.as_deref())))
}

/// The lists directly under the API root (`tasks`, `content/file/files`, …), sorted: what
/// the API root lists, as Django REST framework's root view lists its router's viewsets.
#[derive(Debug)]
struct RootLists(Vec<String>);

impl RootLists {
    fn new(routes: &ApiRoutes) -> Self {
        let mut prefixes: Vec<String> = routes
            .list_params()
            .keys()
            .filter_map(|(_, path)| {
                let prefix = path
                    .strip_prefix(&format!("{API_ROOT}/"))?
                    .strip_suffix('/')?;
                (!prefix.is_empty() && !prefix.contains('{')).then(|| prefix.to_string())
            })
            .collect();
        prefixes.sort();
        prefixes.dedup();
        Self(prefixes)
    }
}

/// `GET /pulp/api/v3/`: `{"<list>": "<its absolute URL>", …}`.
async fn api_root(
    Extension(lists): Extension<Arc<RootLists>>,
    headers: HeaderMap,
) -> Json<serde_json::Value> {
    let base = base_url(&headers);
    Json(serde_json::Value::Object(
        lists
            .0
            .iter()
            .map(|prefix| (prefix.clone(), format!("{base}{API_ROOT}/{prefix}/").into()))
            .collect(),
    ))
}

async fn api_json(
    State(app): State<App>,
    Extension(doc): Extension<Arc<ApiDoc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Json<serde_json::Value> {
    let server = format!("{}/", base_url(&headers));
    // pulpcore's `?pk_path=1` (any value): paths with ids instead of hrefs.
    let pk_path = super::QueryParams::parse(query.as_deref())
        .get("pk_path")
        .is_some();
    Json(doc.document_with(app.component_versions(), &server, pk_path))
}

/// `docs/api.yaml`: the same document; JSON is YAML (1.2), so it is sent as it is, with
/// the OpenAPI media type drf-spectacular gives its YAML.
async fn api_yaml(
    state: State<App>,
    doc: Extension<Arc<ApiDoc>>,
    headers: HeaderMap,
    query: RawQuery,
) -> axum::response::Response {
    let Json(document) = api_json(state, doc, headers, query).await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/vnd.oai.openapi; charset=utf-8",
        )],
        serde_json::to_string_pretty(&document).unwrap_or_default(),
    )
        .into_response()
}

/// `GET /livez/`: 200 while the API answers (no database query, as pulpcore's).
async fn livez() -> axum::http::StatusCode {
    axum::http::StatusCode::OK
}

async fn docs_page(Extension(doc): Extension<Arc<ApiDoc>>) -> Html<String> {
    let mut rows = String::new();
    for op in doc.operations() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
            op.method.to_uppercase(),
            html_escape(&op.path),
            html_escape(&op.operation_id),
            html_escape(&op.summary)
        ));
    }
    Html(format!(
        "<!DOCTYPE html>\n<html><head><title>Pulp 3 API</title></head><body>\
         <h1>Pulp 3 API</h1><p>OpenAPI document: <a href=\"api.json\">api.json</a></p>\
         <table><tr><th>method</th><th>path</th><th>operation id</th><th>summary</th></tr>\n{rows}</table></body></html>\n"
    ))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
