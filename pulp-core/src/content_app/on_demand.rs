//! Content not downloaded yet: `on_demand` downloads it on the first request (one download
//! however many clients ask at once, every client streaming from it as it arrives) and keeps
//! it as an artifact; `streamed` streams it from the remote on every request and keeps nothing.
//!
//! A download writes to a temporary file; every client reads that file behind the writer,
//! one byte short of what was written until the download is verified, so a client never
//! receives a complete body that failed verification (its response is aborted instead).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::respond::{content_type, plain};
use crate::app::App;
use crate::db::PulpId;
use crate::download::{DownloadError, DownloadResponse, Downloader};
use crate::models::{
    get_master, remote_artifacts, save_artifact, Policy, RemoteArtifact, RemoteFields, RemoteKind,
};
use crate::on_pool;
use crate::storage::{ExpectedArtifact, MultiHasher};

/// How long a finished download stays joinable.
const KEEP_FINISHED: std::time::Duration = std::time::Duration::from_secs(10);
/// Read size when following a download.
const CHUNK: usize = 256 * 1024;

/// Downloads in flight and the downloaders of remotes (shared by every request).
#[derive(Debug, Default)]
pub struct OnDemand {
    // Shared with the tasks that run downloads, which remove their flight when done.
    flights: Arc<Mutex<HashMap<PulpId, Arc<Flight>>>>,
    downloaders: Mutex<HashMap<(PulpId, DateTime<Utc>), Downloader>>,
}

/// Where a download stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Connecting to the remote.
    Opening,
    /// Receiving: `written` bytes are in the file.
    Receiving,
    /// Verified and stored.
    Done,
    /// Failed (the reason is the 502 body, or the cause of aborted responses).
    Failed(String),
}

#[derive(Debug, Clone)]
struct Progress {
    stage: Stage,
    written: u64,
    length: Option<u64>,
}

#[derive(Debug)]
struct Flight {
    /// A reading handle on the download's file (stays valid after the file is removed).
    file: Arc<std::fs::File>,
    progress: watch::Receiver<Progress>,
}

/// A remote artifact with its remote's settings.
struct Candidate {
    remote_artifact: RemoteArtifact,
    downloader: Downloader,
    policy: Policy,
}

impl OnDemand {
    /// Flights in progress (for tests and metrics).
    pub fn in_flight(&self) -> usize {
        self.flights.lock().map(|f| f.len()).unwrap_or(0)
    }

    async fn candidates(
        &self,
        app: &App,
        content_artifact_id: PulpId,
    ) -> Result<Vec<Candidate>, String> {
        let found = remote_artifacts(app.db(), &[content_artifact_id])
            .await
            .map_err(|e| format!("looking up remote artifacts: {e}"))?;
        let mut out = Vec::with_capacity(found.len());
        for remote_artifact in found {
            let remote = get_master::<RemoteKind>(app.db(), remote_artifact.remote_id)
                .await
                .map_err(|e| format!("looking up a remote: {e}"))?;
            let downloader =
                self.downloader(remote.pulp_id, remote.pulp_last_updated, &remote.fields)?;
            out.push(Candidate {
                remote_artifact,
                downloader,
                policy: remote.fields.policy,
            });
        }
        Ok(out)
    }

    fn downloader(
        &self,
        remote_id: PulpId,
        updated: DateTime<Utc>,
        fields: &RemoteFields,
    ) -> Result<Downloader, String> {
        let mut cache = self
            .downloaders
            .lock()
            .map_err(|_| "downloader cache poisoned".to_string())?;
        if let Some(d) = cache.get(&(remote_id, updated)) {
            return Ok(d.clone());
        }
        let downloader = Downloader::for_remote(fields).map_err(|e| e.to_string())?;
        cache.retain(|(id, _), _| *id != remote_id);
        cache.insert((remote_id, updated), downloader.clone());
        Ok(downloader)
    }

