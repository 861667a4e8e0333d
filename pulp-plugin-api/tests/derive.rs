//! `#[derive(Detail)]`: the generated tables work on both databases, units round-trip
//! through them, and the natural key is unique within a domain.

use pulp_plugin_api::models::{
    self, ContentDetail, ContentKind, Detail, DetailTable, Labels, MasterKind, RemoteFields,
    RemoteKind, RepositoryKind,
};
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::validation::{Validate, ValidationErrors};
use pulp_plugin_api::{App, PulpId, Registry, Settings, SettingsSources};
use serde::{Deserialize, Serialize};

/// Every column type the derive infers, nullable and not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, models::Detail)]
#[pulp(kind = content, pulp_type = "derived.sample", table = "derived_sample", endpoint = "derived/samples")]
#[pulp(natural_key(name, version), repo_key(name), filter(name, ver = version))]
struct Sample {
    name: String,
    #[pulp(index)]
    version: i64,
    weight: f64,
    stable: bool,
    tags: Vec<String>,
    extra: serde_json::Value,
    parent: Option<PulpId>,
    released: Option<chrono::DateTime<chrono::Utc>>,
    #[pulp(column = text)]
    channel: Channel,
    note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Channel {
    Beta,
}

impl Validate for Sample {
    fn validate(&self, _: &mut ValidationErrors) {}
}

/// A remote type without fields of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, models::Detail)]
#[pulp(kind = remote, pulp_type = "derived.sample", table = "derived_remote", endpoint = "derived/sample")]
struct SampleRemote {}

impl Validate for SampleRemote {
    fn validate(&self, _: &mut ValidationErrors) {}
}

fn plugin(r: &mut Registry) {
    r.migrations([
        Sample::migration("derived", "0001_sample"),
        SampleRemote::migration("derived", "0002_remote"),
    ]);
    r.content::<Sample>().remote::<SampleRemote>();
}

async fn app(t: &TestDatabase) -> App {
    let settings = Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        ..Settings::default()
    };
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(plugin)
        .build_with(settings)
        .await
        .expect("build the app");
    app.migrate().await.expect("the derived tables are created");
    app
}

fn sample(name: &str, version: i64) -> Sample {
    Sample {
        name: name.into(),
        version,
        weight: 1.5,
        stable: true,
        tags: vec!["a".into(), "b".into()],
        extra: serde_json::json!({"k": [1, 2]}),
        parent: Some(PulpId::new()),
        released: Some(chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time")),
        channel: Channel::Beta,
        note: None,
    }
}

#[test]
fn constants_come_from_the_attributes() {
    assert_eq!(Sample::PULP_TYPE, "derived.sample");
    assert_eq!(Sample::TABLE, "derived_sample");
    assert_eq!(Sample::ENDPOINT, "derived/samples");
    assert_eq!(Sample::PRN_MODEL, "derived.sample");
    assert_eq!(SampleRemote::PRN_MODEL, "derived.sampleremote");
    assert_eq!(Sample::NATURAL_KEY, ["name", "version"]);
    assert_eq!(Sample::REPO_KEY, ["name"]);
    assert_eq!(Sample::API_FILTERS, [("name", "name"), ("ver", "version")]);
    let names: Vec<_> = Sample::COLUMNS.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "name", "version", "weight", "stable", "tags", "extra", "parent", "released",
            "channel", "note"
        ]
    );
    use pulp_plugin_api::models::ColumnType::*;
    let types: Vec<_> = Sample::COLUMNS.iter().map(|c| c.ty).collect();
    assert_eq!(
        types,
        [Text, Int, Float, Bool, Json, Json, Id, Time, Text, Text]
    );
}

#[test]
fn the_tables_reference_the_master_tables_of_their_kind() {
    // The derive writes the master tables' names into the SQL it generates.
    let reference = |table: &str| format!("REFERENCES {table} (pulp_id) ON DELETE CASCADE");
    assert!(Sample::SQLITE_DDL.contains(&reference(ContentKind::TABLE)));
    assert!(Sample::POSTGRES_DDL.contains(&reference(ContentKind::TABLE)));
    assert!(SampleRemote::SQLITE_DDL.contains(&reference(RemoteKind::TABLE)));
    assert!(SampleRemote::POSTGRES_DDL.contains(&reference(RemoteKind::TABLE)));
    assert!(!SampleRemote::SQLITE_DDL.contains("pulp_domain"));
    assert!(Sample::SQLITE_DDL.contains("UNIQUE (name, version, pulp_domain)"));
    let _ = RepositoryKind::TABLE;
}

pulp_plugin_api::testing::db_tests! {
    async fn a_derived_content_type_round_trips_through_its_generated_table(t: &TestDatabase) {
        let app = app(t).await;
        let db = app.db();
        let mut with_note = sample("one", 1);
        with_note.note = Some("n".into());
        let units = vec![with_note.clone(), sample("one", 2), sample("two", 1)];
        let saved = models::save_content(db, units.clone()).await.expect("save");
        assert_eq!(saved.len(), 3);
        for (unit, model) in units.iter().zip(&saved) {
            let read = models::get::<Sample>(db, model.pulp_id()).await.expect("read back");
            assert_eq!(&read.detail, unit);
        }
        // The natural key is unique: saving a unit again returns the existing one.
        let again = models::save_content(db, vec![sample("two", 1)]).await.expect("save again");
        assert_eq!(again[0].pulp_id(), saved[2].pulp_id());
        assert_eq!(models::count::<ContentKind>(db, None).await.expect("count"), 3);
        // Deleting the master removes the detail row (ON DELETE CASCADE).
        models::delete::<ContentKind>(db, saved[0].pulp_id()).await.expect("delete");
        assert!(models::get::<Sample>(db, saved[0].pulp_id()).await.is_err());
        let remote = models::create(db, Labels::new(), RemoteFields::new("r", "http://example.com/"), SampleRemote {}).await.expect("create a remote");
        let read = models::get::<SampleRemote>(db, remote.pulp_id()).await.expect("read the remote");
        assert_eq!(read.fields().url, "http://example.com/");
    }
}
