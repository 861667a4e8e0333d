//! The registry API on the API listener, pulled from by real `skopeo`, on both databases:
//! what a sync from a real `docker-registry` brought is copied back byte for byte
//! (`skopeo copy --all`), `skopeo list-tags`/`inspect --raw` agree with the source registry,
//! tags paging with `Link`, content negotiation over every `Accept` line, on_demand blobs
//! through the content app, and private distributions behind the Bearer-token challenge.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use pulp_container::ContainerDistribution;
use pulp_plugin_api::models::{self, DistributionFields, Labels, Policy};
use pulp_plugin_api::tasking::TaskState;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, PulpId, SettingsSources};
use support::*;

struct Served {
    app: App,
    /// `127.0.0.1:<port>` of the API listener.
    api: String,
    _api: pulp_core::testing::ServedApi,
}

/// The app with its API and content app served, the content app's origin in the settings.
async fn serve(t: &TestDatabase) -> Served {
    let content = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut settings = settings(t);
    settings.content_origin = Some(format!("http://{}", content.local_addr().expect("addr")));
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_container::ContainerPlugin)
        .build_with(settings)
        .await
        .expect("build");
    let served = pulp_core::testing::serve_api(&app).await;
    let router = pulp_core::content_app::content_router(app.clone());
    tokio::spawn(async move {
        let _ = pulp_plugin_api::deps::axum::serve(content, router).await;
    });
    Served {
        api: served.base.trim_start_matches("http://").to_string(),
        app,
        _api: served,
    }
}

/// Syncs `name` from `registry` and distributes it at `name`.
async fn sync_and_distribute(
    app: &App,
    registry: &Registry,
    name: &str,
    policy: Policy,
    private: bool,
) {
    let remote = remote(app, &registry.url(), name, policy, |_, _| {}).await;
    let repo = repository(app, &format!("repo-{}", PulpId::new())).await;
    let task = sync(app, remote.pulp_id(), repo.pulp_id(), false).await;
    assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
    let mut fields = DistributionFields::new(format!("d-{}", PulpId::new()), name);
    fields.repository_id = Some(repo.pulp_id());
    models::create(
        app.db(),
        Labels::new(),
        fields,
        ContainerDistribution {
            private,
            description: None,
        },
    )
    .await
    .expect("distribution");
}

fn skopeo(args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("skopeo").args(args).output().expect("skopeo");
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn tags_of(listing: &[u8]) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_slice(listing).expect("list-tags JSON");
    let mut tags: Vec<String> = value["Tags"]
        .as_array()
        .expect("Tags")
        .iter()
        .map(|t| t.as_str().unwrap_or("").to_string())
        .collect();
    tags.sort();
    tags
}

/// The blobs of an OCI layout, by digest.
fn layout_blobs(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("blobs/sha256"))
        .expect("blobs")
        .flatten()
        .map(|e| {
            (
                format!("sha256:{}", e.file_name().to_string_lossy()),
                std::fs::read(e.path()).expect("blob"),
            )
        })
        .collect()
}

fn pushed_blobs(pushed: &Pushed, tag: &str) -> BTreeMap<String, Vec<u8>> {
    let (_, top, images) = pushed.tags.iter().find(|(t, _, _)| t == tag).expect("tag");
    let mut out = BTreeMap::new();
    out.insert(digest(top), top.clone());
    for image in images {
        out.insert(image.digest(), image.manifest.clone());
        out.insert(image.config.digest(), image.config.bytes.clone());
        for layer in &image.layers {
            out.insert(layer.digest(), layer.bytes.clone());
        }
    }
    out
}

/// `skopeo copy --all` of `tag` from pulp-rs into a fresh layout, compared with what was
/// pushed into the source registry: the same files, byte for byte.
fn copy_back_and_compare(api: &str, name: &str, tag: &str, pushed: &Pushed, creds: Option<&str>) {
    let (_dir, path) = scratch();
    let target = format!("oci:{}:{tag}", path.display());
    let source = format!("docker://{api}/{name}:{tag}");
    let mut args = vec![
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "-q",
    ];
    if let Some(creds) = creds {
        args.extend(["--src-creds", creds]);
    }
    args.extend([source.as_str(), target.as_str()]);
    skopeo(&args).expect("skopeo copy from pulp-rs");
    assert_eq!(
        layout_blobs(&path),
        pushed_blobs(pushed, tag),
        "byte-identical blobs and manifests"
    );
}