    /// Answers a request for a content artifact that has no artifact yet.
    pub async fn serve(
        &self,
        app: &App,
        head: bool,
        content_artifact_id: PulpId,
        name: &str,
    ) -> Response {
        let candidates = match self.candidates(app, content_artifact_id).await {
            Ok(c) if c.is_empty() => return plain(StatusCode::NOT_FOUND, "404: Not Found"),
            Ok(c) => c,
            Err(reason) => return plain(StatusCode::BAD_GATEWAY, format!("502: {reason}")),
        };
        let kind = content_type(name);
        if head {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, kind);
            if let Some(size) = candidates[0]
                .remote_artifact
                .size
                .and_then(|s| u64::try_from(s).ok())
            {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            }
            return (StatusCode::OK, headers, Body::empty()).into_response();
        }
        if candidates.iter().all(|c| c.policy == Policy::Streamed) {
            return super::outcome::mark(streamed(app, candidates, kind).await, "streamed");
        }
        let flight = match self.join_or_start(app, content_artifact_id, candidates) {
            Ok(f) => f,
            Err(reason) => return plain(StatusCode::BAD_GATEWAY, format!("502: {reason}")),
        };
        super::outcome::mark(follow(flight, kind).await, "on_demand")
    }

    fn join_or_start(
        &self,
        app: &App,
        content_artifact_id: PulpId,
        candidates: Vec<Candidate>,
    ) -> Result<Arc<Flight>, String> {
        let mut flights = self
            .flights
            .lock()
            .map_err(|_| "download map poisoned".to_string())?;
        if let Some(flight) = flights.get(&content_artifact_id) {
            return Ok(flight.clone());
        }
        let dir = app
            .settings()
            .effective_working_directory()
            .join("content-app");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let temp = tempfile::Builder::new()
            .prefix("on-demand-")
            .tempfile_in(&dir)
            .map_err(|e| format!("creating a download file: {e}"))?;
        let reader = temp
            .reopen()
            .map_err(|e| format!("opening the download file: {e}"))?;
        let (sender, receiver) = watch::channel(Progress {
            stage: Stage::Opening,
            written: 0,
            length: None,
        });
        let flight = Arc::new(Flight {
            file: Arc::new(reader),
            progress: receiver,
        });
        flights.insert(content_artifact_id, flight.clone());
        let app = app.clone();
        let all_flights = self.flights.clone();
        tokio::spawn(async move {
            let outcome = download(&app, content_artifact_id, candidates, temp, &sender).await;
            if let Err(reason) = outcome {
                tracing::warn!(content_artifact = %content_artifact_id, %reason, "on-demand download failed");
                sender.send_modify(|p| p.stage = Stage::Failed(reason));
            } else {
                // Requests that resolved the path before the artifact was linked still
                // find the finished flight (and read its file) for a little while.
                tokio::time::sleep(KEEP_FINISHED).await;
            }
            if let Ok(mut flights) = all_flights.lock() {
                flights.remove(&content_artifact_id);
            }
        });
        Ok(flight)
    }
}

/// Expected size and digests of a remote artifact (only the checksums storage computes).
fn expected(app: &App, ra: &RemoteArtifact) -> ExpectedArtifact {
    let allowed = app.storage().allowed_checksums();
    let mut expected = ExpectedArtifact::any();
    if let Some(size) = ra.size.and_then(|s| u64::try_from(s).ok()) {
        expected = expected.with_size(size);
    }
    for (kind, value) in &ra.digests {
        if allowed.allows(*kind) {
            expected = expected.with_digest(*kind, value.clone());
        }
    }
    expected
}

/// Opens the first candidate that answers.
async fn open_first(candidates: &[Candidate]) -> Result<(usize, DownloadResponse), String> {
    let mut last = String::from("no remote to download from");
    for (i, c) in candidates.iter().enumerate() {
        match c.downloader.open(&c.remote_artifact.url).await {
            Ok(response) => return Ok((i, response)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The leader of a flight: downloads, verifies, stores, links the artifact.
async fn download(
    app: &App,
    content_artifact_id: PulpId,
    candidates: Vec<Candidate>,
    temp: tempfile::NamedTempFile,
    progress: &watch::Sender<Progress>,
) -> Result<(), String> {
    let (index, response) = open_first(&candidates).await?;
    let ra = &candidates[index].remote_artifact;
    let expected = expected(app, ra);
    let length = expected.size.or(response.content_length);
    progress.send_modify(|p| {
        p.stage = Stage::Receiving;
        p.length = length;
    });
    let mut file = tokio::fs::File::from_std(
        temp.reopen()
            .map_err(|e| format!("opening the download file: {e}"))?,
    );
    let mut body = response.into_stream();
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if expected
            .size
            .is_some_and(|size| written + chunk.len() as u64 > size)
        {
            return Err(DownloadError::SizeMismatch {
                url: ra.url.clone(),
                expected: expected.size.unwrap_or(0),
                actual: written + chunk.len() as u64,
            }
            .to_string());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("writing the download file: {e}"))?;
        written += chunk.len() as u64;
        progress.send_modify(|p| p.written = written);
    }
    file.flush()
        .await
        .map_err(|e| format!("writing the download file: {e}"))?;
    drop(file);
    // Verification happens while ingesting: size and every expected digest.
    let stored = app
        .storage()
        .ingest_file(temp.path(), &expected)
        .await
        .map_err(|e| format!("{}: {e}", ra.url))?;
    let artifact = save_artifact(app.db(), &stored)
        .await
        .map_err(|e| format!("recording the artifact: {e}"))?;
    let db = app.db();
    let linked: Result<_, sqlx::Error> = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE core_contentartifact SET artifact_id = $1, pulp_last_updated = $2 \
             WHERE pulp_id = $3 AND artifact_id IS NULL",
        )
        .bind(artifact.pulp_id)
        .bind(Utc::now())
        .bind(content_artifact_id)
        .execute(pool)
        .await
        .map(|_| ())
    });
    linked.map_err(|e| format!("linking the artifact: {e}"))?;
    progress.send_modify(|p| {
        p.stage = Stage::Done;
        p.written = stored.size;
    });
    Ok(())
}

