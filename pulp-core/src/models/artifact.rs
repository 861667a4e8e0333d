//! [`Artifact`] rows for stored blobs, [`ContentArtifact`] links from content to artifacts,
//! and [`RemoteArtifact`]s recording where an artifact not yet downloaded can be fetched.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::copy::{copy_new_rows, CopyRows};
use super::sql::{bind_all, placeholders, rows_per_statement, values_rows};
use super::{ModelError, SqlValue, DEFAULT_DOMAIN};
use crate::db::{Backend, Database, PulpId};
use crate::storage::{ChecksumType, Digests, StoredArtifact};
use crate::validation::{validate_relative_path, ValidationErrors};
use crate::{on_pool, on_tx};

/// A stored blob (its bytes are in [`ArtifactStorage`](crate::storage::ArtifactStorage)
/// under [`Artifact::file`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was recorded.
    pub pulp_created: DateTime<Utc>,
    /// Its storage key, `artifact/ab/cdef…`.
    pub file: String,
    /// Size in bytes.
    pub size: i64,
    /// Its digests (sha256 always; the others allowed by the settings).
    pub digests: Digests,
}

impl Artifact {
    /// Its sha256.
    pub fn sha256(&self) -> &str {
        self.digests
            .get(&ChecksumType::Sha256)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Its API href.
    pub fn pulp_href(&self) -> String {
        crate::wire::artifact_href(self.pulp_id)
    }

    /// Pulp's `ArtifactResponse`.
    pub fn to_response(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("pulp_href".into(), self.pulp_href().into());
        map.insert(
            "prn".into(),
            super::prn("core.artifact", self.pulp_id).into(),
        );
        map.insert(
            "pulp_created".into(),
            crate::wire::timestamp::format(&self.pulp_created).into(),
        );
        map.insert(
            "pulp_last_updated".into(),
            crate::wire::timestamp::format(&self.pulp_created).into(),
        );
        map.insert("file".into(), self.file.clone().into());
        map.insert("size".into(), self.size.into());
        for kind in ChecksumType::ALL {
            let value = self
                .digests
                .get(&kind)
                .cloned()
                .map(serde_json::Value::String);
            map.insert(
                kind.as_str().into(),
                value.unwrap_or(serde_json::Value::Null),
            );
        }
        serde_json::Value::Object(map)
    }
}

const DIGEST_COLUMNS: [ChecksumType; 6] = ChecksumType::ALL;

/// The digest columns of a row, in [`DIGEST_COLUMNS`] order.
type DigestValues = [Option<String>; 6];
/// An artifact row: id, created, file, size, digests.
type ArtifactRow = (PulpId, DateTime<Utc>, String, i64, DigestValues);
/// A remote-artifact row: content artifact, remote, url, size, digests.
type RemoteArtifactRow = (PulpId, PulpId, String, Option<i64>, DigestValues);

fn digest_values(digests: &Digests) -> impl Iterator<Item = SqlValue> + '_ {
    DIGEST_COLUMNS
        .iter()
        .map(move |k| SqlValue::Text(digests.get(k).cloned()))
}

