//! The stored upstream Pulps (table of migration `0017_upstream_pulps`).

use chrono::{DateTime, Utc};

use super::ReplicationError;
use crate::db::{Database, PulpId};

/// How replication treats local objects (Pulp's `policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Every local object of the replicated types is managed (and removed when the upstream
    /// has no distribution of its name).
    All,
    /// Only objects labelled `UpstreamPulp=<this upstream's id>` are managed.
    Labeled,
    /// Objects are created and updated, never removed.
    NoDelete,
}

impl Policy {
    /// Pulp's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::All => "all",
            Policy::Labeled => "labeled",
            Policy::NoDelete => "nodelete",
        }
    }

    /// The policy named `name`.
    pub fn parse(name: &str) -> Option<Policy> {
        match name {
            "all" => Some(Policy::All),
            "labeled" => Some(Policy::Labeled),
            "nodelete" => Some(Policy::NoDelete),
            _ => None,
        }
    }
}

/// An upstream Pulp.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamPulp {
    /// Its id.
    pub pulp_id: PulpId,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// When it was last changed (not by a replication).
    pub pulp_last_updated: DateTime<Utc>,
    /// Unique name.
    pub name: String,
    /// Scheme, host and port of the upstream (`https://pulp.example.com`).
    pub base_url: String,
    /// Its API root (`pulp`).
    pub api_root: String,
    /// Its domain, when it has domains.
    pub domain: Option<String>,
    /// PEM CA certificate(s) the upstream's certificate is checked against.
    pub ca_cert: Option<String>,
    /// PEM client certificate.
    pub client_cert: Option<String>,
    /// PEM client key (write-only).
    pub client_key: Option<String>,
    /// Whether the upstream's certificate is checked.
    pub tls_validation: bool,
    /// User on the upstream (write-only).
    pub username: Option<String>,
    /// Password on the upstream (write-only).
    pub password: Option<String>,
    /// Given to the remotes replication makes.
    pub download_concurrency: Option<i64>,
    /// Given to the remotes replication makes.
    pub max_retries: Option<i64>,
    /// Given to the remotes replication makes.
    pub total_timeout: Option<f64>,
    /// Given to the remotes replication makes.
    pub connect_timeout: Option<f64>,
    /// Given to the remotes replication makes.
    pub sock_connect_timeout: Option<f64>,
    /// Given to the remotes replication makes.
    pub sock_read_timeout: Option<f64>,
    /// Download policy of the remotes replication makes (none: `on_demand`).
    pub remote_policy: Option<String>,
    /// A `q` filter selecting the upstream's distributions.
    pub q_select: Option<String>,
    /// How local objects are managed.
    pub policy: Policy,
    /// Start of the last successful replication.
    pub last_replication: Option<DateTime<Utc>>,
}

impl UpstreamPulp {
    /// A new upstream named `name` at `base_url`, with Pulp's defaults.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        let now = Utc::now();
        Self {
            pulp_id: PulpId::new(),
            pulp_created: now,
            pulp_last_updated: now,
            name: name.into(),
            base_url: base_url.into(),
            api_root: "pulp".into(),
            domain: None,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            tls_validation: true,
            username: None,
            password: None,
            download_concurrency: None,
            max_retries: None,
            total_timeout: None,
            connect_timeout: None,
            sock_connect_timeout: None,
            sock_read_timeout: None,
            remote_policy: None,
            q_select: None,
            policy: Policy::All,
            last_replication: None,
        }
    }

    /// Its href.
    pub fn href(&self) -> String {
        href(self.pulp_id)
    }
}

/// The href of upstream Pulp `id`.
pub fn href(id: PulpId) -> String {
    format!("{}/upstream-pulps/{id}/", crate::wire::API_ROOT)
}

const COLUMNS: &str =
    "pulp_id, pulp_created, pulp_last_updated, name, base_url, api_root, domain, \
    ca_cert, client_cert, client_key, tls_validation, username, password, download_concurrency, \
    max_retries, total_timeout, connect_timeout, sock_connect_timeout, sock_read_timeout, \
    remote_policy, q_select, policy, last_replication";

#[derive(sqlx::FromRow)]
struct Row {
    pulp_id: PulpId,
    pulp_created: DateTime<Utc>,
    pulp_last_updated: DateTime<Utc>,
    name: String,
    base_url: String,
    api_root: String,
    domain: Option<String>,
    ca_cert: Option<String>,
    client_cert: Option<String>,
    client_key: Option<String>,
    tls_validation: bool,
    username: Option<String>,
    password: Option<String>,
    download_concurrency: Option<i64>,
    max_retries: Option<i64>,
    total_timeout: Option<f64>,
    connect_timeout: Option<f64>,
    sock_connect_timeout: Option<f64>,
    sock_read_timeout: Option<f64>,
    remote_policy: Option<String>,
    q_select: Option<String>,
    policy: String,
    last_replication: Option<DateTime<Utc>>,
}

