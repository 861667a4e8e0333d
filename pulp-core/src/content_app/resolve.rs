//! From a distribution's source and a relative path to what is served: one query for a
//! file, one for a directory listing.

use chrono::{DateTime, Utc};

use super::distributions::Source;
use super::ContentAppError;
use crate::db::{Database, PulpId};
use crate::models::sql::bind_all;
use crate::models::SqlValue;
use crate::on_pool;

/// A stored artifact to send.
#[derive(Debug, Clone)]
pub struct ArtifactFile {
    /// Its sha256 (the entity tag).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Storage key.
    pub file: String,
    /// When it was recorded (`Last-Modified`).
    pub created: DateTime<Utc>,
}

/// What a file path of a distribution resolves to.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A stored artifact.
    Artifact(ArtifactFile),
    /// A content artifact whose artifact is not downloaded yet (on-demand or streamed).
    Remote {
        /// The content artifact.
        content_artifact_id: PulpId,
    },
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    /// Name within the directory (directories end with `/`).
    pub name: String,
    /// Size of a file with a stored artifact.
    pub size: Option<u64>,
    /// Date of a file with a stored artifact.
    pub date: Option<DateTime<Utc>>,
}

type FileRow = (
    Option<PulpId>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// The SQL condition "row `rc` is in the version served", and its values (after `first - 1`
/// values already used by the statement).
fn in_version(source: &Source, first: usize) -> Option<(String, Vec<SqlValue>)> {
    let (repository_id, number) = match source {
        Source::Version {
            repository_id,
            number,
        }
        | Source::Publication {
            repository_id,
            number,
            ..
        } => (*repository_id, Some(*number)),
        Source::Latest { repository_id } => (*repository_id, None),
        Source::Nothing => return None,
    };
    let repo = format!("${first}");
    let (n, values) = match number {
        Some(number) => (
            format!("${}", first + 1),
            vec![SqlValue::Id(Some(repository_id)), SqlValue::Int(Some(number))],
        ),
        None => (
            format!(
                "(SELECT MAX(number) FROM core_repositoryversion WHERE repository_id = {repo} AND complete)"
            ),
            vec![SqlValue::Id(Some(repository_id))],
        ),
    };
    Some((
        format!(
            "rc.repository_id = {repo} AND rc.version_added <= {n} \
             AND (rc.version_removed IS NULL OR rc.version_removed > {n})"
        ),
        values,
    ))
}

/// What a distribution serving publications only (pulpcore's `SERVE_FROM_PUBLICATION`)
/// serves now: for a repository, the latest complete publication of its versions (highest
/// version, then newest); for a version, its newest publication; none: nothing.
pub async fn publication_source(db: &Database, source: &Source) -> Result<Source, ContentAppError> {
    let (repository_id, number) = match source {
        Source::Latest { repository_id } => (*repository_id, None),
        Source::Version {
            repository_id,
            number,
        } => (*repository_id, Some(*number)),
        other => return Ok(other.clone()),
    };
    let sql = format!(
        "SELECT p.pulp_id, p.pass_through, v.number FROM core_publication p \
         JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
         WHERE v.repository_id = $1 AND p.complete {} \
         ORDER BY v.number DESC, p.pulp_created DESC LIMIT 1",
        if number.is_some() {
            "AND v.number = $2"
        } else {
            ""
        }
    );
    let mut values = vec![SqlValue::Id(Some(repository_id))];
    if let Some(number) = number {
        values.push(SqlValue::Int(Some(number)));
    }
    let row: Option<(PulpId, bool, i64)> = on_pool!(db, pool => {
        bind_all!(db.backend(), sqlx::query_as, &sql, values, |q| q.fetch_optional(pool).await?)
    });
    Ok(match row {
        Some((id, pass_through, number)) => Source::Publication {
            id,
            pass_through,
            repository_id,
            number,
        },
        None => Source::Nothing,
    })
}

/// What `path` (a file path, relative to the distribution) serves, if anything.
pub async fn resolve_file(
    db: &Database,
    source: &Source,
    path: &str,
) -> Result<Option<Resolved>, ContentAppError> {
    let (sql, values) = match source {
        Source::Nothing => return Ok(None),
        Source::Publication {
            id,
            pass_through: false,
            ..
        } => (
            "SELECT ca.pulp_id, a.sha256, a.size, a.file, a.pulp_created \
             FROM core_publishedartifact pa \
             JOIN core_contentartifact ca ON ca.pulp_id = pa.content_artifact_id \
             LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
             WHERE pa.publication_id = $1 AND pa.relative_path = $2 \
             UNION ALL \
             SELECT NULL, a.sha256, a.size, a.file, a.pulp_created \
             FROM core_publishedmetadata pm JOIN core_artifact a ON a.pulp_id = pm.artifact_id \
             WHERE pm.publication_id = $1 AND pm.relative_path = $2 \
             LIMIT 1"
                .to_string(),
            vec![SqlValue::Id(Some(*id)), SqlValue::Text(Some(path.into()))],
        ),
        _ => {
            let Some((condition, mut values)) = in_version(source, 2) else {
                return Ok(None);
            };
            values.insert(0, SqlValue::Text(Some(path.into())));
            (
                format!(
                    "SELECT ca.pulp_id, a.sha256, a.size, a.file, a.pulp_created \
                     FROM core_contentartifact ca \
                     JOIN core_repositorycontent rc ON rc.content_id = ca.content_id \
                     LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
                     WHERE ca.relative_path = $1 AND {condition} LIMIT 1"
                ),
                values,
            )
        }
    };
    let row: Option<FileRow> = on_pool!(db, pool => {
        bind_all!(db.backend(), sqlx::query_as, &sql, values, |q| q.fetch_optional(pool).await?)
    });
    Ok(row.and_then(
        |(ca, sha256, size, file, created)| match (sha256, size, file, created) {
            (Some(sha256), Some(size), Some(file), Some(created)) => {
                Some(Resolved::Artifact(ArtifactFile {
                    sha256,
                    size: u64::try_from(size).unwrap_or(0),
                    file,
                    created,
                }))
            }
            _ => ca.map(|content_artifact_id| Resolved::Remote {
                content_artifact_id,
            }),
        },
    ))
}

type ListingRow = (String, Option<i64>, Option<DateTime<Utc>>);

/// Files below `dir` (`""` or ending with `/`), at most `limit`.
async fn files_under(
    db: &Database,
    source: &Source,
    dir: &str,
    limit: i64,
) -> Result<Vec<ListingRow>, ContentAppError> {
    let prefix_len = dir.chars().count() as i64;
    let (sql, values) = match source {
        Source::Nothing => return Ok(Vec::new()),
        Source::Publication {
            id,
            pass_through: false,
            ..
        } => (
            "SELECT pa.relative_path, a.size, a.pulp_created FROM core_publishedartifact pa \
             JOIN core_contentartifact ca ON ca.pulp_id = pa.content_artifact_id \
             LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
             WHERE pa.publication_id = $1 AND substr(pa.relative_path, 1, CAST($2 AS INTEGER)) = $3 \
             UNION ALL \
             SELECT pm.relative_path, a.size, a.pulp_created FROM core_publishedmetadata pm \
             JOIN core_artifact a ON a.pulp_id = pm.artifact_id \
             WHERE pm.publication_id = $1 AND substr(pm.relative_path, 1, CAST($2 AS INTEGER)) = $3 \
             LIMIT $4"
                .to_string(),
            vec![
                SqlValue::Id(Some(*id)),
                SqlValue::Int(Some(prefix_len)),
                SqlValue::Text(Some(dir.into())),
                SqlValue::Int(Some(limit)),
            ],
        ),
        _ => {
            let Some((condition, more)) = in_version(source, 4) else {
                return Ok(Vec::new());
            };
            let mut values = vec![
                SqlValue::Int(Some(prefix_len)),
                SqlValue::Text(Some(dir.into())),
                SqlValue::Int(Some(limit)),
            ];
            values.extend(more);
            (
                format!(
                    "SELECT ca.relative_path, a.size, a.pulp_created \
                     FROM core_repositorycontent rc \
                     JOIN core_contentartifact ca ON ca.content_id = rc.content_id \
                     LEFT JOIN core_artifact a ON a.pulp_id = ca.artifact_id \
                     WHERE {condition} AND substr(ca.relative_path, 1, CAST($1 AS INTEGER)) = $2 LIMIT $3"
                ),
                values,
            )
        }
    };
    let rows: Vec<ListingRow> = on_pool!(db, pool => {
        bind_all!(db.backend(), sqlx::query_as, &sql, values, |q| q.fetch_all(pool).await?)
    });
    Ok(rows)
}

/// Whether `dir` (ending with `/`) holds any file.
pub async fn is_directory(
    db: &Database,
    source: &Source,
    dir: &str,
) -> Result<bool, ContentAppError> {
    Ok(!files_under(db, source, dir, 1).await?.is_empty())
}

/// The entries of directory `dir` (`""` or ending with `/`), sorted, directories first
/// like Pulp's listing; `None` when the directory holds nothing (and is not the root).
pub async fn list_directory(
    db: &Database,
    source: &Source,
    dir: &str,
) -> Result<Option<Vec<ListingEntry>>, ContentAppError> {
    let rows = files_under(db, source, dir, i64::MAX).await?;
    if rows.is_empty() && !dir.is_empty() {
        return Ok(None);
    }
    let mut dirs = std::collections::BTreeSet::new();
    let mut files = std::collections::BTreeMap::new();
    for (path, size, date) in rows {
        let Some(rest) = path.strip_prefix(dir) else {
            continue;
        };
        match rest.split_once('/') {
            Some((sub, _)) => {
                dirs.insert(format!("{sub}/"));
            }
            None => {
                files.insert(
                    rest.to_string(),
                    ListingEntry {
                        name: rest.to_string(),
                        size: size.and_then(|s| u64::try_from(s).ok()),
                        date,
                    },
                );
            }
        }
    }
    let mut entries: Vec<ListingEntry> = dirs
        .into_iter()
        .map(|name| ListingEntry {
            name,
            size: None,
            date: None,
        })
        .collect();
    entries.extend(files.into_values());
    Ok(Some(entries))
}
