//! What the REST layer knows of each master kind: its API fields (for the OpenAPI
//! document and request checks). The kinds' own facts (references, naming, which operations
//! run as tasks) are declared on each kind ([`MasterKind::FACTS`](crate::models::MasterKind::FACTS)).

use crate::api::openapi::{Field, FieldType};
use crate::models::{Column, ColumnType};

/// The facts of a master kind, as the kind declares them.
pub use crate::models::KindFacts as KindInfo;
/// A field of a kind that names another object (the kind's own fact, [`MasterKind::FACTS`](crate::models::MasterKind::FACTS)).
pub use crate::models::KindReference as Reference;
/// What a reference names.
pub use crate::models::ReferenceTarget as Target;

/// The facts of the kind whose master table is `table` (declared on the kind).
pub fn kind_info(table: &str) -> &'static KindInfo {
    crate::models::kind_facts(table)
}

fn text(name: &str, doc: &str) -> Field {
    Field::new(name, FieldType::String).doc(doc)
}

/// The API fields of a kind (the common ones every type of it has), besides `pulp_href`,
/// `prn`, `pulp_created`, `pulp_last_updated` and `pulp_labels`.
pub fn kind_fields(table: &str) -> Vec<Field> {
    match table {
        "core_remote" => {
            let mut fields: Vec<Field> = crate::models::REMOTE_FIELDS
                .iter()
                .map(remote_field)
                .collect();
            fields.push(
                Field::new("hidden_fields", FieldType::ObjectList)
                    .read_only()
                    .doc("List of hidden (write only) fields"),
            );
            fields
        }
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

/// The API field of a remote's common field.
fn remote_field(field: &crate::models::RemoteField) -> Field {
    let ty = match field.column.ty {
        _ if !field.choices.is_empty() => FieldType::Enum(field.choices),
        ColumnType::Bool => FieldType::Boolean,
        ColumnType::Int => FieldType::Integer,
        ColumnType::Float => FieldType::Number,
        ColumnType::Json => FieldType::ObjectList,
        _ => FieldType::String,
    };
    let mut api = Field::new(field.column.name, ty).doc(field.doc);
    if field.required {
        api = api.required();
    }
    if field.nullable {
        api = api.nullable();
    }
    if field.secret {
        api = api.write_only();
    }
    api
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
