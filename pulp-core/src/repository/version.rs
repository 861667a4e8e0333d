//! [`RepositoryVersion`] and the queries reading versions and their content.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::VersionError;
use crate::db::{Database, PulpId};
use crate::models::sql::{bind_all, placeholders};
use crate::models::{get_many, ContentDetail, Model, SqlValue};
use crate::on_pool;

/// Units per content type, as a version's `content_summary` counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionCounts {
    /// Units added by this version, per `pulp_type`.
    pub added: BTreeMap<String, i64>,
    /// Units removed by this version, per `pulp_type`.
    pub removed: BTreeMap<String, i64>,
    /// Units in this version, per `pulp_type`.
    pub present: BTreeMap<String, i64>,
}

impl VersionCounts {
    /// Units in the version, all types together.
    pub fn total(&self) -> i64 {
        self.present.values().sum()
    }
}

/// One immutable version of a repository.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryVersion {
    /// Its id.
    pub pulp_id: PulpId,
    /// Its repository.
    pub repository_id: PulpId,
    /// Its number (0 for the empty version made with the repository).
    pub number: i64,
    /// Whether it is complete (only complete versions are ever returned).
    pub complete: bool,
    /// The version it was made from.
    pub base_version_id: Option<PulpId>,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// Its counts per content type.
    pub counts: VersionCounts,
}

impl RepositoryVersion {
    /// Its PRN.
    pub fn prn(&self) -> String {
        crate::models::prn("core.repositoryversion", self.pulp_id)
    }
}

pub(crate) type VersionRow = (
    PulpId,
    PulpId,
    i64,
    bool,
    Option<PulpId>,
    DateTime<Utc>,
    sqlx::types::Json<VersionCounts>,
);

pub(crate) const VERSION_COLUMNS: &str =
    "pulp_id, repository_id, number, complete, base_version_id, pulp_created, info";

pub(crate) fn from_row(row: VersionRow) -> RepositoryVersion {
    RepositoryVersion {
        pulp_id: row.0,
        repository_id: row.1,
        number: row.2,
        complete: row.3,
        base_version_id: row.4,
        pulp_created: row.5,
        counts: row.6 .0,
    }
}

/// The complete version with this id.
pub async fn get_version_by_id(
    db: &Database,
    id: PulpId,
) -> Result<RepositoryVersion, VersionError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM core_repositoryversion WHERE pulp_id = $1 AND complete"
    );
    let row: Option<VersionRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    row.map(from_row).ok_or(VersionError::NoSuchVersion {
        repository: id,
        number: -1,
    })
}

/// Version `number` of the repository.
pub async fn get_version(
    db: &Database,
    repository: PulpId,
    number: i64,
) -> Result<RepositoryVersion, VersionError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM core_repositoryversion WHERE repository_id = $1 AND number = $2 AND complete"
    );
    let row: Option<VersionRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(repository).bind(number).fetch_optional(pool).await?
    });
    row.map(from_row)
        .ok_or(VersionError::NoSuchVersion { repository, number })
}

/// The latest complete version of the repository.
pub async fn latest_version(
    db: &Database,
    repository: PulpId,
) -> Result<RepositoryVersion, VersionError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM core_repositoryversion WHERE repository_id = $1 AND complete \
         ORDER BY number DESC LIMIT 1"
    );
    let row: Option<VersionRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(repository).fetch_optional(pool).await?
    });
    row.map(from_row).ok_or(VersionError::NoSuchVersion {
        repository,
        number: -1,
    })
}

/// Every complete version of the repository, newest first.
pub async fn list_versions(
    db: &Database,
    repository: PulpId,
) -> Result<Vec<RepositoryVersion>, VersionError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM core_repositoryversion WHERE repository_id = $1 AND complete \
         ORDER BY number DESC"
    );
    let rows: Vec<VersionRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(repository).fetch_all(pool).await?
    });
    Ok(rows.into_iter().map(from_row).collect())
}

/// SQL condition: `rc` row is in version `$2` of repository `$1`. (The unary `+` keeps
/// SQLite from ranging over the `version_added` index and sorting the whole version: it
/// walks the primary key in `content_id` order and stops after one page.)
pub(crate) const IN_VERSION: &str = "rc.repository_id = $1 AND +rc.version_added <= $2 \
     AND (rc.version_removed IS NULL OR rc.version_removed > $2)";

