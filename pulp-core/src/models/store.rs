//! Reading and writing masters and details: create, get, cast, list, update, delete, and the
//! bulk get-or-create of content units by natural key.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::Value;

use super::copy::{copy_new_rows, CopyRows};
use super::error::is_unique_violation;
use super::sql::{
    bind_all, placeholders, qualified, read_values, rows_per_statement, types, values_rows, COMMON,
};
use super::{
    from_values, to_values, ContentDetail, ContentKind, Detail, Labels, Master, MasterKind, Model,
    ModelError, SqlValue, DEFAULT_DOMAIN,
};
use crate::db::{Backend, Database, PulpId};
use crate::validation::{Validate, ValidationErrors};
use crate::{on_pool, on_tx};

fn decode_master<K: MasterKind>(mut values: Vec<SqlValue>) -> Result<Master<K>, ModelError> {
    let kind_values = values.split_off(COMMON.len());
    let bad = |what: &str| ModelError::Decode(format!("{} row without {what}", K::TABLE));
    let mut it = values.into_iter();
    let pulp_id = match it.next() {
        Some(SqlValue::Id(Some(id))) => id,
        _ => return Err(bad("pulp_id")),
    };
    let pulp_type = match it.next() {
        Some(SqlValue::Text(Some(t))) => t,
        _ => return Err(bad("pulp_type")),
    };
    let pulp_created = match it.next() {
        Some(SqlValue::Time(Some(t))) => t,
        _ => return Err(bad("pulp_created")),
    };
    let pulp_last_updated = match it.next() {
        Some(SqlValue::Time(Some(t))) => t,
        _ => return Err(bad("pulp_last_updated")),
    };
    let pulp_labels: Labels = match it.next() {
        Some(SqlValue::Json(Some(v))) => {
            serde_json::from_value(v).map_err(|e| ModelError::Decode(e.to_string()))?
        }
        _ => Labels::new(),
    };
    let pulp_domain = match it.next() {
        Some(SqlValue::Text(Some(t))) => t,
        _ => return Err(bad("pulp_domain")),
    };
    Ok(Master {
        pulp_id,
        pulp_type,
        pulp_created,
        pulp_last_updated,
        pulp_labels,
        pulp_domain,
        fields: from_values(K::COLUMNS, kind_values)?,
    })
}

fn master_values<K: MasterKind>(master: &Master<K>) -> Result<Vec<SqlValue>, ModelError> {
    let labels = serde_json::to_value(&master.pulp_labels).map_err(|e| ModelError::Encode {
        field: "pulp_labels".into(),
        message: e.to_string(),
    })?;
    let mut values = vec![
        SqlValue::Id(Some(master.pulp_id)),
        SqlValue::Text(Some(master.pulp_type.clone())),
        SqlValue::Time(Some(master.pulp_created)),
        SqlValue::Time(Some(master.pulp_last_updated)),
        SqlValue::Json(Some(labels)),
        SqlValue::Text(Some(master.pulp_domain.clone())),
    ];
    values.extend(to_values(&master.fields, K::COLUMNS)?);
    Ok(values)
}

fn is_content<T: Detail>() -> bool {
    <T::Kind as MasterKind>::TABLE == ContentKind::TABLE
}

fn detail_values<T: Detail>(
    master: &Master<T::Kind>,
    detail: &T,
) -> Result<Vec<SqlValue>, ModelError> {
    let mut values = vec![SqlValue::Id(Some(master.pulp_id))];
    if is_content::<T>() {
        values.push(SqlValue::Text(Some(master.pulp_domain.clone())));
    }
    values.extend(to_values(detail, T::COLUMNS)?);
    Ok(values)
}

fn detail_column_names<T: Detail>() -> Vec<&'static str> {
    let mut names = vec!["pulp_id"];
    if is_content::<T>() {
        names.push("pulp_domain");
    }
    names.extend(T::COLUMNS.iter().map(|c| c.name));
    names
}

fn master_column_names<K: MasterKind>() -> Vec<&'static str> {
    COMMON.iter().chain(K::COLUMNS).map(|c| c.name).collect()
}

