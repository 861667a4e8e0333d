//! pulp-cli's RBAC commands with their options, beyond the basics of `rbac_commands`:
//! every option of `user`, `role`, `group`, `user/group role-assignment` (object-level
//! too), `access-policy`, and `<resource> role` of file repositories, remotes,
//! distributions, publications, groups and tasks, then what a user who is not an
//! administrator sees and may do through pulp-cli (lists scoped, tasks of their own,
//! `created_by`). pulp-cli 0.41 has no `login` command (sessions are tested over HTTP).

use std::process::Command;

use serde_json::{json, Value};

use super::{s, Cli};

/// Runs `pulp` as `user`: its JSON output, or its error text.
fn run_as(cli: &Cli, user: (&str, &str), args: &[&str]) -> Result<Value, String> {
    let output = Command::new(&cli.program)
        .env("HOME", cli.home.path())
        .env("XDG_CONFIG_HOME", cli.home.path().join("config"))
        .env("XDG_CACHE_HOME", cli.home.path().join("cache"))
        .args([
            "--base-url",
            &cli.api,
            "--username",
            user.0,
            "--password",
            user.1,
        ])
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run pulp");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() {
        return Err(format!(
            "pulp {args:?} as {} failed: {stdout}{}",
            user.0,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let trimmed = stdout.trim();
    Ok(if trimmed.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(trimmed).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    })
}

fn len(v: &Value) -> usize {
    v.as_array()
        .map(Vec::len)
        .unwrap_or_else(|| panic!("not a list: {v}"))
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|all| {
            all.iter()
                .filter_map(|x| x[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

const BOB: (&str, &str) = ("bob", "bob-pw-1");

pub(crate) fn every_rbac_option(cli: &Cli) {
    // Objects of every kind with roles.
    let remote = cli.json(&[
        "file",
        "remote",
        "create",
        "--name",
        "rbac-remote",
        "--url",
        "http://127.0.0.1:9/PULP_MANIFEST",
    ]);
    let repo = cli.json(&["file", "repository", "create", "--name", "rbac-repo"]);
    let repo_href = s(&repo, "pulp_href").to_string();
    cli.json(&["file", "repository", "create", "--name", "rbac-other"]);
    let publication = cli.json(&["file", "publication", "create", "--repository", "rbac-repo"]);
    let publication_href = s(&publication, "pulp_href").to_string();
    cli.json(&[
        "file",
        "distribution",
        "create",
        "--name",
        "rbac-dist",
        "--base-path",
        "rbac-dist",
        "--repository",
        "rbac-repo",
    ]);

    // user: every create/update option, show by href, list.
    let bob = cli.json(&[
        "user",
        "create",
        "--username",
        "bob",
        "--password",
        BOB.1,
        "--first-name",
        "Bob",
        "--last-name",
        "Builder",
        "--email",
        "bob@example.org",
        "--no-staff",
        "--active",
    ]);
    let bob_href = s(&bob, "pulp_href").to_string();
    assert_eq!(
        (
            bob["email"].clone(),
            bob["is_staff"].clone(),
            bob["is_active"].clone()
        ),
        (json!("bob@example.org"), json!(false), json!(true)),
        "{bob}"
    );
    let shown = cli.json(&["user", "show", "--href", &bob_href]);
    assert_eq!(shown["last_name"], "Builder");
    let changed = cli.json(&[
        "user",
        "update",
        "--href",
        &bob_href,
        "--last-name",
        "B",
        "--staff",
        "--inactive",
    ]);
    assert_eq!(
        (
            changed["last_name"].clone(),
            changed["is_staff"].clone(),
            changed["is_active"].clone()
        ),
        (json!("B"), json!(true), json!(false)),
        "{changed}"
    );
    assert!(
        run_as(cli, BOB, &["file", "repository", "list"]).is_err(),
        "an inactive user cannot log in"
    );
    cli.json(&[
        "user",
        "update",
        "--username",
        "bob",
        "--no-staff",
        "--active",
        "--password",
        "",
    ]);
    assert!(
        run_as(cli, BOB, &["file", "repository", "list"]).is_err(),
        "\"\" disables password login"
    );
    cli.json(&["user", "update", "--username", "bob", "--password", BOB.1]);
    assert!(
        names(&cli.json(&["user", "list", "--limit", "100"]), "username")
            .contains(&"bob".to_string())
    );
    cli.json(&[
        "user",
        "create",
        "--username",
        "carol",
        "--password",
        "carol-pw-1",
    ]);

    // role: create with a description and permissions, every filter, update, show, destroy.
    let role = cli.json(&[
        "role",
        "create",
        "--name",
        "rbac-reader",
        "--description",
        "reads",
        "--permission",
        "file.view_filerepository",
        "--permission",
        "file.view_fileremote",
    ]);
    let role_href = s(&role, "pulp_href").to_string();
    let mut held: Vec<&str> = role["permissions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    held.sort_unstable();
    assert_eq!(
        held,
        ["file.view_fileremote", "file.view_filerepository"],
        "{role}"
    );
    for filter in [
        &["--name", "rbac-reader"][..],
        &["--name-contains", "bac-rea"],
        &["--name-icontains", "BAC-REA"],
        &["--name-startswith", "rbac-"],
        &["--name-startswith", "rbac-", "--unlocked"],
    ] {
        let found = cli.json(&[&["role", "list"][..], filter].concat());
        assert_eq!(
            names(&found, "name"),
            ["rbac-reader"],
            "{filter:?}: {found}"
        );
    }
    assert_eq!(
        len(&cli.json(&["role", "list", "--name-startswith", "rbac-", "--locked"])),
        0
    );
    let emptied = cli.json(&["role", "update", "--href", &role_href, "--no-permission"]);
    assert_eq!(emptied["permissions"], json!([]), "{emptied}");
    cli.json(&[
        "role",
        "update",
        "--name",
        "rbac-reader",
        "--permission",
        "file.view_filerepository",
    ]);
    assert_eq!(
        cli.json(&["role", "show", "--href", &role_href])["permissions"],
        json!(["file.view_filerepository"])
    );

    // user role-assignment: object-level add, every filter, remove.
    cli.json(&[
        "user",
        "role-assignment",
        "add",
        "--username",
        "bob",
        "--role",
        "rbac-reader",
        "--object",
        &repo_href,
    ]);
    cli.json(&[
        "user",
        "role-assignment",
        "add",
        "--username",
        "bob",
        "--role",
        "file.filedistribution_creator",
        "--object",
        "",
    ]);
    for filter in [
        &["--role", "rbac-reader"][..],
        &["--role-in", "rbac-reader", "--role-in", "nope"],
        &["--role-contains", "reader"],
        &["--role-icontains", "READER"],
        &["--role-startswith", "rbac"],
        &["--object", &repo_href],
    ] {
        let found = cli.json(
            &[
                &["user", "role-assignment", "list", "--username", "bob"][..],
                filter,
            ]
            .concat(),
        );
        assert_eq!(
            names(&found, "role"),
            ["rbac-reader"],
            "{filter:?}: {found}"
        );
    }
    let global = cli.json(&[
        "user",
        "role-assignment",
        "list",
        "--username",
        "bob",
        "--object",
        "",
    ]);
    assert_eq!(
        names(&global, "role"),
        ["file.filedistribution_creator"],
        "{global}"
    );

    // What bob sees and may do through pulp-cli.
    assert_eq!(
        names(
            &run_as(cli, BOB, &["file", "repository", "list"]).expect("list"),
            "name"
        ),
        ["rbac-repo"]
    );
    assert_eq!(
        len(&run_as(cli, BOB, &["repository", "list"]).expect("generic list")),
        1
    );
    assert_eq!(
        len(&run_as(cli, BOB, &["file", "remote", "list"]).expect("remotes")),
        0
    );
    let perms = run_as(
        cli,
        BOB,
        &[
            "file",
            "repository",
            "role",
            "my-permissions",
            "--name",
            "rbac-repo",
        ],
    )
    .expect("my-permissions");
    assert_eq!(
        perms["permissions"],
        json!(["file.view_filerepository"]),
        "{perms}"
    );
    assert!(
        run_as(
            cli,
            BOB,
            &["file", "repository", "show", "--name", "rbac-other"]
        )
        .is_err(),
        "not his to see"
    );
    assert!(
        run_as(
            cli,
            BOB,
            &[
                "file",
                "repository",
                "update",
                "--name",
                "rbac-repo",
                "--description",
                "x"
            ]
        )
        .is_err(),
        "a reader cannot change"
    );
    assert!(
        run_as(cli, BOB, &["user", "list"]).is_err(),
        "users are the administrators'"
    );
    assert!(run_as(cli, BOB, &["access-policy", "list"]).is_err());

    // <resource> role: list/add/remove/my-permissions on repositories, remotes,
    // distributions, publications.
    cli.json(&[
        "file",
        "repository",
        "role",
        "add",
        "--name",
        "rbac-repo",
        "--role",
        "file.filerepository_owner",
        "--user",
        "bob",
        "--user",
        "carol",
    ]);
    let task = run_as(
        cli,
        BOB,
        &[
            "file",
            "repository",
            "update",
            "--name",
            "rbac-repo",
            "--description",
            "bob's",
        ],
    )
    .expect("an owner changes it");
    let _ = task;
    let tasks = run_as(cli, BOB, &["task", "list"]).expect("task list");
    assert_eq!(len(&tasks), 1, "only his own task: {tasks}");
    assert_eq!(tasks[0]["created_by"], json!(bob_href), "{tasks}");
    let task_href = s(&tasks[0], "pulp_href").to_string();
    let shown = run_as(cli, BOB, &["task", "show", "--href", &task_href]).expect("task show");
    assert_eq!(shown["state"], "completed", "{shown}");
    assert!(len(&cli.json(&["task", "list", "--limit", "100"])) > 1);
    // task role: bob owns his task and lets carol view it.
    let roles =
        run_as(cli, BOB, &["task", "role", "list", "--href", &task_href]).expect("task roles");
    assert_eq!(roles["roles"][0]["role"], "core.task_owner", "{roles}");
    run_as(
        cli,
        BOB,
        &[
            "task",
            "role",
            "add",
            "--href",
            &task_href,
            "--role",
            "core.task_viewer",
            "--user",
            "carol",
        ],
    )
    .expect("task role add");
    let carol = ("carol", "carol-pw-1");
    let theirs = run_as(
        cli,
        carol,
        &["task", "role", "my-permissions", "--href", &task_href],
    )
    .expect("carol's permissions");
    assert!(
        theirs["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("core.view_task"))),
        "{theirs}"
    );
    run_as(
        cli,
        BOB,
        &[
            "task",
            "role",
            "remove",
            "--href",
            &task_href,
            "--role",
            "core.task_viewer",
            "--user",
            "carol",
        ],
    )
    .expect("task role remove");
    assert!(
        run_as(cli, carol, &["task", "show", "--href", &task_href]).is_err(),
        "no longer hers to see"
    );

    let remote_roles = cli.json(&["file", "remote", "role", "list", "--name", "rbac-remote"]);
    assert!(remote_roles["roles"].as_array().is_some(), "{remote_roles}");
    cli.json(&[
        "file",
        "remote",
        "role",
        "add",
        "--name",
        "rbac-remote",
        "--role",
        "file.fileremote_viewer",
        "--user",
        "bob",
    ]);
    assert_eq!(
        names(
            &run_as(cli, BOB, &["file", "remote", "list"]).expect("remotes"),
            "name"
        ),
        ["rbac-remote"]
    );
    let perms = run_as(
        cli,
        BOB,
        &[
            "file",
            "remote",
            "role",
            "my-permissions",
            "--name",
            "rbac-remote",
        ],
    )
    .expect("remote perms");
    assert_eq!(
        perms["permissions"],
        json!(["file.view_fileremote"]),
        "{perms}"
    );
    cli.json(&[
        "file",
        "remote",
        "role",
        "remove",
        "--name",
        "rbac-remote",
        "--role",
        "file.fileremote_viewer",
        "--user",
        "bob",
    ]);
    assert_eq!(
        len(&run_as(cli, BOB, &["file", "remote", "list"]).expect("remotes")),
        0
    );
    let _ = remote;

    cli.json(&["group", "create", "--name", "rbac-team"]);
    cli.json(&[
        "group",
        "user",
        "add",
        "--group",
        "rbac-team",
        "--username",
        "bob",
    ]);
    cli.json(&[
        "file",
        "distribution",
        "role",
        "add",
        "--name",
        "rbac-dist",
        "--role",
        "file.filedistribution_viewer",
        "--group",
        "rbac-team",
    ]);
    let dist_roles = cli.json(&[
        "file",
        "distribution",
        "role",
        "list",
        "--name",
        "rbac-dist",
    ]);
    assert!(
        dist_roles["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["groups"] == json!(["rbac-team"]))),
        "{dist_roles}"
    );
    assert_eq!(
        names(
            &run_as(cli, BOB, &["file", "distribution", "list"]).expect("distributions"),
            "name"
        ),
        ["rbac-dist"]
    );
    let perms = run_as(
        cli,
        BOB,
        &[
            "file",
            "distribution",
            "role",
            "my-permissions",
            "--name",
            "rbac-dist",
        ],
    )
    .expect("dist perms");
    assert!(
        perms["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("file.view_filedistribution"))),
        "{perms}"
    );
    cli.json(&[
        "file",
        "distribution",
        "role",
        "remove",
        "--name",
        "rbac-dist",
        "--role",
        "file.filedistribution_viewer",
        "--group",
        "rbac-team",
    ]);

    cli.json(&[
        "file",
        "publication",
        "role",
        "add",
        "--href",
        &publication_href,
        "--role",
        "file.filepublication_viewer",
        "--user",
        "bob",
    ]);
    let pub_roles = cli.json(&[
        "file",
        "publication",
        "role",
        "list",
        "--href",
        &publication_href,
    ]);
    assert!(
        pub_roles["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["role"] == "file.filepublication_viewer")),
        "{pub_roles}"
    );
    assert_eq!(
        len(&run_as(cli, BOB, &["file", "publication", "list"]).expect("publications")),
        1
    );
    let perms = run_as(
        cli,
        BOB,
        &[
            "file",
            "publication",
            "role",
            "my-permissions",
            "--href",
            &publication_href,
        ],
    )
    .expect("pub perms");
    assert_eq!(
        perms["permissions"],
        json!(["file.view_filepublication"]),
        "{perms}"
    );
    cli.json(&[
        "file",
        "publication",
        "role",
        "remove",
        "--href",
        &publication_href,
        "--role",
        "file.filepublication_viewer",
        "--user",
        "bob",
    ]);

    // group: list, show by name and href, roles on the group, role assignments.
    let team = cli.json(&["group", "show", "--name", "rbac-team"]);
    let team_href = s(&team, "pulp_href").to_string();
    assert_eq!(
        cli.json(&["group", "show", "--href", &team_href])["name"],
        "rbac-team"
    );
    assert!(names(&cli.json(&["group", "list"]), "name").contains(&"rbac-team".to_string()));
    cli.json(&[
        "group",
        "role",
        "add",
        "--name",
        "rbac-team",
        "--role",
        "core.group_viewer",
        "--user",
        "carol",
    ]);
    let group_roles = cli.json(&["group", "role", "list", "--href", &team_href]);
    assert!(
        group_roles["roles"].as_array().is_some_and(|r| r
            .iter()
            .any(|r| r["role"] == "core.group_viewer" && r["users"] == json!(["carol"]))),
        "{group_roles}"
    );
    let perms = run_as(
        cli,
        carol,
        &["group", "role", "my-permissions", "--name", "rbac-team"],
    )
    .expect("group perms");
    assert_eq!(perms["permissions"], json!(["core.view_group"]), "{perms}");
    assert_eq!(
        names(
            &run_as(cli, carol, &["group", "list"]).expect("groups"),
            "name"
        ),
        ["rbac-team"]
    );
    cli.json(&[
        "group",
        "role",
        "remove",
        "--name",
        "rbac-team",
        "--role",
        "core.group_viewer",
        "--user",
        "carol",
    ]);
    assert_eq!(
        len(&run_as(cli, carol, &["group", "list"]).expect("groups")),
        0
    );

    cli.json(&[
        "group",
        "role-assignment",
        "add",
        "--group",
        "rbac-team",
        "--role",
        "file.fileremote_viewer",
        "--object",
        "",
    ]);
    cli.json(&[
        "group",
        "role-assignment",
        "add",
        "--group",
        "rbac-team",
        "--role",
        "rbac-reader",
        "--object",
        &repo_href,
    ]);
    for filter in [
        &["--role", "file.fileremote_viewer"][..],
        &["--role-in", "file.fileremote_viewer"],
        &["--role-contains", "remote_view"],
        &["--role-icontains", "REMOTE_VIEW"],
        &["--role-startswith", "file.fileremote"],
        &["--object", ""],
    ] {
        let found = cli.json(
            &[
                &["group", "role-assignment", "list", "--group", "rbac-team"][..],
                filter,
            ]
            .concat(),
        );
        assert_eq!(
            names(&found, "role"),
            ["file.fileremote_viewer"],
            "{filter:?}: {found}"
        );
    }
    assert_eq!(
        names(
            &run_as(cli, BOB, &["file", "remote", "list"]).expect("remotes"),
            "name"
        )
        .len(),
        len(&cli.json(&["file", "remote", "list"])),
        "a global role through the group"
    );
    cli.json(&[
        "group",
        "role-assignment",
        "remove",
        "--group",
        "rbac-team",
        "--role",
        "file.fileremote_viewer",
        "--object",
        "",
    ]);
    cli.json(&[
        "group",
        "role-assignment",
        "remove",
        "--group",
        "rbac-team",
        "--role",
        "rbac-reader",
        "--object",
        &repo_href,
    ]);
    assert_eq!(
        len(&cli.json(&["group", "role-assignment", "list", "--group", "rbac-team"])),
        0
    );
    cli.json(&[
        "user",
        "role-assignment",
        "remove",
        "--username",
        "bob",
        "--role",
        "rbac-reader",
        "--object",
        &repo_href,
    ]);

    // access-policy: show and update by href (statements and creation hooks), list, reset.
    let listed = cli.json(&["access-policy", "list", "--limit", "300"]);
    let policy = listed
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|p| p["viewset_name"] == "remotes/file/file")
        })
        .cloned()
        .expect("the file remotes' policy");
    let policy_href = s(&policy, "pulp_href").to_string();
    let hooks = r#"[{"function": "add_roles_for_object_creator", "parameters": {"roles": "file.fileremote_viewer"}}]"#;
    let statements =
        r#"[{"action": ["list", "create"], "principal": "authenticated", "effect": "allow"}]"#;
    let updated = cli.json(&[
        "access-policy",
        "update",
        "--href",
        &policy_href,
        "--statements",
        statements,
        "--creation-hooks",
        hooks,
    ]);
    assert_eq!(
        updated["creation_hooks"][0]["parameters"]["roles"], "file.fileremote_viewer",
        "{updated}"
    );
    assert_eq!(updated["customized"], true);
    // The customized policy applies at once: bob creates a remote and becomes its viewer.
    run_as(
        cli,
        BOB,
        &[
            "file",
            "remote",
            "create",
            "--name",
            "bobs-remote",
            "--url",
            "http://127.0.0.1:9/x",
        ],
    )
    .expect("allowed by the new policy");
    let perms = run_as(
        cli,
        BOB,
        &[
            "file",
            "remote",
            "role",
            "my-permissions",
            "--name",
            "bobs-remote",
        ],
    );
    assert!(
        perms.is_err(),
        "retrieve is no longer allowed by the customized policy: {perms:?}"
    );
    let mine = cli.json(&["file", "remote", "role", "list", "--name", "bobs-remote"]);
    assert_eq!(
        mine["roles"],
        json!([{"role": "file.fileremote_viewer", "users": ["bob"], "groups": []}]),
        "{mine}"
    );
    let reset = cli.json(&["access-policy", "reset", "--href", &policy_href]);
    assert_eq!(
        (reset["customized"].clone(), reset["statements"].clone()),
        (json!(false), policy["statements"].clone())
    );
    assert_eq!(
        cli.json(&["access-policy", "show", "--href", &policy_href])["creation_hooks"],
        policy["creation_hooks"]
    );

    // Clean up what this added.
    cli.json(&["file", "remote", "destroy", "--name", "bobs-remote"]);
    cli.json(&["group", "destroy", "--href", &team_href]);
    cli.json(&["role", "destroy", "--href", &role_href]);
    cli.json(&["user", "destroy", "--href", &bob_href]);
    cli.json(&["user", "destroy", "--username", "carol"]);
}
