//! Running the process roles (API, content app, worker) until a shutdown signal.

use std::time::Duration;

use pulp_core::api::observed;
use pulp_core::auth::{random_password, AuthError, Users};
use pulp_core::settings::SettingError;
use pulp_core::status::{AppType, Heartbeat};
use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_core::{App, AppError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Building the app failed (settings, database, storage).
    #[error(transparent)]
    App(#[from] AppError),
    /// A user operation failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A listener could not be opened, or serving failed.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The database failed while running.
    #[error(transparent)]
    Database(#[from] pulp_core::db::DbError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
    /// The worker failed.
    #[error(transparent)]
    Tasking(#[from] pulp_core::tasking::TaskingError),
    /// The database lacks a migration this build needs.
    #[error("the database lacks migration {first}{}: run `pulp-server migrate` first", if *more > 0 { format!(" (and {more} more)") } else { String::new() })]
    Unmigrated {
        /// The first pending migration, as `app.name`.
        first: String,
        /// How many more are pending.
        more: usize,
    },
    /// A command was given arguments it cannot use.
    #[error("{0}")]
    Usage(String),
}

/// Which roles this process plays.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    api: bool,
    content: bool,
    worker: bool,
    burst: bool,
    /// Apply pending migrations first (only the all-in-one `serve`); the other roles refuse
    /// to start while one is pending, so that an upgrade's schema changes are applied once,
    /// by `pulp-server migrate`, while older processes keep running.
    migrate: bool,
}

impl Roles {
    pub fn all() -> Self {
        Self {
            api: true,
            content: true,
            worker: true,
            burst: false,
            migrate: true,
        }
    }
    pub fn api() -> Self {
        Self {
            api: true,
            content: false,
            worker: false,
            burst: false,
            migrate: false,
        }
    }
    pub fn content() -> Self {
        Self {
            api: false,
            content: true,
            worker: false,
            burst: false,
            migrate: false,
        }
    }
    pub fn worker(burst: bool) -> Self {
        Self {
            api: false,
            content: false,
            worker: true,
            burst,
            migrate: false,
        }
    }
}

/// Migrates, opens the listeners, registers heartbeats and serves until SIGINT/SIGTERM
/// (or, for a burst worker, until the queue is empty).
pub async fn run_roles(app: App, roles: Roles) -> Result<(), ServerError> {
    // Before anything is recorded: metrics recorded earlier would be lost.
    if app.settings().metrics.enabled {
        pulp_core::observe::install_recorder();
    }
    if roles.migrate {
        app.migrate().await?;
    } else {
        let pending = app.db().pending_migrations(&app.migrations()).await?;
        if let Some(first) = pending.first() {
            return Err(ServerError::Unmigrated {
                first: first.clone(),
                more: pending.len() - 1,
            });
        }
    }
    let swept = app.storage().sweep_staging(Duration::from_secs(24 * 3600));
    if swept > 0 {
        tracing::info!(swept, "removed staging files left by interrupted writes");
    }
    if roles.api {
        ensure_admin(&app).await?;
    }
    let api_listener = match roles.api {
        true => Some(listen("api_bind", app.settings().api_socket()?).await?),
        false => None,
    };
    let content_listener = match roles.content {
        true => Some(listen("content_bind", app.settings().content_socket()?).await?),
        false => None,
    };
    // A process without an HTTP listener of its own serves `/metrics` on a port of its own.
    let metrics_listener = match (
        &app.settings().metrics.worker_bind,
        roles.api || roles.content,
    ) {
        (Some(bind), false) if app.settings().metrics.enabled => {
            let address = app.settings().metrics_worker_socket(bind)?;
            Some(listen("metrics.worker_bind", address).await?)
        }
        _ => None,
    };

    if roles.worker || roles.content {
        // Workers download in syncs, content apps on on-demand fetches: their first client
        // finds the TLS state ready.
        pulp_core::download::warm_up();
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));

    // The worker registers its own heartbeat.
    let name = app.process_name().to_string();
    let mut heartbeats = Vec::new();
    for (enabled, kind) in [(roles.api, AppType::Api), (roles.content, AppType::Content)] {
        if enabled {
            heartbeats.push(
                Heartbeat::register(app.db(), kind, name.clone(), app.component_versions()).await?,
            );
        }
    }
    let beating = tokio::spawn(beat_until(
        heartbeats.clone(),
        app.settings().worker_ttl,
        shutdown.clone(),
    ));

    // The worker goes online before the API answers: its first status lists the worker.
    let online_worker = match roles.worker {
        true => {
            let options = WorkerOptions {
                burst: roles.burst,
                ..WorkerOptions::default()
            };
            let runner = Worker::new(app.clone(), options);
            tracing::info!(name = %runner.name(), burst = roles.burst, "worker online");
            Some(runner.online().await?)
        }
        false => None,
    };

    let mut servers = tokio::task::JoinSet::new();
    if let Some(listener) = api_listener {
        tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "REST API listening");
        let router = observed(pulp_core::api::api_router(app.clone()), "api", &app);
        let stop = shutdown.clone();
        servers.spawn(async move {
            pulp_core::api::serve(listener, router, stop.cancelled_owned()).await
        });
    }
    if let Some(listener) = content_listener {
        tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "content app listening");
        let router = observed(
            pulp_core::content_app::content_router(app.clone()),
            "content",
            &app,
        );
        let stop = shutdown.clone();
        servers.spawn(async move {
            pulp_core::api::serve(listener, router, stop.cancelled_owned()).await
        });
    }
    if let Some(listener) = metrics_listener {
        tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "metrics listening");
        // `observed` adds `/metrics` to the empty router.
        let router = observed(pulp_core::deps::axum::Router::new(), "metrics", &app);
        let stop = shutdown.clone();
        servers.spawn(async move {
            pulp_core::api::serve(listener, router, stop.cancelled_owned()).await
        });
    }
    let worker = online_worker.map(|runner| {
        let stop = shutdown.clone();
        tokio::spawn(async move { runner.run(stop).await })
    });
    let mut result = Ok(());
    if let Some(worker) = worker {
        match worker.await {
            Ok(Ok(ran)) => tracing::info!(tasks = ran, "worker stopped"),
            Ok(Err(e)) => result = Err(ServerError::Tasking(e)),
            Err(e) => tracing::error!(error = %e, "the worker panicked"),
        }
        if roles.burst {
            shutdown.cancel();
        }
    }
    while let Some(joined) = servers.join_next().await {
        if let Ok(Err(e)) = joined {
            result = Err(ServerError::Serve(e));
            shutdown.cancel();
        }
    }
    shutdown.cancel();
    let _ = beating.await;
    for heartbeat in &heartbeats {
        if let Err(e) = heartbeat.unregister().await {
            tracing::warn!(error = %e, "could not remove the heartbeat record");
        }
    }
    tracing::info!("stopped");
    result
}

