//! What publishers and exporters read from a version: each content artifact of its units
//! of one type, with the unit, its relative path, and its artifact or remote artifacts.
//! Plugins get it typed; the tables it joins stay pulp-core's.

use super::version::IN_VERSION;
use super::{RepositoryVersion, VersionError};
use crate::db::{Database, PulpId};
use crate::models::sql::{qualified, read_values};
use crate::models::{from_values, ColumnType, ContentDetail, ModelError, SqlValue};
use crate::on_pool;

/// A content artifact of a unit of type `T` in a repository version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionContentArtifact<T> {
    /// The unit's id.
    pub content_id: PulpId,
    /// The unit.
    pub content: T,
    /// The content artifact's id (what `core_publishedartifact` rows name).
    pub content_artifact_id: PulpId,
    /// Where the artifact sits in the repository (and in publications).
    pub relative_path: String,
    /// Its artifact, when downloaded (none while on_demand or streamed).
    pub artifact_id: Option<PulpId>,
    /// Its size: the artifact's, otherwise the largest its remote artifacts declare; none
    /// when neither says.
    pub size: Option<i64>,
}

/// The leading columns every row has, before the unit's own.
const LEADING: [ColumnType; 5] = [
    ColumnType::Id,
    ColumnType::Id,
    ColumnType::Text,
    ColumnType::Id,
    ColumnType::Int,
];

/// Every content artifact of the units of type `T` in `version`, in no particular order
/// (one query, whatever the version's size).
pub async fn version_content_artifacts<T: ContentDetail>(
    db: &Database,
    version: &RepositoryVersion,
) -> Result<Vec<VersionContentArtifact<T>>, VersionError> {
    let detail = qualified("d", T::COLUMNS);
    let sql = format!(
        "SELECT ca.content_id, ca.pulp_id, ca.relative_path, ca.artifact_id, \
         COALESCE(a.size, (SELECT MAX(ra.size) FROM core_remoteartifact ra \
             WHERE ra.content_artifact_id = ca.pulp_id)){}{} \
         FROM core_repositorycontent rc \
         JOIN core_contentartifact ca ON ca.content_id = rc.content_id \
         JOIN {} d ON d.pulp_id = rc.content_id \
         LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
         WHERE {IN_VERSION}",
        if detail.is_empty() { "" } else { ", " },
        detail.join(", "),
        T::TABLE,
    );
    let types: Vec<ColumnType> = LEADING
        .iter()
        .copied()
        .chain(T::COLUMNS.iter().map(|c| c.ty))
        .collect();
    let rows: Vec<Vec<SqlValue>> = on_pool!(db, pool => {
        let rows = sqlx::query(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|row| read_values!(row, &types))
            .collect::<Result<_, sqlx::Error>>()?
    });
    rows.into_iter().map(decode::<T>).collect()
}

fn decode<T: ContentDetail>(
    mut values: Vec<SqlValue>,
) -> Result<VersionContentArtifact<T>, VersionError> {
    let content = from_values(T::COLUMNS, values.split_off(LEADING.len()))?;
    let mut leading = values.into_iter();
    let bad = || VersionError::Model(ModelError::Decode("a content artifact row".into()));
    let (
        Some(SqlValue::Id(Some(content_id))),
        Some(SqlValue::Id(Some(content_artifact_id))),
        Some(SqlValue::Text(Some(relative_path))),
        Some(SqlValue::Id(artifact_id)),
        Some(SqlValue::Int(size)),
    ) = (
        leading.next(),
        leading.next(),
        leading.next(),
        leading.next(),
        leading.next(),
    )
    else {
        return Err(bad());
    };
    Ok(VersionContentArtifact {
        content_id,
        content,
        content_artifact_id,
        relative_path,
        artifact_id,
        size,
    })
}

/// Whether a unit of `version` has a content artifact not downloaded yet (an on_demand
/// sync's, or one whose artifact was reclaimed): an optimized immediate sync must not be
/// skipped then. One `EXISTS` query.
pub async fn version_lacks_artifacts(
    db: &Database,
    version: &RepositoryVersion,
) -> Result<bool, VersionError> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM core_repositorycontent rc \
         JOIN core_contentartifact ca ON ca.content_id = rc.content_id \
         WHERE {IN_VERSION} AND ca.artifact_id IS NULL)"
    );
    let lacking: bool = on_pool!(db, pool => {
        sqlx::query_scalar(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .fetch_one(pool)
            .await?
    });
    Ok(lacking)
}
