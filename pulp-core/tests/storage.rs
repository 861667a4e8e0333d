//! Artifact storage: verification, atomicity, concurrency, checksum policy, temporary files.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{stream, StreamExt};
use pulp_core::storage::{
    AllowedChecksums, ArtifactStorage, ChecksumType, ExpectedArtifact, NewFileLog, NewFiles,
    StorageError,
};
use pulp_core::testing::scratch_dir;
use sha2::Digest;

fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect::<Vec<u8>>()
        .into()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every regular file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(
                    path.strip_prefix(dir)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    found.sort();
    found
}

fn local(root: &Path) -> ArtifactStorage {
    ArtifactStorage::local(root, AllowedChecksums::pulp_default()).expect("open storage")
}

/// Waits until nothing is left under the staging directory (writers finish on a blocking thread).
async fn assert_staging_empties(storage: &ArtifactStorage) {
    for _ in 0..100 {
        if files_under(storage.staging_dir()).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "staging files left behind: {:?}",
        files_under(storage.staging_dir())
    );
}

#[tokio::test]
async fn artifacts_are_addressed_by_sha256_with_every_allowed_digest() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    let payload = data(3 * 1024 * 1024 + 17, 1);
    let sum = sha256(&payload);
    let expected = ExpectedArtifact::any()
        .with_size(payload.len() as u64)
        .with_digest(ChecksumType::Sha256, sum.to_uppercase());
    let stored = storage
        .ingest_bytes(payload.clone(), &expected)
        .await
        .expect("ingest");
    assert_eq!(stored.sha256, sum);
    assert_eq!(stored.size, payload.len() as u64);
    assert!(stored.created);
    assert_eq!(stored.path, format!("artifact/{}/{}", &sum[..2], &sum[2..]));
    assert_eq!(
        std::fs::read(dir.path().join(&stored.path)).expect("file"),
        payload
    );
    assert_eq!(
        stored.digests.keys().copied().collect::<Vec<_>>(),
        [
            ChecksumType::Sha224,
            ChecksumType::Sha256,
            ChecksumType::Sha384,
            ChecksumType::Sha512
        ]
    );
    assert_eq!(
        stored.digests[&ChecksumType::Sha224],
        hex::encode(sha2::Sha224::digest(&payload))
    );
    assert_eq!(
        stored.digests[&ChecksumType::Sha384],
        hex::encode(sha2::Sha384::digest(&payload))
    );
    assert_eq!(
        stored.digests[&ChecksumType::Sha512],
        hex::encode(sha2::Sha512::digest(&payload))
    );
    assert_eq!(storage.read_artifact(&sum).await.expect("read"), payload);
    assert!(storage.contains(&sum).await.expect("contains"));
    assert_staging_empties(&storage).await;
}

#[tokio::test]
async fn streams_of_odd_chunks_hash_like_one_buffer_with_every_algorithm() {
    let dir = scratch_dir();
    let allowed = AllowedChecksums::new(ChecksumType::ALL);
    let storage = ArtifactStorage::local(dir.path(), allowed).expect("open");
    let payload = data(5 * 1024 * 1024 + 3, 9);
    // Chunks of many sizes, some above the parallel-hashing threshold.
    let mut chunks = Vec::new();
    let mut offset = 0;
    for size in [1usize, 7, 65_536, 300_000, 1_048_576, 2_000_000]
        .iter()
        .cycle()
    {
        if offset >= payload.len() {
            break;
        }
        let end = (offset + size).min(payload.len());
        chunks.push(Ok(payload.slice(offset..end)));
        offset = end;
    }
    let stored = storage
        .ingest_stream(stream::iter(chunks), &ExpectedArtifact::any())
        .await
        .expect("ingest");
    assert_eq!(
        stored.digests[&ChecksumType::Md5],
        hex::encode(md5::Md5::digest(&payload))
    );
    assert_eq!(stored.digests[&ChecksumType::Sha256], sha256(&payload));
    assert_eq!(
        stored.digests[&ChecksumType::Sha512],
        hex::encode(sha2::Sha512::digest(&payload))
    );
    assert_eq!(stored.digests.len(), 6);
}

