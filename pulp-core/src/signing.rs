//! Signing services, as pulpcore's `AsciiArmoredDetachedSigningService`: an executable
//! script that signs a file with one GnuPG key. The script gets the file's path as its only
//! argument and `PULP_SIGNING_KEY_FINGERPRINT` in its environment, and prints
//! `{"file": "<path>", "signature": "<path of the detached ASCII-armored signature>"}`.
//! [`add_signing_service`] records one (the key's public part and fingerprint read with
//! `gpg`, the script checked by signing a test file and verifying the signature);
//! [`sign_file`] is what plugins call.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::db::{Database, DbError, PulpId};
use crate::on_pool;

/// pulpcore's type of the services this module runs.
pub const SIGNING_SERVICE_TYPE: &str = "core.AsciiArmoredDetachedSigningService";

/// Why a signing service could not be added or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// No service of that name or id.
    #[error("signing service '{0}' does not exist")]
    NotFound(String),
    /// A service of that name exists already.
    #[error("a signing service named '{0}' exists already")]
    Duplicate(String),
    /// The script cannot be used (not absolute, missing, not executable).
    #[error("script '{path}': {reason}")]
    Script {
        /// The script.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// `gpg` failed or did not know the key.
    #[error("gpg: {0}")]
    Gpg(String),
    /// Signing failed (the script's exit, output or signature).
    #[error("signing {file} failed: {reason}")]
    Signing {
        /// The file.
        file: String,
        /// What went wrong.
        reason: String,
    },
}

impl From<sqlx::Error> for SigningError {
    fn from(e: sqlx::Error) -> Self {
        SigningError::Database(e.into())
    }
}

/// A recorded signing service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningService {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was added.
    pub pulp_created: DateTime<Utc>,
    /// When it was last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// Its type ([`SIGNING_SERVICE_TYPE`]).
    pub pulp_type: String,
    /// Its unique name.
    pub name: String,
    /// The ASCII-armored public key clients verify signatures with.
    pub public_key: String,
    /// The key's fingerprint (what the script is told to sign with).
    pub pubkey_fingerprint: String,
    /// The absolute path of the script.
    pub script: String,
}

/// A signed file: the file and its detached signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SignedFile {
    /// The file signed.
    pub file: PathBuf,
    /// The detached ASCII-armored signature.
    pub signature: PathBuf,
}

type Row = (
    PulpId,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    String,
    String,
    String,
    String,
);

const COLUMNS: &str =
    "pulp_id, pulp_created, pulp_last_updated, pulp_type, name, public_key, pubkey_fingerprint, script";

fn from_row(row: Row) -> SigningService {
    let (pulp_id, pulp_created, pulp_last_updated, pulp_type, name, public_key, fpr, script) = row;
    SigningService {
        pulp_id,
        pulp_created,
        pulp_last_updated,
        pulp_type,
        name,
        public_key,
        pubkey_fingerprint: fpr,
        script,
    }
}

/// The services with these ids (any order; unknown ids are skipped).
pub async fn get_many(db: &Database, ids: &[PulpId]) -> Result<Vec<SigningService>, SigningError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(service) = get(db, *id).await? {
            out.push(service);
        }
    }
    Ok(out)
}

/// The service `id`, if any.
pub async fn get(db: &Database, id: PulpId) -> Result<Option<SigningService>, SigningError> {
    let sql = format!("SELECT {COLUMNS} FROM core_signingservice WHERE pulp_id = $1");
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    Ok(row.map(from_row))
}

/// The service named `name`, if any.
pub async fn get_by_name(
    db: &Database,
    name: &str,
) -> Result<Option<SigningService>, SigningError> {
    let sql = format!("SELECT {COLUMNS} FROM core_signingservice WHERE name = $1");
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(name).fetch_optional(pool).await?
    });
    Ok(row.map(from_row))
}

