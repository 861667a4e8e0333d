//! Create bodies of the file plugin's objects, with the fields of Pulp's `file.*` request
//! schemas: parsed with [`parse_body`](pulp_plugin_api::validation::parse_body) (unknown
//! fields refused by name) and validated with the same checks the models run.

use pulp_plugin_api::models::{
    artifact_id_from_href, id_from_href, version_from_href, DistributionFields, Labels, Policy,
    RemoteFields, RepositoryFields,
};
use pulp_plugin_api::validation::{validate_relative_path, Body, Validate, ValidationErrors};
use pulp_plugin_api::PulpId;
use serde::Deserialize;

use crate::{FileDistribution, FilePublication, FileRemote, FileRepository, DEFAULT_MANIFEST};

fn default_true() -> bool {
    true
}

fn default_manifest() -> Option<String> {
    Some(DEFAULT_MANIFEST.to_string())
}

/// Body of `POST /pulp/api/v3/remotes/file/file/` (`file.FileRemote`). The secrets
/// (`client_key`, `username`, `password`, `proxy_username`, `proxy_password`) are accepted
/// here and never serialized back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileRemoteBody {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub pulp_labels: Labels,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub ca_cert: Option<String>,
    #[serde(default)]
    pub client_cert: Option<String>,
    #[serde(default)]
    pub client_key: Option<String>,
    #[serde(default = "default_true")]
    pub tls_validation: bool,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub proxy_username: Option<String>,
    #[serde(default)]
    pub proxy_password: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub max_retries: Option<i64>,
    #[serde(default)]
    pub total_timeout: Option<f64>,
    #[serde(default)]
    pub connect_timeout: Option<f64>,
    #[serde(default)]
    pub sock_connect_timeout: Option<f64>,
    #[serde(default)]
    pub sock_read_timeout: Option<f64>,
    #[serde(default)]
    pub headers: Vec<serde_json::Value>,
    #[serde(default)]
    pub download_concurrency: Option<i64>,
    #[serde(default)]
    pub rate_limit: Option<i64>,
}

impl FileRemoteBody {
    /// The labels, the remote's fields and the (empty) detail, ready for `models::create`.
    pub fn into_parts(self) -> (Labels, RemoteFields, FileRemote) {
        let fields = RemoteFields {
            name: self.name,
            url: self.url,
            policy: self.policy,
            ca_cert: self.ca_cert,
            client_cert: self.client_cert,
            client_key: self.client_key,
            tls_validation: self.tls_validation,
            proxy_url: self.proxy_url,
            proxy_username: self.proxy_username,
            proxy_password: self.proxy_password,
            username: self.username,
            password: self.password,
            max_retries: self.max_retries,
            total_timeout: self.total_timeout,
            connect_timeout: self.connect_timeout,
            sock_connect_timeout: self.sock_connect_timeout,
            sock_read_timeout: self.sock_read_timeout,
            headers: self.headers,
            download_concurrency: self.download_concurrency,
            rate_limit: self.rate_limit,
        };
        (self.pulp_labels, fields, FileRemote {})
    }
}

impl Validate for FileRemoteBody {
    fn validate(&self, errors: &mut ValidationErrors) {
        self.clone().into_parts().1.validate(errors);
    }
}

impl Body for FileRemoteBody {
    const FIELDS: &'static [&'static str] = &[
        "name",
        "url",
        "pulp_labels",
        "policy",
        "ca_cert",
        "client_cert",
        "client_key",
        "tls_validation",
        "proxy_url",
        "proxy_username",
        "proxy_password",
        "username",
        "password",
        "max_retries",
        "total_timeout",
        "connect_timeout",
        "sock_connect_timeout",
        "sock_read_timeout",
        "headers",
        "download_concurrency",
        "rate_limit",
    ];
}

/// Body of `POST /pulp/api/v3/repositories/file/file/` (`file.FileRepository`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileRepositoryBody {
    pub name: String,
    #[serde(default)]
    pub pulp_labels: Labels,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub retain_repo_versions: Option<i64>,
    #[serde(default)]
    pub retain_checkpoints: Option<i64>,
    /// Href of a file remote.
    #[serde(default)]
    pub remote: Option<String>,
    #[serde(default)]
    pub autopublish: bool,
    #[serde(default = "default_manifest")]
    pub manifest: Option<String>,
}

