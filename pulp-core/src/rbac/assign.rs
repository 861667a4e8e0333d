//! Role assignments of users and groups: global (no object) or on one object.

use chrono::{DateTime, Utc};

use super::RbacError;
use crate::db::{Database, DbError, PulpId};

/// Who a role is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A user, by id.
    User(PulpId),
    /// A group, by id.
    Group(i64),
}

impl Principal {
    fn table(&self) -> &'static str {
        match self {
            Principal::User(_) => "core_userrole",
            Principal::Group(_) => "core_grouprole",
        }
    }

    fn column(&self) -> &'static str {
        match self {
            Principal::User(_) => "user_id",
            Principal::Group(_) => "group_id",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Group(_) => "group",
        }
    }
}

/// An object roles can be assigned on: its type (`file.filerepository`) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// `app_label.model`.
    pub content_type: String,
    /// Its id, as text.
    pub object_id: String,
}

/// One assignment, with its role's name, description and permissions.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was made.
    pub pulp_created: DateTime<Utc>,
    /// When it last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// The role's name.
    pub role: String,
    /// The role's description.
    pub description: Option<String>,
    /// The object, or `None` for a global assignment.
    pub object: Option<ObjectRef>,
    /// The role's permissions.
    pub permissions: Vec<String>,
}

type Row = (
    PulpId,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    PulpId,
);

/// Whether the role `role` holds a permission on objects of `content_type`.
async fn role_fits(db: &Database, role: PulpId, content_type: &str) -> Result<bool, RbacError> {
    let fits: bool = crate::on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM core_role_permissions rp JOIN core_permission p \
             ON p.id = rp.permission_id WHERE rp.role_id = $1 AND p.app_label || '.' || p.model = $2)",
        )
        .bind(role)
        .bind(content_type)
        .fetch_one(pool)
        .await?
    });
    Ok(fits)
}

fn bind_principal<'q, DB: sqlx::Database, O>(
    query: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
    who: Principal,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
where
    PulpId: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    match who {
        Principal::User(id) => query.bind(id),
        Principal::Group(id) => query.bind(id),
    }
}

/// Assigns the role named `role` to `who`, globally or on `object`. Pulp's checks: the role
/// exists, carries a permission on the object's type, and is not assigned there already.
pub async fn assign(
    db: &Database,
    who: Principal,
    role: &str,
    object: Option<ObjectRef>,
) -> Result<Assignment, RbacError> {
    let role_id = super::roles::id_by_name(db, role).await?.ok_or_else(|| {
        RbacError::invalid("role", format!("Object with name={role} does not exist."))
    })?;
    if let Some(object) = &object {
        if !role_fits(db, role_id, &object.content_type).await? {
            return Err(RbacError::invalid(
                "non_field_errors",
                format!("The role '{role}' does not carry any permission for that object."),
            ));
        }
    }
    let object_id = object.as_ref().map(|o| o.object_id.clone());
    let exists_sql = format!(
        "SELECT pulp_id FROM {} WHERE {} = $1 AND role_id = $2 AND COALESCE(object_id, '') = $3",
        who.table(),
        who.column()
    );
    let existing: Option<(PulpId,)> = crate::on_pool!(db, pool => {
        bind_principal(sqlx::query_as(&exists_sql), who)
            .bind(role_id)
            .bind(object_id.clone().unwrap_or_default())
            .fetch_optional(pool)
            .await?
    });
    if existing.is_some() {
        return Err(RbacError::invalid(
            "non_field_errors",
            format!("The role is already assigned to this {}.", who.kind()),
        ));
    }
    let id = PulpId::new();
    let insert = format!(
        "INSERT INTO {} (pulp_id, pulp_created, pulp_last_updated, {}, role_id, content_type, object_id) \
         VALUES ($1, $2, $2, $3, $4, $5, $6)",
        who.table(),
        who.column()
    );
    let now = Utc::now();
    crate::on_pool!(db, pool => {
        let query = sqlx::query(&insert).bind(id).bind(now);
        let query = match who {
            Principal::User(u) => query.bind(u),
            Principal::Group(g) => query.bind(g),
        };
        query
            .bind(role_id)
            .bind(object.as_ref().map(|o| o.content_type.clone()))
            .bind(object_id)
            .execute(pool)
            .await?;
    });
    get(db, who, id).await?.ok_or(RbacError::NotFound)
}

/// Assigns `role` unless it is assigned there already (what creation hooks do).
pub async fn ensure(
    db: &Database,
    who: Principal,
    role: &str,
    object: Option<ObjectRef>,
) -> Result<(), RbacError> {
    match assign(db, who, role, object).await {
        Ok(_) => Ok(()),
        Err(RbacError::Invalid { messages, .. })
            if messages
                .iter()
                .any(|m| m.starts_with("The role is already assigned")) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The assignments with these ids of `who` (in the order of `ids`).
pub async fn get_many(
    db: &Database,
    who: Principal,
    ids: &[PulpId],
) -> Result<Vec<Assignment>, RbacError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT a.pulp_id, a.pulp_created, a.pulp_last_updated, r.name, r.description, \
         a.content_type, a.object_id, r.pulp_id FROM {} a JOIN core_role r ON r.pulp_id = a.role_id \
         WHERE a.{} = $1 AND a.pulp_id IN ({})",
        who.table(),
        who.column(),
        crate::models::sql::placeholders(2, ids.len())
    );
    let rows: Vec<Row> = crate::on_pool!(db, pool => {
        let mut query = bind_principal(sqlx::query_as(&sql), who);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await?
    });
    let role_ids: Vec<PulpId> = rows.iter().map(|r| r.7).collect();
    let roles = super::roles::get_many(db, &role_ids).await?;
    let mut out: Vec<Assignment> = rows
        .into_iter()
        .map(|r| Assignment {
            permissions: roles
                .iter()
                .find(|role| role.pulp_id == r.7)
                .map(|role| role.permissions.clone())
                .unwrap_or_default(),
            pulp_id: r.0,
            pulp_created: r.1,
            pulp_last_updated: r.2,
            role: r.3,
            description: r.4,
            object: r.5.zip(r.6).map(|(content_type, object_id)| ObjectRef {
                content_type,
                object_id,
            }),
        })
        .collect();
    out.sort_by_key(|a| ids.iter().position(|id| *id == a.pulp_id));
    Ok(out)
}

