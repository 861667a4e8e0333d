//! Model resources: how units and repositories become pulpcore's JSON rows and back.
//!
//! A row is what django-import-export writes: every value a string (`""` for none, `"0"`/`"1"`
//! for booleans). Plugins declare theirs through
//! [`Registry::export_content`](crate::Registry::export_content) and
//! [`Registry::export_repository`](crate::Registry::export_repository); the generic code
//! here turns a unit's serde fields into a row and a row back into a unit, guided by the
//! type's [`Column`](crate::models::Column)s.

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::ImportExportError;
use crate::app::App;
use crate::db::PulpId;
use crate::models::{
    self, ColumnType, ContentDetail, Detail, Labels, Repository, RepositoryFields,
};
use crate::repository::RepositoryType;

/// One row of a resource file.
pub type Row = Map<String, Value>;

/// Resource file of the artifacts.
pub const ARTIFACT_RESOURCE: &str = "pulpcore.app.modelresource.ArtifactResource";
/// Resource file of the repositories.
pub const REPOSITORY_RESOURCE: &str = "pulpcore.app.modelresource.RepositoryResource";
/// Resource file (per repository version) of the links from content to artifacts.
pub const CONTENT_ARTIFACT_RESOURCE: &str = "pulpcore.app.modelresource.ContentArtifactResource";

/// What exports write as `pulp_domain`: pulpcore replaces it with its own domain on import.
pub(crate) const EXPORT_DOMAIN: &str = "00000000-0000-0000-0000-000000000000";

type ExportRows =
    for<'a> fn(&'a App, &'a [PulpId]) -> BoxFuture<'a, Result<Vec<Row>, ImportExportError>>;
type ImportRows = for<'a> fn(
    &'a App,
    &'a [Row],
) -> BoxFuture<'a, Result<Vec<(String, PulpId)>, ImportExportError>>;
type ExportRepository =
    for<'a> fn(&'a App, PulpId) -> BoxFuture<'a, Result<Row, ImportExportError>>;
type CreateRepository =
    for<'a> fn(&'a App, &'a Row, &'a str) -> BoxFuture<'a, Result<PulpId, ImportExportError>>;

/// A content type's resource (pulp_file's `FileContentResource`).
#[derive(Clone)]
pub struct ContentResource {
    name: String,
    pulp_type: &'static str,
    export_rows: ExportRows,
    import_rows: ImportRows,
}

impl std::fmt::Debug for ContentResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentResource")
            .field("name", &self.name)
            .finish()
    }
}

impl ContentResource {
    /// The resource of `T`, written to `<name>.json`.
    pub fn of<T: ContentDetail>(name: &str) -> Self {
        Self {
            name: name.to_string(),
            pulp_type: T::PULP_TYPE,
            export_rows: export_content_rows::<T>,
            import_rows: import_content_rows::<T>,
        }
    }

    /// Its name (the file is `<name>.json`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The content type it holds.
    pub fn pulp_type(&self) -> &'static str {
        self.pulp_type
    }

    /// The rows of these units (of its type).
    pub async fn export(&self, app: &App, ids: &[PulpId]) -> Result<Vec<Row>, ImportExportError> {
        (self.export_rows)(app, ids).await
    }

    /// Saves the units of these rows (existing ones are reused); returns each row's
    /// `upstream_id` with the local unit's id.
    pub async fn import(
        &self,
        app: &App,
        rows: &[Row],
    ) -> Result<Vec<(String, PulpId)>, ImportExportError> {
        (self.import_rows)(app, rows).await
    }
}

/// A repository type's resource (pulp_file's `FileRepositoryResource`).
#[derive(Clone)]
pub struct RepositoryResource {
    name: String,
    pulp_type: &'static str,
    export_row: ExportRepository,
    create: CreateRepository,
}

impl std::fmt::Debug for RepositoryResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepositoryResource")
            .field("name", &self.name)
            .finish()
    }
}

impl RepositoryResource {
    /// The resource of `T`, written to `<name>.json`.
    pub fn of<T: RepositoryType>(name: &str) -> Self {
        Self {
            name: name.to_string(),
            pulp_type: T::PULP_TYPE,
            export_row: export_repository_row::<T>,
            create: create_repository::<T>,
        }
    }

