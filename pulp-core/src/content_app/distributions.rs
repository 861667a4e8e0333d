//! The distributions the content app serves: a snapshot of `core_distribution` (with what
//! each serves) kept for a short time, so a request costs no distribution query.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::ContentAppError;
use crate::db::{Database, PulpId};
use crate::on_pool;

/// What a distribution serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A publication's published artifacts and metadata (or, for a pass-through
    /// publication, its version's content).
    Publication {
        /// The publication.
        id: PulpId,
        /// Serves its version's content directly.
        pass_through: bool,
        /// Repository of its version.
        repository_id: PulpId,
        /// Number of its version.
        number: i64,
    },
    /// A fixed repository version.
    Version {
        /// Its repository.
        repository_id: PulpId,
        /// Its number.
        number: i64,
    },
    /// The latest complete version of a repository, whichever it is at request time.
    Latest {
        /// The repository.
        repository_id: PulpId,
    },
    /// Nothing (no source, or an incomplete publication): every path is 404.
    Nothing,
}

/// A distribution as the content app sees it.
#[derive(Debug, Clone)]
pub struct ServedDistribution {
    /// Its id.
    pub pulp_id: PulpId,
    /// Its type (`file.file`).
    pub pulp_type: String,
    /// Its name.
    pub name: String,
    /// Its base path.
    pub base_path: String,
    /// Left out of the root listing.
    pub hidden: bool,
    /// Guard to consult for each request.
    pub content_guard_id: Option<PulpId>,
    /// What it serves.
    pub source: Source,
}

#[derive(Debug)]
struct Snapshot {
    taken: Instant,
    by_base_path: HashMap<String, Arc<ServedDistribution>>,
}

/// Distributions by base path, reloaded when older than the TTL.
#[derive(Debug)]
pub struct DistributionCache {
    ttl: Duration,
    current: std::sync::RwLock<Option<Arc<Snapshot>>>,
    reload: Mutex<()>,
    /// Guarded distributions are left out of listings (`hide_guarded_distributions`).
    hide_guarded: bool,
}

type DistributionRow = (
    PulpId,
    String,
    String,
    String,
    bool,
    Option<PulpId>,
    Option<PulpId>,
    Option<PulpId>,
    Option<PulpId>,
    Option<PulpId>,
    Option<i64>,
    Option<bool>,
    Option<bool>,
    Option<PulpId>,
    Option<i64>,
);

const SNAPSHOT_SQL: &str =
    "SELECT d.pulp_id, d.pulp_type, d.name, d.base_path, d.hidden, d.content_guard_id, \
     d.repository_id, d.repository_version_id, d.publication_id, \
     v.repository_id, v.number, p.complete, p.pass_through, pv.repository_id, pv.number \
     FROM core_distribution d \
     LEFT JOIN core_repositoryversion v ON v.pulp_id = d.repository_version_id \
     LEFT JOIN core_publication p ON p.pulp_id = d.publication_id \
     LEFT JOIN core_repositoryversion pv ON pv.pulp_id = p.repository_version_id";

impl DistributionCache {
    /// A cache whose snapshots live `ttl` (zero: every request reloads).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            current: std::sync::RwLock::new(None),
            reload: Mutex::new(()),
            hide_guarded: false,
        }
    }

    /// The cache, leaving guarded distributions out of listings when `hide` (Pulp's
    /// `HIDE_GUARDED_DISTRIBUTIONS`).
    pub fn hiding_guarded(mut self, hide: bool) -> Self {
        self.hide_guarded = hide;
        self
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let guard = self.current.read().ok()?;
        guard
            .as_ref()
            .filter(|s| s.taken.elapsed() < self.ttl)
            .cloned()
    }

    async fn snapshot(&self, db: &Database) -> Result<Arc<Snapshot>, ContentAppError> {
        if let Some(snapshot) = self.fresh() {
            return Ok(snapshot);
        }
        // One reload at a time; the others wait for it rather than querying too.
        let _reloading = self.reload.lock().await;
        if let Some(snapshot) = self.fresh() {
            return Ok(snapshot);
        }
        let rows: Vec<DistributionRow> =
            on_pool!(db, pool => sqlx::query_as(SNAPSHOT_SQL).fetch_all(pool).await?);
        let by_base_path = rows
            .into_iter()
            .map(|row| {
                let dist = from_row(row);
                (dist.base_path.clone(), Arc::new(dist))
            })
            .collect();
        let snapshot = Arc::new(Snapshot {
            taken: Instant::now(),
            by_base_path,
        });
        if let Ok(mut current) = self.current.write() {
            *current = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// Drops the snapshot (the next request reloads).
    pub fn invalidate(&self) {
        if let Ok(mut current) = self.current.write() {
            *current = None;
        }
    }

    /// The distribution whose base path is the longest prefix of `path` (at a `/`), with
    /// the rest of the path (`None` when `path` is exactly the base path, without `/`).
    pub async fn find(
        &self,
        db: &Database,
        path: &str,
    ) -> Result<Option<(Arc<ServedDistribution>, Option<String>)>, ContentAppError> {
        let snapshot = self.snapshot(db).await?;
        let mut end = path.len();
        loop {
            let candidate = &path[..end];
            if let Some(dist) = snapshot.by_base_path.get(candidate) {
                let rest = path.get(end + 1..).map(str::to_string);
                return Ok(Some((dist.clone(), rest)));
            }
            match candidate.rfind('/') {
                Some(i) => end = i,
                None => return Ok(None),
            }
        }
    }

    /// Visible base paths (not hidden) starting with `prefix`, sorted.
    pub async fn visible_under(
        &self,
        db: &Database,
        prefix: &str,
    ) -> Result<Vec<String>, ContentAppError> {
        let snapshot = self.snapshot(db).await?;
        let mut paths: Vec<String> = snapshot
            .by_base_path
            .values()
            .filter(|d| !d.hidden && d.base_path.starts_with(prefix))
            .filter(|d| !(self.hide_guarded && d.content_guard_id.is_some()))
            .map(|d| d.base_path.clone())
            .collect();
        paths.sort();
        Ok(paths)
    }
}

fn from_row(row: DistributionRow) -> ServedDistribution {
    let (
        pulp_id,
        pulp_type,
        name,
        base_path,
        hidden,
        content_guard_id,
        repository_id,
        repository_version_id,
        publication_id,
        version_repository,
        version_number,
        publication_complete,
        pass_through,
        publication_repository,
        publication_number,
    ) = row;
    let source = if publication_id.is_some() {
        match (
            publication_id,
            publication_complete,
            publication_repository,
            publication_number,
        ) {
            (Some(id), Some(true), Some(repository_id), Some(number)) => Source::Publication {
                id,
                pass_through: pass_through.unwrap_or(false),
                repository_id,
                number,
            },
            _ => Source::Nothing,
        }
    } else if repository_version_id.is_some() {
        match (version_repository, version_number) {
            (Some(repository_id), Some(number)) => Source::Version {
                repository_id,
                number,
            },
            _ => Source::Nothing,
        }
    } else if let Some(repository_id) = repository_id {
        Source::Latest { repository_id }
    } else {
        Source::Nothing
    };
    ServedDistribution {
        pulp_id,
        pulp_type,
        name,
        base_path,
        hidden,
        content_guard_id,
        source,
    }
}
