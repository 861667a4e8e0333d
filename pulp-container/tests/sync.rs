//! Syncing from a real `docker-registry` on loopback (images written by the test and pushed
//! with `skopeo`), on SQLite and PostgreSQL: immediate and on_demand, one version holding
//! tags, manifests (byte for byte) and blobs; includes/excludes; mirror and a moved tag;
//! a Bearer-token challenge; faults failing the task with no version.

mod support;

use std::collections::BTreeSet;

use pulp_container::{Blob, Manifest, Tag};
use pulp_plugin_api::models::{self, Policy};
use pulp_plugin_api::repository::{latest_version, version_content_ids};
use pulp_plugin_api::tasking::TaskState;
use pulp_plugin_api::App;
use pulp_plugin_api::PulpId;
use support::*;

/// The latest version's units by type: tags (name → manifest digest), manifests, blobs.
struct Content {
    number: i64,
    tags: Vec<(String, String)>,
    manifests: Vec<Manifest>,
    blobs: BTreeSet<String>,
}

async fn content(app: &App, repo: PulpId) -> Content {
    let version = latest_version(app.db(), repo).await.expect("latest");
    let ids = version_content_ids(app.db(), &version, 1_000_000, 0)
        .await
        .expect("ids");
    let manifests: Vec<Manifest> = models::get_many_of_type::<Manifest>(app.db(), &ids)
        .await
        .expect("manifests")
        .into_iter()
        .map(|m| m.detail)
        .collect();
    let by_id = models::get_many_of_type::<Manifest>(app.db(), &ids)
        .await
        .expect("m");
    let mut tags: Vec<(String, String)> = models::get_many_of_type::<Tag>(app.db(), &ids)
        .await
        .expect("tags")
        .into_iter()
        .map(|t| {
            let digest = by_id
                .iter()
                .find(|m| m.pulp_id() == t.tagged_manifest)
                .map(|m| m.digest.clone())
                .unwrap_or_else(|| "missing".into());
            (t.detail.name, digest)
        })
        .collect();
    tags.sort();
    let blobs = models::get_many_of_type::<Blob>(app.db(), &ids)
        .await
        .expect("blobs")
        .into_iter()
        .map(|b| b.detail.digest)
        .collect();
    Content {
        number: version.number,
        tags,
        manifests,
        blobs,
    }
}

fn expected_tags(pushed: &Pushed) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = pushed
        .tags
        .iter()
        .map(|(t, top, _)| (t.clone(), digest(top)))
        .collect();
    tags.sort();
    tags
}

fn expected_blobs(pushed: &Pushed) -> BTreeSet<String> {
    pushed
        .tags
        .iter()
        .flat_map(|(_, _, images)| images)
        .flat_map(|i| std::iter::once(i.config.digest()).chain(i.layers.iter().map(|l| l.digest())))
        .collect()
}

async fn failed_description(app: &App, task: &pulp_plugin_api::tasking::Task) -> String {
    let _ = app;
    assert_eq!(task.state, TaskState::Failed, "{task:?}");
    task.error
        .as_ref()
        .and_then(|e| e["description"].as_str())
        .unwrap_or("")
        .to_string()
}