/// The answer when no remote could give the file: pulpcore's 404.
fn fetch_failed(reason: &str) -> Response {
    tracing::warn!(%reason, "on-demand fetch failed");
    plain(StatusCode::NOT_FOUND, "404: Not Found")
}

/// A response that streams a flight's file as it grows.
async fn follow(flight: Arc<Flight>, kind: HeaderValue) -> Response {
    let mut progress = flight.progress.clone();
    // Wait for the remote's answer: a failure before any byte is a 404, as pulpcore answers
    // when no remote artifact could be fetched (the reason goes to the log).
    let state = match progress.wait_for(|p| p.stage != Stage::Opening).await {
        Ok(p) => p.clone(),
        Err(_) => return fetch_failed("download abandoned"),
    };
    if let Stage::Failed(reason) = &state.stage {
        return fetch_failed(reason);
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, kind);
    if let Some(length) = state.length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    let body = stream::unfold(
        (flight, progress, 0u64, false),
        |(flight, mut progress, position, finished)| async move {
            if finished {
                return None;
            }
            loop {
                let state = progress.borrow_and_update().clone();
                let available = match &state.stage {
                    Stage::Done => state.written,
                    Stage::Failed(reason) => {
                        let error = std::io::Error::other(reason.clone());
                        return Some((Err(error), (flight, progress, position, true)));
                    }
                    _ => state.written.saturating_sub(1),
                };
                if position < available {
                    let len = (available - position).min(CHUNK as u64) as usize;
                    let file = flight.file.clone();
                    let read =
                        tokio::task::spawn_blocking(move || read_at(&file, position, len)).await;
                    return match read {
                        Ok(Ok(bytes)) => {
                            let next = position + bytes.len() as u64;
                            Some((Ok(bytes), (flight, progress, next, false)))
                        }
                        Ok(Err(e)) => Some((Err(e), (flight, progress, position, true))),
                        Err(e) => Some((
                            Err(std::io::Error::other(e)),
                            (flight, progress, position, true),
                        )),
                    };
                }
                if state.stage == Stage::Done {
                    return None;
                }
                if progress.changed().await.is_err() {
                    let error = std::io::Error::other("download abandoned");
                    return Some((Err(error), (flight, progress, position, true)));
                }
            }
        },
    );
    (StatusCode::OK, headers, Body::from_stream(body)).into_response()
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, position: u64, len: usize) -> std::io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buffer = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = file.read_at(&mut buffer[filled..], position + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buffer.truncate(filled);
    Ok(Bytes::from(buffer))
}

#[cfg(not(unix))]
fn read_at(file: &std::fs::File, position: u64, len: usize) -> std::io::Result<Bytes> {
    use std::io::{Read, Seek};
    let mut file = file.try_clone()?;
    file.seek(std::io::SeekFrom::Start(position))?;
    let mut buffer = vec![0u8; len];
    let n = file.read(&mut buffer)?;
    buffer.truncate(n);
    Ok(Bytes::from(buffer))
}

/// `streamed`: relays the remote's body, verifying it on the way, storing nothing. The last
/// chunk is held back until the body is verified; a mismatch aborts the response.
async fn streamed(app: &App, candidates: Vec<Candidate>, kind: HeaderValue) -> Response {
    let (index, response) = match open_first(&candidates).await {
        Ok(r) => r,
        Err(reason) => return fetch_failed(&reason),
    };
    let ra = candidates[index].remote_artifact.clone();
    let expected = expected(app, &ra);
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, kind);
    if let Some(length) = expected.size.or(response.content_length) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    let mut types: Vec<_> = expected.digests.keys().copied().collect();
    if types.is_empty() {
        types.push(crate::storage::ChecksumType::Sha256);
    }
    let relay = Relay {
        upstream: response.into_stream(),
        hasher: Some(MultiHasher::new(&types)),
        held: None,
        expected,
        url: ra.url,
    };
    let body = stream::unfold(relay, |mut relay| async move {
        relay.next().await.map(|item| (item, relay))
    });
    (StatusCode::OK, headers, Body::from_stream(body)).into_response()
}

struct Relay {
    upstream: BoxStream<'static, Result<Bytes, DownloadError>>,
    hasher: Option<MultiHasher>,
    held: Option<Bytes>,
    expected: ExpectedArtifact,
    url: String,
}

impl Relay {
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            let hasher = self.hasher.as_mut()?;
            match self.upstream.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    if let Some(previous) = self.held.replace(chunk) {
                        return Some(Ok(previous));
                    }
                }
                Some(Err(e)) => {
                    self.hasher = None;
                    return Some(Err(std::io::Error::other(e.to_string())));
                }
                None => {
                    let hasher = self.hasher.take()?;
                    let size = hasher.size();
                    let digests = hasher.finish();
                    return match self.expected.verify(size, &digests) {
                        Ok(()) => self.held.take().map(Ok),
                        Err(e) => {
                            tracing::warn!(url = %self.url, error = %e, "streamed content failed verification");
                            Some(Err(std::io::Error::other(format!("{}: {e}", self.url))))
                        }
                    };
                }
            }
        }
    }
}
