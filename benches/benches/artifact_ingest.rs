//! Artifact ingest throughput: hash (every allowed checksum, one pass) + verify (size and
//! expected digests) + store (staging file, then link into `artifact/ab/cdef…`) of 1 GiB,
//! once as one file and once as 16,384 files of 64 KiB.
//!
//! Each configuration runs with the allowed checksums `sha256` only and with Pulp's default
//! (`sha224`, `sha256`, `sha384`, `sha512`). The 64 KiB files are also ingested two at a time
//! on the tokio runtime. Every timed iteration ingests into a fresh, empty storage directory
//! (otherwise the artifacts would already exist and the commit be skipped); creating and
//! removing that directory is not timed. Reference points measured in the same run: sha256
//! of the same data in this process (`sha2` crate, single core), and a plain copy (read +
//! write, no hashing) of the same data.
//!
//! Run: `cargo bench -p pulp-benches --bench artifact_ingest` (or
//! `benches/ingest-vs-sha256sum.sh`, which also times `sha256sum` on the same data and prints
//! the ratios). Environment:
//! - `PULP_INGEST_DATA=DIR`: use the data set in DIR (`one.bin` and `small/00000` …
//!   `small/16383`, the 64 KiB slices of `one.bin`, as `split -b 65536 -a 5 -d` makes them);
//!   missing files are generated there. Without it the data set is generated in a temporary
//!   directory and removed at the end.
//! - `PULP_INGEST_STORAGE=DIR`: where the fresh storage directories are made (default: the
//!   system temporary directory).
//! - `PULP_INGEST_MIB=N`: ingest N MiB instead of 1024 (for a quick try). Without `--bench`
//!   (as under `cargo test --benches`) the default is 4 MiB.
//! - `PULP_INGEST_SMALL_BATCH=N`: 64 KiB files per timed iteration (default 2,048, i.e. 128
//!   MiB; the iterations take the slices of the data set in turn).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use criterion::{measurement::WallTime, Throughput};
use futures::{StreamExt, TryStreamExt};
use pulp_core::storage::{AllowedChecksums, ArtifactStorage, ChecksumType, ExpectedArtifact};
use sha2::Digest;
use tempfile::TempDir;

/// Size of each small file.
const SMALL: usize = 64 * 1024;
/// Read buffer of the reference loops (the staging code reads 1 MiB at a time too).
const BUFFER: usize = 1024 * 1024;

/// One input file and every digest the allowed sets may ask for.
struct Input {
    path: PathBuf,
    size: u64,
    digests: Vec<(ChecksumType, String)>,
}

impl Input {
    fn digest(&self, kind: ChecksumType) -> Option<&String> {
        self.digests
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| d)
    }

    /// What the caller expects: the size and every digest of the allowed set.
    fn expected(&self, allowed: &AllowedChecksums) -> ExpectedArtifact {
        self.digests
            .iter()
            .filter(|(kind, _)| allowed.allows(*kind))
            .fold(
                ExpectedArtifact::any().with_size(self.size),
                |expected, (kind, hex)| expected.with_digest(*kind, hex.clone()),
            )
    }
}

/// The data set: 1 GiB as one file and as its 64 KiB slices.
struct DataSet {
    _temporary: Option<TempDir>,
    one: Input,
    small: Vec<Input>,
    storage_parent: PathBuf,
}

