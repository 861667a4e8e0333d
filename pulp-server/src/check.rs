//! `pulp-server check`: whether this host's settings, database and storage are ready to
//! serve; one line per problem.

use pulp_core::deps::bytes::Bytes;
use pulp_core::storage::ExpectedArtifact;
use pulp_core::{App, AppBuilder};

/// The problems found, each a line (none: ready).
pub async fn problems(builder: AppBuilder) -> Vec<String> {
    let settings = match builder.load_settings() {
        Ok(settings) => settings,
        // Nothing else can be checked without settings.
        Err(e) => return vec![e.to_string()],
    };
    let mut problems = Vec::new();
    if settings.content_origin.is_none() {
        problems.push(
            "content_origin (PULP_CONTENT_ORIGIN) is not set: clients are sent to the content \
             app's own address"
                .to_string(),
        );
    }
    let app = match builder.build_with(settings).await {
        Ok(app) => app,
        Err(e) => {
            problems.push(e.to_string());
            return problems;
        }
    };
    if !app.db().ping().await {
        problems.push(format!(
            "the database ({}) does not answer",
            app.db().backend()
        ));
        return problems;
    }
    match app.db().pending_migrations(&app.migrations()).await {
        Ok(pending) if pending.is_empty() => {}
        Ok(pending) => problems.push(format!(
            "the database lacks {} migration(s), first {}: run `pulp-server migrate`",
            pending.len(),
            pending[0]
        )),
        Err(e) => problems.push(format!("cannot read the applied migrations: {e}")),
    }
    if let Err(e) = storage_writable(&app).await {
        problems.push(format!("artifact storage is not writable: {e}"));
    }
    problems
}

/// Stores and deletes a probe artifact (its bytes are unique to this check).
async fn storage_writable(app: &App) -> Result<(), pulp_core::storage::StorageError> {
    let probe = format!("pulp-server check {}\n", uuid_like());
    let stored = app
        .storage()
        .ingest_bytes(Bytes::from(probe), &ExpectedArtifact::any())
        .await?;
    app.storage().delete_artifact(&stored.sha256).await
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}
