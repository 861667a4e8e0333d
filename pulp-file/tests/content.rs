//! End to end: an on_demand sync, a publication, a distribution of it, and the content app
//! serving the manifest and downloading files on first request (SQLite and PostgreSQL).

mod support;
mod sync_support;

use pulp_file::FileDistribution;
use pulp_plugin_api::content_app::content_router;
use pulp_plugin_api::models::{self, DistributionFields, Labels, Policy};
use pulp_plugin_api::repository::latest_version;
use pulp_plugin_api::tasking::TaskState;
use pulp_plugin_api::testing::http::TestServer;
use support::{app, repository};
use sync_support::*;

pulp_plugin_api::testing::db_tests! {
    async fn published_on_demand_content_is_served_and_kept(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(6);
        let server = TestServer::serving(fixture.path()).await;
        let repo = repository(&app, "served").await;
        let remote = remote(&app, &server, Policy::OnDemand).await;
        let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let version = latest_version(app.db(), repo.pulp_id()).await.expect("latest").pulp_id;
        let publication = pulp_file::publish(&app, version, None).await.expect("publish");
        let mut fields = DistributionFields::new("served", "files/served");
        fields.publication_id = Some(publication.pulp_id());
        models::create(app.db(), Labels::new(), fields, FileDistribution {}).await.expect("distribution");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NULL").await, 6);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/pulp/content/files/served", listener.local_addr().unwrap());
        let router = content_router(app.clone());
        tokio::spawn(async move { pulp_plugin_api::deps::axum::serve(listener, router).await.unwrap() });

        let manifest = reqwest::get(format!("{base}/PULP_MANIFEST")).await.unwrap();
        assert_eq!(manifest.status(), 200);
        assert_eq!(manifest.text().await.unwrap(), fixture.expected_manifest());
        let listing = reqwest::get(format!("{base}/")).await.unwrap().text().await.unwrap();
        assert!(listing.contains("PULP_MANIFEST") && listing.contains("d1/"), "{listing}");

        let (path, data) = &fixture.files[4];
        let got = reqwest::get(format!("{base}/{path}")).await.unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap().as_ref(), data.as_slice());
        // Downloaded once, then kept: the content artifact now has its artifact.
        for _ in 0..50 {
            if count(&app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NULL").await == 5 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NULL").await, 5);
        assert!(app.storage().contains(&sha256(data)).await.unwrap());
    }
}
