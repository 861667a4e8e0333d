//! Repository versions of file repositories, on SQLite and PostgreSQL.

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use pulp_file::{FileContent, FileRepository};
use pulp_plugin_api::models::{self, href, version_href, Model};
use pulp_plugin_api::repository::{
    content_summary, delete_version, get_version, latest_version, list_versions, version_content,
    version_content_ids, NewVersion, VersionError,
};
use pulp_plugin_api::{App, PulpId};
use support::{app, file, repository};

async fn ids_of(app: &App, repo: PulpId, number: i64) -> BTreeSet<PulpId> {
    let version = get_version(app.db(), repo, number).await.expect("version");
    let ids = version_content_ids(app.db(), &version, 1_000_000, 0)
        .await
        .expect("content");
    let set: BTreeSet<PulpId> = ids.iter().copied().collect();
    assert_eq!(
        set.len(),
        ids.len(),
        "a unit listed twice in version {number}"
    );
    assert_eq!(
        version.counts.total() as usize,
        ids.len(),
        "counts of version {number}"
    );
    set
}

/// Every version holds its model set, and counts as added/removed its difference from the
/// version before it.
async fn check_model(
    app: &App,
    repo: PulpId,
    model: &[(i64, BTreeSet<PulpId>)],
) -> Result<(), TestCaseError> {
    let mut previous: Option<&BTreeSet<PulpId>> = None;
    for (number, expected) in model {
        prop_assert_eq!(
            &ids_of(app, repo, *number).await,
            expected,
            "content of version {}",
            number
        );
        if let Some(before) = previous {
            let version = get_version(app.db(), repo, *number).await.expect("version");
            let added = expected.difference(before).count() as i64;
            let removed = before.difference(expected).count() as i64;
            prop_assert_eq!(
                version.counts.added.get("file.file").copied().unwrap_or(0),
                added,
                "added by {}",
                number
            );
            prop_assert_eq!(
                version
                    .counts
                    .removed
                    .get("file.file")
                    .copied()
                    .unwrap_or(0),
                removed,
                "removed by {}",
                number
            );
        }
        previous = Some(expected);
    }
    Ok(())
}

async fn save(app: &App, units: Vec<FileContent>) -> Vec<PulpId> {
    models::save_content(app.db(), units)
        .await
        .expect("save")
        .iter()
        .map(Model::pulp_id)
        .collect()
}

