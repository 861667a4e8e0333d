//! What a publication serves: published artifacts (content artifacts of the published
//! version, by relative path) and published metadata (files the publisher generated, stored
//! as artifacts), in `core_publishedartifact` and `core_publishedmetadata`.
//!
//! A publisher records them with [`publish_version_artifacts`] (one `INSERT … SELECT` for the
//! whole version) and [`add_published_metadata`]; the content app reads them with
//! [`find_published`] (one path) and [`list_published`] (a directory listing).

use chrono::Utc;

use crate::db::{Backend, Database, PulpId};
use crate::models::ModelError;
use crate::on_pool;
use crate::repository::RepositoryVersion;

/// A file a publication serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedFile {
    /// Its path in the publication.
    pub relative_path: String,
    /// What it is.
    pub source: PublishedSource,
}

/// Where the bytes of a [`PublishedFile`] come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishedSource {
    /// A content artifact of the published version: its artifact when downloaded, otherwise
    /// (on_demand, streamed) fetch it through its remote artifacts.
    Content {
        /// The content artifact.
        content_artifact_id: PulpId,
        /// Its artifact, if downloaded.
        artifact_id: Option<PulpId>,
    },
    /// Metadata the publisher generated (e.g. `PULP_MANIFEST`), stored as an artifact.
    Metadata {
        /// The artifact.
        artifact_id: PulpId,
    },
}

impl PublishedSource {
    /// The artifact holding the bytes, if stored.
    pub fn artifact_id(&self) -> Option<PulpId> {
        match self {
            PublishedSource::Content { artifact_id, .. } => *artifact_id,
            PublishedSource::Metadata { artifact_id } => Some(*artifact_id),
        }
    }
}

/// The ids of the rows one `INSERT … SELECT` writes, as an SQL expression of its parameters
/// `$5` (text) and `$6` (integer) and of `row_number()`: a new time-ordered id (version 7)
/// whose last 48 bits are counted up from their own value, row by row. So the rows of one
/// statement sit together at the end of the primary key, as ids made by [`PulpId::new`] do
/// (a random id per row touched one index page per row of a big table). The counted bits
/// start at a random value: for two statements' ids to meet, they would have to start in
/// the same millisecond, share the prefix's 26 random bits, and count through overlapping
/// ranges of the 2^48 values.
struct SequentialIds {
    /// The first 24 characters of the hyphenated id (`xxxxxxxx-xxxx-7xxx-xxxx-`).
    prefix: String,
    /// Its last 48 bits.
    start: i64,
}

impl SequentialIds {
    fn new() -> Self {
        let first = PulpId::new().0;
        let bytes = first.as_bytes();
        let start = bytes[10..]
            .iter()
            .fold(0i64, |n, byte| (n << 8) | i64::from(*byte));
        let text = first.hyphenated().to_string();
        SequentialIds {
            prefix: text[..24].to_string(),
            start,
        }
    }

    fn sql(backend: Backend) -> &'static str {
        match backend {
            Backend::Postgres => {
                "($5 || lpad(to_hex(($6 + row_number() OVER ()) % 281474976710656), 12, '0'))::uuid"
            }
            Backend::Sqlite => {
                "$5 || printf('%012x', ($6 + row_number() OVER ()) % 281474976710656)"
            }
        }
    }
}

