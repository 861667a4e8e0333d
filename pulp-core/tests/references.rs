//! References between the tables a sync or a publication fills in bulk (content artifacts →
//! content, remote artifacts → content artifacts and remotes, repository content →
//! repositories, published artifacts → publications and content artifacts): a row naming a
//! missing row is refused, deletes cascade, on both backends. On PostgreSQL they are kept by
//! set-based triggers (migrations core 0009 and 0010) instead of declared foreign keys, so
//! the locking a foreign key does is tested there too.

use std::time::Duration;

use chrono::Utc;
use pulp_core::db::{Database, PulpId};
use pulp_core::on_pool;

async fn exec(db: &Database, sql: &str, ids: &[PulpId]) -> Result<u64, sqlx::Error> {
    on_pool!(db, pool => {
        let mut q = sqlx::query(sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.bind(Utc::now()).execute(pool).await.map(|r| r.rows_affected())
    })
}

async fn count(db: &Database, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    on_pool!(db, pool => sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count"))
}

/// `$1` is the id; the last parameter is the time.
const CONTENT: &str =
    "INSERT INTO core_content (pulp_id, pulp_type, pulp_created, pulp_last_updated) \
     VALUES ($1, 'demo.item', $2, $2)";
/// `$1` id, `$2` content.
const CONTENT_ARTIFACT: &str = "INSERT INTO core_contentartifact \
     (pulp_id, pulp_created, pulp_last_updated, content_id, relative_path) VALUES ($1, $3, $3, $2, 'a/b')";
/// `$1` id, `$2` content artifact, `$3` remote.
const REMOTE_ARTIFACT: &str = "INSERT INTO core_remoteartifact \
     (pulp_id, pulp_created, pulp_last_updated, content_artifact_id, remote_id, url) \
     VALUES ($1, $4, $4, $2, $3, 'http://example.org/a/b')";
const REMOTE: &str =
    "INSERT INTO core_remote (pulp_id, pulp_type, pulp_created, pulp_last_updated, name, url) \
     VALUES ($1, 'demo.demo', $2, $2, 'r', 'http://example.org/')";
const REPOSITORY: &str =
    "INSERT INTO core_repository (pulp_id, pulp_type, pulp_created, pulp_last_updated, name) \
     VALUES ($1, 'demo.demo', $2, $2, 'repo')";
/// `$1` repository, `$2` content. (The time is bound but unused: `$3 IS NOT NULL`.)
const MEMBERSHIP: &str =
    "INSERT INTO core_repositorycontent (repository_id, content_id, version_added) \
     SELECT $1, $2, 0 WHERE $3 IS NOT NULL";

/// `$1` id, `$2` repository.
const VERSION: &str = "INSERT INTO core_repositoryversion \
     (pulp_id, pulp_created, pulp_last_updated, repository_id, number, complete) \
     VALUES ($1, $3, $3, $2, 1, TRUE)";
/// `$1` id, `$2` repository version.
const PUBLICATION: &str = "INSERT INTO core_publication \
     (pulp_id, pulp_type, pulp_created, pulp_last_updated, repository_version_id, complete) \
     VALUES ($1, 'demo.demo', $3, $3, $2, TRUE)";
/// `$1` id, `$2` publication, `$3` content artifact.
const PUBLISHED: &str = "INSERT INTO core_publishedartifact \
     (pulp_id, pulp_created, pulp_last_updated, publication_id, content_artifact_id, relative_path) \
     VALUES ($1, $4, $4, $2, $3, 'a/b')";

/// A repository version of `rows.repository` and a publication of it naming
/// `rows.content_artifact`: (version, publication).
async fn published(db: &Database, rows: &Rows) -> (PulpId, PulpId) {
    let (version, publication) = (PulpId::new(), PulpId::new());
    exec(db, VERSION, &[version, rows.repository])
        .await
        .expect("version");
    exec(db, PUBLICATION, &[publication, version])
        .await
        .expect("publication");
    exec(
        db,
        PUBLISHED,
        &[PulpId::new(), publication, rows.content_artifact],
    )
    .await
    .expect("published artifact");
    (version, publication)
}

struct Rows {
    content: PulpId,
    content_artifact: PulpId,
    remote: PulpId,
    remote_artifact: PulpId,
    repository: PulpId,
}

async fn one_of_each(db: &Database) -> Rows {
    let rows = Rows {
        content: PulpId::new(),
        content_artifact: PulpId::new(),
        remote: PulpId::new(),
        remote_artifact: PulpId::new(),
        repository: PulpId::new(),
    };
    exec(db, CONTENT, &[rows.content]).await.expect("content");
    exec(db, CONTENT_ARTIFACT, &[rows.content_artifact, rows.content])
        .await
        .expect("content artifact");
    exec(db, REMOTE, &[rows.remote]).await.expect("remote");
    exec(
        db,
        REMOTE_ARTIFACT,
        &[rows.remote_artifact, rows.content_artifact, rows.remote],
    )
    .await
    .expect("remote artifact");
    exec(db, REPOSITORY, &[rows.repository])
        .await
        .expect("repository");
    exec(db, MEMBERSHIP, &[rows.repository, rows.content])
        .await
        .expect("membership");
    rows
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    match e {
        // PostgreSQL: 23503; SQLite: "FOREIGN KEY constraint failed" (787).
        sqlx::Error::Database(d) => {
            d.code().as_deref() == Some("23503") || d.code().as_deref() == Some("787")
        }
        _ => false,
    }
}

pulp_core::db_tests! {
    async fn a_row_naming_a_missing_row_is_refused(t: &TestDatabase) {
        t.db.migrate(&pulp_core::db::core_migrations()).await.expect("migrate");
        let rows = one_of_each(&t.db).await;
        let missing = PulpId::new();
        let refused = [
            ("core_contentartifact", exec(&t.db, CONTENT_ARTIFACT, &[PulpId::new(), missing]).await),
            ("core_remoteartifact", exec(&t.db, REMOTE_ARTIFACT, &[PulpId::new(), missing, rows.remote]).await),
            ("core_remoteartifact", exec(&t.db, REMOTE_ARTIFACT, &[PulpId::new(), rows.content_artifact, missing]).await),
            ("core_repositorycontent", exec(&t.db, MEMBERSHIP, &[missing, rows.content]).await),
        ];
        for (table, result) in refused {
            match result {
                Err(e) if is_foreign_key_violation(&e) => {}
                other => panic!("{table}: expected a foreign key violation, got {other:?}"),
            }
        }
        // One bad row among good ones: the statement stores none of them.
        let other = PulpId::new();
        exec(&t.db, CONTENT, &[other]).await.expect("content");
        let two = "INSERT INTO core_contentartifact (pulp_id, pulp_created, pulp_last_updated, content_id, relative_path) \
             VALUES ($1, $5, $5, $2, 'x'), ($3, $5, $5, $4, 'y')";
        let result = exec(&t.db, two, &[PulpId::new(), other, PulpId::new(), missing]).await;
        assert!(result.as_ref().is_err_and(is_foreign_key_violation), "{result:?}");
        // Pointing a row at another unit that exists is fine; at a missing one, refused.
        let point = "UPDATE core_contentartifact SET content_id = $1, pulp_last_updated = $3 WHERE pulp_id = $2";
        let moved = exec(&t.db, point, &[other, rows.content_artifact]).await;
        assert_eq!(moved.as_ref().ok(), Some(&1), "{moved:?}");
        let dangling = exec(&t.db, point, &[missing, rows.content_artifact]).await;
        assert!(dangling.as_ref().is_err_and(is_foreign_key_violation), "{dangling:?}");
        assert_eq!(count(&t.db, "core_contentartifact").await, 1);
        assert_eq!(count(&t.db, "core_remoteartifact").await, 1);
        assert_eq!(count(&t.db, "core_repositorycontent").await, 1);
    }

    async fn deletes_cascade_to_the_rows_naming_them(t: &TestDatabase) {
        t.db.migrate(&pulp_core::db::core_migrations()).await.expect("migrate");
        let kept = one_of_each(&t.db).await;
        // A second unit with its own content artifact and remote artifact, in another
        // repository, from another remote.
        let gone = Rows {
            content: PulpId::new(),
            content_artifact: PulpId::new(),
            remote: PulpId::new(),
            remote_artifact: PulpId::new(),
            repository: PulpId::new(),
        };
        exec(&t.db, CONTENT, &[gone.content]).await.expect("content");
        exec(&t.db, CONTENT_ARTIFACT, &[gone.content_artifact, gone.content]).await.expect("ca");
        exec(&t.db, &REMOTE.replace("'r'", "'r2'"), &[gone.remote]).await.expect("remote");
        exec(&t.db, REMOTE_ARTIFACT, &[gone.remote_artifact, gone.content_artifact, gone.remote]).await.expect("ra");
        exec(&t.db, &REMOTE_ARTIFACT.replace("http://example.org/a/b", "http://example.org/2"), &[PulpId::new(), kept.content_artifact, gone.remote]).await.expect("ra of the kept unit");
        exec(&t.db, &REPOSITORY.replace("'repo'", "'repo2'"), &[gone.repository]).await.expect("repository");
        exec(&t.db, MEMBERSHIP, &[gone.repository, kept.content]).await.expect("membership");
        assert_eq!(count(&t.db, "core_remoteartifact").await, 3);

        // Deleting a unit deletes its content artifacts, and theirs remote artifacts.
        exec(&t.db, "DELETE FROM core_content WHERE pulp_id = $1 AND $2 IS NOT NULL", &[gone.content]).await.expect("delete content");
        assert_eq!(count(&t.db, "core_contentartifact").await, 1);
        assert_eq!(count(&t.db, "core_remoteartifact").await, 2);
        // Deleting a remote deletes its remote artifacts only.
        exec(&t.db, "DELETE FROM core_remote WHERE pulp_id = $1 AND $2 IS NOT NULL", &[gone.remote]).await.expect("delete remote");
        assert_eq!(count(&t.db, "core_remoteartifact").await, 1);
        // Deleting a repository deletes its membership rows only.
        exec(&t.db, "DELETE FROM core_repository WHERE pulp_id = $1 AND $2 IS NOT NULL", &[gone.repository]).await.expect("delete repository");
        assert_eq!(count(&t.db, "core_repositorycontent").await, 1);
        // Deleting the last unit empties both artifact tables.
        exec(&t.db, "DELETE FROM core_content WHERE $1 IS NOT NULL", &[]).await.expect("delete all");
        assert_eq!(count(&t.db, "core_contentartifact").await, 0);
        assert_eq!(count(&t.db, "core_remoteartifact").await, 0);
    }

    async fn published_artifacts_name_a_publication_and_a_content_artifact(t: &TestDatabase) {
        t.db.migrate(&pulp_core::db::core_migrations()).await.expect("migrate");
        let rows = one_of_each(&t.db).await;
        let (version, publication) = published(&t.db, &rows).await;
        let missing = PulpId::new();
        let refused = [
            ("publication", exec(&t.db, PUBLISHED, &[PulpId::new(), missing, rows.content_artifact]).await),
            ("content artifact", exec(&t.db, &PUBLISHED.replace("'a/b'", "'c/d'"), &[PulpId::new(), publication, missing]).await),
        ];
        for (named, result) in refused {
            match result {
                Err(e) if is_foreign_key_violation(&e) => {}
                other => panic!("a missing {named}: expected a foreign key violation, got {other:?}"),
            }
        }
        assert_eq!(count(&t.db, "core_publishedartifact").await, 1);

        // Deleting a publication deletes its published artifacts.
        exec(&t.db, "DELETE FROM core_publication WHERE pulp_id = $1 AND $2 IS NOT NULL", &[publication]).await.expect("delete publication");
        assert_eq!(count(&t.db, "core_publishedartifact").await, 0);
        // Deleting a repository version deletes its publications (a declared key), and
        // theirs published artifacts.
        let publication = PulpId::new();
        exec(&t.db, PUBLICATION, &[publication, version]).await.expect("publication");
        exec(&t.db, PUBLISHED, &[PulpId::new(), publication, rows.content_artifact]).await.expect("published");
        exec(&t.db, "DELETE FROM core_repositoryversion WHERE pulp_id = $1 AND $2 IS NOT NULL", &[version]).await.expect("delete version");
        assert_eq!(count(&t.db, "core_publication").await, 0);
        assert_eq!(count(&t.db, "core_publishedartifact").await, 0);
        // Deleting a unit deletes its content artifacts, and the published artifacts naming
        // them; the publication stays.
        let (_, publication) = published(&t.db, &rows).await;
        exec(&t.db, "DELETE FROM core_content WHERE pulp_id = $1 AND $2 IS NOT NULL", &[rows.content]).await.expect("delete content");
        assert_eq!(count(&t.db, "core_publishedartifact").await, 0);
        let kept = on_pool!(&t.db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM core_publication WHERE pulp_id = $1")
            .bind(publication).fetch_one(pool).await.expect("count"));
        assert_eq!(kept, 1);
    }

    async fn a_delete_waits_for_a_writer_naming_its_row_and_takes_its_rows(t: &TestDatabase) {
        t.db.migrate(&pulp_core::db::core_migrations()).await.expect("migrate");
        let Database::Postgres(pool) = &t.db else {
            return; // SQLite has one writer at a time: nothing runs concurrently.
        };
        let rows = one_of_each(&t.db).await;
        // A writer names the unit (uncommitted)…
        let mut writer = pool.begin().await.expect("begin");
        let added = PulpId::new();
        sqlx::query(&CONTENT_ARTIFACT.replace("'a/b'", "'c/d'")).bind(added).bind(rows.content).bind(Utc::now())
            .execute(&mut *writer).await.expect("insert");
        // …so a delete of the unit waits for it,
        let deleter = {
            let pool = pool.clone();
            tokio::spawn(async move {
                sqlx::query("DELETE FROM core_content WHERE pulp_id = $1")
                    .bind(rows.content).execute(&pool).await.map(|r| r.rows_affected())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!deleter.is_finished(), "the delete did not wait for the writer's lock");
        writer.commit().await.expect("commit");
        // …then deletes the unit and both content artifacts, the one written meanwhile too.
        let deleted = tokio::time::timeout(Duration::from_secs(10), deleter).await
            .expect("the delete finishes").expect("join").expect("delete");
        assert_eq!(deleted, 1);
        assert_eq!(count(&t.db, "core_contentartifact").await, 0);
        assert_eq!(count(&t.db, "core_remoteartifact").await, 0);
    }

    async fn a_writer_naming_a_row_being_deleted_waits_and_is_refused(t: &TestDatabase) {
        t.db.migrate(&pulp_core::db::core_migrations()).await.expect("migrate");
        let Database::Postgres(pool) = &t.db else {
            return; // SQLite has one writer at a time: nothing runs concurrently.
        };
        let rows = one_of_each(&t.db).await;
        let mut deleter = pool.begin().await.expect("begin");
        sqlx::query("DELETE FROM core_remote WHERE pulp_id = $1").bind(rows.remote)
            .execute(&mut *deleter).await.expect("delete");
        let writer = {
            let pool = pool.clone();
            tokio::spawn(async move {
                sqlx::query(REMOTE_ARTIFACT).bind(PulpId::new()).bind(rows.content_artifact)
                    .bind(rows.remote).bind(Utc::now()).execute(&pool).await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writer.is_finished(), "the writer did not wait for the delete");
        deleter.commit().await.expect("commit");
        let result = tokio::time::timeout(Duration::from_secs(10), writer).await
            .expect("the writer finishes").expect("join");
        assert!(result.as_ref().is_err_and(is_foreign_key_violation), "{result:?}");
        assert_eq!(count(&t.db, "core_remoteartifact").await, 0);
    }
}
