//! Publishing file repository versions (and autopublish), on SQLite and PostgreSQL.

mod support;
mod sync_support;

use pulp_file::{FilePublication, FileRepository, PublishArgs, PUBLISH_TASK};
use pulp_plugin_api::models::{self, Labels, Policy, RepositoryFields};
use pulp_plugin_api::publication::{find_published, list_published, PublishedSource};
use pulp_plugin_api::repository::latest_version;
use pulp_plugin_api::tasking::TaskState;
use pulp_plugin_api::testing::http::TestServer;
use pulp_plugin_api::{App, PulpId};
use support::{app, repository};
use sync_support::*;

async fn synced(
    app: &App,
    fixture: &Fixture,
    server: &TestServer,
    policy: Policy,
    repo: PulpId,
) -> PulpId {
    let remote = remote(app, server, policy).await;
    let task = sync_task(app, remote.pulp_id(), repo, false).await;
    assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
    let _ = fixture;
    latest_version(app.db(), repo)
        .await
        .expect("latest")
        .pulp_id
}

async fn manifest_of(app: &App, publication: PulpId, name: &str) -> String {
    let file = find_published(app.db(), publication, name)
        .await
        .expect("find")
        .expect("manifest published");
    let PublishedSource::Metadata { artifact_id } = file.source else {
        panic!("the manifest is not metadata: {file:?}");
    };
    let sha: String = pulp_plugin_api::on_pool!(app.db(), pool => {
        pulp_plugin_api::deps::sqlx::query_scalar("SELECT sha256 FROM core_artifact WHERE pulp_id = $1")
            .bind(artifact_id).fetch_one(pool).await.expect("artifact")
    });
    String::from_utf8(
        app.storage()
            .read_artifact(&sha)
            .await
            .expect("read")
            .to_vec(),
    )
    .expect("utf-8")
}