/// Deterministic, incompressible-looking bytes (xorshift64*).
fn fill(buffer: &mut [u8], state: &mut u64) {
    for chunk in buffer.chunks_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let word = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// Digests of one file: sha224, sha256, sha384 and sha512 (the `sha2` crate, not pulp-core).
fn digests_of(path: &Path) -> Vec<(ChecksumType, String)> {
    let mut file = File::open(path).expect("opening a data file");
    let (mut s224, mut s256) = (sha2::Sha224::new(), sha2::Sha256::new());
    let (mut s384, mut s512) = (sha2::Sha384::new(), sha2::Sha512::new());
    let mut buffer = vec![0u8; BUFFER];
    loop {
        let read = file.read(&mut buffer).expect("reading a data file");
        if read == 0 {
            break;
        }
        let data = &buffer[..read];
        s224.update(data);
        s256.update(data);
        s384.update(data);
        s512.update(data);
    }
    vec![
        (ChecksumType::Sha224, hex::encode(s224.finalize())),
        (ChecksumType::Sha256, hex::encode(s256.finalize())),
        (ChecksumType::Sha384, hex::encode(s384.finalize())),
        (ChecksumType::Sha512, hex::encode(s512.finalize())),
    ]
}

fn data_set() -> DataSet {
    let mib: u64 = std::env::var("PULP_INGEST_MIB")
        .ok()
        .map(|v| v.parse().expect("PULP_INGEST_MIB must be a number of MiB"))
        // `cargo bench` passes `--bench`; without it (`cargo test --benches`, which runs each
        // benchmark once as a test) a small data set keeps the run short.
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            1024
        } else {
            4
        });
    assert!(mib > 0, "PULP_INGEST_MIB must be positive");
    let total = mib * 1024 * 1024;
    let (temporary, dir) = match std::env::var_os("PULP_INGEST_DATA") {
        Some(dir) => (None, PathBuf::from(dir)),
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("pulp-ingest-data-")
                .tempdir()
                .expect("creating the data directory");
            let dir = temporary.path().to_path_buf();
            (Some(temporary), dir)
        }
    };
    let storage_parent = std::env::var_os("PULP_INGEST_STORAGE")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(dir.join("small")).expect("creating the data directory");
    std::fs::create_dir_all(&storage_parent).expect("creating the storage parent");

    // One file of `total` bytes, then its 64 KiB slices as the small files (the same bytes).
    let one = dir.join("one.bin");
    if std::fs::metadata(&one).map(|m| m.len()).ok() != Some(total) {
        let mut file = std::io::BufWriter::new(File::create(&one).expect("creating one.bin"));
        let (mut state, mut buffer) = (0x9E37_79B9_7F4A_7C15_u64, vec![0u8; BUFFER]);
        let mut left = total;
        while left > 0 {
            let n = left.min(BUFFER as u64) as usize;
            fill(&mut buffer[..n], &mut state);
            file.write_all(&buffer[..n]).expect("writing one.bin");
            left -= n as u64;
        }
        file.flush().expect("writing one.bin");
    }
    let count = total.div_ceil(SMALL as u64) as usize;
    let small_paths: Vec<PathBuf> = (0..count)
        .map(|i| dir.join("small").join(format!("{i:05}")))
        .collect();
    let expected_small_size = |i: usize| (total - (i * SMALL) as u64).min(SMALL as u64);
    let complete = small_paths.iter().enumerate().all(|(i, path)| {
        std::fs::metadata(path).map(|m| m.len()).ok() == Some(expected_small_size(i))
    });
    if !complete {
        let mut source = File::open(&one).expect("opening one.bin");
        let mut buffer = vec![0u8; SMALL];
        for (i, path) in small_paths.iter().enumerate() {
            let n = expected_small_size(i) as usize;
            source
                .read_exact(&mut buffer[..n])
                .expect("reading one.bin");
            std::fs::write(path, &buffer[..n]).expect("writing a small file");
        }
    }

    // Expected digests, on both cores (the one file on a helper thread).
    let (one_digests, small) = std::thread::scope(|scope| {
        let one_digests = scope.spawn(|| digests_of(&one));
        let small: Vec<Input> = small_paths
            .into_iter()
            .enumerate()
            .map(|(i, path)| Input {
                digests: digests_of(&path),
                size: expected_small_size(i),
                path,
            })
            .collect();
        (one_digests.join().expect("hashing one.bin"), small)
    });
    DataSet {
        _temporary: temporary,
        one: Input {
            path: one,
            size: total,
            digests: one_digests,
        },
        small,
        storage_parent,
    }
}

