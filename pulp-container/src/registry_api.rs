//! The registry API (Docker Registry HTTP API V2 / OCI distribution spec, pull side) on the
//! API listener: `/v2/`, `/v2/_catalog`, `/v2/<name>/tags/list`, `/v2/<name>/manifests/<ref>`
//! and `/v2/<name>/blobs/<digest>` (GET and HEAD), and the token endpoint `/token/`.
//!
//! `<name>` is a container distribution's `base_path`; it serves its repository's latest
//! version (or its `repository_version`). Public distributions are readable by anyone;
//! private ones need a user: a Bearer token from `/token/` (asked for with Basic
//! credentials, as registry clients do after the `WWW-Authenticate: Bearer realm=…`
//! challenge) or Basic credentials directly. Blobs are redirected to the content app when
//! the settings name its origin (public distributions), otherwise served from storage.

use std::path::PathBuf;

use pulp_plugin_api::auth::Users;
use pulp_plugin_api::deps::axum::body::Body;
use pulp_plugin_api::deps::axum::extract::{Path, RawQuery, State};
use pulp_plugin_api::deps::axum::http::{HeaderMap, Method, StatusCode};
use pulp_plugin_api::deps::axum::response::{IntoResponse, Response};
use pulp_plugin_api::deps::axum::routing::get;
use pulp_plugin_api::deps::axum::Router;
use pulp_plugin_api::deps::serde_json::{self, json, Value};
use pulp_plugin_api::deps::{sqlx, url};
use pulp_plugin_api::models::{self, get_many_of_type, Detail};
use pulp_plugin_api::repository::{get_version_by_id, latest_version, RepositoryVersion};
use pulp_plugin_api::{on_pool, App, PulpId};

use crate::{media, ContainerDistribution, Manifest};

/// The header every registry answer carries.
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");
/// How long a token from `/token/` is valid, in seconds.
const TOKEN_SECONDS: u64 = 300;
/// Most tags or repositories one page lists.
const MAX_PAGE: usize = 10_000;

/// The routes, mounted on the API listener (see `Registry::api_listener_routes`).
pub fn routes(app: App) -> Router {
    Router::new()
        .route("/v2/", get(root))
        .route("/v2", get(root))
        .route("/v2/_catalog", get(catalog))
        .route("/v2/{*rest}", get(dispatch).head(dispatch))
        .route("/token/", get(token))
        .route("/token", get(token))
        .with_state(app)
}

/// A registry error: status, code and message, as the distribution spec shapes them.
#[derive(Debug)]
struct RegistryError {
    status: StatusCode,
    code: &'static str,
    message: String,
    challenge: Option<String>,
}

impl RegistryError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", e.to_string())
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let body = json!({"errors": [{"code": self.code, "message": self.message, "detail": {}}]});
        let mut response = (
            self.status,
            [API_VERSION, ("content-type", "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(challenge) = self.challenge.and_then(|c| c.parse().ok()) {
            response.headers_mut().insert("www-authenticate", challenge);
        }
        response
    }
}

type Answer = Result<Response, RegistryError>;

fn db_error(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::internal(e)
}

/// Who asks: a user, or nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Anonymous,
    User(String),
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = header(headers, "authorization")?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn unauthorized(message: &str) -> RegistryError {
    RegistryError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
}

/// The signing key of tokens: 32 random bytes kept in the data directory (shared by every
/// process of one installation).
fn token_key(app: &App) -> Result<ring::hmac::Key, RegistryError> {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    if let Some(key) = KEY.get() {
        return Ok(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key));
    }
    let path: PathBuf = app.settings().data_dir.join("container-token.key");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => bytes,
        _ => {
            let mut bytes = vec![0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
                .map_err(|_| RegistryError::internal("no randomness for the token key"))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(RegistryError::internal)?;
            }
            // Another process may have written one first: theirs wins.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    std::io::Write::write_all(&mut file, &bytes)
                        .map_err(RegistryError::internal)?;
                    bytes
                }
                Err(_) => std::fs::read(&path).map_err(RegistryError::internal)?,
            }
        }
    };
    let key = KEY.get_or_init(|| bytes);
    Ok(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A token naming `user` (empty: anonymous) until `expires`.
fn issue(app: &App, user: &str, expires: u64) -> Result<String, RegistryError> {
    use base64::Engine;
    let payload = json!({"sub": user, "exp": expires}).to_string();
    let signature = ring::hmac::sign(&token_key(app)?, payload.as_bytes());
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Ok(format!(
        "{}.{}",
        engine.encode(payload),
        engine.encode(signature.as_ref())
    ))
}

/// The user a token names, if it is ours, intact and not expired.
fn verify(app: &App, token: &str) -> Result<Option<Who>, RegistryError> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some((payload, signature)) = token.split_once('.') else {
        return Ok(None);
    };
    let (Ok(payload), Ok(signature)) = (engine.decode(payload), engine.decode(signature)) else {
        return Ok(None);
    };
    if ring::hmac::verify(&token_key(app)?, &payload, &signature).is_err() {
        return Ok(None);
    }
    let Ok(claims) = serde_json::from_slice::<Value>(&payload) else {
        return Ok(None);
    };
    if claims["exp"].as_u64().unwrap_or(0) < now() {
        return Ok(None);
    }
    Ok(Some(match claims["sub"].as_str() {
        Some("") | None => Who::Anonymous,
        Some(user) => Who::User(user.to_string()),
    }))
}

