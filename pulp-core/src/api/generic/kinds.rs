//! What the REST layer knows of each master kind: its API fields, the references among them,
//! which filters its lists take and which of its operations Pulp runs as tasks.

use crate::api::openapi::{Field, FieldType};
use crate::models::{Column, ColumnType};

/// A field of a kind that names another object: shown and accepted as an href (or PRN),
/// stored as the id column `column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// Name in the API (`remote`).
    pub api: &'static str,
    /// Column holding the id (`remote_id`).
    pub column: &'static str,
    /// What it names.
    pub target: Target,
}

/// What a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A master row of this table (any detail type).
    Master(&'static str),
    /// A repository version.
    Version,
}

/// The REST facts of a master kind.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// The master table.
    pub table: &'static str,
    /// Title in tags and summaries (`Remotes`).
    pub title: &'static str,
    /// One object, lower-case (`remote`).
    pub singular: &'static str,
    /// Whether objects have a unique `name` (and the name filters).
    pub named: bool,
    /// References among the kind's fields.
    pub references: &'static [Reference],
    /// Create runs as a task (202).
    pub async_create: bool,
    /// Update and delete run as tasks (202).
    pub async_change: bool,
    /// Whether the API may update objects of the kind.
    pub updatable: bool,
    /// Whether the API creates objects of the kind through the generic create.
    pub generic_create: bool,
}

const REMOTE: KindInfo = KindInfo {
    table: "core_remote",
    title: "Remotes",
    singular: "remote",
    named: true,
    references: &[],
    async_create: false,
    async_change: true,
    updatable: true,
    generic_create: true,
};

const REPOSITORY: KindInfo = KindInfo {
    table: "core_repository",
    title: "Repositories",
    singular: "repository",
    named: true,
    references: &[Reference {
        api: "remote",
        column: "remote_id",
        target: Target::Master("core_remote"),
    }],
    async_create: false,
    async_change: true,
    updatable: true,
    generic_create: true,
};

const DISTRIBUTION: KindInfo = KindInfo {
    table: "core_distribution",
    title: "Distributions",
    singular: "distribution",
    named: true,
    references: &[
        Reference {
            api: "content_guard",
            column: "content_guard_id",
            target: Target::Master("core_contentguard"),
        },
        Reference {
            api: "repository",
            column: "repository_id",
            target: Target::Master("core_repository"),
        },
        Reference {
            api: "repository_version",
            column: "repository_version_id",
            target: Target::Version,
        },
        Reference {
            api: "publication",
            column: "publication_id",
            target: Target::Master("core_publication"),
        },
    ],
    async_create: true,
    async_change: true,
    updatable: true,
    generic_create: true,
};

const PUBLICATION: KindInfo = KindInfo {
    table: "core_publication",
    title: "Publications",
    singular: "publication",
    named: false,
    references: &[Reference {
        api: "repository_version",
        column: "repository_version_id",
        target: Target::Version,
    }],
    async_create: true,
    async_change: false,
    updatable: false,
    generic_create: false,
};

const CONTENT: KindInfo = KindInfo {
    table: "core_content",
    title: "Content",
    singular: "content",
    named: false,
    references: &[],
    async_create: true,
    async_change: false,
    updatable: false,
    generic_create: false,
};

const CONTENT_GUARD: KindInfo = KindInfo {
    table: "core_contentguard",
    title: "Contentguards",
    singular: "content_guard",
    named: true,
    references: &[],
    async_create: false,
    async_change: false,
    updatable: true,
    generic_create: true,
};

/// The facts of the kind whose master table is `table`.
pub fn kind_info(table: &str) -> &'static KindInfo {
    match table {
        "core_remote" => &REMOTE,
        "core_repository" => &REPOSITORY,
        "core_distribution" => &DISTRIBUTION,
        "core_publication" => &PUBLICATION,
        "core_contentguard" => &CONTENT_GUARD,
        _ => &CONTENT,
    }
}

fn text(name: &str, doc: &str) -> Field {
    Field::new(name, FieldType::String).doc(doc)
}

