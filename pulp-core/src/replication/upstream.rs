//! [`UpstreamClient`]: reading an upstream Pulp's REST API with the upstream's credentials
//! and TLS settings.

use serde_json::Value;

use super::{ReplicationError, UpstreamPulp};
use crate::download::{DownloadError, Downloader};
use crate::models::RemoteFields;

/// Largest JSON answer read from an upstream (a page of 100 distributions is far smaller).
const MAX_ANSWER: usize = 64 << 20;

/// Page size of the upstream lists read.
const PAGE: usize = 100;

/// A client of one upstream Pulp's API (`{base_url}/{api_root}/[{domain}/]api/v3/`).
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    base_url: String,
    api: String,
    downloader: Downloader,
}

impl UpstreamClient {
    /// The client of `upstream`: its basic-auth credentials, client certificate, CA bundle,
    /// `tls_validation` and timeouts.
    pub fn new(upstream: &UpstreamPulp) -> Result<Self, ReplicationError> {
        let mut fields = RemoteFields::new(upstream.name.clone(), upstream.base_url.clone());
        fields.username = upstream.username.clone();
        fields.password = upstream.password.clone();
        fields.ca_cert = upstream.ca_cert.clone();
        fields.client_cert = upstream.client_cert.clone();
        fields.client_key = upstream.client_key.clone();
        fields.tls_validation = upstream.tls_validation;
        fields.total_timeout = upstream.total_timeout;
        fields.connect_timeout = upstream.connect_timeout;
        fields.sock_connect_timeout = upstream.sock_connect_timeout;
        fields.sock_read_timeout = upstream.sock_read_timeout;
        fields.max_retries = upstream.max_retries;
        fields.download_concurrency = upstream.download_concurrency;
        let downloader = Downloader::for_remote(&fields)
            .map_err(|e| ReplicationError::upstream(&upstream.base_url, e.to_string()))?;
        let base_url = upstream.base_url.trim_end_matches('/').to_string();
        let root = upstream.api_root.trim_matches('/');
        let mut api = format!("{base_url}/");
        if !root.is_empty() {
            api.push_str(root);
            api.push('/');
        }
        if let Some(domain) = upstream.domain.as_deref().filter(|d| !d.is_empty()) {
            api.push_str(domain.trim_matches('/'));
            api.push('/');
        }
        api.push_str("api/v3/");
        Ok(Self {
            base_url,
            api,
            downloader,
        })
    }

    /// The upstream's `base_url` (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The absolute URL of `target`: an absolute URL as it is, an href (`/pulp/api/v3/…`)
    /// below the base URL, anything else below the API root (`distributions/file/file/`).
    pub fn url(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else if target.starts_with('/') {
            format!("{}{target}", self.base_url)
        } else {
            format!("{}{target}", self.api)
        }
    }

    /// GETs `target` (see [`UpstreamClient::url`]) as JSON.
    pub async fn get(&self, target: &str) -> Result<Value, ReplicationError> {
        let url = self.url(target);
        let mut response = self
            .downloader
            .open(&url)
            .await
            .map_err(|e| self.error(&url, e))?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.error(&url, e))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(ReplicationError::upstream(
                    &self.base_url,
                    format!("the answer of {url} is too large"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| {
            ReplicationError::upstream(&self.base_url, format!("{url} did not answer JSON: {e}"))
        })
    }

    /// The components the upstream's `/status/` lists (`core`, `file`, …) with their versions.
    pub async fn components(&self) -> Result<Vec<(String, String)>, ReplicationError> {
        let status = self.get("status/").await?;
        Ok(status
            .get("versions")
            .and_then(Value::as_array)
            .map(|versions| {
                versions
                    .iter()
                    .filter_map(|v| {
                        Some((
                            v.get("component")?.as_str()?.to_string(),
                            v.get("version")?.as_str().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every item of the list `endpoint` (below the API root), filtered by the `q`
    /// expression if given, read a page of 100 at a time.
    pub async fn list(
        &self,
        endpoint: &str,
        q: Option<&str>,
    ) -> Result<Vec<Value>, ReplicationError> {
        let mut out = Vec::new();
        loop {
            let mut url = url::Url::parse(&self.url(endpoint)).map_err(|e| {
                ReplicationError::upstream(&self.base_url, format!("{endpoint}: {e}"))
            })?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("limit", &PAGE.to_string());
                query.append_pair("offset", &out.len().to_string());
                if let Some(q) = q {
                    query.append_pair("q", q);
                }
            }
            let page = self.get(url.as_str()).await?;
            let results = page
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| {
                    ReplicationError::upstream(
                        &self.base_url,
                        format!("{url} did not answer a page of results"),
                    )
                })?;
            let count = page.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
            let empty = results.is_empty();
            out.extend(results);
            if empty || out.len() >= count {
                return Ok(out);
            }
        }
    }

    fn error(&self, url: &str, e: DownloadError) -> ReplicationError {
        let message = match &e {
            DownloadError::Http { status: 401, .. } => format!(
                "{url} answered 401 Unauthorized: the username or password of the upstream Pulp is wrong"
            ),
            DownloadError::Http { status: 403, .. } => format!(
                "{url} answered 403 Forbidden: the upstream user may not read this"
            ),
            other => other.to_string(),
        };
        ReplicationError::upstream(&self.base_url, message)
    }
}
