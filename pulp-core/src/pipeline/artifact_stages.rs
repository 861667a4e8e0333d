//! The artifact stages: [`QueryExistingArtifacts`], [`ArtifactDownloader`], [`ArtifactSaver`].

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::StreamExt;

use super::{
    for_each_batch, DeclarativeContent, PipelineError, Progress, Stage, StageInput, StageOutput,
    SyncContext, BATCH_SIZE,
};
use crate::download::DEFAULT_DOWNLOAD_CONCURRENCY;
use crate::models::{find_artifacts, save_artifacts};
use crate::storage::NewFiles;

/// Finds artifacts already stored (by expected sha256), one query per batch, so that they
/// are not downloaded again.
#[derive(Debug)]
pub struct QueryExistingArtifacts {
    ctx: SyncContext,
}

impl QueryExistingArtifacts {
    /// The stage.
    pub fn new(ctx: &SyncContext) -> Self {
        Self { ctx: ctx.clone() }
    }
}

impl Stage for QueryExistingArtifacts {
    fn name(&self) -> &str {
        "QueryExistingArtifacts"
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
                "QueryExistingArtifacts",
                input,
                &output,
                BATCH_SIZE,
                concurrency,
                |mut batch| {
                    let db = db.clone();
                    async move {
                        let wanted: Vec<String> = batch
                            .iter()
                            .flat_map(|dc| dc.artifacts.iter())
                            .filter(|da| da.artifact.is_none())
                            .filter_map(|da| da.sha256().map(str::to_ascii_lowercase))
                            .collect();
                        if !wanted.is_empty() {
                            let found: HashMap<String, _> = find_artifacts(&db, &wanted)
                                .await?
                                .into_iter()
                                .map(|a| (a.sha256().to_string(), a))
                                .collect();
                            for da in batch.iter_mut().flat_map(|dc| dc.artifacts.iter_mut()) {
                                if da.artifact.is_none() {
                                    if let Some(a) =
                                        da.sha256().and_then(|s| found.get(&s.to_ascii_lowercase()))
                                    {
                                        da.artifact = Some(a.clone());
                                    }
                                }
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

/// Downloads the artifacts not found and not deferred (immediate policy), many at once
/// (each remote's downloader bounds its own concurrency), straight into artifact storage
/// ([`Downloader::fetch_artifact`](crate::download::Downloader::fetch_artifact): one pass
/// hashing, verifying and writing). Reports "Downloading Artifacts".
#[derive(Debug)]
pub struct ArtifactDownloader {
    ctx: SyncContext,
}

impl ArtifactDownloader {
    /// The stage.
    pub fn new(ctx: &SyncContext) -> Self {
        Self { ctx: ctx.clone() }
    }
}

async fn download_all(
    ctx: SyncContext,
    mut dc: DeclarativeContent,
) -> Result<(DeclarativeContent, u64), PipelineError> {
    let mut count = 0;
    for da in dc.artifacts.iter_mut() {
        if da.artifact.is_some() || da.deferred {
            continue;
        }
        let downloader = ctx.downloader(da.remote_id)?;
        let storage = ctx.app().storage();
        // The file is placed and recorded together (even if this future is dropped while it
        // is written), and not placed once a failed sync has started undoing its work.
        let new_files: NewFiles = Arc::new(ctx.files.clone());
        let stored = downloader
            .fetch_artifact_logged(&da.url, &da.expected, storage, Some(new_files))
            .await?;
        da.stored = Some(stored);
        count += 1;
    }
    Ok((dc, count))
}

impl Stage for ArtifactDownloader {
    fn name(&self) -> &str {
        "ArtifactDownloader"
    }

    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            let progress: Progress = self
                .ctx
                .progress("Downloading Artifacts", "sync.downloading.artifacts", None)
                .await?;
            let ctx = self.ctx.clone();
            let items = futures::stream::unfold(input, |mut input| async move {
                input.next().await.map(|dc| (dc, input))
            });
            // Items with nothing to download pass straight through; the others run many
            // at once (the downloaders' semaphores set the real concurrency).
            let mut running = items
                .map(|dc| {
                    let ctx = ctx.clone();
                    async move {
                        let needs = dc
                            .artifacts
                            .iter()
                            .any(|da| da.artifact.is_none() && !da.deferred);
                        if needs {
                            download_all(ctx, dc).await
                        } else {
                            Ok((dc, 0))
                        }
                    }
                })
                .buffer_unordered(DEFAULT_DOWNLOAD_CONCURRENCY * 4)
                .boxed();
            let mut pending = 0u64;
            while let Some(result) = running.next().await {
                let (dc, n) = result?;
                pending += n;
                if pending >= 500 {
                    progress.increment(pending).await?;
                    pending = 0;
                }
                output.put(dc).await?;
            }
            progress.increment(pending).await?;
            progress.complete().await?;
            Ok(())
        })
    }
}

/// Records the artifacts the downloader stored, one statement per batch.
#[derive(Debug)]
pub struct ArtifactSaver {
    ctx: SyncContext,
}

impl ArtifactSaver {
    /// The stage.
    pub fn new(ctx: &SyncContext) -> Self {
        Self { ctx: ctx.clone() }
    }
}

impl Stage for ArtifactSaver {
    fn name(&self) -> &str {
        "ArtifactSaver"
    }

    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            let ctx = self.ctx;
            // One batch at a time: a failed sync forgets the rows recorded in `created`,
            // which must be complete when the pipeline has stopped.
            for_each_batch(
                "ArtifactSaver",
                input,
                &output,
                BATCH_SIZE,
                1,
                |mut batch| {
                    let ctx = ctx.clone();
                    async move {
                        let db = ctx.app().bulk_db().clone();
                        let stored: Vec<_> = batch
                            .iter()
                            .flat_map(|dc| dc.artifacts.iter())
                            .filter_map(|da| da.stored.clone())
                            .collect();
                        if !stored.is_empty() {
                            let turn = ctx.write_turn().await;
                            let (artifacts, inserted) = save_artifacts(&db, &stored).await?;
                            drop(turn);
                            if let Ok(mut created) = ctx.files.created.lock() {
                                created.rows.extend(inserted);
                            }
                            let by_sha: HashMap<String, _> = artifacts
                                .into_iter()
                                .map(|a| (a.sha256().to_string(), a))
                                .collect();
                            for da in batch.iter_mut().flat_map(|dc| dc.artifacts.iter_mut()) {
                                if let Some(s) = da.stored.take() {
                                    da.artifact = by_sha.get(&s.sha256).cloned();
                                    if da.artifact.is_none() {
                                        return Err(PipelineError::new(format!(
                                            "artifact {} was stored but not recorded",
                                            s.sha256
                                        )));
                                    }
                                }
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