    /// Its name (the file is `<name>.json`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The repository type it holds.
    pub fn pulp_type(&self) -> &'static str {
        self.pulp_type
    }

    /// The row of a repository (of its type).
    pub async fn export(&self, app: &App, id: PulpId) -> Result<Row, ImportExportError> {
        (self.export_row)(app, id).await
    }

    /// Creates a repository named `name` from an exported row.
    pub async fn create(
        &self,
        app: &App,
        row: &Row,
        name: &str,
    ) -> Result<PulpId, ImportExportError> {
        (self.create)(app, row, name).await
    }
}

/// Every resource the plugins declared.
#[derive(Debug, Clone, Default)]
pub struct ImportExportResources {
    content: Vec<ContentResource>,
    repositories: Vec<RepositoryResource>,
}

impl ImportExportResources {
    pub(crate) fn add_content(&mut self, resource: ContentResource) {
        self.content.retain(|r| r.name != resource.name);
        self.content.push(resource);
    }

    pub(crate) fn add_repository(&mut self, resource: RepositoryResource) {
        self.repositories.retain(|r| r.name != resource.name);
        self.repositories.push(resource);
    }

    /// The content resources of the plugin owning repository type `repository_type`
    /// (pulpcore exports every resource of the repository's plugin).
    pub fn content_for(&self, repository_type: &str) -> Vec<&ContentResource> {
        let label = app_label(repository_type);
        self.content
            .iter()
            .filter(|r| app_label(r.pulp_type) == label)
            .collect()
    }

    /// The repository resource of repository type `repository_type`.
    pub fn repository_for(&self, repository_type: &str) -> Option<&RepositoryResource> {
        self.repositories
            .iter()
            .find(|r| r.pulp_type == repository_type)
    }
}

/// The plugin part of a `pulp_type` (`file` of `file.file`).
pub(crate) fn app_label(pulp_type: &str) -> &str {
    pulp_type.split('.').next().unwrap_or(pulp_type)
}

/// A value as django-import-export writes it.
pub(crate) fn render(value: &Value) -> Value {
    Value::String(match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A written value back as the JSON its column's type wants.
fn parse(ty: ColumnType, value: Option<&Value>) -> Result<Value, String> {
    let text = match value {
        None | Some(Value::Null) => return Ok(Value::Null),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Ok(other.clone()),
    };
    if text.is_empty() && ty != ColumnType::Text {
        return Ok(Value::Null);
    }
    Ok(match ty {
        ColumnType::Text | ColumnType::Id | ColumnType::Time => Value::String(text.to_string()),
        ColumnType::Bool => Value::Bool(match text {
            "1" | "true" | "True" | "TRUE" => true,
            "0" | "false" | "False" | "FALSE" => false,
            other => return Err(format!("'{other}' is not a boolean")),
        }),
        ColumnType::Int => Value::from(
            text.parse::<i64>()
                .map_err(|_| format!("'{text}' is not an integer"))?,
        ),
        ColumnType::Float => Value::from(
            text.parse::<f64>()
                .map_err(|_| format!("'{text}' is not a number"))?,
        ),
        ColumnType::Json => {
            serde_json::from_str(text).map_err(|e| format!("'{text}' is not JSON: {e}"))?
        }
    })
}

/// The detail `T` of a row (its columns, converted back from text).
pub(crate) fn detail_from_row<T: Detail>(row: &Row) -> Result<T, ImportExportError> {
    let mut map = Map::new();
    for column in T::COLUMNS {
        let value = parse(column.ty, row.get(column.name)).map_err(|e| {
            ImportExportError::invalid(format!("{} field '{}': {e}", T::PULP_TYPE, column.name))
        })?;
        map.insert(column.name.to_string(), value);
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ImportExportError::invalid(format!("a {} row: {e}", T::PULP_TYPE)))
}

/// The detail's fields as a row (rendered as text).
fn detail_row<T: Detail>(detail: &T) -> Result<Row, ImportExportError> {
    let value = serde_json::to_value(detail)
        .map_err(|e| ImportExportError::invalid(format!("cannot write a {}: {e}", T::PULP_TYPE)))?;
    let mut row = Row::new();
    if let Value::Object(fields) = value {
        for (k, v) in fields {
            row.insert(k, render(&v));
        }
    }
    Ok(row)
}

fn export_content_rows<'a, T: ContentDetail>(
    app: &'a App,
    ids: &'a [PulpId],
) -> BoxFuture<'a, Result<Vec<Row>, ImportExportError>> {
    Box::pin(async move {
        let mut units = models::get_many::<T>(app.db(), ids).await?;
        units.sort_by_key(|u| u.pulp_id());
        let mut rows = Vec::with_capacity(units.len());
        for unit in units {
            let mut row = Row::new();
            row.insert("pulp_type".into(), T::PULP_TYPE.into());
            row.insert("upstream_id".into(), unit.pulp_id().to_string().into());
            row.insert("pulp_domain".into(), EXPORT_DOMAIN.into());
            row.extend(detail_row(&unit.detail)?);
            row.insert("_pulp_domain".into(), EXPORT_DOMAIN.into());
            rows.push(row);
        }
        Ok(rows)
    })
}

