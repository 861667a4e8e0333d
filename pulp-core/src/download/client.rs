//! [`Downloader`]: the HTTP client of one remote, with its limits and retries.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Semaphore;

use super::fetch::{fetch_once, DownloadedFile};
use super::limits::RateLimiter;
use super::{DownloadError, DownloadResponse};
use crate::models::RemoteFields;
use crate::storage::ExpectedArtifact;

/// Concurrent downloads of a remote that does not set `download_concurrency` (Pulp's 10).
pub const DEFAULT_DOWNLOAD_CONCURRENCY: usize = 10;
/// Retries of a remote that does not set `max_retries` (Pulp's 3).
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// First backoff delay; doubled on each retry.
const BACKOFF_START: Duration = Duration::from_millis(200);
/// Longest backoff delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The operating system's trusted certificates, read once per process: reading and parsing
/// the system bundle took ≈ 7 ms of every client built (one per remote in a sync, and per
/// remote on a content app's first on-demand fetch). Certificates that do not parse are
/// skipped, as reqwest skips them when it loads the bundle itself.
fn native_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: std::sync::OnceLock<Vec<reqwest::Certificate>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
            .collect()
    })
}

/// A client builder trusting the system's certificates ([`native_roots`]): what every
/// downloader starts from.
fn builder_with_native_roots() -> reqwest::ClientBuilder {
    native_roots().iter().fold(
        reqwest::Client::builder().tls_built_in_native_certs(false),
        |builder, cert| builder.add_root_certificate(cert.clone()),
    )
}

/// Prepares, on a thread of its own that nothing waits for, what the first client of a
/// process otherwise builds on the critical path of the first sync (or first on-demand
/// fetch): the system's certificates and the TLS library's process-wide state, ≈ 30 ms
/// together. Processes that download (workers, content apps) call it once at start; without
/// it nothing is different but the first client's wait.
pub fn warm_up() {
    std::thread::spawn(|| {
        if let Err(e) = builder_with_native_roots().build() {
            tracing::debug!(error = %e, "warming up the HTTP client failed");
        }
    });
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    concurrency: Arc<Semaphore>,
    rate: Option<RateLimiter>,
    max_retries: u32,
    auth: Option<(String, String)>,
    /// The last Bearer token a registry's challenge was answered with (see
    /// [`Downloader::open_with`]); sent on the next requests instead of Basic credentials.
    bearer: std::sync::Mutex<Option<String>>,
}

/// The downloader of one remote; cheap to clone (the client, the concurrency semaphore and
/// the rate limiter are shared by the clones).
#[derive(Debug, Clone)]
pub struct Downloader {
    inner: Arc<Inner>,
}

fn seconds(field: &str, value: Option<f64>) -> Result<Option<Duration>, DownloadError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(DownloadError::InvalidRemote(format!(
            "{field} {v} is not a number of seconds"
        ))),
    }
}

fn invalid(what: &str) -> impl Fn(reqwest::Error) -> DownloadError + '_ {
    move |e| DownloadError::InvalidRemote(format!("{what}: {e}"))
}

/// The remote's `headers` (`[{"name": "value"}, …]`).
fn headers(remote: &RemoteFields) -> Result<HeaderMap, DownloadError> {
    let mut map = HeaderMap::new();
    for entry in &remote.headers {
        let serde_json::Value::Object(pairs) = entry else {
            return Err(DownloadError::InvalidRemote(format!(
                "header {entry} is not an object {{\"name\": \"value\"}}"
            )));
        };
        for (name, value) in pairs {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| DownloadError::InvalidRemote(format!("bad header name '{name}'")))?;
            let value = HeaderValue::from_str(&value).map_err(|_| {
                DownloadError::InvalidRemote(format!("bad value for header '{name}'"))
            })?;
            map.append(name, value);
        }
    }
    Ok(map)
}

/// The `CERTIFICATE` PEM blocks of `text`, without what surrounds them (the human-readable
/// dump `openssl x509 -text` puts before a block, which pulpcore accepts too).
fn certificate_blocks(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(length) = rest[start..].find(END) else {
            break;
        };
        out.push_str(&rest[start..start + length + END.len()]);
        out.push('\n');
        rest = &rest[start + length + END.len()..];
    }
    out
}

