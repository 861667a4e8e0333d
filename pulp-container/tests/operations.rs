//! The plugin's own add/remove operations, on both databases: over REST after a sync from a
//! real registry (`add`, `remove`, `tag`, `untag`, `copy_tags`, `copy_manifests`, their
//! refusals, no generic `modify/`), and random sequences of operations that never leave a
//! tag without its manifest or a manifest without its blobs and listed manifests.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use pulp_container::media::digest_of;
use pulp_container::operations::{apply, Change};
use pulp_container::{Blob, ListedManifest, Manifest, Tag};
use pulp_plugin_api::models::{self, get_many_of_type, Policy};
use pulp_plugin_api::repository::{latest_version, version_content_ids};
use pulp_plugin_api::tasking::{TaskState, Worker, WorkerOptions};
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, PulpId, SettingsSources};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;
use tokio_util::sync::CancellationToken;

async fn present(app: &App, repo: PulpId) -> Vec<PulpId> {
    let version = latest_version(app.db(), repo).await.expect("latest");
    version_content_ids(app.db(), &version, 1_000_000, 0)
        .await
        .expect("ids")
}

/// The closure invariant of the latest version; panics naming what is missing.
async fn assert_closed(app: &App, repo: PulpId, context: &str) {
    let ids = present(app, repo).await;
    let set: HashSet<PulpId> = ids.iter().copied().collect();
    for tag in get_many_of_type::<Tag>(app.db(), &ids).await.expect("tags") {
        assert!(
            set.contains(&tag.tagged_manifest),
            "{context}: tag {} lost its manifest",
            tag.name
        );
    }
    for manifest in get_many_of_type::<Manifest>(app.db(), &ids)
        .await
        .expect("manifests")
    {
        for needed in manifest.references() {
            assert!(
                set.contains(&needed),
                "{context}: manifest {} lost {needed}",
                manifest.digest
            );
        }
    }
}

fn blob(i: usize) -> Blob {
    Blob {
        digest: digest_of(format!("blob {i}").as_bytes()),
    }
}

fn manifest(
    data: String,
    config: Option<PulpId>,
    blobs: Vec<PulpId>,
    listed: Vec<(PulpId, String)>,
) -> Manifest {
    let index = !listed.is_empty();
    Manifest {
        digest: digest_of(data.as_bytes()),
        schema_version: 2,
        media_type: if index { OCI_INDEX } else { OCI_MANIFEST }.into(),
        image_type: Some(if index { "index" } else { "image" }.into()),
        data,
        annotations: json!({}),
        labels: json!({}),
        is_bootable: false,
        is_flatpak: false,
        architecture: None,
        os: None,
        compressed_image_size: None,
        config_blob: config,
        blobs,
        listed_manifests: listed
            .into_iter()
            .map(|(manifest, digest)| ListedManifest {
                manifest,
                digest,
                platform: json!({"architecture": "amd64", "os": "linux"}),
            })
            .collect(),
    }
}

/// Units saved for the random sequences: 6 blobs, 3 images sharing blobs, an index of two
/// of them, and 4 tags.
async fn fixture_units(app: &App) -> Vec<PulpId> {
    let blobs = models::save_content(app.db(), (0..6).map(blob).collect())
        .await
        .expect("blobs");
    let b = |i: usize| blobs[i].pulp_id();
    let images = models::save_content(
        app.db(),
        (0..3)
            .map(|i| {
                manifest(
                    format!("{{\"image\":{i}}}"),
                    Some(b(i)),
                    vec![b(i + 1), b(i + 2)],
                    vec![],
                )
            })
            .collect(),
    )
    .await
    .expect("images");
    let index = models::save_content(
        app.db(),
        vec![manifest(
            "{\"index\":0}".into(),
            None,
            vec![],
            images[..2]
                .iter()
                .map(|m| (m.pulp_id(), m.digest.clone()))
                .collect(),
        )],
    )
    .await
    .expect("index");
    let tags = models::save_content(
        app.db(),
        vec![
            Tag {
                name: "a".into(),
                tagged_manifest: images[0].pulp_id(),
            },
            Tag {
                name: "b".into(),
                tagged_manifest: images[2].pulp_id(),
            },
            Tag {
                name: "idx".into(),
                tagged_manifest: index[0].pulp_id(),
            },
            Tag {
                name: "c".into(),
                tagged_manifest: images[1].pulp_id(),
            },
        ],
    )
    .await
    .expect("tags");
    blobs
        .iter()
        .map(|m| m.pulp_id())
        .chain(images.iter().map(|m| m.pulp_id()))
        .chain(index.iter().map(|m| m.pulp_id()))
        .chain(tags.iter().map(|m| m.pulp_id()))
        .collect()
}

