//! The stages API with content types of the test's own: batching, custom stages, awaited
//! units, errors, mirror mode, downloads through the default chain, several content types in
//! one pipeline (units waiting for units of another type). SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use pulp_core::db::Migration;
use pulp_core::download::Downloader;
use pulp_core::models::{
    self, Column, ContentDetail, ContentKind, Detail, Labels, RemoteFields, RemoteKind,
    RepositoryFields, RepositoryKind,
};
use pulp_core::pipeline::{
    DeclarativeArtifact, DeclarativeContent, DeclarativeVersion, FirstStage, PipelineError, Stage,
    StageInput, StageOutput, SyncContext,
};
use pulp_core::repository::{latest_version, version_content_ids, RepositoryType};
use pulp_core::settings::SettingsSources;
use pulp_core::storage::{ChecksumType, ExpectedArtifact};
use pulp_core::testing::http::{Reply, TestServer};
use pulp_core::testing::TestDatabase;
use pulp_core::validation::{Validate, ValidationErrors};
use pulp_core::{App, Registry};
use serde::{Deserialize, Serialize};
use sha2::Digest;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Note {
    name: String,
}

impl Validate for Note {
    fn validate(&self, errors: &mut ValidationErrors) {
        if self.name.is_empty() {
            errors.add("name", "This field may not be blank.");
        }
    }
}

impl Detail for Note {
    type Kind = ContentKind;
    const PULP_TYPE: &'static str = "test.note";
    const TABLE: &'static str = "test_note";
    const COLUMNS: &'static [Column] = &[Column::text("name")];
    const PRN_MODEL: &'static str = "test.note";
    const ENDPOINT: &'static str = "test/notes";
}

impl ContentDetail for Note {
    const NATURAL_KEY: &'static [&'static str] = &["name"];
}

/// A tag on a note: refers to the note's saved id (a content future across types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Tag {
    label: String,
    note: pulp_core::db::PulpId,
}

impl Validate for Tag {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for Tag {
    type Kind = ContentKind;
    const PULP_TYPE: &'static str = "test.tag";
    const TABLE: &'static str = "test_tag";
    const COLUMNS: &'static [Column] = &[Column::text("label"), Column::id("note")];
    const PRN_MODEL: &'static str = "test.tag";
    const ENDPOINT: &'static str = "test/tags";
}

impl ContentDetail for Tag {
    const NATURAL_KEY: &'static [&'static str] = &["label", "note"];
}

/// A content type no shelf holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Other {
    name: String,
}

impl Validate for Other {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for Other {
    type Kind = ContentKind;
    const PULP_TYPE: &'static str = "test.other";
    const TABLE: &'static str = "test_other";
    const COLUMNS: &'static [Column] = &[Column::text("name")];
    const PRN_MODEL: &'static str = "test.other";
    const ENDPOINT: &'static str = "test/others";
}

impl ContentDetail for Other {
    const NATURAL_KEY: &'static [&'static str] = &["name"];
}

/// A repository type holding notes and tags only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Shelf {}

