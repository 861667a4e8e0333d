//! The request-rate limiter of a remote (`rate_limit` requests per second).

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces requests at least `1 / rate` seconds apart.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter of `per_second` requests per second; `None` when unlimited (0 or unset).
    pub(crate) fn new(per_second: Option<i64>) -> Option<Self> {
        let rate = per_second.filter(|r| *r > 0)?;
        Some(Self {
            interval: Duration::from_secs_f64(1.0 / rate as f64),
            next: Mutex::new(Instant::now()),
        })
    }

    /// Waits for the next free slot.
    pub(crate) async fn acquire(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}
