//! Webhooks (a pulp-rs extension): operators subscribe URLs to events; deliveries are
//! signed with HMAC-SHA256, retried with exponential backoff and recorded.
//!
//! Events are written to an outbox (`core_webhookdelivery`) right after the end of the task
//! that caused them is recorded; the task's result and its reservations are already
//! committed then, so a slow or absent receiver never holds a task up. Workers run
//! [`delivery_loop`], which claims due deliveries with a conditional `UPDATE` (one process
//! per delivery attempt) and posts them.

mod deliver;

pub use deliver::{deliver_due, delivery_loop, sign, SIGNATURE_HEADER};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::types::Json;

use crate::db::{Database, DbError, PulpId};
use crate::tasking::{Task, TaskState};

/// Events a webhook can subscribe to.
pub const EVENTS: &[&str] = &[
    "task.completed",
    "task.failed",
    "task.canceled",
    "repository_version.created",
    "publication.created",
    "distribution.changed",
];

/// Why a webhook operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// A task named by an event is gone.
    #[error(transparent)]
    Tasking(#[from] crate::tasking::TaskingError),
}

impl From<sqlx::Error> for WebhookError {
    fn from(e: sqlx::Error) -> Self {
        WebhookError::Database(e.into())
    }
}

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Webhook {
    /// Its id.
    pub pulp_id: PulpId,
    /// Creation time.
    pub pulp_created: DateTime<Utc>,
    /// Last change.
    pub pulp_last_updated: DateTime<Utc>,
    /// Unique name.
    pub name: String,
    /// Where deliveries are posted.
    pub url: String,
    /// The HMAC key (never shown by the API).
    pub secret: String,
    /// Subscribed events.
    pub events: Json<Vec<String>>,
    /// `{"task_names": [..], "resources": [href prefix, ..]}`, each optional.
    pub filters: Json<Value>,
    /// Deliveries are made only while enabled.
    pub enabled: bool,
}

