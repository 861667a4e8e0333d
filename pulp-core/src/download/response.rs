//! [`DownloadResponse`]: a response whose headers arrived, its body still to stream.

use bytes::Bytes;
use futures::stream::BoxStream;
use tokio::sync::OwnedSemaphorePermit;

use super::DownloadError;

/// A successful (2xx) response whose body has not been read yet. It holds one of the
/// remote's concurrency slots until it, or its body stream, is dropped.
#[derive(Debug)]
pub struct DownloadResponse {
    /// The HTTP status.
    pub status: u16,
    /// `Content-Length`, if the server sent one.
    pub content_length: Option<u64>,
    /// `Content-Type`, if the server sent one.
    pub content_type: Option<String>,
    /// The URL asked for.
    pub url: String,
    response: reqwest::Response,
    /// Body bytes received so far (counted in the metrics when dropped).
    received: u64,
    /// Held until the response (or its stream) is dropped.
    _permit: OwnedSemaphorePermit,
}

impl DownloadResponse {
    pub(crate) fn new(
        url: &str,
        response: reqwest::Response,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Self {
            status: response.status().as_u16(),
            content_length: response.content_length(),
            content_type,
            url: url.to_string(),
            response,
            received: 0,
            _permit: permit,
        }
    }

    /// A response header, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
    }

    /// The next piece of the body (`None` at its end).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, DownloadError> {
        let url = &self.url;
        let chunk = self
            .response
            .chunk()
            .await
            .map_err(|e| DownloadError::from_reqwest(url, &e))?;
        if let Some(bytes) = &chunk {
            self.received += bytes.len() as u64;
        }
        Ok(chunk)
    }

    /// The body as a stream of chunks (errors name the URL; no retry mid-body).
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, DownloadError>> {
        Box::pin(futures::stream::unfold(Some(self), |state| async move {
            let mut response = state?;
            match response.chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), Some(response))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        }))
    }
}

impl Drop for DownloadResponse {
    fn drop(&mut self) {
        // Once per response rather than per chunk: the metric costs nothing on the hot path.
        if self.received > 0 {
            metrics::counter!(crate::observe::names::DOWNLOAD_BYTES).increment(self.received);
        }
    }
}
