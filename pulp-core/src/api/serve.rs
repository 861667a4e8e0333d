//! Serving a router until shutdown is requested.

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

/// Serves `router` on `listener` until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The router's handlers get their state here, once; each connection then takes a clone of
    // it (an `Arc`). Served as a plain `Router`, axum re-applies the state on every new
    // connection, which rebuilds the routing tables of every route: most of the server's
    // work for a short request on a connection of its own, as curl and pulp-cli make.
    axum::serve(listener, router.with_state(()).into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
}
