//! Start-up: bad settings stop the process with one clear line; good ones serve `/status/`.

mod support;

use std::time::Duration;

use pulp_core::testing::{scratch_dir, TestDatabase};
use support::{binary, binary_in, free_port, run_with_limit, Server};

/// Runs `serve` with one bad setting; it must exit non-zero with one line naming the setting.
/// Every listener gets its own free port (unless `var` is its setting), so the refusal is
/// the bad setting's, never a default port that something else on the machine holds.
fn assert_refused(var: &str, value: &str, named: &str) {
    let dir = scratch_dir();
    let mut command = binary_in(dir.path());
    command
        .arg("serve")
        .env("PULP_API_BIND", format!("127.0.0.1:{}", free_port()))
        .env("PULP_CONTENT_BIND", format!("127.0.0.1:{}", free_port()))
        .env(var, value);
    let output = run_with_limit(command, Duration::from_secs(40));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{var}={value}: started anyway");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{var}={value}: killed rather than refused:\n{stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("pulp-server: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{var}={value}: expected one error line, got:\n{stderr}"
    );
    assert!(
        errors[0].contains(named),
        "{var}={value}: '{}' does not name {named}",
        errors[0]
    );
}

#[test]
fn start_up_refuses_bad_settings_with_one_line_naming_them() {
    assert_refused(
        "PULP_ALLOWED_CONTENT_CHECKSUMS",
        "[\"sha256\",\"crc32\"]",
        "allowed_content_checksums (PULP_ALLOWED_CONTENT_CHECKSUMS)",
    );
    assert_refused(
        "PULP_CONTENT_ORIGIN",
        "http//missing-colon",
        "content_origin (PULP_CONTENT_ORIGIN)",
    );
    assert_refused(
        "PULP_DATABASE_URL",
        "postgres://postgres@127.0.0.1:1/test",
        "database_url (PULP_DATABASE_URL)",
    );
    assert_refused(
        "PULP_DATABASE_URL",
        "sqlite:///dev/null/x/pulp.db",
        "database_url (PULP_DATABASE_URL)",
    );
    assert_refused(
        "PULP_DATA_DIR",
        "/dev/null/pulp",
        "data_dir (PULP_DATA_DIR)",
    );
    assert_refused(
        "PULP_SETTINGS",
        "/nonexistent/settings.toml",
        "PULP_SETTINGS",
    );
    assert_refused(
        "PULP_API_BIND",
        "127.0.0.1:99999",
        "api_bind (PULP_API_BIND)",
    );
}

#[test]
fn a_port_in_use_is_refused_naming_the_bind_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    assert_refused(
        "PULP_CONTENT_BIND",
        &format!("127.0.0.1:{port}"),
        "content_bind (PULP_CONTENT_BIND)",
    );
}

#[test]
fn version_is_printed() {
    let output = run_with_limit(
        {
            let mut c = binary();
            c.arg("--version");
            c
        },
        Duration::from_secs(10),
    );
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("pulp-server {}", env!("CARGO_PKG_VERSION"))
    );
}