/// Records every content artifact of `version` as a published artifact of `publication`
/// (relative path = the content artifact's), in one `INSERT … SELECT`. Returns how many.
pub async fn publish_version_artifacts(
    db: &Database,
    publication: PulpId,
    version: &RepositoryVersion,
) -> Result<u64, ModelError> {
    let sql = format!(
        "INSERT INTO core_publishedartifact (pulp_id, pulp_created, pulp_last_updated, publication_id, content_artifact_id, relative_path) \
         SELECT {}, $1, $1, $2, ca.pulp_id, ca.relative_path \
         FROM core_repositorycontent rc CROSS JOIN core_contentartifact ca \
         WHERE rc.repository_id = $3 AND rc.version_added <= $4 \
         AND (rc.version_removed IS NULL OR rc.version_removed > $4) AND ca.content_id = rc.content_id",
        SequentialIds::sql(db.backend())
    );
    let ids = SequentialIds::new();
    let n = on_pool!(db, pool => {
        sqlx::query(&sql)
            .bind(Utc::now())
            .bind(publication)
            .bind(version.repository_id)
            .bind(version.number)
            .bind(&ids.prefix)
            .bind(ids.start)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(n)
}

/// Records a generated file (stored as `artifact`) at `relative_path` of `publication`.
pub async fn add_published_metadata(
    db: &Database,
    publication: PulpId,
    artifact: PulpId,
    relative_path: &str,
) -> Result<(), ModelError> {
    crate::validation::validate_relative_path(relative_path).map_err(|e| {
        ModelError::Invalid(crate::validation::ValidationErrors::field(
            "relative_path",
            e.to_string(),
        ))
    })?;
    let now = Utc::now();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO core_publishedmetadata (pulp_id, pulp_created, pulp_last_updated, publication_id, artifact_id, relative_path) \
             VALUES ($1, $2, $2, $3, $4, $5)",
        )
        .bind(PulpId::new())
        .bind(now)
        .bind(publication)
        .bind(artifact)
        .bind(relative_path)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Marks a publication complete (only complete publications are served).
pub async fn mark_complete(db: &Database, publication: PulpId) -> Result<(), ModelError> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE core_publication SET complete = TRUE, pulp_last_updated = $2 WHERE pulp_id = $1")
            .bind(publication)
            .bind(Utc::now())
            .execute(pool)
            .await?;
    });
    Ok(())
}

type Row = (String, Option<PulpId>, Option<PulpId>, Option<PulpId>);

const SELECT_UNION: &str = "SELECT relative_path, content_artifact_id, artifact_id, metadata_artifact_id FROM (\
     SELECT pa.relative_path, pa.content_artifact_id, ca.artifact_id, NULL AS metadata_artifact_id \
     FROM core_publishedartifact pa JOIN core_contentartifact ca ON ca.pulp_id = pa.content_artifact_id \
     WHERE pa.publication_id = $1 \
     UNION ALL \
     SELECT pm.relative_path, NULL, NULL, pm.artifact_id FROM core_publishedmetadata pm \
     WHERE pm.publication_id = $1) files";

fn decode(
    (relative_path, content_artifact_id, artifact_id, metadata): Row,
) -> Option<PublishedFile> {
    let source = match (content_artifact_id, metadata) {
        (Some(content_artifact_id), _) => PublishedSource::Content {
            content_artifact_id,
            artifact_id,
        },
        (None, Some(artifact_id)) => PublishedSource::Metadata { artifact_id },
        (None, None) => return None,
    };
    Some(PublishedFile {
        relative_path,
        source,
    })
}

/// The file at `relative_path` of `publication` (a published artifact or published
/// metadata), if any.
pub async fn find_published(
    db: &Database,
    publication: PulpId,
    relative_path: &str,
) -> Result<Option<PublishedFile>, ModelError> {
    let sql = format!("{SELECT_UNION} WHERE relative_path = $2 LIMIT 1");
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(publication).bind(relative_path).fetch_optional(pool).await?
    });
    Ok(row.and_then(decode))
}

/// The files of `publication` whose path starts with `prefix` (`""`: all; a directory
/// listing passes `"dir/"`), ordered by path, `limit` from `offset`.
pub async fn list_published(
    db: &Database,
    publication: PulpId,
    prefix: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<PublishedFile>, ModelError> {
    let sql = format!(
        "{SELECT_UNION} WHERE substr(relative_path, 1, length($2)) = $2 ORDER BY relative_path LIMIT $3 OFFSET $4"
    );
    let rows: Vec<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(publication).bind(prefix).bind(limit).bind(offset).fetch_all(pool).await?
    });
    Ok(rows.into_iter().filter_map(decode).collect())
}
