//! The six master kinds and the fields every type of a kind has (Pulp's master models).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Column;
use crate::db::PulpId;
use crate::validation::{validate_relative_path, Validate, ValidationErrors};

/// A kind of master model: content, remote, repository, publication, distribution or
/// content guard. Its table holds the common columns plus [`MasterKind::COLUMNS`].
pub trait MasterKind: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The master table (`core_remote`).
    const TABLE: &'static str;
    /// The kind's name in hrefs and messages (`remotes`).
    const ENDPOINT: &'static str;
    /// The fields every type of this kind has, stored in the master table.
    type Fields: Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + Validate;
    /// The columns of [`MasterKind::Fields`].
    const COLUMNS: &'static [Column];
}

macro_rules! kind {
    ($(#[$doc:meta])* $name:ident, $table:literal, $endpoint:literal, $fields:ty, $columns:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;
        impl MasterKind for $name {
            const TABLE: &'static str = $table;
            const ENDPOINT: &'static str = $endpoint;
            type Fields = $fields;
            const COLUMNS: &'static [Column] = $columns;
        }
    };
}

kind!(
    /// Content units (`core_content`).
    ContentKind, "core_content", "content", ContentFields, &[]
);
kind!(
    /// Remotes (`core_remote`).
    RemoteKind, "core_remote", "remotes", RemoteFields, REMOTE_COLUMNS
);
kind!(
    /// Repositories (`core_repository`).
    RepositoryKind, "core_repository", "repositories", RepositoryFields, REPOSITORY_COLUMNS
);
kind!(
    /// Publications (`core_publication`).
    PublicationKind, "core_publication", "publications", PublicationFields, PUBLICATION_COLUMNS
);
kind!(
    /// Distributions (`core_distribution`).
    DistributionKind, "core_distribution", "distributions", DistributionFields, DISTRIBUTION_COLUMNS
);
kind!(
    /// Content guards (`core_contentguard`).
    ContentGuardKind, "core_contentguard", "contentguards", ContentGuardFields, CONTENT_GUARD_COLUMNS
);

/// Content has no common fields beyond the master's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentFields {}

impl Validate for ContentFields {
    fn validate(&self, _: &mut ValidationErrors) {}
}

/// When a remote's content is downloaded (Pulp's `policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Download during sync.
    #[default]
    Immediate,
    /// Record where content is; download on first request and keep it.
    OnDemand,
    /// Record where content is; stream it on every request, never keep it.
    Streamed,
}

/// The fields of every remote (Pulp's `Remote`). `client_key`, `username`, `password`,
/// `proxy_username` and `proxy_password` are write-only: stored, never returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteFields {
    /// Unique name.
    pub name: String,
    /// Where the content comes from.
    pub url: String,
    /// Download policy.
    pub policy: Policy,
    /// PEM CA certificate(s) to validate the server with.
    pub ca_cert: Option<String>,
    /// PEM client certificate.
    pub client_cert: Option<String>,
    /// PEM client private key (write-only).
    pub client_key: Option<String>,
    /// Whether the server's certificate is validated.
    pub tls_validation: bool,
    /// Proxy URL.
    pub proxy_url: Option<String>,
    /// Proxy user (write-only).
    pub proxy_username: Option<String>,
    /// Proxy password (write-only).
    pub proxy_password: Option<String>,
    /// User for the remote (write-only).
    pub username: Option<String>,
    /// Password for the remote (write-only).
    pub password: Option<String>,
    /// Retries of a failed download (default: the downloader's).
    pub max_retries: Option<i64>,
    /// Seconds for a whole download.
    pub total_timeout: Option<f64>,
    /// Seconds to connect, including the pool wait.
    pub connect_timeout: Option<f64>,
    /// Seconds to connect a socket.
    pub sock_connect_timeout: Option<f64>,
    /// Seconds between two reads.
    pub sock_read_timeout: Option<f64>,
    /// Extra headers, `[{"name": "value"}, …]`.
    pub headers: Vec<serde_json::Value>,
    /// Concurrent downloads.
    pub download_concurrency: Option<i64>,
    /// Requests per second.
    pub rate_limit: Option<i64>,
}