async fn who(app: &App, headers: &HeaderMap) -> Result<Who, RegistryError> {
    let Some(value) = header(headers, "authorization") else {
        return Ok(Who::Anonymous);
    };
    if let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        return verify(app, token.trim())?
            .ok_or_else(|| unauthorized("the token is not valid or has expired"));
    }
    match basic(headers) {
        Some((user, password)) => {
            let ok = Users::new(app.db())
                .verify(&user, &password)
                .await
                .map_err(RegistryError::internal)?;
            if ok {
                Ok(Who::User(user))
            } else {
                Err(unauthorized("invalid username or password"))
            }
        }
        None => Err(unauthorized("unsupported authorization")),
    }
}

/// `https://host` of the request (for the token realm).
fn origin(headers: &HeaderMap) -> String {
    let host = header(headers, "host").unwrap_or("localhost");
    let scheme = header(headers, "x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The 401 asking for a token for `scope`.
fn challenge(headers: &HeaderMap, scope: Option<&str>) -> RegistryError {
    let host = header(headers, "host").unwrap_or("localhost");
    let mut value = format!(
        "Bearer realm=\"{}/token/\",service=\"{host}\"",
        origin(headers)
    );
    if let Some(scope) = scope {
        value.push_str(&format!(",scope=\"{scope}\""));
    }
    let mut error = unauthorized("authentication required");
    error.challenge = Some(value);
    error
}

fn with_api_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION.0, API_VERSION.1.parse().expect("static header"));
    response
}

/// `GET /v2/`: 200 to users; 401 with the Bearer challenge to anonymous requests, which is
/// how clients learn where tokens come from (they then ask `/token/`, anonymously for
/// public distributions).
async fn root(State(app): State<App>, headers: HeaderMap) -> Answer {
    if who(&app, &headers).await? == Who::Anonymous {
        return Err(challenge(&headers, None));
    }
    Ok(with_api_version(
        ([("content-type", "application/json")], "{}").into_response(),
    ))
}

