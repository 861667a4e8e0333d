//! [`DeclarativeVersion`]: a plugin's first stage plus the default stages, ending in a new
//! repository version.

use std::collections::HashSet;

use super::{
    run_stages, ArtifactDownloader, ArtifactSaver, ContentAssociation, ContentSaver, PipelineError,
    QueryExistingArtifacts, QueryExistingContents, RemoteArtifactSaver, ResolveContentFutures,
    Stage, SyncContext,
};
use crate::db::PulpId;
use crate::models::{forget_artifacts, ContentDetail};
use crate::repository::{NewVersion, RepositoryVersion};

/// The stages of a pipeline.
pub type Stages<T> = Vec<Box<dyn Stage<T>>>;
/// A change to the default stages (see [`DeclarativeVersion::stages`]).
type StageChange<T> = Box<dyn FnOnce(&mut Stages<T>) + Send>;

/// A sync: the plugin's first stage, then `QueryExistingArtifacts → ArtifactDownloader →
/// ArtifactSaver → QueryExistingContents → ContentSaver → RemoteArtifactSaver →
/// ResolveContentFutures → ContentAssociation`, then a new version of the repository holding
/// the units emitted (added to the latest version; in mirror mode, replacing it).
///
/// The version is made through [`NewVersion`] at the end, so a failure leaves no version;
/// when nothing changed no version is made (`Ok(None)`). A failed sync also removes the
/// artifacts it added (storage files and `core_artifact` rows).
pub struct DeclarativeVersion<T: ContentDetail> {
    first: Box<dyn Stage<T>>,
    repository_id: PulpId,
    mirror: bool,
    customize: Vec<StageChange<T>>,
}

impl<T: ContentDetail> std::fmt::Debug for DeclarativeVersion<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeclarativeVersion")
            .field("first", &self.first.name())
            .field("repository_id", &self.repository_id)
            .field("mirror", &self.mirror)
            .finish()
    }
}

impl<T: ContentDetail> DeclarativeVersion<T> {
    /// A sync of `repository_id` fed by `first_stage`; `mirror`: units the first stage does
    /// not emit are removed from the new version.
    pub fn new(first_stage: impl Stage<T>, repository_id: PulpId, mirror: bool) -> Self {
        Self {
            first: Box::new(first_stage),
            repository_id,
            mirror,
            customize: Vec::new(),
        }
    }

    /// Changes the default stages (after the first one) before the sync runs: insert,
    /// replace or remove stages (find them by [`Stage::name`]).
    pub fn stages(
        mut self,
        change: impl FnOnce(&mut Vec<Box<dyn Stage<T>>>) + Send + 'static,
    ) -> Self {
        self.customize.push(Box::new(change));
        self
    }

    /// The default stages after the first one.
    pub fn default_stages(
        ctx: &SyncContext,
        association: &ContentAssociation,
    ) -> Vec<Box<dyn Stage<T>>> {
        vec![
            Box::new(QueryExistingArtifacts::new(ctx)),
            Box::new(ArtifactDownloader::new(ctx)),
            Box::new(ArtifactSaver::new(ctx)),
            Box::new(QueryExistingContents::new(ctx)),
            Box::new(ContentSaver::new(ctx)),
            Box::new(RemoteArtifactSaver::new(ctx)),
            Box::new(ResolveContentFutures),
            Box::new(association.clone()),
        ]
    }

    /// Runs the sync; the new version, or `None` when the repository did not change.
    pub async fn create(
        self,
        ctx: &SyncContext,
    ) -> Result<Option<RepositoryVersion>, PipelineError> {
        let association = ContentAssociation::new();
        let mut rest = Self::default_stages(ctx, &association);
        for change in self.customize {
            change(&mut rest);
        }
        let mut stages = Vec::with_capacity(rest.len() + 1);
        stages.push(self.first);
        stages.extend(rest);
        let started = std::time::Instant::now();
        let stages_result = run_stages(stages).await;
        let staged = started.elapsed();
        let result = match stages_result {
            Ok(()) => associate(ctx, self.repository_id, self.mirror, association.take_ids()).await,
            Err(e) => Err(e),
        };
        tracing::debug!(
            stages_ms = staged.as_millis() as u64,
            version_ms = (started.elapsed() - staged).as_millis() as u64,
            ok = result.is_ok(),
            "sync pipeline finished"
        );
        if result.is_err() {
            undo_artifacts(ctx).await;
        }
        result
    }
}

async fn associate(
    ctx: &SyncContext,
    repository_id: PulpId,
    mirror: bool,
    ids: Vec<PulpId>,
) -> Result<Option<RepositoryVersion>, PipelineError> {
    let adding = ctx
        .progress("Associating Content", "associating.content", None)
        .await?;
    let removing = ctx
        .progress("Un-Associating Content", "unassociating.content", None)
        .await?;
    let mut version = NewVersion::start(ctx.app(), repository_id).await?;
    if mirror {
        let keep: HashSet<PulpId> = ids.iter().copied().collect();
        let gone: Vec<PulpId> = version
            .present_ids(None)
            .await?
            .into_iter()
            .filter(|id| !keep.contains(id))
            .collect();
        version.remove_content(&gone).await?;
    }
    version.add_content(&ids).await?;
    let made = version.commit().await?;
    if let Some(v) = &made {
        adding
            .increment(v.counts.added.values().sum::<i64>().max(0) as u64)
            .await?;
        removing
            .increment(v.counts.removed.values().sum::<i64>().max(0) as u64)
            .await?;
    }
    adding.complete().await?;
    removing.complete().await?;
    Ok(made)
}

/// Removes what a failed sync added to artifact storage and `core_artifact`: no file is
/// placed any more, uploads already under way end first (else one could create its object
/// after the removal), then the recorded files and rows go.
async fn undo_artifacts(ctx: &SyncContext) {
    let created = match ctx.files.created.lock() {
        Ok(mut c) => c.close(),
        Err(_) => return,
    };
    ctx.files.uploads.close();
    ctx.files.uploads.wait().await;
    if let Err(e) = forget_artifacts(ctx.app().db(), &created.rows).await {
        tracing::warn!(error = %e, "cannot forget the artifacts of a failed sync");
        return;
    }
    let still = crate::models::find_artifacts(ctx.app().db(), &created.files)
        .await
        .unwrap_or_default();
    let recorded: HashSet<String> = still.iter().map(|a| a.sha256().to_string()).collect();
    for sha in created.files.iter().filter(|s| !recorded.contains(*s)) {
        if let Err(e) = ctx.app().storage().delete_artifact(sha).await {
            tracing::warn!(sha256 = %sha, error = %e, "cannot remove an artifact of a failed sync");
        }
    }
}
