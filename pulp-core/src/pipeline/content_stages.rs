//! The content stages: [`QueryExistingContents`], [`ContentSaver`], [`RemoteArtifactSaver`],
//! [`ResolveContentFutures`], [`ContentAssociation`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use super::content::ContentType;
use super::{
    for_each_batch, DeclarativeContent, PipelineError, Stage, StageInput, StageOutput, SyncContext,
    BATCH_SIZE,
};
use crate::db::PulpId;
use crate::models::{
    create_content_artifacts, create_remote_artifacts, save_content_artifacts,
    save_remote_artifacts, RemoteArtifact,
};

/// Finds units already stored (by natural key), one query per batch.
#[derive(Debug)]
pub struct QueryExistingContents {
    ctx: SyncContext,
}

impl QueryExistingContents {
    /// The stage.
    pub fn new(ctx: &SyncContext) -> Self {
        Self { ctx: ctx.clone() }
    }
}

impl Stage for QueryExistingContents {
    fn name(&self) -> &str {
        "QueryExistingContents"
    }

    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            let db = self.ctx.app().db().clone();
            let concurrency = self.ctx.write_concurrency();
            for_each_batch(
                "QueryExistingContents",
                input,
                &output,
                BATCH_SIZE,
                concurrency,
                |mut batch| {
                    let db = db.clone();
                    async move {
                        // One query per content type in the batch.
                        for (t, at) in ContentType::group(&batch) {
                            (t.find)(&db, &mut batch, &at).await?;
                        }
                        Ok(batch)
                    }
                },
            )
            .await
        })
    }
}

/// Saves the units not stored yet (validated as the API validates them) and links every
/// unit to its artifacts (content artifacts; artifact left empty for deferred downloads),
/// one statement of each per batch.
#[derive(Debug)]
pub struct ContentSaver {
    ctx: SyncContext,
}

impl ContentSaver {
    /// The stage.
    pub fn new(ctx: &SyncContext) -> Self {
        Self { ctx: ctx.clone() }
    }
}

impl Stage for ContentSaver {
    fn name(&self) -> &str {
        "ContentSaver"
    }

    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            let statistics = Arc::new(Mutex::new(Statistics::new()));
            let concurrency = self.ctx.write_concurrency();
            for_each_batch(
                "ContentSaver",
                input,
                &output,
                BATCH_SIZE,
                concurrency,
                |batch| save_batch(self.ctx.clone(), statistics.clone(), batch),
            )
            .await
        })
    }
}

/// The step of [`ContentSaver`] for one batch.
async fn save_batch(
    ctx: SyncContext,
    statistics: Arc<Mutex<Statistics>>,
    mut batch: Vec<DeclarativeContent>,
) -> Result<Vec<DeclarativeContent>, PipelineError> {
    let db = ctx.app().bulk_db().clone();
    let mut created = vec![false; batch.len()];
    let turn = ctx.write_turn().await;
    // One statement (per kind of row) per content type in the batch.
    for (t, at) in ContentType::group(&batch) {
        let new: Vec<usize> = at
            .into_iter()
            .filter(|i| batch[*i].saved_id().is_none())
            .collect();
        if new.is_empty() {
            continue;
        }
        (t.save_new)(&db, &mut batch, &new).await?;
        if let Ok(mut statistics) = statistics.lock() {
            statistics.inserted(&db, t.table, new.len());
        }
        for i in new {
            created[i] = true;
        }
    }
    // Units created just now cannot be linked yet: their links take the quicker create path.
    let mut new_links = Vec::new();
    let mut links = Vec::new();
    for (dc, created) in batch.iter().zip(&created) {
        let Some(id) = dc.saved_id() else { continue };
        for da in &dc.artifacts {
            let link = (
                id,
                da.artifact.as_ref().map(|a| a.pulp_id),
                da.relative_path.clone(),
            );
            if *created { &mut new_links } else { &mut links }.push(link);
        }
    }
    let mut stored = Vec::new();
    if !new_links.is_empty() {
        stored.extend(create_content_artifacts(&db, &new_links).await?);
    }
    if !links.is_empty() {
        stored.extend(save_content_artifacts(&db, &links).await?);
    }
    let saved: HashMap<(PulpId, String), PulpId> = stored
        .into_iter()
        .map(|ca| ((ca.content_id, ca.relative_path), ca.pulp_id))
        .collect();
    for (dc, created) in batch.iter_mut().zip(created) {
        let Some(id) = dc.saved_id() else {
            continue;
        };
        for da in dc.artifacts.iter_mut() {
            da.content_artifact_id = saved.get(&(id, da.relative_path.clone())).copied();
            da.content_artifact_created = created;
        }
    }
    drop(turn);
    Ok(batch)
}

/// Keeps PostgreSQL's planner statistics of the tables a sync fills up to date: a fresh
/// table grows from nothing during one sync, long before autovacuum analyzes it, and with
/// statistics saying "empty" the natural-key lookups turn into sequential scans (each batch
/// then costs O(table)). `ANALYZE` runs (in the background) once this sync inserted 8,000
/// units (of any types), and again each time that number doubles, on the detail tables of
/// the types inserted and the core tables.
struct Statistics {
    tables: Vec<&'static str>,
    inserted: usize,
    next: usize,
}