#[tokio::test]
async fn a_wrong_digest_is_refused_and_nothing_is_left_behind() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    let payload = data(100_000, 2);
    let wrong = sha256(b"something else");
    let expected = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, wrong.clone());
    match storage.ingest_bytes(payload.clone(), &expected).await {
        Err(StorageError::DigestMismatch {
            checksum,
            expected,
            actual,
        }) => {
            assert_eq!(checksum, ChecksumType::Sha256);
            assert_eq!(expected, wrong);
            assert_eq!(actual, sha256(&payload));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    let sha512 = ExpectedArtifact::any().with_digest(ChecksumType::Sha512, "0".repeat(128));
    assert!(matches!(
        storage.ingest_bytes(payload.clone(), &sha512).await,
        Err(StorageError::DigestMismatch {
            checksum: ChecksumType::Sha512,
            ..
        })
    ));
    assert!(!storage.contains(&sha256(&payload)).await.expect("contains"));
    assert_staging_empties(&storage).await;
    assert!(files_under(&dir.path().join("artifact")).is_empty());
}

#[tokio::test]
async fn a_wrong_size_is_refused_and_nothing_is_left_behind() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    let payload = data(10_000, 3);
    for size in [9_999u64, 10_001, 0] {
        match storage
            .ingest_bytes(payload.clone(), &ExpectedArtifact::any().with_size(size))
            .await
        {
            Err(StorageError::SizeMismatch { expected, .. }) => assert_eq!(expected, size),
            other => panic!("size {size}: expected a size mismatch, got {other:?}"),
        }
    }
    assert!(
        files_under(dir.path()).is_empty(),
        "{:?}",
        files_under(dir.path())
    );
}

#[tokio::test]
async fn a_source_that_fails_half_way_leaves_no_artifact() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    let chunks = vec![
        Ok(data(2 * 1024 * 1024, 4)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer reset",
        )),
        Ok(data(10, 4)),
    ];
    match storage
        .ingest_stream(stream::iter(chunks), &ExpectedArtifact::any())
        .await
    {
        Err(StorageError::Source(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("expected a source error, got {other:?}"),
    }
    assert_staging_empties(&storage).await;
    assert!(
        files_under(dir.path()).is_empty(),
        "{:?}",
        files_under(dir.path())
    );
}

#[tokio::test]
async fn a_write_interrupted_half_way_leaves_no_artifact() {
    // A small first chunk (gathered in memory) and a big one (streamed to the writer).
    for first_chunk in [1024, 1024 * 1024] {
        let dir = scratch_dir();
        let storage = local(dir.path());
        // One chunk, then a source that never ends: the write is abandoned by a timeout, as
        // a canceled task abandons it.
        let source = stream::iter(vec![Ok(data(first_chunk, 5))]).chain(stream::pending());
        let anything = ExpectedArtifact::any();
        let write = storage.ingest_stream(Box::pin(source), &anything);
        assert!(tokio::time::timeout(Duration::from_millis(300), write)
            .await
            .is_err());
        assert_staging_empties(&storage).await;
        assert!(
            files_under(dir.path()).is_empty(),
            "first chunk of {first_chunk} bytes: {:?}",
            files_under(dir.path())
        );
    }
}

/// A log like a sync's: records the new files, refuses every file once closed.
#[derive(Default)]
struct Log(Mutex<(Vec<String>, bool)>);

impl NewFileLog for Log {
    fn place(
        &self,
        sha256: &str,
        place: &mut dyn FnMut() -> Result<bool, StorageError>,
    ) -> Result<bool, StorageError> {
        let mut log = self.0.lock().expect("log");
        if log.1 {
            return Err(StorageError::NotWanted("closed".into()));
        }
        let new = place()?;
        if new {
            log.0.push(sha256.to_string());
        }
        Ok(new)
    }
}

#[tokio::test]
async fn new_files_are_logged_once_and_a_closed_log_places_nothing() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    // Small bodies take the in-memory path, big ones the streamed one.
    for (len, chunks) in [(3_000usize, 3usize), (600 * 1024, 6)] {
        let payload = data(len, 9);
        let log = Arc::new(Log::default());
        let logged = || -> Option<NewFiles> { Some(log.clone()) };
        let pieces = |payload: &Bytes| {
            let step = payload.len().div_ceil(chunks);
            stream::iter(
                payload
                    .chunks(step)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect::<Vec<_>>(),
            )
        };
        let first = storage
            .ingest_stream_logged(pieces(&payload), &ExpectedArtifact::any(), logged())
            .await
            .expect("first write");
        assert!(first.created);
        assert_eq!(log.0.lock().expect("log").0, vec![sha256(&payload)]);
        // The same bytes again: stored already, so not logged.
        let second = storage
            .ingest_stream_logged(pieces(&payload), &ExpectedArtifact::any(), logged())
            .await
            .expect("second write");
        assert!(!second.created);
        assert_eq!(log.0.lock().expect("log").0.len(), 1, "{len} bytes");
        // A refused write places nothing and logs nothing.
        let wrong = ExpectedArtifact::any().with_size(len as u64 + 1);
        let refused = storage
            .ingest_stream_logged(pieces(&data(len, 10)), &wrong, logged())
            .await;
        assert!(matches!(refused, Err(StorageError::SizeMismatch { .. })));
        assert_eq!(log.0.lock().expect("log").0.len(), 1, "{len} bytes");
        // Closed: new bytes are refused, and neither an artifact nor a staging file is left.
        log.0.lock().expect("log").1 = true;
        let other = data(len, 11);
        let closed = storage
            .ingest_stream_logged(pieces(&other), &ExpectedArtifact::any(), logged())
            .await;
        assert!(
            matches!(closed, Err(StorageError::NotWanted(_))),
            "{closed:?}"
        );
        assert!(!storage.contains(&sha256(&other)).await.expect("contains"));
        assert_staging_empties(&storage).await;
    }
}