/// `SELECT <master columns>, <detail columns> FROM <master> m JOIN <detail> d …`
fn select_model<T: Detail>(join: &str) -> String {
    let mut columns = qualified("m", COMMON);
    columns.extend(qualified("m", <T::Kind as MasterKind>::COLUMNS));
    columns.extend(qualified("d", T::COLUMNS));
    format!(
        "SELECT {} FROM {} m {join} JOIN {} d ON d.pulp_id = m.pulp_id",
        columns.join(", "),
        <T::Kind as MasterKind>::TABLE,
        T::TABLE
    )
}

fn model_types<T: Detail>() -> Vec<super::ColumnType> {
    types(&[COMMON, <T::Kind as MasterKind>::COLUMNS, T::COLUMNS])
}

fn decode_model<T: Detail>(mut values: Vec<SqlValue>) -> Result<Model<T>, ModelError> {
    let detail_values = values.split_off(COMMON.len() + <T::Kind as MasterKind>::COLUMNS.len());
    let master = decode_master::<T::Kind>(values)?;
    if master.pulp_type != T::PULP_TYPE {
        return Err(ModelError::WrongType {
            id: master.pulp_id,
            expected: T::PULP_TYPE,
            found: master.pulp_type,
        });
    }
    let detail = from_values(T::COLUMNS, detail_values)?;
    Ok(Model { master, detail })
}

/// Runs `$sql` with `$binds` on `$db` and decodes every row with `$decode` over `$types`.
macro_rules! fetch_decoded {
    ($db:expr, $sql:expr, $binds:expr, $types:expr, $decode:expr) => {{
        let sql: &str = $sql;
        let rows: Result<Vec<Vec<SqlValue>>, sqlx::Error> = on_pool!($db, pool => {
            let rows = bind_all!($db.backend(), sqlx::query, sql, $binds, |q| q.fetch_all(pool).await?);
            rows.iter().map(|row| read_values!(row, $types)).collect()
        });
        rows?.into_iter().map($decode).collect::<Result<Vec<_>, ModelError>>()
    }};
}

fn unique_error(e: &sqlx::Error) -> ValidationErrors {
    let text = e.to_string();
    let field = if text.contains("base_path") {
        "base_path"
    } else {
        "name"
    };
    ValidationErrors::field(field, "This field must be unique.")
}

/// Creates a model: validates its fields, inserts the master and the detail in one
/// transaction. A repository is created with its version 0 (empty).
pub async fn create<T: Detail>(
    db: &Database,
    labels: Labels,
    fields: <T::Kind as MasterKind>::Fields,
    detail: T,
) -> Result<Model<T>, ModelError> {
    let mut errors = ValidationErrors::new();
    fields.validate(&mut errors);
    detail.validate(&mut errors);
    errors.into_result()?;
    let now = Utc::now();
    let master = Master::<T::Kind> {
        pulp_id: PulpId::new(),
        pulp_type: T::PULP_TYPE.to_string(),
        pulp_created: now,
        pulp_last_updated: now,
        pulp_labels: labels,
        pulp_domain: DEFAULT_DOMAIN.to_string(),
        fields,
    };
    let master_sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        <T::Kind as MasterKind>::TABLE,
        master_column_names::<T::Kind>().join(", "),
        values_rows(1, 1, COMMON.len() + <T::Kind as MasterKind>::COLUMNS.len())
    );
    let detail_names = detail_column_names::<T>();
    let detail_sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        T::TABLE,
        detail_names.join(", "),
        values_rows(1, 1, detail_names.len())
    );
    let is_repository = <T::Kind as MasterKind>::TABLE == super::RepositoryKind::TABLE;
    let master_binds = master_values(&master)?;
    let detail_binds = detail_values(&master, &detail)?;
    let mut tx = db.begin_write().await?;
    let result: Result<(), sqlx::Error> = on_tx!(&mut tx, conn => {
        async {
            bind_all!(db.backend(), sqlx::query, &master_sql, master_binds, |q| q.execute(&mut *conn).await?);
            bind_all!(db.backend(), sqlx::query, &detail_sql, detail_binds, |q| q.execute(&mut *conn).await?);
            if is_repository {
                sqlx::query(
                    "INSERT INTO core_repositoryversion \
                     (pulp_id, pulp_created, pulp_last_updated, repository_id, number, complete, info) \
                     VALUES ($1, $2, $2, $3, 0, TRUE, $4)",
                )
                .bind(PulpId::new())
                .bind(now)
                .bind(master.pulp_id)
                .bind(sqlx::types::Json(serde_json::json!({})))
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE core_repository SET next_version = 1 WHERE pulp_id = $1")
                    .bind(master.pulp_id)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }
        .await
    });
    match result {
        Ok(()) => {
            tx.commit().await?;
            let object = crate::rbac::ObjectRef {
                content_type: T::PRN_MODEL.to_string(),
                object_id: master.pulp_id.to_string(),
            };
            let viewset = format!("{}/{}", <T::Kind as MasterKind>::ENDPOINT, T::ENDPOINT);
            crate::rbac::object_created(db, &viewset, &object)
                .await
                .map_err(|e| match e {
                    crate::rbac::RbacError::Database(e) => ModelError::Database(e),
                    other => ModelError::Decode(other.to_string()),
                })?;
            Ok(Model { master, detail })
        }
        Err(e) if is_unique_violation(&e) => Err(ModelError::Invalid(unique_error(&e))),
        Err(e) => Err(e.into()),
    }
}