fn digest_names() -> String {
    DIGEST_COLUMNS
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records the artifact that [`ArtifactStorage`](crate::storage::ArtifactStorage) stored;
/// when a row with that sha256 exists (an earlier or concurrent writer), returns it.
pub async fn save_artifact(db: &Database, stored: &StoredArtifact) -> Result<Artifact, ModelError> {
    let size = i64::try_from(stored.size).map_err(|_| ModelError::Encode {
        field: "size".into(),
        message: "larger than 2^63 bytes".into(),
    })?;
    let now = Utc::now();
    let sql = format!(
        "INSERT INTO core_artifact (pulp_id, pulp_created, pulp_last_updated, pulp_domain, file, size, {}) \
         VALUES ($1, $2, $2, $3, $4, $5, {}) ON CONFLICT (sha256, pulp_domain) DO NOTHING",
        digest_names(),
        placeholders(6, 6)
    );
    let mut digests = stored.digests.clone();
    digests.insert(ChecksumType::Sha256, stored.sha256.clone());
    let binds = [
        SqlValue::Id(Some(PulpId::new())),
        SqlValue::Time(Some(now)),
        SqlValue::Text(Some(DEFAULT_DOMAIN.into())),
        SqlValue::Text(Some(stored.path.clone())),
        SqlValue::Int(Some(size)),
    ]
    .into_iter()
    .chain(digest_values(&digests));
    let inserted: u64 = on_pool!(db, pool => {
        bind_all!(db.backend(), sqlx::query, &sql, binds, |q| q.execute(pool).await?.rows_affected())
    });
    metrics::counter!(crate::observe::names::ARTIFACTS_STORED).increment(inserted);
    find_artifact(db, &stored.sha256)
        .await?
        .ok_or_else(|| ModelError::Decode(format!("artifact {} vanished", stored.sha256)))
}

/// Records many stored artifacts (one statement per batch); rows whose sha256 is already
/// recorded are kept. Returns the artifacts (in no particular order) and the ids of the rows
/// this call inserted.
pub async fn save_artifacts(
    db: &Database,
    stored: &[StoredArtifact],
) -> Result<(Vec<Artifact>, Vec<PulpId>), ModelError> {
    let width = 6 + DIGEST_COLUMNS.len();
    let now = Utc::now();
    let mut inserted = Vec::new();
    for chunk in stored.chunks(rows_per_statement(width)) {
        let sql = format!(
            "INSERT INTO core_artifact (pulp_id, pulp_created, pulp_last_updated, pulp_domain, file, size, {}) \
             VALUES {} ON CONFLICT (sha256, pulp_domain) DO NOTHING RETURNING pulp_id",
            digest_names(),
            values_rows(1, chunk.len(), width)
        );
        let mut binds = Vec::with_capacity(chunk.len() * width);
        for artifact in chunk {
            let size = i64::try_from(artifact.size).map_err(|_| ModelError::Encode {
                field: "size".into(),
                message: "larger than 2^63 bytes".into(),
            })?;
            let mut digests = artifact.digests.clone();
            digests.insert(ChecksumType::Sha256, artifact.sha256.clone());
            binds.extend([
                SqlValue::Id(Some(PulpId::new())),
                SqlValue::Time(Some(now)),
                SqlValue::Time(Some(now)),
                SqlValue::Text(Some(DEFAULT_DOMAIN.into())),
                SqlValue::Text(Some(artifact.path.clone())),
                SqlValue::Int(Some(size)),
            ]);
            binds.extend(digest_values(&digests));
        }
        let ids: Vec<PulpId> = on_pool!(db, pool => {
            bind_all!(db.backend(), sqlx::query_scalar, &sql, binds, |q| q.fetch_all(pool).await?)
        });
        inserted.extend(ids);
    }
    metrics::counter!(crate::observe::names::ARTIFACTS_STORED).increment(inserted.len() as u64);
    let sha: Vec<String> = stored.iter().map(|s| s.sha256.clone()).collect();
    Ok((find_artifacts(db, &sha).await?, inserted))
}

/// Forgets artifact rows (a failed sync removing what it added): content artifacts linking
/// them lose their artifact, then the rows are deleted. The files are not touched.
pub async fn forget_artifacts(db: &Database, ids: &[PulpId]) -> Result<(), ModelError> {
    let mut tx = db.begin_write().await?;
    for chunk in ids.chunks(rows_per_statement(1)) {
        let list = placeholders(1, chunk.len());
        let unlink = format!(
            "UPDATE core_contentartifact SET artifact_id = NULL WHERE artifact_id IN ({list})"
        );
        let delete = format!("DELETE FROM core_artifact WHERE pulp_id IN ({list})");
        let binds = || chunk.iter().map(|id| SqlValue::Id(Some(*id)));
        on_tx!(&mut tx, conn => {
            bind_all!(db.backend(), sqlx::query, &unlink, binds(), |q| q.execute(&mut *conn).await?);
            bind_all!(db.backend(), sqlx::query, &delete, binds(), |q| q.execute(&mut *conn).await?);
        });
    }
    tx.commit().await?;
    Ok(())
}

/// The artifact with this sha256, if recorded.
pub async fn find_artifact(db: &Database, sha256: &str) -> Result<Option<Artifact>, ModelError> {
    Ok(find_artifacts(db, &[sha256.to_string()]).await?.pop())
}

/// The recorded artifacts among these sha256 digests (one statement per batch).
pub async fn find_artifacts(db: &Database, sha256: &[String]) -> Result<Vec<Artifact>, ModelError> {
    let values: Vec<SqlValue> = sha256
        .iter()
        .map(|s| SqlValue::Text(Some(s.clone())))
        .collect();
    select_artifacts(db, "sha256", &values).await
}

/// The recorded artifacts with these ids, in no particular order (one statement per batch).
pub async fn artifacts_by_id(db: &Database, ids: &[PulpId]) -> Result<Vec<Artifact>, ModelError> {
    let values: Vec<SqlValue> = ids.iter().map(|id| SqlValue::Id(Some(*id))).collect();
    select_artifacts(db, "pulp_id", &values).await
}

async fn select_artifacts(
    db: &Database,
    column: &str,
    values: &[SqlValue],
) -> Result<Vec<Artifact>, ModelError> {
    let mut out = Vec::new();
    for chunk in values.chunks(rows_per_statement(1)) {
        let sql = format!(
            "SELECT pulp_id, pulp_created, file, size, {} FROM core_artifact \
             WHERE pulp_domain = $1 AND {column} IN ({})",
            digest_names(),
            placeholders(2, chunk.len())
        );
        let binds = std::iter::once(SqlValue::Text(Some(DEFAULT_DOMAIN.into())))
            .chain(chunk.iter().cloned());
        let rows: Vec<ArtifactRow> = on_pool!(db, pool => {
            use sqlx::Row as _;
            let rows = bind_all!(db.backend(), sqlx::query, &sql, binds, |q| q.fetch_all(pool).await?);
            let mut decoded = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut digests: DigestValues = Default::default();
                for (i, slot) in digests.iter_mut().enumerate() {
                    *slot = row.try_get(4 + i)?;
                }
                decoded.push((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, digests));
            }
            decoded
        });
        out.extend(
            rows.into_iter()
                .map(|(pulp_id, pulp_created, file, size, values)| Artifact {
                    pulp_id,
                    pulp_created,
                    file,
                    size,
                    digests: DIGEST_COLUMNS
                        .iter()
                        .zip(values)
                        .filter_map(|(k, v)| v.map(|v| (*k, v)))
                        .collect(),
                }),
        );
    }
    Ok(out)
}

