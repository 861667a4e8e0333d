//! [`SingleArtifactContent`]: content types whose units are one file (an artifact at a
//! relative path), which the REST API can create from an uploaded file, a chunked upload or
//! an existing artifact (`POST /content/<plugin>/<type>/`).

use serde_json::{Map, Value};

use super::{Artifact, ContentDetail};
use crate::validation::ValidationErrors;

/// A content type made of exactly one artifact.
pub trait SingleArtifactContent: ContentDetail {
    /// The unit for `artifact` at `relative_path` (already checked to be a safe relative
    /// path); `fields` are the request's other fields (those the core does not handle:
    /// anything besides `relative_path`, `artifact`, `file`, `upload`, `file_url`,
    /// `repository`, `pulp_labels` and `overwrite`). Unknown or invalid fields are errors
    /// by field name.
    fn from_artifact(
        artifact: &Artifact,
        relative_path: &str,
        fields: &Map<String, Value>,
    ) -> Result<Self, ValidationErrors>;

    /// Checks the request's other fields before any file is stored (the API answers 400 at
    /// once instead of failing the task later). The default accepts everything and leaves
    /// the checks to [`SingleArtifactContent::from_artifact`].
    fn check_fields(_fields: &Map<String, Value>) -> Result<(), ValidationErrors> {
        Ok(())
    }
}
