//! The content app: serves distributions under `content_path_prefix` (`/pulp/content/`).
//!
//! A request path below the prefix names a distribution by the longest base path it starts
//! with, then a file of what the distribution serves: its publication (published artifacts
//! and metadata), else the fixed repository version, else the latest version of its
//! repository (content artifacts by relative path). Files come from artifact storage with
//! `ETag`, `Last-Modified`, ranges and conditional requests; content not downloaded yet is
//! fetched from its remote (`on_demand`, kept) or relayed (`streamed`, not kept).
//! Directories get an HTML listing; the prefix itself lists the distributions that are
//! not hidden. See `docs/content-app.md`.

mod base_path;
mod distributions;
mod file_cache;
pub mod guard;
pub mod http;
mod identity;
mod listing;
mod mime;
mod on_demand;
mod outcome;
mod resolve;
mod respond;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;

pub use base_path::{check_base_path, validate_base_path};
pub use distributions::{DistributionCache, ServedDistribution, Source};
pub use guard::{ContentGuardCheck, GuardDenied};
pub use identity::REMOTE_USER_SETTING;
pub use on_demand::OnDemand;
pub use resolve::{ArtifactFile, ListingEntry, Resolved};

use crate::app::App;
use respond::plain;

/// Setting: seconds the content app keeps its snapshot of distributions (default 2).
pub const CACHE_TTL_SETTING: &str = "content_distribution_cache_ttl";
/// Setting: guarded distributions are left out of the content app's listings (Pulp's
/// `HIDE_GUARDED_DISTRIBUTIONS`; default false).
pub const HIDE_GUARDED_SETTING: &str = "hide_guarded_distributions";
/// Default of [`CACHE_TTL_SETTING`].
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(2);

/// Why the content app could not answer (a 500 to the client, logged).
#[derive(Debug, thiserror::Error)]
pub enum ContentAppError {
    /// A database query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Loading a model failed.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
}

impl IntoResponse for ContentAppError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "content app request failed");
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500: Internal Server Error",
        )
    }
}

/// What the content app keeps between requests: the distribution snapshot and the
/// downloads in flight. One per [`ContentApp`] (the app holds none: it is HTTP state).
#[derive(Debug)]
pub struct ContentState {
    prefix: String,
    distributions: DistributionCache,
    files: file_cache::FileCache,
    on_demand: OnDemand,
    /// Who asked recently (for guarded distributions).
    identities: identity::Identities,
    /// Content guards by id, kept as long as the distribution snapshot.
    guards: guard::GuardCache,
    /// The app's [`served_objects_generation`](App::served_objects_generation) the snapshot
    /// was taken at: a change made by this process (through the API) is seen at once.
    generation: std::sync::atomic::AtomicU64,
}

impl ContentState {
    /// State configured by the settings ([`CACHE_TTL_SETTING`]).
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        let ttl = settings
            .extra_value::<f64>(CACHE_TTL_SETTING)
            .ok()
            .flatten()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_CACHE_TTL);
        Self {
            prefix: normalized_prefix(&settings.content_path_prefix),
            distributions: DistributionCache::new(ttl).hiding_guarded(
                settings
                    .extra_value::<bool>(HIDE_GUARDED_SETTING)
                    .ok()
                    .flatten()
                    .unwrap_or(false),
            ),
            files: file_cache::FileCache::new(ttl),
            on_demand: OnDemand::default(),
            identities: identity::Identities::new(settings, ttl),
            guards: guard::GuardCache::new(ttl),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Forgets the snapshot when the app says served objects changed since it was taken.
    fn follow_changes(&self, app: &App) {
        let now = app.served_objects_generation();
        let seen = self
            .generation
            .swap(now, std::sync::atomic::Ordering::AcqRel);
        if seen != now {
            self.invalidate_distributions();
        }
    }

    /// Makes the next request reload distributions (call after creating, changing or
    /// deleting one in this process; other processes see changes after the TTL).
    pub fn invalidate_distributions(&self) {
        self.distributions.invalidate();
        self.files.clear();
        self.guards.clear();
    }

    /// The on-demand downloads.
    pub fn on_demand(&self) -> &OnDemand {
        &self.on_demand
    }
}

