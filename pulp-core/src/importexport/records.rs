//! The stored exporters, exports, importers and imports (tables of migration
//! `0012_import_export`; JSON documents kept as text).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ImportExportError;
use crate::db::{Database, PulpId};
use crate::models::ModelError;

/// Pulp's type of the Pulp exporter and importer.
pub const PULP_TYPE: &str = "core.pulp";
/// Pulp's type of the filesystem exporter.
pub const FILESYSTEM_TYPE: &str = "core.filesystem";

/// An exporter (`core.pulp` or `core.filesystem`).
#[derive(Debug, Clone, PartialEq)]
pub struct Exporter {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// When it was last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// `core.pulp` or `core.filesystem`.
    pub pulp_type: String,
    /// Unique name.
    pub name: String,
    /// The directory it writes to.
    pub path: String,
    /// A filesystem exporter's method.
    pub method: Option<String>,
    /// A Pulp exporter's repositories.
    pub repositories: Vec<PulpId>,
    /// A Pulp exporter's last successful export.
    pub last_export: Option<PulpId>,
}

/// An export run.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// When it was last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// Its exporter.
    pub exporter_id: PulpId,
    /// The task that ran it.
    pub task_id: Option<PulpId>,
    /// The parameters it was asked with.
    pub params: Value,
    /// Files written with their checksums.
    pub output_file_info: Option<Value>,
    /// The table of contents: file, sha256, meta.
    pub toc_info: Option<Value>,
    /// Hrefs of what was exported.
    pub exported_resources: Vec<String>,
}

/// An importer.
#[derive(Debug, Clone, PartialEq)]
pub struct Importer {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// When it was last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// Unique name.
    pub name: String,
    /// Export repository name → local repository name.
    pub repo_mapping: std::collections::BTreeMap<String, String>,
}

/// An import run.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// Its importer.
    pub importer_id: PulpId,
    /// The task that ran it.
    pub task_id: Option<PulpId>,
    /// The parameters it was asked with.
    pub params: Value,
}

fn json_text(value: &impl serde::Serialize) -> Result<String, ImportExportError> {
    serde_json::to_string(value).map_err(|e| {
        ImportExportError::Model(ModelError::Encode {
            field: "json".into(),
            message: e.to_string(),
        })
    })
}

fn from_text<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ImportExportError> {
    serde_json::from_str(text)
        .map_err(|e| ImportExportError::Model(ModelError::Decode(e.to_string())))
}

type ExporterRow = (
    PulpId,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<PulpId>,
);

const EXPORTER_COLUMNS: &str = "pulp_id, pulp_created, pulp_last_updated, pulp_type, name, path, method, repositories, last_export_id";

fn exporter_of(row: ExporterRow) -> Result<Exporter, ImportExportError> {
    Ok(Exporter {
        pulp_id: row.0,
        pulp_created: row.1,
        pulp_last_updated: row.2,
        pulp_type: row.3,
        name: row.4,
        path: row.5,
        method: row.6,
        repositories: from_text(&row.7)?,
        last_export: row.8,
    })
}

/// Whether `e` says a unique name is taken.
pub fn is_name_taken(e: &ImportExportError) -> bool {
    matches!(e, ImportExportError::Model(ModelError::Database(crate::db::DbError::Sqlx(sqlx::Error::Database(d)))) if d.is_unique_violation())
}

/// Stores a new exporter or replaces one (same id).
pub async fn save_exporter(db: &Database, exporter: &Exporter) -> Result<(), ImportExportError> {
    let repositories = json_text(&exporter.repositories)?;
    crate::on_pool!(db, pool => {
        sqlx::query(&format!(
            "INSERT INTO core_exporter ({EXPORTER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (pulp_id) DO UPDATE SET pulp_last_updated = excluded.pulp_last_updated, \
             name = excluded.name, path = excluded.path, method = excluded.method, \
             repositories = excluded.repositories, last_export_id = excluded.last_export_id"
        ))
        .bind(exporter.pulp_id)
        .bind(exporter.pulp_created)
        .bind(exporter.pulp_last_updated)
        .bind(exporter.pulp_type.clone())
        .bind(exporter.name.clone())
        .bind(exporter.path.clone())
        .bind(exporter.method.clone())
        .bind(repositories)
        .bind(exporter.last_export)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The exporter with this id and type.
pub async fn get_exporter(
    db: &Database,
    pulp_type: &str,
    id: PulpId,
) -> Result<Option<Exporter>, ImportExportError> {
    let row: Option<ExporterRow> = crate::on_pool!(db, pool => {
        sqlx::query_as(&format!("SELECT {EXPORTER_COLUMNS} FROM core_exporter WHERE pulp_id = $1 AND pulp_type = $2"))
            .bind(id)
            .bind(pulp_type.to_string())
            .fetch_optional(pool)
            .await?
    });
    row.map(exporter_of).transpose()
}

/// Exporters of a type, by name, with the total count.
pub async fn list_exporters(
    db: &Database,
    pulp_type: &str,
    name: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Exporter>), ImportExportError> {
    let (count, rows): (i64, Vec<ExporterRow>) = crate::on_pool!(db, pool => {
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM core_exporter WHERE pulp_type = $1 AND ($2 IS NULL OR name = $2)")
            .bind(pulp_type.to_string())
            .bind(name.map(str::to_string))
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query_as(&format!(
            "SELECT {EXPORTER_COLUMNS} FROM core_exporter WHERE pulp_type = $1 AND ($2 IS NULL OR name = $2) \
             ORDER BY name LIMIT $3 OFFSET $4"
        ))
        .bind(pulp_type.to_string())
        .bind(name.map(str::to_string))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        (count, rows)
    });
    Ok((
        count,
        rows.into_iter()
            .map(exporter_of)
            .collect::<Result<_, _>>()?,
    ))
}

/// Deletes an exporter (and its exports).
pub async fn delete_exporter(db: &Database, id: PulpId) -> Result<(), ImportExportError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_exporter WHERE pulp_id = $1").bind(id).execute(pool).await?;
    });
    Ok(())
}

