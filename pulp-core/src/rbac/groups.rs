//! Groups of users and their members.

use super::RbacError;
use crate::db::{Database, PulpId};

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
}

fn unique(e: sqlx::Error) -> RbacError {
    if e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
    {
        RbacError::invalid("name", "group with this name already exists.")
    } else {
        RbacError::Database(e.into())
    }
}

/// Creates a group.
pub async fn create(db: &Database, name: &str) -> Result<Group, RbacError> {
    let id: i64 = crate::on_pool!(db, pool => {
        sqlx::query_scalar("INSERT INTO core_group (name) VALUES ($1) RETURNING id")
            .bind(name)
            .fetch_one(pool)
            .await
            .map_err(unique)?
    });
    Ok(Group {
        id,
        name: name.to_string(),
    })
}

/// The group with this id.
pub async fn get(db: &Database, id: i64) -> Result<Option<Group>, RbacError> {
    let row: Option<(i64, String)> = crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT id, name FROM core_group WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(id, name)| Group { id, name }))
}

/// The group named `name`.
pub async fn by_name(db: &Database, name: &str) -> Result<Option<Group>, RbacError> {
    let row: Option<(i64, String)> = crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT id, name FROM core_group WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(id, name)| Group { id, name }))
}

/// Renames a group.
pub async fn rename(db: &Database, id: i64, name: &str) -> Result<Group, RbacError> {
    let changed = crate::on_pool!(db, pool => {
        sqlx::query("UPDATE core_group SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(pool)
            .await
            .map_err(unique)?
            .rows_affected()
    });
    if changed == 0 {
        return Err(RbacError::NotFound);
    }
    Ok(Group {
        id,
        name: name.to_string(),
    })
}

/// Deletes a group, its memberships and its role assignments (also those on it as an object).
pub async fn delete(db: &Database, id: i64) -> Result<(), RbacError> {
    let deleted = crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_userrole WHERE content_type = 'core.group' AND object_id = $1")
            .bind(id.to_string())
            .execute(pool)
            .await?;
        sqlx::query("DELETE FROM core_grouprole WHERE content_type = 'core.group' AND object_id = $1")
            .bind(id.to_string())
            .execute(pool)
            .await?;
        sqlx::query("DELETE FROM core_group WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if deleted == 0 {
        return Err(RbacError::NotFound);
    }
    Ok(())
}

/// Adds `user` to group `id` (already a member: nothing changes).
pub async fn add_member(db: &Database, id: i64, user: PulpId) -> Result<(), RbacError> {
    crate::on_pool!(db, pool => {
        sqlx::query("INSERT INTO core_user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user)
            .bind(id)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Removes `user` from group `id`.
pub async fn remove_member(db: &Database, id: i64, user: PulpId) -> Result<(), RbacError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_user_groups WHERE user_id = $1 AND group_id = $2")
            .bind(user)
            .bind(id)
            .execute(pool)
            .await?;
    });
    Ok(())
}
