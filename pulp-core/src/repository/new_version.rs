//! [`NewVersion`]: the scope in which a new repository version is built.

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;

use super::version::{from_row, VersionRow, VERSION_COLUMNS};
use super::{RepositoryHooks, RepositoryVersion, VersionCounts, VersionError};
use crate::app::App;
use crate::db::{Backend, Database, DbTransaction, PulpId};
use crate::models::sql::{bind_all, placeholders};
use crate::models::{get_master, ContentDetail, Repository, RepositoryKind, SqlValue};
use crate::on_tx;

/// Ids per statement when adding or removing content.
const CHUNK: usize = 10_000;
/// Ids per array parameter on PostgreSQL.
const PG_CHUNK: usize = 50_000;

/// A new version being built. Everything it does happens in one database transaction that
/// also holds the repository's lock (so versions of one repository are made one at a time):
/// [`NewVersion::commit`] makes the version visible at once; an error, a panic or dropping
/// the scope leaves nothing behind.
///
/// ```ignore
/// let mut version = NewVersion::start(&app, repository_id).await?;
/// version.add_content(&added).await?;
/// version.remove_content(&removed).await?;
/// let made = version.commit().await?; // None: nothing changed, no version made
/// ```
#[derive(Debug)]
pub struct NewVersion {
    tx: DbTransaction,
    app: App,
    repository: Repository,
    number: i64,
    base: RepositoryVersion,
    version_id: PulpId,
    hooks: RepositoryHooks,
    overwrite: bool,
    /// Whether rows may carry this version as `version_removed` (something was removed, or
    /// a plugin wrote through [`NewVersion::transaction`]); until then there is nothing to
    /// put back or count as removed.
    may_have_removed: bool,
    /// Whether units of earlier versions may be present (the base version has content, or a
    /// plugin wrote through [`NewVersion::transaction`]); until then nothing can be replaced.
    may_have_earlier: bool,
}