/// Columns of a [`Webhook`].
pub const WEBHOOK_COLUMNS: &str =
    "pulp_id, pulp_created, pulp_last_updated, name, url, secret, events, filters, enabled";

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Delivery {
    /// Its id (sent as `Pulp-Webhook-Id`).
    pub pulp_id: PulpId,
    /// When the event happened.
    pub pulp_created: DateTime<Utc>,
    /// The webhook.
    pub webhook: PulpId,
    /// The event name.
    pub event: String,
    /// The JSON body posted.
    pub payload: Json<Value>,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (pending ones).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// HTTP status of the last attempt (none if it got no answer).
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Columns of a [`Delivery`].
pub const DELIVERY_COLUMNS: &str =
    "pulp_id, pulp_created, webhook, event, payload, state, attempts, \
    next_attempt_at, last_status, last_error, last_attempt_at, delivered_at";

/// One event: its name, its data, and the hrefs filters match against.
struct Event {
    name: &'static str,
    data: Value,
    hrefs: Vec<String>,
}

const GENERAL_UPDATE: &str = "pulpcore.app.tasks.base.general_update";
const GENERAL_DELETE: &str = "pulpcore.app.tasks.base.general_delete";

fn is_distribution(href: &str) -> bool {
    href.contains("/distributions/")
}

/// The events of an ended task.
fn events_of(task: &Task) -> Vec<Event> {
    let task_href = format!("{}/tasks/{}/", crate::wire::API_ROOT, task.pulp_id);
    let reserved: Vec<String> = task
        .reserved_resources_record
        .iter()
        .map(|r| r.strip_prefix("shared:").unwrap_or(r).to_string())
        .collect();
    let mut hrefs: Vec<String> = reserved.clone();
    hrefs.extend(task.created_resources.iter().cloned());
    let summary = json!({
        "pulp_href": task_href,
        "name": task.name,
        "state": task.state.as_str(),
        "logging_cid": task.logging_cid,
        "started_at": task.started_at.map(|t| crate::wire::timestamp::format(&t)),
        "finished_at": task.finished_at.map(|t| crate::wire::timestamp::format(&t)),
        "error": task.error,
        "created_resources": task.created_resources,
        "reserved_resources_record": task.reserved_resources_record,
    });
    let name = match task.state {
        TaskState::Completed => "task.completed",
        TaskState::Failed => "task.failed",
        TaskState::Canceled => "task.canceled",
        _ => return Vec::new(),
    };
    let mut events = vec![Event {
        name,
        data: json!({ "task": summary }),
        hrefs: hrefs.clone(),
    }];
    if task.state != TaskState::Completed {
        return events;
    }
    for href in &task.created_resources {
        let (name, key) = if href.contains("/versions/") {
            ("repository_version.created", "repository_version")
        } else if href.contains("/publications/") {
            ("publication.created", "publication")
        } else if is_distribution(href) {
            ("distribution.changed", "distribution")
        } else {
            continue;
        };
        let mut data = json!({ key: href, "task": task_href });
        if name == "distribution.changed" {
            data["action"] = json!("created");
        }
        let mut own = vec![href.clone()];
        own.extend(reserved.iter().cloned());
        events.push(Event {
            name,
            data,
            hrefs: own,
        });
    }
    let action = match task.name.as_str() {
        GENERAL_UPDATE => Some("updated"),
        GENERAL_DELETE => Some("deleted"),
        _ => None,
    };
    if let Some(action) = action {
        for href in reserved.iter().filter(|h| is_distribution(h)) {
            events.push(Event {
                name: "distribution.changed",
                data: json!({ "distribution": href, "action": action, "task": task_href }),
                hrefs: vec![href.clone()],
            });
        }
    }
    events
}

/// Does `hook` want `event` (`task_name`: the task that caused it)?
fn wants(hook: &Webhook, event: &Event, task_name: &str) -> bool {
    if !hook.events.0.iter().any(|e| e == event.name) {
        return false;
    }
    let list = |key: &str| -> Option<Vec<String>> {
        hook.filters.0.get(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
    };
    if let Some(names) = list("task_names") {
        if !names.iter().any(|n| n == task_name) {
            return false;
        }
    }
    if let Some(prefixes) = list("resources") {
        if !prefixes
            .iter()
            .any(|p| event.hrefs.iter().any(|h| h.starts_with(p.as_str())))
        {
            return false;
        }
    }
    true
}

/// The enabled webhooks.
async fn enabled_webhooks(db: &Database) -> Result<Vec<Webhook>, WebhookError> {
    Ok(crate::on_pool!(db, pool => {
        sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM core_webhook WHERE enabled = $1"))
            .bind(true)
            .fetch_all(pool)
            .await?
    }))
}

/// Writes the deliveries the end of task `id` causes into the outbox; returns how many.
/// Called after the task's end is recorded: one indexed query when nobody subscribed.
pub async fn task_ended(db: &Database, id: PulpId) -> Result<usize, WebhookError> {
    let hooks = enabled_webhooks(db).await?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let task = Task::get(db, id).await?;
    let now = Utc::now();
    let mut written = 0;
    for event in events_of(&task) {
        for hook in hooks.iter().filter(|h| wants(h, &event, &task.name)) {
            let delivery = PulpId::new();
            let payload = json!({
                "id": delivery.to_string(),
                "event": event.name,
                "created": crate::wire::timestamp::format(&now),
                "webhook": hook.name,
                "data": event.data,
            });
            crate::on_pool!(db, pool => {
                sqlx::query(
                    "INSERT INTO core_webhookdelivery (pulp_id, pulp_created, webhook, event, payload, state, next_attempt_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', $2)",
                )
                .bind(delivery)
                .bind(now)
                .bind(hook.pulp_id)
                .bind(event.name)
                .bind(Json(&payload))
                .execute(pool)
                .await?;
            });
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(events: &[&str], filters: Value) -> Webhook {
        Webhook {
            pulp_id: PulpId::new(),
            pulp_created: Utc::now(),
            pulp_last_updated: Utc::now(),
            name: "h".into(),
            url: "http://127.0.0.1:1/".into(),
            secret: "s".into(),
            events: Json(events.iter().map(|e| e.to_string()).collect()),
            filters: Json(filters),
            enabled: true,
        }
    }

    #[test]
    fn filters_match_task_names_and_href_prefixes() {
        let event = Event {
            name: "repository_version.created",
            data: Value::Null,
            hrefs: vec!["/pulp/api/v3/repositories/file/file/1/versions/2/".into()],
        };
        assert!(wants(
            &hook(&["repository_version.created"], json!({})),
            &event,
            "sync"
        ));
        assert!(!wants(
            &hook(&["task.completed"], json!({})),
            &event,
            "sync"
        ));
        let by_repo = json!({"resources": ["/pulp/api/v3/repositories/file/file/1/"]});
        assert!(wants(
            &hook(&["repository_version.created"], by_repo),
            &event,
            "sync"
        ));
        let other_repo = json!({"resources": ["/pulp/api/v3/repositories/file/file/9/"]});
        assert!(!wants(
            &hook(&["repository_version.created"], other_repo),
            &event,
            "sync"
        ));
        let names = json!({"task_names": ["other"]});
        assert!(!wants(
            &hook(&["repository_version.created"], names),
            &event,
            "sync"
        ));
    }
}