impl Validate for Shelf {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for Shelf {
    type Kind = RepositoryKind;
    const PULP_TYPE: &'static str = "test.shelf";
    const TABLE: &'static str = "test_shelf";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "test.shelf";
    const ENDPOINT: &'static str = "test/shelf";
}

impl RepositoryType for Shelf {
    const CONTENT_TYPES: &'static [&'static str] = &["test.note", "test.tag"];
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Box_ {}

impl Validate for Box_ {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for Box_ {
    type Kind = RepositoryKind;
    const PULP_TYPE: &'static str = "test.box";
    const TABLE: &'static str = "test_box";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "test.box";
    const ENDPOINT: &'static str = "test/box";
}

impl RepositoryType for Box_ {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Source {}

impl Validate for Source {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for Source {
    type Kind = RemoteKind;
    const PULP_TYPE: &'static str = "test.source";
    const TABLE: &'static str = "test_source";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "test.source";
    const ENDPOINT: &'static str = "test/source";
}

const SQL: &str = "CREATE TABLE test_note (pulp_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, \
     pulp_domain TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (name, pulp_domain)); \
     CREATE TABLE test_tag (pulp_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, \
     pulp_domain TEXT NOT NULL, label TEXT NOT NULL, note TEXT NOT NULL, UNIQUE (label, note, pulp_domain)); \
     CREATE TABLE test_other (pulp_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, \
     pulp_domain TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (name, pulp_domain)); \
     CREATE TABLE test_shelf (pulp_id TEXT PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE); \
     CREATE TABLE test_box (pulp_id TEXT PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE); \
     CREATE TABLE test_source (pulp_id TEXT PRIMARY KEY REFERENCES core_remote (pulp_id) ON DELETE CASCADE);";
const PG_SQL: &str = "CREATE TABLE test_note (pulp_id UUID PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, \
     pulp_domain TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (name, pulp_domain)); \
     CREATE TABLE test_tag (pulp_id UUID PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, \
     pulp_domain TEXT NOT NULL, label TEXT NOT NULL, note UUID NOT NULL, UNIQUE (label, note, pulp_domain)); \
     CREATE TABLE test_other (pulp_id UUID PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, \
     pulp_domain TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (name, pulp_domain)); \
     CREATE TABLE test_shelf (pulp_id UUID PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE); \
     CREATE TABLE test_box (pulp_id UUID PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE); \
     CREATE TABLE test_source (pulp_id UUID PRIMARY KEY REFERENCES core_remote (pulp_id) ON DELETE CASCADE);";

fn plugin(r: &mut Registry) {
    r.migrations([Migration {
        app: "test",
        name: "0001_initial",
        sqlite: SQL,
        postgres: PG_SQL,
    }]);
    r.content::<Note>()
        .content::<Tag>()
        .content::<Other>()
        .repository::<Box_>()
        .repository::<Shelf>()
        .remote::<Source>();
}

async fn app(t: &TestDatabase) -> App {
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(plugin)
        .build_with(t.settings())
        .await
        .expect("build");
    app.migrate().await.expect("migrate");
    app
}

fn note(name: &str) -> DeclarativeContent {
    DeclarativeContent::new(Note { name: name.into() }, vec![])
}

/// Emits the given items, optionally awaiting the first one's saved unit.
struct Emit {
    items: Vec<DeclarativeContent>,
    await_first: Option<Arc<Mutex<Option<String>>>>,
}

impl Stage for Emit {
    fn name(&self) -> &str {
        "Emit"
    }

    fn run(
        self: Box<Self>,
        _input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            let mut items = self.items.into_iter();
            if let Some(seen) = self.await_first {
                let Some(mut first) = items.next() else {
                    return Ok(());
                };
                let saved = first.resolution::<Note>();
                output.put(first).await?;
                // Nothing else is sent until the unit is saved: batching must not wait.
                let model = saved.await?;
                *seen.lock().unwrap() = Some(model.detail.name.clone());
            }
            for item in items {
                output.put(item).await?;
            }
            Ok(())
        })
    }
}

/// Records the size of every batch it sees; fails on a unit named "boom".
struct Spy {
    sizes: Arc<Mutex<Vec<usize>>>,
}

impl Stage for Spy {
    fn name(&self) -> &str {
        "Spy"
    }

    fn run(
        self: Box<Self>,
        mut input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            while let Some(batch) = input.batch(100).await {
                self.sizes.lock().unwrap().push(batch.len());
                if batch
                    .iter()
                    .any(|dc| dc.content::<Note>().is_some_and(|n| n.name == "boom"))
                {
                    return Err(PipelineError::new("the spy found a bomb"));
                }
                output.put_all(batch).await?;
            }
            Ok(())
        })
    }
}

async fn names(app: &App, repo: pulp_core::db::PulpId) -> Vec<String> {
    let version = latest_version(app.db(), repo).await.unwrap();
    let ids = version_content_ids(app.db(), &version, 100_000, 0)
        .await
        .unwrap();
    let mut names: Vec<String> = models::get_many::<Note>(app.db(), &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.detail.name)
        .collect();
    names.sort();
    names
}

async fn repo(app: &App, name: &str) -> pulp_core::db::PulpId {
    models::create(
        app.db(),
        Labels::new(),
        RepositoryFields::new(name),
        Box_ {},
    )
    .await
    .unwrap()
    .pulp_id()
}

