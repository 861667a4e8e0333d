//! The REST API of an app, migrated and served on a loopback port, for tests that speak HTTP.

use crate::app::App;

/// The password [`serve_api`] gives the `admin` superuser.
pub const ADMIN_PASSWORD: &str = "password";

/// A REST API being served; serving stops when this is dropped.
#[derive(Debug)]
pub struct ServedApi {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl ServedApi {
    /// The absolute URL of `path` (an absolute URL is returned as it is).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }
}

/// Migrates `app`, makes `admin` a superuser with [`ADMIN_PASSWORD`] and serves its REST API
/// on a free loopback port.
///
/// # Panics
/// When the database or the port cannot be set up (a test cannot go on then).
pub async fn serve_api(app: &App) -> ServedApi {
    app.migrate().await.expect("migrate");
    crate::auth::Users::new(app.db())
        .set_password("admin", ADMIN_PASSWORD, true)
        .await
        .expect("admin user");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = crate::api::observed(crate::api::api_router(app.clone()), "api", app);
    tokio::spawn(async move {
        let _ = crate::api::serve(listener, router, async {
            let _ = stopped.await;
        })
        .await;
    });
    ServedApi { base, _stop: stop }
}
