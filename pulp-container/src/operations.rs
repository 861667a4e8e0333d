//! The plugin's own ways content enters and leaves a container repository (the generic
//! `modify/` is not offered): `add`, `remove`, `tag`, `untag`, `copy_tags`,
//! `copy_manifests`, each a task making one version, each keeping the closure (adding a tag
//! or manifest brings what it needs; removing keeps what something left still needs — see
//! [`crate::repository`]). The REST endpoints `POST {repository_href}<operation>/` dispatch
//! them.

use std::collections::HashSet;

use pulp_plugin_api::api::{parse_json, ApiRoutes, Operation, RequestBody, Response as Answer};
use pulp_plugin_api::deps::axum::body::Bytes;
use pulp_plugin_api::deps::axum::extract::{Path, State};
use pulp_plugin_api::deps::axum::http::StatusCode;
use pulp_plugin_api::deps::axum::response::{IntoResponse, Response};
use pulp_plugin_api::deps::axum::routing::post;
use pulp_plugin_api::deps::axum::Json;
use pulp_plugin_api::deps::serde_json::{self, json, Value};
use pulp_plugin_api::deps::sqlx;
use pulp_plugin_api::models::{self, get_many_of_type, Detail, ModelError};
use pulp_plugin_api::repository::{
    get_version_by_id, latest_version, version_content, NewVersion, RepositoryVersion, VersionError,
};
use pulp_plugin_api::tasking::{dispatch, DispatchRequest, TaskContext, TaskError, TaskOutput};
use pulp_plugin_api::{on_pool, ApiError, App, Database, PulpId};
use serde::{Deserialize, Serialize};

use crate::repository::closure;
use crate::{media, Blob, ContainerRepository, Manifest, Tag};

/// Task names (pulp_container's).
pub const ADD_TASK: &str = "pulp_container.app.tasks.recursive_add_content";
/// See [`ADD_TASK`].
pub const REMOVE_TASK: &str = "pulp_container.app.tasks.recursive_remove_content";
/// See [`ADD_TASK`].
pub const TAG_TASK: &str = "pulp_container.app.tasks.tag_image";
/// See [`ADD_TASK`].
pub const UNTAG_TASK: &str = "pulp_container.app.tasks.untag_image";
/// Copying tags or manifests from another version (pulp_container's `copy/` tasks).
pub const COPY_TASK: &str = "pulp_container.app.tasks.recursive_copy_content";

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    /// A unit could not be read.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The version could not be made.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// What was asked for is not there.
    #[error("{0}")]
    Missing(String),
}

/// What an operation task is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// Add these units and their closure.
    Add {
        /// The units.
        units: Vec<PulpId>,
    },
    /// Remove these units (with what only they needed); `all`: everything.
    Remove {
        /// The units.
        units: Vec<PulpId>,
        /// Remove everything.
        all: bool,
    },
    /// Point the tag `tag` at the manifest `digest` of the latest version.
    Tag {
        /// The tag name.
        tag: String,
        /// The manifest's digest.
        digest: String,
    },
    /// Remove the tag `tag`.
    Untag {
        /// The tag name.
        tag: String,
    },
    /// Copy tags (all, or those named) from a version.
    CopyTags {
        /// The source version.
        source: PulpId,
        /// The names; `None`: every tag.
        names: Option<Vec<String>>,
    },
    /// Copy manifests (all, or those with these digests / media types) from a version.
    CopyManifests {
        /// The source version.
        source: PulpId,
        /// The digests; `None`: any.
        digests: Option<Vec<String>>,
        /// The media types; `None`: any.
        media_types: Option<Vec<String>>,
    },
}

/// The arguments of the operation tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationArgs {
    /// The repository changed.
    pub repository_pk: PulpId,
    /// The change.
    pub change: Change,
}