pulp_plugin_api::testing::db_tests! {
    async fn publishing_records_every_file_and_the_manifest(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(9);
        let server = TestServer::serving(fixture.path()).await;
        let repo = repository(&app, "published").await;
        let version = synced(&app, &fixture, &server, Policy::Immediate, repo.pulp_id()).await;
        let publication = pulp_file::publish(&app, version, None).await.expect("publish");
        assert!(publication.fields().complete);
        assert_eq!(publication.fields().repository_version_id, Some(version));
        assert_eq!(publication.detail.manifest.as_deref(), Some("PULP_MANIFEST"));
        let stored = models::get::<FilePublication>(app.db(), publication.pulp_id()).await.expect("get");
        assert!(stored.fields().complete);
        let files = list_published(app.db(), publication.pulp_id(), "", 1000, 0).await.expect("list");
        let mut paths: Vec<String> = files.iter().map(|f| f.relative_path.clone()).collect();
        paths.sort();
        let mut expected: Vec<String> = fixture.files.iter().map(|(p, _)| p.clone()).collect();
        expected.push("PULP_MANIFEST".into());
        expected.sort();
        assert_eq!(paths, expected);
        let (path, data) = &fixture.files[4];
        let one = find_published(app.db(), publication.pulp_id(), path).await.expect("find").expect("published");
        let PublishedSource::Content { artifact_id: Some(artifact), .. } = one.source else {
            panic!("{one:?}");
        };
        let sha: String = pulp_plugin_api::on_pool!(app.db(), pool => {
            pulp_plugin_api::deps::sqlx::query_scalar("SELECT sha256 FROM core_artifact WHERE pulp_id = $1")
                .bind(artifact).fetch_one(pool).await.expect("artifact")
        });
        assert_eq!(sha, sha256(data));
        assert_eq!(manifest_of(&app, publication.pulp_id(), "PULP_MANIFEST").await, fixture.expected_manifest());
        let dir = list_published(app.db(), publication.pulp_id(), "d1/", 1000, 0).await.expect("list");
        assert!(!dir.is_empty() && dir.iter().all(|f| f.relative_path.starts_with("d1/")));
        assert!(find_published(app.db(), publication.pulp_id(), "nope").await.expect("find").is_none());
    }

    async fn the_manifest_lists_paths_in_byte_order_whatever_the_collation(t: &TestDatabase) {
        let app = app(t).await;
        // Byte order: "B.txt" < "Z/z.txt" < "a.txt" < "ä.txt"; a language's collation puts
        // "a.txt" and "ä.txt" first.
        let fixture = Fixture::with_files(
            ["a.txt", "ä.txt", "B.txt", "Z/z.txt"]
                .iter()
                .map(|p| (p.to_string(), format!("file {p}\n").into_bytes()))
                .collect(),
        );
        if app.db().backend() == pulp_plugin_api::Backend::Postgres {
            // The paths compared in a language's collation (ICU's root locale), as in a
            // database created in one.
            pulp_plugin_api::on_pool!(app.db(), pool => {
                pulp_plugin_api::deps::sqlx::query(
                    "ALTER TABLE core_contentartifact ALTER COLUMN relative_path TYPE text COLLATE \"und-x-icu\"",
                )
                .execute(pool)
                .await
                .expect("collation");
            });
        }
        let server = TestServer::serving(fixture.path()).await;
        let repo = repository(&app, "ordered").await;
        let version = synced(&app, &fixture, &server, Policy::OnDemand, repo.pulp_id()).await;
        let publication = pulp_file::publish(&app, version, None).await.expect("publish");
        let manifest = manifest_of(&app, publication.pulp_id(), "PULP_MANIFEST").await;
        let paths: Vec<&str> = manifest.lines().filter_map(|l| l.split(',').next()).collect();
        assert_eq!(paths, ["B.txt", "Z/z.txt", "a.txt", "ä.txt"]);
        assert_eq!(manifest, fixture.expected_manifest());
    }

    async fn on_demand_versions_publish_with_remote_sizes_and_a_custom_manifest_name(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(4);
        let server = TestServer::serving(fixture.path()).await;
        let repo = repository(&app, "lazy").await;
        let version = synced(&app, &fixture, &server, Policy::OnDemand, repo.pulp_id()).await;
        let task = run_task(&app, PUBLISH_TASK, serde_json::to_value(PublishArgs {
            repository_version_pk: version,
            manifest: Some("LISTING".into()),
        }).unwrap()).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        assert_eq!(task.created_resources.len(), 1);
        let publication = models::id_from_href::<FilePublication>(&task.created_resources[0]).expect("publication href");
        assert_eq!(manifest_of(&app, publication, "LISTING").await, fixture.expected_manifest());
        let one = find_published(app.db(), publication, &fixture.files[0].0).await.expect("find").expect("published");
        assert!(matches!(one.source, PublishedSource::Content { artifact_id: None, .. }));
    }

    async fn autopublish_publishes_each_new_version(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(3);
        let server = TestServer::serving(fixture.path()).await;
        let repo = models::create(app.db(), Labels::new(), RepositoryFields::new("auto"), FileRepository {
            manifest: Some("MANIFEST.csv".into()),
            autopublish: true,
            ..FileRepository::default()
        }).await.expect("repository");
        let version = synced(&app, &fixture, &server, Policy::Immediate, repo.pulp_id()).await;
        let publications: Vec<(PulpId, bool)> = pulp_plugin_api::on_pool!(app.db(), pool => {
            pulp_plugin_api::deps::sqlx::query_as("SELECT pulp_id, complete FROM core_publication WHERE repository_version_id = $1")
                .bind(version).fetch_all(pool).await.expect("publications")
        });
        assert_eq!(publications.len(), 1);
        assert!(publications[0].1);
        assert_eq!(manifest_of(&app, publications[0].0, "MANIFEST.csv").await, fixture.expected_manifest());
        // A repository without autopublish gets none.
        let plain = repository(&app, "plain").await;
        let version = synced(&app, &fixture, &server, Policy::Immediate, plain.pulp_id()).await;
        assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM core_publication WHERE repository_version_id = '{}'", version.0)).await, 0);
    }

    async fn publishing_an_unknown_version_fails_cleanly(t: &TestDatabase) {
        let app = app(t).await;
        let err = pulp_file::publish(&app, PulpId::new(), None).await.unwrap_err();
        assert!(err.to_string().contains("has no version"), "{err}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_publication").await, 0);
    }
}