async fn listen(key: &str, address: std::net::SocketAddr) -> Result<TcpListener, SettingError> {
    TcpListener::bind(address)
        .await
        .map_err(|e| SettingError::new(key, format!("cannot listen on {address}: {e}")))
}

/// Creates the `admin` user on first start: with `ADMIN_PASSWORD` if set, else with a
/// random password printed once.
async fn ensure_admin(app: &App) -> Result<(), ServerError> {
    let users = Users::new(app.db());
    if users.exists("admin").await? {
        return Ok(());
    }
    match &app.settings().admin_password {
        Some(password) => {
            users.set_password("admin", password, true).await?;
            tracing::info!(
                "created user 'admin' with the password from the admin_password setting"
            );
        }
        None => {
            let password = random_password();
            users.set_password("admin", &password, true).await?;
            println!("Created user 'admin' with password: {password}");
            println!("(change it with: pulp-server reset-admin-password --password NEW)");
        }
    }
    Ok(())
}

async fn beat_until(heartbeats: Vec<Heartbeat>, ttl: u64, stop: CancellationToken) {
    let period = Duration::from_secs_f64((ttl as f64 / 3.0).max(1.0));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        for heartbeat in &heartbeats {
            if let Err(e) = heartbeat.beat().await {
                tracing::warn!(error = %e, name = heartbeat.name(), "heartbeat failed");
            }
        }
    }
}

async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
        _ = shutdown.cancelled() => return,
    }
    tracing::info!("shutdown requested");
    shutdown.cancel();
}
