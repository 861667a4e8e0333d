//! The example plugin works through `pulp-plugin-api` alone: component, settings, migrations.
//! (`sync.rs` syncs, publishes and serves greetings.)

use hello_plugin::HelloPlugin;
use pulp_plugin_api::testing::{scratch_dir, TestDatabase};
use pulp_plugin_api::{App, AppError, Settings, SettingsSources};

fn settings(t: &TestDatabase) -> Settings {
    Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        ..Settings::default()
    }
}

pulp_plugin_api::testing::db_tests! {
    async fn registers_and_migrates(t: &TestDatabase) {
        let app = App::builder(SettingsSources::defaults_only())
            .plugin(HelloPlugin)
            .build_with(settings(t))
            .await
            .expect("build");
        let components: Vec<&str> = app.components().iter().map(|c| c.component.as_str()).collect();
        assert_eq!(components, ["core", "certguard", "hello"]);
        let expected = pulp_plugin_api::testing::core_migration_count() + 5;
        assert_eq!(app.migrate().await.expect("migrate"), expected, "core's and the plugin's migrations");
        let ledger = t.db.applied_migrations().await.expect("ledger");
        assert!(ledger.iter().any(|m| m.app == "hello" && m.name == "0001_greeting"), "{ledger:?}");
        assert_eq!(app.migrate().await.expect("migrate again"), 0);
    }

    async fn a_blank_greeting_is_refused_naming_the_setting(t: &TestDatabase) {
        let mut blank = settings(t);
        blank.extra.insert("hello_greeting".into(), "   ".into());
        match App::builder(SettingsSources::defaults_only()).plugin(HelloPlugin).build_with(blank).await {
            Err(AppError::Setting(e)) => assert!(e.to_string().contains("hello_greeting (PULP_HELLO_GREETING)"), "{e}"),
            Err(other) => panic!("expected a setting error, got {other}"),
            Ok(_) => panic!("a blank greeting was accepted"),
        }
    }
}

#[test]
fn its_default_greeting_is_loaded() {
    let dir = scratch_dir();
    let file = dir.path().join("settings.toml");
    let data_dir = dir.path().join("data");
    if let Err(e) = std::fs::write(
        &file,
        format!("data_dir = {:?}\n", data_dir.display().to_string()),
    ) {
        panic!("write settings: {e}");
    }
    let sources = SettingsSources::defaults_only().with_file(&file);
    let settings = App::builder(sources)
        .plugin(HelloPlugin)
        .load_settings()
        .expect("load");
    assert_eq!(
        settings
            .extra_value::<String>("hello_greeting")
            .expect("typed")
            .as_deref(),
        Some("hello")
    );
}