/// The unit of `T` whose `column` is `value` in `version`.
async fn find_in_version(
    db: &Database,
    version: &RepositoryVersion,
    table: &str,
    column: &str,
    value: &str,
) -> Result<Option<PulpId>, OperationError> {
    let sql = format!(
        "SELECT x.pulp_id FROM core_repositorycontent rc JOIN {table} x ON x.pulp_id = rc.content_id \
         WHERE rc.repository_id = $1 AND rc.version_added <= $2 \
         AND (rc.version_removed IS NULL OR rc.version_removed > $2) AND x.{column} = $3"
    );
    let found: Option<PulpId> = on_pool!(db, pool => {
        sqlx::query_scalar(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .bind(value)
            .fetch_optional(pool)
            .await
            .map_err(|e| OperationError::Database(e.to_string()))?
    });
    Ok(found)
}

async fn all_of<T: pulp_plugin_api::models::ContentDetail>(
    db: &Database,
    version: &RepositoryVersion,
) -> Result<Vec<pulp_plugin_api::models::Model<T>>, OperationError> {
    Ok(version_content::<T>(db, version, i64::MAX, 0).await?)
}

/// Applies `change` to `repository` in one new version (`None`: nothing changed).
pub async fn apply(
    app: &App,
    repository: PulpId,
    change: Change,
) -> Result<Option<RepositoryVersion>, OperationError> {
    let db = app.db();
    let latest = latest_version(db, repository).await?;
    let (add, remove, all): (Vec<PulpId>, Vec<PulpId>, bool) = match change {
        Change::Add { units } => (closure(db, &units).await?, Vec::new(), false),
        Change::Remove { all: true, .. } => (Vec::new(), Vec::new(), true),
        Change::Remove { units, .. } => {
            // The units, what they reference, and the tags of removed manifests: the
            // version's closure then puts back what something left still needs.
            let mut gone: Vec<PulpId> = closure(db, &units).await?;
            let removed: HashSet<PulpId> = gone.iter().copied().collect();
            for tag in all_of::<Tag>(db, &latest).await? {
                if removed.contains(&tag.tagged_manifest) {
                    gone.push(tag.pulp_id());
                }
            }
            (Vec::new(), gone, false)
        }
        Change::Tag { tag, digest } => {
            if !media::is_tag_name(&tag) {
                return Err(OperationError::Missing(format!(
                    "'{tag}' is not a valid tag name"
                )));
            }
            let manifest = find_in_version(db, &latest, Manifest::TABLE, "digest", &digest)
                .await?
                .ok_or_else(|| {
                    OperationError::Missing(format!("no manifest {digest} in the repository"))
                })?;
            let saved = models::save_content(
                db,
                vec![Tag {
                    name: tag,
                    tagged_manifest: manifest,
                }],
            )
            .await?;
            (
                saved.iter().map(|t| t.pulp_id()).collect(),
                Vec::new(),
                false,
            )
        }
        Change::Untag { tag } => {
            let found = find_in_version(db, &latest, Tag::TABLE, "name", &tag)
                .await?
                .ok_or_else(|| {
                    OperationError::Missing(format!("no tag '{tag}' in the repository"))
                })?;
            (Vec::new(), vec![found], false)
        }
        Change::CopyTags { source, names } => {
            let source = get_version_by_id(db, source).await?;
            let units: Vec<PulpId> = all_of::<Tag>(db, &source)
                .await?
                .into_iter()
                .filter(|t| names.as_ref().is_none_or(|n| n.contains(&t.name)))
                .map(|t| t.pulp_id())
                .collect();
            (closure(db, &units).await?, Vec::new(), false)
        }
        Change::CopyManifests {
            source,
            digests,
            media_types,
        } => {
            let source = get_version_by_id(db, source).await?;
            let units: Vec<PulpId> = all_of::<Manifest>(db, &source)
                .await?
                .into_iter()
                .filter(|m| digests.as_ref().is_none_or(|d| d.contains(&m.digest)))
                .filter(|m| {
                    media_types
                        .as_ref()
                        .is_none_or(|t| t.contains(&m.media_type))
                })
                .map(|m| m.pulp_id())
                .collect();
            (closure(db, &units).await?, Vec::new(), false)
        }
    };
    let mut version = NewVersion::start(app, repository).await?;
    if all {
        version.remove_all_content().await?;
    }
    version.remove_content(&remove).await?;
    version.add_content(&add).await?;
    Ok(version.commit().await?)
}

/// The task function of every operation.
pub async fn operation_task(task: TaskContext) -> TaskOutput {
    let args: OperationArgs = task.parse_args()?;
    let made = apply(task.app(), args.repository_pk, args.change)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    if let Some(version) = made {
        let repository = models::href::<ContainerRepository>(args.repository_pk);
        task.add_created_resource(models::version_href(&repository, version.number));
    }
    Ok(None)
}

fn task_response(id: PulpId) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({"task": format!("{}/tasks/{id}/", pulp_plugin_api::api::API_ROOT)})),
    )
        .into_response()
}