pulp_core::db_tests! {
    async fn units_flow_through_batches_into_a_version(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repo(&app, "r").await;
        let work = tempfile::tempdir().unwrap();
        let ctx = SyncContext::new(&app, work.path());
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let spy = Spy { sizes: sizes.clone() };
        let items = (0..1234).map(|i| note(&format!("n{i:04}"))).collect();
        let version = DeclarativeVersion::from_stage(Emit { items, await_first: None }, repo, false)
            .stages(move |stages| stages.insert(0, Box::new(spy)))
            .create(&ctx)
            .await
            .expect("sync")
            .expect("a version");
        assert_eq!(version.number, 1);
        assert_eq!(version.counts.added.get("test.note"), Some(&1234));
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 1234);
        assert!(sizes.iter().all(|s| *s <= 100), "{sizes:?}");
        assert!(sizes.len() < 1234, "batches were formed: {sizes:?}");
        assert_eq!(names(&app, repo).await.len(), 1234);
        // Again, mirrored with fewer units: the others are removed.
        let items = (0..10).map(|i| note(&format!("n{i:04}"))).collect();
        let version = DeclarativeVersion::from_stage(Emit { items, await_first: None }, repo, true)
            .create(&ctx)
            .await
            .expect("sync")
            .expect("a version");
        assert_eq!(version.counts.removed.get("test.note"), Some(&1224));
        assert_eq!(names(&app, repo).await.len(), 10);
        // Unchanged: no version.
        let items = (0..10).map(|i| note(&format!("n{i:04}"))).collect();
        let none = DeclarativeVersion::from_stage(Emit { items, await_first: None }, repo, true)
            .create(&ctx)
            .await
            .expect("sync");
        assert!(none.is_none());
    }

    async fn an_awaited_unit_is_not_held_back_by_batching(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repo(&app, "r").await;
        let work = tempfile::tempdir().unwrap();
        let ctx = SyncContext::new(&app, work.path());
        let seen = Arc::new(Mutex::new(None));
        let items = vec![note("first"), note("second")];
        let run = DeclarativeVersion::from_stage(Emit { items, await_first: Some(seen.clone()) }, repo, false)
            .create(&ctx);
        let version = tokio::time::timeout(std::time::Duration::from_secs(20), run)
            .await
            .expect("the awaited unit was held back")
            .expect("sync");
        assert!(version.is_some());
        assert_eq!(seen.lock().unwrap().as_deref(), Some("first"));
        assert_eq!(names(&app, repo).await, ["first", "second"]);
    }

    async fn a_failing_stage_stops_the_sync_without_a_version(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repo(&app, "r").await;
        let work = tempfile::tempdir().unwrap();
        let ctx = SyncContext::new(&app, work.path());
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let spy = Spy { sizes };
        let mut items: Vec<_> = (0..3000).map(|i| note(&format!("n{i}"))).collect();
        items.insert(1500, note("boom"));
        let err = DeclarativeVersion::from_stage(Emit { items, await_first: None }, repo, false)
            .stages(move |stages| {
                let at = stages.iter().position(|s| s.name() == "ContentSaver").unwrap();
                stages.insert(at, Box::new(spy));
            })
            .create(&ctx)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "the spy found a bomb");
        assert_eq!(latest_version(app.db(), repo).await.unwrap().number, 0);
        // Invalid content fails too, naming the field.
        let err = DeclarativeVersion::from_stage(Emit { items: vec![note("")], await_first: None }, repo, false)
            .create(&ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
    }

    async fn artifacts_are_downloaded_found_and_deferred(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repo(&app, "r").await;
        let server = TestServer::start().await;
        let remote = models::create(app.db(), Labels::new(), RemoteFields::new("s", server.url("/")), Source {})
            .await
            .unwrap();
        let work = tempfile::tempdir().unwrap();
        let downloader = Downloader::for_remote(remote.fields()).unwrap();
        let ctx = SyncContext::new(&app, work.path()).with_downloader(remote.pulp_id(), downloader);
        let mut items = Vec::new();
        for i in 0..20 {
            let data = format!("blob {i}").into_bytes();
            let sha = hex::encode(sha2::Sha256::digest(&data));
            server.set(&format!("/b{i}"), Reply::Ok(Bytes::from(data.clone())));
            let expected = ExpectedArtifact::any().with_size(data.len() as u64).with_digest(ChecksumType::Sha256, sha);
            let da = DeclarativeArtifact::new(server.url(&format!("/b{i}")), format!("b{i}"), expected, Some(remote.pulp_id()), i >= 15);
            items.push(DeclarativeContent::new(Note { name: format!("b{i}") }, vec![da]));
        }
        DeclarativeVersion::from_stage(Emit { items, await_first: None }, repo, false)
            .create(&ctx)
            .await
            .expect("sync");
        assert_eq!(server.total_hits(), 15, "deferred artifacts are not downloaded");
        let artifacts: i64 = pulp_core::on_pool!(app.db(), pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM core_artifact").fetch_one(pool).await.unwrap()
        });
        assert_eq!(artifacts, 15);
        let linked: i64 = pulp_core::on_pool!(app.db(), pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NOT NULL").fetch_one(pool).await.unwrap()
        });
        assert_eq!(linked, 15);
        // A second repository with the same blobs downloads nothing: they are found.
        let other = repo_again(&app).await;
        let mut items = Vec::new();
        for i in 0..15 {
            let data = format!("blob {i}").into_bytes();
            let sha = hex::encode(sha2::Sha256::digest(&data));
            let expected = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, sha);
            let da = DeclarativeArtifact::new(server.url(&format!("/b{i}")), format!("b{i}"), expected, Some(remote.pulp_id()), false);
            items.push(DeclarativeContent::new(Note { name: format!("b{i}") }, vec![da]));
        }
        DeclarativeVersion::from_stage(Emit { items, await_first: None }, other, false)
            .create(&ctx)
            .await
            .expect("sync");
        assert_eq!(server.total_hits(), 15, "found artifacts are not downloaded again");
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
    }

    async fn a_unit_declared_twice_in_one_batch_is_saved_once(t: &TestDatabase) {
        // PostgreSQL refused the batch ("ON CONFLICT DO UPDATE command cannot affect row a
        // second time") when two items named the same new unit and file.
        let app = app(t).await;
        let repo = repo(&app, "twice").await;
        let server = TestServer::start().await;
        let remote = models::create(app.db(), Labels::new(), RemoteFields::new("s2", server.url("/")), Source {})
            .await
            .unwrap();
        let work = tempfile::tempdir().unwrap();
        let downloader = Downloader::for_remote(remote.fields()).unwrap();
        let ctx = SyncContext::new(&app, work.path()).with_downloader(remote.pulp_id(), downloader);
        let sha = hex::encode(sha2::Sha256::digest(b"same"));
        let items = (0..2)
            .map(|_| {
                let expected = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, sha.clone());
                let da = DeclarativeArtifact::new(server.url("/same"), "same", expected, Some(remote.pulp_id()), true);
                DeclarativeContent::new(Note { name: "same".into() }, vec![da])
            })
            .collect();
        DeclarativeVersion::from_stage(Emit { items, await_first: None }, repo, false)
            .create(&ctx)
            .await
            .expect("sync");
        assert_eq!(names(&app, repo).await, vec!["same".to_string()]);
        let (links, remotes): (i64, i64) = pulp_core::on_pool!(app.db(), pool => {
            (
                sqlx::query_scalar("SELECT COUNT(*) FROM core_contentartifact").fetch_one(pool).await.unwrap(),
                sqlx::query_scalar("SELECT COUNT(*) FROM core_remoteartifact").fetch_one(pool).await.unwrap(),
            )
        });
        assert_eq!((links, remotes), (1, 1));
    }
}

