//! [`Stage`]s and the bounded channels that join them.

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::{DeclarativeContent, PipelineError};

/// Items a channel between two stages holds; a full channel makes the upstream stage wait
/// (backpressure), so memory stays flat whatever the size of the repository.
pub const CHANNEL_CAPACITY: usize = 1_000;
/// How long a batch waits for its next item before it is flushed short.
pub const BATCH_IDLE: std::time::Duration = std::time::Duration::from_millis(20);
/// The batch size the default stages ask for (Pulp uses 500; 1,000 made an on_demand sync of
/// 5,000 files 14 % quicker on SQLite, whose single writer pays per statement and per
/// commit, and 5 % on PostgreSQL; see `docs/performance.md`).
pub const BATCH_SIZE: usize = 1_000;

/// One step of a pipeline: reads items from its input, writes items to its output. A stage
/// ends when its input ends (the first stage: when it has emitted everything); returning an
/// error stops the whole pipeline. Items may be units of any content type (see
/// [`DeclarativeContent`]). A first stage is easier written as a [`FirstStage`].
///
/// ```ignore
/// struct DropDrafts;
/// impl Stage for DropDrafts {
///     fn name(&self) -> &str { "DropDrafts" }
///     fn run(self: Box<Self>, mut input: StageInput, output: StageOutput)
///         -> BoxFuture<'static, Result<(), PipelineError>> {
///         Box::pin(async move {
///             while let Some(dc) = input.next().await {
///                 if !dc.content::<Page>().is_some_and(|p| p.draft) { output.put(dc).await?; }
///             }
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait Stage: Send + 'static {
    /// Its name (to find it when inserting or replacing stages).
    fn name(&self) -> &str;

    /// Runs the stage to the end of its input.
    fn run(
        self: Box<Self>,
        input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>>;
}

/// What a stage reads: items one by one ([`StageInput::next`]) or in batches
/// ([`StageInput::batch`]).
#[derive(Debug)]
pub struct StageInput {
    rx: Option<mpsc::Receiver<DeclarativeContent>>,
}

impl StageInput {
    pub(crate) fn new(rx: mpsc::Receiver<DeclarativeContent>) -> Self {
        Self { rx: Some(rx) }
    }

    /// The input of a first stage: nothing.
    pub(crate) fn empty() -> Self {
        Self { rx: None }
    }

    /// The next item (`None` at the end of the input). This is the `items()` helper.
    pub async fn next(&mut self) -> Option<DeclarativeContent> {
        self.rx.as_mut()?.recv().await
    }

    /// The next batch (`None` at the end of the input): `minsize` items, or fewer when the
    /// input is idle (no item for [`BATCH_IDLE`]), ends, or when an item of the batch is
    /// awaited ([`DeclarativeContent::resolution`]). This is the `batches(minsize)` helper.
    pub async fn batch(&mut self, minsize: usize) -> Option<Vec<DeclarativeContent>> {
        let rx = self.rx.as_mut()?;
        let minsize = minsize.max(1);
        let first = rx.recv().await?;
        let mut urgent = first.is_awaited();
        let mut batch = Vec::with_capacity(minsize.min(CHANNEL_CAPACITY));
        batch.push(first);
        while batch.len() < minsize && !urgent {
            let item = match rx.try_recv() {
                Ok(item) => item,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout(BATCH_IDLE, rx.recv()).await {
                        Ok(Some(item)) => item,
                        Ok(None) | Err(_) => break,
                    }
                }
            };
            urgent = item.is_awaited();
            batch.push(item);
        }
        Some(batch)
    }
}

/// Where a stage writes: to the next stage's input.
#[derive(Debug, Clone)]
pub struct StageOutput {
    tx: mpsc::Sender<DeclarativeContent>,
    /// The content types the next stages take (the first stage's output in a
    /// [`DeclarativeVersion`](super::DeclarativeVersion): its repository type's); `None`: any.
    accepts: Option<Accepts>,
}

/// The content types a repository type holds, and its name (for the error).
#[derive(Debug, Clone)]
pub(crate) struct Accepts {
    pub(crate) repository_type: String,
    pub(crate) content_types: &'static [&'static str],
}

impl StageOutput {
    pub(crate) fn new(tx: mpsc::Sender<DeclarativeContent>) -> Self {
        Self { tx, accepts: None }
    }

    /// Hands an item to the next stage (waits while its input is full). Fails when the item's
    /// content type is not one the repository type holds.
    pub async fn put(&self, item: DeclarativeContent) -> Result<(), PipelineError> {
        if let Some(accepts) = &self.accepts {
            let t = item.pulp_type();
            if !accepts.content_types.contains(&t) {
                return Err(PipelineError::new(format!(
                    "a {} repository cannot hold {t} units (it holds {})",
                    accepts.repository_type,
                    accepts.content_types.join(", ")
                )));
            }
        }
        self.tx.send(item).await.map_err(|_| PipelineError::Stopped)
    }

    /// Hands every item of a batch to the next stage.
    pub async fn put_all(&self, items: Vec<DeclarativeContent>) -> Result<(), PipelineError> {
        for item in items {
            self.put(item).await?;
        }
        Ok(())
    }
}

