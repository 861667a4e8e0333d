//! The staging file: written and hashed in one pass on a blocking thread.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tempfile::NamedTempFile;

use super::store::ExpectedArtifact;
use super::{ChecksumType, Digests, MultiHasher, StorageError};

/// Work is handed to the hasher in pieces of about this size.
const BLOCK: usize = 1024 * 1024;

/// Bodies up to this size are gathered in memory and staged in one blocking call.
const SMALL_BODY: u64 = 256 * 1024;

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

impl StagingPlan {
    /// Refuses data past the expected size or the size limit (checked while it arrives).
    fn check_size(&self, received: u64) -> Result<(), StorageError> {
        if let Some(expected) = self.expected.size {
            if received > expected {
                return Err(StorageError::SizeMismatch {
                    expected,
                    actual: received,
                });
            }
        }
        if let Some(limit) = self.max_size {
            if received > limit {
                return Err(StorageError::TooLarge { limit });
            }
        }
        Ok(())
    }
}

struct StagingWriter {
    file: NamedTempFile,
    hasher: MultiHasher,
    pending: Vec<u8>,
    plan: StagingPlan,
}

impl StagingWriter {
    fn new(plan: StagingPlan) -> Result<Self, StorageError> {
        let file = create_staging_file(&plan.dir)?;
        Ok(Self {
            file,
            hasher: MultiHasher::new(&plan.types),
            pending: Vec::new(),
            plan,
        })
    }

    /// Buffers small chunks into blocks (for streams of small network chunks).
    fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let received = self.hasher.size() + self.pending.len() as u64 + data.len() as u64;
        self.plan.check_size(received)?;
        if self.pending.is_empty() && data.len() >= BLOCK / 4 {
            return self.flush_block(data);
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve(BLOCK);
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
///
/// A small body (up to [`SMALL_BODY`]) is gathered on the async side and written and hashed
/// in one blocking call; a bigger one streams to a blocking writer chunk by chunk. Most
/// artifacts of a sync are small, and the hand-over of every network chunk to another
/// thread cost more than the writing.
pub(crate) async fn stage_stream<S>(plan: StagingPlan, stream: S) -> Result<Staged, StorageError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
{
    stage_stream_then(plan, stream, Ok).await
}

/// Stages everything `stream` yields, then runs `then` on the staged file on the same
/// blocking thread (committing a local artifact there saves a second hand-over per file).
pub(crate) async fn stage_stream_then<S, F, R>(
    plan: StagingPlan,
    mut stream: S,
    then: F,
) -> Result<R, StorageError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    F: FnOnce(Staged) -> Result<R, StorageError> + Send + 'static,
    R: Send + 'static,
{
    let mut gathered: Vec<Bytes> = Vec::new();
    let mut gathered_size = 0u64;
    loop {
        match stream.next().await {
            Some(Ok(chunk)) => {
                gathered_size += chunk.len() as u64;
                plan.check_size(gathered_size)?;
                gathered.push(chunk);
                if gathered_size > SMALL_BODY {
                    return stage_streaming(plan, gathered, stream, then).await;
                }
            }
            Some(Err(e)) => return Err(StorageError::Source(e)),
            None => break,
        }
    }
    join(tokio::task::spawn_blocking(move || {
        let mut writer = StagingWriter::new(plan)?;
        match gathered.as_slice() {
            [] => {}
            [only] => writer.flush_block(only)?,
            chunks => writer.flush_block(&chunks.concat())?,
        }
        then(writer.finish()?)
    }))
    .await
}

/// Stages `first` and then the rest of `stream` through a blocking writer.
async fn stage_streaming<S, F, R>(
    plan: StagingPlan,
    first: Vec<Bytes>,
    mut stream: S,
    then: F,
) -> Result<R, StorageError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    F: FnOnce(Staged) -> Result<R, StorageError> + Send + 'static,
    R: Send + 'static,
{
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    // Set only when the source ended normally: a channel that closes without it means the
    // source failed or the caller stopped waiting, and then nothing is finished (the staging
    // file is dropped, so deleted).
    let source_ended = Arc::new(AtomicBool::new(false));
    let writer_source_ended = source_ended.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut writer = StagingWriter::new(plan)?;
        for chunk in first {
            writer.write(&chunk)?;
        }
        while let Some(chunk) = receiver.blocking_recv() {
            writer.write(&chunk)?;
        }
        if !writer_source_ended.load(Ordering::Acquire) {
            return Err(StorageError::Source(std::io::Error::other(
                "the source stopped before its end",
            )));
        }
        then(writer.finish()?)
    });
    let mut source_error = None;
    loop {
        match stream.next().await {
            Some(Ok(chunk)) => {
                if sender.send(chunk).await.is_err() {
                    break; // the writer stopped with an error: it is reported below
                }
            }
            Some(Err(e)) => {
                source_error = Some(e);
                break;
            }
            None => {
                source_ended.store(true, Ordering::Release);
                break;
            }
        }
    }
    drop(sender);
    let finished = join(writer).await;
    match source_error {
        // The writer saw the failure and dropped (so deleted) its staging file.
        Some(e) => Err(StorageError::Source(e)),
        None => finished,
    }
}