/// Emits `notes` notes; every `tag_every`-th is awaited, and a tag referring to its saved id
/// follows it. Then `others` units of [`Other`].
struct Tagged {
    notes: usize,
    tag_every: usize,
    others: usize,
}

impl FirstStage for Tagged {
    async fn run(self, output: StageOutput) -> Result<(), PipelineError> {
        for i in 0..self.notes {
            let note = Note {
                name: format!("n{i:04}"),
            };
            if i % self.tag_every == 0 {
                let (item, saved) = DeclarativeContent::awaited(note, vec![]);
                output.put(item).await?;
                let note = saved.await?.pulp_id();
                let tag = Tag {
                    label: format!("t{i:04}"),
                    note,
                };
                output.put(DeclarativeContent::new(tag, vec![])).await?;
            } else {
                output.put(DeclarativeContent::new(note, vec![])).await?;
            }
        }
        for i in 0..self.others {
            let other = Other {
                name: format!("o{i}"),
            };
            output.put(DeclarativeContent::new(other, vec![])).await?;
        }
        Ok(())
    }
}

/// Records the content types of each batch it sees.
struct TypesSpy(Arc<Mutex<Vec<Vec<&'static str>>>>);

impl Stage for TypesSpy {
    fn name(&self) -> &str {
        "TypesSpy"
    }

    fn run(
        self: Box<Self>,
        mut input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            while let Some(batch) = input.batch(1000).await {
                let mut types: Vec<&'static str> = batch.iter().map(|dc| dc.pulp_type()).collect();
                types.sort();
                types.dedup();
                self.0.lock().unwrap().push(types);
                output.put_all(batch).await?;
            }
            Ok(())
        })
    }
}

