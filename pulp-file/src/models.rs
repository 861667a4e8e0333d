//! The file plugin's detail types, with the fields of Pulp's `file.*` schemas.

use pulp_plugin_api::models;
use pulp_plugin_api::models::{
    Artifact, Column, ContentDetail, ContentKind, Detail, DistributionKind, PublicationKind,
    RemoteKind, RepositoryKind, SingleArtifactContent,
};
use pulp_plugin_api::repository::{NewVersion, RepositoryType, RepositoryVersion, VersionError};
use pulp_plugin_api::validation::{validate_relative_path, Validate, ValidationErrors};
use pulp_plugin_api::App;
use serde::{Deserialize, Serialize};

use crate::DEFAULT_MANIFEST;

/// A file: where it sits in the repository and the sha256 of its bytes (`file.file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileContent {
    /// Path of the file in the repository (and in publications).
    pub relative_path: String,
    /// sha256 of the file, lower-case hex.
    pub digest: String,
}

impl Validate for FileContent {
    fn validate(&self, errors: &mut ValidationErrors) {
        if let Err(e) = validate_relative_path(&self.relative_path) {
            errors.add("relative_path", e.to_string());
        }
        if self.digest.len() != 64
            || !self
                .digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            errors.add(
                "digest",
                format!("'{}' is not a lower-case hex sha256 digest.", self.digest),
            );
        }
    }
}

impl Detail for FileContent {
    type Kind = ContentKind;
    const PULP_TYPE: &'static str = "file.file";
    const TABLE: &'static str = "file_filecontent";
    const COLUMNS: &'static [Column] = &[Column::text("relative_path"), Column::text("digest")];
    const PRN_MODEL: &'static str = "file.filecontent";
    const ENDPOINT: &'static str = "file/files";
    const API_FILTERS: &'static [(&'static str, &'static str)] = &[
        ("relative_path", "relative_path"),
        ("sha256", "digest"),
        ("digest", "digest"),
    ];

    /// Pulp shows a file's digest as `sha256`.
    fn api_response(response: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some(digest) = response.remove("digest") {
            response.insert("sha256".into(), digest);
        }
    }
}

impl ContentDetail for FileContent {
    const NATURAL_KEY: &'static [&'static str] = &["relative_path", "digest"];
    const REPO_KEY: &'static [&'static str] = &["relative_path"];
}

impl SingleArtifactContent for FileContent {
    /// A file is its artifact at a relative path; it has no other fields.
    fn from_artifact(
        artifact: &Artifact,
        relative_path: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = match Self::check_fields(fields) {
            Ok(()) => ValidationErrors::new(),
            Err(errors) => errors,
        };
        let unit = FileContent {
            relative_path: relative_path.to_string(),
            digest: artifact.sha256().to_string(),
        };
        unit.validate(&mut errors);
        errors.into_result()?;
        Ok(unit)
    }

    /// A file has no fields besides its relative path and artifact.
    fn check_fields(
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        for name in fields.keys() {
            errors.add(name, "Unexpected field");
        }
        errors.into_result()
    }
}

/// A remote serving a `PULP_MANIFEST` (`file.file`); all its fields are the remote's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRemote {}

impl Validate for FileRemote {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for FileRemote {
    type Kind = RemoteKind;
    const PULP_TYPE: &'static str = "file.file";
    const TABLE: &'static str = "file_fileremote";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "file.fileremote";
    const ENDPOINT: &'static str = "file/file";
}

/// A file repository (`file.file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileRepository {
    /// Name of the manifest its publications get (default `PULP_MANIFEST`).
    pub manifest: Option<String>,
    /// Whether each new version is published automatically.
    pub autopublish: bool,
    /// What the last sync was made from (read-only; an optimized sync compares it).
    pub last_sync_details: serde_json::Value,
}

impl Default for FileRepository {
    fn default() -> Self {
        Self {
            manifest: Some(DEFAULT_MANIFEST.to_string()),
            autopublish: false,
            last_sync_details: serde_json::Value::Object(Default::default()),
        }
    }
}

/// Checks a manifest name: one path, relative, confined.
fn validate_manifest(manifest: &Option<String>, errors: &mut ValidationErrors) {
    if let Some(name) = manifest {
        if let Err(e) = validate_relative_path(name) {
            errors.add("manifest", e.to_string());
        }
    }
}

impl Validate for FileRepository {
    fn validate(&self, errors: &mut ValidationErrors) {
        validate_manifest(&self.manifest, errors);
    }
}

impl Detail for FileRepository {
    type Kind = RepositoryKind;
    const PULP_TYPE: &'static str = "file.file";
    const TABLE: &'static str = "file_filerepository";
    const COLUMNS: &'static [Column] = &[
        Column::text("manifest"),
        Column::bool("autopublish"),
        Column::json("last_sync_details"),
    ];
    const READ_ONLY_COLUMNS: &'static [&'static str] = &["last_sync_details"];
    const PRN_MODEL: &'static str = "file.filerepository";
    const ENDPOINT: &'static str = "file/file";
}

impl RepositoryType for FileRepository {
    const CONTENT_TYPES: &'static [&'static str] = &["file.file"];

    /// Pulp's repo-key de-duplication: a file added at a `relative_path` replaces the file
    /// that was there; two added files at one path are refused.
    async fn finalize_new_version(version: &mut NewVersion) -> Result<(), VersionError> {
        version.remove_duplicates::<FileContent>().await
    }

    /// Autopublish: a repository with `autopublish: true` gets a publication of each new
    /// version (with the repository's manifest name).
    async fn on_new_version(app: &App, version: &RepositoryVersion) -> Result<(), VersionError> {
        let repository = models::get::<FileRepository>(app.db(), version.repository_id).await?;
        if repository.detail.autopublish {
            crate::publish::publish(app, version.pulp_id, None)
                .await
                .map_err(|e| VersionError::Refused(format!("autopublish failed: {e}")))?;
        }
        Ok(())
    }
}

/// A publication of a file repository version (`file.file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilePublication {
    /// Name of the manifest file written (default `PULP_MANIFEST`).
    pub manifest: Option<String>,
}

impl Default for FilePublication {
    fn default() -> Self {
        Self {
            manifest: Some(DEFAULT_MANIFEST.to_string()),
        }
    }
}

impl Validate for FilePublication {
    fn validate(&self, errors: &mut ValidationErrors) {
        validate_manifest(&self.manifest, errors);
    }
}

impl Detail for FilePublication {
    type Kind = PublicationKind;
    const PULP_TYPE: &'static str = "file.file";
    const TABLE: &'static str = "file_filepublication";
    const COLUMNS: &'static [Column] = &[Column::text("manifest")];
    const PRN_MODEL: &'static str = "file.filepublication";
    const ENDPOINT: &'static str = "file/file";
}

/// A distribution of file content (`file.file`); all its fields are the distribution's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDistribution {}

impl Validate for FileDistribution {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for FileDistribution {
    type Kind = DistributionKind;
    const PULP_TYPE: &'static str = "file.file";
    const TABLE: &'static str = "file_filedistribution";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "file.filedistribution";
    const ENDPOINT: &'static str = "file/file";
}
