//! Test support: a real `docker-registry` on loopback, OCI images written by the test and
//! pushed with `skopeo`, a front server before the registry (Bearer-token challenge, faults),
//! an app with the container plugin, tasks run by a burst worker.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulp_container::ContainerPlugin;
use pulp_plugin_api::deps::axum::{self, body::Body, extract::State, http, response::Response};
use pulp_plugin_api::deps::sqlx;
use pulp_plugin_api::models::{self, Labels, Model, Policy, RemoteFields, RepositoryFields};
use pulp_plugin_api::tasking::{dispatch, DispatchRequest, Task, Worker, WorkerOptions};
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{on_pool, App, PulpId, Settings, SettingsSources};
use sha2::Digest;

pub use pulp_container::media::{OCI_INDEX, OCI_MANIFEST};

pub fn settings(t: &TestDatabase) -> Settings {
    Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        ..Settings::default()
    }
}

/// An app with the container plugin, migrated.
pub async fn app(t: &TestDatabase) -> App {
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(ContainerPlugin)
        .build_with(settings(t))
        .await
        .expect("build the app");
    app.migrate().await.expect("migrate");
    app
}

pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A `docker-registry` (the CNCF distribution registry) on a free loopback port, storing
/// into a temporary directory; stopped when dropped.
pub struct Registry {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
                dir.path().join("storage").display()
            ),
        )
        .expect("config");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker-registry (Debian package docker-registry) is installed");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let addr = rest.split(['"', ' ']).next().unwrap_or("").to_string();
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the registry says where it listens");
        Registry {
            child,
            addr: addr.parse().expect("address"),
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A blob of an OCI layout.
#[derive(Debug, Clone)]
pub struct BlobFile {
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl BlobFile {
    pub fn digest(&self) -> String {
        digest(&self.bytes)
    }

    pub fn descriptor(&self) -> serde_json::Value {
        serde_json::json!({"mediaType": self.media_type, "digest": self.digest(), "size": self.bytes.len()})
    }
}

/// An image: its config, layers and manifest (the manifest's bytes as written).
#[derive(Debug, Clone)]
pub struct Image {
    pub config: BlobFile,
    pub layers: Vec<BlobFile>,
    pub manifest: Vec<u8>,
    pub architecture: String,
}

impl Image {
    pub fn digest(&self) -> String {
        digest(&self.manifest)
    }
}

/// A layer tarball holding one file.
pub fn layer(name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, name, content)
        .expect("tar entry");
    builder.into_inner().expect("tar")
}

/// An OCI image for `architecture` with `layers` distinct layers (seeded by `seed`).
pub fn image(seed: &str, architecture: &str, layers: usize) -> Image {
    let layers: Vec<BlobFile> = (0..layers)
        .map(|i| BlobFile {
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            bytes: layer(
                &format!("file-{i}.txt"),
                format!("{seed} {architecture} layer {i}\n")
                    .repeat(50)
                    .as_bytes(),
            ),
        })
        .collect();
    let config = serde_json::json!({
        "architecture": architecture,
        "os": "linux",
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest()).collect::<Vec<_>>()},
    });
    let config = BlobFile {
        media_type: "application/vnd.oci.image.config.v1+json".into(),
        bytes: serde_json::to_vec(&config).expect("config"),
    };
    // Pretty-printed on purpose: the bytes (and digest) must survive a sync unchanged.
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": layers.iter().map(BlobFile::descriptor).collect::<Vec<_>>(),
        "annotations": {"org.example.seed": seed},
    }))
    .expect("manifest");
    Image {
        config,
        layers,
        manifest,
        architecture: architecture.into(),
    }
}

/// An OCI index of `images` (with their platforms).
pub fn index(images: &[Image]) -> Vec<u8> {
    serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": images.iter().map(|i| serde_json::json!({
            "mediaType": OCI_MANIFEST,
            "digest": i.digest(),
            "size": i.manifest.len(),
            "platform": {"architecture": i.architecture, "os": "linux"},
        })).collect::<Vec<_>>(),
    }))
    .expect("index")
}

/// Writes an OCI layout holding `images` and, if given, `index` (listing them); the layout's
/// `index.json` names the index (or the single image) `tag`.
pub fn write_layout(dir: &Path, images: &[Image], index: Option<&[u8]>, tag: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("layout");
    let put = |bytes: &[u8]| {
        let d = digest(bytes);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), bytes).expect("blob");
    };
    for image in images {
        put(&image.config.bytes);
        for l in &image.layers {
            put(&l.bytes);
        }
        put(&image.manifest);
    }
    let (top, media_type) = match index {
        Some(bytes) => {
            put(bytes);
            (bytes.to_vec(), OCI_INDEX)
        }
        None => (images[0].manifest.clone(), OCI_MANIFEST),
    };
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let layout_index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": media_type,
            "digest": digest(&top),
            "size": top.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&layout_index).expect("json"),
    )
    .expect("index.json");
}

