//! Responses for stored artifacts: headers, conditional requests, ranges, bodies streamed
//! from the local disk or object storage (or a redirect to a presigned URL).

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::http::{
    header_str, parse_range, truncate_to_seconds, ByteRange, RangeRequest, Validators,
};
use super::resolve::ArtifactFile;
use crate::app::App;

/// Files up to this size are read in one piece (one blocking read, one body chunk).
const SMALL_FILE: u64 = 256 * 1024;
/// Read size of streamed files.
const CHUNK: usize = 1024 * 1024;
/// Lifetime of presigned object-storage URLs (Pulp's default `querystring_expire`).
const PRESIGNED_FOR: Duration = Duration::from_secs(3600);

type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// `Content-Type` of a file by its name's extension (as pulpcore's content app gives it).
pub fn content_type(name: &str) -> HeaderValue {
    super::mime::content_type(name)
}

/// A short plain-text response.
pub fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    let mut text = text.into();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// What the responses for one file need, computed once (and cached with the file).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The artifact.
    pub artifact: ArtifactFile,
    /// Its bytes, when small and already read.
    pub bytes: Option<Bytes>,
    validators: Validators,
    common: HeaderMap,
    content_type: HeaderValue,
}

impl Prepared {
    /// The headers of `artifact` served as the file `name`.
    pub fn new(artifact: ArtifactFile, name: &str, bytes: Option<Bytes>) -> Self {
        let validators = Validators {
            etag: format!("\"{}\"", artifact.sha256),
            last_modified: truncate_to_seconds(artifact.created.into()),
        };
        let mut common = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&validators.etag) {
            common.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&validators.last_modified_header()) {
            common.insert(header::LAST_MODIFIED, v);
        }
        common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        Self {
            artifact,
            bytes,
            validators,
            common,
            content_type: content_type(name),
        }
    }
}

/// Serves a stored artifact.
pub async fn serve_artifact(
    app: &App,
    head: bool,
    headers: &HeaderMap,
    prepared: &Prepared,
) -> Response {
    let artifact = &prepared.artifact;
    let validators = &prepared.validators;
    let mut common = prepared.common.clone();
    if validators.not_modified(headers) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    if app.settings().storage.redirect_to_object_storage {
        match app
            .storage()
            .presigned_url(&artifact.file, PRESIGNED_FOR)
            .await
        {
            Ok(Some(url)) => {
                return match HeaderValue::from_str(url.as_str()) {
                    Ok(location) => {
                        (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
                    }
                    Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "500: Bad presigned URL"),
                };
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "presigning failed");
                return plain(StatusCode::BAD_GATEWAY, "502: Storage unavailable");
            }
        }
    }
    let size = artifact.size;
    let kind = prepared.content_type.clone();
    let ranges = match header_str(headers, header::RANGE) {
        Some(value) if validators.range_applies(headers) => parse_range(value, size),
        _ => RangeRequest::Full,
    };
    let source = match prepared.bytes.clone() {
        Some(bytes) => Source::Memory(bytes),
        None => Source::new(app, &artifact.file),
    };
    if let (Source::Local(path), false) = (&source, head) {
        // A missing file is a 404 before the status line is sent, not an aborted 200.
        if let Err(e) = tokio::fs::metadata(path).await {
            return storage_failure(e);
        }
    }
    match ranges {
        RangeRequest::Unsatisfiable => {
            common.insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes */{size}")),
            );
            (StatusCode::RANGE_NOT_SATISFIABLE, common, Body::empty()).into_response()
        }
        RangeRequest::Full => {
            common.insert(header::CONTENT_TYPE, kind);
            common.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            let body = if head {
                Body::empty()
            } else if size <= SMALL_FILE {
                match source.read_small(size).await {
                    Ok(bytes) => Body::from(bytes),
                    Err(e) => return storage_failure(e),
                }
            } else {
                Body::from_stream(source.range(0, size))
            };
            (StatusCode::OK, common, body).into_response()
        }
        RangeRequest::Partial(ranges) if ranges.len() == 1 => {
            let range = ranges[0];
            common.insert(header::CONTENT_TYPE, kind);
            common.insert(header::CONTENT_LENGTH, HeaderValue::from(range.len()));
            common.insert(
                header::CONTENT_RANGE,
                header_value(range.content_range(size)),
            );
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(source.range(range.start, range.len()))
            };
            (StatusCode::PARTIAL_CONTENT, common, body).into_response()
        }
        RangeRequest::Partial(ranges) => {
            let boundary = format!("{:032x}", rand::random::<u128>());
            let parts = multipart_parts(&ranges, size, &kind, &boundary);
            let length: u64 = parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.len() as u64,
                    Part::Range(r) => r.len(),
                })
                .sum();
            common.insert(
                header::CONTENT_TYPE,
                header_value(format!("multipart/byteranges; boundary={boundary}")),
            );
            common.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            let body = if head {
                Body::empty()
            } else {
                let body = stream::iter(parts)
                    .map(move |part| match part {
                        Part::Text(t) => stream::once(async move { Ok(t) }).boxed(),
                        Part::Range(r) => source.range(r.start, r.len()),
                    })
                    .flatten();
                Body::from_stream(body)
            };
            (StatusCode::PARTIAL_CONTENT, common, body).into_response()
        }
    }
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn storage_failure(e: std::io::Error) -> Response {
    if e.kind() == std::io::ErrorKind::NotFound {
        tracing::warn!(error = %e, "artifact missing from storage");
        plain(StatusCode::NOT_FOUND, "404: Not Found")
    } else {
        tracing::warn!(error = %e, "reading an artifact failed");
        plain(StatusCode::INTERNAL_SERVER_ERROR, "500: Storage error")
    }
}

