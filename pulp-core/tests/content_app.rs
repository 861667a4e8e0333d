//! The content app served by axum on a loopback port: distributions, ranges, conditional
//! requests, listings, sources (latest version, fixed version, publication), on-demand and
//! streamed content from a real upstream server, content guards and plugin routes.

use std::sync::Arc;

use bytes::Bytes;
use pulp_core::content_app::{check_base_path, ContentApp, GuardDenied};
use pulp_core::db::PulpId;
use pulp_core::models::{
    create, save_artifact, save_content, save_content_artifacts, save_remote_artifacts, Column,
    ContentDetail, ContentGuardFields, ContentGuardKind, ContentKind, Detail, DistributionFields,
    DistributionKind, Policy, PublicationFields, PublicationKind, RemoteArtifact, RemoteFields,
    RemoteKind, RepositoryFields, RepositoryKind,
};
use pulp_core::publication::publish_version_artifacts;
use pulp_core::repository::{latest_version, NewVersion, RepositoryType};
use pulp_core::settings::SettingsSources;
use pulp_core::storage::{ChecksumType, ExpectedArtifact};
use pulp_core::testing::http::{Reply, TestServer};
use pulp_core::testing::TestDatabase;
use pulp_core::validation::{Validate, ValidationErrors};
use pulp_core::{on_pool, App, Registry};
use serde::{Deserialize, Serialize};
use sha2::Digest;

// ---- a small plugin with one type of each kind ----

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Blob {
    relative_path: String,
    digest: String,
}
impl Validate for Blob {
    fn validate(&self, _: &mut ValidationErrors) {}
}
impl Detail for Blob {
    type Kind = ContentKind;
    const PULP_TYPE: &'static str = "test.blob";
    const TABLE: &'static str = "test_blob";
    const COLUMNS: &'static [Column] = &[Column::text("relative_path"), Column::text("digest")];
    const PRN_MODEL: &'static str = "test.blob";
    const ENDPOINT: &'static str = "test/blobs";
}
impl ContentDetail for Blob {
    const NATURAL_KEY: &'static [&'static str] = &["relative_path", "digest"];
    const REPO_KEY: &'static [&'static str] = &["relative_path"];
}

macro_rules! empty_detail {
    ($name:ident, $kind:ty, $table:literal) => {
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        struct $name {}
        impl Validate for $name {
            fn validate(&self, _: &mut ValidationErrors) {}
        }
        impl Detail for $name {
            type Kind = $kind;
            const PULP_TYPE: &'static str = "test.blob";
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [Column] = &[];
            const PRN_MODEL: &'static str = $table;
            const ENDPOINT: &'static str = "test/blob";
        }
    };
}
empty_detail!(BlobRemote, RemoteKind, "test_blobremote");
empty_detail!(BlobRepository, RepositoryKind, "test_blobrepository");
empty_detail!(BlobPublication, PublicationKind, "test_blobpublication");
empty_detail!(BlobDistribution, DistributionKind, "test_blobdistribution");
empty_detail!(BlobGuard, ContentGuardKind, "test_blobguard");

impl RepositoryType for BlobRepository {
    const CONTENT_TYPES: &'static [&'static str] = &["test.blob"];
}

fn migration_sql(id: &str) -> String {
    let mut sql = format!(
        "CREATE TABLE test_blob (pulp_id {id} PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE, \
         pulp_domain TEXT NOT NULL, relative_path TEXT NOT NULL, digest TEXT NOT NULL, \
         UNIQUE (relative_path, digest, pulp_domain));\n"
    );
    for (table, master) in [
        ("test_blobremote", "core_remote"),
        ("test_blobrepository", "core_repository"),
        ("test_blobpublication", "core_publication"),
        ("test_blobdistribution", "core_distribution"),
        ("test_blobguard", "core_contentguard"),
    ] {
        sql.push_str(&format!(
            "CREATE TABLE {table} (pulp_id {id} PRIMARY KEY REFERENCES {master} (pulp_id) ON DELETE CASCADE);\n"
        ));
    }
    sql
}

