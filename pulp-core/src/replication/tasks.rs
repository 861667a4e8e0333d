//! The tasks of a replication, as pulpcore runs them: `replicate_distributions` reads the
//! upstream, creates missing remotes and repositories at once and dispatches, in the
//! replication's task group, the updates, syncs, distribution changes and removals;
//! `finalize_replication` runs after all of them and, when every one completed, points each
//! replicated distribution at its repository's latest version in one go.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};

use super::records::{self, Policy, UpstreamPulp};
use super::{ErasedReplicator, LocalObject, ReplicationError, UpstreamClient, UPSTREAM_LABEL};
use crate::db::PulpId;
use crate::models::{DistributionKind, RemoteKind, RepositoryKind};
use crate::tasking::{
    mark_group_dispatched, DispatchRequest, TaskContext, TaskError, TaskFunctions, TaskOutput,
};

/// Pulp's name of the replication task.
pub const REPLICATE_TASK: &str = "pulpcore.app.tasks.replica.replicate_distributions";
/// Pulp's name of the task ending a replication.
pub const FINALIZE_TASK: &str = "pulpcore.app.tasks.replica.finalize_replication";
/// Pulp's name of the task removing several objects.
pub const MULTI_DELETE_TASK: &str = "pulpcore.app.tasks.base.general_multi_delete";
/// The REST layer's generic create and update tasks (registered by it; named here because
/// the domain dispatches them by name).
const GENERAL_CREATE: &str = "pulpcore.app.tasks.base.general_create";
const GENERAL_UPDATE: &str = "pulpcore.app.tasks.base.general_update";

/// Lock on the distributions of the (only) domain, taken by every distribution change.
pub const DISTRIBUTIONS_LOCK: &str = "pdrn:default:distributions";
/// Lock taken by each replication (one at a time).
pub const SERVERS_LOCK: &str = "pdrn:default:servers";

/// How many upstream objects (publications, repositories) are read at the same time.
const UPSTREAM_READS: usize = 8;

/// Registers the replication tasks.
pub fn register_tasks(tasks: &mut TaskFunctions) {
    tasks.register(REPLICATE_TASK, replicate_task);
    tasks.register(FINALIZE_TASK, finalize_task);
    tasks.register(MULTI_DELETE_TASK, multi_delete_task);
}

fn task_error(e: ReplicationError) -> TaskError {
    TaskError::new(e.to_string())
}

/// The arguments of [`REPLICATE_TASK`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ReplicateArgs {
    /// The upstream.
    pub server_pk: PulpId,
    /// A `q` filter replacing the upstream's `q_select` for this run (no removals then).
    #[serde(default)]
    pub q_select: Option<String>,
    /// The replication's task group.
    pub task_group: PulpId,
}

async fn replicate_task(ctx: TaskContext) -> TaskOutput {
    let args: ReplicateArgs = ctx.parse_args()?;
    let result = replicate(&ctx, &args).await;
    // Every task of the group is dispatched now (or none more will be).
    mark_group_dispatched(ctx.app().db(), args.task_group).await?;
    result.map_err(task_error)?;
    Ok(None)
}

/// One replicator's run against one upstream.
struct Run<'a> {
    ctx: &'a TaskContext,
    server: &'a UpstreamPulp,
    group: PulpId,
    replicator: &'a dyn ErasedReplicator,
}