/// The content app of one router: the [`App`] and the content app's own [`ContentState`]
/// (made here, not held by the app: the content app is a layer on top of it).
#[derive(Debug, Clone)]
pub struct ContentApp {
    app: App,
    state: std::sync::Arc<ContentState>,
}

impl ContentApp {
    /// A content app of `app`, configured by its settings.
    pub fn new(app: App) -> Self {
        let state = std::sync::Arc::new(ContentState::from_settings(app.settings()));
        Self { app, state }
    }

    /// The state it keeps between requests.
    pub fn content_state(&self) -> &ContentState {
        &self.state
    }

    /// Its routes: the plugins' (see
    /// [`Registry::content_routes`](crate::plugin::Registry::content_routes)) first, then
    /// distributions for every other path.
    pub fn router(&self) -> Router {
        let mut router = Router::new().fallback(handle).with_state(self.clone());
        for routes in self.app.content_routes() {
            router = router.merge(routes(self.app.clone()));
        }
        router
    }
}

/// Handlers reach the app's settings, database and storage through the content app.
impl std::ops::Deref for ContentApp {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

/// The content app's routes (see [`ContentApp::router`]), with a state of their own.
pub fn content_router(app: App) -> Router {
    ContentApp::new(app).router()
}

/// The configured prefix, with exactly one leading and one trailing `/`.
fn normalized_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        format!("/{trimmed}/")
    }
}

async fn handle(State(app): State<ContentApp>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let head = parts.method == Method::HEAD;
    if !head && parts.method != Method::GET {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "405: Method Not Allowed\n",
        )
            .into_response();
    }
    let response = match route(&app, &parts, head).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    outcome::record(&response);
    response
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "404: Not Found")
}

