//! A small complete pulp-rs content plugin, written against `pulp-plugin-api` only.
//!
//! A remote's `url` names a `GREETINGS` index (`name,sha256,size` per line); each greeting's
//! text sits next to it as `<name>.txt`. A sync makes a repository version of the greetings,
//! a publish renders a version (every greeting plus a fresh index), and a distribution
//! serves it through the content app. `docs/plugin-api.md` walks through this file.

#![warn(missing_docs)]

use pulp_plugin_api::deps::bytes::Bytes;
use pulp_plugin_api::deps::{tokio, url::Url};
use pulp_plugin_api::download::Downloader;
use pulp_plugin_api::models::{
    self, Detail, DetailTable, Labels, Model, Policy, PublicationFields,
};
use pulp_plugin_api::pipeline::{
    DeclarativeArtifact, DeclarativeContent, DeclarativeVersion, FirstStage, PipelineError,
    StageOutput, SyncContext,
};
use pulp_plugin_api::publication::{
    add_published_metadata, mark_complete, publish_version_artifacts,
};
use pulp_plugin_api::repository::{get_version_by_id, version_content_artifacts};
use pulp_plugin_api::repository::{NewVersion, RepositoryType, VersionError};
use pulp_plugin_api::tasking::{TaskContext, TaskError, TaskOutput};
use pulp_plugin_api::validation::{Validate, ValidationErrors};
use pulp_plugin_api::{App, ChecksumType, Component, ExpectedArtifact, Plugin, PulpId, Registry};
use serde::{Deserialize, Serialize};

/// The index a remote serves and a publication contains.
pub const INDEX: &str = "GREETINGS";
/// The stable name of the sync task.
pub const SYNC_TASK: &str = "pulp_hello.app.tasks.synchronize";
/// The stable name of the publish task.
pub const PUBLISH_TASK: &str = "pulp_hello.app.tasks.publish";

/// A greeting: a text file under a name (`hello.greeting`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Detail)]
#[pulp(kind = content, pulp_type = "hello.greeting", table = "hello_greeting")]
#[pulp(
    endpoint = "hello/greetings",
    natural_key(name, sha256),
    repo_key(name),
    filter(name)
)]
pub struct Greeting {
    /// Its name: letters, digits, `-` and `_` (the file is `<name>.txt`).
    pub name: String,
    /// The sha256 of its text.
    pub sha256: String,
}

impl Validate for Greeting {
    fn validate(&self, errors: &mut ValidationErrors) {
        let word = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        };
        if self.name.is_empty() || !word(&self.name) {
            errors.add("name", "Use letters, digits, '-' and '_'.");
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.add("sha256", "Not a sha256 hex digest.");
        }
    }
}

/// A remote serving a `GREETINGS` index; all its fields are the remote's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Detail)]
#[pulp(kind = remote, pulp_type = "hello.greeting", table = "hello_remote")]
#[pulp(endpoint = "hello/greeting")]
pub struct HelloRemote {}

/// A repository of greetings: one greeting per name in each version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Detail)]
#[pulp(kind = repository, pulp_type = "hello.greeting", table = "hello_repository")]
#[pulp(endpoint = "hello/greeting")]
pub struct HelloRepository {}

/// A publication of a repository version of greetings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Detail)]
#[pulp(kind = publication, pulp_type = "hello.greeting", table = "hello_publication")]
#[pulp(endpoint = "hello/greeting")]
pub struct HelloPublication {}

/// A distribution of greetings (served by the content app).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Detail)]
#[pulp(kind = distribution, pulp_type = "hello.greeting", table = "hello_distribution")]
#[pulp(endpoint = "hello/greeting")]
pub struct HelloDistribution {}

impl Validate for HelloRemote {}
impl Validate for HelloRepository {}
impl Validate for HelloPublication {}
impl Validate for HelloDistribution {}

impl RepositoryType for HelloRepository {
    const CONTENT_TYPES: &'static [&'static str] = &[Greeting::PULP_TYPE];

    /// A greeting added under a name replaces the one that was there.
    async fn finalize_new_version(version: &mut NewVersion) -> Result<(), VersionError> {
        version.remove_duplicates::<Greeting>().await
    }
}

/// The hello plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct HelloPlugin;

impl Plugin for HelloPlugin {
    fn register(&self, r: &mut Registry) {
        let version = env!("CARGO_PKG_VERSION");
        r.component(Component::new(
            "hello",
            "hello-plugin",
            version,
            "pulp_hello.app",
        ));
        r.settings_defaults(serde_json::json!({ "hello_greeting": "hello" }));
        r.settings_validator(|settings| {
            match settings.extra_value::<String>("hello_greeting")? {
                Some(text) if text.trim().is_empty() => Err(blank("hello_greeting")),
                _ => Ok(()),
            }
        });
        r.migrations([
            Greeting::migration("hello", "0001_greeting"),
            HelloRemote::migration("hello", "0002_remote"),
            HelloRepository::migration("hello", "0003_repository"),
            HelloPublication::migration("hello", "0004_publication"),
            HelloDistribution::migration("hello", "0005_distribution"),
        ]);
        r.content::<Greeting>().remote::<HelloRemote>();
        r.repository::<HelloRepository>()
            .sync(SYNC_TASK, sync_task)
            .publish::<HelloPublication>(PUBLISH_TASK, publish_task)
            .distribution::<HelloDistribution>();
    }

    fn name(&self) -> &str {
        "hello-plugin"
    }
}