#[tokio::test]
async fn staging_files_of_a_killed_process_are_never_artifacts_and_are_swept() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    // What a process killed mid-write leaves: a staging file, never a file under artifact/.
    std::fs::create_dir_all(storage.staging_dir()).expect("staging dir");
    let leftover = storage.staging_dir().join("staging-killed");
    std::fs::write(&leftover, data(1000, 6)).expect("leftover");
    assert!(!storage
        .contains(&sha256(&data(1000, 6)))
        .await
        .expect("contains"));
    assert_eq!(
        storage.sweep_staging(Duration::from_secs(3600)),
        0,
        "young files are kept"
    );
    assert_eq!(storage.sweep_staging(Duration::ZERO), 1);
    assert!(!leftover.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_of_one_artifact_end_with_one_artifact_and_no_error() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    let payload = data(2 * 1024 * 1024, 7);
    let sum = sha256(&payload);
    let writers: Vec<_> = (0..12)
        .map(|_| {
            let (storage, payload, sum) = (storage.clone(), payload.clone(), sum.clone());
            tokio::spawn(async move {
                let expected = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, sum);
                storage.ingest_bytes(payload, &expected).await
            })
        })
        .collect();
    let mut created = 0;
    for writer in writers {
        let stored = writer.await.expect("join").expect("every writer succeeds");
        assert_eq!(stored.sha256, sum);
        created += usize::from(stored.created);
    }
    assert_eq!(created, 1, "exactly one writer creates the artifact");
    assert_eq!(
        files_under(&dir.path().join("artifact")),
        [format!("{}/{}", &sum[..2], &sum[2..])]
    );
    assert_eq!(storage.read_artifact(&sum).await.expect("read"), payload);
    assert_staging_empties(&storage).await;
}

#[tokio::test]
async fn disallowed_checksums_are_refused_clearly() {
    let dir = scratch_dir();
    let sha256_only = AllowedChecksums::new([ChecksumType::Sha256]);
    let storage = ArtifactStorage::local(dir.path(), sha256_only.clone()).expect("open");
    let expected = ExpectedArtifact::any().with_digest(ChecksumType::Md5, "0".repeat(32));
    match storage.ingest_bytes(data(10, 8), &expected).await {
        Err(e @ StorageError::DisallowedChecksum { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("md5") && message.contains("ALLOWED_CONTENT_CHECKSUMS"),
                "{message}"
            );
        }
        other => panic!("expected a disallowed-checksum error, got {other:?}"),
    }
    assert!(files_under(dir.path()).is_empty());
    // Pulp's pulp_hashlib.new: known but disallowed, and unknown, are both errors.
    assert!(matches!(
        sha256_only.new_hasher("md5"),
        Err(StorageError::DisallowedChecksum { .. })
    ));
    assert!(matches!(
        sha256_only.new_hasher("sha999"),
        Err(StorageError::UnknownChecksum(_))
    ));
    assert!(sha256_only.new_hasher("sha256").is_ok());
    assert!(AllowedChecksums::pulp_default().new_hasher("sha1").is_err());
    assert!(AllowedChecksums::pulp_default()
        .new_hasher("SHA512")
        .is_ok());
    // Malformed digests are refused before anything is written.
    let malformed = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, "../../etc/passwd");
    assert!(matches!(
        storage.ingest_bytes(data(10, 8), &malformed).await,
        Err(StorageError::InvalidDigest { .. })
    ));
}

#[tokio::test]
async fn artifact_keys_cannot_escape_the_storage() {
    for bad in [
        "../../../../etc/passwd",
        "",
        "abc",
        &"g".repeat(64),
        &"A".repeat(64),
    ] {
        assert!(
            ArtifactStorage::artifact_key(bad).is_err(),
            "{bad:?} accepted"
        );
    }
    let dir = scratch_dir();
    let storage = local(dir.path());
    assert!(storage.read_artifact("../x").await.is_err());
    assert!(storage.delete_artifact("/etc/passwd").await.is_err());
}