/// One assignment of `who`.
pub async fn get(
    db: &Database,
    who: Principal,
    id: PulpId,
) -> Result<Option<Assignment>, RbacError> {
    Ok(get_many(db, who, &[id]).await?.pop())
}

/// Removes one assignment of `who`.
pub async fn remove(db: &Database, who: Principal, id: PulpId) -> Result<(), RbacError> {
    let sql = format!(
        "DELETE FROM {} WHERE {} = $1 AND pulp_id = $2",
        who.table(),
        who.column()
    );
    let removed = crate::on_pool!(db, pool => {
        let query = sqlx::query(&sql);
        let query = match who {
            Principal::User(u) => query.bind(u),
            Principal::Group(g) => query.bind(g),
        };
        query.bind(id).execute(pool).await?.rows_affected()
    });
    if removed == 0 {
        return Err(RbacError::NotFound);
    }
    Ok(())
}

/// Removes the assignment of `role` to `who` on `object`; `false` when there was none.
pub async fn remove_on(
    db: &Database,
    who: Principal,
    role: &str,
    object: &ObjectRef,
) -> Result<bool, RbacError> {
    let sql = format!(
        "DELETE FROM {} WHERE {} = $1 AND object_id = $2 AND content_type = $3 \
         AND role_id = (SELECT pulp_id FROM core_role WHERE name = $4)",
        who.table(),
        who.column()
    );
    let removed = crate::on_pool!(db, pool => {
        let query = sqlx::query(&sql);
        let query = match who {
            Principal::User(u) => query.bind(u),
            Principal::Group(g) => query.bind(g),
        };
        query
            .bind(&object.object_id)
            .bind(&object.content_type)
            .bind(role)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(removed > 0)
}

/// The roles assigned on `object`: `(role name, usernames, group names)`, sorted by role.
pub async fn object_roles(
    db: &Database,
    object: &ObjectRef,
) -> Result<Vec<(String, Vec<String>, Vec<String>)>, RbacError> {
    let rows: Vec<(String, String, bool)> = crate::on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT r.name, u.username, TRUE FROM core_userrole a JOIN core_role r ON r.pulp_id = a.role_id \
             JOIN core_user u ON u.pulp_id = a.user_id WHERE a.object_id = $1 AND a.content_type = $2 \
             UNION ALL SELECT r.name, g.name, FALSE FROM core_grouprole a JOIN core_role r ON r.pulp_id = a.role_id \
             JOIN core_group g ON g.id = a.group_id WHERE a.object_id = $1 AND a.content_type = $2 \
             ORDER BY 1, 2",
        )
        .bind(&object.object_id)
        .bind(&object.content_type)
        .fetch_all(pool)
        .await?
    });
    let mut out: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for (role, name, is_user) in rows {
        if out.last().map(|(r, _, _)| r != &role).unwrap_or(true) {
            out.push((role.clone(), Vec::new(), Vec::new()));
        }
        if let Some(last) = out.last_mut() {
            if is_user {
                last.1.push(name);
            } else {
                last.2.push(name);
            }
        }
    }
    Ok(out)
}

/// Removes every assignment on the objects `select` answers (a `SELECT` of object ids as
/// text, with `$1` bound to `id`): before objects go with the one being deleted.
pub async fn forget_objects_of(db: &Database, select: &str, id: PulpId) -> Result<(), DbError> {
    crate::on_pool!(db, pool => {
        for table in ["core_userrole", "core_grouprole"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE object_id IN ({select})"))
                .bind(id)
                .execute(pool)
                .await?;
        }
    });
    Ok(())
}

/// Removes the assignments on objects of `content_type` that no longer exist in `table`
/// (after a bulk delete such as a task purge).
pub async fn forget_missing(db: &Database, content_type: &str, table: &str) -> Result<(), DbError> {
    crate::on_pool!(db, pool => {
        for assignments in ["core_userrole", "core_grouprole"] {
            let object = match db.backend() {
                crate::db::Backend::Postgres => format!("CAST({assignments}.object_id AS UUID)"),
                crate::db::Backend::Sqlite => format!("{assignments}.object_id"),
            };
            sqlx::query(&format!(
                "DELETE FROM {assignments} WHERE content_type = $1 AND object_id IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.pulp_id = {object})"
            ))
            .bind(content_type)
            .execute(pool)
            .await?;
        }
    });
    Ok(())
}

/// Removes every assignment on `object` (when it is deleted).
pub async fn forget_object(db: &Database, object_id: &str) -> Result<(), DbError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_userrole WHERE object_id = $1")
            .bind(object_id)
            .execute(pool)
            .await?;
        sqlx::query("DELETE FROM core_grouprole WHERE object_id = $1")
            .bind(object_id)
            .execute(pool)
            .await?;
    });
    Ok(())
}
