//! Settings: layer precedence, table merging, validation errors.

// figment::Jail closures return figment::Error, which is large; that is its API.
#![allow(clippy::result_large_err)]

use figment::Jail;
use pulp_core::settings::{SettingError, Settings, SettingsSources};
use pulp_core::{App, AppError, Registry};

/// A plugin with a nested settings table, to exercise merging.
fn plugin(r: &mut Registry) {
    r.settings_defaults(serde_json::json!({
        "demo_limits": { "a": 1, "b": 2 },
        "demo_name": "plugin-default",
        "api_bind": "127.0.0.1:30000",
    }));
    r.settings_validator(|s: &Settings| match s.extra_value::<String>("demo_name")? {
        Some(name) if name == "forbidden" => {
            Err(SettingError::new("demo_name", "may not be 'forbidden'"))
        }
        _ => Ok(()),
    });
}

fn load(sources: SettingsSources) -> Result<Settings, AppError> {
    App::builder(sources).plugin(plugin).load_settings()
}

fn env_and_file() -> SettingsSources {
    SettingsSources::from_environment()
}

fn setting_error(result: Result<Settings, AppError>) -> SettingError {
    match result {
        Err(AppError::Setting(e)) => e,
        other => panic!("expected a setting error, got {other:?}"),
    }
}

#[test]
fn built_in_defaults_match_pulp() {
    Jail::expect_with(|_jail| {
        let s = load(SettingsSources::defaults_only()).map_err(|e| e.to_string())?;
        assert_eq!(s.content_bind, "127.0.0.1:24816");
        assert_eq!(s.content_path_prefix, "/pulp/content/");
        assert_eq!(
            s.allowed_content_checksums,
            ["sha224", "sha256", "sha384", "sha512"]
        );
        assert_eq!(s.worker_ttl, 30);
        assert_eq!(s.data_dir, std::path::PathBuf::from("./pulp-data"));
        assert!(s.effective_database_url().starts_with("sqlite://"));
        assert_eq!(s.effective_content_origin(), "http://127.0.0.1:24816");
        Ok(())
    });
}

#[test]
fn each_layer_overrides_the_one_below() {
    Jail::expect_with(|jail| {
        // Plugin default overrides the built-in default.
        let s = load(SettingsSources::defaults_only()).map_err(|e| e.to_string())?;
        assert_eq!(s.api_bind, "127.0.0.1:30000");
        assert_eq!(s.extra["demo_name"], "plugin-default");

        // The settings file overrides plugin defaults.
        jail.create_file(
            "settings.toml",
            "demo_name = \"from-file\"\nworker_ttl = 45\nAPI_BIND = \"127.0.0.1:30001\"\n",
        )?;
        jail.set_env("PULP_SETTINGS", "settings.toml");
        let s = load(env_and_file()).map_err(|e| e.to_string())?;
        assert_eq!(s.extra["demo_name"], "from-file");
        assert_eq!(s.worker_ttl, 45);
        assert_eq!(
            s.api_bind, "127.0.0.1:30001",
            "upper-case keys are accepted"
        );

        // The environment overrides the file.
        jail.set_env("PULP_DEMO_NAME", "from-env");
        jail.set_env("PULP_WORKER_TTL", "7");
        let s = load(env_and_file()).map_err(|e| e.to_string())?;
        assert_eq!(s.extra["demo_name"], "from-env");
        assert_eq!(s.worker_ttl, 7);
        assert_eq!(s.api_bind, "127.0.0.1:30001");
        Ok(())
    });
}

#[test]
fn tables_replace_unless_marked_to_merge() {
    Jail::expect_with(|jail| {
        jail.create_file("replace.toml", "[demo_limits]\nb = 3\n")?;
        let s = load(SettingsSources::defaults_only().with_file("replace.toml"))
            .map_err(|e| e.to_string())?;
        assert_eq!(s.extra["demo_limits"], serde_json::json!({ "b": 3 }));

        jail.create_file(
            "merge.toml",
            "[demo_limits]\ndynaconf_merge = true\nb = 3\n",
        )?;
        let s = load(SettingsSources::defaults_only().with_file("merge.toml"))
            .map_err(|e| e.to_string())?;
        assert_eq!(
            s.extra["demo_limits"],
            serde_json::json!({ "a": 1, "b": 3 })
        );

        jail.create_file(
            "list.toml",
            "allowed_content_checksums = [\"dynaconf_merge\", \"sha1\"]\n",
        )?;
        let s = load(SettingsSources::defaults_only().with_file("list.toml"))
            .map_err(|e| e.to_string())?;
        assert_eq!(
            s.allowed_content_checksums,
            ["sha224", "sha256", "sha384", "sha512", "sha1"]
        );
        Ok(())
    });
}