/// One page of the ids of the units in `version`, ordered by id.
/// Costs O(limit + offset) whatever the size of the version.
pub async fn version_content_ids(
    db: &Database,
    version: &RepositoryVersion,
    limit: i64,
    offset: i64,
) -> Result<Vec<PulpId>, VersionError> {
    let sql = format!(
        "SELECT rc.content_id FROM core_repositorycontent rc WHERE {IN_VERSION} \
         ORDER BY rc.content_id LIMIT $3 OFFSET $4"
    );
    let ids: Vec<PulpId> = on_pool!(db, pool => {
        sqlx::query_scalar(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?
    });
    Ok(ids)
}

/// One page of the ids of the units of type `pulp_type` in `version`, ordered by id.
pub async fn version_content_of_type(
    db: &Database,
    version: &RepositoryVersion,
    pulp_type: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<PulpId>, VersionError> {
    let sql = format!(
        "SELECT rc.content_id FROM core_repositorycontent rc CROSS JOIN core_content c \
         WHERE {IN_VERSION} AND c.pulp_id = rc.content_id AND c.pulp_type = $5 \
         ORDER BY rc.content_id LIMIT $3 OFFSET $4"
    );
    let ids: Vec<PulpId> = on_pool!(db, pool => {
        sqlx::query_scalar(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .bind(limit)
            .bind(offset)
            .bind(pulp_type.to_string())
            .fetch_all(pool)
            .await?
    });
    Ok(ids)
}

/// One page of the units of type `T` in `version`, ordered by id.
pub async fn version_content<T: ContentDetail>(
    db: &Database,
    version: &RepositoryVersion,
    limit: i64,
    offset: i64,
) -> Result<Vec<Model<T>>, VersionError> {
    let ids = version_content_of_type(db, version, T::PULP_TYPE, limit, offset).await?;
    Ok(get_many::<T>(db, &ids).await?)
}

/// Whether each of `ids` is in `version` (same order).
pub async fn contains(
    db: &Database,
    version: &RepositoryVersion,
    ids: &[PulpId],
) -> Result<Vec<bool>, VersionError> {
    let mut present = std::collections::HashSet::new();
    for chunk in ids.chunks(10_000) {
        let sql = format!(
            "SELECT rc.content_id FROM core_repositorycontent rc WHERE {IN_VERSION} AND rc.content_id IN ({})",
            placeholders(3, chunk.len())
        );
        let found: Vec<PulpId> = on_pool!(db, pool => {
            let binds = [SqlValue::Id(Some(version.repository_id)), SqlValue::Int(Some(version.number))]
                .into_iter()
                .chain(chunk.iter().map(|id| SqlValue::Id(Some(*id))));
            bind_all!(db.backend(), sqlx::query_scalar, &sql, binds, |q| q.fetch_all(pool).await?)
        });
        present.extend(found);
    }
    Ok(ids.iter().map(|id| present.contains(id)).collect())
}

/// One page of the ids of the units in `version` that come after `after` (by id), for
/// keyset pagination: O(limit) at any depth, where an offset costs O(offset).
pub async fn version_content_ids_after(
    db: &Database,
    version: &RepositoryVersion,
    after: Option<PulpId>,
    limit: i64,
) -> Result<Vec<PulpId>, VersionError> {
    let sql = match after {
        Some(_) => format!(
            "SELECT rc.content_id FROM core_repositorycontent rc WHERE {IN_VERSION} \
             AND rc.content_id > $4 ORDER BY rc.content_id LIMIT $3"
        ),
        None => format!(
            "SELECT rc.content_id FROM core_repositorycontent rc WHERE {IN_VERSION} \
             ORDER BY rc.content_id LIMIT $3"
        ),
    };
    let ids: Vec<PulpId> = on_pool!(db, pool => {
        let mut q = sqlx::query_scalar(&sql)
            .bind(version.repository_id)
            .bind(version.number)
            .bind(limit);
        if let Some(after) = after {
            q = q.bind(after);
        }
        q.fetch_all(pool).await?
    });
    Ok(ids)
}