/// The API fields of a kind (the common ones every type of it has), besides `pulp_href`,
/// `prn`, `pulp_created`, `pulp_last_updated` and `pulp_labels`.
pub fn kind_fields(table: &str) -> Vec<Field> {
    match table {
        "core_remote" => vec![
            text("name", "A unique name for this remote.").required(),
            text("url", "The URL of an external content source.").required(),
            Field::new(
                "policy",
                FieldType::Enum(&["immediate", "on_demand", "streamed"]),
            )
            .doc("The policy to use when downloading content."),
            text("ca_cert", "A PEM encoded CA certificate used to validate the server certificate presented by the remote server.").nullable(),
            text("client_cert", "A PEM encoded client certificate used for authentication.").nullable(),
            text("client_key", "A PEM encoded private key used for authentication.").nullable().write_only(),
            Field::new("tls_validation", FieldType::Boolean).doc("If True, TLS peer validation must be performed."),
            text("proxy_url", "The proxy URL. Format: scheme://host:port").nullable(),
            text("proxy_username", "The username to authenticte to the proxy.").nullable().write_only(),
            text("proxy_password", "The password to authenticate to the proxy.").nullable().write_only(),
            text("username", "The username to be used for authentication when syncing.").nullable().write_only(),
            text("password", "The password to be used for authentication when syncing.").nullable().write_only(),
            Field::new("max_retries", FieldType::Integer).nullable().doc("Maximum number of retry attempts after a download failure."),
            Field::new("total_timeout", FieldType::Number).nullable().doc("aiohttp.ClientTimeout.total (q.v.) for download-connections."),
            Field::new("connect_timeout", FieldType::Number).nullable().doc("aiohttp.ClientTimeout.connect (q.v.) for download-connections."),
            Field::new("sock_connect_timeout", FieldType::Number).nullable().doc("aiohttp.ClientTimeout.sock_connect (q.v.) for download-connections."),
            Field::new("sock_read_timeout", FieldType::Number).nullable().doc("aiohttp.ClientTimeout.sock_read (q.v.) for download-connections."),
            Field::new("headers", FieldType::ObjectList).doc("Headers for aiohttp.Clientsession"),
            Field::new("download_concurrency", FieldType::Integer).nullable().doc("Total number of simultaneous connections."),
            Field::new("rate_limit", FieldType::Integer).nullable().doc("Limits requests per second for each concurrent downloader"),
            Field::new("hidden_fields", FieldType::ObjectList).read_only().doc("List of hidden (write only) fields"),
        ],
        "core_repository" => vec![
            Field::new("versions_href", FieldType::Href).read_only(),
            Field::new("latest_version_href", FieldType::Href).read_only(),
            text("name", "A unique name for this repository.").required(),
            text("description", "An optional description.").nullable(),
            Field::new("retain_repo_versions", FieldType::Integer).nullable().doc("Retain X versions of the repository. Default is null which retains all versions."),
            Field::new("retain_checkpoints", FieldType::Integer).nullable().doc("Retain X checkpoint publications for the repository. Default is null which retains all checkpoints."),
            Field::new("remote", FieldType::Href).nullable().doc("An optional remote to use by default when syncing."),
        ],
        "core_distribution" => vec![
            text("base_path", "The base (relative) path component of the published url. Avoid paths that overlap with other distribution base paths (e.g. \"foo\" and \"foo/bar\")").required(),
            Field::new("base_url", FieldType::String).read_only().doc("The URL for accessing the publication as defined by this distribution."),
            Field::new("content_guard", FieldType::Href).nullable().doc("An optional content-guard."),
            Field::new("content_guard_prn", FieldType::String).read_only().nullable(),
            Field::new("no_content_change_since", FieldType::String).read_only().nullable(),
            Field::new("hidden", FieldType::Boolean).doc("Whether this distribution should be shown in the content app."),
            text("name", "A unique name. Ex, `rawhide` and `stable`.").required(),
            Field::new("repository", FieldType::Href).nullable().doc("The latest RepositoryVersion for this Repository will be served."),
            Field::new("repository_version", FieldType::Href).nullable().doc("RepositoryVersion to be served"),
            Field::new("publication", FieldType::Href).nullable().doc("Publication to be served"),
            Field::new("checkpoint", FieldType::Boolean),
        ],
        "core_publication" => vec![
            Field::new("repository_version", FieldType::Href),
            Field::new("repository", FieldType::Href).doc("A URI of the repository to be published."),
            Field::new("distributions", FieldType::StringList).read_only().doc("This publication is currently hosted as defined by these distributions."),
            Field::new("checkpoint", FieldType::Boolean),
        ],
        "core_contentguard" => vec![
            text("name", "The unique name.").required(),
            text("description", "An optional description.").nullable(),
        ],
        _ => Vec::new(),
    }
}

/// The API field of a detail column (id columns are references, shown without `_id`).
pub fn column_field(column: &Column) -> Field {
    let name = column.name.strip_suffix("_id").unwrap_or(column.name);
    match column.ty {
        ColumnType::Text => Field::new(name, FieldType::String).nullable(),
        ColumnType::Int => Field::new(name, FieldType::Integer).nullable(),
        ColumnType::Float => Field::new(name, FieldType::Number).nullable(),
        ColumnType::Bool => Field::new(name, FieldType::Boolean),
        ColumnType::Json => Field::new(name, FieldType::Any),
        ColumnType::Id => Field::new(name, FieldType::Href).nullable(),
        ColumnType::Time => Field::new(name, FieldType::DateTime).nullable(),
    }
}

/// The fields every object has.
pub fn common_fields(with_labels: bool) -> Vec<Field> {
    let mut fields = vec![
        Field::new("pulp_href", FieldType::Href).read_only(),
        Field::new("prn", FieldType::String)
            .read_only()
            .doc("The Pulp Resource Name (PRN)."),
        Field::new("pulp_created", FieldType::DateTime)
            .read_only()
            .doc("Timestamp of creation."),
        Field::new("pulp_last_updated", FieldType::DateTime)
            .read_only()
            .doc("Timestamp of the last time this resource was updated."),
    ];
    if with_labels {
        fields.push(Field::new("pulp_labels", FieldType::Labels));
    }
    fields
}
