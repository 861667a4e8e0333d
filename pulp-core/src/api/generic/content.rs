//! Content lists by repository version: `repository_version`, `repository_version_added`,
//! `repository_version_removed`.

use super::refs::parse_version;
use crate::api::list::{QueryParams, SqlValue, SqlWhere};
use crate::api::openapi::{FieldType, Param};
use crate::api::ApiError;
use crate::app::App;

/// The query parameters of [`version_filters`].
pub fn version_filter_params() -> Vec<Param> {
    vec![
        Param::query(
            "repository_version",
            FieldType::Href,
            "Repository Version referenced by HREF/PRN",
        ),
        Param::query(
            "repository_version_added",
            FieldType::Href,
            "Repository Version referenced by HREF/PRN",
        ),
        Param::query(
            "repository_version_removed",
            FieldType::Href,
            "Repository Version referenced by HREF/PRN",
        ),
    ]
}

/// Restricts `m.pulp_id` (content) to the units present in, added by or removed by a version.
pub async fn version_filters(
    app: &App,
    filter: &mut SqlWhere,
    query: &QueryParams,
) -> Result<(), ApiError> {
    for (param, condition) in [
        (
            "repository_version",
            "version_added <= ? AND (version_removed IS NULL OR version_removed > ?)",
        ),
        ("repository_version_added", "version_added = ? AND 0 = ?"),
        (
            "repository_version_removed",
            "version_removed = ? AND 0 = ?",
        ),
    ] {
        let Some(reference) = query.get(param) else {
            continue;
        };
        let (repository, number) = parse_version(app, reference)
            .ok_or_else(|| ApiError::field(param, "Invalid hyperlink - No URL match."))?;
        let zero_or_number = if param == "repository_version" {
            number
        } else {
            0
        };
        filter.add(
            &format!(
                "m.pulp_id IN (SELECT content_id FROM core_repositorycontent WHERE repository_id = ? AND {condition})"
            ),
            [
                SqlValue::Id(Some(repository)),
                SqlValue::Int(Some(number)),
                SqlValue::Int(Some(zero_or_number)),
            ],
        );
    }
    Ok(())
}
