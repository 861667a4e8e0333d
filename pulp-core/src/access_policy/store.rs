//! The `core_accesspolicy` table: seeding the declared defaults, reading, customizing and
//! resetting stored policies.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::AccessPolicy;
use crate::db::{Database, DbError, PulpId};

/// An access policy as stored, with its statements as they were given (Pulp answers them
/// back unchanged).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPolicy {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was first stored.
    pub pulp_created: DateTime<Utc>,
    /// When it last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// The viewset it authorizes (`repositories/file/file`).
    pub viewset_name: String,
    /// The statements (a JSON list).
    pub statements: Value,
    /// The creation hooks (a JSON list).
    pub creation_hooks: Value,
    /// The queryset scoping, if any.
    pub queryset_scoping: Option<Value>,
    /// Changed through the API since it was seeded or reset.
    pub customized: bool,
}

impl StoredPolicy {
    /// The policy to evaluate. Statements were validated when written; one that no longer
    /// reads is left out (so it allows nothing).
    pub fn policy(&self) -> AccessPolicy {
        let statements = self
            .statements
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|s| serde_json::from_value(s.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        AccessPolicy {
            statements,
            creation_hooks: self.creation_hooks.as_array().cloned().unwrap_or_default(),
            queryset_scoping: self.queryset_scoping.clone(),
        }
    }
}

/// What a policy row holds besides its name: statements, creation hooks, scoping.
pub(crate) struct PolicyDocuments {
    statements: String,
    creation_hooks: String,
    queryset_scoping: Option<String>,
}

impl PolicyDocuments {
    pub(crate) fn new(
        statements: &Value,
        creation_hooks: &Value,
        queryset_scoping: Option<&Value>,
    ) -> Self {
        Self {
            statements: statements.to_string(),
            creation_hooks: creation_hooks.to_string(),
            queryset_scoping: queryset_scoping
                .filter(|v| !v.is_null())
                .map(Value::to_string),
        }
    }

    fn of(policy: &AccessPolicy) -> Self {
        Self {
            statements: serde_json::to_string(&policy.statements)
                .unwrap_or_else(|_| "[]".to_string()),
            creation_hooks: Value::from(policy.creation_hooks.clone()).to_string(),
            queryset_scoping: policy
                .queryset_scoping
                .as_ref()
                .filter(|v| !v.is_null())
                .map(Value::to_string),
        }
    }
}

type PolicyRow = (
    PulpId,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    String,
    String,
    Option<String>,
    bool,
);

const COLUMNS: &str = "pulp_id, pulp_created, pulp_last_updated, viewset_name, statements, \
                       creation_hooks, queryset_scoping, customized";

fn decode(row: PolicyRow) -> StoredPolicy {
    let json = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
    StoredPolicy {
        pulp_id: row.0,
        pulp_created: row.1,
        pulp_last_updated: row.2,
        viewset_name: row.3,
        statements: json(&row.4),
        creation_hooks: json(&row.5),
        queryset_scoping: row.6.as_deref().map(json),
        customized: row.7,
    }
}

/// Stores the declared default policies: a viewset without a policy gets its default; a
/// stored policy nobody customized is brought up to date with its default; a customized one
/// is left alone (as Pulp does after each migration).
pub async fn seed(db: &Database, defaults: &[(String, AccessPolicy)]) -> Result<(), DbError> {
    let now = Utc::now();
    for (viewset, policy) in defaults {
        let documents = PolicyDocuments::of(policy);
        crate::on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO core_accesspolicy (pulp_id, pulp_created, pulp_last_updated, viewset_name, \
                 statements, creation_hooks, queryset_scoping, customized) \
                 VALUES ($1, $2, $2, $3, $4, $5, $6, FALSE) \
                 ON CONFLICT (viewset_name) DO UPDATE SET statements = excluded.statements, \
                 creation_hooks = excluded.creation_hooks, queryset_scoping = excluded.queryset_scoping, \
                 pulp_last_updated = excluded.pulp_last_updated \
                 WHERE core_accesspolicy.customized = FALSE AND (core_accesspolicy.statements <> excluded.statements \
                 OR core_accesspolicy.creation_hooks <> excluded.creation_hooks \
                 OR COALESCE(core_accesspolicy.queryset_scoping, '') <> COALESCE(excluded.queryset_scoping, ''))",
            )
            .bind(PulpId::new())
            .bind(now)
            .bind(viewset)
            .bind(&documents.statements)
            .bind(&documents.creation_hooks)
            .bind(&documents.queryset_scoping)
            .execute(pool)
            .await?;
        });
    }
    Ok(())
}

/// The stored policy of `viewset_name`.
pub async fn find(db: &Database, viewset_name: &str) -> Result<Option<StoredPolicy>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM core_accesspolicy WHERE viewset_name = $1");
    let row: Option<PolicyRow> = crate::on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(viewset_name).fetch_optional(pool).await?
    });
    Ok(row.map(decode))
}

/// The stored policy with this id.
pub async fn get(db: &Database, id: PulpId) -> Result<Option<StoredPolicy>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM core_accesspolicy WHERE pulp_id = $1");
    let row: Option<PolicyRow> = crate::on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    Ok(row.map(decode))
}

/// The stored policies with these ids (any order).
pub async fn get_many(db: &Database, ids: &[PulpId]) -> Result<Vec<StoredPolicy>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM core_accesspolicy WHERE pulp_id IN ({})",
        crate::models::sql::placeholders(1, ids.len())
    );
    let rows: Vec<PolicyRow> = crate::on_pool!(db, pool => {
        let mut query = sqlx::query_as(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await?
    });
    Ok(rows.into_iter().map(decode).collect())
}

/// Replaces what policy `id` holds; `customized` says whether it now differs from its
/// default (an API change) or is the default again (a reset). The updated policy, or `None`
/// when there is no such policy.
pub(crate) async fn write(
    db: &Database,
    id: PulpId,
    documents: PolicyDocuments,
    customized: bool,
) -> Result<Option<StoredPolicy>, DbError> {
    let changed = crate::on_pool!(db, pool => {
        sqlx::query(
            "UPDATE core_accesspolicy SET statements = $2, creation_hooks = $3, queryset_scoping = $4, \
             customized = $5, pulp_last_updated = $6 WHERE pulp_id = $1",
        )
        .bind(id)
        .bind(&documents.statements)
        .bind(&documents.creation_hooks)
        .bind(&documents.queryset_scoping)
        .bind(customized)
        .bind(Utc::now())
        .execute(pool)
        .await?
        .rows_affected()
    });
    if changed == 0 {
        return Ok(None);
    }
    get(db, id).await
}

/// Puts policy `id` back to `default` (no longer customized).
pub async fn reset(
    db: &Database,
    id: PulpId,
    default: &AccessPolicy,
) -> Result<Option<StoredPolicy>, DbError> {
    write(db, id, PolicyDocuments::of(default), false).await
}