impl Run<'_> {
    fn label(&self) -> String {
        self.server.pulp_id.to_string()
    }

    fn labels(&self) -> Value {
        json!({ UPSTREAM_LABEL: self.label() })
    }

    /// Whether replication may touch `object` (with the `labeled` policy, only what carries
    /// this upstream's label).
    fn manages(&self, object: &LocalObject) -> bool {
        self.server.policy != Policy::Labeled
            || object.labels.get(UPSTREAM_LABEL).and_then(|v| v.as_deref())
                == Some(self.label().as_str())
    }

    async fn dispatch(&self, request: DispatchRequest) -> Result<(), ReplicationError> {
        self.ctx
            .dispatch_child(request.task_group(self.group))
            .await
            .map_err(|e| ReplicationError::Invalid(e.to_string()))?;
        Ok(())
    }

    async fn update(
        &self,
        table: &str,
        pulp_type: &str,
        object: &LocalObject,
        data: Map<String, Value>,
        exclusive: Vec<String>,
        shared: Vec<String>,
    ) -> Result<(), ReplicationError> {
        self.dispatch(
            DispatchRequest::new(GENERAL_UPDATE)
                .args(json!({
                    "table": table, "pulp_type": pulp_type, "id": object.pulp_id,
                    "data": data, "partial": true,
                }))
                .exclusive(exclusive)
                .shared(shared),
        )
        .await
    }

    /// The remote's wanted fields.
    fn remote_fields(&self, url: &str, distribution: &Value) -> Map<String, Value> {
        let s = self.server;
        let mut fields = Map::new();
        fields.insert("url".into(), json!(url));
        fields.insert("pulp_labels".into(), self.labels());
        fields.insert(
            "policy".into(),
            json!(s
                .remote_policy
                .clone()
                .unwrap_or_else(|| "on_demand".into())),
        );
        fields.insert("ca_cert".into(), json!(s.ca_cert));
        fields.insert("tls_validation".into(), json!(s.tls_validation));
        fields.insert("client_cert".into(), json!(s.client_cert));
        fields.insert("client_key".into(), json!(s.client_key));
        fields.insert("download_concurrency".into(), json!(s.download_concurrency));
        fields.insert("max_retries".into(), json!(s.max_retries));
        fields.insert("total_timeout".into(), json!(s.total_timeout));
        fields.insert("connect_timeout".into(), json!(s.connect_timeout));
        fields.insert("sock_connect_timeout".into(), json!(s.sock_connect_timeout));
        fields.insert("sock_read_timeout".into(), json!(s.sock_read_timeout));
        fields.extend(self.replicator.remote_fields(distribution));
        fields
    }

    /// Whether the upstream distribution's content may have changed since the last
    /// replication (pulpcore's `requires_syncing`).
    fn requires_syncing(&self, distribution: &Value) -> bool {
        let unchanged_since = distribution
            .get("no_content_change_since")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        match (unchanged_since, self.server.last_replication) {
            (Some(since), Some(last)) => last < self.server.pulp_last_updated || last <= since,
            _ => true,
        }
    }
}

/// The upstream's distributions with the URL each one's remote syncs from (those serving
/// nothing left out), in the upstream's order.
async fn upstream_distributions(
    client: &UpstreamClient,
    replicator: &dyn ErasedReplicator,
    q: Option<&str>,
) -> Result<Vec<(Value, String)>, ReplicationError> {
    let listed = client.list(replicator.distributions(), q).await?;
    let resolved: Vec<Result<Option<(Value, String)>, ReplicationError>> = stream::iter(listed)
        .map(|distribution| async move {
            let serves = ["repository", "repository_version", "publication"]
                .iter()
                .any(|k| distribution.get(*k).is_some_and(|v| !v.is_null()));
            if !serves {
                return Ok(None);
            }
            let url = replicator.url(client, &distribution).await?;
            Ok(url.map(|url| {
                let url = if url.starts_with('/') {
                    format!("{}{url}", client.base_url())
                } else {
                    url
                };
                (distribution, url)
            }))
        })
        .buffered(UPSTREAM_READS)
        .collect()
        .await;
    let mut out = Vec::new();
    for item in resolved {
        if let Some(pair) = item? {
            out.push(pair);
        }
    }
    Ok(out)
}

