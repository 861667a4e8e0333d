//! `/orphans/cleanup/` (and the deprecated `DELETE /orphans/`): a task deleting content in no
//! repository version, then artifacts nothing references (with their files), both older than
//! the protection time. Deletes run in batches, each guarded so that a unit or artifact that
//! became referenced meanwhile is kept.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, post};
use chrono::Utc;
use futures::StreamExt;
use serde_json::json;

use super::generic::refs::parse_master;
use super::generic::task_response;
use super::list::{SqlValue, SqlWhere};
use super::openapi::{Operation, RequestBody, Response as Doc};
use super::{parse_json, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::tasking::{dispatch, DispatchRequest, TaskContext, TaskError, TaskOutput};

/// Pulp's name of the orphan cleanup task (args `{"content_pks", "orphan_protection_time"}`).
pub const ORPHAN_CLEANUP: &str = "pulpcore.app.tasks.orphan.orphan_cleanup";
/// The resource every orphan cleanup holds exclusively.
pub const ORPHAN_RESOURCE: &str = "/api/v3/orphans/cleanup/";
/// Ids per delete statement.
const BATCH: usize = 500;

/// Mounts the orphan endpoints, documented.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    routes.raw_schema(
        "OrphansCleanup",
        json!({
            "type": "object",
            "properties": {
                "content_hrefs": {"type": "array", "items": {}, "description": "Will delete specified content and associated Artifacts if they are orphans."},
                "orphan_protection_time": {"type": ["integer", "null"], "format": "int64", "minimum": 0, "maximum": 4294967295u64,
                    "description": "The time in minutes for how long Pulp will hold orphan Content and Artifacts before they become candidates for deletion by this orphan cleanup task. If not specified, a default value is taken from the setting ORPHAN_PROTECTION_TIME."},
            },
        }),
    );
    let cleanup = format!("{API_ROOT}/orphans/cleanup/");
    routes.route(
        &cleanup,
        post(cleanup_handler),
        [Operation::new(
            "post",
            &cleanup,
            "orphans_cleanup_cleanup",
            "Orphans: Cleanup",
        )
        .summary("Cleanup orphaned content")
        .body(RequestBody::Schema("OrphansCleanup".into()))
        .response(202, Doc::Task)],
    );
    let orphans = format!("{API_ROOT}/orphans/");
    routes.route(
        &orphans,
        delete(delete_handler),
        [
            Operation::new("delete", &orphans, "orphans_delete", "Orphans")
                .summary("Delete orphans (deprecated: use orphans/cleanup/)")
                .response(202, Doc::Task),
        ],
    );
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CleanupBody {
    #[serde(default)]
    content_hrefs: Option<Vec<String>>,
    #[serde(default)]
    orphan_protection_time: Option<i64>,
}

async fn start(
    app: &App,
    content: Option<Vec<PulpId>>,
    minutes: u64,
) -> Result<Response, ApiError> {
    let task = dispatch(
        app,
        DispatchRequest::new(ORPHAN_CLEANUP)
            .args(json!({"content_pks": content, "orphan_protection_time": minutes}))
            .exclusive([ORPHAN_RESOURCE]),
    )
    .await?;
    Ok(task_response(&task))
}

async fn cleanup_handler(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let body: CleanupBody = if body.iter().all(u8::is_ascii_whitespace) {
        CleanupBody::default()
    } else {
        parse_json(&body)?
    };
    let minutes = match body.orphan_protection_time {
        None => app.settings().orphan_protection_time,
        Some(n) if (0..=u32::MAX as i64).contains(&n) => n as u64,
        Some(_) => {
            return Err(ApiError::field(
                "orphan_protection_time",
                "Ensure this value is between 0 and 4294967295.",
            ))
        }
    };
    let content = match body.content_hrefs {
        None => None,
        Some(hrefs) => {
            let mut ids = Vec::with_capacity(hrefs.len());
            for href in hrefs {
                let id = parse_master(&app, &href, "core_content").ok_or_else(|| {
                    ApiError::field(
                        "content_hrefs",
                        format!("Could not find content for '{href}'."),
                    )
                })?;
                ids.push(id);
            }
            Some(ids)
        }
    };
    start(&app, content, minutes).await
}

async fn delete_handler(State(app): State<App>) -> Result<Response, ApiError> {
    start(&app, None, 0).await
}

#[derive(serde::Deserialize)]
struct CleanupArgs {
    #[serde(default)]
    content_pks: Option<Vec<PulpId>>,
    #[serde(default)]
    orphan_protection_time: u64,
}

/// Ids selected by `sql` (which ends in a `WHERE` clause list) restricted to `only` when given,
/// in batches of [`BATCH`] ids.
async fn select_ids(
    app: &App,
    select: &str,
    clauses: &[(&str, Vec<SqlValue>)],
    column: &str,
    only: Option<&[PulpId]>,
) -> Result<Vec<PulpId>, ApiError> {
    let batches: Vec<Option<&[PulpId]>> = match only {
        None => vec![None],
        Some(ids) => ids.chunks(BATCH).map(Some).collect(),
    };
    let mut out = Vec::new();
    for batch in batches {
        let mut filter = SqlWhere::new(app.db().backend());
        for (clause, values) in clauses {
            filter.add(clause, values.iter().cloned());
        }
        if let Some(ids) = batch {
            filter.add_in(
                column,
                ids.iter().map(|id| SqlValue::Id(Some(*id))).collect(),
            );
        }
        let sql = format!("{select} {}", filter.sql());
        let ids: Vec<PulpId> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_scalar(&sql), filter.values()).fetch_all(pool).await?
        });
        out.extend(ids);
    }
    Ok(out)
}

