//! Signing services with a real GnuPG key and script: `pulp-server add-signing-service`
//! (checks the script by signing a test file), `/signing-services/` (list, read), the
//! plugin API's `sign_file`, and every refusal leaving nothing recorded — on SQLite and
//! PostgreSQL.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pulp_core::testing::TestDatabase;
use serde_json::Value;

/// A GnuPG home with one key (no passphrase) and a signing script using it.
pub struct Keyring {
    pub home: tempfile::TempDir,
    pub script: PathBuf,
    pub fingerprint: String,
}

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

pub fn keyring() -> Keyring {
    // Short: gpg-agent's socket path must fit in a Unix socket name.
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
            "Pulp Test <pulp@example.org>",
            "default",
            "default",
            "never",
        ],
    );
    let listing = gpg(
        home.path(),
        &["--with-colons", "--fingerprint", "pulp@example.org"],
    );
    let fingerprint = listing
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("fingerprint")
        .to_string();
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
    make_executable(&script);
    Keyring {
        home,
        script,
        fingerprint,
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `pulp-server add-signing-service` on the test database.
pub fn add_service(t: &TestDatabase, args: &[&str]) -> std::process::Output {
    let mut command = support::binary_in(t.dir.path());
    command
        .env("PULP_DATABASE_URL", &t.url)
        .arg("add-signing-service")
        .args(args);
    command.output().expect("pulp-server")
}

async fn count(t: &TestDatabase) -> i64 {
    let app = pulp_core::App::builder(pulp_core::settings::SettingsSources::defaults_only())
        .build_with(t.settings())
        .await
        .expect("app");
    pulp_core::on_pool!(app.db(), pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM core_signingservice").fetch_one(pool).await.expect("count")
    })
}

pulp_core::db_tests! {
    async fn a_signing_service_is_added_listed_and_signs(t: &TestDatabase) {
        let keys = keyring();
        let script = keys.script.display().to_string();
        let home = keys.home.path().display().to_string();
        let out = add_service(t, &["sign-it", &script, "--key-id", "pulp@example.org", "--gnupghome", &home]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        // Refusals record nothing: a name taken, a relative script, a key gpg lacks, a
        // script whose signature does not verify.
        let taken = add_service(t, &["sign-it", &script, "--key-id", "pulp@example.org", "--gnupghome", &home]);
        assert!(!taken.status.success());
        assert!(String::from_utf8_lossy(&taken.stderr).contains("exists already"));
        let relative = add_service(t, &["other", "sign.sh", "--key-id", "pulp@example.org", "--gnupghome", &home]);
        assert!(String::from_utf8_lossy(&relative.stderr).contains("not an absolute path"), "{relative:?}");
        let unknown = add_service(t, &["other", &script, "--key-id", "nobody@example.org", "--gnupghome", &home]);
        assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("gpg"), "{unknown:?}");
        let liar = keys.home.path().join("liar.sh");
        std::fs::write(&liar, "#!/bin/sh\necho 'not a signature' > \"$1.asc\"\nprintf '{\"file\": \"%s\", \"signature\": \"%s\"}' \"$1\" \"$1.asc\"\n").expect("write");
        make_executable(&liar);
        let lying = add_service(t, &["other", &liar.display().to_string(), "--key-id", "pulp@example.org", "--gnupghome", &home]);
        assert!(String::from_utf8_lossy(&lying.stderr).contains("does not verify"), "{lying:?}");
        assert_eq!(count(t).await, 1);

        // The REST API.
        // `start_server` waits with a blocking client.
        let server = tokio::task::block_in_place(|| support::start_server(t));
        let client = reqwest::Client::new();
        let get = |path: String| {
            let client = client.clone();
            async move {
                let r = client.get(path).basic_auth("admin", Some(support::PASSWORD)).send().await.expect("get");
                (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, page) = get(format!("{}/pulp/api/v3/signing-services/?name=sign-it", server.api)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["count"], 1);
        let service = &page["results"][0];
        assert_eq!(service["pubkey_fingerprint"], keys.fingerprint.as_str());
        assert_eq!(service["script"], script.as_str());
        assert!(service["public_key"].as_str().is_some_and(|k| k.contains("BEGIN PGP PUBLIC KEY BLOCK")));
        let href = service["pulp_href"].as_str().expect("href");
        let (status, read) = get(format!("{}{href}", server.api)).await;
        assert_eq!(status, 200);
        assert_eq!(read["name"], "sign-it");
        assert_eq!(read["prn"], service["prn"]);
        let (status, _) = get(format!("{}/pulp/api/v3/signing-services/?name=nope&colour=1", server.api)).await;
        assert_eq!(status, 400);
        let (status, _) = get(format!("{}/pulp/api/v3/signing-services/01a21612-81fa-7557-b3f0-6a98ddb60503/", server.api)).await;
        assert_eq!(status, 404);

        // The plugin API signs a file; gpg verifies it with the recorded public key.
        let app = pulp_core::App::builder(pulp_core::settings::SettingsSources::defaults_only())
            .build_with(t.settings())
            .await
            .expect("app");
        let stored = pulp_core::signing::get_by_name(app.db(), "sign-it").await.expect("get").expect("service");
        let dir = pulp_core::testing::scratch_dir();
        let file = dir.path().join("Release");
        std::fs::write(&file, b"Origin: pulp\n").expect("write");
        let signed = pulp_core::signing::sign_file(&stored, &file).await.expect("sign");
        assert_eq!(signed.file, file);
        let verifier = tempfile::Builder::new().prefix("gpgv").tempdir_in("/tmp").expect("home");
        std::fs::write(verifier.path().join("key.asc"), &stored.public_key).expect("key");
        gpg(verifier.path(), &["--import", &verifier.path().join("key.asc").display().to_string()]);
        gpg(verifier.path(), &["--verify", &signed.signature.display().to_string(), &file.display().to_string()]);
        // A script that fails is an error naming it.
        let broken = pulp_core::signing::SigningService { script: "/bin/false".into(), ..stored };
        let error = pulp_core::signing::sign_file(&broken, &file).await.expect_err("fails");
        assert!(error.to_string().contains("/bin/false"), "{error}");
        tokio::task::block_in_place(|| drop(server));
    }
}