impl NewVersion {
    /// Opens the scope of the next version of the repository `repository_id`.
    pub async fn start(app: &App, repository_id: PulpId) -> Result<NewVersion, VersionError> {
        let db = app.db();
        let repository = get_master::<RepositoryKind>(db, repository_id).await?;
        let hooks = app
            .repository_hooks(&repository.pulp_type)
            .unwrap_or_else(RepositoryHooks::none);
        let mut tx = db.begin_write().await?;
        let lock = match db.backend() {
            Backend::Postgres => {
                "SELECT next_version FROM core_repository WHERE pulp_id = $1 FOR UPDATE"
            }
            Backend::Sqlite => "SELECT next_version FROM core_repository WHERE pulp_id = $1",
        };
        let base_sql = format!(
            "SELECT {VERSION_COLUMNS} FROM core_repositoryversion WHERE repository_id = $1 AND complete \
             ORDER BY number DESC LIMIT 1"
        );
        let version_id = PulpId::new();
        let now = Utc::now();
        let (number, base): (i64, Option<VersionRow>) = on_tx!(&mut tx, conn => {
            let number: i64 = sqlx::query_scalar(lock).bind(repository_id).fetch_one(&mut *conn).await?;
            let base: Option<VersionRow> =
                sqlx::query_as(&base_sql).bind(repository_id).fetch_optional(&mut *conn).await?;
            (number, base)
        });
        let base = base.map(from_row).ok_or(VersionError::NoSuchVersion {
            repository: repository_id,
            number: -1,
        })?;
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO core_repositoryversion \
                 (pulp_id, pulp_created, pulp_last_updated, repository_id, number, complete, base_version_id, info) \
                 VALUES ($1, $2, $2, $3, $4, FALSE, $5, $6)",
            )
            .bind(version_id)
            .bind(now)
            .bind(repository_id)
            .bind(number)
            .bind(base.pulp_id)
            .bind(sqlx::types::Json(VersionCounts::default()))
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE core_repository SET next_version = $2 WHERE pulp_id = $1")
                .bind(repository_id)
                .bind(number + 1)
                .execute(&mut *conn)
                .await?;
        });
        Ok(NewVersion {
            tx,
            app: app.clone(),
            repository,
            number,
            may_have_earlier: base.counts.present.values().any(|n| *n > 0),
            base,
            version_id,
            hooks,
            overwrite: true,
            may_have_removed: false,
        })
    }

    /// Whether an added unit may replace a unit already in the repository with the same
    /// [`ContentDetail::REPO_KEY`] (Pulp's `overwrite`, default `true`). With `false`,
    /// [`NewVersion::remove_duplicates`] fails with [`VersionError::WouldOverwrite`] instead
    /// of replacing, and the version is not made.
    pub fn set_overwrite(&mut self, overwrite: bool) {
        self.overwrite = overwrite;
    }

    fn tx(&mut self) -> &mut DbTransaction {
        &mut self.tx
    }

    /// The open transaction, for a plugin's own queries inside the scope (use
    /// [`on_tx!`](crate::on_tx)); membership rows written so far are visible only here.
    pub fn transaction(&mut self) -> &mut DbTransaction {
        // What the plugin writes is unknown: no shortcut is taken after this.
        self.may_have_removed = true;
        self.may_have_earlier = true;
        self.tx()
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The number the version will have.
    pub fn number(&self) -> i64 {
        self.number
    }

    /// The version it is made from (the latest when the scope opened).
    pub fn base_version(&self) -> &RepositoryVersion {
        &self.base
    }

    /// The database (for reading content; membership goes through the scope).
    pub fn db(&self) -> &Database {
        self.app.db()
    }

    /// The app.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Adds units to the version (ids of units already in it, or unknown, are ignored).
    /// One statement per 10,000 ids (PostgreSQL: one array parameter per 50,000 ids).
    pub async fn add_content(&mut self, ids: &[PulpId]) -> Result<(), VersionError> {
        let (repository, number) = (self.repository.pulp_id, self.number);
        let may_have_removed = self.may_have_removed;
        // Removed earlier in this same version: put back. Then insert what is not present.
        const UNREMOVE: &str = "UPDATE core_repositorycontent SET version_removed = NULL \
             WHERE repository_id = $1 AND version_removed = $2 AND content_id IN ";
        const INSERT: &str = "INSERT INTO core_repositorycontent (repository_id, content_id, version_added, version_removed) \
             SELECT $1, c.pulp_id, $2, NULL FROM core_content c WHERE c.pulp_id IN ";
        const ABSENT: &str = " AND NOT EXISTS (SELECT 1 FROM core_repositorycontent p \
             WHERE p.repository_id = $1 AND p.content_id = c.pulp_id AND p.version_removed IS NULL)";
        match self.tx() {
            DbTransaction::Postgres(tx) => {
                // One array parameter per chunk, driving the join (an index probe per id).
                // The units present already are read first and left out here, so the
                // insert has no presence check of its own: as a `NOT EXISTS` probe, with
                // statistics that call the table empty (an analyzed table without pages: a
                // new database after autovacuum, or one whose repositories were emptied)
                // PostgreSQL ran it as a sequential scan per added unit over the rows the
                // statement was adding, so the time grew with the square of the units
                // (5,000: 140 ms instead of 30); as `ON CONFLICT DO NOTHING` it cost 9 ms
                // more per 5,000 units in the usual case. An id given twice is added once.
                let mut seen = HashSet::with_capacity(ids.len().min(PG_CHUNK));
                for chunk in ids.chunks(PG_CHUNK) {
                    let wanted: Vec<uuid::Uuid> = chunk
                        .iter()
                        .map(|id| id.0)
                        .filter(|id| seen.insert(*id))
                        .collect();
                    if may_have_removed {
                        sqlx::query(&format!("{UNREMOVE}(SELECT unnest($3::uuid[]))"))
                            .bind(repository)
                            .bind(number)
                            .bind(&wanted)
                            .execute(&mut **tx)
                            .await?;
                    }
                    let present: HashSet<uuid::Uuid> = sqlx::query_scalar(
                        "SELECT content_id FROM core_repositorycontent WHERE repository_id = $1 \
                         AND version_removed IS NULL AND content_id = ANY($2)",
                    )
                    .bind(repository)
                    .bind(&wanted)
                    .fetch_all(&mut **tx)
                    .await?
                    .into_iter()
                    .collect();
                    let absent: Vec<uuid::Uuid> = wanted
                        .into_iter()
                        .filter(|id| !present.contains(id))
                        .collect();
                    if absent.is_empty() {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO core_repositorycontent (repository_id, content_id, version_added, version_removed) \
                         SELECT $1, c.pulp_id, $2, NULL FROM unnest($3::uuid[]) AS u(id) \
                         JOIN core_content c ON c.pulp_id = u.id",
                    )
                    .bind(repository)
                    .bind(number)
                    .bind(&absent)
                    .execute(&mut **tx)
                    .await?;
                }
            }
            DbTransaction::Sqlite(tx) => {
                for chunk in ids.chunks(CHUNK) {
                    let list = format!("({})", placeholders(3, chunk.len()));
                    let binds = || {
                        [SqlValue::Id(Some(repository)), SqlValue::Int(Some(number))]
                            .into_iter()
                            .chain(chunk.iter().map(|id| SqlValue::Id(Some(*id))))
                    };
                    let unremove = format!("{UNREMOVE}{list}");
                    let insert = format!("{INSERT}{list}{ABSENT}");
                    let conn = &mut **tx;
                    if may_have_removed {
                        bind_all!(Backend::Sqlite, sqlx::query, &unremove, binds(), |q| q
                            .execute(&mut *conn)
                            .await?);
                    }
                    bind_all!(Backend::Sqlite, sqlx::query, &insert, binds(), |q| q
                        .execute(&mut *conn)
                        .await?);
                }
            }
        }
        Ok(())
    }

    /// Removes units from the version (ids not in it are ignored). One statement per
    /// 10,000 ids.
    pub async fn remove_content(&mut self, ids: &[PulpId]) -> Result<(), VersionError> {
        let (repository, number) = (self.repository.pulp_id, self.number);
        self.may_have_removed = true;
        let backend = self.app.db().backend();
        for chunk in ids.chunks(CHUNK) {
            let list = placeholders(3, chunk.len());
            let binds = || {
                [SqlValue::Id(Some(repository)), SqlValue::Int(Some(number))]
                    .into_iter()
                    .chain(chunk.iter().map(|id| SqlValue::Id(Some(*id))))
            };
            // Added earlier in this same version: forget.
            let forget = format!(
                "DELETE FROM core_repositorycontent \
                 WHERE repository_id = $1 AND version_added = $2 AND content_id IN ({list})"
            );
            let remove = format!(
                "UPDATE core_repositorycontent SET version_removed = $2 \
                 WHERE repository_id = $1 AND version_removed IS NULL AND content_id IN ({list})"
            );
            on_tx!(self.tx(), conn => {
                bind_all!(backend, sqlx::query, &forget, binds(), |q| q.execute(&mut *conn).await?);
                bind_all!(backend, sqlx::query, &remove, binds(), |q| q.execute(&mut *conn).await?);
            });
        }
        Ok(())
    }

    /// Removes every unit (a mirror sync starts with this, then adds what the remote lists).
    pub async fn remove_all_content(&mut self) -> Result<(), VersionError> {
        let (repository, number) = (self.repository.pulp_id, self.number);
        self.may_have_removed = true;
        on_tx!(self.tx(), conn => {
            sqlx::query("DELETE FROM core_repositorycontent WHERE repository_id = $1 AND version_added = $2")
                .bind(repository).bind(number).execute(&mut *conn).await?;
            sqlx::query(
                "UPDATE core_repositorycontent SET version_removed = $2 \
                 WHERE repository_id = $1 AND version_removed IS NULL",
            )
            .bind(repository).bind(number).execute(&mut *conn).await?;
        });
        Ok(())
    }

    async fn ids_where(
        &mut self,
        condition: &str,
        pulp_type: Option<&str>,
    ) -> Result<Vec<PulpId>, VersionError> {
        let (repository, number) = (self.repository.pulp_id, self.number);
        let (join, filter) = match pulp_type {
            Some(_) => (
                "JOIN core_content c ON c.pulp_id = rc.content_id",
                "AND c.pulp_type = $3",
            ),
            None => ("", ""),
        };
        let sql = format!(
            "SELECT rc.content_id FROM core_repositorycontent rc {join} \
             WHERE rc.repository_id = $1 AND {condition} {filter} ORDER BY rc.content_id"
        );
        let ids: Vec<PulpId> = on_tx!(self.tx(), conn => {
            let mut q = sqlx::query_scalar(&sql).bind(repository).bind(number);
            if let Some(t) = pulp_type {
                q = q.bind(t.to_string());
            }
            q.fetch_all(&mut *conn).await?
        });
        Ok(ids)
    }

    /// Ids of the units added so far by this version (of `pulp_type`, if given).
    pub async fn added_ids(
        &mut self,
        pulp_type: Option<&str>,
    ) -> Result<Vec<PulpId>, VersionError> {
        self.ids_where("rc.version_added = $2", pulp_type).await
    }

    /// Ids of the units removed so far by this version (of `pulp_type`, if given).
    pub async fn removed_ids(
        &mut self,
        pulp_type: Option<&str>,
    ) -> Result<Vec<PulpId>, VersionError> {
        self.ids_where("rc.version_removed = $2", pulp_type).await
    }

    /// Ids of the units in the version as it stands (of `pulp_type`, if given). Reads the
    /// whole version: meant for types with few units (e.g. a plugin's bundles).
    pub async fn present_ids(
        &mut self,
        pulp_type: Option<&str>,
    ) -> Result<Vec<PulpId>, VersionError> {
        self.ids_where(
            "rc.version_removed IS NULL AND rc.version_added <= $2",
            pulp_type,
        )
        .await
    }

    /// Pulp's repo-key de-duplication for content type `T`: a unit added by this version
    /// replaces any earlier unit with the same [`ContentDetail::REPO_KEY`] (or, when the
    /// scope forbids it with [`NewVersion::set_overwrite`], fails with
    /// [`VersionError::WouldOverwrite`]); two added units with the same key are
    /// [`VersionError::DuplicateContent`].
    pub async fn remove_duplicates<T: ContentDetail>(&mut self) -> Result<(), VersionError> {
        if T::REPO_KEY.is_empty() {
            return Ok(());
        }
        let (repository, number) = (self.repository.pulp_id, self.number);
        let same_key = T::REPO_KEY
            .iter()
            .map(|k| format!("old.{k} = new.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        // Units of earlier versions, still present, with the key of a unit this one adds.
        let replaced = format!(
            "SELECT old.pulp_id FROM core_repositorycontent rn \
             CROSS JOIN {table} new CROSS JOIN {table} old \
             WHERE rn.repository_id = $1 AND rn.version_added = $2 AND new.pulp_id = rn.content_id \
             AND {same_key} AND old.pulp_domain = new.pulp_domain AND old.pulp_id <> new.pulp_id",
            table = T::TABLE
        );
        let present_earlier =
            "repository_id = $1 AND version_removed IS NULL AND version_added < $2";
        let replace = format!(
            "UPDATE core_repositorycontent SET version_removed = $2 \
             WHERE {present_earlier} AND content_id IN ({replaced})"
        );
        let key_columns = T::REPO_KEY
            .iter()
            .map(|k| format!("d.{k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let overwritten = format!(
            "SELECT {key_columns} FROM {table} d WHERE d.pulp_id IN \
             (SELECT content_id FROM core_repositorycontent WHERE {present_earlier} \
              AND content_id IN ({replaced})) LIMIT 1",
            table = T::TABLE
        );
        // Rows added by this version are present: removing a unit added in the same scope
        // deletes its row (`remove_content`, `remove_all_content`), and the replacement
        // above only touches earlier rows. So the added-rows index alone drives this query.
        let duplicates = format!(
            "SELECT {key_columns} FROM core_repositorycontent rc CROSS JOIN {table} d \
             WHERE d.pulp_id = rc.content_id AND rc.repository_id = $1 AND rc.version_added = $2 \
             GROUP BY {key_columns} HAVING COUNT(*) > 1 LIMIT 1",
            table = T::TABLE
        );
        let columns: Vec<crate::models::Column> = T::REPO_KEY
            .iter()
            .filter_map(|name| T::COLUMNS.iter().find(|c| c.name == *name).copied())
            .collect();
        let types: Vec<crate::models::ColumnType> = columns.iter().map(|c| c.ty).collect();
        // With no unit of an earlier version present there is nothing to replace.
        if !self.overwrite && self.may_have_earlier {
            if let Some(values) = self.first_key(&overwritten, &types).await? {
                return Err(VersionError::WouldOverwrite {
                    pulp_type: T::PULP_TYPE.to_string(),
                    key: key_text(&columns, values),
                });
            }
        }
        if self.may_have_earlier {
            self.may_have_removed = true;
            on_tx!(self.tx(), conn => {
                sqlx::query(&replace).bind(repository).bind(number).execute(&mut *conn).await?;
            });
        }
        let found = self.first_key(&duplicates, &types).await?;
        if let Some(values) = found {
            return Err(VersionError::DuplicateContent {
                pulp_type: T::PULP_TYPE.to_string(),
                key: key_text(&columns, values),
            });
        }
        Ok(())
    }

    /// The first row of `sql` (bound to the repository and version number), read as a
    /// repository key of `types`.
    async fn first_key(
        &mut self,
        sql: &str,
        types: &[crate::models::ColumnType],
    ) -> Result<Option<Vec<SqlValue>>, VersionError> {
        let (repository, number) = (self.repository.pulp_id, self.number);
        Ok(on_tx!(self.tx(), conn => {
            let row = sqlx::query(sql).bind(repository).bind(number).fetch_optional(&mut *conn).await?;
            match row {
                Some(row) => Some(crate::models::sql::read_values!(&row, types)?),
                None => None,
            }
        }))
    }

    async fn counts_by_type(
        &mut self,
        column: &str,
    ) -> Result<BTreeMap<String, i64>, VersionError> {
        let (repository, number) = (self.repository.pulp_id, self.number);
        let sql = format!(
            "SELECT c.pulp_type, COUNT(*) FROM core_repositorycontent rc CROSS JOIN core_content c \
             WHERE c.pulp_id = rc.content_id AND rc.repository_id = $1 AND rc.{column} = $2 \
             GROUP BY c.pulp_type"
        );
        let rows: Vec<(String, i64)> = on_tx!(self.tx(), conn => {
            sqlx::query_as(&sql).bind(repository).bind(number).fetch_all(&mut *conn).await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Runs the repository type's `finalize_new_version`, then makes the version visible and
    /// runs `on_new_version` and the `retain_repo_versions` pruning. Returns `None`, and
    /// makes no version, when nothing changed (as Pulp does).
    pub async fn commit(mut self) -> Result<Option<RepositoryVersion>, VersionError> {
        let finalize = self.hooks.finalize_new_version;
        finalize(&mut self).await?;
        let added = self.counts_by_type("version_added").await?;
        self.check_content_types(&added)?;
        let removed = if self.may_have_removed {
            self.counts_by_type("version_removed").await?
        } else {
            BTreeMap::new()
        };
        let NewVersion {
            mut tx,
            app,
            repository,
            number,
            base,
            version_id,
            hooks,
            overwrite: _,
            may_have_removed: _,
            may_have_earlier: _,
        } = self;
        if added.is_empty() && removed.is_empty() {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut present = base.counts.present.clone();
        for (t, n) in &added {
            *present.entry(t.clone()).or_default() += n;
        }
        for (t, n) in &removed {
            *present.entry(t.clone()).or_default() -= n;
        }
        present.retain(|_, n| *n > 0);
        let counts = VersionCounts {
            added,
            removed,
            present,
        };
        let now = Utc::now();
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE core_repositoryversion SET complete = TRUE, info = $2, pulp_last_updated = $3 WHERE pulp_id = $1",
            )
            .bind(version_id)
            .bind(sqlx::types::Json(&counts))
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        let version = RepositoryVersion {
            pulp_id: version_id,
            repository_id: repository.pulp_id,
            number,
            complete: true,
            base_version_id: Some(base.pulp_id),
            pulp_created: now,
            counts,
        };
        (hooks.on_new_version)(&app, &version).await?;
        if let Some(keep) = repository.fields.retain_repo_versions {
            super::retain_versions(app.db(), repository.pulp_id, keep).await?;
        }
        Ok(Some(version))
    }

    fn check_content_types(&self, added: &BTreeMap<String, i64>) -> Result<(), VersionError> {
        let allowed = self.hooks.content_types;
        if allowed.is_empty() {
            return Ok(());
        }
        if let Some(t) = added.keys().find(|t| !allowed.contains(&t.as_str())) {
            return Err(VersionError::Refused(format!(
                "content of type {t} cannot be added to a {} repository (it holds {})",
                self.repository.pulp_type,
                allowed.join(", ")
            )));
        }
        Ok(())
    }
}

/// A repository key as `field=value, …` (for error messages).
fn key_text(columns: &[crate::models::Column], values: Vec<SqlValue>) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{}={}", c.name, v.into_json()))
        .collect::<Vec<_>>()
        .join(", ")
}