fn by_name(objects: Vec<LocalObject>) -> HashMap<String, LocalObject> {
    objects.into_iter().map(|o| (o.name.clone(), o)).collect()
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

async fn replicate(ctx: &TaskContext, args: &ReplicateArgs) -> Result<(), ReplicationError> {
    let app = ctx.app();
    let db = app.db();
    let server = records::get(db, args.server_pk)
        .await?
        .ok_or_else(|| ReplicationError::Invalid("the upstream Pulp is gone".into()))?;
    let client = UpstreamClient::new(&server)?;
    let components: Vec<String> = client
        .components()
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let q = match &args.q_select {
        Some(q) => Some(q.clone()),
        None => server.q_select.clone().filter(|q| !q.is_empty()),
    };
    let replicators = app.registry().replicators.all.clone();
    let mut pairs: Vec<(String, String, PulpId)> = Vec::new();
    for replicator in replicators.iter() {
        if !components.iter().any(|c| c == replicator.component()) {
            continue;
        }
        let run = Run {
            ctx,
            server: &server,
            group: args.task_group,
            replicator: replicator.as_ref(),
        };
        let distributions =
            upstream_distributions(&client, replicator.as_ref(), q.as_deref()).await?;
        let progress = ctx
            .progress(
                "Replicating distributions",
                "replicate.distributions",
                Some(distributions.len() as u64),
            )
            .await
            .ok();
        let mut remotes = by_name(replicator.remotes(db).await?);
        let mut repositories = by_name(replicator.repositories(db).await?);
        let types = replicator.types();
        let mut names = Vec::new();
        let mut pending = Vec::new();
        for (distribution, url) in &distributions {
            let name = text(distribution, "name");
            // The remote.
            let wanted = run.remote_fields(url, distribution);
            let remote = match remotes.get(&name) {
                Some(remote) if !run.manages(remote) => continue,
                Some(remote) => {
                    if !remote.has(&wanted) {
                        run.update(
                            "core_remote",
                            types.remote,
                            remote,
                            wanted,
                            vec![remote.href.clone()],
                            vec![server.href()],
                        )
                        .await?;
                    }
                    remote.clone()
                }
                None => {
                    let mut body = wanted;
                    body.insert("name".into(), json!(name));
                    let made = replicator.create_remote(db, body).await?;
                    remotes.insert(name.clone(), made.clone());
                    made
                }
            };
            // The repository.
            let mut wanted = replicator.repository_fields(url);
            wanted.insert("pulp_labels".into(), run.labels());
            let repository = match repositories.get(&name) {
                Some(repository) if !run.manages(repository) => continue,
                Some(repository) => {
                    if !repository.has(&wanted) {
                        run.update(
                            "core_repository",
                            types.repository,
                            repository,
                            wanted,
                            vec![repository.href.clone()],
                            vec![server.href()],
                        )
                        .await?;
                    }
                    repository.clone()
                }
                None => {
                    let mut body = wanted;
                    body.insert("name".into(), json!(name));
                    let made = replicator.create_repository(db, body).await?;
                    repositories.insert(name.clone(), made.clone());
                    made
                }
            };
            if run.requires_syncing(distribution) {
                let task = app.sync_task(types.repository).ok_or_else(|| {
                    ReplicationError::Invalid(format!(
                        "repositories of type {} have no sync task",
                        types.repository
                    ))
                })?;
                run.dispatch(
                    DispatchRequest::new(task)
                        .args(replicator.sync_args(remote.pulp_id, repository.pulp_id))
                        .exclusive([repository.href.clone()])
                        .shared([remote.href.clone(), server.href()]),
                )
                .await?;
            }
            names.push(name.clone());
            pairs.push((name, types.distribution.to_string(), repository.pulp_id));
            pending.push((repository, distribution));
            if let Some(p) = &progress {
                let _ = p.increment(1).await;
            }
        }
        // Distributions before removals: a distribution renamed upstream (same base path)
        // is renamed here at once, so the removals below do not take it.
        let mut distros = by_name(replicator.distribution_list(db).await?);
        for (repository, distribution) in pending {
            let name = text(distribution, "name");
            let base_path = text(distribution, "base_path");
            let mut wanted = Map::new();
            wanted.insert("base_path".into(), json!(base_path));
            wanted.insert("pulp_labels".into(), run.labels());
            let existing = match distros.get(&name) {
                Some(d) if !run.manages(d) => continue,
                Some(d) => Some(d.clone()),
                None => {
                    let renamed = distros
                        .values()
                        .find(|d| d.state.get("base_path") == Some(&json!(base_path)))
                        .filter(|d| run.manages(d))
                        .cloned();
                    if let Some(d) = &renamed {
                        replicator
                            .rename_distribution(db, d.pulp_id, name.clone())
                            .await?;
                        distros.remove(&d.name);
                        let mut d = d.clone();
                        d.name = name.clone();
                        distros.insert(name.clone(), d);
                    }
                    renamed
                }
            };
            match existing {
                Some(d) => {
                    if !d.has(&wanted) {
                        run.update(
                            "core_distribution",
                            types.distribution,
                            &d,
                            wanted,
                            vec![DISTRIBUTIONS_LOCK.to_string()],
                            vec![repository.href.clone(), server.href()],
                        )
                        .await?;
                    }
                }
                None => {
                    wanted.insert("name".into(), json!(name));
                    run.dispatch(
                        DispatchRequest::new(GENERAL_CREATE)
                            .args(json!({
                                "table": "core_distribution",
                                "pulp_type": types.distribution,
                                "data": wanted,
                            }))
                            .exclusive([DISTRIBUTIONS_LOCK])
                            .shared([repository.href.clone(), server.href()]),
                    )
                    .await?;
                }
            }
        }
        if let Some(p) = progress {
            let _ = p.complete().await;
        }
        // A run with its own filter replicates a subset: nothing is removed then.
        if args.q_select.is_none() {
            remove_missing(&run, &names, distros, remotes, repositories).await?;
        }
    }
    ctx.dispatch_child(
        DispatchRequest::new(FINALIZE_TASK)
            .args(
                json!({"server_pk": server.pulp_id, "pairs": pairs, "task_group": args.task_group}),
            )
            .exclusive([server.href(), DISTRIBUTIONS_LOCK.to_string()])
            .task_group(args.task_group),
    )
    .await
    .map_err(|e| ReplicationError::Invalid(e.to_string()))?;
    Ok(())
}

/// Removes, per policy, the distributions, repositories and remotes of the replicator's types
/// that the upstream no longer has.
async fn remove_missing(
    run: &Run<'_>,
    names: &[String],
    distributions: HashMap<String, LocalObject>,
    remotes: HashMap<String, LocalObject>,
    repositories: HashMap<String, LocalObject>,
) -> Result<(), ReplicationError> {
    if run.server.policy == Policy::NoDelete {
        return Ok(());
    }
    let gone = |objects: HashMap<String, LocalObject>| -> Vec<LocalObject> {
        let mut out: Vec<LocalObject> = objects
            .into_values()
            .filter(|o| !names.contains(&o.name) && run.manages(o))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    };
    let distributions = gone(distributions);
    if !distributions.is_empty() {
        let objects: Vec<Value> = distributions
            .iter()
            .map(|d| json!([d.pulp_id, "core_distribution"]))
            .collect();
        run.dispatch(
            DispatchRequest::new(MULTI_DELETE_TASK)
                .args(json!({ "objects": objects }))
                .exclusive([DISTRIBUTIONS_LOCK])
                .shared([run.server.href()]),
        )
        .await?;
    }
    let repositories = gone(repositories);
    let remotes = gone(remotes);
    if !repositories.is_empty() || !remotes.is_empty() {
        let mut exclusive = vec![DISTRIBUTIONS_LOCK.to_string()];
        let mut objects = Vec::new();
        for r in &repositories {
            exclusive.push(r.href.clone());
            objects.push(json!([r.pulp_id, "core_repository"]));
        }
        for r in &remotes {
            exclusive.push(r.href.clone());
            objects.push(json!([r.pulp_id, "core_remote"]));
        }
        run.dispatch(
            DispatchRequest::new(MULTI_DELETE_TASK)
                .args(json!({ "objects": objects }))
                .exclusive(exclusive)
                .shared([run.server.href()]),
        )
        .await?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct MultiDeleteArgs {
    objects: Vec<(PulpId, String)>,
}

async fn multi_delete_task(ctx: TaskContext) -> TaskOutput {
    let args: MultiDeleteArgs = ctx.parse_args()?;
    let db = ctx.app().db();
    for (id, table) in args.objects {
        let result = match table.as_str() {
            "core_distribution" => crate::models::delete::<DistributionKind>(db, id).await,
            "core_repository" => crate::models::delete::<RepositoryKind>(db, id).await,
            "core_remote" => crate::models::delete::<RemoteKind>(db, id).await,
            other => return Err(TaskError::new(format!("cannot delete objects of {other}"))),
        };
        match result {
            // Already gone: what was asked is done.
            Ok(()) | Err(crate::models::ModelError::NotFound { .. }) => {}
            Err(e) => return Err(TaskError::new(e.to_string())),
        }
    }
    ctx.app().served_objects_changed();
    Ok(None)
}

#[derive(serde::Deserialize)]
struct FinalizeArgs {
    server_pk: PulpId,
    pairs: Vec<(String, String, PulpId)>,
    task_group: PulpId,
}

type GroupTaskRow = (
    PulpId,
    String,
    String,
    Option<sqlx::types::Json<Value>>,
    Option<DateTime<Utc>>,
);

async fn finalize_task(ctx: TaskContext) -> TaskOutput {
    let args: FinalizeArgs = ctx.parse_args()?;
    let app = ctx.app();
    let db = app.db();
    let rows: Vec<GroupTaskRow> = crate::on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT pulp_id, name, state, error, started_at FROM core_task WHERE task_group = $1 ORDER BY seq",
        )
        .bind(args.task_group)
        .fetch_all(pool)
        .await?
    });
    let others: Vec<&GroupTaskRow> = rows.iter().filter(|r| r.0 != ctx.task_id()).collect();
    let failed: Vec<String> = others
        .iter()
        .filter(|r| r.2 != "completed")
        .map(|(_, name, state, error, _)| {
            let description = error
                .as_ref()
                .and_then(|e| e.0.get("description"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| state.clone());
            format!("  {name}: {description}")
        })
        .collect();
    if !failed.is_empty() {
        return Err(TaskError::new(format!(
            "Replication failed. {} subtask(s) did not complete successfully:\n{}",
            failed.len(),
            failed.join("\n")
        )));
    }
    let replicators = app.registry().replicators.all.clone();
    let mut by_type: BTreeMap<String, HashMap<String, LocalObject>> = BTreeMap::new();
    let mut changed = false;
    for (name, pulp_type, repository) in &args.pairs {
        let Some(replicator) = replicators
            .iter()
            .find(|r| r.types().distribution == pulp_type)
        else {
            continue;
        };
        if !by_type.contains_key(pulp_type) {
            let list = replicator.distribution_list(db).await.map_err(task_error)?;
            by_type.insert(pulp_type.clone(), by_name(list));
        }
        let Some(distribution) = by_type.get(pulp_type).and_then(|m| m.get(name)) else {
            continue;
        };
        let latest = match crate::repository::latest_version(db, *repository).await {
            Ok(v) => v,
            Err(_) => continue,
        };
        changed |= replicator
            .serve_version(db, distribution.pulp_id, latest.pulp_id)
            .await
            .map_err(task_error)?;
    }
    if changed {
        app.served_objects_changed();
    }
    let started = rows
        .iter()
        .filter_map(|r| r.4)
        .min()
        .unwrap_or_else(Utc::now);
    records::set_last_replication(db, args.server_pk, started)
        .await
        .map_err(task_error)?;
    Ok(None)
}