/// A file of a content unit: its relative path, and its artifact once downloaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentArtifact {
    /// Its id.
    pub pulp_id: PulpId,
    /// The content unit.
    pub content_id: PulpId,
    /// The artifact (none while only a remote artifact is known).
    pub artifact_id: Option<PulpId>,
    /// Path of the file within the unit (and in publications).
    pub relative_path: String,
}

/// Links content to artifacts (one statement per batch). A link that exists for the same
/// `(content, relative_path)` is kept; an artifact is filled in where the link had none.
/// Relative paths are validated (no `..`, no absolute path, no NUL).
pub async fn save_content_artifacts(
    db: &Database,
    links: &[(PulpId, Option<PulpId>, String)],
) -> Result<Vec<ContentArtifact>, ModelError> {
    validate_link_paths(links)?;
    // PostgreSQL refuses an `ON CONFLICT DO UPDATE` that meets one key twice in a statement
    // (a unit declared twice in one sync batch): one row per key, an artifact kept if any.
    let mut by_key: HashMap<(PulpId, &str), usize> = HashMap::with_capacity(links.len());
    let mut unique: Vec<(PulpId, Option<PulpId>, String)> = Vec::with_capacity(links.len());
    for (content, artifact, path) in links {
        match by_key.get(&(*content, path.as_str())) {
            Some(&i) => {
                if unique[i].1.is_none() {
                    unique[i].1 = *artifact;
                }
            }
            None => {
                by_key.insert((*content, path.as_str()), unique.len());
                unique.push((*content, *artifact, path.clone()));
            }
        }
    }
    let links = &unique[..];
    let now = Utc::now();
    let mut out = Vec::with_capacity(links.len());
    let mut tx = db.begin_write().await?;
    let width = CONTENT_ARTIFACT_COLUMNS.len();
    for chunk in links.chunks(rows_per_statement(width)) {
        let sql = format!(
            "INSERT INTO core_contentartifact ({}) \
             VALUES {} ON CONFLICT (content_id, relative_path) DO UPDATE SET \
             artifact_id = COALESCE(core_contentartifact.artifact_id, excluded.artifact_id) \
             RETURNING pulp_id, content_id, artifact_id, relative_path",
            CONTENT_ARTIFACT_COLUMNS.join(", "),
            values_rows(1, chunk.len(), width)
        );
        let binds = chunk.iter().flat_map(|(content, artifact, path)| {
            content_artifact_values(
                &ContentArtifact {
                    pulp_id: PulpId::new(),
                    content_id: *content,
                    artifact_id: *artifact,
                    relative_path: path.clone(),
                },
                now,
            )
        });
        let rows: Vec<(PulpId, PulpId, Option<PulpId>, String)> = on_tx!(&mut tx, conn => {
            bind_all!(db.backend(), sqlx::query_as, &sql, binds, |q| q.fetch_all(&mut *conn).await?)
        });
        out.extend(
            rows.into_iter()
                .map(
                    |(pulp_id, content_id, artifact_id, relative_path)| ContentArtifact {
                        pulp_id,
                        content_id,
                        artifact_id,
                        relative_path,
                    },
                ),
        );
    }
    tx.commit().await?;
    Ok(out)
}