async fn serve_answers_status_and_stops_cleanly(t: &TestDatabase) {
    let (dir, url) = (t.dir.path().to_path_buf(), t.url.clone());
    let command = move || {
        let mut command = binary_in(&dir);
        command
            .env("PULP_DATABASE_URL", &url)
            .env("PULP_WORKER_TTL", "3");
        command
    };
    let mut server = Server::start(command, "serve");
    let status = server.wait_ready().await;

    let versions = status["versions"].as_array().expect("versions");
    let components: Vec<&str> = versions
        .iter()
        .filter_map(|v| v["component"].as_str())
        .collect();
    assert_eq!(components, ["core", "certguard", "file", "container"]);
    for version in versions {
        assert_eq!(version["version"], pulp_core::plugin::PULP_API_VERSION);
        assert!(version["package"]
            .as_str()
            .is_some_and(|p| p.ends_with(env!("CARGO_PKG_VERSION"))));
        assert_eq!(
            version["package_version"],
            env!("CARGO_PKG_VERSION"),
            "the crate's own release, apart from the API level"
        );
        assert!(version["module"].is_string() && version["domain_compatible"].is_boolean());
    }
    assert_eq!(status["database_connection"]["connected"], true);
    let pid_name = format!("{}@", server.child.id());
    for list in ["online_workers", "online_api_apps", "online_content_apps"] {
        let apps = status[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} missing"));
        assert_eq!(apps.len(), 1, "{list}: {apps:?}");
        assert!(
            apps[0]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&pid_name)),
            "{list}: {apps:?}"
        );
        let heartbeat = apps[0]["last_heartbeat"].as_str().unwrap_or_default();
        // Pulp's format: microseconds and a Z, e.g. 2026-01-02T03:04:05.123456Z.
        assert_eq!(heartbeat.len(), 27, "{heartbeat}");
        assert!(
            heartbeat.ends_with('Z') && heartbeat.as_bytes()[19] == b'.',
            "{heartbeat}"
        );
    }
    assert!(status["storage"]["total"].as_u64().is_some_and(|t| t > 0));
    assert!(status["storage"]["free"].is_u64() && status["storage"]["used"].is_u64());
    assert_eq!(
        status["content_settings"]["content_path_prefix"],
        "/pulp/content/"
    );
    assert_eq!(status["content_settings"]["content_origin"], server.content);

    let client = reqwest::Client::new();
    // Field selection as Pulp does it.
    let only: serde_json::Value = client
        .get(format!(
            "{}/pulp/api/v3/status/?fields=versions,storage&exclude_fields=storage",
            server.api
        ))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        only.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["versions".to_string()])
    );
    // Unknown API paths are a JSON 404; the content app answers its root.
    let missing = client
        .get(format!("{}/pulp/api/v3/nothing-here/", server.api))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<serde_json::Value>().await.expect("json")["detail"],
        "Not found."
    );
    let root = client
        .get(format!("{}/pulp/content/", server.content))
        .send()
        .await
        .expect("get");
    assert_eq!(root.status(), 200);

    // Heartbeats keep the processes online past the TTL.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later: serde_json::Value = client
        .get(format!("{}/pulp/api/v3/status/", server.api))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        later["online_workers"].as_array().map(Vec::len),
        Some(1),
        "{later}"
    );

    // SIGTERM: a clean exit that removes this process's heartbeat records.
    let exit = server.terminate();
    assert!(exit.success(), "exit status {exit}");
    let remaining: i64 = pulp_core::on_pool!(&t.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM core_appstatus").fetch_one(pool).await.expect("count")
    });
    assert_eq!(
        remaining, 0,
        "heartbeat records left after a clean shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_sqlite() {
    let t = TestDatabase::sqlite().await;
    serve_answers_status_and_stops_cleanly(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres() {
    let Some(t) = TestDatabase::postgres().await else {
        return;
    };
    serve_answers_status_and_stops_cleanly(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_on_embedded_defaults_with_no_set_up() {
    // No database URL, no storage settings: SQLite and a local directory under ./pulp-data.
    let dir = scratch_dir();
    let path = dir.path().to_path_buf();
    let command = move || {
        let mut command = binary();
        command.current_dir(&path);
        command
    };
    let mut server = Server::start(command, "serve");
    let status = server.wait_ready().await;
    assert_eq!(status["database_connection"]["connected"], true);
    assert!(dir.path().join("pulp-data/pulp.db").exists());
    assert!(dir.path().join("pulp-data/media").is_dir());
    assert!(server.terminate().success());
    let mut stdout = String::new();
    if let Some(mut out) = server.child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut stdout);
    }
    assert!(
        stdout.contains("Created user 'admin' with password: "),
        "no admin password printed: {stdout}"
    );
}
