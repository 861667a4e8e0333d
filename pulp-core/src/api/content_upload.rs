//! Creating single-artifact content through the API (`POST /content/<plugin>/<type>/` as a
//! task, `POST /content/<plugin>/<type>/upload/` at once): from an existing artifact, an
//! uploaded file or a chunked upload, optionally added to a repository in a new version.
//! Mounted per type by [`Registry::content_upload`](crate::plugin::Registry::content_upload).

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use chrono::Utc;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::generic::kinds::Target;
use super::generic::refs::{resolve, version_hrefs};
use super::generic::{body_object, names, parse_labels, single, task_response};
use super::multipart::{check_length, is_multipart, part_stream, part_text, upload_limit};
use super::openapi::{Operation, RequestBody, Response as Doc};
use super::{parse_json, ApiError, ApiRoutes};
use crate::app::App;
use crate::db::PulpId;
use crate::models::{
    self, save_artifact, save_content, save_content_artifacts, Artifact, Labels,
    SingleArtifactContent,
};
use crate::repository::NewVersion;
use crate::storage::{ExpectedArtifact, TemporaryFile};
use crate::tasking::{dispatch, DispatchRequest, TaskContext, TaskError, TaskOutput};
use crate::validation::validate_relative_path;

/// Task creating a unit of single-artifact content (args: [`CreateContentArgs`]).
pub const GENERAL_CREATE_CONTENT: &str = "pulpcore.app.tasks.base.general_create_content";

/// Largest JSON body of a content create.
const JSON_LIMIT: usize = 2 * 1024 * 1024;

/// What a content create needs once the request is checked (the task's arguments).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CreateContentArgs {
    /// The content type.
    pub pulp_type: String,
    /// Where the file goes.
    pub relative_path: String,
    /// An existing artifact…
    #[serde(default)]
    pub artifact_pk: Option<PulpId>,
    /// …or a chunked upload, committed into an artifact…
    #[serde(default)]
    pub upload_pk: Option<PulpId>,
    /// …or an uploaded file kept as a shared temporary file.
    #[serde(default)]
    pub temp_file: Option<uuid::Uuid>,
    /// The repository the unit is added to (in a new version).
    #[serde(default)]
    pub repository_pk: Option<PulpId>,
    /// Whether the unit may replace a unit of the repository with the same repository key
    /// (Pulp's `overwrite`; with `false` the unit is not added and the operation fails).
    #[serde(default = "overwrite_default")]
    pub overwrite: bool,
    /// Labels of a new unit.
    #[serde(default)]
    pub pulp_labels: Labels,
    /// The type's own fields.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

fn overwrite_default() -> bool {
    true
}

/// What a content create made.
#[derive(Debug, Clone)]
pub struct CreatedContent {
    /// The unit's response.
    pub content: Value,
    /// Its href.
    pub content_href: String,
    /// The new repository version, when a repository was given and changed.
    pub version_href: Option<String>,
}

/// The future of [`ContentUploadOps::create`].
pub type CreateFuture = BoxFuture<'static, Result<CreatedContent, ApiError>>;

/// The create operation of one single-artifact content type, callable by type name.
#[derive(Clone, Copy)]
pub struct ContentUploadOps {
    /// Creates a unit.
    pub create: fn(App, CreateContentArgs) -> CreateFuture,
}

impl std::fmt::Debug for ContentUploadOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentUploadOps")
    }
}

impl ContentUploadOps {
    /// The operations of `T`.
    pub fn of<T: SingleArtifactContent>() -> Self {
        Self {
            create: |app, args| Box::pin(async move { create_now::<T>(&app, args).await }),
        }
    }
}

