//! Artifact storage on an S3-compatible server (moto's, started by `.ci/run`, whose URL is in
//! `PULP_TEST_S3_ENDPOINT`). Skipped with a message without it, except under CI.

use std::collections::BTreeMap;

use bytes::Bytes;
use pulp_core::storage::{
    AllowedChecksums, ArtifactStorage, ChecksumType, ExpectedArtifact, StorageError,
};
use pulp_core::testing::scratch_dir;
use sha2::Digest;

fn endpoint() -> Option<String> {
    match std::env::var("PULP_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("PULP_TEST_S3_ENDPOINT must be set under CI: storage tests run on S3 too")
        }
        _ => {
            eprintln!("PULP_TEST_S3_ENDPOINT is not set: skipping the S3 storage test");
            None
        }
    }
}

/// A new bucket on the test server, and storage under a prefix in it.
async fn s3_storage(endpoint: &str, working_dir: &std::path::Path) -> ArtifactStorage {
    let bucket = format!("pulp-test-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("S3 server unreachable at {endpoint}: {e}"));
    assert!(
        created.status().is_success(),
        "bucket creation failed: {}",
        created.status()
    );
    let options = BTreeMap::from([
        ("aws_endpoint".to_string(), endpoint.to_string()),
        ("aws_allow_http".to_string(), "true".to_string()),
        ("aws_access_key_id".to_string(), "test".to_string()),
        ("aws_secret_access_key".to_string(), "test".to_string()),
        ("aws_region".to_string(), "us-east-1".to_string()),
    ]);
    ArtifactStorage::open(
        &format!("s3://{bucket}/pulp"),
        &options,
        working_dir,
        AllowedChecksums::pulp_default(),
    )
    .unwrap_or_else(|e| panic!("open S3 storage: {e}"))
}

fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[2] ^ seed)
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_round_trip_through_s3() {
    let Some(endpoint) = endpoint() else { return };
    let work = scratch_dir();
    let storage = s3_storage(&endpoint, work.path()).await;
    assert!(storage.local_root().is_none());

    // Small (one request) and large (multipart) artifacts.
    for len in [1_000usize, 20 * 1024 * 1024 + 5] {
        let payload = data(len, len as u8);
        let sum = hex::encode(sha2::Sha256::digest(&payload));
        let expected = ExpectedArtifact::any()
            .with_size(len as u64)
            .with_digest(ChecksumType::Sha256, sum.clone());
        let stored = storage
            .ingest_bytes(payload.clone(), &expected)
            .await
            .expect("ingest");
        assert!(stored.created);
        assert_eq!(stored.path, format!("artifact/{}/{}", &sum[..2], &sum[2..]));
        assert!(storage.contains(&sum).await.expect("contains"));
        assert_eq!(storage.read_artifact(&sum).await.expect("read"), payload);
        let again = storage
            .ingest_bytes(payload.clone(), &expected)
            .await
            .expect("ingest again");
        assert!(!again.created, "an existing artifact is not written again");
        // The object is under the configured prefix.
        let location = storage.key(&stored.path);
        assert!(
            location.as_ref().starts_with("pulp/artifact/"),
            "{location}"
        );
    }

    // A wrong digest stores nothing and leaves no staging file in the working directory.
    let payload = data(5_000, 1);
    let wrong = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, "0".repeat(64));
    assert!(matches!(
        storage.ingest_bytes(payload.clone(), &wrong).await,
        Err(StorageError::DigestMismatch { .. })
    ));
    let sum = hex::encode(sha2::Sha256::digest(&payload));
    assert!(!storage.contains(&sum).await.expect("contains"));
    let leftovers = std::fs::read_dir(storage.staging_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0);

    // Shared temporary files live in the bucket, usable by another process.
    let temporary = storage
        .save_temporary(futures::stream::iter(vec![Ok(payload.clone())]), None)
        .await
        .expect("save temporary");
    let other_work = scratch_dir();
    let other = ArtifactStorage::open(
        &format!("s3://{}/pulp", storage_bucket(&storage)),
        &BTreeMap::from([
            ("aws_endpoint".to_string(), endpoint.clone()),
            ("aws_allow_http".to_string(), "true".to_string()),
            ("aws_access_key_id".to_string(), "test".to_string()),
            ("aws_secret_access_key".to_string(), "test".to_string()),
            ("aws_region".to_string(), "us-east-1".to_string()),
        ]),
        other_work.path(),
        AllowedChecksums::pulp_default(),
    )
    .expect("second handle");
    let stored = other
        .ingest_temporary(temporary.id, &ExpectedArtifact::any())
        .await
        .expect("ingest temporary");
    assert_eq!(stored.sha256, sum);
    other.delete_temporary(temporary.id).await.expect("delete");
    assert!(matches!(
        storage.read_temporary(temporary.id).await,
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(
        storage.usage().total,
        None,
        "object storage reports no capacity"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_s3_end_with_one_object_and_no_error() {
    let Some(endpoint) = endpoint() else { return };
    let work = scratch_dir();
    let storage = s3_storage(&endpoint, work.path()).await;
    let payload = data(64 * 1024, 3);
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (storage, payload) = (storage.clone(), payload.clone());
            tokio::spawn(async move {
                storage
                    .ingest_bytes(payload, &ExpectedArtifact::any())
                    .await
            })
        })
        .collect();
    let mut sums = Vec::new();
    for writer in writers {
        sums.push(
            writer
                .await
                .expect("join")
                .expect("every writer succeeds")
                .sha256,
        );
    }
    sums.dedup();
    assert_eq!(sums.len(), 1);
    assert_eq!(
        storage.read_artifact(&sums[0]).await.expect("read"),
        payload
    );
}

fn storage_bucket(storage: &ArtifactStorage) -> String {
    // `key("")` is the prefix; the bucket is in the store's Display ("AmazonS3(bucket)").
    let shown = storage.object_store().to_string();
    shown
        .trim_start_matches("AmazonS3(")
        .trim_end_matches(')')
        .to_string()
}
