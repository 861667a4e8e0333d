//! The items that flow through a pipeline: [`DeclarativeContent`] and its
//! [`DeclarativeArtifact`]s, and the [`ContentFuture`] of a unit being saved.
//!
//! One pipeline carries units of every content type its repository type declares: a
//! [`DeclarativeContent`] holds a unit of any [`ContentDetail`] type behind an object-safe
//! trait, built typed ([`DeclarativeContent::new`]) and read typed
//! ([`DeclarativeContent::content`], [`DeclarativeContent::saved`],
//! [`DeclarativeContent::resolution`]). The stages group each batch by type and run the
//! type's own queries ([`ContentType`]), one per type per batch.

use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::sync::oneshot;

use super::PipelineError;
use crate::db::{Database, PulpId};
use crate::models::{find_content, save_new_content, Artifact, ContentDetail, Model};
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

/// An unsaved content unit of any content type and its artifacts, as a first stage emits
/// it. After the content saver, [`DeclarativeContent::saved`] holds the stored unit.
///
/// ```ignore
/// let blob = DeclarativeContent::new(Blob { .. }, vec![file]);
/// let bundle = DeclarativeContent::new(Bundle { .. }, vec![]);
/// assert_eq!(blob.pulp_type(), "bundle.blob");
/// assert_eq!(bundle.content::<Bundle>().map(|b| b.name.as_str()), Some("app"));
/// ```
#[derive(Debug)]
pub struct DeclarativeContent {
    /// The unit, its saved model and the future waiting for it.
    unit: Box<dyn Unit>,
    /// Its files.
    pub artifacts: Vec<DeclarativeArtifact>,
}

impl DeclarativeContent {
    /// A unit (of any content type) with its files. The pipeline validates and saves it; an
    /// existing unit with the same natural key is reused.
    pub fn new<T: ContentDetail>(content: T, artifacts: Vec<DeclarativeArtifact>) -> Self {
        Self {
            unit: Box::new(Slot {
                content,
                saved: None,
                resolver: None,
            }),
            artifacts,
        }
    }

    /// A unit with its files, and the future of its saved model (see
    /// [`DeclarativeContent::resolution`]): typed by the unit given.
    pub fn awaited<T: ContentDetail>(
        content: T,
        artifacts: Vec<DeclarativeArtifact>,
    ) -> (Self, ContentFuture<T>) {
        let mut item = Self::new(content, artifacts);
        let future = item.resolution::<T>();
        (item, future)
    }

    /// Its content type's `pulp_type` (`file.file`).
    pub fn pulp_type(&self) -> &'static str {
        self.unit.content_type().pulp_type
    }

    /// Whether the unit is a `T`.
    pub fn is<T: ContentDetail>(&self) -> bool {
        self.slot::<T>().is_some()
    }

    /// The unit, if it is a `T`.
    pub fn content<T: ContentDetail>(&self) -> Option<&T> {
        self.slot::<T>().map(|s| &s.content)
    }

    /// The unit to change (before the content saver: a custom stage fixing up units), if it
    /// is a `T`.
    pub fn content_mut<T: ContentDetail>(&mut self) -> Option<&mut T> {
        self.slot_mut::<T>().map(|s| &mut s.content)
    }

    /// A future of the saved unit, as a `T` (it fails when the unit is of another type). A
    /// unit someone waits for is not held back by batching (batches holding it are flushed
    /// at once), so a first stage may await it before emitting the units that refer to it,
    /// of this type or any other.
    pub fn resolution<T: ContentDetail>(&mut self) -> ContentFuture<T> {
        let unit = self.pulp_type();
        match self.slot_mut::<T>() {
            Some(slot) => {
                let (tx, rx) = oneshot::channel();
                slot.resolver = Some(tx);
                ContentFuture(Awaiting::Unit(rx))
            }
            None => ContentFuture(Awaiting::WrongType {
                unit,
                wanted: T::PULP_TYPE,
            }),
        }
    }

    /// Whether someone waits for this unit (its batch is flushed early).
    pub fn is_awaited(&self) -> bool {
        self.unit.is_awaited()
    }

    /// The stored unit, once the content saver ran, if it is a `T`.
    pub fn saved<T: ContentDetail>(&self) -> Option<&Model<T>> {
        self.slot::<T>().and_then(|s| s.saved.as_ref())
    }

    /// The id of the stored unit, once the content saver ran.
    pub fn saved_id(&self) -> Option<PulpId> {
        self.unit.saved_id()
    }

    /// Its content type's operations.
    pub(crate) fn content_type(&self) -> ContentType {
        self.unit.content_type()
    }

    /// Resolves the future of [`DeclarativeContent::resolution`], if any.
    pub(crate) fn resolve(&mut self) {
        self.unit.resolve();
    }

    fn slot<T: ContentDetail>(&self) -> Option<&Slot<T>> {
        self.unit.as_any().downcast_ref::<Slot<T>>()
    }

    fn slot_mut<T: ContentDetail>(&mut self) -> Option<&mut Slot<T>> {
        self.unit.as_any_mut().downcast_mut::<Slot<T>>()
    }
}

/// A unit of type `T`, its saved model and who waits for it.
#[derive(Debug)]
struct Slot<T: ContentDetail> {
    content: T,
    saved: Option<Model<T>>,
    resolver: Option<oneshot::Sender<Model<T>>>,
}