pulp_core::db_tests! {
    async fn skopeo_pulls_back_what_a_sync_brought_byte_for_byte(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "pull/app", 2);
        let served = serve(t).await;
        sync_and_distribute(&served.app, &registry, "pull/app", Policy::Immediate, false).await;
        let api = &served.api;

        copy_back_and_compare(api, "pull/app", "multi", &pushed, None);
        copy_back_and_compare(api, "pull/app", "single-1", &pushed, None);

        // list-tags and inspect --raw agree with the source registry.
        let ours = skopeo(&["list-tags", "--tls-verify=false", &format!("docker://{api}/pull/app")]).expect("list-tags");
        let theirs = skopeo(&["list-tags", "--tls-verify=false", &format!("docker://{}/pull/app", registry.addr)]).expect("list-tags");
        assert_eq!(tags_of(&ours), tags_of(&theirs));
        assert_eq!(tags_of(&ours), ["multi", "single-0", "single-1"]);
        for tag in ["multi", "single-0"] {
            let ours = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{api}/pull/app:{tag}")]).expect("inspect");
            let theirs = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/pull/app:{tag}", registry.addr)]).expect("inspect");
            assert_eq!(ours, theirs, "{tag}");
        }
        let ours = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{api}/pull/app:single-0")]).expect("inspect");
        let ours: serde_json::Value = serde_json::from_slice(&ours).expect("json");
        assert_eq!(ours["Architecture"], "amd64");
        assert_eq!(ours["Labels"]["seed"], "single-0");

        // The API itself: version header, paging with Link, negotiation, HEAD, catalog.
        let client = reqwest::Client::new();
        let root = client.get(format!("http://{api}/v2/")).send().await.expect("v2");
        assert_eq!(root.status(), 401, "anonymous clients are told where tokens come from");
        assert_eq!(root.headers()["www-authenticate"], format!("Bearer realm=\"http://{api}/token/\",service=\"{api}\"").as_str());
        let root = client.get(format!("http://{api}/v2/")).basic_auth("admin", Some("password")).send().await.expect("v2");
        assert_eq!(root.status(), 200);
        assert_eq!(root.headers()["docker-distribution-api-version"], "registry/2.0");
        let page = client.get(format!("http://{api}/v2/pull/app/tags/list?n=2")).send().await.expect("tags");
        let link = page.headers()["link"].to_str().expect("link").to_string();
        assert_eq!(link, "</v2/pull/app/tags/list?n=2&last=single-0>; rel=\"next\"");
        let body: serde_json::Value = page.json().await.expect("json");
        assert_eq!(body, serde_json::json!({"name": "pull/app", "tags": ["multi", "single-0"]}));
        let next = client.get(format!("http://{api}/v2/pull/app/tags/list?n=2&last=single-0")).send().await.expect("tags");
        assert!(next.headers().get("link").is_none());
        let body: serde_json::Value = next.json().await.expect("json");
        assert_eq!(body["tags"], serde_json::json!(["single-1"]));
        let (_, index, _) = &pushed.tags[0];
        let head = client
            .head(format!("http://{api}/v2/pull/app/manifests/multi"))
            .header("accept", DOCKER_MANIFEST_V2)
            .header("accept", OCI_INDEX)
            .send()
            .await
            .expect("head");
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["docker-content-digest"], digest(index).as_str());
        assert_eq!(head.headers()["content-type"], OCI_INDEX);
        let refused = client
            .get(format!("http://{api}/v2/pull/app/manifests/multi"))
            .header("accept", DOCKER_MANIFEST_V2)
            .send()
            .await
            .expect("get");
        assert_eq!(refused.status(), 404);
        let body: serde_json::Value = refused.json().await.expect("json");
        assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
        let by_digest = client.get(format!("http://{api}/v2/pull/app/manifests/{}", digest(index))).send().await.expect("get");
        assert_eq!(by_digest.bytes().await.expect("bytes").to_vec(), *index);
        let missing = client.get(format!("http://{api}/v2/pull/app/blobs/sha256:{}", "0".repeat(64))).send().await.expect("get");
        assert_eq!(missing.status(), 404);
        let bad = client.get(format!("http://{api}/v2/pull/app/manifests/-bad-")).send().await.expect("get");
        assert_eq!(bad.status(), 400);
        let catalog: serde_json::Value = client.get(format!("http://{api}/v2/_catalog")).send().await.expect("catalog").json().await.expect("json");
        assert_eq!(catalog["repositories"], serde_json::json!(["pull/app"]));
    }

    async fn on_demand_blobs_are_fetched_through_the_content_app(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "lazy", 0);
        let served = serve(t).await;
        sync_and_distribute(&served.app, &registry, "lazy", Policy::OnDemand, false).await;
        let layers = pushed.tags[0].2.iter().map(|i| i.layers.len()).sum::<usize>() as i64;
        assert_eq!(count(&served.app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NULL").await, layers);
        copy_back_and_compare(&served.api, "lazy", "multi", &pushed, None);
        // The layers were fetched and kept on first request.
        assert_eq!(count(&served.app, "SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NULL").await, 0);
    }

    async fn a_private_distribution_asks_for_a_token_and_takes_basic_credentials(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "secret/app", 0);
        let served = serve(t).await;
        sync_and_distribute(&served.app, &registry, "secret/app", Policy::Immediate, true).await;
        let api = &served.api;
        let client = reqwest::Client::new();
        let url = format!("http://{api}/v2/secret/app/manifests/multi");
        let anonymous = client.get(&url).send().await.expect("get");
        assert_eq!(anonymous.status(), 401);
        let challenge = anonymous.headers()["www-authenticate"].to_str().expect("challenge").to_string();
        assert_eq!(
            challenge,
            format!("Bearer realm=\"http://{api}/token/\",service=\"{api}\",scope=\"repository:secret/app:pull\"")
        );
        let body: serde_json::Value = anonymous.json().await.expect("json");
        assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
        // Not listed to anonymous users; listed to users.
        let catalog: serde_json::Value = client.get(format!("http://{api}/v2/_catalog")).send().await.expect("catalog").json().await.expect("json");
        assert_eq!(catalog["repositories"], serde_json::json!([]));
        let catalog: serde_json::Value = client.get(format!("http://{api}/v2/_catalog")).basic_auth("admin", Some("password")).send().await.expect("catalog").json().await.expect("json");
        assert_eq!(catalog["repositories"], serde_json::json!(["secret/app"]));
        // Basic directly; a token from the realm; a tampered token and a wrong password refused.
        let basic = client.get(&url).basic_auth("admin", Some("password")).header("accept", OCI_INDEX).send().await.expect("get");
        assert_eq!(basic.status(), 200);
        let wrong = client.get(&url).basic_auth("admin", Some("nope")).send().await.expect("get");
        assert_eq!(wrong.status(), 401);
        let token: serde_json::Value = client
            .get(format!("http://{api}/token/?service={api}&scope=repository:secret/app:pull"))
            .basic_auth("admin", Some("password"))
            .send().await.expect("token").json().await.expect("json");
        let token = token["token"].as_str().expect("token").to_string();
        let bearer = client.get(&url).bearer_auth(&token).send().await.expect("get");
        assert_eq!(bearer.status(), 200);
        let tampered = client.get(&url).bearer_auth(format!("{token}x")).send().await.expect("get");
        assert_eq!(tampered.status(), 401);
        let anonymous_token: serde_json::Value = client.get(format!("http://{api}/token/")).send().await.expect("token").json().await.expect("json");
        let anonymous_token = anonymous_token["token"].as_str().expect("token").to_string();
        let still_refused = client.get(&url).bearer_auth(&anonymous_token).send().await.expect("get");
        assert_eq!(still_refused.status(), 401);
        // skopeo answers the challenge with its credentials (blobs are served by the API).
        let denied = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{api}/secret/app:multi")]);
        assert!(denied.is_err(), "anonymous skopeo must be refused");
        copy_back_and_compare(api, "secret/app", "multi", &pushed, Some("admin:password"));
    }
}

const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
