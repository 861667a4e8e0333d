//! pulp-cli's core commands this area serves: `pulp signing-service list/show` (a service
//! added with `pulp-server add-signing-service` and a real GnuPG key), and lists refusing
//! unknown filters while pulp-cli's own list options keep working.

use std::path::Path;
use std::process::Command;

use pulp_core::testing::TestDatabase;

use super::support::{binary_in, start_server};
use super::{pulp_cli, Cli};

fn gpg(home: &Path, args: &[&str]) -> String {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--no-tty"])
        .args(args)
        .output()
        .expect("gpg (Debian package gnupg)");
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn core_commands(program: &Path, t: &TestDatabase) {
    // A key and a script signing with it.
    let home = tempfile::Builder::new()
        .prefix("gpg")
        .tempdir_in("/tmp")
        .expect("gnupg home");
    gpg(
        home.path(),
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            "CLI Test <cli@example.org>",
            "default",
            "default",
            "never",
        ],
    );
    let script = home.path().join("sign.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\nexport GNUPGHOME='{}'\n\
             gpg --batch --yes --pinentry-mode loopback --passphrase '' \
             --local-user \"$PULP_SIGNING_KEY_FINGERPRINT\" --armor --detach-sign --output \"$1.asc\" \"$1\"\n\
             printf '{{\"file\": \"%s\", \"signature\": \"%s\"}}' \"$1\" \"$1.asc\"\n",
            home.path().display()
        ),
    )
    .expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let out = binary_in(t.dir.path())
        .env("PULP_DATABASE_URL", &t.url)
        .args(["add-signing-service", "cli-signer"])
        .arg(&script)
        .args(["--key-id", "cli@example.org", "--gnupghome"])
        .arg(home.path())
        .output()
        .expect("pulp-server add-signing-service");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let server = start_server(t);
    let cli = Cli {
        program: program.to_path_buf(),
        home: pulp_core::testing::scratch_dir(),
        api: server.api.clone(),
    };
    let list = cli.json(&["signing-service", "list", "--name", "cli-signer"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "cli-signer");
    let shown = cli.json(&["signing-service", "show", "--name", "cli-signer"]);
    assert!(
        shown["public_key"]
            .as_str()
            .is_some_and(|k| k.contains("BEGIN PGP PUBLIC KEY BLOCK")),
        "{shown}"
    );
    let by_href = cli.json(&[
        "signing-service",
        "show",
        "--href",
        shown["pulp_href"].as_str().expect("href"),
    ]);
    assert_eq!(by_href["pubkey_fingerprint"], shown["pubkey_fingerprint"]);
    assert_eq!(
        cli.json(&["signing-service", "list", "--name", "nobody"]),
        serde_json::json!([])
    );

    // pulp-cli's own list options (limit, offset, ordering, fields) pass the strict filters.
    let tasks = cli.json(&[
        "task",
        "list",
        "--limit",
        "5",
        "--offset",
        "0",
        "--state",
        "completed",
    ]);
    assert!(tasks.is_array(), "{tasks}");
    let status = cli.json(&["status"]);
    assert_eq!(status["domain_enabled"], false, "{status}");
}

#[test]
fn core_commands_through_pulp_cli_on_sqlite() {
    let Some(program) = pulp_cli() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let t = runtime.block_on(TestDatabase::sqlite());
    core_commands(&program, &t);
}

#[test]
fn core_commands_through_pulp_cli_on_postgres() {
    let Some(program) = pulp_cli() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some(t) = runtime.block_on(TestDatabase::postgres()) else {
        return;
    };
    core_commands(&program, &t);
    runtime.block_on(t.cleanup());
}