fn plugin(r: &mut Registry) {
    let sqlite: &'static str = Box::leak(migration_sql("TEXT").into_boxed_str());
    let postgres: &'static str = Box::leak(migration_sql("UUID").into_boxed_str());
    r.migrations([pulp_core::db::Migration {
        app: "test",
        name: "0001_blobs",
        sqlite,
        postgres,
    }]);
    r.content::<Blob>()
        .remote::<BlobRemote>()
        .repository::<BlobRepository>()
        .publication::<BlobPublication>()
        .distribution::<BlobDistribution>()
        .content_guard::<BlobGuard>();
    r.content_routes(|_app| {
        axum::Router::new().route(
            "/pulp/content/_plugin/hello",
            axum::routing::get(|| async { "hello from a plugin" }),
        )
    });
    // Lets a request through a `test.blob` guard when it has `x-allow: yes`.
    r.content_guard_check(
        "test.blob",
        |parts: &axum::http::request::Parts, _guard: &pulp_core::models::ContentGuard| match parts
            .headers
            .get("x-allow")
            .and_then(|v| v.to_str().ok())
        {
            Some("yes") => Ok(()),
            _ => Err(GuardDenied("x-allow is missing".into())),
        },
    );
}

// ---- fixture ----

struct Fixture {
    app: App,
    content: ContentApp,
    base: String,
    client: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

impl Fixture {
    async fn new(t: &TestDatabase) -> Fixture {
        Self::with(t, |_| {}).await
    }