async fn repository_of(app: &App, id: &str) -> Result<PulpId, ApiError> {
    let id: PulpId =
        serde_json::from_value(Value::String(id.to_string())).map_err(|_| ApiError::NotFound)?;
    models::get::<ContainerRepository>(app.db(), id)
        .await
        .map_err(|_| ApiError::NotFound)?;
    Ok(id)
}

fn unit_id(href: &str) -> Option<PulpId> {
    models::id_from_href::<Blob>(href)
        .or_else(|| models::id_from_href::<Manifest>(href))
        .or_else(|| models::id_from_href::<Tag>(href))
}

async fn units(app: &App, field: &str, hrefs: &[String]) -> Result<Vec<PulpId>, ApiError> {
    let mut ids = Vec::new();
    for href in hrefs {
        let id = unit_id(href).ok_or_else(|| {
            ApiError::field(field, format!("'{href}' is not a container content href"))
        })?;
        ids.push(id);
    }
    let found = get_many_of_type::<Blob>(app.db(), &ids).await?.len()
        + get_many_of_type::<Manifest>(app.db(), &ids).await?.len()
        + get_many_of_type::<Tag>(app.db(), &ids).await?.len();
    if found != ids.iter().collect::<HashSet<_>>().len() {
        return Err(ApiError::field(
            field,
            "Some of the content does not exist.",
        ));
    }
    Ok(ids)
}

