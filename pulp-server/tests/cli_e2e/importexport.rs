//! pulp-cli's `exporter pulp`, `export pulp`, `importer pulp` and `upstream-pulp` commands
//! (every command with its options; pulp-cli 0.41 has no `import` or filesystem-exporter
//! commands: imports go through the REST API) against two real `pulp-server serve`
//! processes: an export imported into the second, and the second replicating the first.

use std::path::Path;

use pulp_core::testing::TestDatabase;
use serde_json::{json, Value};

use super::support::{fixture, start_server_with, PASSWORD};
use super::{s, Cli};

fn cli_for(program: &Path, api: &str) -> Cli {
    Cli {
        program: program.to_path_buf(),
        home: pulp_core::testing::scratch_dir(),
        api: api.to_string(),
    }
}

/// `pulp` answers with a list: its length.
fn len(v: &Value) -> usize {
    v.as_array()
        .map(Vec::len)
        .unwrap_or_else(|| panic!("not a list: {v}"))
}

fn post(api: &str, path: &str, body: Value) -> Value {
    let response = reqwest::blocking::Client::new()
        .post(format!("{api}{path}"))
        .basic_auth("admin", Some(PASSWORD))
        .json(&body)
        .send()
        .expect("post");
    assert!(
        response.status().is_success(),
        "POST {path}: {}",
        response.status()
    );
    response.json().expect("json")
}