impl FileRepositoryBody {
    /// The labels, the repository's fields and its detail, ready for `models::create`
    /// (call after validation: an invalid remote href becomes no remote).
    pub fn into_parts(self) -> (Labels, RepositoryFields, FileRepository) {
        let remote_id = self.remote.as_deref().and_then(id_from_href::<FileRemote>);
        let fields = RepositoryFields {
            name: self.name,
            description: self.description,
            retain_repo_versions: self.retain_repo_versions,
            retain_checkpoints: self.retain_checkpoints,
            remote_id,
        };
        let detail = FileRepository {
            manifest: self.manifest,
            autopublish: self.autopublish,
        };
        (self.pulp_labels, fields, detail)
    }
}

impl Validate for FileRepositoryBody {
    fn validate(&self, errors: &mut ValidationErrors) {
        if let Some(remote) = &self.remote {
            if id_from_href::<FileRemote>(remote).is_none() {
                errors.add(
                    "remote",
                    format!("Invalid hyperlink - '{remote}' is not a file remote."),
                );
            }
        }
        let (_, fields, detail) = self.clone().into_parts();
        fields.validate(errors);
        detail.validate(errors);
    }
}

impl Body for FileRepositoryBody {
    const FIELDS: &'static [&'static str] = &[
        "name",
        "pulp_labels",
        "description",
        "retain_repo_versions",
        "retain_checkpoints",
        "remote",
        "autopublish",
        "manifest",
    ];
}

/// Body of `POST /pulp/api/v3/content/file/files/` (`file.FileContent`, JSON part).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileContentBody {
    pub relative_path: String,
    /// Href of an artifact holding the bytes.
    #[serde(default)]
    pub artifact: Option<String>,
    /// Href of an upload holding the bytes.
    #[serde(default)]
    pub upload: Option<String>,
    /// URL to download the bytes from.
    #[serde(default)]
    pub file_url: Option<String>,
    /// Href of a file repository to add the new unit to.
    #[serde(default)]
    pub repository: Option<String>,
    /// Whether the unit may replace one at the same path in that repository.
    #[serde(default)]
    pub overwrite: Option<bool>,
    #[serde(default)]
    pub pulp_labels: Labels,
}

impl FileContentBody {
    /// The artifact id named by `artifact` (after validation).
    pub fn artifact_id(&self) -> Option<PulpId> {
        self.artifact.as_deref().and_then(artifact_id_from_href)
    }

    /// The repository id named by `repository` (after validation).
    pub fn repository_id(&self) -> Option<PulpId> {
        self.repository
            .as_deref()
            .and_then(id_from_href::<FileRepository>)
    }
}

impl Validate for FileContentBody {
    fn validate(&self, errors: &mut ValidationErrors) {
        if let Err(e) = validate_relative_path(&self.relative_path) {
            errors.add("relative_path", e.to_string());
        }
        let sources = [
            self.artifact.is_some(),
            self.upload.is_some(),
            self.file_url.is_some(),
        ];
        match sources.iter().filter(|s| **s).count() {
            0 => {
                errors.add_non_field(
                    "One of 'artifact', 'file', 'upload' or 'file_url' is required.",
                );
            }
            1 => {}
            _ => {
                errors.add_non_field(
                    "Only one of 'artifact', 'file', 'upload' or 'file_url' may be given.",
                );
            }
        }
        if let Some(a) = &self.artifact {
            if artifact_id_from_href(a).is_none() {
                errors.add(
                    "artifact",
                    format!("Invalid hyperlink - '{a}' is not an artifact."),
                );
            }
        }
        if let Some(r) = &self.repository {
            if id_from_href::<FileRepository>(r).is_none() {
                errors.add(
                    "repository",
                    format!("Invalid hyperlink - '{r}' is not a file repository."),
                );
            }
        }
    }
}

impl Body for FileContentBody {
    const FIELDS: &'static [&'static str] = &[
        "relative_path",
        "artifact",
        "upload",
        "file_url",
        "repository",
        "overwrite",
        "pulp_labels",
    ];
}

/// Body of `POST /pulp/api/v3/publications/file/file/` (`file.FilePublication`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FilePublicationBody {
    /// Href of the version to publish…
    #[serde(default)]
    pub repository_version: Option<String>,
    /// …or of the repository whose latest version to publish.
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default = "default_manifest")]
    pub manifest: Option<String>,
    #[serde(default)]
    pub checkpoint: bool,
}

