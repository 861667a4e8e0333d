//! Syncing file repositories from a real HTTP server on loopback, on SQLite and PostgreSQL:
//! the three policies, re-sync, mirror and additive modes, and faults.

mod support;
mod sync_support;

use bytes::Bytes;
use pulp_file::FileRepository;
use pulp_plugin_api::models::{self, href, version_href, Policy};
use pulp_plugin_api::pipeline::SyncContext;
use pulp_plugin_api::repository::{latest_version, version_content_ids};
use pulp_plugin_api::tasking::{ProgressReport, TaskState};
use pulp_plugin_api::testing::http::{Reply, TestServer};
use pulp_plugin_api::App;
use support::{app, repository};
use sync_support::*;

async fn latest_number(app: &App, repo: pulp_plugin_api::PulpId) -> i64 {
    latest_version(app.db(), repo).await.expect("latest").number
}

async fn content_paths(app: &App, repo: pulp_plugin_api::PulpId) -> Vec<String> {
    let version = latest_version(app.db(), repo).await.expect("latest");
    let ids = version_content_ids(app.db(), &version, 1_000_000, 0)
        .await
        .expect("ids");
    let mut paths: Vec<String> = models::get_many::<pulp_file::FileContent>(app.db(), &ids)
        .await
        .expect("units")
        .into_iter()
        .map(|m| m.detail.relative_path)
        .collect();
    paths.sort();
    paths
}

fn sorted_paths(f: &Fixture) -> Vec<String> {
    let mut p: Vec<String> = f.files.iter().map(|(p, _)| p.clone()).collect();
    p.sort();
    p
}