/// `skopeo copy --all --preserve-digests` of an OCI layout's `tag` to `docker://dest`.
pub fn push(layout: &Path, tag: &str, dest: &str) {
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            "-q",
        ])
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(format!("docker://{dest}"))
        .output()
        .expect("skopeo (Debian package skopeo) is installed");
    assert!(
        out.status.success(),
        "skopeo copy to {dest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a test pushed: per tag, the top manifest's bytes and the images under it.
pub struct Pushed {
    pub tags: Vec<(String, Vec<u8>, Vec<Image>)>,
}

/// Pushes into `registry`'s repository `name`: tag `multi` (a two-platform index), and tags
/// `single-<i>` (one image each) for `i < singles`.
pub fn push_images(registry: &Registry, name: &str, singles: usize) -> Pushed {
    let mut tags = Vec::new();
    let work = tempfile::tempdir().expect("tempdir");
    let amd = image("multi", "amd64", 2);
    let arm = image("multi", "arm64", 2);
    let idx = index(&[amd.clone(), arm.clone()]);
    let dir = work.path().join("multi");
    write_layout(&dir, &[amd.clone(), arm.clone()], Some(&idx), "multi");
    push(&dir, "multi", &format!("{}/{name}:multi", registry.addr));
    tags.push(("multi".to_string(), idx, vec![amd, arm]));
    for i in 0..singles {
        let tag = format!("single-{i}");
        let img = image(&tag, "amd64", 1);
        let dir = work.path().join(&tag);
        write_layout(&dir, std::slice::from_ref(&img), None, &tag);
        push(&dir, &tag, &format!("{}/{name}:{tag}", registry.addr));
        tags.push((tag, img.manifest.clone(), vec![img]));
    }
    Pushed { tags }
}

pub async fn remote(
    app: &App,
    url: &str,
    upstream: &str,
    policy: Policy,
    change: impl FnOnce(&mut RemoteFields, &mut pulp_container::ContainerRemote),
) -> Model<pulp_container::ContainerRemote> {
    let mut fields = RemoteFields::new(format!("remote-{}", PulpId::new()), url.to_string());
    fields.policy = policy;
    let mut detail = pulp_container::ContainerRemote {
        upstream_name: upstream.into(),
        ..Default::default()
    };
    change(&mut fields, &mut detail);
    models::create(app.db(), Labels::new(), fields, detail)
        .await
        .expect("create remote")
}

pub async fn repository(app: &App, name: &str) -> Model<pulp_container::ContainerRepository> {
    models::create(
        app.db(),
        Labels::new(),
        RepositoryFields::new(name),
        pulp_container::ContainerRepository {},
    )
    .await
    .expect("create repository")
}

pub async fn run_task(app: &App, name: &str, args: serde_json::Value) -> Task {
    let task = dispatch(app, DispatchRequest::new(name).args(args))
        .await
        .expect("dispatch");
    let worker = Worker::new(
        app.clone(),
        WorkerOptions {
            burst: true,
            name: Some(format!("burst-{}", PulpId::new())),
            poll_interval: Some(Duration::from_millis(20)),
        },
    );
    worker
        .run(tokio_util::sync::CancellationToken::new())
        .await
        .expect("worker");
    task.refresh(app.db()).await.expect("refresh")
}

pub async fn sync(app: &App, remote: PulpId, repository: PulpId, mirror: bool) -> Task {
    let args = pulp_container::SyncArgs {
        remote_pk: remote,
        repository_pk: repository,
        mirror,
    };
    run_task(
        app,
        pulp_container::SYNC_TASK,
        serde_json::to_value(args).expect("args"),
    )
    .await
}

pub async fn count(app: &App, sql: &str) -> i64 {
    on_pool!(app.db(), pool => {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.expect("count")
    })
}

/// A fault the front server injects on paths containing `needle`.
#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16),
    /// The body cut to half, with the full length announced.
    Truncated,
    /// Other bytes (of the same length) than the upstream's.
    WrongBytes,
}

#[derive(Debug, Default)]
struct FrontState {
    token: Option<String>,
    credentials: Option<(String, String)>,
    faults: Vec<(String, Fault)>,
    hits: HashMap<String, usize>,
    token_requests: Vec<String>,
}