/// `GET /token/?service=…&scope=…`: a token for the user of the Basic credentials, or an
/// anonymous one.
async fn token(State(app): State<App>, headers: HeaderMap) -> Answer {
    let user = match who(&app, &headers).await? {
        Who::Anonymous => String::new(),
        Who::User(user) => user,
    };
    let issued = now();
    let token = issue(&app, &user, issued + TOKEN_SECONDS)?;
    let body = json!({
        "token": token,
        "access_token": token,
        "expires_in": TOKEN_SECONDS,
        "issued_at": pulp_plugin_api::deps::chrono::Utc::now().to_rfc3339(),
    });
    Ok(([("content-type", "application/json")], body.to_string()).into_response())
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `n` and `last` of a listing.
fn paging(raw: Option<&str>) -> Result<(usize, Option<String>), RegistryError> {
    let pairs = query_pairs(raw);
    let n = match pairs.iter().find(|(k, _)| k == "n") {
        Some((_, v)) => v
            .parse::<usize>()
            .map_err(|_| {
                RegistryError::new(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    format!("n={v} is not a number"),
                )
            })?
            .min(MAX_PAGE),
        None => MAX_PAGE,
    };
    let last = pairs.into_iter().find(|(k, _)| k == "last").map(|(_, v)| v);
    Ok((n, last))
}

fn link(path: &str, n: usize, last: &str) -> String {
    let last: String = url::form_urlencoded::byte_serialize(last.as_bytes()).collect();
    format!("<{path}?n={n}&last={last}>; rel=\"next\"")
}

async fn catalog(State(app): State<App>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let who = who(&app, &headers).await?;
    let (n, last) = paging(raw.as_deref())?;
    let signed_in = who != Who::Anonymous;
    let sql = "SELECT d.base_path FROM core_distribution d \
         JOIN container_containerdistribution c ON c.pulp_id = d.pulp_id \
         WHERE d.pulp_type = $1 AND (c.private = $2 OR $3) AND d.base_path > $4 \
         ORDER BY d.base_path LIMIT $5";
    let limit = i64::try_from(n + 1).unwrap_or(i64::MAX);
    let mut names: Vec<String> = on_pool!(app.db(), pool => {
        sqlx::query_scalar(sql)
            .bind(ContainerDistribution::PULP_TYPE)
            .bind(false)
            .bind(signed_in)
            .bind(last.unwrap_or_default())
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(db_error)?
    });
    let more = names.len() > n;
    names.truncate(n);
    let mut response = axum_json(json!({"repositories": names})).into_response();
    if more {
        if let Some(last) = names.last() {
            if let Ok(value) = link("/v2/_catalog", n, last).parse() {
                response.headers_mut().insert("link", value);
            }
        }
    }
    Ok(with_api_version(response))
}

fn axum_json(value: Value) -> Response {
    ([("content-type", "application/json")], value.to_string()).into_response()
}

/// A distribution the request may read, and the version it serves.
struct Served {
    version: Option<RepositoryVersion>,
    private: bool,
}

async fn served(app: &App, headers: &HeaderMap, name: &str) -> Result<Served, RegistryError> {
    let unknown = || {
        RegistryError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("repository name not known to registry: {name}"),
        )
    };
    if name.is_empty() || name.split('/').any(str::is_empty) {
        return Err(unknown());
    }
    let sql = "SELECT pulp_id FROM core_distribution WHERE base_path = $1 AND pulp_type = $2";
    let id: Option<PulpId> = on_pool!(app.db(), pool => {
        sqlx::query_scalar(sql)
            .bind(name)
            .bind(ContainerDistribution::PULP_TYPE)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?
    });
    let scope = format!("repository:{name}:pull");
    let who = who(app, headers).await?;
    let Some(id) = id else {
        // Anonymous users learn nothing of what exists: they are asked to sign in.
        return Err(if who == Who::Anonymous {
            challenge(headers, Some(&scope))
        } else {
            unknown()
        });
    };
    let distribution = models::get::<ContainerDistribution>(app.db(), id)
        .await
        .map_err(db_error)?;
    if distribution.private && who == Who::Anonymous {
        return Err(challenge(headers, Some(&scope)));
    }
    let fields = distribution.fields();
    let version = match (fields.repository_version_id, fields.repository_id) {
        (Some(version), _) => Some(
            get_version_by_id(app.db(), version)
                .await
                .map_err(db_error)?,
        ),
        (None, Some(repository)) => latest_version(app.db(), repository).await.ok(),
        (None, None) => None,
    };
    Ok(Served {
        version,
        private: distribution.private,
    })
}

/// `…/tags/list`, `…/manifests/<reference>`, `…/blobs/<digest>`.
async fn dispatch(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    Path(rest): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer = if let Some(name) = rest.strip_suffix("/tags/list") {
        tags_list(&app, &headers, name, raw.as_deref()).await
    } else if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        manifest(&app, &headers, name, reference).await
    } else if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        blob(&app, &headers, &method, name, digest).await
    } else {
        Err(RegistryError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("no such registry path: /v2/{rest}"),
        ))
    };
    match answer {
        Ok(response) => with_api_version(response),
        Err(e) => e.into_response(),
    }
}

/// The units of a version, as SQL: `rc` rows of the repository's version `$1`/`$2`.
const IN_VERSION: &str = "rc.repository_id = $1 AND rc.version_added <= $2 \
     AND (rc.version_removed IS NULL OR rc.version_removed > $2)";

async fn tags_list(app: &App, headers: &HeaderMap, name: &str, raw: Option<&str>) -> Answer {
    let served = served(app, headers, name).await?;
    let (n, last) = paging(raw)?;
    let mut tags: Vec<String> = match &served.version {
        None => Vec::new(),
        Some(version) => {
            let sql = format!(
                "SELECT t.name FROM core_repositorycontent rc JOIN container_tag t ON t.pulp_id = rc.content_id \
                 WHERE {IN_VERSION} AND t.name > $3 ORDER BY t.name LIMIT $4"
            );
            let limit = i64::try_from(n + 1).unwrap_or(i64::MAX);
            on_pool!(app.db(), pool => {
                sqlx::query_scalar(&sql)
                    .bind(version.repository_id)
                    .bind(version.number)
                    .bind(last.unwrap_or_default())
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                    .map_err(db_error)?
            })
        }
    };
    let more = tags.len() > n;
    tags.truncate(n);
    let mut response = axum_json(json!({"name": name, "tags": tags}));
    if more {
        if let Some(last) = tags.last() {
            if let Ok(value) = link(&format!("/v2/{name}/tags/list"), n, last).parse() {
                response.headers_mut().insert("link", value);
            }
        }
    }
    Ok(response)
}