#[tokio::test]
async fn temporary_files_written_by_one_process_are_usable_by_another() {
    let shared = scratch_dir();
    let uploader = local(shared.path());
    let payload = data(300_000, 10);
    let temporary = uploader
        .save_temporary(
            stream::iter(vec![Ok(payload.slice(..1000)), Ok(payload.slice(1000..))]),
            None,
        )
        .await
        .expect("save");
    assert_eq!(temporary.size, payload.len() as u64);
    assert_eq!(temporary.sha256, sha256(&payload));
    assert_eq!(temporary.path, format!("tmp/{}", temporary.id));

    // Another process (another handle, its own staging area) on the same storage.
    let worker = local(shared.path());
    assert_eq!(
        worker.read_temporary(temporary.id).await.expect("read"),
        payload
    );
    let expected = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, sha256(&payload));
    let stored = worker
        .ingest_temporary(temporary.id, &expected)
        .await
        .expect("ingest");
    assert_eq!(stored.sha256, sha256(&payload));
    worker.delete_temporary(temporary.id).await.expect("delete");
    assert!(matches!(
        worker.read_temporary(temporary.id).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        worker
            .ingest_temporary(temporary.id, &ExpectedArtifact::any())
            .await,
        Err(StorageError::NotFound(_))
    ));
}

#[tokio::test]
async fn oversize_temporary_files_are_refused_and_nothing_is_kept() {
    let dir = scratch_dir();
    let storage = local(dir.path());
    let result = storage
        .save_temporary(
            stream::iter(vec![Ok(data(600, 11)), Ok(data(600, 12))]),
            Some(1000),
        )
        .await;
    assert!(
        matches!(result, Err(StorageError::TooLarge { limit: 1000 })),
        "{result:?}"
    );
    assert_staging_empties(&storage).await;
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn local_storage_reports_its_space() {
    let dir = scratch_dir();
    let usage = local(dir.path()).usage();
    let (total, used, free) = (
        usage.total.expect("total"),
        usage.used.expect("used"),
        usage.free.expect("free"),
    );
    assert!(total > 0 && free <= total && used <= total, "{usage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_are_ingested_on_both_paths_with_the_same_guarantees() {
    let source_dir = scratch_dir();
    for (allowed, label) in [
        (
            AllowedChecksums::new([ChecksumType::Sha256]),
            "sha256 only: big files overlap I/O and hashing",
        ),
        (
            AllowedChecksums::pulp_default(),
            "four digests: one read-hash-write loop",
        ),
    ] {
        for len in [0usize, 65_536, 3 * 1024 * 1024 + 5] {
            let dir = scratch_dir();
            let storage = ArtifactStorage::local(dir.path(), allowed.clone()).expect("open");
            let payload = data(len, 13);
            let path = source_dir.path().join(format!("source-{len}"));
            std::fs::write(&path, &payload).expect("source");
            let expected = ExpectedArtifact::any()
                .with_size(len as u64)
                .with_digest(ChecksumType::Sha256, sha256(&payload));
            let stored = storage
                .ingest_file(&path, &expected)
                .await
                .unwrap_or_else(|e| panic!("{label}, {len} bytes: {e}"));
            assert_eq!(stored.size, len as u64, "{label}");
            assert_eq!(
                storage.read_artifact(&stored.sha256).await.expect("read"),
                payload,
                "{label}"
            );
            if allowed.allows(ChecksumType::Sha512) {
                assert_eq!(
                    stored.digests[&ChecksumType::Sha512],
                    hex::encode(sha2::Sha512::digest(&payload))
                );
            }
            // Too short an expectation stops the copy early; nothing is kept.
            if len > 0 {
                let short = ExpectedArtifact::any().with_size(len as u64 - 1);
                let refused = ArtifactStorage::local(&dir.path().join("other"), allowed.clone())
                    .expect("open");
                assert!(
                    matches!(
                        refused.ingest_file(&path, &short).await,
                        Err(StorageError::SizeMismatch { .. })
                    ),
                    "{label}, {len} bytes"
                );
                assert!(
                    files_under(&dir.path().join("other")).is_empty(),
                    "{label}, {len} bytes: left behind"
                );
            }
            let wrong = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, "f".repeat(64));
            let other =
                ArtifactStorage::local(&dir.path().join("wrong"), allowed.clone()).expect("open");
            assert!(matches!(
                other.ingest_file(&path, &wrong).await,
                Err(StorageError::DigestMismatch { .. })
            ));
            assert!(files_under(&dir.path().join("wrong")).is_empty());
        }
    }
    let missing = local(scratch_dir().path())
        .ingest_file(Path::new("/nonexistent/file"), &ExpectedArtifact::any())
        .await;
    assert!(
        matches!(missing, Err(StorageError::Io { .. })),
        "{missing:?}"
    );
}