impl From<Row> for UpstreamPulp {
    fn from(r: Row) -> Self {
        UpstreamPulp {
            pulp_id: r.pulp_id,
            pulp_created: r.pulp_created,
            pulp_last_updated: r.pulp_last_updated,
            name: r.name,
            base_url: r.base_url,
            api_root: r.api_root,
            domain: r.domain,
            ca_cert: r.ca_cert,
            client_cert: r.client_cert,
            client_key: r.client_key,
            tls_validation: r.tls_validation,
            username: r.username,
            password: r.password,
            download_concurrency: r.download_concurrency,
            max_retries: r.max_retries,
            total_timeout: r.total_timeout,
            connect_timeout: r.connect_timeout,
            sock_connect_timeout: r.sock_connect_timeout,
            sock_read_timeout: r.sock_read_timeout,
            remote_policy: r.remote_policy,
            q_select: r.q_select,
            // Only the three names are ever written.
            policy: Policy::parse(&r.policy).unwrap_or(Policy::All),
            last_replication: r.last_replication,
        }
    }
}

/// Whether `e` says the name is taken.
pub fn is_name_taken(e: &ReplicationError) -> bool {
    matches!(e, ReplicationError::Database(crate::db::DbError::Sqlx(sqlx::Error::Database(d))) if d.is_unique_violation())
}

/// Stores a new upstream or replaces one (same id).
pub async fn save(db: &Database, u: &UpstreamPulp) -> Result<(), ReplicationError> {
    let sql = format!(
        "INSERT INTO core_upstreampulp ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
         ON CONFLICT (pulp_id) DO UPDATE SET pulp_last_updated = excluded.pulp_last_updated, \
         name = excluded.name, base_url = excluded.base_url, api_root = excluded.api_root, \
         domain = excluded.domain, ca_cert = excluded.ca_cert, client_cert = excluded.client_cert, \
         client_key = excluded.client_key, tls_validation = excluded.tls_validation, \
         username = excluded.username, password = excluded.password, \
         download_concurrency = excluded.download_concurrency, max_retries = excluded.max_retries, \
         total_timeout = excluded.total_timeout, connect_timeout = excluded.connect_timeout, \
         sock_connect_timeout = excluded.sock_connect_timeout, \
         sock_read_timeout = excluded.sock_read_timeout, remote_policy = excluded.remote_policy, \
         q_select = excluded.q_select, policy = excluded.policy"
    );
    crate::on_pool!(db, pool => {
        sqlx::query(&sql)
            .bind(u.pulp_id)
            .bind(u.pulp_created)
            .bind(u.pulp_last_updated)
            .bind(u.name.clone())
            .bind(u.base_url.clone())
            .bind(u.api_root.clone())
            .bind(u.domain.clone())
            .bind(u.ca_cert.clone())
            .bind(u.client_cert.clone())
            .bind(u.client_key.clone())
            .bind(u.tls_validation)
            .bind(u.username.clone())
            .bind(u.password.clone())
            .bind(u.download_concurrency)
            .bind(u.max_retries)
            .bind(u.total_timeout)
            .bind(u.connect_timeout)
            .bind(u.sock_connect_timeout)
            .bind(u.sock_read_timeout)
            .bind(u.remote_policy.clone())
            .bind(u.q_select.clone())
            .bind(u.policy.as_str())
            .bind(u.last_replication)
            .execute(pool)
            .await
            .map_err(crate::db::DbError::from)?;
    });
    Ok(())
}

/// The upstreams with these ids (in no particular order).
pub async fn get_many(
    db: &Database,
    ids: &[PulpId],
) -> Result<Vec<UpstreamPulp>, ReplicationError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(u) = get(db, *id).await? {
            out.push(u);
        }
    }
    Ok(out)
}

/// The upstream with this id.
pub async fn get(db: &Database, id: PulpId) -> Result<Option<UpstreamPulp>, ReplicationError> {
    let sql = format!("SELECT {COLUMNS} FROM core_upstreampulp WHERE pulp_id = $1");
    let row: Option<Row> = crate::on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await.map_err(crate::db::DbError::from)?
    });
    Ok(row.map(UpstreamPulp::from))
}

/// Removes an upstream (the objects it replicated stay).
pub async fn delete(db: &Database, id: PulpId) -> Result<(), ReplicationError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_upstreampulp WHERE pulp_id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map_err(crate::db::DbError::from)?;
    });
    Ok(())
}

/// Records the start of a successful replication (not a change of the upstream: its
/// `pulp_last_updated` stays).
pub async fn set_last_replication(
    db: &Database,
    id: PulpId,
    at: DateTime<Utc>,
) -> Result<(), ReplicationError> {
    crate::on_pool!(db, pool => {
        sqlx::query("UPDATE core_upstreampulp SET last_replication = $2 WHERE pulp_id = $1")
            .bind(id)
            .bind(at)
            .execute(pool)
            .await
            .map_err(crate::db::DbError::from)?;
    });
    Ok(())
}
