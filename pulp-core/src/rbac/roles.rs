//! Roles: named sets of permissions. Locked roles (declared in code) cannot be changed.

use chrono::{DateTime, Utc};

use super::RbacError;
use crate::db::{Database, PulpId};

/// A role as stored, with its permissions.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// When it last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// Its unique name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Declared in code: no change through the API.
    pub locked: bool,
    /// Its permissions (`app_label.codename`, sorted).
    pub permissions: Vec<String>,
}

/// What a create or update of a role sets (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New permissions.
    pub permissions: Option<Vec<String>>,
}

type RoleRow = (
    PulpId,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<String>,
    bool,
);
const COLUMNS: &str = "pulp_id, pulp_created, pulp_last_updated, name, description, locked";

/// The roles with these ids (any order), with their permissions.
pub async fn get_many(db: &Database, ids: &[PulpId]) -> Result<Vec<Role>, RbacError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::models::sql::placeholders(1, ids.len());
    let sql = format!("SELECT {COLUMNS} FROM core_role WHERE pulp_id IN ({list})");
    let perms_sql = format!(
        "SELECT rp.role_id, p.app_label || '.' || p.codename FROM core_role_permissions rp \
         JOIN core_permission p ON p.id = rp.permission_id WHERE rp.role_id IN ({list}) ORDER BY 2"
    );
    let (rows, perms): (Vec<RoleRow>, Vec<(PulpId, String)>) = crate::on_pool!(db, pool => {
        let mut q = sqlx::query_as(&sql);
        let mut p = sqlx::query_as(&perms_sql);
        for id in ids {
            q = q.bind(*id);
            p = p.bind(*id);
        }
        (q.fetch_all(pool).await?, p.fetch_all(pool).await?)
    });
    Ok(rows
        .into_iter()
        .map(|r| Role {
            permissions: perms
                .iter()
                .filter(|(id, _)| *id == r.0)
                .map(|(_, p)| p.clone())
                .collect(),
            pulp_id: r.0,
            pulp_created: r.1,
            pulp_last_updated: r.2,
            name: r.3,
            description: r.4,
            locked: r.5,
        })
        .collect())
}

/// The role with this id.
pub async fn get(db: &Database, id: PulpId) -> Result<Option<Role>, RbacError> {
    Ok(get_many(db, &[id]).await?.pop())
}

/// The id of the role named `name`.
pub async fn id_by_name(db: &Database, name: &str) -> Result<Option<PulpId>, RbacError> {
    let id: Option<PulpId> = crate::on_pool!(db, pool => {
        sqlx::query_scalar("SELECT pulp_id FROM core_role WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?
    });
    Ok(id)
}

async fn check_permissions(db: &Database, names: &[String]) -> Result<Vec<i64>, RbacError> {
    let mut errors = Vec::new();
    for name in names {
        if !name.contains('.') {
            errors.push(format!(
                "Permission '{name}' is not in the format '<app_label>.<codename>'."
            ));
        } else if super::check::permission_ids(db, std::slice::from_ref(name))
            .await?
            .is_empty()
        {
            errors.push(format!("Permission '{name}' does not exist."));
        }
    }
    if !errors.is_empty() {
        return Err(RbacError::Invalid {
            field: "permissions",
            messages: errors,
        });
    }
    Ok(super::check::permission_ids(db, names).await?)
}

/// Creates a role that is not locked.
pub async fn create(
    db: &Database,
    name: &str,
    description: Option<String>,
    permissions: &[String],
) -> Result<Role, RbacError> {
    if id_by_name(db, name).await?.is_some() {
        return Err(RbacError::invalid(
            "name",
            "role with this name already exists.",
        ));
    }
    let ids = check_permissions(db, permissions).await?;
    let id = PulpId::new();
    let now = Utc::now();
    crate::on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO core_role (pulp_id, pulp_created, pulp_last_updated, name, description, locked) \
             VALUES ($1, $2, $2, $3, $4, FALSE)",
        )
        .bind(id)
        .bind(now)
        .bind(name)
        .bind(&description)
        .execute(pool)
        .await?;
    });
    set_permissions(db, id, &ids).await?;
    get(db, id).await?.ok_or(RbacError::NotFound)
}

async fn set_permissions(db: &Database, role: PulpId, ids: &[i64]) -> Result<(), RbacError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_role_permissions WHERE role_id = $1")
            .bind(role)
            .execute(pool)
            .await?;
        for permission in ids {
            sqlx::query(
                "INSERT INTO core_role_permissions (role_id, permission_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(role)
            .bind(permission)
            .execute(pool)
            .await?;
        }
    });
    Ok(())
}

/// Changes a role that is not locked.
pub async fn update(db: &Database, id: PulpId, changes: RoleChanges) -> Result<Role, RbacError> {
    let role = get(db, id).await?.ok_or(RbacError::NotFound)?;
    if role.locked {
        return Err(RbacError::Locked);
    }
    if let Some(name) = &changes.name {
        if *name != role.name && id_by_name(db, name).await?.is_some() {
            return Err(RbacError::invalid(
                "name",
                "role with this name already exists.",
            ));
        }
    }
    let ids = match &changes.permissions {
        Some(names) => Some(check_permissions(db, names).await?),
        None => None,
    };
    let name = changes.name.unwrap_or(role.name);
    let description = changes.description.unwrap_or(role.description);
    crate::on_pool!(db, pool => {
        sqlx::query("UPDATE core_role SET name = $2, description = $3, pulp_last_updated = $4 WHERE pulp_id = $1")
            .bind(id)
            .bind(&name)
            .bind(&description)
            .bind(Utc::now())
            .execute(pool)
            .await?;
    });
    if let Some(ids) = ids {
        set_permissions(db, id, &ids).await?;
    }
    get(db, id).await?.ok_or(RbacError::NotFound)
}

/// Deletes a role that is not locked (its assignments go with it).
pub async fn delete(db: &Database, id: PulpId) -> Result<(), RbacError> {
    let role = get(db, id).await?.ok_or(RbacError::NotFound)?;
    if role.locked {
        return Err(RbacError::Locked);
    }
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_role WHERE pulp_id = $1")
            .bind(id)
            .execute(pool)
            .await?;
    });
    Ok(())
}
