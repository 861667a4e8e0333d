//! The staging file: written and hashed in one pass on a blocking thread.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tempfile::NamedTempFile;

use super::store::ExpectedArtifact;
use super::{ChecksumType, Digests, MultiHasher, StorageError};

/// Work is handed to the hasher in pieces of about this size.
const BLOCK: usize = 1024 * 1024;

/// A fully written, hashed and verified staging file (deleted when dropped).
pub(crate) struct Staged {
    pub(crate) file: NamedTempFile,
    pub(crate) size: u64,
    pub(crate) digests: Digests,
}

/// Limits checked while writing.
#[derive(Clone, Debug)]
pub(crate) struct StagingPlan {
    pub(crate) dir: PathBuf,
    pub(crate) types: Vec<ChecksumType>,
    pub(crate) expected: ExpectedArtifact,
    pub(crate) max_size: Option<u64>,
}

struct StagingWriter {
    file: NamedTempFile,
    hasher: MultiHasher,
    pending: Vec<u8>,
    plan: StagingPlan,
}

impl StagingWriter {
    fn new(plan: StagingPlan) -> Result<Self, StorageError> {
        std::fs::create_dir_all(&plan.dir).map_err(StorageError::io(format!(
            "creating staging directory {}",
            plan.dir.display()
        )))?;
        let file = tempfile::Builder::new()
            .prefix("staging-")
            .tempfile_in(&plan.dir)
            .map_err(StorageError::io(format!(
                "creating a staging file in {}",
                plan.dir.display()
            )))?;
        Ok(Self {
            file,
            hasher: MultiHasher::new(&plan.types),
            pending: Vec::with_capacity(BLOCK),
            plan,
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let received = self.hasher.size() + self.pending.len() as u64 + data.len() as u64;
        if let Some(expected) = self.plan.expected.size {
            if received > expected {
                return Err(StorageError::SizeMismatch {
                    expected,
                    actual: received,
                });
            }
        }
        if let Some(limit) = self.plan.max_size {
            if received > limit {
                return Err(StorageError::TooLarge { limit });
            }
        }
        if self.pending.is_empty() && data.len() >= BLOCK / 4 {
            return self.flush_block(data);
        }
        self.pending.extend_from_slice(data);
        if self.pending.len() >= BLOCK {
            let block = std::mem::take(&mut self.pending);
            self.flush_block(&block)?;
            self.pending = block;
            self.pending.clear();
        }
        Ok(())
    }

    fn flush_block(&mut self, block: &[u8]) -> Result<(), StorageError> {
        self.hasher.update(block);
        self.file
            .write_all(block)
            .map_err(StorageError::io("writing the staging file"))
    }

    fn finish(mut self) -> Result<Staged, StorageError> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.flush_block(&rest)?;
        }
        let size = self.hasher.size();
        let digests = self.hasher.finish();
        self.plan.expected.verify(size, &digests)?;
        Ok(Staged {
            file: self.file,
            size,
            digests,
        })
    }
}

/// Stages everything `stream` yields.
pub(crate) async fn stage_stream<S>(
    plan: StagingPlan,
    mut stream: S,
) -> Result<Staged, StorageError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
{
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    let writer = tokio::task::spawn_blocking(move || {
        let mut writer = StagingWriter::new(plan)?;
        while let Some(chunk) = receiver.blocking_recv() {
            writer.write(&chunk)?;
        }
        writer.finish()
    });
    let mut source_error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                if sender.send(chunk).await.is_err() {
                    break; // the writer stopped with an error: it is reported below
                }
            }
            Err(e) => {
                source_error = Some(e);
                break;
            }
        }
    }
    drop(sender);
    let staged = join(writer).await;
    match source_error {
        // The staging file (if any) is dropped, and so deleted, with `staged`.
        Some(e) => Err(StorageError::Source(e)),
        None => staged,
    }
}

/// Stages a copy of a local file.
pub(crate) async fn stage_file(plan: StagingPlan, path: &Path) -> Result<Staged, StorageError> {
    let path = path.to_path_buf();
    join(tokio::task::spawn_blocking(move || {
        let mut source = std::fs::File::open(&path)
            .map_err(StorageError::io(format!("opening {}", path.display())))?;
        let mut writer = StagingWriter::new(plan)?;
        let mut buffer = vec![0u8; BLOCK];
        loop {
            let read = source.read(&mut buffer).map_err(StorageError::Source)?;
            if read == 0 {
                break;
            }
            writer.write(&buffer[..read])?;
        }
        writer.finish()
    }))
    .await
}

async fn join(
    handle: tokio::task::JoinHandle<Result<Staged, StorageError>>,
) -> Result<Staged, StorageError> {
    match handle.await {
        Ok(result) => result,
        Err(e) => Err(StorageError::Io {
            action: "staging".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}
