//! Moving repositories between servers as pulpcore 3.123 does: the Pulp export (a tar,
//! optionally chunked, with a `-toc.json`), its import, and the filesystem export.
//!
//! HTTP-free: the REST layer (`api::importexport`) stores exporters and importers and dispatches
//! the tasks; this module writes and reads the files. The export format is pulpcore's:
//! `versions.json`, the artifacts at `artifact/<sha256[:2]>/<sha256[2:]>`, the model
//! resources as JSON (`pulpcore.app.modelresource.ArtifactResource.json`, …) and, per
//! repository version, `repository-<name>_<number>/` with the plugin's resources (declared
//! through [`Registry::export_content`](crate::Registry::export_content) and
//! [`Registry::export_repository`](crate::Registry::export_repository)) and
//! `pulpcore.app.modelresource.ContentArtifactResource.json`.

mod chunks;
mod error;
mod export;
mod filesystem;
mod import;
mod paths;
pub mod records;
mod resource;

pub use chunks::{ChunkedReader, ChunkedWriter, TableOfContents};
pub use error::ImportExportError;
pub use export::{export_versions, ExportOutput, ExportRequest};
pub use filesystem::{filesystem_export, FilesystemMethod, FilesystemSource};
pub use import::{
    check_versions, import_repository_version, prepare_import, read_export, ExportContents,
    ExportFiles, ImportPlan, RepositoryImport,
};
pub use paths::{allowed_path, PathKind};
pub use resource::{
    ContentResource, ImportExportResources, RepositoryResource, Row, ARTIFACT_RESOURCE,
    CONTENT_ARTIFACT_RESOURCE, REPOSITORY_RESOURCE,
};