type ExportRow = (
    PulpId,
    DateTime<Utc>,
    DateTime<Utc>,
    PulpId,
    Option<PulpId>,
    String,
    Option<String>,
    Option<String>,
    String,
);

const EXPORT_COLUMNS: &str = "pulp_id, pulp_created, pulp_last_updated, exporter_id, task_id, params, output_file_info, toc_info, exported_resources";

fn export_of(row: ExportRow) -> Result<Export, ImportExportError> {
    Ok(Export {
        pulp_id: row.0,
        pulp_created: row.1,
        pulp_last_updated: row.2,
        exporter_id: row.3,
        task_id: row.4,
        params: from_text(&row.5)?,
        output_file_info: row.6.as_deref().map(from_text).transpose()?,
        toc_info: row.7.as_deref().map(from_text).transpose()?,
        exported_resources: from_text(&row.8)?,
    })
}

/// Stores a new export or replaces one (same id).
pub async fn save_export(db: &Database, export: &Export) -> Result<(), ImportExportError> {
    let params = json_text(&export.params)?;
    let output = export
        .output_file_info
        .as_ref()
        .map(json_text)
        .transpose()?;
    let toc = export.toc_info.as_ref().map(json_text).transpose()?;
    let resources = json_text(&export.exported_resources)?;
    crate::on_pool!(db, pool => {
        sqlx::query(&format!(
            "INSERT INTO core_export ({EXPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (pulp_id) DO UPDATE SET pulp_last_updated = excluded.pulp_last_updated, \
             output_file_info = excluded.output_file_info, toc_info = excluded.toc_info, \
             exported_resources = excluded.exported_resources"
        ))
        .bind(export.pulp_id)
        .bind(export.pulp_created)
        .bind(export.pulp_last_updated)
        .bind(export.exporter_id)
        .bind(export.task_id)
        .bind(params)
        .bind(output)
        .bind(toc)
        .bind(resources)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The export with this id of this exporter.
pub async fn get_export(
    db: &Database,
    exporter: PulpId,
    id: PulpId,
) -> Result<Option<Export>, ImportExportError> {
    let row: Option<ExportRow> = crate::on_pool!(db, pool => {
        sqlx::query_as(&format!("SELECT {EXPORT_COLUMNS} FROM core_export WHERE pulp_id = $1 AND exporter_id = $2"))
            .bind(id)
            .bind(exporter)
            .fetch_optional(pool)
            .await?
    });
    row.map(export_of).transpose()
}

/// An exporter's exports, newest first, with the total count.
pub async fn list_exports(
    db: &Database,
    exporter: PulpId,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Export>), ImportExportError> {
    let (count, rows): (i64, Vec<ExportRow>) = crate::on_pool!(db, pool => {
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM core_export WHERE exporter_id = $1")
            .bind(exporter)
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query_as(&format!(
            "SELECT {EXPORT_COLUMNS} FROM core_export WHERE exporter_id = $1 \
             ORDER BY pulp_created DESC, pulp_id LIMIT $2 OFFSET $3"
        ))
        .bind(exporter)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        (count, rows)
    });
    Ok((
        count,
        rows.into_iter().map(export_of).collect::<Result<_, _>>()?,
    ))
}

/// Deletes an export record (its files stay).
pub async fn delete_export(db: &Database, id: PulpId) -> Result<(), ImportExportError> {
    crate::on_pool!(db, pool => {
        sqlx::query("UPDATE core_exporter SET last_export_id = NULL WHERE last_export_id = $1").bind(id).execute(pool).await?;
        sqlx::query("DELETE FROM core_export WHERE pulp_id = $1").bind(id).execute(pool).await?;
    });
    Ok(())
}

type ImporterRow = (PulpId, DateTime<Utc>, DateTime<Utc>, String, String);

fn importer_of(row: ImporterRow) -> Result<Importer, ImportExportError> {
    Ok(Importer {
        pulp_id: row.0,
        pulp_created: row.1,
        pulp_last_updated: row.2,
        name: row.3,
        repo_mapping: from_text(&row.4)?,
    })
}

/// Stores a new importer or replaces one (same id).
pub async fn save_importer(db: &Database, importer: &Importer) -> Result<(), ImportExportError> {
    let mapping = json_text(&importer.repo_mapping)?;
    crate::on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO core_importer (pulp_id, pulp_created, pulp_last_updated, pulp_type, name, repo_mapping) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (pulp_id) DO UPDATE SET pulp_last_updated = excluded.pulp_last_updated, \
             name = excluded.name, repo_mapping = excluded.repo_mapping",
        )
        .bind(importer.pulp_id)
        .bind(importer.pulp_created)
        .bind(importer.pulp_last_updated)
        .bind(PULP_TYPE)
        .bind(importer.name.clone())
        .bind(mapping)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The importer with this id.
pub async fn get_importer(
    db: &Database,
    id: PulpId,
) -> Result<Option<Importer>, ImportExportError> {
    let row: Option<ImporterRow> = crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT pulp_id, pulp_created, pulp_last_updated, name, repo_mapping FROM core_importer WHERE pulp_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    row.map(importer_of).transpose()
}

/// Importers by name, with the total count.
pub async fn list_importers(
    db: &Database,
    name: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Importer>), ImportExportError> {
    let (count, rows): (i64, Vec<ImporterRow>) = crate::on_pool!(db, pool => {
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM core_importer WHERE ($1 IS NULL OR name = $1)")
            .bind(name.map(str::to_string))
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query_as(
            "SELECT pulp_id, pulp_created, pulp_last_updated, name, repo_mapping FROM core_importer \
             WHERE ($1 IS NULL OR name = $1) ORDER BY name LIMIT $2 OFFSET $3",
        )
        .bind(name.map(str::to_string))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        (count, rows)
    });
    Ok((
        count,
        rows.into_iter()
            .map(importer_of)
            .collect::<Result<_, _>>()?,
    ))
}

/// Deletes an importer (and its imports).
pub async fn delete_importer(db: &Database, id: PulpId) -> Result<(), ImportExportError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_importer WHERE pulp_id = $1").bind(id).execute(pool).await?;
    });
    Ok(())
}

