//! Running the real `pulp-server` binary in tests.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use sha2::Digest;
use std::time::{Duration, Instant};

/// The binary under test.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pulp-server"));
    // Nothing from the developer's environment leaks in.
    for (key, _) in std::env::vars() {
        if key.starts_with("PULP_") {
            command.env_remove(key);
        }
    }
    command
        .env("PULP_SETTINGS", "")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// The binary with its data dir (and so its SQLite database) in `dir`.
pub fn binary_in(dir: &Path) -> Command {
    let mut command = binary();
    command
        .current_dir(dir)
        .env("PULP_DATA_DIR", dir.join("data"));
    command
}

/// A free loopback port.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    // Chosen below Linux's ephemeral range (32768-60999): a port the system handed out free
    // from that range could go to a client connection's local end (the tests open many)
    // before the server binds it, as CI saw once. Another test may still take the same one,
    // so servers are started again on new ports when theirs was taken.
    for _ in 0..200 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 20_000 + (random % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000")
}

/// Runs a command that must end within `limit`; kills it otherwise.
pub fn run_with_limit(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start pulp-server: {e}"));
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(limit);
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    drop(watchdog);
    output
}

/// Spawns `pulp-server <role>` from `command()` with its API and content app on free ports;
/// returns the process and the two base URLs.
fn spawn_on_free_ports(command: &dyn Fn() -> Command, role: &str) -> (Child, String, String) {
    let (api_port, content_port) = (free_port(), free_port());
    let child = command()
        .arg(role)
        .env("PULP_API_BIND", format!("127.0.0.1:{api_port}"))
        .env("PULP_CONTENT_BIND", format!("127.0.0.1:{content_port}"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start: {e}"));
    (
        child,
        format!("http://127.0.0.1:{api_port}"),
        format!("http://127.0.0.1:{content_port}"),
    )
}

/// A running `pulp-server` process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub api: String,
    pub content: String,
    /// Makes the command again, to start the server on other ports.
    command: Box<dyn Fn() -> Command + Send>,
    role: String,
}

impl Server {
    /// Starts `pulp-server <role>` from `command()` on free ports, its standard output
    /// piped; [`Server::wait_ready`] waits until it answers.
    pub fn start(command: impl Fn() -> Command + Send + 'static, role: &str) -> Server {
        let command = move || {
            let mut command = command();
            command.stdout(Stdio::piped()).stderr(Stdio::inherit());
            command
        };
        let (child, api, content) = spawn_on_free_ports(&command, role);
        Server {
            child,
            api,
            content,
            command: Box::new(command),
            role: role.to_string(),
        }
    }

    /// Polls `/status/` until it answers 200 (panics after 30 s); starts the server again
    /// on other ports when it exits first (a port taken between [`free_port`] and its bind),
    /// up to five times.
    pub async fn wait_ready(&mut self) -> serde_json::Value {
        let client = reqwest::Client::new();
        let mut attempt = 1;
        let mut deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(
                    attempt < 5,
                    "pulp-server exited early with {status}, five times"
                );
                eprintln!("pulp-server exited with {status} before answering (attempt {attempt}); starting it again on other ports");
                attempt += 1;
                (self.child, self.api, self.content) =
                    spawn_on_free_ports(&self.command, &self.role);
                deadline = Instant::now() + Duration::from_secs(30);
            }
            if let Ok(response) = client
                .get(format!("{}/pulp/api/v3/status/", self.api))
                .send()
                .await
            {
                if response.status() == 200 {
                    return response
                        .json()
                        .await
                        .unwrap_or_else(|e| panic!("status body: {e}"));
                }
            }
            assert!(
                Instant::now() < deadline,
                "pulp-server did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits (at most 15 s) for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pulp-server did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin password of [`start_server`].
pub const PASSWORD: &str = "e2e-password";

/// A child process killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pulp-server serve` on free ports with the admin password [`PASSWORD`].
pub struct Serving {
    pub process: Running,
    pub api: String,
    pub content: String,
}

/// Starts `pulp-server serve` on the test database and waits until its API answers; starts
/// it again on other ports when it exits first (a port taken between [`free_port`] and the
/// server's bind).
pub fn start_server(t: &pulp_core::testing::TestDatabase) -> Serving {
    start_server_with(t, |_| {})
}

/// [`start_server`] with the command changed by `configure` (settings, where its standard
/// error goes).
pub fn start_server_with(
    t: &pulp_core::testing::TestDatabase,
    configure: impl Fn(&mut Command),
) -> Serving {
    let (dir, url) = (t.dir.path().to_path_buf(), t.url.clone());
    let command = move || {
        let mut command = binary_in(&dir);
        command
            .env("PULP_DATABASE_URL", &url)
            .env("PULP_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        configure(&mut command);
        command
    };
    for attempt in 1..=5 {
        let (child, api, content) = spawn_on_free_ports(&command, "serve");
        let mut process = Running(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let exited = loop {
            if let Ok(Some(status)) = process.0.try_wait() {
                break status;
            }
            let up = reqwest::blocking::get(format!("{api}/pulp/api/v3/status/"))
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if up {
                return Serving {
                    process,
                    api,
                    content,
                };
            }
            assert!(Instant::now() < deadline, "pulp-server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        };
        eprintln!("pulp-server exited with {exited} before answering (attempt {attempt}); starting it again on other ports");
    }
    panic!("pulp-server exited before answering, five times")
}

/// Files served over loopback by a real HTTP server (Python's), with their `PULP_MANIFEST`.
pub struct Fixture {
    _server: Running,
    pub dir: tempfile::TempDir,
    pub manifest_url: String,
    /// (relative path, sha256) of each file.
    pub files: Vec<(String, String)>,
}

pub fn fixture(count: usize) -> Fixture {
    let dir = pulp_core::testing::scratch_dir();
    let mut manifest = String::new();
    let mut files = Vec::new();
    for i in 0..count {
        let relative = format!("dir{}/file-{i}.txt", i % 3);
        let body = format!("content of file {i}\n").repeat(i + 1);
        let path = dir.path().join(&relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &body).expect("write");
        let sha = hex::encode(sha2::Sha256::digest(body.as_bytes()));
        manifest.push_str(&format!("{relative},{sha},{}\n", body.len()));
        files.push((relative, sha));
    }
    std::fs::write(dir.path().join("PULP_MANIFEST"), manifest).expect("manifest");
    let port = free_port();
    let server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let url = format!("http://127.0.0.1:{port}/PULP_MANIFEST");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(&url)
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "fixture server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Fixture {
        _server: Running(server),
        dir,
        manifest_url: url,
        files,
    }
}