impl FilePublicationBody {
    /// `(repository, Some(version number))`, or `(repository, None)` for its latest version.
    pub fn target(&self) -> Option<(PulpId, Option<i64>)> {
        if let Some(v) = &self.repository_version {
            return version_from_href::<FileRepository>(v).map(|(r, n)| (r, Some(n)));
        }
        self.repository
            .as_deref()
            .and_then(id_from_href::<FileRepository>)
            .map(|r| (r, None))
    }

    /// The detail part.
    pub fn detail(&self) -> FilePublication {
        FilePublication {
            manifest: self.manifest.clone(),
        }
    }
}

impl Validate for FilePublicationBody {
    fn validate(&self, errors: &mut ValidationErrors) {
        match (&self.repository_version, &self.repository) {
            (Some(_), Some(_)) => {
                errors.add_non_field(
                    "Only one of 'repository' and 'repository_version' may be given.",
                );
            }
            (None, None) => {
                errors.add_non_field(
                    "Either the 'repository' or 'repository_version' need to be specified",
                );
            }
            (Some(v), None) if version_from_href::<FileRepository>(v).is_none() => {
                errors.add(
                    "repository_version",
                    format!("Invalid hyperlink - '{v}' is not a file repository version."),
                );
            }
            (None, Some(r)) if id_from_href::<FileRepository>(r).is_none() => {
                errors.add(
                    "repository",
                    format!("Invalid hyperlink - '{r}' is not a file repository."),
                );
            }
            _ => {}
        }
        self.detail().validate(errors);
    }
}

impl Body for FilePublicationBody {
    const FIELDS: &'static [&'static str] =
        &["repository_version", "repository", "manifest", "checkpoint"];
}

/// Body of `POST /pulp/api/v3/distributions/file/file/` (`file.FileDistribution`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileDistributionBody {
    pub name: String,
    pub base_path: String,
    #[serde(default)]
    pub content_guard: Option<String>,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub pulp_labels: Labels,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub repository_version: Option<String>,
    #[serde(default)]
    pub publication: Option<String>,
    #[serde(default)]
    pub checkpoint: bool,
}

impl FileDistributionBody {
    /// The labels, the distribution's fields (repository and publication ids; a version
    /// href's id must be resolved by the caller) and the detail.
    pub fn into_parts(self) -> (Labels, DistributionFields, FileDistribution) {
        let fields = DistributionFields {
            name: self.name,
            base_path: self.base_path,
            hidden: self.hidden,
            checkpoint: self.checkpoint,
            content_guard_id: None,
            repository_id: self
                .repository
                .as_deref()
                .and_then(id_from_href::<FileRepository>),
            repository_version_id: None,
            publication_id: self
                .publication
                .as_deref()
                .and_then(id_from_href::<FilePublication>),
        };
        (self.pulp_labels, fields, FileDistribution {})
    }
}

impl Validate for FileDistributionBody {
    fn validate(&self, errors: &mut ValidationErrors) {
        let given = [
            &self.repository,
            &self.repository_version,
            &self.publication,
        ];
        if given.iter().filter(|g| g.is_some()).count() > 1 {
            errors.add_non_field(
                "Only one of the attributes 'repository', 'repository_version' and 'publication' may be used simultaneously.",
            );
        }
        if let Some(r) = &self.repository {
            if id_from_href::<FileRepository>(r).is_none() {
                errors.add(
                    "repository",
                    format!("Invalid hyperlink - '{r}' is not a file repository."),
                );
            }
        }
        if let Some(v) = &self.repository_version {
            if version_from_href::<FileRepository>(v).is_none() {
                errors.add(
                    "repository_version",
                    format!("Invalid hyperlink - '{v}' is not a file repository version."),
                );
            }
        }
        if let Some(p) = &self.publication {
            if id_from_href::<FilePublication>(p).is_none() {
                errors.add(
                    "publication",
                    format!("Invalid hyperlink - '{p}' is not a file publication."),
                );
            }
        }
        let (_, mut fields, _) = self.clone().into_parts();
        // Only one source was checked above; the model check would repeat that message.
        fields.repository_id = None;
        fields.publication_id = None;
        fields.validate(errors);
    }
}

impl Body for FileDistributionBody {
    const FIELDS: &'static [&'static str] = &[
        "name",
        "base_path",
        "content_guard",
        "hidden",
        "pulp_labels",
        "repository",
        "repository_version",
        "publication",
        "checkpoint",
    ];
}
