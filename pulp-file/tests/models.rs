//! Master/detail models of the file plugin, artifacts, on SQLite and PostgreSQL.

mod support;

use pulp_file::{FileContent, FileDistribution, FileRemote, FileRepository};
use pulp_plugin_api::models::{
    self, content_artifacts, create_content_artifacts, create_remote_artifacts, find_artifact,
    remote_artifacts, save_artifact, save_content_artifacts, save_remote_artifacts, to_response,
    Column, DistributionFields, Labels, ModelError, RemoteArtifact, RemoteFields, RemoteKind,
    RepositoryFields, RepositoryKind,
};
use pulp_plugin_api::repository::RepositoryType;
use pulp_plugin_api::validation::{Validate, ValidationErrors};
use pulp_plugin_api::{Migration, PulpId, Registry};
use support::{app, app_with, file};

/// A second repository type, to cast to the wrong one.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct OtherRepository {}

impl Validate for OtherRepository {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl models::Detail for OtherRepository {
    type Kind = RepositoryKind;
    const PULP_TYPE: &'static str = "other.other";
    const TABLE: &'static str = "other_repository";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "other.otherrepository";
    const ENDPOINT: &'static str = "other/other";
}

impl RepositoryType for OtherRepository {}

fn other_plugin(r: &mut Registry) {
    r.migrations([Migration {
        app: "other",
        name: "0001_initial",
        sqlite: "CREATE TABLE other_repository (pulp_id TEXT PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE)",
        postgres: "CREATE TABLE other_repository (pulp_id UUID PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE)",
    }]);
    r.repository::<OtherRepository>();
}

pulp_plugin_api::testing::db_tests! {
    async fn masters_cast_to_their_detail_and_not_to_another(t: &TestDatabase) {
        let app = app_with(t, other_plugin).await;
        let db = app.db();
        let labels = Labels::from([("env".to_string(), Some("prod".to_string()))]);
        let detail = FileRepository { autopublish: true, ..FileRepository::default() };
        let file_repo = models::create(db, labels.clone(), RepositoryFields::new("files"), detail).await.expect("create");
        let other = models::create(db, Labels::new(), RepositoryFields::new("other"), OtherRepository {}).await.expect("create");
        // Generic code lists masters of every type.
        let masters = models::list_masters::<RepositoryKind>(db, None, 10, 0).await.expect("list");
        let types: Vec<&str> = masters.iter().map(|m| m.pulp_type.as_str()).collect();
        assert_eq!(types, ["file.file", "other.other"]);
        assert_eq!(masters[0].pulp_labels, labels);
        // Typed code gets the detail back, with its master.
        let cast = masters[0].cast::<FileRepository>(db).await.expect("cast");
        assert!(cast.autopublish);
        assert_eq!(cast.manifest.as_deref(), Some("PULP_MANIFEST"));
        assert_eq!(cast.master().fields.name, "files");
        assert_eq!(cast.pulp_id(), file_repo.pulp_id());
        // The wrong type is an error naming both types, not a panic.
        match masters[1].cast::<FileRepository>(db).await {
            Err(ModelError::WrongType { expected, found, id }) => {
                assert_eq!((expected, found.as_str(), id), ("file.file", "other.other", other.pulp_id()));
            }
            other => panic!("expected WrongType, got {other:?}"),
        }
        assert!(matches!(models::get::<OtherRepository>(db, file_repo.pulp_id()).await, Err(ModelError::WrongType { .. })));
        assert!(matches!(models::get::<FileRepository>(db, PulpId::new()).await, Err(ModelError::NotFound { .. })));
        assert_eq!(models::count::<RepositoryKind>(db, Some("file.file")).await.expect("count"), 1);
        assert_eq!(models::list::<FileRepository>(db, 10, 0).await.expect("typed list").len(), 1);
    }

    async fn create_update_delete_and_unique_names(t: &TestDatabase) {
        let app = app(t).await;
        let db = app.db();
        let mut fields = RemoteFields::new("origin", "https://example.org/repo/PULP_MANIFEST");
        fields.password = Some("s3cret".into());
        fields.username = Some("me".into());
        let remote = models::create(db, Labels::new(), fields.clone(), FileRemote {}).await.expect("create");
        assert_eq!(remote.pulp_href(), format!("/pulp/api/v3/remotes/file/file/{}/", remote.pulp_id()));
        assert_eq!(remote.prn(), format!("prn:file.fileremote:{}", remote.pulp_id()));
        let loaded = models::get::<FileRemote>(db, remote.pulp_id()).await.expect("get");
        assert_eq!(loaded.fields().password.as_deref(), Some("s3cret"), "secrets are stored");
        // …but never serialized back.
        let response = to_response(&loaded);
        let text = response.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        for secret in ["password", "username", "client_key", "proxy_password", "proxy_username"] {
            assert!(response.get(secret).is_none(), "{secret} is write-only: {text}");
        }
        assert_eq!(response["url"], "https://example.org/repo/PULP_MANIFEST");
        assert_eq!(response["policy"], "immediate");
        assert_eq!(response["tls_validation"], true);
        let hidden = response["hidden_fields"].as_array().expect("hidden_fields");
        assert!(hidden.contains(&serde_json::json!({"name": "password", "is_set": true})), "{hidden:?}");
        assert!(hidden.contains(&serde_json::json!({"name": "client_key", "is_set": false})), "{hidden:?}");
        // A second remote with the same name is refused on the name field.
        match models::create(db, Labels::new(), fields, FileRemote {}).await {
            Err(ModelError::Invalid(errors)) => assert_eq!(errors.messages("name"), ["This field must be unique."]),
            other => panic!("expected a unique-name error, got {other:?}"),
        }
        let mut changed = loaded.clone();
        changed.master.fields.url = "https://example.org/other/".into();
        changed.master.pulp_labels.insert("k".into(), Some("v".into()));
        let updated = models::update(db, changed).await.expect("update");
        let again = models::get::<FileRemote>(db, remote.pulp_id()).await.expect("get");
        assert_eq!(again.fields().url, "https://example.org/other/");
        assert_eq!(again.master.pulp_labels.get("k").cloned().flatten().as_deref(), Some("v"));
        assert!(updated.master.pulp_last_updated >= loaded.master.pulp_last_updated);
        // Invalid values are refused by field before reaching the database.
        let mut bad = again.clone();
        bad.master.fields.url = String::new();
        match models::update(db, bad).await {
            Err(ModelError::Invalid(errors)) => assert!(!errors.messages("url").is_empty(), "{errors}"),
            other => panic!("expected a validation error, got {other:?}"),
        }
        models::delete::<RemoteKind>(db, remote.pulp_id()).await.expect("delete");
        assert!(matches!(models::get::<FileRemote>(db, remote.pulp_id()).await, Err(ModelError::NotFound { .. })));
        // Distributions: unique base_path, validated base_path.
        let d = models::create(db, Labels::new(), DistributionFields::new("d1", "files/a"), FileDistribution {}).await.expect("dist");
        assert_eq!(d.pulp_href(), format!("/pulp/api/v3/distributions/file/file/{}/", d.pulp_id()));
        match models::create(db, Labels::new(), DistributionFields::new("d2", "files/a"), FileDistribution {}).await {
            Err(ModelError::Invalid(errors)) => assert_eq!(errors.messages("base_path"), ["This field must be unique."]),
            other => panic!("expected a unique base_path error, got {other:?}"),
        }
        match models::create(db, Labels::new(), DistributionFields::new("d3", "../etc"), FileDistribution {}).await {
            Err(ModelError::Invalid(errors)) => assert!(!errors.messages("base_path").is_empty()),
            other => panic!("expected an invalid base_path error, got {other:?}"),
        }
    }

    async fn saving_content_that_exists_returns_the_existing_unit(t: &TestDatabase) {
        let app = app(t).await;
        let db = app.db();
        let first = models::save_content(db, vec![file("a.txt", 1), file("b.txt", 2)]).await.expect("save");
        let again = models::save_content(db, vec![file("b.txt", 2), file("c.txt", 3), file("a.txt", 1), file("c.txt", 3)])
            .await
            .expect("save again");
        assert_eq!(again[0].pulp_id(), first[1].pulp_id());
        assert_eq!(again[2].pulp_id(), first[0].pulp_id());
        assert_eq!(again[1].pulp_id(), again[3].pulp_id(), "duplicates in one call are one unit");
        assert_eq!(models::count::<models::ContentKind>(db, None).await.expect("count"), 3);
        // Same path, other digest: another unit.
        let other = models::save_content(db, vec![file("a.txt", 9)]).await.expect("save");
        assert_ne!(other[0].pulp_id(), first[0].pulp_id());
        assert_eq!(first[0].pulp_href(), format!("/pulp/api/v3/content/file/files/{}/", first[0].pulp_id()));
        // Concurrent savers of the same units end with one row each and no error.
        let units: Vec<FileContent> = (10..60).map(|i| file(&format!("p{i}"), i)).collect();
        let (x, y) = tokio::join!(models::save_content(db, units.clone()), models::save_content(db, units));
        let (x, y) = (x.expect("x"), y.expect("y"));
        assert!(x.iter().zip(&y).all(|(a, b)| a.pulp_id() == b.pulp_id()));
        // The pipeline path validates like the API: a traversal is refused by field.
        match models::save_content(db, vec![file("../escape", 1)]).await {
            Err(ModelError::Invalid(errors)) => assert!(!errors.messages("relative_path").is_empty()),
            other => panic!("expected a relative_path error, got {other:?}"),
        }
        match models::save_content(db, vec![FileContent { relative_path: "ok".into(), digest: "xyz".into() }]).await {
            Err(ModelError::Invalid(errors)) => assert!(!errors.messages("digest").is_empty()),
            other => panic!("expected a digest error, got {other:?}"),
        }
    }

    async fn artifacts_content_artifacts_and_remote_artifacts(t: &TestDatabase) {
        let app = app(t).await;
        let db = app.db();
        let stored = app.storage().ingest_bytes(bytes_of("hello"), &pulp_plugin_api::ExpectedArtifact::any())
            .await
            .expect("ingest");
        let artifact = save_artifact(db, &stored).await.expect("record");
        let again = save_artifact(db, &stored).await.expect("record again");
        assert_eq!(artifact.pulp_id, again.pulp_id, "one row per sha256");
        assert_eq!(artifact.sha256(), stored.sha256);
        assert_eq!(artifact.size, 5);
        assert!(artifact.file.starts_with("artifact/"), "{}", artifact.file);
        let response = artifact.to_response();
        assert_eq!(response["sha256"], stored.sha256.as_str());
        assert!(response["md5"].is_null());
        assert_eq!(find_artifact(db, &stored.sha256).await.expect("find").map(|a| a.pulp_id), Some(artifact.pulp_id));
        let unit = models::save_content(db, vec![FileContent { relative_path: "hello.txt".into(), digest: stored.sha256.clone() }])
            .await
            .expect("unit")
            .remove(0);
        // Known remotely first (on_demand), then downloaded.
        let links = save_content_artifacts(db, &[(unit.pulp_id(), None, "hello.txt".into())]).await.expect("link");
        assert_eq!(links[0].artifact_id, None);
        let remote = models::create(db, Labels::new(), RemoteFields::new("r", "https://example.org/"), FileRemote {})
            .await
            .expect("remote");
        let ra = RemoteArtifact {
            content_artifact_id: links[0].pulp_id,
            remote_id: remote.pulp_id(),
            url: "https://example.org/hello.txt".into(),
            size: Some(5),
            digests: stored.digests.clone(),
        };
        save_remote_artifacts(db, std::slice::from_ref(&ra)).await.expect("remote artifact");
        save_remote_artifacts(db, std::slice::from_ref(&ra)).await.expect("again: updated, not duplicated");
        let found = remote_artifacts(db, &[links[0].pulp_id]).await.expect("read");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].url, ra.url);
        let linked = save_content_artifacts(db, &[(unit.pulp_id(), Some(artifact.pulp_id), "hello.txt".into())])
            .await
            .expect("link artifact");
        assert_eq!(linked[0].pulp_id, links[0].pulp_id, "the same link, now with its artifact");
        let all = content_artifacts(db, &[unit.pulp_id()]).await.expect("read links");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].artifact_id, Some(artifact.pulp_id));
        match save_content_artifacts(db, &[(unit.pulp_id(), None, "/etc/passwd".into())]).await {
            Err(ModelError::Invalid(errors)) => assert!(!errors.messages("relative_path").is_empty()),
            other => panic!("expected a relative_path error, got {other:?}"),
        }
    }

    // The create paths of the sync pipeline (`COPY` on PostgreSQL) store what the upserts
    // store, and fall back to them when the rows exist after all (another writer was first).
    async fn create_paths_store_rows_and_fall_back_when_they_exist(t: &TestDatabase) {
        let app = app(t).await;
        let db = app.db();
        let path = "dir/ä b.txt".to_string();
        let unit = FileContent { relative_path: path.clone(), digest: "a".repeat(64) };
        let created = models::save_new_content(db, vec![unit.clone()]).await.expect("create").remove(0);
        assert_eq!(created.detail.relative_path, path);
        // Saved as new again (no lookup first): the existing unit comes back, no second row.
        let again = models::save_new_content(db, vec![unit.clone()]).await.expect("again").remove(0);
        assert_eq!(again.pulp_id(), created.pulp_id());
        assert_eq!(models::find_content(db, &[unit]).await.expect("find")[0].as_ref().map(|m| m.pulp_id()), Some(created.pulp_id()));

        let link = (created.pulp_id(), None, path.clone());
        let links = create_content_artifacts(db, std::slice::from_ref(&link)).await.expect("link");
        assert_eq!(links[0].relative_path, path);
        let read = content_artifacts(db, &[created.pulp_id()]).await.expect("read links");
        assert_eq!(read, links);
        let relinked = create_content_artifacts(db, &[link]).await.expect("link again");
        assert_eq!(relinked[0].pulp_id, links[0].pulp_id, "the existing link, not a second one");
        match create_content_artifacts(db, &[(created.pulp_id(), None, "../x".into())]).await {
            Err(ModelError::Invalid(errors)) => assert!(!errors.messages("relative_path").is_empty()),
            other => panic!("expected a relative_path error, got {other:?}"),
        }

        let remote = models::create(db, Labels::new(), RemoteFields::new("r", "https://example.org/"), FileRemote {})
            .await
            .expect("remote");
        let mut ra = RemoteArtifact {
            content_artifact_id: links[0].pulp_id,
            remote_id: remote.pulp_id(),
            // Characters the COPY text format gives a meaning (backslash, tab, newline) come
            // back as they were, whichever format the rows went in.
            url: "https://example.org/a\\b\tc\nd".into(),
            size: Some(7),
            digests: [(pulp_plugin_api::ChecksumType::Sha256, "b".repeat(64))].into_iter().collect(),
        };
        create_remote_artifacts(db, std::slice::from_ref(&ra)).await.expect("remote artifact");
        assert_eq!(remote_artifacts(db, &[links[0].pulp_id]).await.expect("read"), vec![ra.clone()]);
        ra.url = "https://example.org/moved".into();
        create_remote_artifacts(db, std::slice::from_ref(&ra)).await.expect("existing: updated");
        assert_eq!(remote_artifacts(db, &[links[0].pulp_id]).await.expect("read"), vec![ra]);
    }
}

fn bytes_of(text: &str) -> pulp_plugin_api::deps::bytes::Bytes {
    pulp_plugin_api::deps::bytes::Bytes::from(text.to_string())
}
