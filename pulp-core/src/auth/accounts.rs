//! User accounts as the `/users/` API manages them: names, e-mail, staff and active flags,
//! an optional password (none: no password login), group memberships.

use chrono::{DateTime, Utc};

use super::users::{hash_password, AuthError};
use crate::db::{Database, PulpId};

/// A user account (never its password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: PulpId,
    /// Unique login name.
    pub username: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail address.
    pub email: String,
    /// Staff flag.
    pub is_staff: bool,
    /// May log in.
    pub is_active: bool,
    /// Holds every permission (set with `pulp-server set-user-password`, never by the API).
    pub is_superuser: bool,
    /// When it was created.
    pub date_joined: DateTime<Utc>,
    /// Its groups: `(id, name)`, by name.
    pub groups: Vec<(i64, String)>,
}

/// Fields a create or update sets (`None`: unchanged, or the default on create).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChanges {
    /// Login name.
    pub username: Option<String>,
    /// `Some(None)` disables password login.
    pub password: Option<Option<String>>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Staff flag.
    pub is_staff: Option<bool>,
    /// Active flag.
    pub is_active: Option<bool>,
}

/// Stored in place of a hash when password login is disabled (no argon2 hash reads it).
const NO_PASSWORD: &str = "!";

type Row = (
    PulpId,
    String,
    String,
    String,
    String,
    bool,
    bool,
    bool,
    DateTime<Utc>,
);

/// The accounts with these ids (any order).
pub async fn get_many(db: &Database, ids: &[PulpId]) -> Result<Vec<Account>, AuthError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::models::sql::placeholders(1, ids.len());
    let sql = format!(
        "SELECT pulp_id, username, first_name, last_name, email, is_staff, is_active, is_superuser, \
         date_joined FROM core_user WHERE pulp_id IN ({list})"
    );
    let groups_sql = format!(
        "SELECT ug.user_id, g.id, g.name FROM core_user_groups ug JOIN core_group g ON g.id = ug.group_id \
         WHERE ug.user_id IN ({list}) ORDER BY g.name"
    );
    let (rows, groups): (Vec<Row>, Vec<(PulpId, i64, String)>) = crate::on_pool!(db, pool => {
        let mut q = sqlx::query_as(&sql);
        let mut g = sqlx::query_as(&groups_sql);
        for id in ids {
            q = q.bind(*id);
            g = g.bind(*id);
        }
        (q.fetch_all(pool).await?, g.fetch_all(pool).await?)
    });
    Ok(rows
        .into_iter()
        .map(|r| Account {
            groups: groups
                .iter()
                .filter(|(u, _, _)| *u == r.0)
                .map(|(_, id, name)| (*id, name.clone()))
                .collect(),
            id: r.0,
            username: r.1,
            first_name: r.2,
            last_name: r.3,
            email: r.4,
            is_staff: r.5,
            is_active: r.6,
            is_superuser: r.7,
            date_joined: r.8,
        })
        .collect())
}

/// The account with this id.
pub async fn get(db: &Database, id: PulpId) -> Result<Option<Account>, AuthError> {
    Ok(get_many(db, &[id]).await?.pop())
}

async fn password_column(password: Option<Option<String>>) -> Result<Option<String>, AuthError> {
    match password {
        None => Ok(None),
        Some(None) => Ok(Some(NO_PASSWORD.to_string())),
        Some(Some(p)) if p.is_empty() => Err(AuthError::InvalidPassword(
            "This field may not be blank.".into(),
        )),
        Some(Some(p)) => Ok(Some(hash_password(p).await?)),
    }
}

fn taken(e: sqlx::Error) -> AuthError {
    if e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
    {
        AuthError::UsernameTaken
    } else {
        e.into()
    }
}

/// Creates an account (never a superuser).
pub async fn create(db: &Database, changes: AccountChanges) -> Result<Account, AuthError> {
    let username = changes.username.clone().unwrap_or_default();
    let password = password_column(Some(changes.password.clone().unwrap_or(None)))
        .await?
        .unwrap_or_else(|| NO_PASSWORD.to_string());
    let id = PulpId::new();
    crate::on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO core_user (pulp_id, username, password, is_superuser, is_active, date_joined, \
             first_name, last_name, email, is_staff) VALUES ($1, $2, $3, FALSE, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(&username)
        .bind(&password)
        .bind(changes.is_active.unwrap_or(true))
        .bind(Utc::now())
        .bind(changes.first_name.unwrap_or_default())
        .bind(changes.last_name.unwrap_or_default())
        .bind(changes.email.unwrap_or_default())
        .bind(changes.is_staff.unwrap_or(false))
        .execute(pool)
        .await
        .map_err(taken)?;
    });
    get(db, id).await?.ok_or(AuthError::NotFound)
}

/// Changes an account; `None` when there is no such account.
pub async fn update(
    db: &Database,
    id: PulpId,
    changes: AccountChanges,
) -> Result<Account, AuthError> {
    let current = get(db, id).await?.ok_or(AuthError::NotFound)?;
    let password = password_column(changes.password).await?;
    crate::on_pool!(db, pool => {
        sqlx::query(
            "UPDATE core_user SET username = $2, first_name = $3, last_name = $4, email = $5, \
             is_staff = $6, is_active = $7, password = COALESCE($8, password) WHERE pulp_id = $1",
        )
        .bind(id)
        .bind(changes.username.unwrap_or(current.username))
        .bind(changes.first_name.unwrap_or(current.first_name))
        .bind(changes.last_name.unwrap_or(current.last_name))
        .bind(changes.email.unwrap_or(current.email))
        .bind(changes.is_staff.unwrap_or(current.is_staff))
        .bind(changes.is_active.unwrap_or(current.is_active))
        .bind(password)
        .execute(pool)
        .await
        .map_err(taken)?;
    });
    get(db, id).await?.ok_or(AuthError::NotFound)
}

/// Deletes an account with its memberships and role assignments.
pub async fn delete(db: &Database, id: PulpId) -> Result<(), AuthError> {
    let deleted = crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_user WHERE pulp_id = $1")
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if deleted == 0 {
        return Err(AuthError::NotFound);
    }
    Ok(())
}