/// The model of type `T` with id `id`: [`ModelError::NotFound`] when there is none,
/// [`ModelError::WrongType`] when that id is another type of the same kind.
pub async fn get<T: Detail>(db: &Database, id: PulpId) -> Result<Model<T>, ModelError> {
    let sql = format!("{} WHERE m.pulp_id = $1", select_model::<T>("LEFT"));
    let types = model_types::<T>();
    let mut found = fetch_decoded!(
        db,
        &sql,
        [SqlValue::Id(Some(id))],
        &types,
        decode_model::<T>
    )?;
    found.pop().ok_or(ModelError::NotFound {
        kind: T::PULP_TYPE,
        id,
    })
}

/// The models of type `T` among `ids`, in the order of `ids` (unknown ids are skipped;
/// an id of another type is [`ModelError::WrongType`]).
pub async fn get_many<T: Detail>(
    db: &Database,
    ids: &[PulpId],
) -> Result<Vec<Model<T>>, ModelError> {
    let types = model_types::<T>();
    let mut by_id = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(rows_per_statement(1)) {
        let sql = format!(
            "{} WHERE m.pulp_id IN ({})",
            select_model::<T>("LEFT"),
            placeholders(1, chunk.len())
        );
        let binds = chunk.iter().map(|id| SqlValue::Id(Some(*id)));
        for model in fetch_decoded!(db, &sql, binds, &types, decode_model::<T>)? {
            by_id.insert(model.pulp_id(), model);
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.get(id).cloned()).collect())
}

/// The models of type `T` among `ids` (ids of other types, or of nothing, are skipped), in
/// the order of `ids`: for ids of mixed types, such as a repository version's content, where
/// [`get_many`] refuses a unit of another type.
pub async fn get_many_of_type<T: Detail>(
    db: &Database,
    ids: &[PulpId],
) -> Result<Vec<Model<T>>, ModelError> {
    let types = model_types::<T>();
    let mut by_id = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(rows_per_statement(1).saturating_sub(1).max(1)) {
        let sql = format!(
            "{} WHERE m.pulp_id IN ({}) AND m.pulp_type = ${}",
            select_model::<T>("LEFT"),
            placeholders(1, chunk.len()),
            chunk.len() + 1
        );
        let binds = chunk
            .iter()
            .map(|id| SqlValue::Id(Some(*id)))
            .chain(std::iter::once(SqlValue::Text(Some(
                T::PULP_TYPE.to_string(),
            ))));
        for model in fetch_decoded!(db, &sql, binds, &types, decode_model::<T>)? {
            by_id.insert(model.pulp_id(), model);
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.get(id).cloned()).collect())
}

