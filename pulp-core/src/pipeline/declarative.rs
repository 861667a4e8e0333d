//! [`DeclarativeVersion`]: a plugin's first stage plus the default stages, ending in a new
//! repository version.

use std::collections::HashSet;

use super::stage::{run_pipeline, Accepts, First};
use super::{
    ArtifactDownloader, ArtifactSaver, ContentAssociation, ContentSaver, FirstStage, PipelineError,
    QueryExistingArtifacts, QueryExistingContents, RemoteArtifactSaver, ResolveContentFutures,
    Stage, SyncContext,
};
use crate::db::PulpId;
use crate::models::{forget_artifacts, get_master, RepositoryKind};
use crate::repository::{NewVersion, RepositoryVersion};

/// The stages of a pipeline.
pub type Stages = Vec<Box<dyn Stage>>;
/// A change to the default stages (see [`DeclarativeVersion::stages`]).
type StageChange = Box<dyn FnOnce(&mut Stages) + Send>;

/// A sync: the plugin's first stage, then `QueryExistingArtifacts → ArtifactDownloader →
/// ArtifactSaver → QueryExistingContents → ContentSaver → RemoteArtifactSaver →
/// ResolveContentFutures → ContentAssociation`, then a new version of the repository holding
/// the units emitted (added to the latest version; in mirror mode, replacing the units of the
/// repository type's content types).
///
/// The first stage may emit units of every content type the repository type declares
/// ([`RepositoryType::CONTENT_TYPES`](crate::repository::RepositoryType::CONTENT_TYPES);
/// a unit of another type fails the sync); the default stages batch them per type, and all
/// of them go into the one new version.
///
/// The version is made through [`NewVersion`] at the end, so a failure leaves no version;
/// when nothing changed no version is made (`Ok(None)`). A failed sync also removes the
/// artifacts it added (storage files and `core_artifact` rows).
pub struct DeclarativeVersion {
    first: Box<dyn Stage>,
    repository_id: PulpId,
    mirror: bool,
    customize: Vec<StageChange>,
}

impl std::fmt::Debug for DeclarativeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeclarativeVersion")
            .field("first", &self.first.name())
            .field("repository_id", &self.repository_id)
            .field("mirror", &self.mirror)
            .finish()
    }
}

impl DeclarativeVersion {
    /// A sync of `repository_id` fed by `first_stage`; `mirror`: units (of the repository
    /// type's content types) the first stage does not emit are removed from the new version.
    pub fn new(first_stage: impl FirstStage, repository_id: PulpId, mirror: bool) -> Self {
        Self::from_stage(First(first_stage), repository_id, mirror)
    }

    /// [`DeclarativeVersion::new`] with a first stage written as a [`Stage`] (its input is
    /// empty).
    pub fn from_stage(first_stage: impl Stage, repository_id: PulpId, mirror: bool) -> Self {
        Self {
            first: Box::new(first_stage),
            repository_id,
            mirror,
            customize: Vec::new(),
        }
    }

    /// Changes the default stages (after the first one) before the sync runs: insert,
    /// replace or remove stages (find them by [`Stage::name`]).
    pub fn stages(mut self, change: impl FnOnce(&mut Stages) + Send + 'static) -> Self {
        self.customize.push(Box::new(change));
        self
    }

    /// The default stages after the first one.
    pub fn default_stages(ctx: &SyncContext, association: &ContentAssociation) -> Stages {
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
        let repository = get_master::<RepositoryKind>(ctx.app().db(), self.repository_id).await?;
        let content_types = ctx
            .app()
            .repository_hooks(&repository.pulp_type)
            .map(|h| h.content_types)
            .unwrap_or_default();
        let accepts = (!content_types.is_empty()).then(|| Accepts {
            repository_type: repository.pulp_type.clone(),
            content_types,
        });
        let association = ContentAssociation::new();
        let mut rest = Self::default_stages(ctx, &association);
        for change in self.customize {
            change(&mut rest);
        }
        let mut stages = Vec::with_capacity(rest.len() + 1);
        stages.push(self.first);
        stages.extend(rest);
        let started = std::time::Instant::now();
        let stages_result = run_pipeline(stages, accepts).await;
        let staged = started.elapsed();
        let result = match stages_result {
            Ok(()) => {
                let ids = association.take_ids();
                let mirror = self.mirror.then_some(content_types);
                associate(ctx, self.repository_id, mirror, ids).await
            }
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

/// Makes the new version: adds `ids`; with `mirror` (the repository type's content types;
/// empty: any), first removes the units of those types that `ids` does not name.
async fn associate(
    ctx: &SyncContext,
    repository_id: PulpId,
    mirror: Option<&'static [&'static str]>,
    ids: Vec<PulpId>,
) -> Result<Option<RepositoryVersion>, PipelineError> {
    let adding = ctx
        .progress("Associating Content", "associating.content", None)
        .await?;
    let removing = ctx
        .progress("Un-Associating Content", "unassociating.content", None)
        .await?;
    let mut version = NewVersion::start(ctx.app(), repository_id).await?;
    if let Some(types) = mirror {
        let keep: HashSet<PulpId> = ids.iter().copied().collect();
        // Units of other types stay. Usually the version holds only the type's own (as its
        // counts say): then one unfiltered read.
        let only_own = types.is_empty()
            || (version.base_version().counts.present.iter())
                .all(|(t, n)| *n <= 0 || types.contains(&t.as_str()));
        let present = if only_own {
            version.present_ids(None).await?
        } else {
            let mut present = Vec::new();
            for t in types {
                present.extend(version.present_ids(Some(t)).await?);
            }
            present
        };
        let gone: Vec<PulpId> = present
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