async fn version_units<T: ContentDetail>(
    app: &App,
    repo: pulp_core::db::PulpId,
) -> Vec<models::Model<T>> {
    let version = latest_version(app.db(), repo).await.unwrap();
    pulp_core::repository::version_content::<T>(app.db(), &version, 100_000, 0)
        .await
        .unwrap()
}

async fn shelf(app: &App, name: &str) -> pulp_core::db::PulpId {
    models::create(
        app.db(),
        Labels::new(),
        RepositoryFields::new(name),
        Shelf {},
    )
    .await
    .unwrap()
    .pulp_id()
}

pulp_core::db_tests! {
    async fn units_of_several_types_go_into_one_version(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repo(&app, "r").await;
        let work = tempfile::tempdir().unwrap();
        let ctx = SyncContext::new(&app, work.path());
        let types = Arc::new(Mutex::new(Vec::new()));
        let spy = TypesSpy(types.clone());
        let version = DeclarativeVersion::new(Tagged { notes: 1500, tag_every: 100, others: 7 }, repo, false)
            .stages(move |stages| {
                let at = stages.iter().position(|s| s.name() == "ContentSaver").unwrap();
                stages.insert(at, Box::new(spy));
            })
            .create(&ctx)
            .await
            .expect("sync")
            .expect("a version");
        assert_eq!(version.number, 1, "one version for every type");
        assert_eq!(version.counts.added.get("test.note"), Some(&1500));
        assert_eq!(version.counts.added.get("test.tag"), Some(&15));
        assert_eq!(version.counts.added.get("test.other"), Some(&7));
        // Batches carried several types at once (each saved with one statement per type).
        let types = types.lock().unwrap().clone();
        assert!(types.iter().any(|t| t.len() > 1), "{types:?}");
        // Every tag names the saved note it was emitted after.
        let notes: std::collections::HashMap<_, _> = version_units::<Note>(&app, repo)
            .await
            .into_iter()
            .map(|n| (n.pulp_id(), n.detail.name))
            .collect();
        let tags = version_units::<Tag>(&app, repo).await;
        assert_eq!(tags.len(), 15);
        for tag in tags {
            let note = notes.get(&tag.detail.note).expect("the tag's note is in the version");
            assert_eq!(note[1..], tag.detail.label[1..]);
        }
    }

    async fn a_unit_of_a_type_the_repository_does_not_hold_fails_the_sync(t: &TestDatabase) {
        let app = app(t).await;
        let repo = shelf(&app, "s").await;
        let work = tempfile::tempdir().unwrap();
        let ctx = SyncContext::new(&app, work.path());
        let err = DeclarativeVersion::new(Tagged { notes: 10, tag_every: 5, others: 1 }, repo, false)
            .create(&ctx)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a test.shelf repository cannot hold test.other units (it holds test.note, test.tag)"
        );
        assert_eq!(latest_version(app.db(), repo).await.unwrap().number, 0);
        let others: i64 = pulp_core::on_pool!(app.db(), pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM test_other").fetch_one(pool).await.unwrap()
        });
        assert_eq!(others, 0, "refused before it was saved");
        // Notes and tags only: one version.
        let version = DeclarativeVersion::new(Tagged { notes: 10, tag_every: 5, others: 0 }, repo, false)
            .create(&ctx)
            .await
            .expect("sync")
            .expect("a version");
        assert_eq!(version.counts.present.get("test.tag"), Some(&2));
    }

    async fn mirror_removes_only_units_of_the_repository_types_content_types(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repo(&app, "r").await;
        let work = tempfile::tempdir().unwrap();
        let ctx = SyncContext::new(&app, work.path());
        DeclarativeVersion::new(Tagged { notes: 20, tag_every: 5, others: 3 }, repo, false)
            .create(&ctx)
            .await
            .expect("sync")
            .expect("a version");
        // The repository becomes a shelf, which holds notes and tags only (as after an upgrade
        // of a plugin whose repository type declares fewer types): its others stay.
        pulp_core::on_pool!(app.db(), pool => {
            sqlx::query("UPDATE core_repository SET pulp_type = 'test.shelf' WHERE pulp_id = $1")
                .bind(repo).execute(pool).await.unwrap();
            sqlx::query("INSERT INTO test_shelf (pulp_id) VALUES ($1)").bind(repo).execute(pool).await.unwrap();
        });
        let version = DeclarativeVersion::new(Tagged { notes: 10, tag_every: 5, others: 0 }, repo, true)
            .create(&ctx)
            .await
            .expect("mirror sync")
            .expect("a version");
        assert_eq!(version.counts.removed.get("test.note"), Some(&10));
        assert_eq!(version.counts.removed.get("test.tag"), Some(&2));
        assert_eq!(version.counts.removed.get("test.other"), None);
        assert_eq!(version.counts.present.get("test.other"), Some(&3));
        assert_eq!(version.counts.present.get("test.note"), Some(&10));
        assert_eq!(version.counts.present.get("test.tag"), Some(&2));
    }
}