/// Mounts the create and upload endpoints of `T`, documented with Pulp's schemas.
pub fn mount_content_upload<T: SingleArtifactContent>(routes: &mut ApiRoutes) {
    let n = names::<T>();
    let type_name = n.schema.rsplit('.').next().unwrap_or_default().to_string();
    let upload_schema = format!("{type_name}Upload");
    let mut properties = json!({
        "repository": {"type": "string", "format": "uri", "writeOnly": true, "description": "A URI of a repository the new content unit should be associated with."},
        "overwrite": {"type": "boolean", "writeOnly": true, "description": "When set to true, existing content in the repository with the same unique key will be silently overwritten. When set to false, the task will fail if content would be overwritten. Only used when 'repository' is specified. Defaults to true."},
        "pulp_labels": {"type": "object", "additionalProperties": {"type": ["string", "null"]}, "description": "A dictionary of arbitrary key/value pairs used to describe a specific Content instance."},
        "artifact": {"type": "string", "format": "uri", "description": "Artifact file representing the physical content"},
        "relative_path": {"type": "string", "minLength": 1, "description": "Path where the artifact is located relative to distributions base_path"},
        "file": {"type": "string", "format": "binary", "writeOnly": true, "description": "An uploaded file that may be turned into the content unit."},
        "upload": {"type": "string", "format": "uri", "writeOnly": true, "description": "An uncommitted upload that may be turned into the content unit."},
        "file_url": {"type": "string", "writeOnly": true, "minLength": 1, "description": "A url that Pulp can download and turn into the content unit (not supported by pulp-rs)."},
    });
    routes.raw_schema(
        &n.schema,
        json!({"type": "object", "properties": properties.clone(), "required": ["relative_path"]}),
    );
    if let Some(map) = properties.as_object_mut() {
        map.remove("repository");
    }
    routes
        .raw_schema(
            &upload_schema,
            json!({"type": "object", "properties": properties, "required": ["relative_path"]}),
        )
        .raw_schema(
            &format!("{upload_schema}Response"),
            json!({"allOf": [{"$ref": format!("#/components/schemas/{}Response", n.schema)}]}),
        );
    routes.route(
        &n.collection,
        post(create::<T>).layer(DefaultBodyLimit::disable()),
        [
            Operation::new("post", &n.collection, &format!("{}_create", n.op), &n.tag)
                .summary(&format!("Create a {}", n.words))
                .body(RequestBody::Multipart(n.schema.clone()))
                .response(202, Doc::Task),
        ],
    );
    let upload_path = format!("{}upload/", n.collection);
    routes.route(
        &upload_path,
        post(upload::<T>).layer(DefaultBodyLimit::disable()),
        [
            Operation::new("post", &upload_path, &format!("{}_upload", n.op), &n.tag)
                .summary(&format!("Create a {} from a file", n.words))
                .body(RequestBody::Multipart(upload_schema.clone()))
                .response(201, Doc::Schema(format!("{upload_schema}Response"))),
        ],
    );
}

/// A request body: its fields, and the file part kept as a shared temporary file.
struct ContentRequest {
    fields: Map<String, Value>,
    file: Option<TemporaryFile>,
}

async fn discard(app: &App, file: Option<&TemporaryFile>) {
    if let Some(file) = file {
        if let Err(e) = app.storage().delete_temporary(file.id).await {
            tracing::warn!(file = %file.id, error = %e, "cannot delete an uploaded file");
        }
    }
}

/// Whether the request body is `application/x-www-form-urlencoded` (what pulp-cli sends when
/// no file is attached).
fn is_form_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The fields of a form body: text values, `pulp_labels` parsed as JSON (as in multipart).
fn parse_form(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut fields = Map::new();
    for (name, text) in url::form_urlencoded::parse(bytes) {
        if text.contains('\0') {
            return Err(ApiError::BadRequest(
                "Null characters are not allowed.".into(),
            ));
        }
        let value = if name == "pulp_labels" {
            serde_json::from_str(&text)
                .map_err(|_| ApiError::field("pulp_labels", "Value must be valid JSON."))?
        } else {
            Value::String(text.into_owned())
        };
        fields.insert(name.into_owned(), value);
    }
    Ok(fields)
}

async fn read_request(
    app: &App,
    headers: &HeaderMap,
    request: Request,
) -> Result<ContentRequest, ApiError> {
    if !is_multipart(headers) {
        let bytes = axum::body::to_bytes(request.into_body(), JSON_LIMIT)
            .await
            .map_err(|_| ApiError::PayloadTooLarge {
                limit: JSON_LIMIT as u64,
            })?;
        let fields = if is_form_urlencoded(headers) {
            parse_form(&bytes)?
        } else {
            body_object(parse_json(&bytes)?)?
        };
        if fields.contains_key("file") {
            return Err(ApiError::field(
                "file",
                "The submitted data was not a file. Check the encoding type on the form.",
            ));
        }
        return Ok(ContentRequest { fields, file: None });
    }
    let limit = upload_limit(app);
    check_length(headers, limit)?;
    let mut multipart = Multipart::from_request(request, app)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut out = ContentRequest {
        fields: Map::new(),
        file: None,
    };
    let result: Result<(), ApiError> = async {
        while let Some(field) = multipart.next_field().await.map_err(ApiError::from)? {
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                if out.file.is_some() {
                    return Err(ApiError::field("file", "Only one file may be sent."));
                }
                let file = app
                    .storage()
                    .save_temporary(part_stream(field), limit)
                    .await
                    .map_err(ApiError::from)?;
                out.file = Some(file);
                continue;
            }
            let text = part_text(field).await?;
            let value = if name == "pulp_labels" {
                serde_json::from_str(&text)
                    .map_err(|_| ApiError::field("pulp_labels", "Value must be valid JSON."))?
            } else {
                Value::String(text)
            };
            out.fields.insert(name, value);
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        discard(app, out.file.as_ref()).await;
        return Err(e);
    }
    Ok(out)
}