const CONTENT_ORPHAN: &str =
    "NOT EXISTS (SELECT 1 FROM core_repositorycontent rc WHERE rc.content_id = core_content.pulp_id)";
const ARTIFACT_ORPHAN: &str =
    "NOT EXISTS (SELECT 1 FROM core_contentartifact ca WHERE ca.artifact_id = core_artifact.pulp_id) \
     AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata pm WHERE pm.artifact_id = core_artifact.pulp_id)";

/// What one cleanup deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanupCounts {
    /// Content units deleted.
    pub content: u64,
    /// Artifacts deleted (with their files).
    pub artifacts: u64,
}

/// Deletes orphan content (of `only`, when given) created more than `minutes` ago, then
/// orphan artifacts (of that content, when given) last used more than `minutes` ago (an
/// artifact's `pulp_last_updated` is its timestamp of interest: creating content from an
/// existing artifact touches it).
pub async fn cleanup(
    app: &App,
    only: Option<&[PulpId]>,
    minutes: u64,
) -> Result<CleanupCounts, ApiError> {
    let cutoff = Utc::now() - chrono::Duration::minutes(minutes.min(u32::MAX as u64) as i64);
    // The artifacts of the named content, before the content (and its links) go.
    let artifact_candidates = match only {
        None => None,
        Some(content) => Some(
            select_ids(
                app,
                "SELECT artifact_id FROM core_contentartifact",
                &[("artifact_id IS NOT NULL", vec![])],
                "content_id",
                Some(content),
            )
            .await?,
        ),
    };
    let content = select_ids(
        app,
        "SELECT pulp_id FROM core_content",
        &[
            (CONTENT_ORPHAN, vec![]),
            ("pulp_created < ?", vec![SqlValue::Time(Some(cutoff))]),
        ],
        "pulp_id",
        only,
    )
    .await?;
    let mut counts = CleanupCounts::default();
    for batch in content.chunks(BATCH) {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add(CONTENT_ORPHAN, []);
        filter.add_in(
            "pulp_id",
            batch.iter().map(|id| SqlValue::Id(Some(*id))).collect(),
        );
        let sql = format!("DELETE FROM core_content {}", filter.sql());
        counts.content += crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query(&sql), filter.values()).execute(pool).await?.rows_affected()
        });
    }
    let artifacts = select_ids(
        app,
        "SELECT pulp_id FROM core_artifact",
        &[
            (ARTIFACT_ORPHAN, vec![]),
            ("pulp_last_updated < ?", vec![SqlValue::Time(Some(cutoff))]),
        ],
        "pulp_id",
        artifact_candidates.as_deref(),
    )
    .await?;
    let mut files = Vec::new();
    for batch in artifacts.chunks(BATCH) {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add(ARTIFACT_ORPHAN, []);
        filter.add_in(
            "pulp_id",
            batch.iter().map(|id| SqlValue::Id(Some(*id))).collect(),
        );
        let sql = format!(
            "DELETE FROM core_artifact {} RETURNING sha256",
            filter.sql()
        );
        let deleted: Vec<String> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_scalar(&sql), filter.values()).fetch_all(pool).await?
        });
        counts.artifacts += deleted.len() as u64;
        files.extend(deleted);
    }
    let storage = app.storage().clone();
    let mut deletions = futures::stream::iter(files)
        .map(|sha256| {
            let storage = storage.clone();
            async move { (storage.delete_artifact(&sha256).await, sha256) }
        })
        .buffer_unordered(8);
    while let Some((result, sha256)) = deletions.next().await {
        if let Err(e) = result {
            tracing::warn!(%sha256, error = %e, "cannot delete the file of an orphan artifact");
        }
    }
    Ok(counts)
}

/// `pulpcore.app.tasks.orphan.orphan_cleanup`.
pub async fn cleanup_task(ctx: TaskContext) -> TaskOutput {
    let args: CleanupArgs = ctx.parse_args()?;
    let content_report = ctx
        .progress("Clean up orphan Content", "clean-up.content", None)
        .await?;
    let artifact_report = ctx
        .progress("Clean up orphan Artifacts", "clean-up.artifacts", None)
        .await?;
    let counts = cleanup(
        ctx.app(),
        args.content_pks.as_deref(),
        args.orphan_protection_time,
    )
    .await
    .map_err(|e| TaskError::new(e.to_string()))?;
    for (report, n) in [
        (&content_report, counts.content),
        (&artifact_report, counts.artifacts),
    ] {
        report.set_total(n).await?;
        report.increment(n).await?;
        report.complete().await?;
    }
    Ok(None)
}