/// The two allowed-checksum sets compared.
fn allowed_sets() -> [(&'static str, AllowedChecksums); 2] {
    [
        ("sha256", AllowedChecksums::new([ChecksumType::Sha256])),
        ("default4", AllowedChecksums::pulp_default()),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

/// Where the iterations' storage directories are made, and what becomes of them.
///
/// ext4 skips inodes freed in the last ~30 s when it allocates new ones, and that search
/// dominates file creation after thousands of files were just deleted: deleting each
/// iteration's 64 KiB files before the next iteration would measure that, not the ingest.
/// So directories of many files are kept until the group ends (like a real storage, which
/// grows), while a directory of one big file is deleted at once (it frees two inodes).
/// Either way, `sync` runs after each iteration, untimed, so that the next iteration does not
/// pay for the previous one's write-back.
struct Scratch {
    parent: PathBuf,
    keep: bool,
    kept: RefCell<Vec<TempDir>>,
}

impl Scratch {
    fn new(parent: &Path, keep: bool) -> Self {
        Self {
            parent: parent.to_path_buf(),
            keep,
            kept: RefCell::new(Vec::new()),
        }
    }

    /// A fresh, empty directory for one iteration.
    fn fresh(&self) -> TempDir {
        tempfile::Builder::new()
            .prefix("pulp-ingest-bench-")
            .tempdir_in(&self.parent)
            .expect("creating a storage directory")
    }

    /// The iteration using `dir` is over (untimed).
    fn done(&self, dir: TempDir) {
        if self.keep {
            self.kept.borrow_mut().push(dir);
        } else {
            dir.close().expect("removing a storage directory");
        }
        let _ = std::process::Command::new("sync").status();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Deleted and synced now, so that a next run finds the freed inodes settled.
        let kept = self.kept.get_mut();
        if !kept.is_empty() {
            kept.clear();
            let _ = std::process::Command::new("sync").status();
        }
    }
}

/// The inputs of a benchmark, in slices: each timed iteration takes the next slice.
struct Batches<'a> {
    slices: Vec<Vec<&'a Input>>,
    next: Cell<usize>,
}

impl<'a> Batches<'a> {
    /// `inputs` in slices of `batch` (all of them in one slice when `batch` does not divide
    /// their number).
    fn new(inputs: &'a [Input], batch: usize) -> Self {
        let batch = if batch > 0 && inputs.chunks_exact(batch).remainder().is_empty() {
            batch
        } else {
            inputs.len()
        };
        Self {
            slices: inputs.chunks(batch).map(|c| c.iter().collect()).collect(),
            next: Cell::new(0),
        }
    }

    /// Bytes of one slice (the slices are the same size).
    fn bytes(&self) -> u64 {
        self.slices[0].iter().map(|input| input.size).sum()
    }

    fn take(&self) -> &[&'a Input] {
        let index = self.next.get();
        self.next.set((index + 1) % self.slices.len());
        &self.slices[index]
    }
}

/// Times `iters` ingests of a slice each into a fresh storage, `concurrency` files at a time.
fn time_ingest(
    runtime: &tokio::runtime::Runtime,
    scratch: &Scratch,
    allowed: &AllowedChecksums,
    batches: &Batches<'_>,
    concurrency: usize,
    iters: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let inputs: Vec<(&Input, ExpectedArtifact)> = batches
            .take()
            .iter()
            .map(|input| (*input, input.expected(allowed)))
            .collect();
        let root = scratch.fresh();
        let storage =
            ArtifactStorage::local(root.path(), allowed.clone()).expect("opening the storage");
        let start = Instant::now();
        runtime
            .block_on(
                futures::stream::iter(&inputs)
                    .map(|(input, expected)| storage.ingest_file(&input.path, expected))
                    .buffer_unordered(concurrency)
                    .try_for_each(|stored| async move {
                        assert!(stored.created, "the storage was not empty");
                        Ok(())
                    }),
            )
            .expect("ingest failed");
        total += start.elapsed();
        drop(storage);
        scratch.done(root);
    }
    total
}

/// Reference: sha256 of each file of a slice in this process (one core), reading 1 MiB at a
/// time.
fn time_sha256(batches: &Batches<'_>, iters: u64) -> Duration {
    let mut buffer = vec![0u8; BUFFER];
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let inputs = batches.take();
        let start = Instant::now();
        for input in inputs {
            let mut file = File::open(&input.path).expect("opening a data file");
            let mut hasher = sha2::Sha256::new();
            loop {
                let read = file.read(&mut buffer).expect("reading a data file");
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
            }
            let hex = hex::encode(hasher.finalize());
            assert_eq!(Some(&hex), input.digest(ChecksumType::Sha256));
        }
        total += start.elapsed();
    }
    total
}

