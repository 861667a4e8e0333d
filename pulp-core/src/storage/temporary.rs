//! Shared temporary files (Pulp's `PulpTemporaryFile`): an upload received by one process,
//! kept in the shared storage under `tmp/<uuid>` so that a task on any host can use it.

use bytes::Bytes;
use futures::Stream;
use uuid::Uuid;

use super::staging::{stage_stream, Staged};
use super::store::{ArtifactStorage, ExpectedArtifact, StoredArtifact};
use super::{ChecksumType, StorageError};

/// A file in the shared temporary area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryFile {
    /// Its id.
    pub id: Uuid,
    /// Its key in storage, `tmp/<uuid>`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Its sha256.
    pub sha256: String,
}

impl ArtifactStorage {
    /// Keeps what `stream` yields (at most `max_size` bytes) as a shared temporary file.
    pub async fn save_temporary<S>(
        &self,
        stream: S,
        max_size: Option<u64>,
    ) -> Result<TemporaryFile, StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let mut plan = self.plan(&ExpectedArtifact::any(), max_size)?;
        plan.types = vec![ChecksumType::Sha256];
        let staged: Staged = stage_stream(plan, stream).await?;
        let id = Uuid::new_v4();
        let path = format!("tmp/{id}");
        let size = staged.size;
        let sha256 = staged
            .digests
            .get(&ChecksumType::Sha256)
            .cloned()
            .unwrap_or_default();
        self.commit(staged, &path).await?;
        Ok(TemporaryFile {
            id,
            path,
            size,
            sha256,
        })
    }

    /// The content of a shared temporary file.
    pub async fn read_temporary(&self, id: Uuid) -> Result<Bytes, StorageError> {
        self.read_key(&format!("tmp/{id}")).await
    }

    /// Turns a shared temporary file into an artifact (verified against `expected`).
    pub async fn ingest_temporary(
        &self,
        id: Uuid,
        expected: &ExpectedArtifact,
    ) -> Result<StoredArtifact, StorageError> {
        let key = self.key(&format!("tmp/{id}"));
        let stream = match self.object_store().get(&key).await {
            Ok(result) => result.into_stream(),
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StorageError::NotFound(format!("temporary file {id}")))
            }
            Err(e) => return Err(e.into()),
        };
        let stream = futures::StreamExt::map(stream, |item| item.map_err(std::io::Error::other));
        self.ingest_stream(Box::pin(stream), expected).await
    }

    /// Deletes a shared temporary file (missing is not an error).
    pub async fn delete_temporary(&self, id: Uuid) -> Result<(), StorageError> {
        self.delete_key(&format!("tmp/{id}")).await
    }
}