/// [`save_content_artifacts`] for the links of units the caller has just created, which
/// cannot be linked yet: on PostgreSQL one `COPY`; should a link exist after all (another
/// writer linked a unit first), the upsert of [`save_content_artifacts`] instead. Same result.
pub async fn create_content_artifacts(
    db: &Database,
    links: &[(PulpId, Option<PulpId>, String)],
) -> Result<Vec<ContentArtifact>, ModelError> {
    validate_link_paths(links)?;
    if db.backend() == Backend::Postgres && !links.is_empty() {
        let now = Utc::now();
        let created: Vec<ContentArtifact> = links
            .iter()
            .map(|(content, artifact, path)| ContentArtifact {
                pulp_id: PulpId::new(),
                content_id: *content,
                artifact_id: *artifact,
                relative_path: path.clone(),
            })
            .collect();
        let mut rows = CopyRows::new();
        for ca in &created {
            rows.push(content_artifact_values(ca, now));
        }
        if copy_new_rows(
            db,
            vec![("core_contentartifact", CONTENT_ARTIFACT_COLUMNS, rows)],
        )
        .await?
        {
            return Ok(created);
        }
    }
    save_content_artifacts(db, links).await
}

/// The columns of a new `core_contentartifact` row, in the order of
/// [`content_artifact_values`].
const CONTENT_ARTIFACT_COLUMNS: &[&str] = &[
    "pulp_id",
    "pulp_created",
    "pulp_last_updated",
    "content_id",
    "artifact_id",
    "relative_path",
];

