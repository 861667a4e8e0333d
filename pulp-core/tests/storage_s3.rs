//! Artifact storage on an S3-compatible server (moto's, started by `.ci/run`, whose URL is in
//! `PULP_TEST_S3_ENDPOINT`). Skipped with a message without it, except under CI.

use bytes::Bytes;
use pulp_core::settings::StorageSettings;
use pulp_core::storage::{
    AllowedChecksums, ArtifactStorage, ChecksumType, ExpectedArtifact, NewFileLog, StorageError,
};
use pulp_core::testing::scratch_dir;
use sha2::Digest;

fn endpoint() -> Option<String> {
    pulp_core::testing::s3_endpoint()
}

/// A new bucket on the test server, and storage under a prefix in it.
async fn s3_storage(endpoint: &str, working_dir: &std::path::Path) -> ArtifactStorage {
    open_s3(
        &pulp_core::testing::s3_bucket(endpoint, false).await,
        working_dir,
    )
}

/// A handle on the bucket `settings` name (several handles may share one bucket).
fn open_s3(settings: &StorageSettings, working_dir: &std::path::Path) -> ArtifactStorage {
    ArtifactStorage::open(
        settings.url.as_deref().unwrap_or_default(),
        &settings.options,
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
    let bucket = pulp_core::testing::s3_bucket(&endpoint, false).await;
    let storage = open_s3(&bucket, work.path());
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
    let other = open_s3(&bucket, other_work.path());
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

/// Records, for each new object, whether it was already in the bucket when logged.
struct Log {
    storage: ArtifactStorage,
    logged: std::sync::Mutex<Vec<(String, bool)>>,
}

impl NewFileLog for Log {
    fn place(
        &self,
        sha256: &str,
        place: &mut dyn FnMut() -> Result<bool, StorageError>,
    ) -> Result<bool, StorageError> {
        let there = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(self.storage.contains(sha256))
                .unwrap_or(true)
        });
        let new = place()?;
        self.logged
            .lock()
            .expect("log")
            .push((sha256.to_string(), there));
        Ok(new)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_object_is_logged_before_it_is_uploaded_and_only_then() {
    let Some(endpoint) = endpoint() else { return };
    let work = scratch_dir();
    let storage = s3_storage(&endpoint, work.path()).await;
    let payload = data(5_000, 3);
    let log = std::sync::Arc::new(Log {
        storage: storage.clone(),
        logged: Default::default(),
    });
    let stream = || futures::stream::iter([Ok(payload.clone())]);
    let first = storage
        .ingest_stream_logged(stream(), &ExpectedArtifact::any(), Some(log.clone()))
        .await
        .expect("first write");
    assert!(first.created);
    let sum = hex::encode(sha2::Sha256::digest(&payload));
    assert_eq!(*log.logged.lock().expect("log"), vec![(sum.clone(), false)]);
    assert!(storage.contains(&sum).await.expect("head"));
    let second = storage
        .ingest_stream_logged(stream(), &ExpectedArtifact::any(), Some(log.clone()))
        .await
        .expect("second write");
    assert!(!second.created);
    assert_eq!(log.logged.lock().expect("log").len(), 1);
}

/// A log that runs the uploads it records in `uploads` and says when it recorded one.
struct TrackingLog {
    uploads: tokio_util::task::TaskTracker,
    noted: tokio::sync::Notify,
}

impl NewFileLog for TrackingLog {
    fn place(
        &self,
        _sha256: &str,
        place: &mut dyn FnMut() -> Result<bool, StorageError>,
    ) -> Result<bool, StorageError> {
        let new = place()?;
        self.noted.notify_one();
        Ok(new)
    }

    fn uploads(&self) -> Option<tokio_util::task::TaskTracker> {
        Some(self.uploads.clone())
    }
}

/// The undo of a failed sync must not race an upload: an upload its log tracks runs to its
/// end although the caller stopped waiting for it right after the file was recorded, so
/// once the tracker is waited for the object is there, and once removed it stays removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracked_upload_ends_before_its_object_is_removed() {
    let Some(endpoint) = endpoint() else { return };
    let work = scratch_dir();
    let storage = s3_storage(&endpoint, work.path()).await;
    // Below the single-request limit, large enough to be on the wire for a while.
    let payload = data(6 * 1024 * 1024, 9);
    let sum = hex::encode(sha2::Sha256::digest(&payload));
    let log = std::sync::Arc::new(TrackingLog {
        uploads: tokio_util::task::TaskTracker::new(),
        noted: tokio::sync::Notify::new(),
    });
    let stream = futures::stream::iter([Ok(payload.clone())]);
    let expected = ExpectedArtifact::any();
    let ingest = storage.ingest_stream_logged(stream, &expected, Some(log.clone()));
    tokio::select! {
        biased;
        _ = log.noted.notified() => {}
        result = ingest => panic!("the ingest ended before its file was recorded: {result:?}"),
    }
    // The caller has stopped waiting (the ingest future is dropped); the undo's order:
    log.uploads.close();
    log.uploads.wait().await;
    assert!(
        storage.contains(&sum).await.expect("head"),
        "the recorded upload ran to its end"
    );
    storage.delete_artifact(&sum).await.expect("remove");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !storage.contains(&sum).await.expect("head"),
        "nothing recreates the removed object"
    );
}
