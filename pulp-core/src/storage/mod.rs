//! Artifact storage: content-addressed blobs in a local directory or an S3-compatible bucket.
//!
//! Every write goes through a staging file that is hashed (all allowed checksums, one pass)
//! while it is written, verified against what the caller expects, and only then moved into
//! place under `artifact/<sha256[0..2]>/<sha256[2..]>` in one atomic step. A reader never sees
//! a partial artifact; two writers of the same bytes end with one artifact and no error.

mod checksum;
mod digester;
mod error;
mod hasher;
mod staging;
mod store;
mod temporary;

pub use checksum::{AllowedChecksums, ChecksumType, Digests, UnknownChecksum};
pub use digester::Digester;
pub use error::StorageError;
pub use hasher::MultiHasher;
pub use store::{
    ArtifactStorage, ExpectedArtifact, NewFileLog, NewFiles, ReceivedFile, StorageUsage,
    StoredArtifact,
};
pub use temporary::TemporaryFile;