/// The values of a new `core_contentartifact` row for `ca`, created `now`.
fn content_artifact_values(ca: &ContentArtifact, now: DateTime<Utc>) -> [SqlValue; 6] {
    [
        SqlValue::Id(Some(ca.pulp_id)),
        SqlValue::Time(Some(now)),
        SqlValue::Time(Some(now)),
        SqlValue::Id(Some(ca.content_id)),
        SqlValue::Id(ca.artifact_id),
        SqlValue::Text(Some(ca.relative_path.clone())),
    ]
}

fn validate_link_paths(links: &[(PulpId, Option<PulpId>, String)]) -> Result<(), ModelError> {
    let mut errors = ValidationErrors::new();
    for (_, _, path) in links {
        if let Err(e) = validate_relative_path(path) {
            errors.add("relative_path", e.to_string());
        }
    }
    Ok(errors.into_result()?)
}

/// The content artifacts of these content units.
pub async fn content_artifacts(
    db: &Database,
    content: &[PulpId],
) -> Result<Vec<ContentArtifact>, ModelError> {
    let mut out = Vec::new();
    for chunk in content.chunks(rows_per_statement(1)) {
        let sql = format!(
            "SELECT pulp_id, content_id, artifact_id, relative_path FROM core_contentartifact \
             WHERE content_id IN ({}) ORDER BY content_id, relative_path",
            placeholders(1, chunk.len())
        );
        let rows: Vec<(PulpId, PulpId, Option<PulpId>, String)> = on_pool!(db, pool => {
            bind_all!(db.backend(), sqlx::query_as, &sql, chunk.iter().map(|id| SqlValue::Id(Some(*id))), |q| q.fetch_all(pool).await?)
        });
        out.extend(
            rows.into_iter()
                .map(
                    |(pulp_id, content_id, artifact_id, relative_path)| ContentArtifact {
                        pulp_id,
                        content_id,
                        artifact_id,
                        relative_path,
                    },
                ),
        );
    }
    Ok(out)
}

/// Where a content artifact can be downloaded from, through a remote.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteArtifact {
    /// The content artifact it provides.
    pub content_artifact_id: PulpId,
    /// The remote to download through.
    pub remote_id: PulpId,
    /// The URL.
    pub url: String,
    /// Expected size, if known.
    pub size: Option<i64>,
    /// Expected digests, if known.
    pub digests: Digests,
}

/// Records remote artifacts (one statement per batch); for a `(content_artifact, remote)`
/// already recorded, the URL, size and digests are updated.
pub async fn save_remote_artifacts(
    db: &Database,
    items: &[RemoteArtifact],
) -> Result<(), ModelError> {
    // One row per `(content_artifact, remote)` (see `save_content_artifacts`): the last wins.
    let mut last: HashMap<(PulpId, PulpId), usize> = HashMap::with_capacity(items.len());
    for (i, ra) in items.iter().enumerate() {
        last.insert((ra.content_artifact_id, ra.remote_id), i);
    }
    // Copied only when there are duplicates (the sync's usual batch has none).
    let unique: std::borrow::Cow<'_, [RemoteArtifact]> = if last.len() == items.len() {
        std::borrow::Cow::Borrowed(items)
    } else {
        items
            .iter()
            .enumerate()
            .filter(|(i, ra)| last.get(&(ra.content_artifact_id, ra.remote_id)) == Some(i))
            .map(|(_, ra)| ra.clone())
            .collect()
    };
    let items = &unique[..];
    let now = Utc::now();
    let columns = remote_artifact_columns();
    let width = columns.len();
    let mut tx = db.begin_write().await?;
    for chunk in items.chunks(rows_per_statement(width)) {
        let updates = std::iter::once("url".to_string())
            .chain(std::iter::once("size".to_string()))
            .chain(DIGEST_COLUMNS.iter().map(|k| k.as_str().to_string()))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO core_remoteartifact ({}) \
             VALUES {} ON CONFLICT (content_artifact_id, remote_id) DO UPDATE SET {updates}",
            columns.join(", "),
            values_rows(1, chunk.len(), width)
        );
        let binds = chunk.iter().flat_map(|ra| remote_artifact_values(ra, now));
        on_tx!(&mut tx, conn => { bind_all!(db.backend(), sqlx::query, &sql, binds, |q| q.execute(&mut *conn).await?); });
    }
    tx.commit().await?;
    Ok(())
}

