//! The real `pulp` command (pulp-cli from PyPI) against the real `pulp-server serve`, on
//! SQLite and on PostgreSQL: the file workflow of `shared/reference/PULP-API.md`.
//!
//! The `pulp` executable comes from `PULP_TEST_PULP_CLI` (`.ci/run` installs pulp-cli 0.41 in
//! a virtualenv and sets it); without it the test is skipped, except under CI.

#[path = "cli_e2e/core_api.rs"]
mod core_api;
mod support;

#[path = "cli_e2e/importexport.rs"]
mod importexport;

use std::path::{Path, PathBuf};
use std::process::Command;

use pulp_core::testing::{required_service, TestDatabase};
use serde_json::Value;
use sha2::Digest;
use support::{fixture, start_server, PASSWORD};

/// Runs `pulp` against a server, with its own config/cache directory.
pub(crate) struct Cli {
    pub(crate) program: PathBuf,
    pub(crate) home: tempfile::TempDir,
    pub(crate) api: String,
}

impl Cli {
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(&self.program)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .args([
                "--base-url",
                &self.api,
                "--username",
                "admin",
                "--password",
                PASSWORD,
            ])
            .args(["--format", "json"])
            .args(args)
            .output()
            .expect("run pulp");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "pulp {args:?} failed: {}{}",
                stdout,
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// Runs a command that must succeed, returning its JSON output (`null` for none).
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args).unwrap_or_else(|e| panic!("{e}"));
        let trimmed = out.trim();
        if trimmed.is_empty() {
            return Value::Null;
        }
        serde_json::from_str(trimmed)
            .unwrap_or_else(|e| panic!("pulp {args:?}: not JSON ({e}): {out}"))
    }
}

pub(crate) fn pulp_cli() -> Option<PathBuf> {
    required_service("PULP_TEST_PULP_CLI", "the real pulp-cli").map(PathBuf::from)
}

pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string '{key}' in {v}"))
}