/// Every media type the request's `Accept` lines name (clients send several lines).
fn accepted(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

async fn manifest(app: &App, headers: &HeaderMap, name: &str, reference: &str) -> Answer {
    let served = served(app, headers, name).await?;
    let unknown = || {
        RegistryError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            format!("manifest unknown: {reference}"),
        )
    };
    let version = served.version.ok_or_else(unknown)?;
    let by_digest = reference.starts_with("sha256:");
    if !by_digest && !media::is_tag_name(reference) {
        return Err(RegistryError::new(
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
            format!("'{reference}' is neither a tag nor a digest"),
        ));
    }
    let sql = if by_digest {
        format!(
            "SELECT m.pulp_id FROM core_repositorycontent rc JOIN container_manifest m ON m.pulp_id = rc.content_id \
             WHERE {IN_VERSION} AND m.digest = $3"
        )
    } else {
        format!(
            "SELECT t.tagged_manifest FROM core_repositorycontent rc JOIN container_tag t ON t.pulp_id = rc.content_id \
             WHERE {IN_VERSION} AND t.name = $3"
        )
    };
    let id: Option<PulpId> = on_pool!(app.db(), pool => {
        sqlx::query_scalar(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .bind(reference)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?
    });
    let id = id.ok_or_else(unknown)?;
    let manifest = get_many_of_type::<Manifest>(app.db(), &[id])
        .await
        .map_err(db_error)?
        .into_iter()
        .next()
        .ok_or_else(unknown)?;
    let accepted = accepted(headers);
    let acceptable = accepted.is_empty()
        || accepted
            .iter()
            .any(|t| t == "*/*" || *t == manifest.media_type);
    if !acceptable {
        return Err(RegistryError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            format!(
                "{} found, but the Accept header does not name it",
                manifest.media_type
            ),
        ));
    }
    let detail = manifest.detail;
    Ok((
        [
            ("content-type", detail.media_type.clone()),
            ("docker-content-digest", detail.digest.clone()),
            ("etag", format!("\"{}\"", detail.digest)),
        ],
        Body::from(detail.data.into_bytes()),
    )
        .into_response())
}

async fn blob(app: &App, headers: &HeaderMap, method: &Method, name: &str, digest: &str) -> Answer {
    let served = served(app, headers, name).await?;
    let unknown = || {
        RegistryError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            format!("blob unknown to registry: {digest}"),
        )
    };
    if !media::is_sha256_digest(digest) {
        return Err(RegistryError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("'{digest}' is not a sha256 digest"),
        ));
    }
    let version = served.version.clone().ok_or_else(unknown)?;
    let sql = format!(
        "SELECT b.pulp_id FROM core_repositorycontent rc JOIN container_blob b ON b.pulp_id = rc.content_id \
         WHERE {IN_VERSION} AND b.digest = $3"
    );
    let id: Option<PulpId> = on_pool!(app.db(), pool => {
        sqlx::query_scalar(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .bind(digest)
            .fetch_optional(pool)
            .await
            .map_err(db_error)?
    });
    id.ok_or_else(unknown)?;
    let settings = app.settings();
    // Public blobs go to the content app (which also fetches on_demand ones); private ones
    // are served here, where the user was checked.
    if let (Some(origin), false) = (&settings.content_origin, served.private) {
        let location = format!(
            "{}{}{name}/{digest}",
            origin.trim_end_matches('/'),
            settings.content_path_prefix
        );
        return Ok((
            StatusCode::TEMPORARY_REDIRECT,
            [
                ("location", location),
                ("docker-content-digest", digest.to_string()),
            ],
        )
            .into_response());
    }
    let hex = digest.trim_start_matches("sha256:");
    match app.storage().read_artifact(hex).await {
        Ok(bytes) => {
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(bytes.clone())
            };
            Ok((
                [
                    ("content-type", "application/octet-stream".to_string()),
                    ("docker-content-digest", digest.to_string()),
                    ("content-length", bytes.len().to_string()),
                ],
                body,
            )
                .into_response())
        }
        Err(_) => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accept_line_counts() {
        let mut headers = HeaderMap::new();
        headers.append(
            "accept",
            "application/vnd.oci.image.index.v1+json".parse().unwrap(),
        );
        headers.append(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json; q=0.5, */*;q=0.1"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            accepted(&headers),
            [
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "*/*"
            ]
        );
    }

    #[test]
    fn the_next_page_link_escapes_the_last_name() {
        assert_eq!(
            link("/v2/a/tags/list", 2, "v1+x"),
            "</v2/a/tags/list?n=2&last=v1%2Bx>; rel=\"next\""
        );
    }
}