type ImportRow = (PulpId, DateTime<Utc>, PulpId, Option<PulpId>, String);

fn import_of(row: ImportRow) -> Result<Import, ImportExportError> {
    Ok(Import {
        pulp_id: row.0,
        pulp_created: row.1,
        importer_id: row.2,
        task_id: row.3,
        params: from_text(&row.4)?,
    })
}

/// Stores a new import.
pub async fn save_import(db: &Database, import: &Import) -> Result<(), ImportExportError> {
    let params = json_text(&import.params)?;
    crate::on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO core_import (pulp_id, pulp_created, pulp_last_updated, importer_id, task_id, params) \
             VALUES ($1, $2, $2, $3, $4, $5)",
        )
        .bind(import.pulp_id)
        .bind(import.pulp_created)
        .bind(import.importer_id)
        .bind(import.task_id)
        .bind(params)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The import with this id of this importer.
pub async fn get_import(
    db: &Database,
    importer: PulpId,
    id: PulpId,
) -> Result<Option<Import>, ImportExportError> {
    let row: Option<ImportRow> = crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT pulp_id, pulp_created, importer_id, task_id, params FROM core_import WHERE pulp_id = $1 AND importer_id = $2")
            .bind(id)
            .bind(importer)
            .fetch_optional(pool)
            .await?
    });
    row.map(import_of).transpose()
}

/// An importer's imports, newest first, with the total count.
pub async fn list_imports(
    db: &Database,
    importer: PulpId,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Import>), ImportExportError> {
    let (count, rows): (i64, Vec<ImportRow>) = crate::on_pool!(db, pool => {
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM core_import WHERE importer_id = $1")
            .bind(importer)
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query_as(
            "SELECT pulp_id, pulp_created, importer_id, task_id, params FROM core_import \
             WHERE importer_id = $1 ORDER BY pulp_created DESC, pulp_id LIMIT $2 OFFSET $3",
        )
        .bind(importer)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        (count, rows)
    });
    Ok((
        count,
        rows.into_iter().map(import_of).collect::<Result<_, _>>()?,
    ))
}

/// Deletes an import record.
pub async fn delete_import(db: &Database, id: PulpId) -> Result<(), ImportExportError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_import WHERE pulp_id = $1").bind(id).execute(pool).await?;
    });
    Ok(())
}
