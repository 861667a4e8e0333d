//! [`TestServer`]: a small HTTP/1.1 server on loopback for tests and benchmarks of
//! downloads (it also answers as a forward proxy: `GET http://any.host/path` serves `/path`). It serves files from a directory and, per path, scripted replies that
//! reproduce faults real servers have: error statuses, bodies cut short, stalls, resets.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the server does for a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this body.
    Ok(Bytes),
    /// This status with an empty body.
    Status(u16),
    /// 200 announcing `declared` bytes, sending `body`, then closing the connection.
    Truncated {
        /// The announced `Content-Length`.
        declared: u64,
        /// What is really sent.
        body: Bytes,
    },
    /// 200 announcing `declared` bytes, sending `body`, then sending nothing more for a minute.
    Stall {
        /// The announced `Content-Length`.
        declared: u64,
        /// What is sent before the stall.
        body: Bytes,
    },
    /// 200 announcing `declared` bytes, sending `body`, then resetting the connection (RST).
    Reset {
        /// The announced `Content-Length`.
        declared: u64,
        /// What is sent before the reset.
        body: Bytes,
    },
}

#[derive(Debug, Default)]
struct State {
    root: Option<PathBuf>,
    fixed: HashMap<String, Reply>,
    queued: HashMap<String, VecDeque<Reply>>,
    hits: HashMap<String, usize>,
    headers: HashMap<String, Vec<(String, String)>>,
}

/// An HTTP server on `127.0.0.1` (stopped when dropped).
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// A server with no files (only the replies set with [`TestServer::set`]).
    pub async fn start() -> TestServer {
        Self::start_with(None).await
    }

    /// A server of the files under `root` (`GET /a/b` reads `root/a/b`).
    pub async fn serving(root: impl Into<PathBuf>) -> TestServer {
        Self::start_with(Some(root.into())).await
    }

    async fn start_with(root: Option<PathBuf>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind a test server: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        let state = Arc::new(Mutex::new(State {
            root,
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(stream, state).await;
                });
            }
        });
        TestServer { addr, state, task }
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers every request for `path` with `reply`.
    pub fn set(&self, path: &str, reply: Reply) {
        self.lock().fixed.insert(normalize(path), reply);
    }

    /// Answers the next request for `path` with `reply` (queued replies go first, in order).
    pub fn push(&self, path: &str, reply: Reply) {
        self.lock()
            .queued
            .entry(normalize(path))
            .or_default()
            .push_back(reply);
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        self.lock().hits.get(&normalize(path)).copied().unwrap_or(0)
    }

    /// How many requests all paths got.
    pub fn total_hits(&self) -> usize {
        self.lock().hits.values().sum()
    }

    /// The headers (lower-case names) of the last request for `path`.
    pub fn last_headers(&self, path: &str) -> Vec<(String, String)> {
        self.lock()
            .headers
            .get(&normalize(path))
            .cloned()
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn normalize(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn reply_for(state: &Mutex<State>, path: &str, headers: Vec<(String, String)>) -> Reply {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    *state.hits.entry(path.to_string()).or_default() += 1;
    state.headers.insert(path.to_string(), headers);
    if let Some(reply) = state.queued.get_mut(path).and_then(VecDeque::pop_front) {
        return reply;
    }
    if let Some(reply) = state.fixed.get(path) {
        return reply.clone();
    }
    let Some(root) = &state.root else {
        return Reply::Status(404);
    };
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|p| p == ".." || p.is_empty()) {
        return Reply::Status(404);
    }
    match std::fs::read(root.join(relative)) {
        Ok(data) => Reply::Ok(Bytes::from(data)),
        Err(_) => Reply::Status(404),
    }
}

/// Decodes `%xx` escapes of a request path.
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let raw_path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let raw_path = raw_path.split('?').next().unwrap_or("/");
        // A proxy request names the whole URL (`GET http://host/path`): keep the path.
        let raw_path = match raw_path.split_once("://") {
            Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
            None => raw_path,
        };
        let path = percent_decode(raw_path);
        let head_only = request_line.starts_with("HEAD ");
        let reply = reply_for(&state, &path, headers);
        let stream = reader.get_mut();
        match reply {
            Reply::Ok(body) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/octet-stream\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await?;
                if !head_only {
                    stream.write_all(&body).await?;
                }
            }
            Reply::Status(code) => {
                let head = format!("HTTP/1.1 {code} Status\r\ncontent-length: 0\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
            }
            Reply::Truncated { declared, body } => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {declared}\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await?;
                stream.flush().await?;
                return Ok(());
            }
            Reply::Stall { declared, body } => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {declared}\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_secs(60)).await;
                return Ok(());
            }
            Reply::Reset { declared, body } => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {declared}\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                stream.set_zero_linger()?;
                return Ok(());
            }
        }
        stream.flush().await?;
    }
}