#[test]
fn nested_environment_variables_merge_into_tables() {
    Jail::expect_with(|jail| {
        jail.set_env("PULP_DEMO_LIMITS__C", "4");
        jail.set_env("PULP_STORAGE__OPTIONS__AWS_REGION", "eu-west-1");
        jail.set_env("PULP_ALLOWED_CONTENT_CHECKSUMS", "[\"sha256\", \"sha512\"]");
        let s = load(SettingsSources::defaults_only().with_environment(true))
            .map_err(|e| e.to_string())?;
        assert_eq!(
            s.extra["demo_limits"],
            serde_json::json!({ "a": 1, "b": 2, "c": 4 })
        );
        assert_eq!(s.storage.options["aws_region"], "eu-west-1");
        assert!(
            s.storage.redirect_to_object_storage,
            "sibling keys keep their defaults (true, as in Pulp)"
        );
        assert_eq!(s.allowed_content_checksums, ["sha256", "sha512"]);
        Ok(())
    });
}

#[test]
fn invalid_settings_are_refused_with_the_setting_named() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "PULP_ALLOWED_CONTENT_CHECKSUMS",
            "[\"sha256\", \"sha999\"]",
            "allowed_content_checksums (PULP_ALLOWED_CONTENT_CHECKSUMS)",
        ),
        (
            "PULP_ALLOWED_CONTENT_CHECKSUMS",
            "[\"sha512\"]",
            "allowed_content_checksums",
        ),
        (
            "PULP_CONTENT_ORIGIN",
            "not a url",
            "content_origin (PULP_CONTENT_ORIGIN)",
        ),
        ("PULP_CONTENT_ORIGIN", "ftp://example.com", "content_origin"),
        ("PULP_API_BIND", "localhost", "api_bind (PULP_API_BIND)"),
        (
            "PULP_DATABASE_URL",
            "mysql://localhost/pulp",
            "database_url (PULP_DATABASE_URL)",
        ),
        ("PULP_DATABASE_URL", "postgres:///nohost", "database_url"),
        ("PULP_WORKER_TTL", "soon", "worker_ttl (PULP_WORKER_TTL)"),
        ("PULP_WORKER_TTL", "0", "worker_ttl"),
        (
            "PULP_CONTENT_PATH_PREFIX",
            "/pulp/content",
            "content_path_prefix",
        ),
        (
            "PULP_STORAGE__URL",
            "gopher://x/y",
            "storage.url (PULP_STORAGE__URL)",
        ),
        (
            "PULP_DATA_DIR",
            "/dev/null/pulp",
            "data_dir (PULP_DATA_DIR)",
        ),
        (
            "PULP_WORKING_DIRECTORY",
            "/proc/version/x",
            "working_directory (PULP_WORKING_DIRECTORY)",
        ),
        ("PULP_DEMO_NAME", "forbidden", "demo_name (PULP_DEMO_NAME)"),
    ];
    for (var, value, named) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            let error = setting_error(load(env_and_file()));
            let line = error.to_string();
            assert!(
                line.contains(named),
                "{var}={value}: '{line}' does not name {named}"
            );
            assert!(!line.contains('\n'), "{var}={value}: not one line: {line}");
            Ok(())
        });
    }
}

#[test]
fn a_missing_or_malformed_settings_file_is_refused() {
    Jail::expect_with(|jail| {
        jail.set_env("PULP_SETTINGS", "does-not-exist.toml");
        let error = setting_error(load(env_and_file()));
        assert!(error.to_string().contains("PULP_SETTINGS"), "{error}");
        assert!(error.to_string().contains("does-not-exist.toml"), "{error}");

        jail.create_file("broken.toml", "worker_ttl = = 3\n")?;
        jail.set_env("PULP_SETTINGS", "broken.toml");
        let error = setting_error(load(env_and_file()));
        assert!(error.to_string().contains("broken.toml"), "{error}");
        Ok(())
    });
}

#[test]
fn adding_a_plugin_twice_is_an_error_naming_it() {
    struct Twice;
    impl pulp_core::Plugin for Twice {
        fn register(&self, _: &mut Registry) {}
        fn name(&self) -> &str {
            "twice-plugin"
        }
    }
    let result = App::builder(SettingsSources::defaults_only())
        .plugin(Twice)
        .plugin(Twice)
        .registry();
    match result {
        Err(AppError::DuplicatePlugin(name)) => assert_eq!(name, "twice-plugin"),
        other => panic!("expected a duplicate-plugin error, got {other:?}"),
    }
}