impl Statistics {
    fn new() -> Self {
        Self {
            tables: Vec::new(),
            inserted: 0,
            next: 8_000,
        }
    }

    /// Counts `rows` inserted into `table`; past the threshold, analyzes in the background
    /// (the sync does not wait for it).
    fn inserted(&mut self, db: &crate::db::Database, table: &'static str, rows: usize) {
        if !self.tables.contains(&table) {
            self.tables.push(table);
        }
        self.inserted += rows;
        if self.inserted < self.next || db.backend() != crate::db::Backend::Postgres {
            return;
        }
        self.next = self.inserted * 2;
        let tables = self.tables.join(", ");
        let sql = format!(
            "ANALYZE {tables}, core_content, core_contentartifact, core_remoteartifact, core_artifact"
        );
        let db = db.clone();
        tokio::spawn(async move {
            let result: Result<(), sqlx::Error> = crate::on_pool!(&db, pool => {
                sqlx::query(&sql).execute(pool).await.map(|_| ())
            });
            if let Err(e) = result {
                tracing::debug!(error = %e, "ANALYZE during a sync failed");
            }
        });
    }
}

/// Records where each artifact can be fetched (remote artifacts: URL, size, digests), one
/// statement per batch; the content app uses them for on_demand and streamed content.
#[derive(Debug)]
pub struct RemoteArtifactSaver {
    ctx: SyncContext,
}

impl RemoteArtifactSaver {
    /// The stage.
    pub fn new(ctx: &SyncContext) -> Self {
        Self { ctx: ctx.clone() }
    }
}

impl Stage for RemoteArtifactSaver {
    fn name(&self) -> &str {
        "RemoteArtifactSaver"
    }

    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            let concurrency = self.ctx.write_concurrency();
            let ctx = self.ctx;
            for_each_batch(
                "RemoteArtifactSaver",
                input,
                &output,
                BATCH_SIZE,
                concurrency,
                |batch| {
                    let ctx = ctx.clone();
                    async move {
                        let db = ctx.app().bulk_db().clone();
                        // Content artifacts created by this sync have no remote artifact yet.
                        let mut new_rows = Vec::new();
                        let mut rows = Vec::new();
                        for da in batch.iter().flat_map(|dc| dc.artifacts.iter()) {
                            if let (Some(ca), Some(remote)) = (da.content_artifact_id, da.remote_id)
                            {
                                let row = RemoteArtifact {
                                    content_artifact_id: ca,
                                    remote_id: remote,
                                    url: da.url.clone(),
                                    size: da.expected.size.and_then(|s| i64::try_from(s).ok()),
                                    digests: da.expected.digests.clone(),
                                };
                                if da.content_artifact_created {
                                    new_rows.push(row);
                                } else {
                                    rows.push(row);
                                }
                            }
                        }
                        if !new_rows.is_empty() || !rows.is_empty() {
                            let _turn = ctx.write_turn().await;
                            if !new_rows.is_empty() {
                                create_remote_artifacts(&db, &new_rows).await?;
                            }
                            if !rows.is_empty() {
                                save_remote_artifacts(&db, &rows).await?;
                            }
                        }
                        Ok(batch)
                    }
                },
            )
            .await
        })
    }
}

/// Resolves the futures of awaited units ([`DeclarativeContent::resolution`](super::DeclarativeContent::resolution)).
#[derive(Debug, Default)]
pub struct ResolveContentFutures;

impl Stage for ResolveContentFutures {
    fn name(&self) -> &str {
        "ResolveContentFutures"
    }

    fn run(
        self: Box<Self>,
        mut input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            while let Some(mut dc) = input.next().await {
                dc.resolve();
                output.put(dc).await?;
            }
            Ok(())
        })
    }
}

/// Collects the ids of the saved units; the [`DeclarativeVersion`](super::DeclarativeVersion)
/// adds them to the new version at the end (and, in mirror mode, removes every other unit).
#[derive(Debug, Clone, Default)]
pub struct ContentAssociation {
    ids: Arc<Mutex<Vec<PulpId>>>,
}

impl ContentAssociation {
    /// A stage collecting into a new list.
    pub fn new() -> Self {
        Self::default()
    }

    /// The ids collected so far.
    pub fn take_ids(&self) -> Vec<PulpId> {
        self.ids
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Stage for ContentAssociation {
    fn name(&self) -> &str {
        "ContentAssociation"
    }

    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            let ids = self.ids.clone();
            for_each_batch(
                "ContentAssociation",
                input,
                &output,
                BATCH_SIZE,
                1,
                |batch| {
                    let all = ids.clone();
                    async move {
                        let ids: Vec<PulpId> = batch
                            .iter()
                            .filter_map(DeclarativeContent::saved_id)
                            .collect();
                        if ids.len() != batch.len() {
                            return Err(PipelineError::new(
                                "a unit reached the association unsaved",
                            ));
                        }
                        if let Ok(mut all) = all.lock() {
                            all.extend(ids);
                        }
                        Ok(batch)
                    }
                },
            )
            .await
        })
    }
}
