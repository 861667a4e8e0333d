//! The downloader against a real HTTP server on loopback.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pulp_core::download::{DownloadError, Downloader};
use pulp_core::models::RemoteFields;
use pulp_core::storage::{ChecksumType, ExpectedArtifact};
use pulp_core::testing::http::{Reply, TestServer};
use sha2::Digest;

fn sha256(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

fn remote(server: &TestServer) -> RemoteFields {
    RemoteFields::new("r", server.url("/"))
}

fn expected(data: &[u8]) -> ExpectedArtifact {
    ExpectedArtifact::any()
        .with_size(data.len() as u64)
        .with_digest(ChecksumType::Sha256, sha256(data))
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn fetch_validates_and_keeps_the_file() {
    let server = TestServer::start().await;
    let data = Bytes::from_static(b"hello world\n");
    server.set("/a.txt", Reply::Ok(data.clone()));
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::for_remote(&remote(&server)).unwrap();
    let file = d
        .fetch(&server.url("/a.txt"), &expected(&data), dir.path())
        .await
        .unwrap();
    assert_eq!(file.size, data.len() as u64);
    assert_eq!(file.sha256(), sha256(&data));
    assert_eq!(std::fs::read(&file.path).unwrap(), data.to_vec());
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::for_remote(&remote(&server)).unwrap();
    let err = d
        .fetch(
            &server.url("/missing"),
            &ExpectedArtifact::any(),
            dir.path(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::NotFound { status: 404, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("/missing"), "{err}");
    assert_eq!(server.hits("/missing"), 1);
    assert_eq!(files_in(dir.path()), 0);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let server = TestServer::start().await;
    let data = Bytes::from_static(b"eventually");
    server.push("/f", Reply::Status(500));
    server.push("/f", Reply::Status(429));
    server.set("/f", Reply::Ok(data.clone()));
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::for_remote(&remote(&server)).unwrap();
    let file = d
        .fetch(&server.url("/f"), &expected(&data), dir.path())
        .await
        .unwrap();
    assert_eq!(file.size, 10);
    assert_eq!(server.hits("/f"), 3);
}

#[tokio::test]
async fn retries_end_with_the_last_error() {
    let server = TestServer::start().await;
    server.set("/f", Reply::Status(503));
    let mut r = remote(&server);
    r.max_retries = Some(1);
    let d = Downloader::for_remote(&r).unwrap();
    let err = d.open(&server.url("/f")).await.unwrap_err();
    assert!(
        matches!(err, DownloadError::Http { status: 503, .. }),
        "{err}"
    );
    assert_eq!(server.hits("/f"), 2);
}

#[tokio::test]
async fn wrong_digest_and_size_leave_no_file() {
    let server = TestServer::start().await;
    let data = Bytes::from_static(b"actual bytes");
    server.set("/f", Reply::Ok(data.clone()));
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::for_remote(&remote(&server)).unwrap();
    let wrong = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, sha256(b"other"));
    let err = d
        .fetch(&server.url("/f"), &wrong, dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::DigestMismatch { .. }), "{err}");
    let short = ExpectedArtifact::any().with_size(5);
    let err = d
        .fetch(&server.url("/f"), &short, dir.path())
        .await
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::SizeMismatch { expected: 5, .. }),
        "{err}"
    );
    assert_eq!(files_in(dir.path()), 0);
    // A body that does not match is fetched again within max_retries, as pulpcore does.
    let attempts = 1 + d.max_retries() as usize;
    assert_eq!(server.hits("/f"), 2 * attempts, "each mismatch retried");
}

#[tokio::test]
async fn truncated_body_and_reset_fail_after_retries() {
    let server = TestServer::start().await;
    let body = Bytes::from_static(b"partial");
    server.set(
        "/t",
        Reply::Truncated {
            declared: 100,
            body: body.clone(),
        },
    );
    server.set(
        "/r",
        Reply::Reset {
            declared: 100,
            body,
        },
    );
    let mut r = remote(&server);
    r.max_retries = Some(1);
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::for_remote(&r).unwrap();
    for path in ["/t", "/r"] {
        let err = d
            .fetch(&server.url(path), &ExpectedArtifact::any(), dir.path())
            .await
            .unwrap_err();
        assert!(
            matches!(err, DownloadError::Connection { .. }),
            "{path}: {err}"
        );
        assert_eq!(server.hits(path), 2, "{path} retried once");
    }
    assert_eq!(files_in(dir.path()), 0);
}

