//! The items that flow through a pipeline: [`DeclarativeContent`] and its
//! [`DeclarativeArtifact`]s, and the [`ContentFuture`] of a unit being saved.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::PipelineError;
use crate::db::PulpId;
use crate::models::{Artifact, ContentDetail, Model};
use crate::storage::{ChecksumType, ExpectedArtifact, StoredArtifact};

/// A file of a unit as the remote describes it: where to fetch it, where it goes in the
/// unit, what it must be. The pipeline fills in [`DeclarativeArtifact::artifact`] (found or
/// downloaded).
#[derive(Debug, Clone)]
pub struct DeclarativeArtifact {
    /// Where to download it.
    pub url: String,
    /// Its path in the unit (the content artifact's `relative_path`).
    pub relative_path: String,
    /// Expected size and digests (sha256 lets the pipeline find an artifact already stored).
    pub expected: ExpectedArtifact,
    /// The remote to download it through (and to record as its remote artifact).
    pub remote_id: Option<PulpId>,
    /// Deferred (on_demand, streamed): not downloaded now; the content app fetches it.
    pub deferred: bool,
    /// The stored artifact, once found or downloaded.
    pub artifact: Option<Artifact>,
    /// The artifact the downloader stored, waiting for the artifact saver.
    pub(crate) stored: Option<StoredArtifact>,
    /// Its content artifact, once the content saver linked it.
    pub(crate) content_artifact_id: Option<PulpId>,
    /// Whether the content saver created that content artifact for a unit it created (so no
    /// remote artifact can exist for it yet).
    pub(crate) content_artifact_created: bool,
}

impl DeclarativeArtifact {
    /// A file to fetch from `url` into `relative_path`, expected to be `expected`.
    pub fn new(
        url: impl Into<String>,
        relative_path: impl Into<String>,
        expected: ExpectedArtifact,
        remote_id: Option<PulpId>,
        deferred: bool,
    ) -> Self {
        Self {
            url: url.into(),
            relative_path: relative_path.into(),
            expected,
            remote_id,
            deferred,
            artifact: None,
            stored: None,
            content_artifact_id: None,
            content_artifact_created: false,
        }
    }

    /// Its expected sha256, if known.
    pub fn sha256(&self) -> Option<&str> {
        self.expected
            .digests
            .get(&ChecksumType::Sha256)
            .map(String::as_str)
    }
}

/// An unsaved content unit and its artifacts, as a first stage emits it. After the content
/// saver, [`DeclarativeContent::saved`] holds the stored unit.
#[derive(Debug)]
pub struct DeclarativeContent<T: ContentDetail> {
    /// The unit (validated and saved by the pipeline; an existing unit with the same
    /// natural key is reused).
    pub content: T,
    /// Its files.
    pub artifacts: Vec<DeclarativeArtifact>,
    saved: Option<Model<T>>,
    resolver: Option<oneshot::Sender<Model<T>>>,
}

impl<T: ContentDetail> DeclarativeContent<T> {
    /// A unit with its files.
    pub fn new(content: T, artifacts: Vec<DeclarativeArtifact>) -> Self {
        Self {
            content,
            artifacts,
            saved: None,
            resolver: None,
        }
    }

    /// A future of the saved unit. A unit someone waits for is not held back by batching
    /// (batches holding it are flushed at once), so a first stage may await it.
    pub fn resolution(&mut self) -> ContentFuture<T> {
        let (tx, rx) = oneshot::channel();
        self.resolver = Some(tx);
        ContentFuture(rx)
    }

    /// Whether someone waits for this unit (its batch is flushed early).
    pub fn is_awaited(&self) -> bool {
        self.resolver.is_some()
    }

    /// The stored unit, once the content saver ran.
    pub fn saved(&self) -> Option<&Model<T>> {
        self.saved.as_ref()
    }

    pub(crate) fn set_saved(&mut self, model: Model<T>) {
        self.saved = Some(model);
    }

    /// Resolves the future of [`DeclarativeContent::resolution`], if any.
    pub(crate) fn resolve(&mut self) {
        if let (Some(tx), Some(model)) = (self.resolver.take(), self.saved.clone()) {
            let _ = tx.send(model);
        }
    }
}

/// The unit a [`DeclarativeContent`] becomes once saved; fails with
/// [`PipelineError::Stopped`] when the pipeline ends without saving it.
#[derive(Debug)]
pub struct ContentFuture<T: ContentDetail>(oneshot::Receiver<Model<T>>);

impl<T: ContentDetail> Future for ContentFuture<T> {
    type Output = Result<Model<T>, PipelineError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.map_err(|_| PipelineError::Stopped))
    }
}