/// Runs `gpg` with `args` (and `GNUPGHOME` when given); its standard output.
async fn gpg(gnupghome: Option<&Path>, args: &[&str]) -> Result<String, SigningError> {
    let mut command = tokio::process::Command::new("gpg");
    command.args(["--batch", "--no-tty"]).args(args);
    if let Some(home) = gnupghome {
        command.env("GNUPGHOME", home);
    }
    let out = command
        .output()
        .await
        .map_err(|e| SigningError::Gpg(format!("cannot run gpg: {e}")))?;
    if !out.status.success() {
        return Err(SigningError::Gpg(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Checks that `script` is an absolute path to an executable file.
fn check_script(script: &str) -> Result<(), SigningError> {
    let refused = |reason: &str| SigningError::Script {
        path: script.to_string(),
        reason: reason.to_string(),
    };
    let path = Path::new(script);
    if !path.is_absolute() {
        return Err(refused("not an absolute path"));
    }
    let meta = std::fs::metadata(path).map_err(|e| refused(&e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(refused("not an executable file"));
        }
    }
    #[cfg(not(unix))]
    if !meta.is_file() {
        return Err(refused("not a file"));
    }
    Ok(())
}

/// Runs the script of a service (`script`, key `fingerprint`) on `file`.
async fn run_script(
    script: &str,
    fingerprint: &str,
    file: &Path,
) -> Result<SignedFile, SigningError> {
    let failed = |reason: String| SigningError::Signing {
        file: file.display().to_string(),
        reason,
    };
    let mut command = tokio::process::Command::new(script);
    command
        .arg(file)
        .env("PULP_SIGNING_KEY_FINGERPRINT", fingerprint);
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        command.current_dir(dir);
    }
    let out = command
        .output()
        .await
        .map_err(|e| failed(format!("cannot run {script}: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "{script} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut signed: SignedFile = serde_json::from_slice(&out.stdout).map_err(|e| {
        failed(format!(
            "{script} printed no {{\"file\", \"signature\"}} object: {e}"
        ))
    })?;
    for path in [&mut signed.file, &mut signed.signature] {
        if path.is_relative() {
            if let Some(dir) = file.parent() {
                *path = dir.join(&*path);
            }
        }
        if !path.is_file() {
            return Err(failed(format!("{} does not exist", path.display())));
        }
    }
    Ok(signed)
}

/// Adds the signing service `name`: `script` signs with the key `key_id` (any id `gpg`
/// accepts) of the keyring in `gnupghome` (default: gpg's own). The public key and
/// fingerprint come from `gpg`; the script must sign a test file with a signature `gpg`
/// verifies, or nothing is recorded.
pub async fn add_signing_service(
    db: &Database,
    name: &str,
    script: &str,
    key_id: &str,
    gnupghome: Option<&Path>,
) -> Result<SigningService, SigningError> {
    if get_by_name(db, name).await?.is_some() {
        return Err(SigningError::Duplicate(name.to_string()));
    }
    check_script(script)?;
    let listing = gpg(gnupghome, &["--with-colons", "--fingerprint", key_id]).await?;
    let fingerprint = listing
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .filter(|f| !f.is_empty())
        .ok_or_else(|| SigningError::Gpg(format!("no fingerprint for key '{key_id}'")))?
        .to_string();
    let public_key = gpg(gnupghome, &["--armor", "--export", &fingerprint]).await?;
    if !public_key.contains("BEGIN PGP PUBLIC KEY BLOCK") {
        return Err(SigningError::Gpg(format!("no public key for '{key_id}'")));
    }
    // Validate: sign a test file and verify the signature with the key.
    let dir = tempfile::tempdir().map_err(|e| SigningError::Signing {
        file: "a test file".into(),
        reason: e.to_string(),
    })?;
    let test = dir.path().join("pulp-signing-test.txt");
    std::fs::write(&test, b"signing service test\n").map_err(|e| SigningError::Signing {
        file: test.display().to_string(),
        reason: e.to_string(),
    })?;
    let signed = run_script(script, &fingerprint, &test).await?;
    let signature = signed.signature.display().to_string();
    let file = signed.file.display().to_string();
    gpg(gnupghome, &["--verify", &signature, &file])
        .await
        .map_err(|e| SigningError::Signing {
            file,
            reason: format!("the signature does not verify: {e}"),
        })?;
    let now = Utc::now();
    let service = SigningService {
        pulp_id: PulpId::new(),
        pulp_created: now,
        pulp_last_updated: now,
        pulp_type: SIGNING_SERVICE_TYPE.to_string(),
        name: name.to_string(),
        public_key,
        pubkey_fingerprint: fingerprint,
        script: script.to_string(),
    };
    let sql = format!(
        "INSERT INTO core_signingservice ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    );
    let s = &service;
    on_pool!(db, pool => {
        sqlx::query(&sql)
            .bind(s.pulp_id)
            .bind(s.pulp_created)
            .bind(s.pulp_last_updated)
            .bind(&s.pulp_type)
            .bind(&s.name)
            .bind(&s.public_key)
            .bind(&s.pubkey_fingerprint)
            .bind(&s.script)
            .execute(pool)
            .await?;
    });
    Ok(service)
}

/// Signs `file` with `service`: its script, told the key's fingerprint, writes a detached
/// signature next to it. What a plugin calls when it publishes signed metadata.
pub async fn sign_file(service: &SigningService, file: &Path) -> Result<SignedFile, SigningError> {
    run_script(&service.script, &service.pubkey_fingerprint, file).await
}
