//! Shared helpers of the pulp-file tests.
#![allow(dead_code)]

use pulp_file::{FileContent, FilePlugin, FileRepository};
use pulp_plugin_api::models::{self, Labels, Model, RepositoryFields};
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, Plugin, Settings, SettingsSources};

pub fn settings(t: &TestDatabase) -> Settings {
    Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        ..Settings::default()
    }
}

/// An app with the file plugin (and `extra`), migrated.
pub async fn app_with(t: &TestDatabase, extra: impl Plugin) -> App {
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .plugin(extra)
        .build_with(settings(t))
        .await
        .expect("build the app");
    app.migrate().await.expect("migrate");
    app
}

/// An app with the file plugin, migrated.
pub async fn app(t: &TestDatabase) -> App {
    app_with(t, |_: &mut pulp_plugin_api::Registry| {}).await
}

pub fn digest(n: usize) -> String {
    format!("{n:064x}")
}

pub fn file(path: &str, n: usize) -> FileContent {
    FileContent {
        relative_path: path.to_string(),
        digest: digest(n),
    }
}

pub async fn repository(app: &App, name: &str) -> Model<FileRepository> {
    models::create(
        app.db(),
        Labels::new(),
        RepositoryFields::new(name),
        FileRepository::default(),
    )
    .await
    .expect("create repository")
}
