//! Set-based permission checks: one query answers "does this user hold this permission
//! (globally / on this object), directly or through a group"; lists are scoped by a SQL
//! clause, never by loading roles into memory.

use crate::db::{Backend, Database, DbError, PulpId};

/// Where a permission must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level<'a> {
    /// By a role assigned without an object (model-level, "global").
    Global,
    /// By a role assigned on this object (its id as text).
    Object(&'a str),
    /// Either.
    GlobalOrObject(&'a str),
}

/// Whether `user` holds `permission` (`app_label.codename`) at `level`, through a role of
/// their own or of one of their groups. An unknown or malformed permission is not held.
pub async fn has_perm(
    db: &Database,
    user: PulpId,
    permission: &str,
    level: Level<'_>,
) -> Result<bool, DbError> {
    let Some((app, codename)) = permission.split_once('.') else {
        return Ok(false);
    };
    let (object, places): (Option<&str>, &[&str]) = match level {
        Level::Global => (None, &["IS NULL"]),
        Level::Object(id) => (Some(id), &["= $4"]),
        Level::GlobalOrObject(id) => (Some(id), &["IS NULL", "= $4"]),
    };
    // Each branch is one probe of the `(principal, object_id, role_id)` index for the few
    // roles holding the permission, however many objects the user holds roles on.
    let roles = "SELECT rp.role_id FROM core_role_permissions rp JOIN core_permission p \
                 ON p.id = rp.permission_id WHERE p.app_label = $2 AND p.codename = $3";
    let mut branches = Vec::new();
    for place in places {
        branches.push(format!(
            "EXISTS (SELECT 1 FROM core_userrole ur WHERE ur.user_id = $1 \
             AND ur.object_id {place} AND ur.role_id IN ({roles}))"
        ));
        branches.push(format!(
            "EXISTS (SELECT 1 FROM core_user_groups ug JOIN core_grouprole gr \
             ON gr.group_id = ug.group_id WHERE ug.user_id = $1 \
             AND gr.object_id {place} AND gr.role_id IN ({roles}))"
        ));
    }
    let sql = format!("SELECT {}", branches.join(" OR "));
    let held: bool = crate::on_pool!(db, pool => {
        let mut query = sqlx::query_scalar(&sql).bind(user).bind(app).bind(codename);
        if let Some(object) = object {
            query = query.bind(object);
        }
        query.fetch_one(pool).await?
    });
    Ok(held)
}

/// A `WHERE` clause keeping the rows whose `column` (a `pulp_id`, or text) is the id of an
/// object on which the user holds a permission, with `?` placeholders for, in order: user
/// id, app label, codename, user id, app label, codename. Only assignments on objects of the
/// permission's own model count.
pub fn scope_clause(backend: Backend, column: &str) -> String {
    // A correlated probe of the `(principal, object_id, role_id)` index per listed row: a
    // page of 100 in list order stops after the first 100 rows held, instead of first
    // gathering every object the user holds roles on.
    let object = match backend {
        Backend::Postgres => format!("CAST({column} AS TEXT)"),
        Backend::Sqlite => column.to_string(),
    };
    let roles = |alias: &str| {
        format!(
            "SELECT rp.role_id FROM core_role_permissions rp \
             JOIN core_permission p ON p.id = rp.permission_id \
             WHERE p.app_label = ? AND p.codename = ? \
             AND {alias}.content_type = p.app_label || '.' || p.model"
        )
    };
    format!(
        "(EXISTS (SELECT 1 FROM core_userrole ur WHERE ur.user_id = ? AND ur.object_id = {object} \
         AND ur.role_id IN ({})) \
         OR EXISTS (SELECT 1 FROM core_user_groups ug JOIN core_grouprole gr ON gr.group_id = ug.group_id \
         WHERE ug.user_id = ? AND gr.object_id = {object} AND gr.role_id IN ({})))",
        roles("ur"),
        roles("gr"),
    )
}

/// The ids of the permissions named (`app_label.codename`); unknown names are skipped.
pub async fn permission_ids(db: &Database, names: &[String]) -> Result<Vec<i64>, DbError> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let Some((app, codename)) = name.split_once('.') else {
            continue;
        };
        let id: Option<i64> = crate::on_pool!(db, pool => {
            sqlx::query_scalar("SELECT id FROM core_permission WHERE app_label = $1 AND codename = $2")
                .bind(app)
                .bind(codename)
                .fetch_optional(pool)
                .await?
        });
        ids.extend(id);
    }
    Ok(ids)
}

/// The permissions (`app_label.codename`, sorted) `user` holds on the object `object_id` of
/// type `content_type`: from roles assigned on it and from global roles, limited to
/// permissions on that type.
pub async fn my_permissions(
    db: &Database,
    user: PulpId,
    content_type: &str,
    object_id: &str,
) -> Result<Vec<String>, DbError> {
    // Global and object assignments apart: each is a probe of the `(principal, object_id)`
    // index, however many objects the user holds roles on.
    let sql = "SELECT DISTINCT p.app_label || '.' || p.codename FROM core_permission p \
               JOIN core_role_permissions rp ON rp.permission_id = p.id \
               WHERE p.app_label || '.' || p.model = $2 AND rp.role_id IN ( \
               SELECT ur.role_id FROM core_userrole ur WHERE ur.user_id = $1 AND ur.object_id = $3 \
               UNION SELECT ur.role_id FROM core_userrole ur WHERE ur.user_id = $1 AND ur.object_id IS NULL \
               UNION SELECT gr.role_id FROM core_user_groups ug JOIN core_grouprole gr \
               ON gr.group_id = ug.group_id WHERE ug.user_id = $1 AND gr.object_id = $3 \
               UNION SELECT gr.role_id FROM core_user_groups ug JOIN core_grouprole gr \
               ON gr.group_id = ug.group_id WHERE ug.user_id = $1 AND gr.object_id IS NULL) \
               ORDER BY 1";
    let names: Vec<String> = crate::on_pool!(db, pool => {
        sqlx::query_scalar(sql)
            .bind(user)
            .bind(content_type)
            .bind(object_id)
            .fetch_all(pool)
            .await?
    });
    Ok(names)
}

/// Every permission on objects of `content_type` (what a superuser holds on one).
pub async fn permissions_of_type(
    db: &Database,
    content_type: &str,
) -> Result<Vec<String>, DbError> {
    let names: Vec<String> = crate::on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT app_label || '.' || codename FROM core_permission \
             WHERE app_label || '.' || model = $1 ORDER BY 1",
        )
        .bind(content_type)
        .fetch_all(pool)
        .await?
    });
    Ok(names)
}

/// The names of the groups `user` belongs to.
pub async fn group_names(db: &Database, user: PulpId) -> Result<Vec<String>, DbError> {
    let names: Vec<String> = crate::on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT g.name FROM core_group g JOIN core_user_groups ug ON ug.group_id = g.id \
             WHERE ug.user_id = $1 ORDER BY g.name",
        )
        .bind(user)
        .fetch_all(pool)
        .await?
    });
    Ok(names)
}