/// Reference: a plain copy of each file of a slice into a fresh directory (read 1 MiB at a
/// time, write), no hashing.
fn time_copy(scratch: &Scratch, batches: &Batches<'_>, iters: u64) -> Duration {
    let mut buffer = vec![0u8; BUFFER];
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let inputs = batches.take();
        let root = scratch.fresh();
        let start = Instant::now();
        for (i, input) in inputs.iter().enumerate() {
            let mut source = File::open(&input.path).expect("opening a data file");
            let mut target = File::create(root.path().join(i.to_string())).expect("creating");
            loop {
                let read = source.read(&mut buffer).expect("reading a data file");
                if read == 0 {
                    break;
                }
                target.write_all(&buffer[..read]).expect("writing a copy");
            }
        }
        total += start.elapsed();
        scratch.done(root);
    }
    total
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, bytes: u64) {
    // One iteration takes a second or more: 10 samples of one iteration each.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Bytes(bytes));
}

fn artifact_ingest(c: &mut Criterion) {
    let data = data_set();
    let runtime = runtime();
    let parent = data.storage_parent.as_path();

    let scratch = Scratch::new(parent, false);
    let one = Batches::new(std::slice::from_ref(&data.one), 1);
    let mut group = c.benchmark_group("ingest_one_file");
    configure(&mut group, one.bytes());
    for (name, allowed) in allowed_sets() {
        group.bench_function(format!("ingest_{name}"), |b| {
            b.iter_custom(|iters| time_ingest(&runtime, &scratch, &allowed, &one, 1, iters))
        });
    }
    group.bench_function("reference_sha256", |b| {
        b.iter_custom(|iters| time_sha256(&one, iters))
    });
    group.bench_function("reference_copy", |b| {
        b.iter_custom(|iters| time_copy(&scratch, &one, iters))
    });
    group.finish();

    let scratch = Scratch::new(parent, true);
    let small = Batches::new(&data.small, small_batch());
    let mut group = c.benchmark_group("ingest_64kib_files");
    configure(&mut group, small.bytes());
    for (name, allowed) in allowed_sets() {
        for concurrency in [1, 2] {
            group.bench_function(format!("ingest_{name}_x{concurrency}"), |b| {
                b.iter_custom(|iters| {
                    time_ingest(&runtime, &scratch, &allowed, &small, concurrency, iters)
                })
            });
        }
    }
    group.bench_function("reference_sha256", |b| {
        b.iter_custom(|iters| time_sha256(&small, iters))
    });
    group.bench_function("reference_copy", |b| {
        b.iter_custom(|iters| time_copy(&scratch, &small, iters))
    });
    group.finish();
}

/// Small files ingested per timed iteration (`PULP_INGEST_SMALL_BATCH`, default 2,048 = 128
/// MiB); the iterations take the slices of the data set in turn.
fn small_batch() -> usize {
    std::env::var("PULP_INGEST_SMALL_BATCH")
        .ok()
        .map(|v| {
            v.parse()
                .expect("PULP_INGEST_SMALL_BATCH must be a number of files")
        })
        .unwrap_or(2048)
}

criterion_group!(benches, artifact_ingest);
criterion_main!(benches);