fn workflow(program: &Path, t: &TestDatabase) {
    let server = start_server(t);
    let files = fixture(5);
    let cli = Cli {
        program: program.to_path_buf(),
        home: pulp_core::testing::scratch_dir(),
        api: server.api.clone(),
    };

    // pulp status
    let status = cli.json(&["status"]);
    assert!(
        status["versions"]
            .as_array()
            .is_some_and(|v| v.iter().any(|c| c["component"] == "file")),
        "{status}"
    );

    // remote and repository
    let remote = cli.json(&[
        "file",
        "remote",
        "create",
        "--name",
        "r",
        "--url",
        &files.manifest_url,
    ]);
    assert!(s(&remote, "pulp_href").starts_with("/pulp/api/v3/remotes/file/file/"));
    let repo = cli.json(&[
        "file",
        "repository",
        "create",
        "--name",
        "repo",
        "--remote",
        "r",
        "--retain-repo-versions",
        "5",
    ]);
    assert_eq!(repo["remote"], remote["pulp_href"]);
    assert_eq!(repo["retain_repo_versions"], 5);
    let listed = cli.json(&["repository", "list", "--name-contains", "rep"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // a bad request is a clear error, not a crash
    let err = cli
        .run(&["file", "repository", "create", "--name", "repo"])
        .expect_err("duplicate name must fail");
    assert!(err.contains("unique"), "{err}");

    // sync → version 1 with every file; its task carries pulp-cli's correlation id
    let cid = "e2e-cid-0123456789abcdef";
    cli.json(&[
        "--cid",
        cid,
        "file",
        "repository",
        "sync",
        "--repository",
        "repo",
    ]);
    let synced = cli.json(&["task", "list", "--name-contains", "sync", "--limit", "1"]);
    assert_eq!(synced[0]["logging_cid"], cid, "{synced}");
    let version = cli.json(&[
        "file",
        "repository",
        "version",
        "show",
        "--repository",
        "repo",
        "--version",
        "1",
    ]);
    assert_eq!(
        version["content_summary"]["present"]["file.file"]["count"],
        files.files.len(),
        "{version}"
    );
    let versions = cli.json(&[
        "file",
        "repository",
        "version",
        "list",
        "--repository",
        "repo",
    ]);
    assert_eq!(versions.as_array().map(Vec::len), Some(2));
    let content = cli.json(&[
        "file",
        "repository",
        "content",
        "list",
        "--repository",
        "repo",
    ]);
    assert_eq!(content.as_array().map(Vec::len), Some(files.files.len()));

    // upload a file as content into the repository
    let local = t.dir.path().join("upload.txt");
    std::fs::write(&local, b"uploaded through pulp-cli\n").expect("write");
    let uploaded_sha = hex::encode(sha2::Sha256::digest(b"uploaded through pulp-cli\n"));
    cli.json(&[
        "file",
        "content",
        "upload",
        "--file",
        local.to_str().expect("path"),
        "--relative-path",
        "up/loaded.txt",
        "--repository",
        "repo",
    ]);
    let found = cli.json(&["file", "content", "list", "--sha256", &uploaded_sha]);
    assert_eq!(found[0]["relative_path"], "up/loaded.txt", "{found}");

    // artifact upload, then content from it, then add / remove
    let other = t.dir.path().join("other.txt");
    std::fs::write(&other, b"another file\n").expect("write");
    let other_sha = hex::encode(sha2::Sha256::digest(b"another file\n"));
    let artifact = cli.json(&[
        "artifact",
        "upload",
        "--file",
        other.to_str().expect("path"),
    ]);
    assert_eq!(artifact["sha256"], other_sha.as_str());
    cli.json(&[
        "file",
        "content",
        "create",
        "--sha256",
        &other_sha,
        "--relative-path",
        "other.txt",
    ]);
    cli.json(&[
        "file",
        "repository",
        "content",
        "add",
        "--repository",
        "repo",
        "--sha256",
        &other_sha,
        "--relative-path",
        "other.txt",
    ]);
    let (first_path, first_sha) = &files.files[0];
    cli.json(&[
        "file",
        "repository",
        "content",
        "remove",
        "--repository",
        "repo",
        "--sha256",
        first_sha,
        "--relative-path",
        first_path,
    ]);
    let latest = cli.json(&["file", "repository", "show", "--repository", "repo"]);
    let latest_version = s(&latest, "latest_version_href").to_string();
    assert!(latest_version.ends_with("/versions/4/"), "{latest}");
    let present = cli.json(&[
        "file",
        "repository",
        "content",
        "list",
        "--repository",
        "repo",
    ]);
    assert_eq!(
        present.as_array().map(Vec::len),
        Some(files.files.len() + 1)
    );

    // publish and distribute; the content app serves the files
    let publication = cli.json(&["file", "publication", "create", "--repository", "repo"]);
    let publication_href = s(&publication, "pulp_href").to_string();
    let distribution = cli.json(&[
        "file",
        "distribution",
        "create",
        "--name",
        "d",
        "--base-path",
        "d",
        "--publication",
        &publication_href,
    ]);
    assert_eq!(distribution["publication"], publication_href.as_str());
    let (path, sha) = &files.files[1];
    let body = reqwest::blocking::get(format!("{}/pulp/content/d/{path}", server.content))
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.bytes())
        .expect("download from the content app");
    assert_eq!(hex::encode(sha2::Sha256::digest(&body)), *sha);
    let manifest =
        reqwest::blocking::get(format!("{}/pulp/content/d/PULP_MANIFEST", server.content))
            .and_then(|r| r.text())
            .expect("manifest");
    assert!(manifest.contains("up/loaded.txt"), "{manifest}");

    // versions: repair and destroy
    cli.json(&[
        "file",
        "repository",
        "version",
        "repair",
        "--repository",
        "repo",
        "--version",
        "1",
    ]);
    cli.json(&[
        "file",
        "repository",
        "version",
        "destroy",
        "--repository",
        "repo",
        "--version",
        "2",
    ]);
    let versions = cli.json(&[
        "file",
        "repository",
        "version",
        "list",
        "--repository",
        "repo",
    ]);
    assert!(
        versions
            .as_array()
            .is_some_and(|v| v.iter().all(|x| x["number"] != 2)),
        "{versions}"
    );

    // tasks and workers
    let tasks = cli.json(&["task", "list", "--state", "completed"]);
    let task = tasks
        .as_array()
        .and_then(|t| t.first())
        .cloned()
        .expect("a completed task");
    let shown = cli.json(&["task", "show", "--href", s(&task, "pulp_href")]);
    assert_eq!(shown["state"], "completed");
    let workers = cli.json(&["worker", "list"]);
    assert!(workers.as_array().is_some_and(|w| !w.is_empty()));

    // orphans: an artifact nothing uses goes, the ones in use stay
    let stray = t.dir.path().join("stray.txt");
    std::fs::write(&stray, b"nobody uses me\n").expect("write");
    let stray_sha = hex::encode(sha2::Sha256::digest(b"nobody uses me\n"));
    cli.json(&[
        "artifact",
        "upload",
        "--file",
        stray.to_str().expect("path"),
    ]);
    assert_eq!(
        cli.json(&["artifact", "list", "--sha256", &stray_sha])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    cli.json(&["orphan", "cleanup", "--protection-time", "0"]);
    assert_eq!(
        cli.json(&["artifact", "list", "--sha256", &stray_sha])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        cli.json(&["artifact", "list", "--sha256", &other_sha])
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Access policies: show, customize, list the customized ones, reset.
    let viewset = ["--viewset-name", "repositories/file/file"];
    let policy = cli.json(&[&["access-policy", "show"][..], &viewset].concat());
    assert_eq!(policy["customized"], false, "{policy}");
    let statements = r#"[{"action": ["list"], "principal": "user:alice", "effect": "allow"}]"#;
    cli.json(
        &[
            &["access-policy", "update"][..],
            &viewset,
            &["--statements", statements],
        ]
        .concat(),
    );
    let customized = cli.json(&[&["access-policy", "show"][..], &viewset].concat());
    assert_eq!(customized["customized"], true, "{customized}");
    assert_eq!(customized["statements"][0]["principal"], "user:alice");
    let listed = cli.json(&["access-policy", "list", "--limit", "200"]);
    assert!(
        listed.as_array().is_some_and(|all| all.len() > 10),
        "{listed}"
    );
    cli.json(&[&["access-policy", "reset"][..], &viewset].concat());
    let reset = cli.json(&[&["access-policy", "show"][..], &viewset].concat());
    assert_eq!(reset["statements"], policy["statements"]);
    assert_eq!(reset["customized"], false);

    rbac_commands(&cli);
}

/// Users, groups, roles and role assignments through pulp-cli's commands.
fn rbac_commands(cli: &Cli) {
    let alice = cli.json(&[
        "user",
        "create",
        "--username",
        "alice",
        "--password",
        "alice-pw",
    ]);
    assert_eq!(alice["username"], "alice", "{alice}");
    assert!(alice.get("password").is_none());
    cli.json(&[
        "user",
        "update",
        "--username",
        "alice",
        "--first-name",
        "Alice",
    ]);
    assert_eq!(
        cli.json(&["user", "show", "--username", "alice"])["first_name"],
        "Alice"
    );
    assert!(cli
        .json(&["user", "list"])
        .as_array()
        .is_some_and(|u| u.len() >= 2));

    cli.json(&["group", "create", "--name", "team"]);
    cli.json(&[
        "group",
        "user",
        "add",
        "--group",
        "team",
        "--username",
        "alice",
    ]);
    let members = cli.json(&["group", "user", "list", "--group", "team"]);
    assert_eq!(members[0]["username"], "alice", "{members}");

    let owner = cli.json(&["role", "show", "--name", "file.filerepository_owner"]);
    assert_eq!(owner["locked"], true, "{owner}");
    let mine = cli.json(&[
        "role",
        "create",
        "--name",
        "syncer",
        "--permission",
        "file.sync_filerepository",
        "--permission",
        "file.view_filerepository",
    ]);
    assert_eq!(mine["locked"], false, "{mine}");
    cli.json(&[
        "role",
        "update",
        "--name",
        "syncer",
        "--description",
        "syncs",
    ]);
    let locked = cli.run(&[
        "role",
        "update",
        "--name",
        "file.filerepository_owner",
        "--description",
        "x",
    ]);
    assert!(locked.is_err(), "a locked role is refused: {locked:?}");
    let roles = cli.json(&[
        "role",
        "list",
        "--name-startswith",
        "file.filerepository",
        "--locked",
    ]);
    assert_eq!(roles.as_array().map(Vec::len), Some(3), "{roles}");

    cli.json(&[
        "user",
        "role-assignment",
        "add",
        "--username",
        "alice",
        "--role",
        "syncer",
        "--object",
        "",
    ]);
    let assigned = cli.json(&["user", "role-assignment", "list", "--username", "alice"]);
    assert_eq!(assigned[0]["role"], "syncer", "{assigned}");
    assert_eq!(assigned[0]["content_object"], Value::Null);
    cli.json(&[
        "user",
        "role-assignment",
        "remove",
        "--username",
        "alice",
        "--role",
        "syncer",
        "--object",
        "",
    ]);
    assert_eq!(
        cli.json(&["user", "role-assignment", "list", "--username", "alice"]),
        serde_json::json!([])
    );

    let repo = cli.json(&["file", "repository", "show", "--name", "repo"]);
    let repo_href = s(&repo, "pulp_href").to_string();
    cli.json(&[
        "group",
        "role-assignment",
        "add",
        "--group",
        "team",
        "--role",
        "file.filerepository_viewer",
        "--object",
        &repo_href,
    ]);
    let assigned = cli.json(&["group", "role-assignment", "list", "--group", "team"]);
    assert_eq!(
        assigned[0]["content_object"],
        serde_json::json!(repo_href),
        "{assigned}"
    );

    cli.json(&[
        "file",
        "repository",
        "role",
        "add",
        "--name",
        "repo",
        "--role",
        "file.filerepository_owner",
        "--user",
        "alice",
    ]);
    let roles = cli.json(&["file", "repository", "role", "list", "--name", "repo"]);
    let listed = roles["roles"].as_array().cloned().unwrap_or_default();
    assert!(
        listed
            .iter()
            .any(|r| r["role"] == "file.filerepository_owner"
                && r["users"]
                    .as_array()
                    .is_some_and(|u| u.contains(&serde_json::json!("alice")))),
        "{roles}"
    );
    assert!(
        listed
            .iter()
            .any(|r| r["role"] == "file.filerepository_viewer"
                && r["groups"] == serde_json::json!(["team"])),
        "{roles}"
    );
    let perms = cli.json(&[
        "file",
        "repository",
        "role",
        "my-permissions",
        "--name",
        "repo",
    ]);
    assert!(
        perms["permissions"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == "file.modify_filerepository")),
        "{perms}"
    );
    cli.json(&[
        "file",
        "repository",
        "role",
        "remove",
        "--name",
        "repo",
        "--role",
        "file.filerepository_owner",
        "--user",
        "alice",
    ]);

    cli.json(&[
        "group",
        "user",
        "remove",
        "--group",
        "team",
        "--username",
        "alice",
    ]);
    cli.json(&["group", "destroy", "--name", "team"]);
    cli.json(&["role", "destroy", "--name", "syncer"]);
    cli.json(&["user", "destroy", "--username", "alice"]);
}

#[test]
fn the_file_workflow_through_pulp_cli_on_sqlite() {
    let Some(program) = pulp_cli() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let t = runtime.block_on(TestDatabase::sqlite());
    workflow(&program, &t);
}

#[test]
fn the_file_workflow_through_pulp_cli_on_postgres() {
    let Some(program) = pulp_cli() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some(t) = runtime.block_on(TestDatabase::postgres()) else {
        return;
    };
    workflow(&program, &t);
    runtime.block_on(t.cleanup());
}

#[test]
fn export_import_and_replication_through_pulp_cli_on_sqlite() {
    let Some(program) = pulp_cli() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let first = runtime.block_on(TestDatabase::sqlite());
    let second = runtime.block_on(TestDatabase::sqlite());
    importexport::workflow(&program, &first, &second);
}

#[test]
fn export_import_and_replication_through_pulp_cli_on_postgres() {
    let Some(program) = pulp_cli() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some(first) = runtime.block_on(TestDatabase::postgres()) else {
        return;
    };
    let Some(second) = runtime.block_on(TestDatabase::postgres()) else {
        return;
    };
    importexport::workflow(&program, &first, &second);
    runtime.block_on(first.cleanup());
    runtime.block_on(second.cleanup());
}