fn import_content_rows<'a, T: ContentDetail>(
    app: &'a App,
    rows: &'a [Row],
) -> BoxFuture<'a, Result<Vec<(String, PulpId)>, ImportExportError>> {
    Box::pin(async move {
        let mut units = Vec::with_capacity(rows.len());
        let mut upstream = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row
                .get("upstream_id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ImportExportError::invalid(format!("a {} row has no upstream_id", T::PULP_TYPE))
                })?;
            upstream.push(id.to_string());
            units.push(detail_from_row::<T>(row)?);
        }
        let saved = models::save_content(app.db(), units)
            .await
            .map_err(|e| match e {
                models::ModelError::Invalid(errors) => ImportExportError::invalid(format!(
                    "{} rows do not validate: {errors}",
                    T::PULP_TYPE
                )),
                other => other.into(),
            })?;
        Ok(upstream
            .into_iter()
            .zip(saved.into_iter().map(|m| m.pulp_id()))
            .collect())
    })
}

/// The row pulpcore's `RepositoryResource` writes for a repository of any type.
pub(crate) fn repository_row(repository: &Repository) -> Row {
    let f = &repository.fields;
    let mut row = Row::new();
    row.insert("pulp_type".into(), repository.pulp_type.clone().into());
    row.insert("name".into(), f.name.clone().into());
    row.insert(
        "description".into(),
        render(&serde_json::json!(f.description)),
    );
    row.insert(
        "retain_repo_versions".into(),
        render(&serde_json::json!(f.retain_repo_versions)),
    );
    row.insert(
        "retain_checkpoints".into(),
        render(&serde_json::json!(f.retain_checkpoints)),
    );
    row.insert("user_hidden".into(), "0".into());
    row.insert("pulp_domain".into(), EXPORT_DOMAIN.into());
    row
}

fn export_repository_row<T: RepositoryType>(
    app: &App,
    id: PulpId,
) -> BoxFuture<'_, Result<Row, ImportExportError>> {
    Box::pin(async move {
        let model = models::get::<T>(app.db(), id).await?;
        let mut row = repository_row(&model.master);
        row.extend(detail_row(&model.detail)?);
        Ok(row)
    })
}

fn create_repository<'a, T: RepositoryType>(
    app: &'a App,
    row: &'a Row,
    name: &'a str,
) -> BoxFuture<'a, Result<PulpId, ImportExportError>> {
    Box::pin(async move {
        let detail = detail_from_row::<T>(row)?;
        let text = |key: &str| {
            row.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let number = |key: &str| text(key).and_then(|s| s.parse::<i64>().ok());
        let fields = RepositoryFields {
            name: name.to_string(),
            description: text("description"),
            retain_repo_versions: number("retain_repo_versions"),
            retain_checkpoints: number("retain_checkpoints"),
            remote_id: None,
        };
        let model = models::create::<T>(app.db(), Labels::new(), fields, detail).await?;
        Ok(model.pulp_id())
    })
}