/// A first stage (the part of a sync a plugin writes): reads the remote's metadata and emits
/// a [`DeclarativeContent`] per unit, of any of the repository type's content types, with
/// [`StageOutput::put`]. It may wait for an emitted unit's saved model
/// ([`DeclarativeContent::awaited`]) before emitting the units that refer to it.
///
/// ```ignore
/// struct BundleFirstStage { index: Vec<(Blob, Vec<DeclarativeArtifact>)>, name: String }
/// impl FirstStage for BundleFirstStage {
///     async fn run(self, output: StageOutput) -> Result<(), PipelineError> {
///         let mut members = Vec::new();
///         for (blob, files) in self.index {
///             let (item, saved) = DeclarativeContent::awaited(blob, files);
///             output.put(item).await?;
///             members.push(saved);
///         }
///         let mut ids = Vec::new();
///         for saved in members { ids.push(saved.await?.pulp_id()); }
///         output.put(DeclarativeContent::new(Bundle { name: self.name, members: ids }, vec![])).await
///     }
/// }
/// ```
pub trait FirstStage: Send + 'static {
    /// Its name (in logs); the type's name by default.
    fn name(&self) -> &str {
        let name = std::any::type_name::<Self>();
        name.rsplit("::").next().unwrap_or(name)
    }

    /// Emits every unit to `output`; an error fails the sync.
    fn run(
        self,
        output: StageOutput,
    ) -> impl std::future::Future<Output = Result<(), PipelineError>> + Send;
}

/// A [`FirstStage`] as a [`Stage`].
pub(crate) struct First<F>(pub(crate) F);

impl<F: FirstStage> Stage for First<F> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn run(
        self: Box<Self>,
        _input: StageInput,
        output: StageOutput,
    ) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(self.0.run(output))
    }
}

/// Runs `step` on every batch of `input` (`minsize` items, see [`StageInput::batch`]) and
/// hands each result to `output`, in input order, with up to `concurrency` batches in
/// flight (more than 1 only pays where writes can run in parallel:
/// [`SyncContext::write_concurrency`](super::SyncContext::write_concurrency)). This is the
/// loop of every batch stage; the stage writes only its per-batch step.
///
/// Each step runs as a task of its own, so a step is never cut off half-way through a
/// database call: when one fails, the others in flight still finish (their writes end
/// committed or rolled back as a whole) while the pipeline stops. At the end it logs (debug)
/// the number of batches and items and the time spent in steps, under the name `stage`.
pub async fn for_each_batch<F, Fut>(
    stage: &str,
    input: StageInput,
    output: &StageOutput,
    minsize: usize,
    concurrency: usize,
    mut step: F,
) -> Result<(), PipelineError>
where
    F: FnMut(Vec<DeclarativeContent>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<DeclarativeContent>, PipelineError>>
        + Send
        + 'static,
{
    use futures::StreamExt;
    let batches = futures::stream::unfold(input, move |mut input| async move {
        input.batch(minsize).await.map(|batch| (batch, input))
    });
    let results = batches
        .map(|batch| {
            let (step, name) = (step(batch), stage.to_string());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                step.await.map(|batch| {
                    let took = started.elapsed();
                    tracing::trace!(stage = %name, items = batch.len(), took_us = took.as_micros() as u64, "batch done");
                    (batch, took)
                })
            })
        })
        .buffered(concurrency.max(1));
    let mut results = std::pin::pin!(results);
    let (mut batches, mut items, mut busy) = (0usize, 0usize, std::time::Duration::ZERO);
    while let Some(joined) = results.next().await {
        let batch = match joined {
            Ok(Ok((batch, took))) => {
                busy += took;
                batch
            }
            Ok(Err(e)) => return Err(e),
            Err(e) if e.is_panic() => {
                return Err(PipelineError::new(format!("a stage panicked: {e}")))
            }
            Err(_) => return Err(PipelineError::Stopped),
        };
        batches += 1;
        items += batch.len();
        output.put_all(batch).await?;
    }
    tracing::debug!(
        stage,
        batches,
        items,
        busy_ms = busy.as_millis() as u64,
        "stage finished"
    );
    Ok(())
}

/// Runs `stages` joined by bounded channels; the first error stops every stage and is
/// returned. Stages are not aborted mid-step (an aborted database call can leave a pooled
/// connection inside a transaction): a failed stage drops its channels, so the stages
/// before it fail their next `put` with [`PipelineError::Stopped`] and the stages after it
/// see the end of their input.
pub async fn run_stages(stages: Vec<Box<dyn Stage>>) -> Result<(), PipelineError> {
    run_pipeline(stages, None).await
}

/// [`run_stages`], the first stage's output taking only units of `accepts`' content types.
pub(crate) async fn run_pipeline(
    stages: Vec<Box<dyn Stage>>,
    accepts: Option<Accepts>,
) -> Result<(), PipelineError> {
    let mut set = tokio::task::JoinSet::new();
    let mut input = StageInput::empty();
    for stage in stages {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let mut output = StageOutput::new(tx);
        if set.is_empty() {
            output.accepts = accepts.clone();
        }
        let this_input = std::mem::replace(&mut input, StageInput::new(rx));
        let name = stage.name().to_string();
        let future = stage.run(this_input, output);
        set.spawn(async move { (name, future.await) });
    }
    // The last stage's output: drained (items that reach it are done).
    let mut tail = input;
    let drain = tokio::spawn(async move { while tail.next().await.is_some() {} });
    // Report the real cause: a `Stopped` error is only a consequence of another stage's.
    let mut first: Option<PipelineError> = None;
    while let Some(joined) = set.join_next().await {
        let result = match joined {
            Ok((name, result)) => {
                result.inspect_err(|e| tracing::debug!(stage = %name, error = %e, "stage failed"))
            }
            Err(e) if e.is_panic() => Err(PipelineError::new(format!("a stage panicked: {e}"))),
            Err(_) => Err(PipelineError::Stopped),
        };
        if let Err(e) = result {
            let stopped = matches!(e, PipelineError::Stopped);
            if first.is_none() || (!stopped && matches!(first, Some(PipelineError::Stopped))) {
                first = Some(e);
            }
        }
    }
    let _ = drain.await;
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