impl Downloader {
    /// The downloader of `remote`: proxy (with `proxy_username`/`proxy_password`), basic
    /// auth (`username`/`password`), client certificate and key, CA bundle,
    /// `tls_validation`, extra `headers`, `connect_timeout` (or `sock_connect_timeout`),
    /// `sock_read_timeout`, `total_timeout`, `download_concurrency`, `rate_limit`,
    /// `max_retries`.
    pub fn for_remote(remote: &RemoteFields) -> Result<Self, DownloadError> {
        let mut builder = builder_with_native_roots()
            .default_headers(headers(remote)?)
            .user_agent(concat!("pulp-rs/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(!remote.tls_validation);
        let connect = seconds("connect_timeout", remote.connect_timeout)?.or(seconds(
            "sock_connect_timeout",
            remote.sock_connect_timeout,
        )?);
        if let Some(t) = connect {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = seconds("sock_read_timeout", remote.sock_read_timeout)? {
            builder = builder.read_timeout(t);
        }
        if let Some(t) = seconds("total_timeout", remote.total_timeout)? {
            builder = builder.timeout(t);
        }
        if let Some(proxy_url) = &remote.proxy_url {
            let mut proxy = reqwest::Proxy::all(proxy_url).map_err(invalid("proxy_url"))?;
            if let (Some(user), Some(password)) = (&remote.proxy_username, &remote.proxy_password) {
                proxy = proxy.basic_auth(user, password);
            }
            builder = builder.proxy(proxy);
        }
        if let Some(ca) = &remote.ca_cert {
            let blocks = certificate_blocks(ca);
            if blocks.is_empty() {
                return Err(DownloadError::InvalidRemote(
                    "ca_cert: no PEM certificate found".into(),
                ));
            }
            for cert in reqwest::Certificate::from_pem_bundle(blocks.as_bytes())
                .map_err(invalid("ca_cert"))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        match (&remote.client_cert, &remote.client_key) {
            (Some(cert), Some(key)) => {
                let pem = format!("{cert}\n{key}");
                let identity = reqwest::Identity::from_pem(pem.as_bytes())
                    .map_err(invalid("client_cert/client_key"))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(DownloadError::InvalidRemote(
                    "client_cert and client_key must be given together".into(),
                ))
            }
        }
        let client = builder.build().map_err(invalid("client"))?;
        let concurrency = remote
            .download_concurrency
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_DOWNLOAD_CONCURRENCY);
        let max_retries = remote
            .max_retries
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_RETRIES);
        let auth = match (&remote.username, &remote.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                concurrency: Arc::new(Semaphore::new(concurrency)),
                rate: RateLimiter::new(remote.rate_limit),
                max_retries,
                auth,
                bearer: std::sync::Mutex::new(None),
            }),
        })
    }

    /// How many retries a failed download gets.
    pub fn max_retries(&self) -> u32 {
        self.inner.max_retries
    }

    /// GETs `url`, retrying (with exponential backoff) connection errors, timeouts, 429 and
    /// 5xx until response headers arrive; then the body streams (no retry mid-body). The
    /// response holds one of the remote's `download_concurrency` slots until it is dropped.
    pub async fn open(&self, url: &str) -> Result<DownloadResponse, DownloadError> {
        self.retrying(|| self.open_once(url)).await
    }

    /// Downloads `url` into a new temporary file under `dir`, validating size and every
    /// expected digest while it streams; the whole download is retried on retryable errors.
    /// The file is removed on failure; on success the caller owns it (ingest it, then remove
    /// it).
    pub async fn fetch(
        &self,
        url: &str,
        expected: &ExpectedArtifact,
        dir: &Path,
    ) -> Result<DownloadedFile, DownloadError> {
        if let Some(path) = super::fetch::local_path(url) {
            // `file://` (pulpcore's FileDownloader): read locally, nothing to retry.
            return super::fetch::fetch_local(url, &path, expected, dir).await;
        }
        self.retrying(|| async {
            let response = self.open_once(url).await?;
            fetch_once(response, expected, dir).await
        })
        .await
    }

    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, DownloadError>>,
    {
        let mut delay = BACKOFF_START;
        let mut tries = 0;
        loop {
            match attempt().await {
                Err(e) if e.is_retryable() && tries < self.inner.max_retries => {
                    tries += 1;
                    tracing::debug!(error = %e, tries, "download failed; retrying");
                    metrics::counter!(crate::observe::names::DOWNLOAD_RETRIES).increment(1);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
                Err(e) => {
                    metrics::counter!(crate::observe::names::DOWNLOAD_FAILURES, "reason" => e.reason())
                        .increment(1);
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    /// Like [`Downloader::open`], with `method` (`GET` or `HEAD`) and extra request headers
    /// (container registries need `Accept` lines naming the manifest types a client takes).
    /// A `HEAD` response has an empty body; its headers are what a caller reads.
    pub async fn open_with(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<DownloadResponse, DownloadError> {
        self.retrying(|| self.request_once(method, url, headers))
            .await
    }

    async fn open_once(&self, url: &str) -> Result<DownloadResponse, DownloadError> {
        self.request_once("GET", url, &[]).await
    }

    /// Answers a registry's `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`
    /// challenge (the Docker registry token protocol, which OCI registries share): GETs the
    /// realm with `service` and `scope`, with the remote's Basic credentials if it has some,
    /// and keeps the token of the JSON answer (`token` or `access_token`). `None` when the
    /// challenge is not a Bearer one.
    async fn answer_challenge(
        &self,
        url: &str,
        challenge: &str,
    ) -> Result<Option<String>, DownloadError> {
        let Some(params) = challenge
            .trim()
            .strip_prefix("Bearer ")
            .or_else(|| challenge.trim().strip_prefix("bearer "))
        else {
            return Ok(None);
        };
        let params = parse_challenge(params);
        let Some(realm) = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v) else {
            return Ok(None);
        };
        let mut realm_url = url::Url::parse(realm)
            .map_err(|_| DownloadError::InvalidUrl(format!("token realm {realm} of {url}")))?;
        for (key, value) in params
            .iter()
            .filter(|(k, _)| k == "service" || k == "scope")
        {
            realm_url.query_pairs_mut().append_pair(key, value);
        }
        let mut request = self.inner.client.get(realm_url.clone());
        if let Some((user, password)) = &self.inner.auth {
            request = request.basic_auth(user, Some(password));
        }
        let token_url = realm_url.to_string();
        let response = request
            .send()
            .await
            .map_err(|e| DownloadError::from_reqwest(&token_url, &e))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(DownloadError::Http {
                url: token_url,
                status,
            });
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| DownloadError::from_reqwest(&token_url, &e))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| DownloadError::Http {
                url: format!("{token_url} (no token in the answer)"),
                status,
            })?;
        Ok(Some(token.to_string()))
    }

    async fn request_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<DownloadResponse, DownloadError> {
        let parsed = url::Url::parse(url).map_err(|_| DownloadError::InvalidUrl(url.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DownloadError::InvalidUrl(url.into()));
        }
        let permit = self
            .inner
            .concurrency
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| DownloadError::InvalidRemote("downloader closed".into()))?;
        if let Some(rate) = &self.inner.rate {
            rate.acquire().await;
        }
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| DownloadError::InvalidUrl(format!("{method} {url}")))?;
        let build = |bearer: Option<&str>| {
            let mut request = self.inner.client.request(method.clone(), parsed.clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            match (bearer, &self.inner.auth) {
                (Some(token), _) => request.bearer_auth(token),
                (None, Some((user, password))) => request.basic_auth(user, Some(password)),
                (None, None) => request,
            }
        };
        let cached = self.inner.bearer.lock().ok().and_then(|t| t.clone());
        let mut response = build(cached.as_deref())
            .send()
            .await
            .map_err(|e| DownloadError::from_reqwest(url, &e))?;
        // A registry asking for a Bearer token: answer its challenge once, then retry.
        if response.status().as_u16() == 401 {
            let challenge = response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if let Some(challenge) = challenge {
                if let Some(token) = self.answer_challenge(url, &challenge).await? {
                    if let Ok(mut slot) = self.inner.bearer.lock() {
                        *slot = Some(token.clone());
                    }
                    response = build(Some(&token))
                        .send()
                        .await
                        .map_err(|e| DownloadError::from_reqwest(url, &e))?;
                }
            }
        }
        let status = response.status().as_u16();
        if status == 404 || status == 410 {
            return Err(DownloadError::NotFound {
                url: url.into(),
                status,
            });
        }
        if !response.status().is_success() {
            return Err(DownloadError::Http {
                url: url.into(),
                status,
            });
        }
        Ok(DownloadResponse::new(url, response, permit))
    }
}

/// The `key=value` pairs of an authentication challenge (values quoted or not).
fn parse_challenge(params: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((key, value.to_string()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod challenge_tests {
    use super::parse_challenge;

    #[test]
    fn a_bearer_challenge_is_split_into_its_parameters() {
        let got = parse_challenge(
            r#"realm="http://127.0.0.1:1/token",service="registry",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            got,
            vec![
                ("realm".to_string(), "http://127.0.0.1:1/token".to_string()),
                ("service".to_string(), "registry".to_string()),
                ("scope".to_string(), "repository:a/b:pull,push".to_string()),
            ]
        );
        assert_eq!(parse_challenge("realm=x, service=y").len(), 2);
    }
}
