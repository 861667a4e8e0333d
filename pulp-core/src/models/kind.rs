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
    /// What generic code (the REST API's generic endpoints) knows of the kind.
    const FACTS: KindFacts;
}

/// A column of a kind that names another object: shown and accepted as an href (or PRN)
/// named `api`, stored as the id column `column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindReference {
    /// Name in the API (`remote`).
    pub api: &'static str,
    /// Column holding the id (`remote_id`).
    pub column: &'static str,
    /// What it names.
    pub target: ReferenceTarget,
}

/// What a [`KindReference`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceTarget {
    /// A master row of this table (any detail type).
    Master(&'static str),
    /// A repository version.
    Version,
}

/// The facts of a master kind that generic code dispatches on ([`MasterKind::FACTS`];
/// [`kind_facts`] finds them by master table).
#[derive(Debug, Clone, Copy)]
pub struct KindFacts {
    /// The master table.
    pub table: &'static str,
    /// Title in tags and summaries (`Remotes`).
    pub title: &'static str,
    /// One object, lower-case (`remote`).
    pub singular: &'static str,
    /// Whether objects have a unique `name` (and the name filters).
    pub named: bool,
    /// References among the kind's fields.
    pub references: &'static [KindReference],
    /// Creating one runs as a task (Pulp answers 202).
    pub async_create: bool,
    /// Updating and deleting one run as tasks (202).
    pub async_change: bool,
    /// Whether objects of the kind may be updated.
    pub updatable: bool,
    /// Whether objects of the kind are created by the generic create (not by a task of
    /// their type, as publications and content are).
    pub generic_create: bool,
}

/// The facts of the kind whose master table is `table` (content's for an unknown table).
pub fn kind_facts(table: &str) -> &'static KindFacts {
    const ALL: [&KindFacts; 6] = [
        &ContentKind::FACTS,
        &RemoteKind::FACTS,
        &RepositoryKind::FACTS,
        &PublicationKind::FACTS,
        &DistributionKind::FACTS,
        &ContentGuardKind::FACTS,
    ];
    ALL.into_iter()
        .find(|f| f.table == table)
        .unwrap_or(&ContentKind::FACTS)
}

macro_rules! kind {
    ($(#[$doc:meta])* $name:ident, $table:literal, $endpoint:literal, $fields:ty, $columns:expr, $facts:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;
        impl MasterKind for $name {
            const TABLE: &'static str = $table;
            const ENDPOINT: &'static str = $endpoint;
            type Fields = $fields;
            const COLUMNS: &'static [Column] = $columns;
            const FACTS: KindFacts = $facts;
        }
    };
}

kind!(
    /// Content units (`core_content`).
    ContentKind, "core_content", "content", ContentFields, &[],
    KindFacts {
        table: "core_content",
        title: "Content",
        singular: "content",
        named: false,
        references: &[],
        async_create: true,
        async_change: false,
        updatable: false,
        generic_create: false,
    }
);
kind!(
    /// Remotes (`core_remote`).
    RemoteKind, "core_remote", "remotes", RemoteFields, REMOTE_COLUMNS,
    KindFacts {
        table: "core_remote",
        title: "Remotes",
        singular: "remote",
        named: true,
        references: &[],
        async_create: false,
        async_change: true,
        updatable: true,
        generic_create: true,
    }
);
kind!(
    /// Repositories (`core_repository`).
    RepositoryKind, "core_repository", "repositories", RepositoryFields, REPOSITORY_COLUMNS,
    KindFacts {
        table: "core_repository",
        title: "Repositories",
        singular: "repository",
        named: true,
        references: &[KindReference {
            api: "remote",
            column: "remote_id",
            target: ReferenceTarget::Master("core_remote"),
        }],
        async_create: false,
        async_change: true,
        updatable: true,
        generic_create: true,
    }
);
kind!(
    /// Publications (`core_publication`).
    PublicationKind, "core_publication", "publications", PublicationFields, PUBLICATION_COLUMNS,
    KindFacts {
        table: "core_publication",
        title: "Publications",
        singular: "publication",
        named: false,
        references: &[KindReference {
            api: "repository_version",
            column: "repository_version_id",
            target: ReferenceTarget::Version,
        }],
        async_create: true,
        async_change: false,
        updatable: false,
        generic_create: false,
    }
);
kind!(
    /// Distributions (`core_distribution`).
    DistributionKind, "core_distribution", "distributions", DistributionFields, DISTRIBUTION_COLUMNS,
    KindFacts {
        table: "core_distribution",
        title: "Distributions",
        singular: "distribution",
        named: true,
        references: &[
            KindReference {
                api: "content_guard",
                column: "content_guard_id",
                target: ReferenceTarget::Master("core_contentguard"),
            },
            KindReference {
                api: "repository",
                column: "repository_id",
                target: ReferenceTarget::Master("core_repository"),
            },
            KindReference {
                api: "repository_version",
                column: "repository_version_id",
                target: ReferenceTarget::Version,
            },
            KindReference {
                api: "publication",
                column: "publication_id",
                target: ReferenceTarget::Master("core_publication"),
            },
        ],
        async_create: true,
        async_change: true,
        updatable: true,
        generic_create: true,
    }
);
kind!(
    /// Content guards (`core_contentguard`).
    ContentGuardKind, "core_contentguard", "contentguards", ContentGuardFields, CONTENT_GUARD_COLUMNS,
    KindFacts {
        table: "core_contentguard",
        title: "Contentguards",
        singular: "content_guard",
        named: true,
        references: &[],
        async_create: false,
        async_change: false,
        updatable: true,
        generic_create: true,
    }
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

/// A field every remote has ([`RemoteFields`]): its column and what the API says of it.
/// [`REMOTE_FIELDS`] is the one list of them; the remote columns, the write-only fields
/// and the API's remote fields are all derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteField {
    /// Its column (and serde field).
    pub column: Column,
    /// Required on create.
    pub required: bool,
    /// May be `null`.
    pub nullable: bool,
    /// Write-only: stored, never returned by the API (listed in `hidden_fields`).
    pub secret: bool,
    /// The allowed values of a text field, when it has a fixed set.
    pub choices: &'static [&'static str],
    /// Its description (Pulp's help text).
    pub doc: &'static str,
}