/// What the pipeline does with a unit without knowing its type.
trait Unit: std::fmt::Debug + Send + Sync + 'static {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn content_type(&self) -> ContentType;
    fn saved_id(&self) -> Option<PulpId>;
    fn is_awaited(&self) -> bool;
    fn resolve(&mut self);
}

impl<T: ContentDetail> Unit for Slot<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn content_type(&self) -> ContentType {
        ContentType::of::<T>()
    }

    fn saved_id(&self) -> Option<PulpId> {
        self.saved.as_ref().map(Model::pulp_id)
    }

    fn is_awaited(&self) -> bool {
        self.resolver.is_some()
    }

    fn resolve(&mut self) {
        if let (Some(tx), Some(model)) = (self.resolver.take(), self.saved.clone()) {
            let _ = tx.send(model);
        }
    }
}

/// A batch step of one content type: works on the items of `batch` at the given indices
/// (all of that type).
type TypedStep = for<'a> fn(
    &'a Database,
    &'a mut [DeclarativeContent],
    &'a [usize],
) -> BoxFuture<'a, Result<(), PipelineError>>;

/// The operations of one content type that the default stages run per batch: one query per
/// type per batch.
#[derive(Clone, Copy)]
pub(crate) struct ContentType {
    id: TypeId,
    /// Its `pulp_type`.
    pub(crate) pulp_type: &'static str,
    /// Its detail table.
    pub(crate) table: &'static str,
    /// Finds the stored units of the items (by natural key) and marks them saved.
    pub(crate) find: TypedStep,
    /// Saves the items' units (validated; none of them was found) and marks them saved.
    pub(crate) save_new: TypedStep,
}

impl std::fmt::Debug for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.pulp_type)
    }
}

impl ContentType {
    fn of<T: ContentDetail>() -> Self {
        Self {
            id: TypeId::of::<T>(),
            pulp_type: T::PULP_TYPE,
            table: T::TABLE,
            find: find_step::<T>,
            save_new: save_new_step::<T>,
        }
    }

    /// The items of `batch` grouped by content type, types in order of first appearance.
    pub(crate) fn group(batch: &[DeclarativeContent]) -> Vec<(ContentType, Vec<usize>)> {
        let mut groups: Vec<(ContentType, Vec<usize>)> = Vec::new();
        for (i, dc) in batch.iter().enumerate() {
            let t = dc.content_type();
            // Usually one type per batch, rarely more than a handful: a linear search.
            match groups.iter_mut().find(|(g, _)| g.id == t.id) {
                Some((_, items)) => items.push(i),
                None => groups.push((t, vec![i])),
            }
        }
        groups
    }
}

/// The units at `at`, which are all `T`s.
fn slots<'a, T: ContentDetail>(
    batch: &'a mut [DeclarativeContent],
    at: &[usize],
) -> Result<Vec<&'a mut Slot<T>>, PipelineError> {
    let mut wanted = at.iter().copied().peekable();
    let mut slots = Vec::with_capacity(at.len());
    for (i, dc) in batch.iter_mut().enumerate() {
        if wanted.peek() != Some(&i) {
            continue;
        }
        wanted.next();
        let slot = dc.slot_mut::<T>().ok_or_else(|| {
            PipelineError::new(format!("a unit grouped as {} is not one", T::PULP_TYPE))
        })?;
        slots.push(slot);
    }
    Ok(slots)
}

fn find_step<'a, T: ContentDetail>(
    db: &'a Database,
    batch: &'a mut [DeclarativeContent],
    at: &'a [usize],
) -> BoxFuture<'a, Result<(), PipelineError>> {
    Box::pin(async move {
        let mut slots = slots::<T>(batch, at)?;
        let units: Vec<T> = slots.iter().map(|s| s.content.clone()).collect();
        for (slot, found) in slots.iter_mut().zip(find_content(db, &units).await?) {
            if found.is_some() {
                slot.saved = found;
            }
        }
        Ok(())
    })
}

fn save_new_step<'a, T: ContentDetail>(
    db: &'a Database,
    batch: &'a mut [DeclarativeContent],
    at: &'a [usize],
) -> BoxFuture<'a, Result<(), PipelineError>> {
    Box::pin(async move {
        let mut slots = slots::<T>(batch, at)?;
        let units: Vec<T> = slots.iter().map(|s| s.content.clone()).collect();
        for (slot, model) in slots.iter_mut().zip(save_new_content(db, units).await?) {
            slot.saved = Some(model);
        }
        Ok(())
    })
}

#[derive(Debug)]
enum Awaiting<T: ContentDetail> {
    Unit(oneshot::Receiver<Model<T>>),
    WrongType {
        unit: &'static str,
        wanted: &'static str,
    },
}

/// The unit a [`DeclarativeContent`] becomes once saved, as a `T`; fails with
/// [`PipelineError::Stopped`] when the pipeline ends without saving it (another stage
/// failed: its error is the sync's), or when the unit is not a `T`.
#[derive(Debug)]
pub struct ContentFuture<T: ContentDetail>(Awaiting<T>);

impl<T: ContentDetail> Future for ContentFuture<T> {
    type Output = Result<Model<T>, PipelineError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Awaiting::Unit(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.map_err(|_| PipelineError::Stopped)),
            Awaiting::WrongType { unit, wanted } => Poll::Ready(Err(PipelineError::new(format!(
                "a {unit} unit was awaited as a {wanted}"
            )))),
        }
    }
}
