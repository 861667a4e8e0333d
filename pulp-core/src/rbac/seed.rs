//! Writing the declared permissions and locked roles at migration time.

use chrono::Utc;

use super::{LockedRole, PermissionDecl};
use crate::db::{Database, DbError, PulpId};

/// Stores every declared permission and locked role: new ones are added, changed ones are
/// brought back to their declaration (a locked role's permissions are exactly the declared
/// ones afterwards). Permissions and roles no longer declared are left alone, so that
/// assignments survive a plugin being removed and added back.
pub async fn seed(
    db: &Database,
    permissions: &[PermissionDecl],
    roles: &[LockedRole],
) -> Result<(), DbError> {
    for p in permissions {
        crate::on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO core_permission (app_label, codename, model, name) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (app_label, codename) DO UPDATE SET model = excluded.model, name = excluded.name \
                 WHERE core_permission.model <> excluded.model OR core_permission.name <> excluded.name",
            )
            .bind(&p.app_label)
            .bind(&p.codename)
            .bind(&p.model)
            .bind(&p.name)
            .execute(pool)
            .await?;
        });
    }
    let now = Utc::now();
    for role in roles {
        let id: PulpId = crate::on_pool!(db, pool => {
            sqlx::query_scalar(
                "INSERT INTO core_role (pulp_id, pulp_created, pulp_last_updated, name, description, locked) \
                 VALUES ($1, $2, $2, $3, $4, TRUE) \
                 ON CONFLICT (name) DO UPDATE SET description = excluded.description, locked = TRUE \
                 RETURNING pulp_id",
            )
            .bind(PulpId::new())
            .bind(now)
            .bind(&role.name)
            .bind(&role.description)
            .fetch_one(pool)
            .await?
        });
        let wanted: Vec<i64> = super::check::permission_ids(db, &role.permissions).await?;
        if wanted.len() < role.permissions.len() {
            tracing::warn!(role = %role.name, "a locked role names a permission nobody declares");
        }
        let list = if wanted.is_empty() {
            "NULL".to_string()
        } else {
            wanted
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let remove = format!(
            "DELETE FROM core_role_permissions WHERE role_id = $1 AND permission_id NOT IN ({list})"
        );
        crate::on_pool!(db, pool => {
            sqlx::query(&remove).bind(id).execute(pool).await?;
            for permission in &wanted {
                sqlx::query(
                    "INSERT INTO core_role_permissions (role_id, permission_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(permission)
                .execute(pool)
                .await?;
            }
        });
    }
    Ok(())
}