pulp_plugin_api::testing::db_tests! {
    async fn an_immediate_sync_makes_one_version_with_tags_manifests_and_blobs(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "test/app", 2);
        let app = app(t).await;
        let remote = remote(&app, &registry.url(), "test/app", Policy::Immediate, |_, _| {}).await;
        let repo = repository(&app, "immediate").await;
        let task = sync(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let got = content(&app, repo.pulp_id()).await;
        assert_eq!(got.number, 1, "one version");
        assert_eq!(got.tags, expected_tags(&pushed));
        // 1 index + 2 platform images + 2 single images.
        assert_eq!(got.manifests.len(), 5);
        for (_, top, images) in &pushed.tags {
            let index = got.manifests.iter().find(|m| m.digest == digest(top)).expect("top manifest");
            assert_eq!(index.data.as_bytes(), &top[..], "the manifest is kept byte for byte");
            for image in images {
                let m = got.manifests.iter().find(|m| m.digest == image.digest()).expect("image manifest");
                assert_eq!(m.data.as_bytes(), &image.manifest[..]);
                assert_eq!(m.media_type, OCI_MANIFEST);
                assert_eq!(m.architecture.as_deref(), Some(image.architecture.as_str()));
                assert_eq!(m.os.as_deref(), Some("linux"));
                assert_eq!(m.image_type.as_deref(), Some("image"));
                assert_eq!(m.blobs.len(), image.layers.len());
                assert!(m.config_blob.is_some());
                let size: usize = image.layers.iter().map(|l| l.bytes.len()).sum();
                assert_eq!(m.compressed_image_size, Some(size as i64));
            }
        }
        let index = got.manifests.iter().find(|m| m.media_type == OCI_INDEX).expect("index");
        assert_eq!(index.listed_manifests.len(), 2);
        let platforms: Vec<&str> = index.listed_manifests.iter().map(|l| l.platform["architecture"].as_str().unwrap_or("")).collect();
        assert_eq!(platforms, ["amd64", "arm64"]);
        assert_eq!(index.image_type.as_deref(), Some("index"));
        assert_eq!(got.blobs, expected_blobs(&pushed));
        // Every blob downloaded, byte for byte.
        for image in pushed.tags.iter().flat_map(|(_, _, i)| i) {
            for blob in std::iter::once(&image.config).chain(image.layers.iter()) {
                let stored = app.storage().read_artifact(blob.digest().trim_start_matches("sha256:")).await.expect("stored");
                assert_eq!(stored.to_vec(), blob.bytes);
            }
        }
        // A re-sync of an unchanged registry makes no version.
        let again = sync(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(again.state, TaskState::Completed, "{:?}", again.error);
        assert_eq!(content(&app, repo.pulp_id()).await.number, 1);
    }

    async fn an_on_demand_sync_downloads_only_configs(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "ondemand", 1);
        let app = app(t).await;
        let remote = remote(&app, &registry.url(), "ondemand", Policy::OnDemand, |_, _| {}).await;
        let repo = repository(&app, "on-demand").await;
        let task = sync(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let got = content(&app, repo.pulp_id()).await;
        assert_eq!(got.tags, expected_tags(&pushed));
        assert_eq!(got.blobs, expected_blobs(&pushed));
        let configs = pushed.tags.iter().flat_map(|(_, _, i)| i).count() as i64;
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_artifact").await, configs, "only the configs");
        let layers = pushed.tags.iter().flat_map(|(_, _, i)| i).map(|i| i.layers.len()).sum::<usize>() as i64;
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NULL").await, layers);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM core_remoteartifact").await, layers + configs);
    }

    async fn includes_and_excludes_select_tags_and_mirror_follows_the_upstream(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "sel", 3);
        let app = app(t).await;
        let remote = remote(&app, &registry.url(), "sel", Policy::Immediate, |_, d| {
            d.includes = Some(vec!["single-*".into(), "multi".into()]);
            d.excludes = Some(vec!["single-?1".into(), "single-2".into()]);
        }).await;
        let repo = repository(&app, "selected").await;
        let task = sync(&app, remote.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let names: Vec<String> = content(&app, repo.pulp_id()).await.tags.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["multi", "single-0", "single-1"]);

        // Upstream: single-0 now points at another image; mirror makes the version follow.
        let moved = image("moved", "amd64", 1);
        let (_dir, path) = scratch();
        write_layout(&path, std::slice::from_ref(&moved), None, "single-0");
        push(&path, "single-0", &format!("{}/sel:single-0", registry.addr));
        let everything = remote_with_all(&app, &registry, "sel").await;
        let task = sync(&app, everything, repo.pulp_id(), true).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let got = content(&app, repo.pulp_id()).await;
        let mut want = expected_tags(&pushed);
        for tag in want.iter_mut().filter(|(n, _)| n == "single-0") {
            tag.1 = moved.digest();
        }
        assert_eq!(got.tags, want);
        assert!(!got.blobs.contains(&pushed.tags[1].2[0].layers[0].digest()), "the old image's blobs are gone");
        assert!(got.blobs.contains(&moved.layers[0].digest()));
        assert!(got.manifests.iter().all(|m| m.digest != pushed.tags[1].2[0].digest()));
    }

    async fn a_bearer_challenge_is_answered_with_the_remote_credentials(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "private/app", 0);
        let front = Front::start(&registry.url()).await;
        front.require_token("s3cret-token", Some(("alice", "pw")));
        let app = app(t).await;
        let anonymous = remote(&app, &front.url(), "private/app", Policy::Immediate, |_, _| {}).await;
        let repo = repository(&app, "token").await;
        let task = sync(&app, anonymous.pulp_id(), repo.pulp_id(), false).await;
        let description = failed_description(&app, &task).await;
        assert!(description.contains("/token"), "{description}");
        assert_eq!(content(&app, repo.pulp_id()).await.number, 0);
        let with_credentials = remote(&app, &front.url(), "private/app", Policy::Immediate, |f, _| {
            f.username = Some("alice".into());
            f.password = Some("pw".into());
        }).await;
        let task = sync(&app, with_credentials.pulp_id(), repo.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        assert_eq!(content(&app, repo.pulp_id()).await.tags, expected_tags(&pushed));
        let asked = front.token_requests();
        assert!(asked.iter().any(|r| r.contains("scope=repository%3Aprivate%2Fapp%3Apull")), "{asked:?}");
    }

    async fn upstream_faults_fail_the_task_with_the_reason_and_no_version(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "faulty", 0);
        let layer = pushed.tags[0].2[0].layers[0].digest();
        let app = app(t).await;
        let cases = [
            (format!("/blobs/{layer}"), Fault::Status(404), "not found".to_string()),
            ("/tags/list".to_string(), Fault::Status(500), "HTTP 500".to_string()),
            (format!("/blobs/{layer}"), Fault::Truncated, "connection to".to_string()),
            (format!("/blobs/{layer}"), Fault::WrongBytes, "mismatch".to_string()),
        ];
        for (i, (needle, fault, reason)) in cases.into_iter().enumerate() {
            let front = Front::start(&registry.url()).await;
            front.fault(&needle, fault.clone());
            let remote = remote(&app, &front.url(), "faulty", Policy::Immediate, |f, _| {
                f.max_retries = Some(0);
            }).await;
            let repo = repository(&app, &format!("faults-{i}")).await;
            let artifacts = count(&app, "SELECT COUNT(*) FROM core_artifact").await;
            let task = sync(&app, remote.pulp_id(), repo.pulp_id(), false).await;
            let description = failed_description(&app, &task).await;
            assert!(description.contains(&reason), "{fault:?}: '{description}' should say '{reason}'");
            assert_eq!(content(&app, repo.pulp_id()).await.number, 0, "{fault:?}: no version");
            assert!(count(&app, "SELECT COUNT(*) FROM core_artifact").await >= artifacts);
        }
    }
}

async fn remote_with_all(app: &App, registry: &Registry, name: &str) -> PulpId {
    remote(app, &registry.url(), name, Policy::Immediate, |_, _| {})
        .await
        .pulp_id()
}
