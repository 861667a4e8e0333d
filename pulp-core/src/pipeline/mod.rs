//! The sync pipeline (Pulp's "stages API").
//!
//! A sync is a chain of async [`Stage`]s joined by bounded channels (backpressure keeps
//! memory flat whatever the repository size). Items are [`DeclarativeContent`]s: an unsaved
//! unit of any content type of the repository type, and its [`DeclarativeArtifact`]s (url,
//! relative path, expected size and digests, remote, deferred). The plugin writes only the
//! first stage ([`FirstStage`]), which reads the remote's metadata and emits items;
//! [`DeclarativeVersion`] runs it followed by the default stages:
//!
//! `QueryExistingArtifacts → ArtifactDownloader → ArtifactSaver → QueryExistingContents →
//! ContentSaver → RemoteArtifactSaver → ResolveContentFutures → ContentAssociation`
//!
//! then makes one new repository version of every unit emitted, whatever its type (removing
//! unlisted units of the repository type's content types in mirror mode). Stages read their
//! input one item at a time ([`StageInput::next`]) or in batches ([`StageInput::batch`]);
//! the default stages make one query per content type per batch, never per item. A unit
//! can wait for another's saved model ([`DeclarativeContent::awaited`], Pulp's content
//! futures), of the same type or another.
//!
//! ```ignore
//! let ctx = SyncContext::for_task(&task).with_downloader(remote.pulp_id(), downloader);
//! let version = DeclarativeVersion::new(MyFirstStage { .. }, repository_id, mirror)
//!     .create(&ctx)
//!     .await?; // None: nothing changed
//! ```

mod artifact_stages;
mod content;
mod content_stages;
mod context;
mod declarative;
mod error;
mod stage;

pub use artifact_stages::{ArtifactDownloader, ArtifactSaver, QueryExistingArtifacts};
pub use content::{ContentFuture, DeclarativeArtifact, DeclarativeContent};
pub use content_stages::{
    ContentAssociation, ContentSaver, QueryExistingContents, RemoteArtifactSaver,
    ResolveContentFutures,
};
pub use context::{Progress, SyncContext};
pub use declarative::{DeclarativeVersion, Stages};
pub use error::PipelineError;
pub use stage::{
    for_each_batch, run_stages, FirstStage, Stage, StageInput, StageOutput, BATCH_IDLE, BATCH_SIZE,
    CHANNEL_CAPACITY,
};