fn blank(setting: &str) -> pulp_plugin_api::SettingError {
    pulp_plugin_api::SettingError::new(setting, "must not be blank")
}

/// The first stage of a sync: reads the remote's index and declares one greeting per line.
struct GreetingsIndex {
    ctx: SyncContext,
    remote: Model<HelloRemote>,
    downloader: Downloader,
}

impl GreetingsIndex {
    fn declare(&self, index: &Url, line: &str) -> Result<DeclarativeContent, String> {
        let [name, sha256, size] = line.split(',').collect::<Vec<_>>()[..] else {
            return Err(format!("'{line}' is not name,sha256,size"));
        };
        let size = size
            .parse()
            .map_err(|_| format!("'{size}' is not a size"))?;
        let greeting = Greeting {
            name: name.into(),
            sha256: sha256.into(),
        };
        greeting.validated().map_err(|e| e.to_string())?;
        let file = format!("{name}.txt");
        let url = index.join(&file).map_err(|e| e.to_string())?;
        let expected = ExpectedArtifact::any()
            .with_size(size)
            .with_digest(ChecksumType::Sha256, sha256.to_string());
        let deferred = self.remote.fields().policy != Policy::Immediate;
        let remote = Some(self.remote.pulp_id());
        let artifact = DeclarativeArtifact::new(url.to_string(), file, expected, remote, deferred);
        Ok(DeclarativeContent::new(greeting, vec![artifact]))
    }
}

impl FirstStage for GreetingsIndex {
    async fn run(self, output: StageOutput) -> Result<(), PipelineError> {
        let url = &self.remote.fields().url;
        let index = Url::parse(url).map_err(|e| PipelineError::new(format!("{url}: {e}")))?;
        let dir = self.ctx.working_dir();
        let file = self
            .downloader
            .fetch(url, &ExpectedArtifact::any(), dir)
            .await?;
        let text = tokio::fs::read_to_string(&file.path).await;
        let text = text.map_err(|e| PipelineError::new(format!("reading {INDEX}: {e}")))?;
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let unit = self.declare(&index, line.trim());
            let unit =
                unit.map_err(|e| PipelineError::new(format!("{INDEX} line {}: {e}", n + 1)))?;
            output.put(unit).await?;
        }
        Ok(())
    }
}

/// The arguments of [`SYNC_TASK`] (what `POST {repository_href}sync/` dispatches).
#[derive(Debug, Deserialize)]
struct SyncArgs {
    remote_pk: PulpId,
    repository_pk: PulpId,
    #[serde(default)]
    mirror: bool,
}

/// Syncs a repository from a remote (with the remote's download policy).
async fn sync_task(task: TaskContext) -> TaskOutput {
    let args: SyncArgs = task.parse_args()?;
    let remote = models::get::<HelloRemote>(task.app().db(), args.remote_pk).await?;
    let downloader =
        Downloader::for_remote(remote.fields()).map_err(|e| TaskError::new(e.to_string()))?;
    let ctx = SyncContext::for_task(&task).with_downloader(remote.pulp_id(), downloader.clone());
    let first = GreetingsIndex {
        ctx: ctx.clone(),
        remote,
        downloader,
    };
    let sync = DeclarativeVersion::new(first, args.repository_pk, args.mirror);
    if let Some(version) = sync.create(&ctx).await? {
        let repository = models::href::<HelloRepository>(args.repository_pk);
        task.add_created_resource(models::version_href(&repository, version.number));
    }
    Ok(None)
}

/// The arguments of [`PUBLISH_TASK`] (what `POST /publications/hello/greeting/` dispatches).
#[derive(Debug, Deserialize)]
struct PublishArgs {
    repository_version_pk: PulpId,
}

/// Publishes a repository version.
async fn publish_task(task: TaskContext) -> TaskOutput {
    let args: PublishArgs = task.parse_args()?;
    let publication = publish(task.app(), args.repository_version_pk).await?;
    task.add_created_resource(publication.pulp_href());
    Ok(None)
}

/// Publishes version `version_id`: every greeting at `<name>.txt` and a `GREETINGS` index of
/// them. The publication is served once complete (a failed publish leaves it incomplete).
pub async fn publish(app: &App, version_id: PulpId) -> Result<Model<HelloPublication>, TaskError> {
    let db = app.db();
    let version = get_version_by_id(db, version_id).await?;
    let fields = PublicationFields {
        repository_version_id: Some(version_id),
        ..Default::default()
    };
    let publication = models::create(db, Labels::new(), fields, HelloPublication {}).await?;
    let id = publication.pulp_id();
    publish_version_artifacts(db, id, &version).await?;
    let mut greetings = version_content_artifacts::<Greeting>(db, &version).await?;
    greetings.sort_by(|a, b| a.content.name.cmp(&b.content.name));
    let lines = greetings.iter().map(|g| {
        let size = g
            .size
            .ok_or_else(|| TaskError::new(format!("{}: no size", g.content.name)))?;
        Ok(format!("{},{},{size}\n", g.content.name, g.content.sha256))
    });
    let index = lines.collect::<Result<String, TaskError>>()?;
    let stored = app
        .storage()
        .ingest_bytes(Bytes::from(index), &ExpectedArtifact::any())
        .await?;
    let artifact = models::save_artifact(db, &stored).await?;
    add_published_metadata(db, id, artifact.pulp_id, INDEX).await?;
    mark_complete(db, id).await?;
    Ok(publication)
}