/// The write-only fields of a remote: accepted, stored, never serialized back.
pub const REMOTE_SECRET_FIELDS: [&str; 5] = [
    "client_key",
    "proxy_username",
    "proxy_password",
    "username",
    "password",
];

const REMOTE_COLUMNS: &[Column] = &[
    Column::text("name"),
    Column::text("url"),
    Column::text("policy"),
    Column::text("ca_cert"),
    Column::text("client_cert"),
    Column::text("client_key"),
    Column::bool("tls_validation"),
    Column::text("proxy_url"),
    Column::text("proxy_username"),
    Column::text("proxy_password"),
    Column::text("username"),
    Column::text("password"),
    Column::int("max_retries"),
    Column::float("total_timeout"),
    Column::float("connect_timeout"),
    Column::float("sock_connect_timeout"),
    Column::float("sock_read_timeout"),
    Column::json("headers"),
    Column::int("download_concurrency"),
    Column::int("rate_limit"),
];

impl Default for RemoteFields {
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            policy: Policy::Immediate,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            tls_validation: true,
            proxy_url: None,
            proxy_username: None,
            proxy_password: None,
            username: None,
            password: None,
            max_retries: None,
            total_timeout: None,
            connect_timeout: None,
            sock_connect_timeout: None,
            sock_read_timeout: None,
            headers: Vec::new(),
            download_concurrency: None,
            rate_limit: None,
        }
    }
}

impl RemoteFields {
    /// A remote named `name` fetching from `url`, with Pulp's defaults for the rest.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            ..Self::default()
        }
    }
}

impl Validate for RemoteFields {
    fn validate(&self, errors: &mut ValidationErrors) {
        not_blank(errors, "name", &self.name);
        not_blank(errors, "url", &self.url);
        if !self.url.is_empty() {
            match url::Url::parse(&self.url) {
                Ok(u) if ["http", "https", "file"].contains(&u.scheme()) => {}
                _ => {
                    errors.add(
                        "url",
                        format!("'{}' is not an http(s) or file URL.", self.url),
                    );
                }
            }
        }
        if let Some(proxy) = &self.proxy_url {
            if url::Url::parse(proxy).is_err() {
                errors.add("proxy_url", format!("'{proxy}' is not a URL."));
            }
            if proxy.contains('@') {
                errors.add(
                    "proxy_url",
                    "Proxy credentials go in proxy_username and proxy_password, not in the URL.",
                );
            }
        }
        if self.proxy_username.is_some() != self.proxy_password.is_some() {
            errors.add_non_field("proxy_username and proxy_password must be given together.");
        }
        if self.username.is_some() != self.password.is_some() {
            errors.add_non_field("username and password must be given together.");
        }
        for (field, value) in [
            ("total_timeout", self.total_timeout),
            ("connect_timeout", self.connect_timeout),
            ("sock_connect_timeout", self.sock_connect_timeout),
            ("sock_read_timeout", self.sock_read_timeout),
        ] {
            if value.is_some_and(|v| v < 0.0 || !v.is_finite()) {
                errors.add(field, "Ensure this value is greater than or equal to 0.0.");
            }
        }
        if self.download_concurrency.is_some_and(|v| v < 1) {
            errors.add(
                "download_concurrency",
                "Ensure this value is greater than or equal to 1.",
            );
        }
        if self.max_retries.is_some_and(|v| v < 0) {
            errors.add(
                "max_retries",
                "Ensure this value is greater than or equal to 0.",
            );
        }
        if self.rate_limit.is_some_and(|v| v < 0) {
            errors.add(
                "rate_limit",
                "Ensure this value is greater than or equal to 0.",
            );
        }
    }
}

/// The fields of every repository (Pulp's `Repository`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepositoryFields {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Keep only this many latest versions (none: keep all).
    pub retain_repo_versions: Option<i64>,
    /// Keep only this many checkpoint publications.
    pub retain_checkpoints: Option<i64>,
    /// The remote used by default to sync it.
    pub remote_id: Option<PulpId>,
}