pulp_plugin_api::testing::db_tests! {
    async fn a_repository_starts_with_an_empty_version_0(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let versions = list_versions(app.db(), repo.pulp_id()).await.expect("versions");
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].number, 0);
        assert!(ids_of(&app, repo.pulp_id(), 0).await.is_empty());
    }

    async fn versions_add_and_remove_and_stay_immutable(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let ids = save(&app, (0..5).map(|i| file(&format!("f{i}"), i)).collect()).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&ids[..3]).await.expect("add");
        let v1 = v.commit().await.expect("commit").expect("a version");
        assert_eq!(v1.number, 1);
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.remove_content(&ids[..1]).await.expect("remove");
        v.add_content(&ids[3..]).await.expect("add");
        let v2 = v.commit().await.expect("commit").expect("a version");
        assert_eq!(v2.number, 2);
        assert_eq!(ids_of(&app, repo.pulp_id(), 1).await, ids[..3].iter().copied().collect());
        assert_eq!(ids_of(&app, repo.pulp_id(), 2).await, ids[1..].iter().copied().collect());
        assert_eq!(v2.counts.added.get("file.file"), Some(&2));
        assert_eq!(v2.counts.removed.get("file.file"), Some(&1));
        assert_eq!(v2.counts.present.get("file.file"), Some(&4));
        let page: Vec<Model<FileContent>> = version_content(app.db(), &v2, 2, 1).await.expect("page");
        assert_eq!(page.len(), 2);
        assert_eq!(latest_version(app.db(), repo.pulp_id()).await.expect("latest").number, 2);
    }

    async fn a_unit_given_twice_is_added_once(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "twice").await;
        let ids = save(&app, (0..3).map(|i| file(&format!("f{i}"), i)).collect()).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&[ids[0], ids[1], ids[0]]).await.expect("add with a repeated id");
        v.add_content(&[ids[1], ids[2]]).await.expect("add again");
        let v1 = v.commit().await.expect("commit").expect("a version");
        assert_eq!(v1.counts.added.get("file.file"), Some(&3));
        assert_eq!(ids_of(&app, repo.pulp_id(), 1).await, ids.iter().copied().collect());
        // Present already: a new version with nothing else changes nothing.
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&[ids[2], ids[2]]).await.expect("add present units");
        assert!(v.commit().await.expect("commit").is_none());
    }

    async fn writes_through_the_scope_transaction_are_honoured(t: &TestDatabase) {
        // A new version skips putting back removed units and replacing earlier ones while
        // it knows there are none; a plugin writing through `transaction()` ends that.
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let ids = save(&app, (0..3).map(|i| file(&format!("f{i}"), i)).collect()).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&ids[..2]).await.expect("add");
        v.commit().await.expect("commit").expect("version 1");
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        let (repo_id, number) = (repo.pulp_id(), v.number());
        pulp_plugin_api::on_tx!(v.transaction(), conn => {
            pulp_plugin_api::deps::sqlx::query(
                "UPDATE core_repositorycontent SET version_removed = $2 \
                 WHERE repository_id = $1 AND content_id = $3 AND version_removed IS NULL",
            )
            .bind(repo_id)
            .bind(number)
            .bind(ids[0])
            .execute(&mut *conn)
            .await
            .expect("a plugin's own write");
        });
        // Added again in the same scope: put back, so present and neither added nor removed.
        v.add_content(&ids[..1]).await.expect("add");
        v.add_content(&ids[2..]).await.expect("add");
        let v2 = v.commit().await.expect("commit").expect("version 2");
        assert_eq!(ids_of(&app, repo_id, 2).await, ids.iter().copied().collect());
        assert_eq!(v2.counts.added.get("file.file"), Some(&1));
        assert_eq!(v2.counts.removed.get("file.file"), None);
    }

    async fn a_later_file_at_the_same_path_replaces_the_earlier(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let old = save(&app, vec![file("a/x.txt", 1), file("b.txt", 2)]).await;
        let new = save(&app, vec![file("a/x.txt", 3)]).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&old).await.expect("add");
        v.commit().await.expect("commit");
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&new).await.expect("add");
        let v2 = v.commit().await.expect("commit").expect("a version");
        assert_eq!(ids_of(&app, repo.pulp_id(), 2).await, [old[1], new[0]].into_iter().collect());
        assert_eq!(v2.counts.removed.get("file.file"), Some(&1));
        // Two new files at one path in one version are refused, and leave no version.
        let clash = save(&app, vec![file("c", 4), file("c", 5)]).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&clash).await.expect("add");
        match v.commit().await {
            Err(VersionError::DuplicateContent { pulp_type, key }) => {
                assert_eq!(pulp_type, "file.file");
                assert!(key.contains("relative_path=\"c\""), "{key}");
            }
            other => panic!("expected a duplicate error, got {other:?}"),
        }
        assert_eq!(latest_version(app.db(), repo.pulp_id()).await.expect("latest").number, 2);
    }

    async fn with_overwrite_false_a_file_at_a_taken_path_fails_the_version(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let old = save(&app, vec![file("a/x.txt", 1), file("b.txt", 2)]).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&old).await.expect("add");
        v.commit().await.expect("commit");
        // A new file at a taken path: refused, nothing made.
        let taken = save(&app, vec![file("a/x.txt", 3), file("c.txt", 4)]).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.set_overwrite(false);
        v.add_content(&taken).await.expect("add");
        match v.commit().await {
            Err(VersionError::WouldOverwrite { pulp_type, key }) => {
                assert_eq!(pulp_type, "file.file");
                assert!(key.contains("relative_path=\"a/x.txt\""), "{key}");
            }
            other => panic!("expected an overwrite error, got {other:?}"),
        }
        assert_eq!(latest_version(app.db(), repo.pulp_id()).await.expect("latest").number, 1);
        // Files at free paths, and a path freed by a removal in the same version, are fine.
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.set_overwrite(false);
        v.remove_content(&old[..1]).await.expect("remove");
        v.add_content(&taken).await.expect("add");
        let v2 = v.commit().await.expect("commit").expect("a version");
        assert_eq!(
            ids_of(&app, repo.pulp_id(), v2.number).await,
            [old[1], taken[0], taken[1]].into_iter().collect()
        );
        // Re-adding a unit already in the repository replaces nothing: allowed.
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.set_overwrite(false);
        v.add_content(&old[1..]).await.expect("add");
        assert!(v.commit().await.expect("commit").is_none());
    }

    async fn a_failed_or_dropped_scope_leaves_no_version(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let ids = save(&app, vec![file("a", 1)]).await;
        {
            let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
            v.add_content(&ids).await.expect("add");
            // dropped without commit (an error or a panic in the task)
        }
        let app2 = app.clone();
        let repo_id = repo.pulp_id();
        let ids2 = ids.clone();
        let panicked = tokio::spawn(async move {
            let mut v = NewVersion::start(&app2, repo_id).await.expect("start");
            v.add_content(&ids2).await.expect("add");
            panic!("the task dies inside the scope");
        })
        .await;
        assert!(panicked.is_err());
        let versions = list_versions(app.db(), repo.pulp_id()).await.expect("versions");
        assert_eq!(versions.iter().map(|v| v.number).collect::<Vec<_>>(), [0]);
        // Nothing changed: no version is made, and the next real one is numbered 1.
        let v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        assert!(v.commit().await.expect("commit").is_none());
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&ids).await.expect("add");
        assert_eq!(v.commit().await.expect("commit").expect("version").number, 1);
    }

    async fn deleting_versions_folds_changes_and_retain_prunes(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let r = repo.pulp_id();
        let ids = save(&app, (0..4).map(|i| file(&format!("f{i}"), i)).collect()).await;
        // v1 +0 +1, v2 -0 +2, v3 +0 -1
        for (add, remove) in [(vec![0, 1], vec![]), (vec![2], vec![0]), (vec![0], vec![1])] {
            let mut v = NewVersion::start(&app, r).await.expect("start");
            v.add_content(&add.iter().map(|i| ids[*i]).collect::<Vec<_>>()).await.expect("add");
            v.remove_content(&remove.iter().map(|i| ids[*i]).collect::<Vec<_>>()).await.expect("remove");
            v.commit().await.expect("commit").expect("version");
        }
        let before3 = ids_of(&app, r, 3).await;
        let before1 = ids_of(&app, r, 1).await;
        delete_version(app.db(), r, 2).await.expect("delete 2");
        assert_eq!(ids_of(&app, r, 3).await, before3);
        assert_eq!(ids_of(&app, r, 1).await, before1);
        let v3 = get_version(app.db(), r, 3).await.expect("v3");
        // Relative to v1 ({0,1}), v3 ({0,2}) added 2 and removed 1; 0 was removed and re-added.
        assert_eq!(v3.counts.added.get("file.file"), Some(&1));
        assert_eq!(v3.counts.removed.get("file.file"), Some(&1));
        assert!(matches!(get_version(app.db(), r, 2).await, Err(VersionError::NoSuchVersion { .. })));
        // The latest version can be deleted too; the only one cannot.
        delete_version(app.db(), r, 3).await.expect("delete 3");
        assert_eq!(latest_version(app.db(), r).await.expect("latest").number, 1);
        delete_version(app.db(), r, 0).await.expect("delete 0");
        assert!(matches!(delete_version(app.db(), r, 1).await, Err(VersionError::OnlyVersion { number: 1 })));
        // retain_repo_versions = 2 keeps the latest two.
        let mut repo = models::get::<FileRepository>(app.db(), r).await.expect("get");
        repo.master.fields.retain_repo_versions = Some(2);
        models::update(app.db(), repo).await.expect("update");
        for i in 0..3 {
            let mut v = NewVersion::start(&app, r).await.expect("start");
            v.remove_content(&ids).await.expect("remove");
            v.add_content(&ids[i..=i]).await.expect("add");
            v.commit().await.expect("commit");
        }
        let numbers: Vec<i64> = list_versions(app.db(), r).await.expect("versions").iter().map(|v| v.number).collect();
        assert_eq!(numbers, [6, 5]);
        assert_eq!(ids_of(&app, r, 6).await, [ids[2]].into_iter().collect());
    }

    async fn deleting_a_version_moves_its_removals_to_the_next(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let r = repo.pulp_id();
        let ids = save(&app, vec![file("a", 1), file("b", 2)]).await;
        for (add, remove) in [(vec![ids[0]], vec![]), (vec![], vec![ids[0]]), (vec![ids[1]], vec![])] {
            let mut v = NewVersion::start(&app, r).await.expect("start");
            v.add_content(&add).await.expect("add");
            v.remove_content(&remove).await.expect("remove");
            v.commit().await.expect("commit").expect("version");
        }
        delete_version(app.db(), r, 2).await.expect("delete 2");
        let v3 = get_version(app.db(), r, 3).await.expect("v3");
        assert_eq!(v3.counts.removed.get("file.file"), Some(&1), "{:?}", v3.counts);
        assert_eq!(v3.counts.added.get("file.file"), Some(&1), "{:?}", v3.counts);
    }

    async fn content_summary_has_pulps_shape(t: &TestDatabase) {
        let app = app(t).await;
        let repo = repository(&app, "r").await;
        let ids = save(&app, vec![file("a", 1), file("b", 2)]).await;
        let mut v = NewVersion::start(&app, repo.pulp_id()).await.expect("start");
        v.add_content(&ids).await.expect("add");
        let version = v.commit().await.expect("commit").expect("version");
        let vhref = version_href(&href::<FileRepository>(repo.pulp_id()), version.number);
        assert_eq!(vhref, format!("/pulp/api/v3/repositories/file/file/{}/versions/1/", repo.pulp_id()));
        let summary = content_summary(&app, &version, &vhref);
        assert_eq!(summary, serde_json::json!({
            "added": {"file.file": {"count": 2, "href": format!("/pulp/api/v3/content/file/files/?repository_version_added={vhref}")}},
            "removed": {},
            "present": {"file.file": {"count": 2, "href": format!("/pulp/api/v3/content/file/files/?repository_version={vhref}")}},
        }));
    }

    async fn random_histories_match_a_model_and_deleting_keeps_other_versions(t: &TestDatabase) {
        let app = app(t).await;
        let pool = save(&app, (0..8).map(|i| file(&format!("p/{i}"), i)).collect()).await;
        let case = std::sync::atomic::AtomicUsize::new(0);
        // Each version: a list of (add?, unit); then an order in which to delete versions.
        let strategy = (
            prop::collection::vec(prop::collection::vec((any::<bool>(), 0..8usize), 0..6), 1..6),
            prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        );
        let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
        let handle = tokio::runtime::Handle::current();
        let result = runner.run(&strategy, |(history, deletions)| {
            tokio::task::block_in_place(|| handle.block_on(async {
                let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let repo = repository(&app, &format!("prop-{n}")).await.pulp_id();
                let mut model: Vec<(i64, BTreeSet<PulpId>)> = vec![(0, BTreeSet::new())];
                for ops in &history {
                    let mut expected = model.last().map(|(_, s)| s.clone()).unwrap_or_default();
                    let mut v = NewVersion::start(&app, repo).await.expect("start");
                    for (add, unit) in ops {
                        let id = pool[*unit];
                        if *add {
                            v.add_content(&[id]).await.expect("add");
                            expected.insert(id);
                        } else {
                            v.remove_content(&[id]).await.expect("remove");
                            expected.remove(&id);
                        }
                    }
                    let changed = expected != model.last().map(|(_, s)| s.clone()).unwrap_or_default();
                    match v.commit().await.expect("commit") {
                        Some(version) => {
                            prop_assert!(changed, "a version was made without a change");
                            model.push((version.number, expected));
                        }
                        None => prop_assert!(!changed, "a change made no version"),
                    }
                }
                check_model(&app, repo, &model).await?;
                for index in deletions {
                    if model.len() <= 1 {
                        break;
                    }
                    let (number, _) = model.remove(index.index(model.len()));
                    delete_version(app.db(), repo, number).await.expect("delete");
                    check_model(&app, repo, &model).await?;
                }
                // A version made after the deletions starts from the latest remaining one.
                let mut expected = model.last().map(|(_, s)| s.clone()).unwrap_or_default();
                let (add, remove) = if expected.contains(&pool[0]) { (pool[1], pool[0]) } else { (pool[0], pool[1]) };
                let mut v = NewVersion::start(&app, repo).await.expect("start");
                v.add_content(&[add]).await.expect("add");
                v.remove_content(&[remove]).await.expect("remove");
                expected.insert(add);
                expected.remove(&remove);
                let version = v.commit().await.expect("commit").expect("a change makes a version");
                model.push((version.number, expected));
                check_model(&app, repo, &model).await?;
                Ok(())
            }))
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