/// The master of kind `K` with id `id`, whatever its type.
pub async fn get_master<K: MasterKind>(db: &Database, id: PulpId) -> Result<Master<K>, ModelError> {
    let sql = format!(
        "SELECT {} FROM {} m WHERE m.pulp_id = $1",
        qualified("m", COMMON)
            .into_iter()
            .chain(qualified("m", K::COLUMNS))
            .collect::<Vec<_>>()
            .join(", "),
        K::TABLE
    );
    let types = types(&[COMMON, K::COLUMNS]);
    let mut found = fetch_decoded!(
        db,
        &sql,
        [SqlValue::Id(Some(id))],
        &types,
        decode_master::<K>
    )?;
    found.pop().ok_or(ModelError::NotFound {
        kind: K::ENDPOINT,
        id,
    })
}

/// Masters of kind `K` of every type (or of `pulp_type` only), oldest first, one page.
pub async fn list_masters<K: MasterKind>(
    db: &Database,
    pulp_type: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Master<K>>, ModelError> {
    let filter = if pulp_type.is_some() {
        "WHERE m.pulp_type = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {} FROM {} m {filter} ORDER BY m.pulp_created, m.pulp_id LIMIT $1 OFFSET $2",
        qualified("m", COMMON)
            .into_iter()
            .chain(qualified("m", K::COLUMNS))
            .collect::<Vec<_>>()
            .join(", "),
        K::TABLE
    );
    let mut binds = vec![SqlValue::Int(Some(limit)), SqlValue::Int(Some(offset))];
    if let Some(t) = pulp_type {
        binds.push(SqlValue::Text(Some(t.to_string())));
    }
    let types = types(&[COMMON, K::COLUMNS]);
    fetch_decoded!(db, &sql, binds, &types, decode_master::<K>)
}

/// Models of type `T`, oldest first, one page.
pub async fn list<T: Detail>(
    db: &Database,
    limit: i64,
    offset: i64,
) -> Result<Vec<Model<T>>, ModelError> {
    let sql = format!(
        "{} WHERE m.pulp_type = $3 ORDER BY m.pulp_created, m.pulp_id LIMIT $1 OFFSET $2",
        select_model::<T>("")
    );
    let binds = [
        SqlValue::Int(Some(limit)),
        SqlValue::Int(Some(offset)),
        SqlValue::Text(Some(T::PULP_TYPE.to_string())),
    ];
    let types = model_types::<T>();
    fetch_decoded!(db, &sql, binds, &types, decode_model::<T>)
}

/// How many masters of kind `K` (of `pulp_type`, if given) there are.
pub async fn count<K: MasterKind>(
    db: &Database,
    pulp_type: Option<&str>,
) -> Result<i64, ModelError> {
    let sql = match pulp_type {
        Some(_) => format!("SELECT COUNT(*) FROM {} WHERE pulp_type = $1", K::TABLE),
        None => format!("SELECT COUNT(*) FROM {}", K::TABLE),
    };
    let count: i64 = on_pool!(db, pool => {
        let mut q = sqlx::query_scalar(&sql);
        if let Some(t) = pulp_type {
            q = q.bind(t.to_string());
        }
        q.fetch_one(pool).await?
    });
    Ok(count)
}

impl<K: MasterKind> Master<K> {
    /// This master as detail type `T`: [`ModelError::WrongType`] when it is another type.
    pub async fn cast<T: Detail<Kind = K>>(&self, db: &Database) -> Result<Model<T>, ModelError> {
        if self.pulp_type != T::PULP_TYPE {
            return Err(ModelError::WrongType {
                id: self.pulp_id,
                expected: T::PULP_TYPE,
                found: self.pulp_type.clone(),
            });
        }
        get::<T>(db, self.pulp_id).await
    }
}

/// Saves the changed fields, labels and detail of `model` (validated first) and returns it
/// with its new `pulp_last_updated`.
pub async fn update<T: Detail>(db: &Database, mut model: Model<T>) -> Result<Model<T>, ModelError> {
    let mut errors = ValidationErrors::new();
    model.master.fields.validate(&mut errors);
    model.detail.validate(&mut errors);
    errors.into_result()?;
    model.master.pulp_last_updated = Utc::now();
    let kind_columns = <T::Kind as MasterKind>::COLUMNS;
    let mut sets = vec![
        "pulp_labels = $2".to_string(),
        "pulp_last_updated = $3".to_string(),
    ];
    sets.extend(
        kind_columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ${}", c.name, i + 4)),
    );
    let master_sql = format!(
        "UPDATE {} SET {} WHERE pulp_id = $1",
        <T::Kind as MasterKind>::TABLE,
        sets.join(", ")
    );
    let all = master_values(&model.master)?;
    let mut master_binds = vec![all[0].clone(), all[4].clone(), all[3].clone()];
    master_binds.extend(all.into_iter().skip(COMMON.len()));
    let detail_sets: Vec<String> = T::COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ${}", c.name, i + 2))
        .collect();
    let detail_sql = (!detail_sets.is_empty()).then(|| {
        format!(
            "UPDATE {} SET {} WHERE pulp_id = $1",
            T::TABLE,
            detail_sets.join(", ")
        )
    });
    let mut detail_binds = vec![SqlValue::Id(Some(model.pulp_id()))];
    detail_binds.extend(to_values(&model.detail, T::COLUMNS)?);
    let mut tx = db.begin_write().await?;
    let result: Result<u64, sqlx::Error> = on_tx!(&mut tx, conn => {
        async {
            let n = bind_all!(db.backend(), sqlx::query, &master_sql, master_binds, |q| q.execute(&mut *conn).await?.rows_affected());
            if let Some(sql) = &detail_sql {
                bind_all!(db.backend(), sqlx::query, sql, detail_binds, |q| q.execute(&mut *conn).await?);
            }
            Ok(n)
        }
        .await
    });
    match result {
        Ok(0) => Err(ModelError::NotFound {
            kind: T::PULP_TYPE,
            id: model.pulp_id(),
        }),
        Ok(_) => {
            tx.commit().await?;
            Ok(model)
        }
        Err(e) if is_unique_violation(&e) => Err(ModelError::Invalid(unique_error(&e))),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the master of kind `K` with id `id` (its detail goes with it).
pub async fn delete<K: MasterKind>(db: &Database, id: PulpId) -> Result<(), ModelError> {
    if K::TABLE == "core_repository" {
        // Its publications go with its versions: so do the roles on them.
        crate::rbac::forget_objects_of(
            db,
            "SELECT CAST(p.pulp_id AS TEXT) FROM core_publication p \
             JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id \
             WHERE v.repository_id = $1",
            id,
        )
        .await?;
    }
    let sql = format!("DELETE FROM {} WHERE pulp_id = $1", K::TABLE);
    let n = on_pool!(db, pool => sqlx::query(&sql).bind(id).execute(pool).await?.rows_affected());
    if n == 0 {
        return Err(ModelError::NotFound {
            kind: K::ENDPOINT,
            id,
        });
    }
    // Roles on a deleted object go with it (Pulp's generic relations cascade).
    crate::rbac::forget_object(db, &id.to_string()).await?;
    Ok(())
}

/// The natural key of a content unit, as comparable text.
fn natural_key<T: ContentDetail>(unit: &T) -> Result<(String, Vec<SqlValue>), ModelError> {
    let columns: Vec<super::Column> = T::NATURAL_KEY
        .iter()
        .filter_map(|name| T::COLUMNS.iter().find(|c| c.name == *name).copied())
        .collect();
    let values = to_values(unit, &columns)?;
    let text = serde_json::to_string(
        &values
            .iter()
            .cloned()
            .map(SqlValue::into_json)
            .collect::<Vec<Value>>(),
    )
    .map_err(|e| ModelError::Encode {
        field: "natural key".into(),
        message: e.to_string(),
    })?;
    Ok((text, values))
}

/// Saves content units, returning for each the unit that is stored: units whose natural key
/// (within the default domain) already exists are not saved again; the existing unit is
/// returned. Every unit is validated first (the same checks as the API). Works in batches of
/// one statement each; concurrent savers of the same unit end with one row and no error.
pub async fn save_content<T: ContentDetail>(
    db: &Database,
    units: Vec<T>,
) -> Result<Vec<Model<T>>, ModelError> {
    save_content_impl(db, units, true).await
}

/// [`save_content`] for units the caller just looked up and did not find (the sync
/// pipeline's content saver after [`find_content`]): inserts at once, and looks up only the
/// units another writer saved in between. Same result as [`save_content`].
pub async fn save_new_content<T: ContentDetail>(
    db: &Database,
    units: Vec<T>,
) -> Result<Vec<Model<T>>, ModelError> {
    save_content_impl(db, units, false).await
}

async fn save_content_impl<T: ContentDetail>(
    db: &Database,
    units: Vec<T>,
    look_up_first: bool,
) -> Result<Vec<Model<T>>, ModelError> {
    let mut errors = ValidationErrors::new();
    for unit in &units {
        unit.validate(&mut errors);
    }
    errors.into_result()?;
    let mut keys = Vec::with_capacity(units.len());
    let mut unique: Vec<(String, Vec<SqlValue>, T)> = Vec::new();
    let mut seen = HashMap::new();
    for unit in units {
        let (key, values) = natural_key(&unit)?;
        if !seen.contains_key(&key) {
            seen.insert(key.clone(), ());
            unique.push((key.clone(), values, unit));
        }
        keys.push(key);
    }
    let mut stored: HashMap<String, Model<T>> = HashMap::with_capacity(unique.len());
    let width = COMMON.len() + detail_column_names::<T>().len();
    for chunk in unique.chunks(rows_per_statement(width)) {
        if look_up_first {
            find_existing::<T>(db, chunk, &mut stored).await?;
        }
        let missing: Vec<&(String, Vec<SqlValue>, T)> = chunk
            .iter()
            .filter(|(k, _, _)| !stored.contains_key(k))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let lost = insert_content::<T>(db, &missing, &mut stored).await?;
        if !lost.is_empty() {
            // Saved concurrently by someone else between our lookup and our insert.
            let again: Vec<(String, Vec<SqlValue>, T)> = lost.into_iter().cloned().collect();
            find_existing::<T>(db, &again, &mut stored).await?;
        }
    }
    keys.iter()
        .map(|k| {
            stored
                .get(k)
                .cloned()
                .ok_or_else(|| ModelError::Decode(format!("unit {k} was neither found nor saved")))
        })
        .collect()
}

/// The stored units with the natural keys of `units` (one statement per batch): for each
/// unit, the stored one, or `None` when its key is not stored yet.
pub async fn find_content<T: ContentDetail>(
    db: &Database,
    units: &[T],
) -> Result<Vec<Option<Model<T>>>, ModelError> {
    let mut keyed = Vec::with_capacity(units.len());
    for unit in units {
        let (key, values) = natural_key(unit)?;
        keyed.push((key, values, unit.clone()));
    }
    let mut stored = HashMap::with_capacity(units.len());
    let width = T::NATURAL_KEY.len();
    for chunk in keyed.chunks(rows_per_statement(width)) {
        find_existing::<T>(db, chunk, &mut stored).await?;
    }
    Ok(keyed
        .iter()
        .map(|(k, _, _)| stored.get(k).cloned())
        .collect())
}

async fn find_existing<T: ContentDetail>(
    db: &Database,
    chunk: &[(String, Vec<SqlValue>, T)],
    stored: &mut HashMap<String, Model<T>>,
) -> Result<(), ModelError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let key_len = T::NATURAL_KEY.len();
    let on = T::NATURAL_KEY
        .iter()
        .enumerate()
        .map(|(i, k)| format!("d.{k} = v.column{}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut columns = qualified("m", COMMON);
    columns.extend(qualified("m", ContentKind::COLUMNS));
    columns.extend(qualified("d", T::COLUMNS));
    // The looked-up keys drive the join, so each is one index probe on the natural key.
    let sql = format!(
        "SELECT {} FROM (VALUES {}) v CROSS JOIN {} d CROSS JOIN core_content m \
         WHERE {on} AND d.pulp_domain = $1 AND m.pulp_id = d.pulp_id",
        columns.join(", "),
        values_rows(2, chunk.len(), key_len),
        T::TABLE
    );
    let mut binds = vec![SqlValue::Text(Some(DEFAULT_DOMAIN.to_string()))];
    binds.extend(
        chunk
            .iter()
            .flat_map(|(_, values, _)| values.iter().cloned()),
    );
    let types = model_types::<T>();
    for model in fetch_decoded!(db, &sql, binds, &types, decode_model::<T>)? {
        let (key, _) = natural_key(&model.detail)?;
        stored.insert(key, model);
    }
    Ok(())
}

/// On PostgreSQL, stores `models` (master and detail rows) with `COPY` in one transaction;
/// `false` (nothing written) when a natural key turned out to be taken already, or on SQLite.
async fn copy_new_content<T: ContentDetail>(
    db: &Database,
    models: &[Model<T>],
) -> Result<bool, ModelError> {
    if db.backend() != Backend::Postgres {
        return Ok(false);
    }
    let mut masters = CopyRows::new();
    let mut details = CopyRows::new();
    for model in models {
        masters.push(master_values(&model.master)?);
        details.push(detail_values(&model.master, &model.detail)?);
    }
    let master_columns = master_column_names::<ContentKind>();
    let detail_columns = detail_column_names::<T>();
    copy_new_rows(
        db,
        vec![
            (ContentKind::TABLE, &master_columns, masters),
            (T::TABLE, &detail_columns, details),
        ],
    )
    .await
}

/// Inserts `missing`; returns those another writer saved first.
async fn insert_content<'a, T: ContentDetail>(
    db: &Database,
    missing: &[&'a (String, Vec<SqlValue>, T)],
    stored: &mut HashMap<String, Model<T>>,
) -> Result<Vec<&'a (String, Vec<SqlValue>, T)>, ModelError> {
    let now = Utc::now();
    let models: Vec<Model<T>> = missing
        .iter()
        .map(|(_, _, unit)| Model {
            master: Master {
                pulp_id: PulpId::new(),
                pulp_type: T::PULP_TYPE.to_string(),
                pulp_created: now,
                pulp_last_updated: now,
                pulp_labels: Labels::new(),
                pulp_domain: DEFAULT_DOMAIN.to_string(),
                fields: super::ContentFields {},
            },
            detail: unit.clone(),
        })
        .collect();
    if copy_new_content(db, &models).await? {
        for (model, entry) in models.into_iter().zip(missing) {
            stored.insert(entry.0.clone(), model);
        }
        return Ok(Vec::new());
    }
    let master_sql = format!(
        "INSERT INTO core_content ({}) VALUES {}",
        master_column_names::<ContentKind>().join(", "),
        values_rows(1, models.len(), COMMON.len())
    );
    let detail_names = detail_column_names::<T>();
    let detail_sql = format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING RETURNING pulp_id",
        T::TABLE,
        detail_names.join(", "),
        values_rows(1, models.len(), detail_names.len())
    );
    let mut master_binds = Vec::with_capacity(models.len() * COMMON.len());
    let mut detail_binds = Vec::with_capacity(models.len() * detail_names.len());
    for model in &models {
        master_binds.extend(master_values(&model.master)?);
        detail_binds.extend(detail_values(&model.master, &model.detail)?);
    }
    let mut tx = db.begin_write().await?;
    let inserted: Vec<PulpId> = on_tx!(&mut tx, conn => {
        bind_all!(db.backend(), sqlx::query, &master_sql, master_binds, |q| q.execute(&mut *conn).await?);
        bind_all!(db.backend(), sqlx::query_scalar, &detail_sql, detail_binds, |q| q.fetch_all(&mut *conn).await?)
    });
    let inserted: std::collections::HashSet<PulpId> = inserted.into_iter().collect();
    let mut lost = Vec::new();
    let mut orphans = Vec::new();
    for (model, entry) in models.into_iter().zip(missing) {
        if inserted.contains(&model.pulp_id()) {
            stored.insert(entry.0.clone(), model);
        } else {
            orphans.push(model.pulp_id());
            lost.push(*entry);
        }
    }
    for chunk in orphans.chunks(rows_per_statement(1)) {
        let sql = format!(
            "DELETE FROM core_content WHERE pulp_id IN ({})",
            placeholders(1, chunk.len())
        );
        on_tx!(&mut tx, conn => {
            bind_all!(db.backend(), sqlx::query, &sql, chunk.iter().map(|id| SqlValue::Id(Some(*id))), |q| q.execute(&mut *conn).await?);
        });
    }
    tx.commit().await?;
    Ok(lost)
}