async fn source_version(app: &App, body: &CopyBody) -> Result<PulpId, ApiError> {
    match (&body.source_repository, &body.source_repository_version) {
        (Some(repo), None) => {
            let id = models::id_from_href::<ContainerRepository>(repo)
                .ok_or_else(|| ApiError::field("source_repository", "Not a container repository."))?;
            let version = latest_version(app.db(), id)
                .await
                .map_err(|_| ApiError::field("source_repository", "No such repository."))?;
            Ok(version.pulp_id)
        }
        (None, Some(href)) => {
            let (repo, number) = models::version_from_href::<ContainerRepository>(href)
                .ok_or_else(|| ApiError::field("source_repository_version", "Not a container repository version."))?;
            let version = pulp_plugin_api::repository::get_version(app.db(), repo, number)
                .await
                .map_err(|_| ApiError::field("source_repository_version", "No such version."))?;
            Ok(version.pulp_id)
        }
        _ => Err(ApiError::field(
            "source_repository",
            "Either the 'source_repository' or 'source_repository_version' need to be specified but not both.",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitsBody {
    content_units: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    tag: String,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyBody {
    #[serde(default)]
    source_repository: Option<String>,
    #[serde(default)]
    source_repository_version: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    digests: Option<Vec<String>>,
    #[serde(default)]
    media_types: Option<Vec<String>>,
}

async fn send(
    app: &App,
    repository: PulpId,
    task: &str,
    change: Change,
) -> Result<Response, ApiError> {
    let args = OperationArgs {
        repository_pk: repository,
        change,
    };
    let args = serde_json::to_value(args).map_err(|e| ApiError::Internal(e.to_string()))?;
    let task = dispatch(
        app,
        DispatchRequest::new(task)
            .args(args)
            .exclusive([models::href::<ContainerRepository>(repository)]),
    )
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(task_response(task.pulp_id))
}

async fn add(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = repository_of(&app, &id).await?;
    let body: UnitsBody = parse_json(&body)?;
    let units = units(&app, "content_units", &body.content_units).await?;
    send(&app, repository, ADD_TASK, Change::Add { units }).await
}

async fn remove(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = repository_of(&app, &id).await?;
    let body: UnitsBody = parse_json(&body)?;
    let all = body.content_units.iter().any(|u| u == "*");
    let units = if all {
        Vec::new()
    } else {
        units(&app, "content_units", &body.content_units).await?
    };
    send(&app, repository, REMOVE_TASK, Change::Remove { units, all }).await
}

async fn tag(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = repository_of(&app, &id).await?;
    let body: TagBody = parse_json(&body)?;
    if !media::is_tag_name(&body.tag) {
        return Err(ApiError::field("tag", "Not a valid tag name."));
    }
    let digest = body
        .digest
        .filter(|d| media::is_sha256_digest(d))
        .ok_or_else(|| ApiError::field("digest", "A sha256 digest of a manifest is required."))?;
    let latest = latest_version(app.db(), repository).await?;
    if find_in_version(app.db(), &latest, Manifest::TABLE, "digest", &digest)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .is_none()
    {
        return Err(ApiError::field(
            "digest",
            "A manifest with this digest is not in the repository.",
        ));
    }
    send(
        &app,
        repository,
        TAG_TASK,
        Change::Tag {
            tag: body.tag,
            digest,
        },
    )
    .await
}

async fn untag(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = repository_of(&app, &id).await?;
    let body: TagBody = parse_json(&body)?;
    let latest = latest_version(app.db(), repository).await?;
    if find_in_version(app.db(), &latest, Tag::TABLE, "name", &body.tag)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .is_none()
    {
        return Err(ApiError::field("tag", "The tag is not in the repository."));
    }
    send(
        &app,
        repository,
        UNTAG_TASK,
        Change::Untag { tag: body.tag },
    )
    .await
}

async fn copy_tags(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = repository_of(&app, &id).await?;
    let body: CopyBody = parse_json(&body)?;
    let source = source_version(&app, &body).await?;
    send(
        &app,
        repository,
        COPY_TASK,
        Change::CopyTags {
            source,
            names: body.names,
        },
    )
    .await
}

async fn copy_manifests(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = repository_of(&app, &id).await?;
    let body: CopyBody = parse_json(&body)?;
    let source = source_version(&app, &body).await?;
    send(
        &app,
        repository,
        COPY_TASK,
        Change::CopyManifests {
            source,
            digests: body.digests,
            media_types: body.media_types,
        },
    )
    .await
}

/// Mounts `add/`, `remove/`, `tag/`, `untag/`, `copy_tags/`, `copy_manifests/`.
pub fn mount(routes: &mut ApiRoutes) {
    let base = format!(
        "{}/repositories/{}/",
        pulp_plugin_api::api::API_ROOT,
        ContainerRepository::ENDPOINT
    );
    let href = "{container_container_repository_href}";
    for (name, schema, props) in [
        (
            "RecursiveManage",
            "content_units",
            json!({"content_units": {"type": "array", "items": {"type": "string"}}}),
        ),
        (
            "TagImage",
            "tag",
            json!({"tag": {"type": "string"}, "digest": {"type": "string"}}),
        ),
        ("UnTagImage", "tag", json!({"tag": {"type": "string"}})),
        (
            "TagCopy",
            "",
            json!({"source_repository": {"type": "string", "format": "uri"}, "source_repository_version": {"type": "string", "format": "uri"}, "names": {"type": "array", "items": {"type": "string"}}}),
        ),
        (
            "ManifestCopy",
            "",
            json!({"source_repository": {"type": "string", "format": "uri"}, "source_repository_version": {"type": "string", "format": "uri"}, "digests": {"type": "array", "items": {"type": "string"}}, "media_types": {"type": "array", "items": {"type": "string"}}}),
        ),
    ] {
        let required: Vec<&str> = if schema.is_empty() {
            vec![]
        } else {
            vec![schema]
        };
        routes.raw_schema(
            name,
            json!({"type": "object", "required": required, "properties": props}),
        );
    }
    let ops: [(
        &str,
        &str,
        pulp_plugin_api::deps::axum::routing::MethodRouter<App>,
        &str,
    ); 6] = [
        ("add", "RecursiveManage", post(add), "Add content"),
        ("remove", "RecursiveManage", post(remove), "Remove content"),
        ("tag", "TagImage", post(tag), "Create a Tag"),
        ("untag", "UnTagImage", post(untag), "Delete a tag"),
        ("copy_tags", "TagCopy", post(copy_tags), "Copy tags"),
        (
            "copy_manifests",
            "ManifestCopy",
            post(copy_manifests),
            "Copy manifests",
        ),
    ];
    for (action, schema, handler, summary) in ops {
        routes.route(
            &format!("{base}{{id}}/{action}/"),
            handler,
            [Operation::new(
                "post",
                &format!("{href}{action}/"),
                &format!("repositories_container_container_{action}"),
                "Repositories: Container",
            )
            .summary(summary)
            .body(RequestBody::Schema(schema.into()))
            .response(202, Answer::Task)],
        );
    }
}