struct Api {
    app: App,
    base: String,
    client: reqwest::Client,
    _served: pulp_core::testing::ServedApi,
}

impl Api {
    async fn start(t: &TestDatabase) -> Api {
        let app = App::builder(SettingsSources::defaults_only())
            .plugin(pulp_container::ContainerPlugin)
            .build_with(settings(t))
            .await
            .expect("build");
        let served = pulp_core::testing::serve_api(&app).await;
        Api {
            app,
            base: served.base.clone(),
            client: reqwest::Client::new(),
            _served: served,
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let response = self
            .client
            .post(url)
            .basic_auth("admin", Some("password"))
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs an operation and runs its task; the task's state.
    async fn operate(&self, path: &str, body: Value) -> String {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{path}: {answer}");
        Worker::new(
            self.app.clone(),
            WorkerOptions {
                burst: true,
                name: Some(format!("w-{}", PulpId::new())),
                poll_interval: Some(Duration::from_millis(20)),
            },
        )
        .run(CancellationToken::new())
        .await
        .expect("worker");
        let task = self
            .client
            .get(format!(
                "{}{}",
                self.base,
                answer["task"].as_str().expect("task")
            ))
            .basic_auth("admin", Some("password"))
            .send()
            .await
            .expect("task");
        let task: Value = task.json().await.expect("json");
        task["state"].as_str().unwrap_or("").to_string()
    }
}

async fn tag_names(app: &App, repo: PulpId) -> Vec<String> {
    let ids = present(app, repo).await;
    let mut names: Vec<String> = get_many_of_type::<Tag>(app.db(), &ids)
        .await
        .expect("tags")
        .into_iter()
        .map(|t| t.detail.name)
        .collect();
    names.sort();
    names
}

pulp_core::db_tests! {
    async fn the_operations_keep_the_closure_over_rest(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "ops/app", 1);
        let api = Api::start(t).await;
        let app = &api.app;
        let upstream = remote(app, &registry.url(), "ops/app", Policy::Immediate, |_, _| {}).await;
        let source = repository(app, "source").await;
        let task = sync(app, upstream.pulp_id(), source.pulp_id(), false).await;
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        let source_href = source.pulp_href();

        // No generic modify/ for container repositories.
        let (status, _) = api.post(&format!("{source_href}modify/"), json!({"add_content_units": []})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // tag / untag.
        let (_, index, images) = &pushed.tags[0];
        assert_eq!(api.operate(&format!("{source_href}tag/"), json!({"tag": "copy", "digest": digest(index)})).await, "completed");
        assert_eq!(tag_names(app, source.pulp_id()).await, ["copy", "multi", "single-0"]);
        assert_eq!(api.operate(&format!("{source_href}untag/"), json!({"tag": "copy"})).await, "completed");
        assert_eq!(tag_names(app, source.pulp_id()).await, ["multi", "single-0"]);
        for (body, field) in [
            (json!({"tag": "x", "digest": format!("sha256:{}", "0".repeat(64))}), "digest"),
            (json!({"tag": "-bad", "digest": digest(index)}), "tag"),
        ] {
            let (status, answer) = api.post(&format!("{source_href}tag/"), body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert!(answer.get(field).is_some(), "{answer}");
        }
        let (status, answer) = api.post(&format!("{source_href}untag/"), json!({"tag": "nope"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

        // copy_tags into an empty repository brings the closure.
        let target = repository(app, "target").await;
        let target_href = target.pulp_href();
        assert_eq!(api.operate(&format!("{target_href}copy_tags/"), json!({"source_repository": source_href, "names": ["multi"]})).await, "completed");
        assert_eq!(tag_names(app, target.pulp_id()).await, ["multi"]);
        let ids = present(app, target.pulp_id()).await;
        assert_eq!(get_many_of_type::<Manifest>(app.db(), &ids).await.expect("m").len(), 3, "index + 2 images");
        assert_eq!(get_many_of_type::<Blob>(app.db(), &ids).await.expect("b").len(), 6);
        assert_closed(app, target.pulp_id(), "copy_tags").await;

        // remove the index: its tag goes, and what only it needed.
        let index_id = get_many_of_type::<Manifest>(app.db(), &ids).await.expect("m").into_iter().find(|m| m.media_type == OCI_INDEX).expect("index").pulp_id();
        let index_href = models::href::<Manifest>(index_id);
        assert_eq!(api.operate(&format!("{target_href}remove/"), json!({"content_units": [index_href]})).await, "completed");
        assert!(present(app, target.pulp_id()).await.is_empty(), "nothing else needed it");

        // add a manifest by href: its blobs come along.
        let image = get_many_of_type::<Manifest>(app.db(), &present(app, source.pulp_id()).await).await.expect("m").into_iter().find(|m| m.digest == images[0].digest()).expect("image");
        assert_eq!(api.operate(&format!("{target_href}add/"), json!({"content_units": [image.pulp_href()]})).await, "completed");
        let ids = present(app, target.pulp_id()).await;
        assert_eq!(ids.len(), 1 + 1 + images[0].layers.len());
        assert_closed(app, target.pulp_id(), "add").await;
        // removing a blob the manifest needs keeps it.
        let config = image.config_blob.expect("config");
        let before = latest_version(app.db(), target.pulp_id()).await.expect("v").number;
        assert_eq!(api.operate(&format!("{target_href}remove/"), json!({"content_units": [models::href::<Blob>(config)]})).await, "completed");
        assert_eq!(latest_version(app.db(), target.pulp_id()).await.expect("v").number, before, "nothing changed");

        // copy_manifests by media type.
        assert_eq!(api.operate(&format!("{target_href}copy_manifests/"), json!({"source_repository": source_href, "media_types": [OCI_INDEX]})).await, "completed");
        assert_closed(app, target.pulp_id(), "copy_manifests").await;
        // remove "*".
        assert_eq!(api.operate(&format!("{target_href}remove/"), json!({"content_units": ["*"]})).await, "completed");
        assert!(present(app, target.pulp_id()).await.is_empty());

        for (path, body, field) in [
            ("add/", json!({"content_units": ["/pulp/api/v3/content/file/files/x/"]}), "content_units"),
            ("add/", json!({"content_units": [models::href::<Blob>(PulpId::new())]}), "content_units"),
            ("copy_tags/", json!({}), "source_repository"),
            ("copy_tags/", json!({"source_repository": source_href, "source_repository_version": format!("{source_href}versions/1/")}), "source_repository"),
        ] {
            let (status, answer) = api.post(&format!("{target_href}{path}"), body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
            assert!(answer.get(field).is_some(), "{answer}");
        }
    }

    async fn random_sequences_of_operations_never_break_the_closure(t: &TestDatabase) {
        let app = app(t).await;
        let units = fixture_units(&app).await;
        let source = repository(&app, "all").await;
        apply(&app, source.pulp_id(), Change::Add { units: units.clone() }).await.expect("add all");
        assert_closed(&app, source.pulp_id(), "fixture").await;
        let source_version = latest_version(app.db(), source.pulp_id()).await.expect("v").pulp_id;
        let manifests: Vec<String> = get_many_of_type::<Manifest>(app.db(), &units).await.expect("m").into_iter().map(|m| m.digest.clone()).collect();
        let names = ["a", "b", "idx", "c", "new"];
        // Sequences drawn from a fixed seed: the same on every run and both databases.
        let mut runner = TestRunner::deterministic();
        let strategy = proptest::collection::vec((0u8..7, 0usize..64), 1..14);
        let mut changed = 0;
        for case in 0..16 {
            let repo = repository(&app, &format!("case-{case}")).await;
            let ops = strategy.new_tree(&mut runner).expect("draw").current();
            for (step, (op, n)) in ops.into_iter().enumerate() {
                let change = match op {
                    0 | 1 => Change::Add { units: vec![units[n % units.len()]] },
                    2 | 3 => Change::Remove { units: vec![units[n % units.len()]], all: false },
                    4 => Change::Tag { tag: names[n % names.len()].into(), digest: manifests[n % manifests.len()].clone() },
                    5 => Change::Untag { tag: names[n % names.len()].into() },
                    _ if n % 5 == 0 => Change::Remove { units: vec![], all: true },
                    _ => Change::CopyTags { source: source_version, names: Some(vec![names[n % names.len()].into()]) },
                };
                let context = format!("case {case} step {step} {change:?}");
                match apply(&app, repo.pulp_id(), change.clone()).await {
                    Ok(made) => changed += usize::from(made.is_some()),
                    // Tagging a manifest not in the version, or untagging a missing tag.
                    Err(pulp_container::operations::OperationError::Missing(_)) => {
                        assert!(matches!(change, Change::Tag { .. } | Change::Untag { .. }), "{context}");
                    }
                    Err(e) => panic!("{context}: {e}"),
                }
                assert_closed(&app, repo.pulp_id(), &context).await;
            }
        }
        assert!(changed > 16, "the sequences changed versions ({changed})");
    }
}
