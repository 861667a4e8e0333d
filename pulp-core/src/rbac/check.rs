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
    let (object, where_object) = match level {
        Level::Global => (None, "IS NULL"),
        Level::Object(id) => (Some(id), "= $4"),
        Level::GlobalOrObject(id) => (Some(id), "IS NULL OR {}.object_id = $4"),
    };
    let of = |alias: &str| format!("({alias}.object_id {})", where_object.replace("{}", alias));
    // The permission's id first (a unique index), then the roles holding it, then whether one
    // of them is assigned to the user or a group of theirs.
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM core_permission p \
         JOIN core_role_permissions rp ON rp.permission_id = p.id \
         JOIN core_userrole ur ON ur.role_id = rp.role_id \
         WHERE p.app_label = $2 AND p.codename = $3 AND ur.user_id = $1 AND {}) \
         OR EXISTS (SELECT 1 FROM core_permission p \
         JOIN core_role_permissions rp ON rp.permission_id = p.id \
         JOIN core_grouprole gr ON gr.role_id = rp.role_id \
         JOIN core_user_groups ug ON ug.group_id = gr.group_id \
         WHERE p.app_label = $2 AND p.codename = $3 AND ug.user_id = $1 AND {})",
        of("ur"),
        of("gr")
    );
    let held: bool = crate::on_pool!(db, pool => {
        let mut query = sqlx::query_scalar(&sql).bind(user).bind(app).bind(codename);
        if let Some(object) = object {
            query = query.bind(object);
        }
        query.fetch_one(pool).await?
    });
    Ok(held)
}

/// A `WHERE` clause keeping the rows whose `column` (a `pulp_id`) is the id of an object on
/// which the user holds a permission, with `?` placeholders for, in order: user id,
/// app label, codename, user id, app label, codename. Only assignments on objects of the
/// permission's own model count.
pub fn scope_clause(backend: Backend, column: &str) -> String {
    let object = match backend {
        Backend::Postgres => "CAST({}.object_id AS UUID)",
        Backend::Sqlite => "{}.object_id",
    };
    format!(
        "{column} IN (SELECT {} FROM core_userrole ur \
         JOIN core_role_permissions rp ON rp.role_id = ur.role_id \
         JOIN core_permission p ON p.id = rp.permission_id \
         WHERE ur.user_id = ? AND p.app_label = ? AND p.codename = ? \
         AND ur.content_type = p.app_label || '.' || p.model \
         UNION SELECT {} FROM core_grouprole gr \
         JOIN core_user_groups ug ON ug.group_id = gr.group_id \
         JOIN core_role_permissions rp ON rp.role_id = gr.role_id \
         JOIN core_permission p ON p.id = rp.permission_id \
         WHERE ug.user_id = ? AND p.app_label = ? AND p.codename = ? \
         AND gr.content_type = p.app_label || '.' || p.model)",
        object.replace("{}", "ur"),
        object.replace("{}", "gr"),
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
    let sql = "SELECT DISTINCT p.app_label || '.' || p.codename FROM core_permission p \
               JOIN core_role_permissions rp ON rp.permission_id = p.id \
               WHERE p.app_label || '.' || p.model = $2 AND rp.role_id IN ( \
               SELECT ur.role_id FROM core_userrole ur WHERE ur.user_id = $1 \
               AND (ur.object_id IS NULL OR ur.object_id = $3) \
               UNION SELECT gr.role_id FROM core_grouprole gr \
               JOIN core_user_groups ug ON ug.group_id = gr.group_id \
               WHERE ug.user_id = $1 AND (gr.object_id IS NULL OR gr.object_id = $3)) \
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