enum Part {
    Text(Bytes),
    Range(ByteRange),
}

fn multipart_parts(
    ranges: &[ByteRange],
    size: u64,
    kind: &HeaderValue,
    boundary: &str,
) -> Vec<Part> {
    let kind = kind.to_str().unwrap_or("application/octet-stream");
    let mut parts = Vec::with_capacity(ranges.len() * 2 + 1);
    for (i, range) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        parts.push(Part::Text(Bytes::from(format!(
            "{lead}--{boundary}\r\nContent-Type: {kind}\r\nContent-Range: {}\r\n\r\n",
            range.content_range(size)
        ))));
        parts.push(Part::Range(*range));
    }
    parts.push(Part::Text(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
    parts
}

/// `len` bytes from `start` of a local file, mapped on the blocking pool in large chunks
/// (no copy before the socket's).
fn local_range(path: std::path::PathBuf, start: u64, len: u64) -> ByteStream {
    struct Reading {
        file: Option<std::fs::File>,
        path: std::path::PathBuf,
        position: u64,
        remaining: u64,
    }
    let state = Reading {
        file: None,
        path,
        position: start,
        remaining: len,
    };
    stream::unfold(state, |mut state| async move {
        if state.remaining == 0 {
            return None;
        }
        let want = state.remaining.min(CHUNK as u64);
        let file = state.file.take();
        let path = state.path.clone();
        let position = state.position;
        let read =
            tokio::task::spawn_blocking(move || -> std::io::Result<(std::fs::File, Bytes)> {
                let file = match file {
                    Some(file) => file,
                    None => std::fs::File::open(&path)?,
                };
                let buffer = map_chunk(&file, position, want)?;
                Ok((file, buffer))
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        match read {
            Ok((_, buffer)) if buffer.is_empty() => {
                state.remaining = 0;
                let error = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "artifact is shorter than recorded",
                );
                Some((Err(error), state))
            }
            Ok((file, buffer)) => {
                state.file = Some(file);
                state.position += buffer.len() as u64;
                state.remaining -= buffer.len() as u64;
                Some((Ok(buffer), state))
            }
            Err(e) => {
                state.remaining = 0;
                Some((Err(e), state))
            }
        }
    })
    .boxed()
}

/// `len` bytes at `position` of a stored artifact, mapped from the page cache (all pages
/// at once): sending them copies once, from the page cache into the socket.
fn map_chunk(file: &std::fs::File, position: u64, len: u64) -> std::io::Result<Bytes> {
    let size = file.metadata()?.len();
    if position >= size {
        return Ok(Bytes::new());
    }
    let len = len.min(size - position) as usize;
    // SAFETY: artifacts are immutable once stored (content-addressed, written once through a
    // staging file and an atomic link, never modified in place); removing one unlinks it,
    // which leaves existing mappings valid.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(position)
            .len(len)
            .populate()
            .map(file)?
    };
    Ok(Bytes::from_owner(map))
}

/// The bytes of a small stored artifact.
pub async fn read_small(app: &App, artifact: &ArtifactFile) -> Result<Bytes, std::io::Error> {
    Source::new(app, &artifact.file)
        .read_small(artifact.size)
        .await
}

/// Where an artifact's bytes come from.
#[derive(Clone)]
enum Source {
    Memory(Bytes),
    Local(std::path::PathBuf),
    Object {
        store: std::sync::Arc<dyn object_store::ObjectStore>,
        location: object_store::path::Path,
    },
}

impl Source {
    fn new(app: &App, key: &str) -> Self {
        let storage = app.storage();
        match storage.local_root() {
            Some(root) => Source::Local(root.join(key)),
            None => Source::Object {
                store: storage.object_store(),
                location: storage.key(key),
            },
        }
    }

    async fn read_small(&self, size: u64) -> Result<Bytes, std::io::Error> {
        match self {
            Source::Memory(bytes) => Ok(bytes.clone()),
            Source::Local(path) => {
                let path = path.clone();
                let data = tokio::task::spawn_blocking(move || std::fs::read(path))
                    .await
                    .map_err(std::io::Error::other)??;
                Ok(Bytes::from(data))
            }
            Source::Object { .. } => {
                let mut out = Vec::with_capacity(size as usize);
                let mut body = self.range(0, size);
                while let Some(chunk) = body.next().await {
                    out.extend_from_slice(&chunk?);
                }
                Ok(Bytes::from(out))
            }
        }
    }

    /// `len` bytes from `start`.
    fn range(&self, start: u64, len: u64) -> ByteStream {
        match self.clone() {
            Source::Memory(bytes) => {
                let start = (start as usize).min(bytes.len());
                let end = start.saturating_add(len as usize).min(bytes.len());
                stream::once(async move { Ok(bytes.slice(start..end)) }).boxed()
            }
            Source::Local(path) => local_range(path, start, len),
            Source::Object { store, location } => stream::once(async move {
                let options = object_store::GetOptions {
                    range: Some(object_store::GetRange::Bounded(start..start + len)),
                    ..Default::default()
                };
                let result = store
                    .get_opts(&location, options)
                    .await
                    .map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(result.into_stream().map_err(std::io::Error::other))
            })
            .try_flatten()
            .boxed(),
        }
    }
}