impl RemoteField {
    const fn new(column: Column, doc: &'static str) -> Self {
        Self {
            column,
            required: false,
            nullable: true,
            secret: false,
            choices: &[],
            doc,
        }
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self.nullable = false;
        self
    }
    const fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self.nullable = false;
        self
    }
}

/// The fields of every remote, in the order of [`RemoteFields`], the master table and the
/// API.
pub const REMOTE_FIELDS: [RemoteField; 20] = [
    RemoteField::new(Column::text("name"), "A unique name for this remote.").required(),
    RemoteField::new(Column::text("url"), "The URL of an external content source.").required(),
    RemoteField::new(Column::text("policy"), "The policy to use when downloading content.")
        .choices(&["immediate", "on_demand", "streamed"]),
    RemoteField::new(Column::text("ca_cert"), "A PEM encoded CA certificate used to validate the server certificate presented by the remote server."),
    RemoteField::new(Column::text("client_cert"), "A PEM encoded client certificate used for authentication."),
    RemoteField::new(Column::text("client_key"), "A PEM encoded private key used for authentication.").secret(),
    RemoteField::new(Column::bool("tls_validation"), "If True, TLS peer validation must be performed.").not_null(),
    RemoteField::new(Column::text("proxy_url"), "The proxy URL. Format: scheme://host:port"),
    RemoteField::new(Column::text("proxy_username"), "The username to authenticte to the proxy.").secret(),
    RemoteField::new(Column::text("proxy_password"), "The password to authenticate to the proxy.").secret(),
    RemoteField::new(Column::text("username"), "The username to be used for authentication when syncing.").secret(),
    RemoteField::new(Column::text("password"), "The password to be used for authentication when syncing.").secret(),
    RemoteField::new(Column::int("max_retries"), "Maximum number of retry attempts after a download failure."),
    RemoteField::new(Column::float("total_timeout"), "aiohttp.ClientTimeout.total (q.v.) for download-connections."),
    RemoteField::new(Column::float("connect_timeout"), "aiohttp.ClientTimeout.connect (q.v.) for download-connections."),
    RemoteField::new(Column::float("sock_connect_timeout"), "aiohttp.ClientTimeout.sock_connect (q.v.) for download-connections."),
    RemoteField::new(Column::float("sock_read_timeout"), "aiohttp.ClientTimeout.sock_read (q.v.) for download-connections."),
    RemoteField::new(Column::json("headers"), "Headers for aiohttp.Clientsession").not_null(),
    RemoteField::new(Column::int("download_concurrency"), "Total number of simultaneous connections."),
    RemoteField::new(Column::int("rate_limit"), "Limits requests per second for each concurrent downloader"),
];

/// The write-only fields of a remote: accepted, stored, never serialized back (the
/// [`REMOTE_FIELDS`] marked `secret`).
pub const REMOTE_SECRET_FIELDS: [&str; 5] = {
    let mut out = [""; 5];
    let (mut i, mut n) = (0, 0);
    while i < REMOTE_FIELDS.len() {
        if REMOTE_FIELDS[i].secret {
            // More secret fields than this array holds fails the build here.
            out[n] = REMOTE_FIELDS[i].column.name;
            n += 1;
        }
        i += 1;
    }
    assert!(
        n == out.len(),
        "REMOTE_SECRET_FIELDS must hold every secret remote field"
    );
    out
};

const REMOTE_COLUMN_ARRAY: [Column; REMOTE_FIELDS.len()] = {
    let mut out = [Column::text(""); REMOTE_FIELDS.len()];
    let mut i = 0;
    while i < REMOTE_FIELDS.len() {
        out[i] = REMOTE_FIELDS[i].column;
        i += 1;
    }
    out
};

const REMOTE_COLUMNS: &[Column] = &REMOTE_COLUMN_ARRAY;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_field_list_is_the_remote_fields_struct() {
        let serialized = serde_json::to_value(RemoteFields::default()).expect("serialize");
        let keys: Vec<&str> = serialized
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut listed: Vec<&str> = REMOTE_FIELDS.iter().map(|f| f.column.name).collect();
        listed.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(listed, keys);
        assert_eq!(
            REMOTE_SECRET_FIELDS,
            [
                "client_key",
                "proxy_username",
                "proxy_password",
                "username",
                "password"
            ]
        );
    }

    #[test]
    fn each_kind_finds_its_own_facts_by_table() {
        assert_eq!(kind_facts("core_remote").singular, "remote");
        assert_eq!(
            kind_facts(RepositoryKind::TABLE).table,
            RepositoryKind::TABLE
        );
        assert!(kind_facts(DistributionKind::TABLE).async_create);
        assert_eq!(kind_facts("nope").table, ContentKind::TABLE);
    }
}