/// A new staging file in `dir`; the directory is made only when it is missing (not probed
/// for every file).
fn create_staging_file(dir: &Path) -> Result<NamedTempFile, StorageError> {
    let create = || tempfile::Builder::new().prefix("staging-").tempfile_in(dir);
    let created = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(StorageError::io(format!(
                "creating staging directory {}",
                dir.display()
            )))?;
            create()
        }
        other => other,
    };
    created.map_err(StorageError::io(format!(
        "creating a staging file in {}",
        dir.display()
    )))
}

/// Stages a copy of a local file.
pub(crate) async fn stage_file(plan: StagingPlan, path: &Path) -> Result<Staged, StorageError> {
    let path = path.to_path_buf();
    join(tokio::task::spawn_blocking(move || {
        let source = std::fs::File::open(&path)
            .map_err(StorageError::io(format!("opening {}", path.display())))?;
        let length = source
            .metadata()
            .map_err(StorageError::io(format!(
                "reading the size of {}",
                path.display()
            )))?
            .len();
        let writer = StagingWriter::new(plan)?;
        if length > BLOCK as u64 && !writer.hasher.is_parallel() {
            stage_file_pipelined(writer, source)
        } else {
            stage_file_sequential(writer, source, length)
        }
    }))
    .await
}

/// Reads, hashes and writes each piece in turn, with a buffer no bigger than the file.
fn stage_file_sequential(
    mut writer: StagingWriter,
    mut source: std::fs::File,
    length: u64,
) -> Result<Staged, StorageError> {
    let mut buffer = vec![0u8; (length as usize).saturating_add(1).min(BLOCK)];
    let mut received = 0u64;
    loop {
        let read = source.read(&mut buffer).map_err(StorageError::Source)?;
        if read == 0 {
            break;
        }
        received += read as u64;
        writer.plan.check_size(received)?;
        writer.flush_block(&buffer[..read])?;
    }
    writer.finish()
}

/// Overlaps the I/O with the hashing: a thread reads and writes block n + 1 while this one
/// hashes block n (for big files whose digests all run on one thread; with two hashing
/// threads a third busy thread on two cores only slows things down).
fn stage_file_pipelined(
    writer: StagingWriter,
    mut source: std::fs::File,
) -> Result<Staged, StorageError> {
    let StagingWriter {
        mut file,
        mut hasher,
        plan,
        ..
    } = writer;
    let (full_sender, full_receiver) = mpsc::sync_channel::<Vec<u8>>(2);
    let (empty_sender, empty_receiver) = mpsc::channel::<Vec<u8>>();
    for _ in 0..3 {
        let _ = empty_sender.send(vec![0u8; BLOCK]);
    }
    let io_plan = plan.clone();
    let (written, size) = std::thread::scope(|scope| {
        let io = scope.spawn(move || -> Result<(NamedTempFile, u64), StorageError> {
            let mut size = 0u64;
            loop {
                let mut buffer = empty_receiver.recv().unwrap_or_else(|_| vec![0u8; BLOCK]);
                buffer.resize(BLOCK, 0);
                let read = source.read(&mut buffer).map_err(StorageError::Source)?;
                if read == 0 {
                    return Ok((file, size));
                }
                buffer.truncate(read);
                size += read as u64;
                io_plan.check_size(size)?;
                file.write_all(&buffer)
                    .map_err(StorageError::io("writing the staging file"))?;
                if full_sender.send(buffer).is_err() {
                    return Ok((file, size));
                }
            }
        });
        for block in full_receiver {
            hasher.update(&block);
            let _ = empty_sender.send(block);
        }
        match io.join() {
            Ok(result) => result,
            Err(_) => Err(StorageError::Io {
                action: "staging".into(),
                source: std::io::Error::other("the staging I/O thread panicked"),
            }),
        }
    })?;
    let digests = hasher.finish();
    plan.expected.verify(size, &digests)?;
    Ok(Staged {
        file: written,
        size,
        digests,
    })
}

async fn join<R>(
    handle: tokio::task::JoinHandle<Result<R, StorageError>>,
) -> Result<R, StorageError> {
    match handle.await {
        Ok(result) => result,
        Err(e) => Err(StorageError::Io {
            action: "staging".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}
