//! Deleting a version (its changes fold into the next one) and `retain_repo_versions`.

use std::collections::BTreeMap;

use chrono::Utc;

use super::version::{from_row, VersionRow, VERSION_COLUMNS};
use super::{VersionCounts, VersionError};
use crate::db::{Backend, Database, PulpId};
use crate::models::sql::{bind_all, placeholders};
use crate::models::SqlValue;
use crate::on_tx;

/// Deletes version `number` of the repository. Every other version keeps exactly its
/// content: the deleted version's changes are folded into the next version (a unit it
/// added counts as added by the next; one it added and the next removed disappears from
/// both), or dropped when it is the latest. The only version of a repository cannot be
/// deleted. Costs O(changes of the two versions).
pub async fn delete_version(
    db: &Database,
    repository: PulpId,
    number: i64,
) -> Result<(), VersionError> {
    let mut tx = db.begin_write().await?;
    let lock = match db.backend() {
        Backend::Postgres => {
            "SELECT next_version FROM core_repository WHERE pulp_id = $1 FOR UPDATE"
        }
        Backend::Sqlite => "SELECT next_version FROM core_repository WHERE pulp_id = $1",
    };
    let select = format!(
        "SELECT {VERSION_COLUMNS} FROM core_repositoryversion WHERE repository_id = $1 AND complete \
         AND number >= $2 ORDER BY number LIMIT 2"
    );
    let (locked, rows, complete): (Option<i64>, Vec<VersionRow>, i64) = on_tx!(&mut tx, conn => {
        let locked = sqlx::query_scalar(lock).bind(repository).fetch_optional(&mut *conn).await?;
        let rows = sqlx::query_as(&select).bind(repository).bind(number).fetch_all(&mut *conn).await?;
        let complete = sqlx::query_scalar(
            "SELECT COUNT(*) FROM core_repositoryversion WHERE repository_id = $1 AND complete",
        )
        .bind(repository)
        .fetch_one(&mut *conn)
        .await?;
        (locked, rows, complete)
    });
    let mut rows = rows.into_iter().map(from_row);
    let version = match (locked, rows.next()) {
        (Some(_), Some(v)) if v.number == number => v,
        _ => return Err(VersionError::NoSuchVersion { repository, number }),
    };
    if complete <= 1 {
        return Err(VersionError::OnlyVersion { number });
    }
    let next = rows.next();
    let (r, n) = (repository, number);
    match &next {
        Some(next) => {
            let m = next.number;
            // A unit removed by N and added back by M: one stretch, as if never removed.
            let readded: Vec<(PulpId, Option<i64>)> = on_tx!(&mut tx, conn => {
                sqlx::query_as(
                    "SELECT b.content_id, b.version_removed FROM core_repositorycontent b \
                     JOIN core_repositorycontent a ON a.repository_id = b.repository_id \
                       AND a.content_id = b.content_id AND a.version_removed = $2 \
                     WHERE b.repository_id = $1 AND b.version_added = $3",
                )
                .bind(r).bind(n).bind(m).fetch_all(&mut *conn).await?
            });
            let mut by_end: BTreeMap<Option<i64>, Vec<PulpId>> = BTreeMap::new();
            for (id, end) in readded {
                by_end.entry(end).or_default().push(id);
            }
            for (end, ids) in by_end {
                for chunk in ids.chunks(10_000) {
                    let list = placeholders(4, chunk.len());
                    let binds = || {
                        [
                            SqlValue::Id(Some(r)),
                            SqlValue::Int(Some(n)),
                            SqlValue::Int(Some(m)),
                        ]
                        .into_iter()
                        .chain(chunk.iter().map(|id| SqlValue::Id(Some(*id))))
                    };
                    let drop_b = format!(
                        "DELETE FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $3 \
                         AND content_id IN ({list})"
                    );
                    let extend_a = format!(
                        "UPDATE core_repositorycontent SET version_removed = ${} WHERE repository_id = $1 \
                         AND version_removed = $2 AND content_id IN ({list})",
                        4 + chunk.len()
                    );
                    on_tx!(&mut tx, conn => {
                        bind_all!(db.backend(), sqlx::query, &drop_b, binds(), |q| q.execute(&mut *conn).await?);
                        bind_all!(db.backend(), sqlx::query, &extend_a, binds().chain([SqlValue::Int(end)]), |q| q.execute(&mut *conn)
                            .await?);
                    });
                }
            }
            on_tx!(&mut tx, conn => {
                // Added by N, removed by M: in no remaining version.
                sqlx::query(
                    "DELETE FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $2 \
                     AND version_removed = $3",
                )
                .bind(r).bind(n).bind(m).execute(&mut *conn).await?;
                sqlx::query("UPDATE core_repositorycontent SET version_added = $3 WHERE repository_id = $1 AND version_added = $2")
                    .bind(r).bind(n).bind(m).execute(&mut *conn).await?;
                sqlx::query("UPDATE core_repositorycontent SET version_removed = $3 WHERE repository_id = $1 AND version_removed = $2")
                    .bind(r).bind(n).bind(m).execute(&mut *conn).await?;
            });
        }
        None => {
            on_tx!(&mut tx, conn => {
                sqlx::query("DELETE FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $2")
                    .bind(r).bind(n).execute(&mut *conn).await?;
                sqlx::query("UPDATE core_repositorycontent SET version_removed = NULL WHERE repository_id = $1 AND version_removed = $2")
                    .bind(r).bind(n).execute(&mut *conn).await?;
            });
        }
    }
    on_tx!(&mut tx, conn => {
        if let Some(next) = &next {
            // The next version's added/removed counts change; what it holds does not.
            let counts = |column: &'static str| {
                format!(
                    "SELECT c.pulp_type, COUNT(*) FROM core_repositorycontent rc CROSS JOIN core_content c \
                     WHERE c.pulp_id = rc.content_id AND rc.repository_id = $1 AND rc.{column} = $2 \
                     GROUP BY c.pulp_type"
                )
            };
            let added: Vec<(String, i64)> = sqlx::query_as(&counts("version_added"))
                .bind(r).bind(next.number).fetch_all(&mut *conn).await?;
            let removed: Vec<(String, i64)> = sqlx::query_as(&counts("version_removed"))
                .bind(r).bind(next.number).fetch_all(&mut *conn).await?;
            let info = VersionCounts {
                added: added.into_iter().collect(),
                removed: removed.into_iter().collect(),
                present: next.counts.present.clone(),
            };
            sqlx::query(
                "UPDATE core_repositoryversion SET info = $2, base_version_id = $3, pulp_last_updated = $4 \
                 WHERE pulp_id = $1",
            )
            .bind(next.pulp_id)
            .bind(sqlx::types::Json(&info))
            .bind(version.base_version_id)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query("UPDATE core_repositoryversion SET base_version_id = NULL WHERE base_version_id = $1")
            .bind(version.pulp_id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM core_repositoryversion WHERE pulp_id = $1")
            .bind(version.pulp_id).execute(&mut *conn).await?;
    });
    tx.commit().await?;
    Ok(())
}

/// Deletes the oldest versions of the repository so that only the latest `keep` remain
/// (Pulp's `retain_repo_versions`); returns the numbers deleted.
pub async fn retain_versions(
    db: &Database,
    repository: PulpId,
    keep: i64,
) -> Result<Vec<i64>, VersionError> {
    let all: Vec<i64> = crate::on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT number FROM core_repositoryversion WHERE repository_id = $1 AND complete ORDER BY number DESC",
        )
        .bind(repository)
        .fetch_all(pool)
        .await?
    });
    let mut deleted: Vec<i64> = all
        .into_iter()
        .skip(usize::try_from(keep.max(1)).unwrap_or(usize::MAX))
        .collect();
    deleted.sort_unstable();
    for number in &deleted {
        delete_version(db, repository, *number).await?;
    }
    Ok(deleted)
}
