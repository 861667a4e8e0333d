//! Waking idle workers when there is work: an in-process signal, fed on PostgreSQL by
//! `LISTEN` on the channel that dispatch and task completion `NOTIFY`.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::scheduler::CHANNEL;

/// The in-process wake-up signal of task workers.
#[derive(Debug, Clone, Default)]
pub struct Wakeup {
    notify: Arc<Notify>,
}

impl Wakeup {
    /// Wakes every waiting worker of this process.
    pub fn notify(&self) {
        self.notify.notify_waiters();
    }

    /// A future that completes at the next [`Wakeup::notify`].
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }
}

/// Forwards PostgreSQL notifications to `wakeup` until `stop`.
pub(crate) async fn listen_postgres(pool: PgPool, wakeup: Wakeup, stop: CancellationToken) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for tasks; polling meanwhile");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot LISTEN for tasks; polling meanwhile");
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                received = listener.recv() => match received {
                    Ok(_) => wakeup.notify(),
                    Err(e) => {
                        tracing::warn!(error = %e, "task notifications interrupted; reconnecting");
                        wakeup.notify();
                        break;
                    }
                }
            }
        }
    }
}
