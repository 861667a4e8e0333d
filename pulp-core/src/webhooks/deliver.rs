//! Posting deliveries: claim, sign, post, record; retries with exponential backoff.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{WebhookError, DELIVERY_COLUMNS};
use crate::app::App;
use crate::db::PulpId;

/// The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "Pulp-Webhook-Signature";

/// How many deliveries one pass posts at once.
const PARALLEL: usize = 8;

/// The signature header's value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .user_agent(concat!("pulp-rs/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

#[derive(sqlx::FromRow)]
struct Due {
    #[sqlx(flatten)]
    delivery: super::Delivery,
    claim: i64,
    url: String,
    secret: String,
}

/// The wait before retry number `attempts` (1-based): `retry_delay·2^(attempts-1)`, capped.
fn backoff(settings: &crate::settings::WebhookSettings, attempts: i64) -> Duration {
    let exponent = (attempts - 1).clamp(0, 30) as i32;
    let seconds = (settings.retry_delay * 2f64.powi(exponent)).min(settings.max_retry_delay);
    Duration::from_secs_f64(seconds.max(0.0))
}

/// Posts every due delivery this process claims; returns how many it attempted.
pub async fn deliver_due(app: &App) -> Result<usize, WebhookError> {
    let db = app.db();
    let now = Utc::now();
    let settings = app.settings().webhooks.clone();
    let timeout = Duration::from_secs_f64(settings.timeout);
    let columns = DELIVERY_COLUMNS
        .split(", ")
        .map(|c| format!("d.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let due: Vec<Due> = crate::on_pool!(db, pool => {
        sqlx::query_as(&format!(
            "SELECT {columns}, d.claim, w.url, w.secret FROM core_webhookdelivery d
             JOIN core_webhook w ON w.pulp_id = d.webhook
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND w.enabled = $2
               AND (d.claimed_until IS NULL OR d.claimed_until < $1)
             ORDER BY d.next_attempt_at LIMIT 64"
        ))
        .bind(now)
        .bind(true)
        .fetch_all(pool)
        .await?
    });
    // Claimed for longer than an attempt can take; a process dying mid-attempt leaves the
    // delivery to be retried once the claim expires.
    let until = now
        + chrono::Duration::from_std(timeout * 2 + Duration::from_secs(30))
            .unwrap_or(chrono::Duration::MAX);
    let mut claimed = Vec::new();
    for due in due {
        let won = crate::on_pool!(db, pool => {
            sqlx::query(
                "UPDATE core_webhookdelivery SET claim = claim + 1, claimed_until = $1
                 WHERE pulp_id = $2 AND claim = $3 AND state = 'pending'",
            )
            .bind(until)
            .bind(due.delivery.pulp_id)
            .bind(due.claim)
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1;
        if won {
            claimed.push(due);
        }
    }
    let attempted = claimed.len();
    let results: Vec<Result<(), WebhookError>> = futures::stream::iter(claimed)
        .map(|due| attempt(app, &settings, timeout, due))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    for result in results {
        result?;
    }
    Ok(attempted)
}

/// One attempt at one claimed delivery, recorded.
async fn attempt(
    app: &App,
    settings: &crate::settings::WebhookSettings,
    timeout: Duration,
    due: Due,
) -> Result<(), WebhookError> {
    let delivery = due.delivery;
    let body = serde_json::to_vec(&delivery.payload.0).unwrap_or_default();
    let sent = Utc::now();
    let signature = sign(&due.secret, sent.timestamp(), &body);
    let response = client()
        .post(&due.url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header("Pulp-Webhook-Event", &delivery.event)
        .header("Pulp-Webhook-Id", delivery.pulp_id.to_string())
        .body(body)
        .send()
        .await;
    let (status, error) = match response {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16() as i64), None),
        Ok(r) => (
            Some(r.status().as_u16() as i64),
            Some(format!("the receiver answered {}", r.status())),
        ),
        Err(e) => (None, Some(describe(&e))),
    };
    let attempts = delivery.attempts + 1;
    let (state, next, delivered): (&str, Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        match &error {
            None => ("delivered", None, Some(Utc::now())),
            Some(_) if attempts >= i64::from(settings.max_attempts) => ("failed", None, None),
            Some(_) => {
                let wait = chrono::Duration::from_std(backoff(settings, attempts))
                    .unwrap_or(chrono::Duration::MAX);
                ("pending", Some(Utc::now() + wait), None)
            }
        };
    if let Some(error) = &error {
        tracing::warn!(delivery = %delivery.pulp_id, url = %due.url, attempts, %error, "a webhook delivery failed");
    }
    record(
        app,
        delivery.pulp_id,
        state,
        attempts,
        next,
        status,
        error,
        sent,
        delivered,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn record(
    app: &App,
    id: PulpId,
    state: &str,
    attempts: i64,
    next: Option<DateTime<Utc>>,
    status: Option<i64>,
    error: Option<String>,
    sent: DateTime<Utc>,
    delivered: Option<DateTime<Utc>>,
) -> Result<(), WebhookError> {
    crate::on_pool!(app.db(), pool => {
        sqlx::query(
            "UPDATE core_webhookdelivery SET state = $1, attempts = $2, next_attempt_at = $3,
                 last_status = $4, last_error = $5, last_attempt_at = $6, delivered_at = $7,
                 claimed_until = NULL
             WHERE pulp_id = $8",
        )
        .bind(state)
        .bind(attempts)
        .bind(next)
        .bind(status)
        .bind(error)
        .bind(sent)
        .bind(delivered)
        .bind(id)
        .execute(pool)
        .await?;
    });
    Ok(())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".into()
    } else if e.is_connect() {
        "could not connect to the receiver".into()
    } else {
        format!("the request failed: {e}")
    }
}

/// Delivers due webhooks every `period` until `stop` (run by every worker).
pub async fn delivery_loop(app: App, period: Duration, stop: tokio_util::sync::CancellationToken) {
    loop {
        if let Err(e) = deliver_due(&app).await {
            tracing::warn!(error = %e, "delivering webhooks failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently over the documented input "<t>.<body>".
        let header = sign("key", 1, b"body");
        let (t, v1) = header.split_once(',').expect("two parts");
        assert_eq!(t, "t=1");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"key").expect("key");
        mac.update(b"1.body");
        assert_eq!(
            v1,
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_ne!(sign("other", 1, b"body"), header);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = crate::settings::WebhookSettings {
            retry_delay: 1.0,
            max_retry_delay: 5.0,
            ..Default::default()
        };
        assert_eq!(backoff(&s, 1), Duration::from_secs(1));
        assert_eq!(backoff(&s, 2), Duration::from_secs(2));
        assert_eq!(backoff(&s, 3), Duration::from_secs(4));
        assert_eq!(backoff(&s, 4), Duration::from_secs(5));
    }
}