fn get(api: &str, path: &str) -> Value {
    reqwest::blocking::Client::new()
        .get(format!("{api}{path}"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("get")
        .json()
        .expect("json")
}

/// Waits for the tasks of a task group to end; their states.
fn wait_group(api: &str, href: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let group = get(api, href);
        let done = group["all_tasks_dispatched"] == true
            && group["waiting"].as_u64() == Some(0)
            && group["running"].as_u64() == Some(0);
        if done {
            let mut states = Vec::new();
            for task in group["tasks"].as_array().expect("tasks") {
                let task = get(api, task["pulp_href"].as_str().expect("href"));
                states.push(format!(
                    "{} {} {}",
                    task["name"], task["state"], task["error"]
                ));
            }
            return states;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task group did not end: {group}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub(crate) fn workflow(program: &Path, first: &TestDatabase, second: &TestDatabase) {
    let exchange = first.dir.path().join("exchange");
    std::fs::create_dir_all(&exchange).expect("mkdir");
    let allowed = format!("[\"{}\"]", exchange.display());
    let settings = move |c: &mut std::process::Command| {
        c.env("PULP_ALLOWED_EXPORT_PATHS", &allowed)
            .env("PULP_ALLOWED_IMPORT_PATHS", &allowed);
    };
    let up = start_server_with(first, settings.clone());
    let down = start_server_with(second, settings);
    let files = fixture(4);
    let upc = cli_for(program, &up.api);
    let downc = cli_for(program, &down.api);

    // The upstream: a synced repository, published and distributed.
    upc.json(&[
        "file",
        "remote",
        "create",
        "--name",
        "r",
        "--url",
        &files.manifest_url,
        "--policy",
        "immediate",
    ]);
    upc.json(&[
        "file",
        "repository",
        "create",
        "--name",
        "repo",
        "--remote",
        "r",
    ]);
    upc.json(&["file", "repository", "sync", "--repository", "repo"]);
    let publication = upc.json(&["file", "publication", "create", "--repository", "repo"]);
    upc.json(&[
        "file",
        "distribution",
        "create",
        "--name",
        "dist",
        "--base-path",
        "e2e/dist",
        "--publication",
        s(&publication, "pulp_href"),
    ]);

    // exporter pulp: create, list, show, update, (destroy at the end).
    let out = exchange.join("out");
    let exporter = upc.json(&[
        "exporter",
        "pulp",
        "create",
        "--name",
        "e",
        "--path",
        out.to_str().expect("path"),
        "--repository",
        "file:file:repo",
    ]);
    assert_eq!(len(&exporter["repositories"]), 1, "{exporter}");
    let exporter_href = s(&exporter, "pulp_href").to_string();
    assert_eq!(
        len(&upc.json(&["exporter", "pulp", "list", "--name", "e"])),
        1
    );
    assert_eq!(
        upc.json(&["exporter", "pulp", "show", "--name", "e"])["path"],
        out.to_str().expect("path")
    );
    let repo_href = exporter["repositories"][0]
        .as_str()
        .expect("href")
        .to_string();
    upc.json(&[
        "exporter",
        "pulp",
        "update",
        "--href",
        &exporter_href,
        "--path",
        out.to_str().expect("path"),
        "--repository-href",
        &repo_href,
    ]);
    let refused = upc.run(&[
        "exporter",
        "pulp",
        "create",
        "--name",
        "bad",
        "--path",
        "/etc/pulp-e2e",
        "--repository",
        "file:file:repo",
    ]);
    assert!(refused
        .expect_err("outside the allowed paths")
        .contains("not an allowed export path"));

    // export pulp: run (full, chunked, a given version), list, show, destroy.
    upc.json(&[
        "export",
        "pulp",
        "run",
        "--exporter",
        "e",
        "--full",
        "true",
        "--chunk-size",
        "1KB",
        "--versions",
        "file:file:repo",
        "1",
    ]);
    let exports = upc.json(&[
        "export",
        "pulp",
        "list",
        "--exporter",
        "e",
        "--limit",
        "5",
        "--offset",
        "0",
    ]);
    assert_eq!(len(&exports), 1, "{exports}");
    let export = upc.json(&[
        "export",
        "pulp",
        "show",
        "--href",
        s(&exports[0], "pulp_href"),
    ]);
    let toc = s(&export["toc_info"], "file").to_string();
    assert!(toc.ends_with("-toc.json"), "{export}");
    // An incremental one, from the same version.
    upc.json(&[
        "export",
        "pulp",
        "run",
        "--exporter",
        "e",
        "--full",
        "false",
        "--start-versions",
        "file:file:repo",
        "1",
        "--versions",
        "file:file:repo",
        "1",
    ]);
    let exports = upc.json(&["export", "pulp", "list", "--exporter", "e"]);
    assert_eq!(len(&exports), 2, "{exports}");
    upc.json(&[
        "export",
        "pulp",
        "destroy",
        "--href",
        s(&exports[0], "pulp_href"),
    ]);
    assert_eq!(
        len(&upc.json(&["export", "pulp", "list", "--exporter", "e"])),
        1
    );

    // importer pulp on the second server: create (with a map), list, show, update, destroy.
    downc.json(&["file", "repository", "create", "--name", "dest"]);
    let importer = downc.json(&[
        "importer",
        "pulp",
        "create",
        "--name",
        "i",
        "--repo-map",
        "repo",
        "dest",
    ]);
    assert_eq!(importer["repo_mapping"], json!({"repo": "dest"}));
    assert_eq!(
        len(&downc.json(&["importer", "pulp", "list", "--name", "i"])),
        1
    );
    downc.json(&["importer", "pulp", "show", "--name", "i"]);
    downc.json(&["file", "repository", "create", "--name", "dest2"]);
    let updated = downc.json(&[
        "importer",
        "pulp",
        "update",
        "--name",
        "i",
        "--repo-map",
        "repo",
        "dest2",
    ]);
    assert_eq!(
        updated["repo_mapping"],
        json!({"repo": "dest2"}),
        "{updated}"
    );
    let refused = downc.run(&[
        "importer",
        "pulp",
        "create",
        "--name",
        "j",
        "--repo-map",
        "repo",
        "missing",
    ]);
    assert!(refused
        .expect_err("a missing repository")
        .contains("missing"));
    // The import itself (REST: pulp-cli 0.41 has no import command), from the toc.
    let answer = post(
        &down.api,
        &format!("{}imports/", s(&importer, "pulp_href")),
        json!({"toc": toc}),
    );
    let states = wait_group(&down.api, s(&answer, "task_group"));
    assert!(
        states.iter().all(|st| st.contains("\"completed\"")),
        "{states:?}"
    );
    let content = downc.json(&[
        "file",
        "repository",
        "content",
        "list",
        "--repository",
        "dest2",
    ]);
    assert_eq!(len(&content), files.files.len(), "{content}");
    downc.json(&["importer", "pulp", "destroy", "--name", "i"]);
    assert_eq!(len(&downc.json(&["importer", "pulp", "list"])), 0);
    upc.json(&["exporter", "pulp", "destroy", "--name", "e"]);
    assert_eq!(len(&upc.json(&["exporter", "pulp", "list"])), 0);

    // upstream-pulp: create (every option), list, show, update, replicate, destroy.
    let made = downc.json(&[
        "upstream-pulp",
        "create",
        "--name",
        "up",
        "--base-url",
        &up.api,
        "--api-root",
        "/pulp/",
        "--username",
        "admin",
        "--password",
        PASSWORD,
        "--tls-validation",
        "--q-select",
        "name=\"dist\"",
        "--policy",
        "labeled",
    ]);
    assert_eq!(made["policy"], "labeled", "{made}");
    assert!(made.get("password").is_none(), "{made}");
    assert_eq!(len(&downc.json(&["upstream-pulp", "list"])), 1);
    let shown = downc.json(&["upstream-pulp", "show", "--upstream-pulp", "up"]);
    assert_eq!(shown["q_select"], "name=\"dist\"");
    downc.json(&[
        "upstream-pulp",
        "update",
        "--upstream-pulp",
        "up",
        "--policy",
        "nodelete",
        "--no-tls-validation",
        "--q-select",
        "",
    ]);
    let shown = downc.json(&["upstream-pulp", "show", "--upstream-pulp", "up"]);
    assert_eq!(shown["policy"], "nodelete", "{shown}");
    assert_eq!(shown["tls_validation"], false, "{shown}");
    downc.json(&[
        "upstream-pulp",
        "update",
        "--upstream-pulp",
        "up",
        "--tls-validation",
        "--policy",
        "all",
    ]);
    downc
        .run(&["upstream-pulp", "replicate", "--upstream-pulp", "up"])
        .unwrap_or_else(|e| panic!("{e}"));
    let distributions = downc.json(&["file", "distribution", "list", "--name", "dist"]);
    assert_eq!(len(&distributions), 1, "{distributions}");
    assert_eq!(distributions[0]["base_path"], "e2e/dist");
    let version = downc.json(&[
        "file",
        "repository",
        "version",
        "show",
        "--repository",
        "dist",
        "--version",
        "1",
    ]);
    assert_eq!(
        version["content_summary"]["present"]["file.file"]["count"],
        files.files.len(),
        "{version}"
    );
    // Again with a filter of its own, selecting nothing new: nothing removed.
    downc
        .run(&[
            "upstream-pulp",
            "replicate",
            "--upstream-pulp",
            "up",
            "--q-select",
            "name=\"dist\"",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        len(&downc.json(&["file", "distribution", "list", "--name", "dist"])),
        1
    );
    downc.json(&["upstream-pulp", "destroy", "--upstream-pulp", "up"]);
    assert_eq!(len(&downc.json(&["upstream-pulp", "list"])), 0);
}