#[tokio::test]
async fn a_unit_awaited_as_another_type_fails_its_future() {
    let mut item = note("n");
    assert!(item.is::<Note>() && !item.is::<Tag>());
    assert_eq!(item.pulp_type(), "test.note");
    let err = item.resolution::<Tag>().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "a test.note unit was awaited as a test.tag"
    );
    assert!(!item.is_awaited());
    // A future whose unit the pipeline never saves fails as stopped.
    let (item, saved) = DeclarativeContent::awaited(Note { name: "n".into() }, vec![]);
    assert!(item.is_awaited());
    drop(item);
    assert!(matches!(saved.await, Err(PipelineError::Stopped)));
}

async fn repo_again(app: &App) -> pulp_core::db::PulpId {
    repo(app, "other").await
}

/// A stage built on `for_each_batch`: each step sleeps longer for earlier batches (so they
/// would finish out of order), records how many steps run at once, and fails on "boom".
struct Concurrent {
    concurrency: usize,
    running: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
}

impl Stage for Concurrent {
    fn name(&self) -> &str {
        "Concurrent"
    }

    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        use std::sync::atomic::Ordering;
        Box::pin(async move {
            let mut seen = 0u64;
            let (running, most) = (self.running.clone(), self.most.clone());
            pulp_core::pipeline::for_each_batch(
                "Concurrent",
                input,
                &output,
                10,
                self.concurrency,
                move |batch| {
                    seen += 1;
                    let (running, most) = (running.clone(), most.clone());
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        let wait = 40u64.saturating_sub(seen * 8);
                        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        if batch
                            .iter()
                            .any(|dc| dc.content::<Note>().is_some_and(|n| n.name == "boom"))
                        {
                            return Err(PipelineError::new("a step found a bomb"));
                        }
                        Ok(batch)
                    }
                },
            )
            .await
        })
    }
}

/// Records the names reaching it, in order.
struct Collect(Arc<Mutex<Vec<String>>>);

impl Stage for Collect {
    fn name(&self) -> &str {
        "Collect"
    }

    fn run(
        self: Box<Self>,
        mut input: StageInput,
        _output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            while let Some(dc) = input.next().await {
                self.0
                    .lock()
                    .unwrap()
                    .push(dc.content::<Note>().unwrap().name.clone());
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn batch_steps_run_concurrently_and_their_results_keep_input_order() {
    let names: Vec<String> = (0..60).map(|i| format!("n{i:03}")).collect();
    for concurrency in [1, 3] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stages: Vec<Box<dyn Stage>> = vec![
            Box::new(Emit {
                items: names.iter().map(|n| note(n)).collect(),
                await_first: None,
            }),
            Box::new(Concurrent {
                concurrency,
                running: Arc::default(),
                most: most.clone(),
            }),
            Box::new(Collect(seen.clone())),
        ];
        pulp_core::pipeline::run_stages(stages)
            .await
            .expect("stages");
        assert_eq!(*seen.lock().unwrap(), names, "concurrency {concurrency}");
        assert_eq!(
            most.load(std::sync::atomic::Ordering::SeqCst),
            concurrency,
            "steps in flight at once"
        );
    }

    // A failing step stops the pipeline with its own error.
    let mut items: Vec<_> = names.iter().map(|n| note(n)).collect();
    items.insert(25, note("boom"));
    let stages: Vec<Box<dyn Stage>> = vec![
        Box::new(Emit {
            items,
            await_first: None,
        }),
        Box::new(Concurrent {
            concurrency: 3,
            running: Arc::default(),
            most: Arc::default(),
        }),
        Box::new(Collect(Arc::default())),
    ];
    let err = pulp_core::pipeline::run_stages(stages)
        .await
        .expect_err("a failed step fails the run");
    assert!(err.to_string().contains("bomb"), "{err}");
}