#[tokio::test]
async fn stalled_server_times_out() {
    let server = TestServer::start().await;
    server.set(
        "/s",
        Reply::Stall {
            declared: 100,
            body: Bytes::from_static(b"x"),
        },
    );
    let mut r = remote(&server);
    r.sock_read_timeout = Some(0.3);
    r.max_retries = Some(0);
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::for_remote(&r).unwrap();
    let started = Instant::now();
    let err = d
        .fetch(&server.url("/s"), &ExpectedArtifact::any(), dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(files_in(dir.path()), 0);
}

#[tokio::test]
async fn basic_auth_and_headers_are_sent() {
    let server = TestServer::start().await;
    server.set("/f", Reply::Ok(Bytes::from_static(b"x")));
    let mut r = remote(&server);
    r.username = Some("alice".into());
    r.password = Some("secret".into());
    r.headers = vec![serde_json::json!({"X-Extra": "yes"})];
    let d = Downloader::for_remote(&r).unwrap();
    let response = d.open(&server.url("/f")).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length, Some(1));
    let headers = server.last_headers("/f");
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        get("authorization").as_deref(),
        Some("Basic YWxpY2U6c2VjcmV0")
    );
    assert_eq!(get("x-extra").as_deref(), Some("yes"));
}

#[tokio::test]
async fn stream_yields_the_body() {
    use futures::StreamExt;
    let server = TestServer::start().await;
    let data = Bytes::from(vec![7u8; 200_000]);
    server.set("/big", Reply::Ok(data.clone()));
    let d = Downloader::for_remote(&remote(&server)).unwrap();
    let mut stream = d.open(&server.url("/big")).await.unwrap().into_stream();
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, data.to_vec());
}

#[tokio::test]
async fn rate_limit_spaces_requests() {
    let server = TestServer::start().await;
    server.set("/f", Reply::Ok(Bytes::from_static(b"x")));
    let mut r = remote(&server);
    r.rate_limit = Some(10);
    let d = Downloader::for_remote(&r).unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        drop(d.open(&server.url("/f")).await.unwrap());
    }
    assert!(
        started.elapsed() >= Duration::from_millis(380),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn invalid_remote_settings_are_refused() {
    let mut r = RemoteFields::new("r", "http://127.0.0.1/");
    r.ca_cert = Some("not a certificate".into());
    let _ = Downloader::for_remote(&r); // an empty bundle may be accepted; must not panic
    let mut r = RemoteFields::new("r", "http://127.0.0.1/");
    r.client_cert = Some("x".into());
    assert!(matches!(
        Downloader::for_remote(&r),
        Err(DownloadError::InvalidRemote(_))
    ));
    let mut r = RemoteFields::new("r", "http://127.0.0.1/");
    r.headers = vec![serde_json::json!("nope")];
    assert!(matches!(
        Downloader::for_remote(&r),
        Err(DownloadError::InvalidRemote(_))
    ));
}

#[tokio::test]
async fn fetch_artifact_stores_in_one_pass_and_retries_a_broken_body() {
    let server = TestServer::start().await;
    let data = Bytes::from(vec![42u8; 100_000]);
    server.push(
        "/a",
        Reply::Truncated {
            declared: 100_000,
            body: data.slice(..10),
        },
    );
    server.set("/a", Reply::Ok(data.clone()));
    server.set("/bad", Reply::Ok(Bytes::from_static(b"not it")));
    let root = tempfile::tempdir().unwrap();
    let storage = pulp_core::storage::ArtifactStorage::local(
        root.path(),
        pulp_core::storage::AllowedChecksums::pulp_default(),
    )
    .unwrap();
    let d = Downloader::for_remote(&remote(&server)).unwrap();
    let stored = d
        .fetch_artifact(&server.url("/a"), &expected(&data), &storage)
        .await
        .unwrap();
    assert_eq!(stored.sha256, sha256(&data));
    assert!(stored.digests.contains_key(&ChecksumType::Sha512));
    assert_eq!(storage.read_artifact(&stored.sha256).await.unwrap(), data);
    assert_eq!(server.hits("/a"), 2);
    let err = d
        .fetch_artifact(&server.url("/bad"), &expected(b"something else"), &storage)
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::SizeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("/bad"), "{err}");
    let wrong = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, sha256(b"x"));
    let err = d
        .fetch_artifact(&server.url("/bad"), &wrong, &storage)
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::DigestMismatch { .. }), "{err}");
    assert!(!storage.contains(&sha256(b"not it")).await.unwrap());
}

#[tokio::test]
async fn requests_go_through_the_proxy_with_its_credentials() {
    let proxy = TestServer::start().await;
    proxy.set("/f", Reply::Ok(Bytes::from_static(b"via proxy")));
    let mut r = RemoteFields::new("r", "http://origin.invalid/");
    r.proxy_url = Some(proxy.url("/"));
    r.proxy_username = Some("px".into());
    r.proxy_password = Some("secret".into());
    let d = Downloader::for_remote(&r).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = d
        .fetch(
            "http://origin.invalid/f",
            &ExpectedArtifact::any(),
            dir.path(),
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(&file.path).unwrap(), b"via proxy");
    let headers = proxy.last_headers("/f");
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        get("proxy-authorization").as_deref(),
        Some("Basic cHg6c2VjcmV0")
    );
    assert_eq!(get("host").as_deref(), Some("origin.invalid"));
}
