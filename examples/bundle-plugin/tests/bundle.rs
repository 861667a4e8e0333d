//! The bundle plugin: adding a bundle brings its members; removing a needed member is refused.

use bundle_plugin::{
    add_bundle, create_repository, remove_content, Blob, Bundle, BundleError, BundlePlugin,
    BundleSpec,
};
use pulp_plugin_api::models::{self, Model};
use pulp_plugin_api::repository::{
    latest_version, version_content, version_content_ids, NewVersion, VersionError,
};
use pulp_plugin_api::{App, PulpId, Settings, SettingsSources};

async fn app(t: &pulp_plugin_api::testing::TestDatabase) -> App {
    let settings = Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        ..Settings::default()
    };
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(BundlePlugin)
        .build_with(settings)
        .await
        .expect("build");
    app.migrate().await.expect("migrate");
    app
}

fn blob(name: &str, n: u8) -> Blob {
    Blob {
        name: name.into(),
        digest: format!("{n:064x}"),
    }
}

fn spec(name: &str, version: &str, members: &[(&str, u8)]) -> BundleSpec {
    BundleSpec {
        name: name.into(),
        version: version.into(),
        members: members.iter().map(|(n, d)| blob(n, *d)).collect(),
    }
}

async fn content(app: &App, repo: PulpId) -> Vec<PulpId> {
    let latest = latest_version(app.db(), repo).await.expect("latest");
    version_content_ids(app.db(), &latest, 1000, 0)
        .await
        .expect("content")
}

async fn blob_id(app: &App, b: Blob) -> PulpId {
    models::save_content(app.db(), vec![b]).await.expect("blob")[0].pulp_id()
}

/// Every API operation of the plugin (and of the core) has a declared access policy.
#[tokio::test]
async fn every_operation_has_an_access_policy() {
    let t = pulp_plugin_api::testing::TestDatabase::sqlite().await;
    let app = app(&t).await;
    assert_eq!(app.operations_without_access_policy(), Vec::<String>::new());
}

pulp_plugin_api::testing::db_tests! {
    async fn adding_a_bundle_brings_its_members(t: &TestDatabase) {
        let app = app(t).await;
        let repo = create_repository(&app, "b").await.expect("repo").pulp_id();
        let v1 = add_bundle(&app, repo, spec("app", "1.0", &[("lib/a.so", 1), ("bin/app", 2)]))
            .await
            .expect("add")
            .expect("a version");
        assert_eq!(v1.counts.present.get("bundle.bundle"), Some(&1));
        assert_eq!(v1.counts.present.get("bundle.blob"), Some(&2));
        assert_eq!(content(&app, repo).await.len(), 3);
        // A bundle added by a plain modify (not add_bundle) brings its members too.
        let members = vec![blob_id(&app, blob("x", 7)).await];
        let other = models::save_content(app.db(), vec![Bundle { name: "tool".into(), version: "1".into(), members: members.clone() }])
            .await
            .expect("bundle");
        let mut v = NewVersion::start(&app, repo).await.expect("start");
        v.add_content(&[other[0].pulp_id()]).await.expect("add");
        let v2 = v.commit().await.expect("commit").expect("version");
        assert_eq!(v2.counts.added.get("bundle.blob"), Some(&1));
        assert!(content(&app, repo).await.contains(&members[0]));
    }

    async fn removing_a_member_still_needed_is_refused(t: &TestDatabase) {
        let app = app(t).await;
        let repo = create_repository(&app, "b").await.expect("repo").pulp_id();
        add_bundle(&app, repo, spec("app", "1.0", &[("lib/a.so", 1), ("bin/app", 2)])).await.expect("add");
        let needed = blob_id(&app, blob("lib/a.so", 1)).await;
        match remove_content(&app, repo, &[needed]).await {
            Err(BundleError::Version(VersionError::Refused(message))) => {
                assert!(message.contains("lib/a.so") && message.contains("app 1.0"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(latest_version(app.db(), repo).await.expect("latest").number, 1, "no version made");
        // Without the bundle, the blob can go.
        let latest = latest_version(app.db(), repo).await.expect("latest");
        let bundles: Vec<Model<Bundle>> = version_content(app.db(), &latest, 100, 0).await.expect("bundles");
        assert_eq!(bundles.len(), 1);
        let ids: Vec<PulpId> = bundles.iter().map(Model::pulp_id).collect();
        remove_content(&app, repo, &ids).await.expect("remove bundle").expect("version");
        remove_content(&app, repo, &[needed]).await.expect("remove blob").expect("version");
        assert_eq!(content(&app, repo).await.len(), 1);
    }

    async fn a_newer_bundle_replaces_the_older(t: &TestDatabase) {
        let app = app(t).await;
        let repo = create_repository(&app, "b").await.expect("repo").pulp_id();
        add_bundle(&app, repo, spec("app", "1.0", &[("a", 1)])).await.expect("add 1.0");
        let v2 = add_bundle(&app, repo, spec("app", "2.0", &[("a", 3)])).await.expect("add 2.0").expect("version");
        assert_eq!(v2.counts.present.get("bundle.bundle"), Some(&1));
        assert_eq!(v2.counts.removed.get("bundle.bundle"), Some(&1));
        // The old bundle's blob stays (like container blobs); it may now be removed.
        let old_blob = blob_id(&app, blob("a", 1)).await;
        remove_content(&app, repo, &[old_blob]).await.expect("remove").expect("version");
    }
}