    async fn with(
        t: &TestDatabase,
        change: impl FnOnce(&mut pulp_core::settings::Settings),
    ) -> Fixture {
        let mut settings = t.settings();
        // No caching unless a test asks for it: tests change data between requests.
        settings.extra.insert(
            "content_distribution_cache_ttl".into(),
            serde_json::json!(0),
        );
        change(&mut settings);
        let app = App::builder(SettingsSources::defaults_only())
            .plugin(plugin)
            .build_with(settings)
            .await
            .expect("app");
        app.migrate().await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let content = ContentApp::new(app.clone());
        let router = content.router();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Fixture {
            app,
            content,
            base: format!("http://{addr}"),
            client,
            _server: server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    async fn get_with(&self, path: &str, name: &str, value: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header(name, value)
            .send()
            .await
            .unwrap()
    }

    async fn repository(&self, name: &str) -> PulpId {
        create::<BlobRepository>(
            self.app.db(),
            Default::default(),
            RepositoryFields::new(name),
            BlobRepository {},
        )
        .await
        .unwrap()
        .pulp_id()
    }

    /// A blob at `path` holding `data`, stored (returns content id, content artifact id).
    async fn stored_blob(&self, path: &str, data: &[u8]) -> (PulpId, PulpId) {
        let stored = self
            .app
            .storage()
            .ingest_bytes(Bytes::copy_from_slice(data), &ExpectedArtifact::any())
            .await
            .unwrap();
        let artifact = save_artifact(self.app.db(), &stored).await.unwrap();
        self.blob(path, &stored.sha256, Some(artifact.pulp_id))
            .await
    }

    async fn blob(&self, path: &str, digest: &str, artifact: Option<PulpId>) -> (PulpId, PulpId) {
        let unit = save_content(
            self.app.db(),
            vec![Blob {
                relative_path: path.into(),
                digest: digest.into(),
            }],
        )
        .await
        .unwrap()
        .remove(0);
        let ca = save_content_artifacts(self.app.db(), &[(unit.pulp_id(), artifact, path.into())])
            .await
            .unwrap()
            .remove(0);
        (unit.pulp_id(), ca.pulp_id)
    }

    /// A publication of `version` (returns its id).
    async fn publication(&self, version: PulpId, complete: bool) -> PulpId {
        let fields = PublicationFields {
            repository_version_id: Some(version),
            complete,
            ..Default::default()
        };
        create::<BlobPublication>(
            self.app.db(),
            Default::default(),
            fields,
            BlobPublication {},
        )
        .await
        .unwrap()
        .pulp_id()
    }

    async fn add(&self, repository: PulpId, content: &[PulpId], remove: &[PulpId]) -> PulpId {
        let mut version = NewVersion::start(&self.app, repository).await.unwrap();
        version.add_content(content).await.unwrap();
        version.remove_content(remove).await.unwrap();
        version.commit().await.unwrap().unwrap().pulp_id
    }

    async fn distribution(
        &self,
        name: &str,
        base_path: &str,
        set: impl FnOnce(&mut DistributionFields),
    ) {
        let mut fields = DistributionFields::new(name, base_path);
        set(&mut fields);
        create::<BlobDistribution>(
            self.app.db(),
            Default::default(),
            fields,
            BlobDistribution {},
        )
        .await
        .unwrap();
    }

    async fn remote(&self, name: &str, url: &str, policy: Policy) -> PulpId {
        let mut fields = RemoteFields::new(name, url);
        fields.policy = policy;
        create::<BlobRemote>(self.app.db(), Default::default(), fields, BlobRemote {})
            .await
            .unwrap()
            .pulp_id()
    }

    async fn count(&self, sql: &str) -> i64 {
        let db = self.app.db();
        on_pool!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap())
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pulp_core::db_tests! {
    async fn object_storage_redirects_or_streams(t: &TestDatabase) {
        let Some(endpoint) = pulp_core::testing::s3_endpoint() else {
            return;
        };
        let body = data(300_000, 7);
        for redirect in [true, false] {
            let storage = pulp_core::testing::s3_bucket(&endpoint, redirect).await;
            let f = Fixture::with(t, |s| s.storage = storage).await;
            let repo = f.repository(&format!("r{redirect}")).await;
            let (unit, _) = f.stored_blob("f.bin", &body).await;
            f.add(repo, &[unit], &[]).await;
            f.distribution(&format!("d{redirect}"), &format!("s3{redirect}"), |d| d.repository_id = Some(repo)).await;
            let path = format!("/pulp/content/s3{redirect}/f.bin");
            let r = f.get(&path).await;
            if redirect {
                assert_eq!(r.status(), 302);
                let location = header(&r, "location");
                assert!(location.contains("X-Amz-Signature"), "{location}");
                let fetched = reqwest::get(&location).await.unwrap();
                assert_eq!(fetched.status(), 200);
                assert!(fetched.bytes().await.unwrap() == body);
            } else {
                assert_eq!(r.status(), 200);
                assert!(r.bytes().await.unwrap() == body);
                let r = f.get_with(&path, "range", "bytes=100-199,-3").await;
                assert_eq!(r.status(), 206);
                let text = r.bytes().await.unwrap();
                let needle = &body[100..=199];
                assert!(text.windows(needle.len()).any(|w| w == needle));
                let r = f.get_with(&path, "range", "bytes=-3").await;
                assert_eq!(r.bytes().await.unwrap(), body[body.len() - 3..]);
            }
            // Tests share the database: drop this round's rows.
            let db = f.app.db();
            on_pool!(db, pool => {
                sqlx::query("DELETE FROM core_distribution").execute(pool).await.unwrap();
            });
        }
    }

    async fn ranges_head_and_conditional_requests(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        let repo = f.repository("r").await;
        let body = data(1000, 1);
        let (unit, _) = f.stored_blob("dir/file.txt", &body).await;
        f.add(repo, &[unit], &[]).await;
        f.distribution("d", "base", |d| d.repository_id = Some(repo)).await;
        let path = "/pulp/content/base/dir/file.txt";

        let full = f.get(path).await;
        assert_eq!(full.status(), 200);
        assert_eq!(header(&full, "content-length"), "1000");
        assert_eq!(header(&full, "content-type"), "text/plain");
        assert_eq!(header(&full, "accept-ranges"), "bytes");
        let etag = header(&full, "etag");
        assert_eq!(etag, format!("\"{}\"", sha256(&body)));
        let modified = header(&full, "last-modified");
        assert!(modified.ends_with("GMT"), "{modified}");
        assert_eq!(full.bytes().await.unwrap(), body);

        for (range, start, end) in [
            ("bytes=0-9", 0usize, 9usize),
            ("bytes=-10", 990, 999),
            ("bytes=990-", 990, 999),
            ("bytes=995-5000", 995, 999),
            ("bytes=-5000", 0, 999),
        ] {
            let r = f.get_with(path, "range", range).await;
            assert_eq!(r.status(), 206, "{range}");
            assert_eq!(header(&r, "content-range"), format!("bytes {start}-{end}/1000"), "{range}");
            assert_eq!(header(&r, "content-length"), (end - start + 1).to_string());
            assert_eq!(r.bytes().await.unwrap(), body[start..=end], "{range}");
        }

        let multi = f.get_with(path, "range", "bytes=0-1, 10-12").await;
        assert_eq!(multi.status(), 206);
        let kind = header(&multi, "content-type");
        let boundary = kind.strip_prefix("multipart/byteranges; boundary=").expect(&kind).to_string();
        let length: usize = header(&multi, "content-length").parse().unwrap();
        let text = multi.bytes().await.unwrap();
        assert_eq!(text.len(), length);
        let mut expected = Vec::new();
        expected.extend_from_slice(format!("--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/1000\r\n\r\n").as_bytes());
        expected.extend_from_slice(&body[0..=1]);
        expected.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/1000\r\n\r\n").as_bytes());
        expected.extend_from_slice(&body[10..=12]);
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert_eq!(text.as_ref(), expected.as_slice());

        let unsatisfiable = f.get_with(path, "range", "bytes=1000-").await;
        assert_eq!(unsatisfiable.status(), 416);
        assert_eq!(header(&unsatisfiable, "content-range"), "bytes */1000");

        let head = f.client.head(f.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(header(&head, "content-length"), "1000");
        assert_eq!(header(&head, "etag"), etag);
        assert!(head.bytes().await.unwrap().is_empty());

        let cached = f.get_with(path, "if-none-match", &etag).await;
        assert_eq!(cached.status(), 304);
        assert_eq!(header(&cached, "etag"), etag);
        let cached = f.get_with(path, "if-none-match", "\"other\"").await;
        assert_eq!(cached.status(), 200);
        let cached = f.get_with(path, "if-modified-since", &modified).await;
        assert_eq!(cached.status(), 304);
        let stale = f.get_with(path, "if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT").await;
        assert_eq!(stale.status(), 200);

        // If-Range: the range only applies to the same file.
        let r = f.client.get(f.url(path)).header("range", "bytes=0-9").header("if-range", &etag).send().await.unwrap();
        assert_eq!(r.status(), 206);
        let r = f.client.get(f.url(path)).header("range", "bytes=0-9").header("if-range", "\"old\"").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().len(), 1000);

        // A bigger file streams (not read in one piece).
        let big = data(3 * 1024 * 1024 + 7, 2);
        let (unit, _) = f.stored_blob("big.bin", &big).await;
        f.add(repo, &[unit], &[]).await;
        let r = f.get("/pulp/content/base/big.bin").await;
        assert_eq!(header(&r, "content-type"), "application/octet-stream");
        assert_eq!(r.bytes().await.unwrap(), big);
        let r = f.get_with("/pulp/content/base/big.bin", "range", "bytes=1048570-2097160").await;
        assert_eq!(r.bytes().await.unwrap(), big[1048570..=2097160]);
    }

    async fn listings_redirects_and_not_found(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        let repo = f.repository("r").await;
        let (a, _) = f.stored_blob("a.txt", b"a").await;
        let (b, _) = f.stored_blob("sub/b.txt", b"bb").await;
        let (c, _) = f.stored_blob("sub/deeper/c.txt", b"ccc").await;
        f.add(repo, &[a, b, c], &[]).await;
        f.distribution("visible", "group/one", |d| d.repository_id = Some(repo)).await;
        f.distribution("secret", "hidden", |d| {
            d.repository_id = Some(repo);
            d.hidden = true;
        })
        .await;

        let root = f.get("/pulp/content/").await;
        assert_eq!(root.status(), 200);
        let text = root.text().await.unwrap();
        assert!(text.contains("Index of /pulp/content/"), "{text}");
        assert!(text.contains("<a href=\"group/\">group/</a>"), "{text}");
        assert!(!text.contains("hidden"), "hidden distributions are not listed: {text}");
        let redirect = f.get("/pulp/content").await;
        assert_eq!(redirect.status(), 301);
        assert_eq!(header(&redirect, "location"), "/pulp/content/");

        let group = f.get("/pulp/content/group/").await.text().await.unwrap();
        assert!(group.contains("<a href=\"one/\">one/</a>"), "{group}");
        assert_eq!(f.get("/pulp/content/group").await.status(), 301);

        let redirect = f.get("/pulp/content/group/one").await;
        assert_eq!(redirect.status(), 301);
        assert_eq!(header(&redirect, "location"), "/pulp/content/group/one/");
        let top = f.get("/pulp/content/group/one/").await.text().await.unwrap();
        assert!(top.contains("Index of /pulp/content/group/one/"), "{top}");
        assert!(top.contains("<a href=\"a.txt\">a.txt</a>"), "{top}");
        assert!(top.contains("<a href=\"sub/\">sub/</a>"), "{top}");
        assert!(!top.contains("b.txt"), "{top}");
        let sub = f.get("/pulp/content/group/one/sub/").await.text().await.unwrap();
        assert!(sub.contains("<a href=\"b.txt\">b.txt</a>") && sub.contains("<a href=\"deeper/\">deeper/</a>"), "{sub}");
        let redirect = f.get("/pulp/content/group/one/sub").await;
        assert_eq!(redirect.status(), 301);
        assert_eq!(header(&redirect, "location"), "/pulp/content/group/one/sub/");
        assert_eq!(f.get("/pulp/content/hidden/a.txt").await.bytes().await.unwrap().as_ref(), b"a");

        for missing in ["/pulp/content/nope/x", "/pulp/content/group/one/nope.txt", "/pulp/content/group/one/nope/", "/elsewhere"] {
            let r = f.get(missing).await;
            assert_eq!(r.status(), 404, "{missing}");
            let body = r.text().await.unwrap();
            assert!(body.len() < 64, "short body: {body}");
        }
        let post = f.client.post(f.url("/pulp/content/group/one/a.txt")).send().await.unwrap();
        assert_eq!(post.status(), 405);

        // A distribution with nothing to serve.
        f.distribution("empty", "empty", |_| {}).await;
        assert_eq!(f.get("/pulp/content/empty/").await.status(), 404);
        assert_eq!(f.get("/pulp/content/empty/a.txt").await.status(), 404);

        // Plugin routes.
        let hello = f.get("/pulp/content/_plugin/hello").await;
        assert_eq!(hello.text().await.unwrap(), "hello from a plugin");
    }

    async fn cached_paths_serve_until_the_ttl_or_an_invalidation(t: &TestDatabase) {
        let f = Fixture::with(t, |s| {
            s.extra.insert("content_distribution_cache_ttl".into(), serde_json::json!(600));
        })
        .await;
        let repo = f.repository("r").await;
        let old = data(5000, 8);
        let (one, _) = f.stored_blob("f.bin", &old).await;
        f.add(repo, &[one], &[]).await;
        f.distribution("d", "cached", |d| d.repository_id = Some(repo)).await;
        let path = "/pulp/content/cached/f.bin";
        assert!(f.get(path).await.bytes().await.unwrap() == old);
        // Served from the cache: ranges, conditional requests and HEAD behave the same.
        let r = f.get_with(path, "range", "bytes=10-19,-2").await;
        assert_eq!(r.status(), 206);
        let r = f.get_with(path, "range", "bytes=4990-").await;
        assert_eq!(r.bytes().await.unwrap(), old[4990..]);
        let etag = format!("\"{}\"", sha256(&old));
        assert_eq!(f.get_with(path, "if-none-match", &etag).await.status(), 304);
        let head = f.client.head(f.url(path)).send().await.unwrap();
        assert_eq!(header(&head, "content-length"), "5000");

        let new = data(6000, 9);
        let (two, _) = f.stored_blob("f.bin", &new).await;
        f.add(repo, &[two], &[one]).await;
        assert!(f.get(path).await.bytes().await.unwrap() == old, "cached for the TTL");
        f.app.served_objects_changed();
        assert!(f.get(path).await.bytes().await.unwrap() == new);
    }

    async fn sources_latest_fixed_and_publication(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        let repo = f.repository("r").await;
        let (one, _) = f.stored_blob("f.txt", b"one").await;
        let v1 = f.add(repo, &[one], &[]).await;
        f.distribution("latest", "latest", |d| d.repository_id = Some(repo)).await;
        f.distribution("fixed", "fixed", |d| d.repository_version_id = Some(v1)).await;
        assert_eq!(f.get("/pulp/content/latest/f.txt").await.text().await.unwrap(), "one");

        let (two, _) = f.stored_blob("f.txt", b"two").await;
        let v2 = f.add(repo, &[two], &[one]).await;
        assert_eq!(f.get("/pulp/content/latest/f.txt").await.text().await.unwrap(), "two");
        assert_eq!(f.get("/pulp/content/fixed/f.txt").await.text().await.unwrap(), "one");
        let version = latest_version(f.app.db(), repo).await.unwrap();
        assert_eq!(version.pulp_id, v2);

        // A publication of v1: published artifacts under their own paths, plus metadata.
        let (_, ca_one) = f.blob("f.txt", &sha256(b"one"), None).await;
        let publication = f.publication(v1, true).await;
        let meta = f.app.storage().ingest_bytes(Bytes::from_static(b"manifest"), &ExpectedArtifact::any()).await.unwrap();
        let meta = save_artifact(f.app.db(), &meta).await.unwrap();
        let db = f.app.db();
        let now = chrono::Utc::now();
        on_pool!(db, pool => {
            sqlx::query("INSERT INTO core_publishedartifact (pulp_id, pulp_created, pulp_last_updated, publication_id, content_artifact_id, relative_path) VALUES ($1, $2, $2, $3, $4, $5)")
                .bind(PulpId::new()).bind(now).bind(publication).bind(ca_one).bind("published/f.txt")
                .execute(pool).await.unwrap();
            sqlx::query("INSERT INTO core_publishedmetadata (pulp_id, pulp_created, pulp_last_updated, publication_id, artifact_id, relative_path) VALUES ($1, $2, $2, $3, $4, $5)")
                .bind(PulpId::new()).bind(now).bind(publication).bind(meta.pulp_id).bind("PULP_MANIFEST")
                .execute(pool).await.unwrap();
        });
        f.distribution("pub", "pub", |d| d.publication_id = Some(publication)).await;
        assert_eq!(f.get("/pulp/content/pub/published/f.txt").await.text().await.unwrap(), "one");
        assert_eq!(f.get("/pulp/content/pub/PULP_MANIFEST").await.text().await.unwrap(), "manifest");
        assert_eq!(f.get("/pulp/content/pub/f.txt").await.status(), 404, "only published paths");
        let listing = f.get("/pulp/content/pub/").await.text().await.unwrap();
        assert!(listing.contains("PULP_MANIFEST") && listing.contains("published/"), "{listing}");

        // An incomplete publication serves nothing.
        let incomplete = f.publication(v1, false).await;
        f.distribution("incomplete", "incomplete", |d| d.publication_id = Some(incomplete)).await;
        assert_eq!(f.get("/pulp/content/incomplete/published/f.txt").await.status(), 404);
    }

    async fn a_version_is_published_under_time_ordered_ids(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        let repo = f.repository("r").await;
        let mut units = Vec::new();
        for name in ["a.txt", "b/c.txt", "d.txt"] {
            units.push(f.stored_blob(name, name.as_bytes()).await.0);
        }
        let v1 = f.add(repo, &units, &[]).await;
        let version = latest_version(f.app.db(), repo).await.unwrap();
        assert_eq!(version.pulp_id, v1);
        let mut published = Vec::new();
        for round in 0..2 {
            let publication = f.publication(v1, true).await;
            let n = publish_version_artifacts(f.app.db(), publication, &version).await.unwrap();
            assert_eq!(n, 3);
            let db = f.app.db();
            let ids: Vec<PulpId> = on_pool!(db, pool => sqlx::query_scalar(
                "SELECT pulp_id FROM core_publishedartifact WHERE publication_id = $1 ORDER BY pulp_id")
                .bind(publication).fetch_all(pool).await.unwrap());
            // Time-ordered ids (version 7), counted up within the statement.
            for id in &ids {
                assert_eq!(id.0.get_version_num(), 7, "{id}");
            }
            let low = |id: &PulpId| id.0.as_u128() & ((1u128 << 48) - 1);
            let prefix = |id: &PulpId| id.0.as_u128() >> 48;
            assert!(ids.windows(2).all(|w| prefix(&w[0]) == prefix(&w[1])), "{ids:?}");
            let mut lows: Vec<u128> = ids.iter().map(low).collect();
            lows.sort_unstable();
            assert!(lows.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
            f.distribution(&format!("p{round}"), &format!("p{round}"), |d| {
                d.publication_id = Some(publication)
            })
            .await;
            published.extend(ids);
        }
        let mut distinct = published.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 6, "{published:?}");
        assert_eq!(f.get("/pulp/content/p0/b/c.txt").await.text().await.unwrap(), "b/c.txt");
        assert_eq!(f.get("/pulp/content/p1/d.txt").await.text().await.unwrap(), "d.txt");
    }

    async fn overlapping_base_paths_are_refused(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        f.distribution("taken", "a/b", |_| {}).await;
        let db = f.app.db();
        for overlapping in ["a", "a/b", "a/b/c"] {
            let errors = check_base_path(db, overlapping, None).await.unwrap_err();
            assert_eq!(errors.messages("base_path"), ["Overlaps with existing distribution 'taken'"], "{overlapping}");
        }
        for fine in ["a/c", "ab", "b/a/b", "a/bc"] {
            check_base_path(db, fine, None).await.unwrap_or_else(|e| panic!("{fine}: {e:?}"));
        }
        for bad in ["/a", "a/", "a/../b", "a b", ""] {
            assert!(!check_base_path(db, bad, None).await.unwrap_err().messages("base_path").is_empty(), "{bad}");
        }
    }

    async fn content_guards_are_consulted(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        let repo = f.repository("r").await;
        let (unit, _) = f.stored_blob("f.txt", b"guarded").await;
        f.add(repo, &[unit], &[]).await;
        let guard = create::<BlobGuard>(
            f.app.db(),
            Default::default(),
            ContentGuardFields { name: "g".into(), description: None },
            BlobGuard {},
        )
        .await
        .unwrap()
        .pulp_id();
        f.distribution("d", "guarded", |d| {
            d.repository_id = Some(repo);
            d.content_guard_id = Some(guard);
        })
        .await;
        let denied = f.get("/pulp/content/guarded/f.txt").await;
        assert_eq!(denied.status(), 403);
        let allowed = f.get_with("/pulp/content/guarded/f.txt", "x-allow", "yes").await;
        assert_eq!(allowed.text().await.unwrap(), "guarded");
    }

    async fn on_demand_downloads_once_for_concurrent_requests(t: &TestDatabase) {
        let f = Arc::new(Fixture::new(t).await);
        let upstream = TestServer::start().await;
        let body = data(3 * 1024 * 1024 + 11, 3);
        upstream.set("/big.bin", Reply::Ok(Bytes::from(body.clone())));
        let remote = f.remote("up", &upstream.url("/"), Policy::OnDemand).await;
        let repo = f.repository("r").await;
        let (unit, ca) = f.blob("big.bin", &sha256(&body), None).await;
        save_remote_artifacts(f.app.db(), &[RemoteArtifact {
            content_artifact_id: ca,
            remote_id: remote,
            url: upstream.url("/big.bin"),
            size: Some(body.len() as i64),
            digests: [(ChecksumType::Sha256, sha256(&body))].into(),
        }]).await.unwrap();
        f.add(repo, &[unit], &[]).await;
        f.distribution("d", "od", |d| d.repository_id = Some(repo)).await;

        let head = f.client.head(f.url("/pulp/content/od/big.bin")).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(header(&head, "content-length"), body.len().to_string());
        assert_eq!(upstream.hits("/big.bin"), 0, "HEAD downloads nothing");

        let mut tasks = Vec::new();
        for _ in 0..20 {
            let f = f.clone();
            tasks.push(tokio::spawn(async move {
                let r = f.get("/pulp/content/od/big.bin").await;
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap()
            }));
        }
        for task in tasks {
            assert!(task.await.unwrap() == body, "every client gets the right bytes");
        }
        assert_eq!(upstream.hits("/big.bin"), 1, "one download for 20 requests");
        assert_eq!(f.count("SELECT COUNT(*) FROM core_artifact").await, 1);
        assert_eq!(f.count("SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NOT NULL").await, 1);
        assert!(f.app.storage().contains(&sha256(&body)).await.unwrap());
        // Later requests come from storage (with ranges).
        let r = f.get_with("/pulp/content/od/big.bin", "range", "bytes=-5").await;
        assert_eq!(r.status(), 206);
        assert_eq!(r.bytes().await.unwrap(), body[body.len() - 5..]);
        assert_eq!(upstream.hits("/big.bin"), 1);
    }

    async fn on_demand_failures_store_nothing(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        let upstream = TestServer::start().await;
        let body = data(200_000, 4);
        upstream.set("/bad.bin", Reply::Ok(Bytes::from(body.clone())));
        upstream.set("/gone.bin", Reply::Status(404));
        let remote = f.remote("up", &upstream.url("/"), Policy::OnDemand).await;
        let repo = f.repository("r").await;
        let wrong = sha256(b"something else");
        let (bad, bad_ca) = f.blob("bad.bin", &wrong, None).await;
        let (gone, gone_ca) = f.blob("gone.bin", &wrong, None).await;
        save_remote_artifacts(f.app.db(), &[
            RemoteArtifact {
                content_artifact_id: bad_ca,
                remote_id: remote,
                url: upstream.url("/bad.bin"),
                size: Some(body.len() as i64),
                digests: [(ChecksumType::Sha256, wrong.clone())].into(),
            },
            RemoteArtifact {
                content_artifact_id: gone_ca,
                remote_id: remote,
                url: upstream.url("/gone.bin"),
                size: None,
                digests: Default::default(),
            },
        ]).await.unwrap();
        f.add(repo, &[bad, gone], &[]).await;
        f.distribution("d", "od", |d| d.repository_id = Some(repo)).await;

        // The body streams as it arrives, minus its last byte until verified: a mismatch
        // aborts the response.
        let r = f.get("/pulp/content/od/bad.bin").await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-length"), body.len().to_string());
        assert!(r.bytes().await.is_err(), "a digest mismatch aborts the response");
        // No remote gives the file: pulpcore's 404 (not a 502).
        let r = f.get("/pulp/content/od/gone.bin").await;
        assert_eq!(r.status(), 404);
        let reason = r.text().await.unwrap();
        assert_eq!(reason.trim(), "404: Not Found");
        // Give the failed flights a moment to clear, then nothing is stored.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(f.count("SELECT COUNT(*) FROM core_artifact").await, 0);
        assert_eq!(f.count("SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id IS NOT NULL").await, 0);
        assert_eq!(f.content.content_state().on_demand().in_flight(), 0, "failed downloads are forgotten");
        let r = f.get("/pulp/content/od/bad.bin").await;
        let _ = r.bytes().await;
        assert_eq!(upstream.hits("/bad.bin"), 2, "a failed download is tried again");
    }

    async fn streamed_content_is_never_stored(t: &TestDatabase) {
        let f = Fixture::new(t).await;
        let upstream = TestServer::start().await;
        let body = data(500_000, 5);
        upstream.set("/s.bin", Reply::Ok(Bytes::from(body.clone())));
        let remote = f.remote("up", &upstream.url("/"), Policy::Streamed).await;
        let repo = f.repository("r").await;
        let (unit, ca) = f.blob("s.bin", &sha256(&body), None).await;
        save_remote_artifacts(f.app.db(), &[RemoteArtifact {
            content_artifact_id: ca,
            remote_id: remote,
            url: upstream.url("/s.bin"),
            size: Some(body.len() as i64),
            digests: [(ChecksumType::Sha256, sha256(&body))].into(),
        }]).await.unwrap();
        f.add(repo, &[unit], &[]).await;
        f.distribution("d", "st", |d| d.repository_id = Some(repo)).await;
        for _ in 0..2 {
            let r = f.get("/pulp/content/st/s.bin").await;
            assert_eq!(r.status(), 200);
            assert_eq!(header(&r, "content-length"), body.len().to_string());
            assert!(r.bytes().await.unwrap() == body);
        }
        assert_eq!(upstream.hits("/s.bin"), 2);
        assert_eq!(f.count("SELECT COUNT(*) FROM core_artifact").await, 0);
        assert!(!f.app.storage().contains(&sha256(&body)).await.unwrap());
    }
}
