//! Serves files through the content app for benchmarks (see `benches/content-bench.sh`).
//!
//! ```text
//! content_server <data-dir> <listen-address> <file>...
//! ```
//! Builds an app on SQLite in `<data-dir>` with local storage, stores each file as an
//! artifact of a pulp_file repository (relative path: the file's name), distributes the
//! repository's latest version at base path `bench`, and serves `content_router` on the
//! address until killed: `http://<address>/pulp/content/bench/<file name>`.

use pulp_core::content_app::content_router;
use pulp_core::models::{
    create, save_artifact, save_content, save_content_artifacts, DistributionFields,
    RepositoryFields,
};
use pulp_core::repository::NewVersion;
use pulp_core::settings::{Settings, SettingsSources};
use pulp_core::storage::ExpectedArtifact;
use pulp_core::App;
use pulp_file::{FileContent, FileDistribution, FilePlugin, FileRepository};

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, address, files @ ..] = args.as_slice() else {
        return Err("usage: content_server <data-dir> <listen-address> <file>...".into());
    };
    let settings = Settings {
        data_dir: dir.into(),
        ..Settings::default()
    };
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .build_with(settings)
        .await?;
    app.migrate().await?;
    let repository = create::<FileRepository>(
        app.db(),
        Default::default(),
        RepositoryFields::new("bench"),
        FileRepository::default(),
    )
    .await?;
    let mut units = Vec::new();
    for file in files {
        let path = std::path::Path::new(file);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("file names must be UTF-8")?
            .to_string();
        let stored = app
            .storage()
            .ingest_file(path, &ExpectedArtifact::any())
            .await?;
        let artifact = save_artifact(app.db(), &stored).await?;
        let unit = save_content(
            app.db(),
            vec![FileContent {
                relative_path: name.clone(),
                digest: stored.sha256.clone(),
            }],
        )
        .await?
        .remove(0);
        save_content_artifacts(app.db(), &[(unit.pulp_id(), Some(artifact.pulp_id), name)]).await?;
        units.push(unit.pulp_id());
    }
    let mut version = NewVersion::start(&app, repository.pulp_id()).await?;
    version.add_content(&units).await?;
    version.commit().await?;
    let mut fields = DistributionFields::new("bench", "bench");
    fields.repository_id = Some(repository.pulp_id());
    create::<FileDistribution>(app.db(), Default::default(), fields, FileDistribution {}).await?;
    let listener = tokio::net::TcpListener::bind(address.as_str()).await?;
    eprintln!(
        "serving on http://{}/pulp/content/bench/",
        listener.local_addr()?
    );
    axum::serve(listener, content_router(app)).await?;
    Ok(())
}