/// A sync that must fail: the task fails with `expect` in its error, no version is made, and
/// neither core_artifact nor the storage changed.
async fn assert_sync_fails(
    app: &App,
    server: &TestServer,
    policy_change: impl FnOnce(&mut pulp_plugin_api::models::RemoteFields),
    expect: &str,
) {
    let remote = remote_with(app, server, Policy::Immediate, policy_change).await;
    let repo = repository(app, &format!("r-{}", pulp_plugin_api::PulpId::new())).await;
    let artifacts = count(app, "SELECT COUNT(*) FROM core_artifact").await;
    let files = stored_files(app);
    let before = latest_number(app, repo.pulp_id()).await;
    let task = sync_task(app, remote.pulp_id(), repo.pulp_id(), false).await;
    assert_eq!(task.state, TaskState::Failed, "{task:?}");
    let description = task
        .error
        .as_ref()
        .map(|e| e["description"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    assert!(
        description.contains(expect),
        "error '{description}' should contain '{expect}'"
    );
    assert_eq!(
        latest_number(app, repo.pulp_id()).await,
        before,
        "a version was made"
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM core_artifact").await,
        artifacts,
        "stray artifact rows"
    );
    assert_eq!(stored_files(app), files, "stray artifact files");
}

pulp_plugin_api::testing::db_tests! {
    async fn immediate_sync_downloads_everything_and_reports_progress(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(7);
        let server = TestServer::serving(fixture.path()).await;
        let remote = remote(&app, &server, Policy::Immediate).await;
        let repo = repository(&app, "immediate").await;
        let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let repo_href = href::<FileRepository>(repo.pulp_id());
        assert_eq!(task.created_resources, [version_href(&repo_href, 1)]);
        assert_eq!(content_paths(&app, repo.pulp_id()).await, sorted_paths(&fixture));
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_artifact").await, 7);
        assert_eq!(stored_files(&app), 7);
        for (_, data) in &fixture.files {
            let stored = app.storage().read_artifact(&sha256(data)).await.expect("stored");
            assert_eq!(stored.to_vec(), *data);
        }
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NOT NULL").await, 7);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_remoteartifact").await, 7);
        let reports = ProgressReport::of_task(app.db(), task.pulp_id).await.expect("reports");
        let find = |code: &str| reports.iter().find(|r| r.code == code).cloned().unwrap_or_else(|| panic!("no {code} in {reports:?}"));
        assert_eq!(find("sync.downloading.metadata").message, "Downloading Metadata Files");
        assert_eq!(find("sync.downloading.metadata").done, 1);
        assert_eq!(find("sync.downloading.artifacts").message, "Downloading Artifacts");
        assert_eq!(find("sync.downloading.artifacts").done, 7);
        assert_eq!(find("associating.content").message, "Associating Content");
        assert_eq!(find("associating.content").done, 7);
        assert_eq!(find("unassociating.content").message, "Un-Associating Content");
        assert!(reports.iter().all(|r| r.state == "completed"), "{reports:?}");
    }

    async fn deferred_policies_record_remote_artifacts_only(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(5);
        let server = TestServer::serving(fixture.path()).await;
        for policy in [Policy::OnDemand, Policy::Streamed] {
            let remote = remote(&app, &server, policy).await;
            let repo = repository(&app, &format!("{policy:?}")).await;
            let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
            assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
            assert_eq!(content_paths(&app, repo.pulp_id()).await, sorted_paths(&fixture));
        }
        assert_eq!(server.total_hits(), 2, "only the manifests were downloaded");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_artifact").await, 0);
        assert_eq!(stored_files(&app), 0);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NULL").await, 5);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_remoteartifact").await, 10, "one per unit and remote");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_remoteartifact WHERE size IS NOT NULL AND sha256 IS NOT NULL").await, 10);
    }

    async fn resync_of_an_unchanged_remote_makes_no_version(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(4);
        let server = TestServer::serving(fixture.path()).await;
        let remote = remote(&app, &server, Policy::Immediate).await;
        let repo = repository(&app, "again").await;
        for mirror in [false, true] {
            let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), mirror).await;
            assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        }
        let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed);
        assert!(task.created_resources.is_empty(), "{:?}", task.created_resources);
        assert_eq!(latest_number(&app, repo.pulp_id()).await, 1);
        let hits = server.total_hits();
        assert_eq!(hits, 3 + 4, "three manifests, each file once");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_artifact").await, 4);
    }

    async fn mirror_removes_unlisted_units_additive_keeps_them(t: &TestDatabase) {
        let app = app(t).await;
        let mut fixture = Fixture::new(4);
        let server = TestServer::serving(fixture.path()).await;
        let remote = remote(&app, &server, Policy::OnDemand).await;
        let additive = repository(&app, "additive").await;
        let mirrored = repository(&app, "mirrored").await;
        for repo in [&additive, &mirrored] {
            let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
            assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        }
        let first = sorted_paths(&fixture);
        // The remote drops two files and gains one.
        fixture.files.drain(0..2);
        fixture.files.push(("new/extra.txt".into(), b"extra".to_vec()));
        fixture.write();
        let task = sync_task(&app, remote.pulp_id(), additive.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let mut union = first.clone();
        union.push("new/extra.txt".into());
        union.sort();
        assert_eq!(content_paths(&app, additive.pulp_id()).await, union);
        let task = sync_task(&app, remote.pulp_id(), mirrored.pulp_id(), true).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        assert_eq!(content_paths(&app, mirrored.pulp_id()).await, sorted_paths(&fixture));
        let version = latest_version(app.db(), mirrored.pulp_id()).await.unwrap();
        assert_eq!(version.counts.added.get("file.file"), Some(&1));
        assert_eq!(version.counts.removed.get("file.file"), Some(&2));
    }

    async fn sync_function_works_without_a_task(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(3);
        let server = TestServer::serving(fixture.path()).await;
        let remote = remote(&app, &server, Policy::Immediate).await;
        let repo = repository(&app, "plain").await;
        let work = tempfile::tempdir().unwrap();
        let ctx = SyncContext::new(&app, work.path());
        let made = pulp_file::synchronize(&ctx, remote.pulp_id(), repo.pulp_id(), false).await.expect("sync");
        assert_eq!(made.map(|v| v.number), Some(1));
        let again = pulp_file::synchronize(&ctx, remote.pulp_id(), repo.pulp_id(), false).await.expect("sync");
        assert!(again.is_none());
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "downloads left in the working dir");
    }

    async fn server_errors_are_retried(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(3);
        let server = TestServer::serving(fixture.path()).await;
        server.push("PULP_MANIFEST", Reply::Status(500));
        server.push(&fixture.files[1].0, Reply::Status(502));
        let remote = remote(&app, &server, Policy::Immediate).await;
        let repo = repository(&app, "retry").await;
        let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        assert_eq!(server.hits("PULP_MANIFEST"), 2);
        assert_eq!(server.hits(&fixture.files[1].0), 2);
        assert_eq!(latest_number(&app, repo.pulp_id()).await, 1);
    }

    async fn faults_fail_the_sync_and_leave_nothing_behind(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(6);
        let server = TestServer::serving(fixture.path()).await;
        let quick = |r: &mut pulp_plugin_api::models::RemoteFields| {
            r.max_retries = Some(1);
            r.sock_read_timeout = Some(0.3);
        };
        // 404 manifest.
        server.set("PULP_MANIFEST", Reply::Status(404));
        assert_sync_fails(&app, &server, quick, "PULP_MANIFEST not found (HTTP 404)").await;
        // A body cut short, a reset, a stall: each on one file of six.
        let bad = fixture.files[3].0.clone();
        let manifest = std::fs::read(fixture.path().join("PULP_MANIFEST")).unwrap();
        server.set("PULP_MANIFEST", Reply::Ok(Bytes::from(manifest.clone())));
        let size = fixture.files[3].1.len() as u64;
        server.set(&bad, Reply::Truncated { declared: size, body: Bytes::from_static(b"con") });
        assert_sync_fails(&app, &server, quick, &bad).await;
        server.set(&bad, Reply::Reset { declared: size, body: Bytes::from_static(b"con") });
        assert_sync_fails(&app, &server, quick, &bad).await;
        server.set(&bad, Reply::Stall { declared: size, body: Bytes::from_static(b"con") });
        assert_sync_fails(&app, &server, quick, "timed out").await;
        // Wrong digest, wrong size.
        server.set(&bad, Reply::Ok(Bytes::from(vec![b'x'; size as usize])));
        assert_sync_fails(&app, &server, quick, "sha256 mismatch").await;
        server.set(&bad, Reply::Ok(Bytes::from(vec![b'x'; size as usize + 1])));
        assert_sync_fails(&app, &server, quick, "size mismatch").await;
        // Malformed line, escaping path.
        let text = String::from_utf8(manifest).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(2, "only,two");
        server.set("PULP_MANIFEST", Reply::Ok(Bytes::from(lines.join("\n"))));
        assert_sync_fails(&app, &server, quick, "manifest line 3").await;
        let escaping = format!("{}\n../../etc/passwd,{},3\n", text.trim_end(), sha256(b"abc"));
        server.set("PULP_MANIFEST", Reply::Ok(Bytes::from(escaping)));
        assert_sync_fails(&app, &server, quick, "manifest line 7").await;
        let absolute = format!("/etc/passwd,{},3\n", sha256(b"abc"));
        server.set("PULP_MANIFEST", Reply::Ok(Bytes::from(absolute)));
        assert_sync_fails(&app, &server, quick, "manifest line 1").await;
    }

    async fn manifest_comments_and_blank_lines_are_ignored(t: &TestDatabase) {
        let app = app(t).await;
        let fixture = Fixture::new(2);
        let text = std::fs::read_to_string(fixture.path().join("PULP_MANIFEST")).unwrap();
        fixture.write_manifest(&format!("# a comment\n\n{text}\n   \n"));
        let server = TestServer::serving(fixture.path()).await;
        let remote = remote(&app, &server, Policy::Immediate).await;
        let repo = repository(&app, "comments").await;
        let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        assert_eq!(content_paths(&app, repo.pulp_id()).await, sorted_paths(&fixture));
    }

    async fn a_failed_sync_on_object_storage_leaves_no_object(t: &TestDatabase) {
        let Some(endpoint) = pulp_plugin_api::testing::s3_endpoint() else {
            return;
        };
        let mut settings = support::settings(t);
        settings.storage = pulp_plugin_api::testing::s3_bucket(&endpoint, false).await;
        let app = pulp_plugin_api::App::builder(pulp_plugin_api::SettingsSources::defaults_only())
            .plugin(pulp_file::FilePlugin)
            .build_with(settings)
            .await
            .expect("build the app");
        app.migrate().await.expect("migrate");
        assert!(app.storage().local_root().is_none(), "the artifacts go to the bucket");
        let fixture = Fixture::new(12);
        let server = TestServer::serving(fixture.path()).await;
        // One file of twelve stalls until the read times out: by then the other eleven are
        // in the bucket, and the failed sync must take them out again.
        let (bad, good) = fixture.files[11].clone();
        let declared = good.len() as u64;
        server.set(&bad, Reply::Stall { declared, body: Bytes::from_static(b"con") });
        let remote = remote_with(&app, &server, Policy::Immediate, |r| {
            r.max_retries = Some(0);
            r.sock_read_timeout = Some(1.0);
        })
        .await;
        let repo = repository(&app, "on-s3").await;
        let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Failed, "{task:?}");
        let error = task.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("timed out"), "{error}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_artifact").await, 0);
        for (path, data) in &fixture.files {
            assert!(
                !app.storage().contains(&sha256(data)).await.expect("head"),
                "{path} was left in the bucket by the failed sync"
            );
        }
        // With the right bytes the same sync stores all twelve.
        server.set(&bad, Reply::Ok(Bytes::from(good)));
        let task = sync_task(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{task:?}");
        for (path, data) in &fixture.files {
            assert!(
                app.storage().contains(&sha256(data)).await.expect("head"),
                "{path} is not in the bucket"
            );
        }
    }
}