/// 301 to the same path with a `/` added (query kept).
fn redirect_to_directory(parts: &Parts) -> Response {
    let mut location = format!("{}/", parts.uri.path());
    if let Some(query) = parts.uri.query() {
        location.push('?');
        location.push_str(query);
    }
    match HeaderValue::from_str(&location) {
        Ok(location) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
            Body::empty(),
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

fn html(page: String) -> Response {
    Html(page).into_response()
}

async fn route(app: &ContentApp, parts: &Parts, head: bool) -> Result<Response, ContentAppError> {
    let Ok(path) = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8() else {
        return Ok(not_found());
    };
    app.content_state().follow_changes(app);
    let prefix = &app.content_state().prefix;
    if path.len() + 1 == prefix.len() && prefix.starts_with(path.as_ref()) {
        return Ok(redirect_to_directory(parts));
    }
    let Some(rest) = path.strip_prefix(prefix.as_str()) else {
        return Ok(not_found());
    };
    let state = app.content_state();
    let db = app.db();
    if rest.is_empty() || rest.ends_with('/') {
        // A listing of base paths below `rest`, unless a distribution serves it.
        if let Some(response) = serve_path(app, parts, head, rest).await? {
            return Ok(response);
        }
        let entries = base_path_entries(&state.distributions.visible_under(db, rest).await?, rest);
        if entries.is_empty() && !rest.is_empty() {
            return Ok(not_found());
        }
        return Ok(html(listing::render(&path, &entries, !rest.is_empty())));
    }
    if let Some(response) = serve_path(app, parts, head, rest).await? {
        return Ok(response);
    }
    let below = format!("{rest}/");
    if !state
        .distributions
        .visible_under(db, &below)
        .await?
        .is_empty()
    {
        return Ok(redirect_to_directory(parts));
    }
    Ok(not_found())
}

/// Immediate children of `dir` among `base_paths` (as directory entries).
fn base_path_entries(base_paths: &[String], dir: &str) -> Vec<ListingEntry> {
    let mut names: Vec<String> = base_paths
        .iter()
        .filter_map(|p| p.strip_prefix(dir))
        .filter_map(|rest| rest.split('/').next())
        .filter(|name| !name.is_empty())
        .map(|name| format!("{name}/"))
        .collect();
    names.dedup();
    names
        .into_iter()
        .map(|name| ListingEntry {
            name,
            size: None,
            date: None,
        })
        .collect()
}

/// The answer of the distribution serving `rest`, `None` when no distribution does.
async fn serve_path(
    app: &ContentApp,
    parts: &Parts,
    head: bool,
    rest: &str,
) -> Result<Option<Response>, ContentAppError> {
    let db = app.db();
    let Some((dist, relative)) = app.content_state().distributions.find(db, rest).await? else {
        return Ok(None);
    };
    let Some(relative) = relative else {
        return Ok(Some(redirect_to_directory(parts)));
    };
    if let Some(denied) = guard_denies(app, parts, &dist).await? {
        return Ok(Some(denied));
    }
    let source = if app.serves_from_publication(&dist.pulp_type) {
        resolve::publication_source(db, &dist.source).await?
    } else {
        dist.source.clone()
    };
    if source == Source::Nothing {
        return Ok(Some(not_found()));
    }
    let name = relative.rsplit('/').next().unwrap_or("");
    if relative.is_empty() || relative.ends_with('/') {
        if matches!(
            source,
            Source::Publication {
                pass_through: false,
                ..
            }
        ) {
            let index = format!("{relative}index.html");
            if let Some(Resolved::Artifact(file)) =
                resolve::resolve_file(db, &source, &index).await?
            {
                let prepared = respond::Prepared::new(file, "index.html", None);
                return Ok(Some(
                    respond::serve_artifact(app, head, &parts.headers, &prepared).await,
                ));
            }
        }
        return Ok(Some(
            match resolve::list_directory(db, &source, &relative).await? {
                Some(entries) => {
                    let path = percent_encoding::percent_decode_str(parts.uri.path())
                        .decode_utf8_lossy()
                        .to_string();
                    html(listing::render(&path, &entries, true))
                }
                None => not_found(),
            },
        ));
    }
    let extra = app.content_headers_for(&dist.pulp_type, &relative);
    let files = &app.content_state().files;
    if let Some(hit) = files.get(dist.pulp_id, &relative) {
        let response = respond::serve_artifact(app, head, &parts.headers, &hit).await;
        return Ok(Some(with_headers(
            outcome::mark(response, "stored"),
            &extra,
        )));
    }
    let response = match resolve::resolve_file(db, &source, &relative).await? {
        Some(Resolved::Artifact(file)) => {
            let mut bytes = None;
            if files.enabled() && file.size <= file_cache::CACHED_BYTES_LIMIT {
                bytes = respond::read_small(app, &file).await.ok();
            }
            let prepared = std::sync::Arc::new(respond::Prepared::new(file, name, bytes));
            if files.enabled() {
                files.put(dist.pulp_id, &relative, prepared.clone());
            }
            let response = respond::serve_artifact(app, head, &parts.headers, &prepared).await;
            outcome::mark(response, "stored")
        }
        Some(Resolved::Remote {
            content_artifact_id,
        }) => {
            app.content_state()
                .on_demand
                .serve(app, head, content_artifact_id, name)
                .await
        }
        None => {
            if resolve::is_directory(db, &source, &format!("{relative}/")).await? {
                redirect_to_directory(parts)
            } else {
                not_found()
            }
        }
    };
    Ok(Some(with_headers(response, &extra)))
}

/// `response` with the distribution type's extra headers, when it serves the file.
fn with_headers(mut response: Response, extra: &[(String, String)]) -> Response {
    if !response.status().is_success() {
        return response;
    }
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// 403 when the distribution's content guard refuses the request (checked before anything
/// is read or redirected to). The guard sees who is asking (see [`identity`]).
async fn guard_denies(
    app: &ContentApp,
    parts: &Parts,
    dist: &ServedDistribution,
) -> Result<Option<Response>, ContentAppError> {
    let Some(guard_id) = dist.content_guard_id else {
        return Ok(None);
    };
    let state = app.content_state();
    let Some(guard) = state.guards.get(app.db(), guard_id).await? else {
        return Ok(None);
    };
    let mut head = parts.clone();
    if let Some(who) = state.identities.of(app, parts).await? {
        head.extensions.insert(who);
    }
    Ok(
        match crate::content_guard::evaluate(app, &head, &guard).await {
            Ok(()) => None,
            Err(denied) => Some(plain(StatusCode::FORBIDDEN, format!("403: {denied}"))),
        },
    )
}