/// [`save_remote_artifacts`] for content artifacts the caller has just created, which have no
/// remote artifact yet: on PostgreSQL one `COPY`; should one exist after all, the upsert of
/// [`save_remote_artifacts`] instead.
pub async fn create_remote_artifacts(
    db: &Database,
    items: &[RemoteArtifact],
) -> Result<(), ModelError> {
    if db.backend() == Backend::Postgres && !items.is_empty() {
        let now = Utc::now();
        let mut rows = CopyRows::new();
        for ra in items {
            rows.push(remote_artifact_values(ra, now));
        }
        let columns = remote_artifact_columns();
        if copy_new_rows(db, vec![("core_remoteartifact", &columns, rows)]).await? {
            return Ok(());
        }
    }
    save_remote_artifacts(db, items).await
}

/// The columns of a new `core_remoteartifact` row, in the order of [`remote_artifact_values`].
fn remote_artifact_columns() -> Vec<&'static str> {
    [
        "pulp_id",
        "pulp_created",
        "pulp_last_updated",
        "content_artifact_id",
        "remote_id",
        "url",
        "size",
    ]
    .into_iter()
    .chain(DIGEST_COLUMNS.iter().map(|k| k.as_str()))
    .collect()
}

/// The values of a new `core_remoteartifact` row, in the order of [`remote_artifact_columns`].
fn remote_artifact_values(ra: &RemoteArtifact, now: DateTime<Utc>) -> Vec<SqlValue> {
    [
        SqlValue::Id(Some(PulpId::new())),
        SqlValue::Time(Some(now)),
        SqlValue::Time(Some(now)),
        SqlValue::Id(Some(ra.content_artifact_id)),
        SqlValue::Id(Some(ra.remote_id)),
        SqlValue::Text(Some(ra.url.clone())),
        SqlValue::Int(ra.size),
    ]
    .into_iter()
    .chain(digest_values(&ra.digests))
    .collect()
}

/// The remote artifacts of these content artifacts.
pub async fn remote_artifacts(
    db: &Database,
    content_artifacts: &[PulpId],
) -> Result<Vec<RemoteArtifact>, ModelError> {
    let mut out = Vec::new();
    for chunk in content_artifacts.chunks(rows_per_statement(1)) {
        let sql = format!(
            "SELECT content_artifact_id, remote_id, url, size, {} FROM core_remoteartifact \
             WHERE content_artifact_id IN ({})",
            digest_names(),
            placeholders(1, chunk.len())
        );
        let rows: Vec<RemoteArtifactRow> = on_pool!(db, pool => {
            use sqlx::Row as _;
            let rows = bind_all!(db.backend(), sqlx::query, &sql, chunk.iter().map(|id| SqlValue::Id(Some(*id))), |q| q.fetch_all(pool).await?);
            let mut decoded = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut digests: DigestValues = Default::default();
                for (i, slot) in digests.iter_mut().enumerate() {
                    *slot = row.try_get(4 + i)?;
                }
                decoded.push((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, digests));
            }
            decoded
        });
        out.extend(
            rows.into_iter()
                .map(
                    |(content_artifact_id, remote_id, url, size, values)| RemoteArtifact {
                        content_artifact_id,
                        remote_id,
                        url,
                        size,
                        digests: DIGEST_COLUMNS
                            .iter()
                            .zip(values)
                            .filter_map(|(k, v)| v.map(|v| (*k, v)))
                            .collect(),
                    },
                ),
        );
    }
    Ok(out)
}