/// A string field; absent, `null` and empty are `None`.
fn take_text(fields: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::field(name, "Not a valid string.")),
    }
}

fn push(errors: &mut BTreeMap<String, Vec<String>>, field: &str, message: String) {
    errors.entry(field.to_string()).or_default().push(message);
}

/// Downloading `file_url` is not implemented.
const NO_FILE_URL: &str = "Downloading content from a URL is not supported by this server; \
                           send the file, an artifact or an upload instead.";

/// Checks a request and resolves its references (`allow_repository`: the create endpoint).
async fn prepare<T: SingleArtifactContent>(
    app: &App,
    mut fields: Map<String, Value>,
    file: Option<&TemporaryFile>,
    allow_repository: bool,
) -> Result<CreateContentArgs, ApiError> {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let relative_path = take_text(&mut fields, "relative_path")?;
    match &relative_path {
        None => push(
            &mut errors,
            "relative_path",
            "This field is required.".into(),
        ),
        Some(path) => {
            if let Err(e) = validate_relative_path(path) {
                push(&mut errors, "relative_path", e.to_string());
            }
        }
    }
    let artifact = take_text(&mut fields, "artifact")?;
    let upload = take_text(&mut fields, "upload")?;
    let file_url = take_text(&mut fields, "file_url")?;
    let repository = take_text(&mut fields, "repository")?;
    let labels = match fields.remove("pulp_labels") {
        None | Some(Value::Null) => Labels::new(),
        Some(value) => parse_labels(&value)?,
    };
    let overwrite = match fields.remove("overwrite") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            push(&mut errors, "overwrite", "Must be a valid boolean.".into());
            true
        }
    };
    if repository.is_some() && !allow_repository {
        push(&mut errors, "repository", "Unexpected field".into());
    }
    let sources = [
        artifact.is_some(),
        file.is_some(),
        upload.is_some(),
        file_url.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if sources != 1 {
        push(
            &mut errors,
            "non_field_errors",
            "Exactly one of 'file', 'artifact', 'upload' or 'file_url' must be specified.".into(),
        );
    }
    if file_url.is_some() {
        push(&mut errors, "file_url", NO_FILE_URL.into());
    }
    if let Err(more) = T::check_fields(&fields) {
        for (field, messages) in more.into_map() {
            errors.entry(field).or_default().extend(messages);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let artifact_pk = match artifact {
        None => None,
        Some(reference) => {
            let id = super::artifacts::artifact_reference(&reference)
                .ok_or_else(|| ApiError::field("artifact", "Invalid hyperlink - No URL match."))?;
            if super::artifacts::artifact(app, id).await?.is_none() {
                return Err(ApiError::field(
                    "artifact",
                    "Invalid hyperlink - Object does not exist.",
                ));
            }
            Some(id)
        }
    };
    let upload_pk = match upload {
        None => None,
        Some(reference) => {
            let id = super::uploads::upload_reference(&reference)
                .ok_or_else(|| ApiError::field("upload", "Invalid hyperlink - No URL match."))?;
            if !super::uploads::exists(app, id).await? {
                return Err(ApiError::field(
                    "upload",
                    "Invalid hyperlink - Object does not exist.",
                ));
            }
            Some(id)
        }
    };
    let repository_pk = match repository {
        None => None,
        Some(reference) => Some(
            resolve(
                app,
                "repository",
                &reference,
                Target::Master("core_repository"),
            )
            .await?,
        ),
    };
    Ok(CreateContentArgs {
        pulp_type: T::PULP_TYPE.to_string(),
        relative_path: relative_path.unwrap_or_default(),
        artifact_pk,
        upload_pk,
        temp_file: file.map(|f| f.id),
        repository_pk,
        overwrite,
        pulp_labels: labels,
        fields,
    })
}

async fn create<T: SingleArtifactContent>(
    State(app): State<App>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let body = read_request(&app, &headers, request).await?;
    let file = body.file.clone();
    let result = async {
        let args = prepare::<T>(&app, body.fields, file.as_ref(), true).await?;
        let mut resources = Vec::new();
        if let Some(repository) = args.repository_pk {
            let hrefs =
                super::generic::refs::hrefs(&app, "core_repository", vec![repository]).await?;
            resources.extend(hrefs.into_values());
        }
        if let Some(upload) = args.upload_pk {
            resources.push(super::uploads::upload_href(upload));
        }
        let args = serde_json::to_value(&args).map_err(|e| ApiError::Internal(e.to_string()))?;
        let task = dispatch(
            &app,
            DispatchRequest::new(GENERAL_CREATE_CONTENT)
                .args(args)
                .exclusive(resources),
        )
        .await?;
        Ok(task_response(&task))
    }
    .await;
    if result.is_err() {
        discard(&app, file.as_ref()).await;
    }
    result
}

async fn upload<T: SingleArtifactContent>(
    State(app): State<App>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let body = read_request(&app, &headers, request).await?;
    let file = body.file.clone();
    let args = match prepare::<T>(&app, body.fields, file.as_ref(), false).await {
        Ok(args) => args,
        Err(e) => {
            discard(&app, file.as_ref()).await;
            return Err(e);
        }
    };
    let created = create_now::<T>(&app, args).await?;
    Ok((StatusCode::CREATED, Json(created.content)).into_response())
}

/// The artifact a request names, made from its file or upload when needed.
async fn obtain_artifact(app: &App, args: &CreateContentArgs) -> Result<Artifact, ApiError> {
    if let Some(id) = args.artifact_pk {
        super::artifacts::touch(app, id).await?;
        return super::artifacts::artifact(app, id).await?.ok_or_else(|| {
            ApiError::field("artifact", "Invalid hyperlink - Object does not exist.")
        });
    }
    if let Some(file) = args.temp_file {
        let stored = app
            .storage()
            .ingest_temporary(file, &ExpectedArtifact::any())
            .await
            .map_err(ApiError::from)?;
        let artifact = save_artifact(app.db(), &stored).await?;
        super::artifacts::touch(app, artifact.pulp_id).await?;
        return Ok(artifact);
    }
    if let Some(upload) = args.upload_pk {
        return Ok(super::uploads::assemble(app, upload, None).await?);
    }
    Err(ApiError::field(
        "non_field_errors",
        "Exactly one of 'file', 'artifact', 'upload' or 'file_url' must be specified.",
    ))
}

/// Creates (or finds) the unit of `T` a request describes and adds it to the repository.
pub async fn create_now<T: SingleArtifactContent>(
    app: &App,
    args: CreateContentArgs,
) -> Result<CreatedContent, ApiError> {
    let result = async {
        let artifact = obtain_artifact(app, &args).await?;
        let unit = T::from_artifact(&artifact, &args.relative_path, &args.fields)?;
        let started = Utc::now();
        let mut model = save_content(app.db(), vec![unit])
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal("saving the unit returned nothing".into()))?;
        if !args.pulp_labels.is_empty() && model.master.pulp_created >= started {
            model.master.pulp_labels = args.pulp_labels.clone();
            model = models::update::<T>(app.db(), model).await?;
        }
        save_content_artifacts(
            app.db(),
            &[(
                model.pulp_id(),
                Some(artifact.pulp_id),
                args.relative_path.clone(),
            )],
        )
        .await?;
        let mut version_href = None;
        if let Some(repository) = args.repository_pk {
            let mut version = NewVersion::start(app, repository)
                .await
                .map_err(ApiError::repository_field)?;
            version.set_overwrite(args.overwrite);
            version
                .add_content(&[model.pulp_id()])
                .await
                .map_err(ApiError::repository_field)?;
            if let Some(made) = version.commit().await.map_err(ApiError::repository_field)? {
                version_href = version_hrefs(app, vec![made.pulp_id])
                    .await?
                    .remove(&made.pulp_id)
                    .map(|(href, _)| href);
            }
        }
        Ok(CreatedContent {
            content: single(app, &model).await?,
            content_href: model.pulp_href(),
            version_href,
        })
    }
    .await;
    if let Some(file) = args.temp_file {
        let _ = app.storage().delete_temporary(file).await;
    }
    result
}

/// `general_create_content`: creates a unit of single-artifact content (see
/// [`CreateContentArgs`]); `created_resources` lists the unit and the new version.
pub async fn general_create_content(ctx: TaskContext) -> TaskOutput {
    let args: CreateContentArgs = ctx.parse_args()?;
    let ops = ctx
        .app()
        .content_upload_ops(&args.pulp_type)
        .ok_or_else(|| TaskError::new(format!("no uploadable content type {}", args.pulp_type)))?;
    let created = (ops.create)(ctx.app().clone(), args)
        .await
        .map_err(|e| match e {
            ApiError::Validation(fields) => {
                TaskError::new(crate::validation::ValidationErrors::from_map(fields).to_string())
            }
            other => TaskError::new(other.to_string()),
        })?;
    ctx.add_created_resource(created.content_href);
    if let Some(version) = created.version_href {
        ctx.add_created_resource(version);
    }
    Ok(None)
}
