//! `repair/` of a repository version: missing and corrupted artifacts are downloaded again from
//! the remote they were synced from; what cannot be repaired fails the task, named.

mod support;
mod sync_support;

use pulp_plugin_api::models::Policy;
use pulp_plugin_api::tasking::TaskState;
use pulp_plugin_api::testing::http::TestServer;
use serde_json::json;
use support::{app, repository};
use sync_support::*;

const REPAIR: &str = "pulpcore.app.tasks.repository.repair_version";

fn artifact_path(app: &pulp_plugin_api::App, sha256: &str) -> std::path::PathBuf {
    app.storage()
        .local_root()
        .expect("local storage")
        .join("artifact")
        .join(&sha256[..2])
        .join(&sha256[2..])
}

pulp_plugin_api::testing::db_tests! {
    async fn repair_downloads_missing_and_corrupted_artifacts_again(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(4);
        let server = TestServer::serving(fixture.path()).await;
        let remote = remote(&app, &server, Policy::Immediate).await;
        let repo = repository(&app, "repair").await;
        let synced = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(synced.state, TaskState::Completed, "{:?}", synced.error);
        let missing = sha256(&fixture.files[0].1);
        let corrupted = sha256(&fixture.files[1].1);
        std::fs::remove_file(artifact_path(&app, &missing)).expect("remove");
        let path = artifact_path(&app, &corrupted);
        let mut perms = std::fs::metadata(&path).expect("meta").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&path, perms).expect("writable");
        std::fs::write(&path, b"bit rot").expect("corrupt");
        let args = json!({"repository_pk": repo.pulp_id(), "number": 1, "verify_checksums": true});
        let task = run_task(&app, REPAIR, args.clone()).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        for (_, data) in &fixture.files {
            let stored = app.storage().read_artifact(&sha256(data)).await.expect("stored");
            assert_eq!(stored.to_vec(), *data, "every artifact holds its bytes again");
        }
        let reports = pulp_plugin_api::tasking::ProgressReport::of_task(app.db(), task.pulp_id).await.expect("reports");
        let repaired = reports.iter().find(|r| r.code == "repair.repaired").expect("repaired report");
        assert_eq!(repaired.done, 2);
        // With the remote gone, a missing artifact cannot come back: the task says so.
        drop(server);
        std::fs::remove_file(artifact_path(&app, &missing)).expect("remove");
        let task = run_task(&app, REPAIR, args).await;
        assert_eq!(task.state, TaskState::Failed);
        let description = task.error.as_ref().and_then(|e| e["description"].as_str()).unwrap_or_default().to_string();
        assert!(description.contains("1 of 1"), "{description}");
    }
}