/// A server before a registry: answers `/token` and, when a token is required, refuses
/// `/v2/` requests without it with the registry's Bearer challenge; injects faults; forwards
/// everything else (method, `Accept` lines) to the registry.
#[derive(Clone)]
pub struct Front {
    pub addr: SocketAddr,
    state: Arc<Mutex<FrontState>>,
}

impl Front {
    pub async fn start(upstream: &str) -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(FrontState::default()));
        let shared = (
            state.clone(),
            upstream.to_string(),
            addr,
            reqwest::Client::new(),
        );
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::new(shared));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Front { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requires the Bearer token `token` (issued to `credentials`, or to anyone).
    pub fn require_token(&self, token: &str, credentials: Option<(&str, &str)>) {
        let mut s = self.state.lock().unwrap();
        s.token = Some(token.into());
        s.credentials = credentials.map(|(u, p)| (u.into(), p.into()));
    }

    pub fn fault(&self, needle: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((needle.into(), fault));
    }

    pub fn token_requests(&self) -> Vec<String> {
        self.state.lock().unwrap().token_requests.clone()
    }

    pub fn hits(&self, needle: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|(k, _)| k.contains(needle))
            .map(|(_, v)| v)
            .sum()
    }
}

type Shared = Arc<(Arc<Mutex<FrontState>>, String, SocketAddr, reqwest::Client)>;

fn status(code: u16) -> Response {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .expect("response")
}

async fn forward(State(shared): State<Shared>, request: http::Request<Body>) -> Response {
    let (state, upstream, addr, client) = &*shared;
    let (request, _) = request.into_parts();
    let path = request
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = header("authorization");
    let (token, credentials, fault) = {
        let mut s = state.lock().unwrap();
        *s.hits
            .entry(format!("{} {path}", request.method))
            .or_default() += 1;
        let fault = s
            .faults
            .iter()
            .find(|(needle, _)| path.contains(needle.as_str()))
            .map(|(_, f)| f.clone());
        (s.token.clone(), s.credentials.clone(), fault)
    };
    if path.starts_with("/token") {
        state.lock().unwrap().token_requests.push(path.clone());
        if let Some((user, password)) = credentials {
            let want = format!(
                "Basic {}",
                base64_encode(format!("{user}:{password}").as_bytes())
            );
            if authorization.as_deref() != Some(want.as_str()) {
                return status(401);
            }
        }
        let body = serde_json::json!({"token": token.unwrap_or_default()}).to_string();
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("response");
    }
    if let Some(token) = token {
        if authorization.as_deref() != Some(format!("Bearer {token}").as_str()) {
            let name = path
                .trim_start_matches("/v2/")
                .split("/manifests/")
                .next()
                .unwrap_or("")
                .split("/blobs/")
                .next()
                .unwrap_or("")
                .split("/tags/")
                .next()
                .unwrap_or("")
                .to_string();
            return Response::builder()
                .status(401)
                .header(
                    "www-authenticate",
                    format!(
                        "Bearer realm=\"http://{addr}/token\",service=\"front\",scope=\"repository:{name}:pull\""
                    ),
                )
                .body(Body::empty())
                .expect("response");
        }
    }
    if let Some(Fault::Status(code)) = fault {
        return status(code);
    }
    let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes()).expect("method");
    let mut outgoing = client.request(method, format!("{upstream}{path}"));
    for value in request.headers.get_all("accept") {
        if let Ok(v) = value.to_str() {
            outgoing = outgoing.header("accept", v);
        }
    }
    let Ok(answer) = outgoing.send().await else {
        return status(502);
    };
    let mut builder = Response::builder().status(answer.status().as_u16());
    for name in [
        "content-type",
        "docker-content-digest",
        "link",
        "content-length",
    ] {
        if let Some(v) = answer.headers().get(name).and_then(|v| v.to_str().ok()) {
            builder = builder.header(name, v);
        }
    }
    let Ok(bytes) = answer.bytes().await else {
        return status(502);
    };
    let bytes = match fault {
        Some(Fault::WrongBytes) => bytes.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>(),
        Some(Fault::Truncated) => {
            // Announce the whole length, send half, close: a body cut short.
            let half = bytes[..bytes.len() / 2].to_vec();
            let stream = pulp_plugin_api::deps::futures::stream::iter(vec![
                Ok::<_, std::io::Error>(pulp_plugin_api::deps::bytes::Bytes::from(half)),
                Err(std::io::Error::other("cut")),
            ]);
            return builder.body(Body::from_stream(stream)).expect("response");
        }
        _ => bytes.to_vec(),
    };
    builder.body(Body::from(bytes)).expect("response")
}

fn base64_encode(input: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// A path under a temporary directory (for `skopeo copy` destinations).
pub fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    (dir, path)
}