const REPOSITORY_COLUMNS: &[Column] = &[
    Column::text("name"),
    Column::text("description"),
    Column::int("retain_repo_versions"),
    Column::int("retain_checkpoints"),
    Column::id("remote_id"),
];

impl RepositoryFields {
    /// A repository named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

impl Validate for RepositoryFields {
    fn validate(&self, errors: &mut ValidationErrors) {
        not_blank(errors, "name", &self.name);
        if self.description.as_deref() == Some("") {
            errors.add("description", "This field may not be blank.");
        }
        if self.retain_repo_versions.is_some_and(|v| v < 1) {
            errors.add(
                "retain_repo_versions",
                "Ensure this value is greater than or equal to 1.",
            );
        }
        if self.retain_checkpoints.is_some_and(|v| v < 1) {
            errors.add(
                "retain_checkpoints",
                "Ensure this value is greater than or equal to 1.",
            );
        }
    }
}

/// The fields of every publication (Pulp's `Publication`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublicationFields {
    /// The version it renders.
    pub repository_version_id: Option<PulpId>,
    /// Whether it is finished (only complete publications are served).
    pub complete: bool,
    /// Whether content is served straight from the version (no published files recorded).
    pub pass_through: bool,
    /// Whether it is a checkpoint publication.
    pub checkpoint: bool,
}

const PUBLICATION_COLUMNS: &[Column] = &[
    Column::id("repository_version_id"),
    Column::bool("complete"),
    Column::bool("pass_through"),
    Column::bool("checkpoint"),
];

impl Validate for PublicationFields {
    fn validate(&self, errors: &mut ValidationErrors) {
        if self.repository_version_id.is_none() {
            errors.add("repository_version", "This field is required.");
        }
    }
}

/// The fields of every distribution (Pulp's `Distribution`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributionFields {
    /// Unique name.
    pub name: String,
    /// Unique path below the content app's prefix.
    pub base_path: String,
    /// Whether it is left out of the content app's listing.
    pub hidden: bool,
    /// Whether it serves checkpoint publications.
    pub checkpoint: bool,
    /// Guard protecting it.
    pub content_guard_id: Option<PulpId>,
    /// Serve the latest version of this repository…
    pub repository_id: Option<PulpId>,
    /// …or this version…
    pub repository_version_id: Option<PulpId>,
    /// …or this publication.
    pub publication_id: Option<PulpId>,
}

const DISTRIBUTION_COLUMNS: &[Column] = &[
    Column::text("name"),
    Column::text("base_path"),
    Column::bool("hidden"),
    Column::bool("checkpoint"),
    Column::id("content_guard_id"),
    Column::id("repository_id"),
    Column::id("repository_version_id"),
    Column::id("publication_id"),
];

impl DistributionFields {
    /// A distribution named `name` at `base_path`.
    pub fn new(name: impl Into<String>, base_path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_path: base_path.into(),
            ..Self::default()
        }
    }
}

impl Validate for DistributionFields {
    fn validate(&self, errors: &mut ValidationErrors) {
        not_blank(errors, "name", &self.name);
        if let Err(e) = validate_relative_path(&self.base_path) {
            errors.add("base_path", e.to_string());
        }
        let sources = [
            self.repository_id.is_some(),
            self.repository_version_id.is_some(),
            self.publication_id.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            errors.add_non_field(
                "Only one of the attributes 'repository', 'repository_version' and 'publication' may be used simultaneously.",
            );
        }
    }
}

/// The fields of every content guard (Pulp's `ContentGuard`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentGuardFields {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
}

const CONTENT_GUARD_COLUMNS: &[Column] = &[Column::text("name"), Column::text("description")];

impl Validate for ContentGuardFields {
    fn validate(&self, errors: &mut ValidationErrors) {
        not_blank(errors, "name", &self.name);
    }
}

fn not_blank(errors: &mut ValidationErrors, field: &str, value: &str) {
    if value.trim().is_empty() {
        errors.add(field, "This field may not be blank.");
    }
}
