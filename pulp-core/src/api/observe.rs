//! The middleware every listener runs: correlation id, request span, access log line and
//! request metrics; and the `/metrics` route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tracing::Instrument;

use crate::app::App;
use crate::observe::correlation::{self, with_correlation_id, CORRELATION_ID_HEADER};
use crate::observe::metrics::{install_recorder, names, render};

/// `router` with `/metrics` added (when the `metrics.enabled` setting is on) and every request
/// observed: its correlation id accepted or made and returned, a span carrying it around the
/// handler, an access log line (target `pulp::access`) and the request metrics, labelled
/// with `listener`.
pub fn observed(router: Router, listener: &'static str, app: &App) -> Router {
    let router = match app.settings().metrics.enabled {
        true => router.merge(metrics_router(app)),
        false => router,
    };
    router.layer(axum::middleware::from_fn(move |request, next| {
        observe(listener, request, next)
    }))
}

/// Only `/metrics` (a worker's listener, or to merge into another router).
pub fn metrics_router(app: &App) -> Router {
    install_recorder();
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(app.clone())
}

async fn scrape(State(app): State<App>) -> Response {
    match install_recorder() {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            render(&app, handle).await,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn observe(listener: &'static str, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let cid = request
        .headers()
        .get(CORRELATION_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(correlation::accept)
        .unwrap_or_else(correlation::generate);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("fallback", |p| p.as_str())
        .to_string();
    let method = method_label(request.method());
    let path = request.uri().path().to_string();
    let span = tracing::info_span!("request", cid = %cid);
    let mut response = with_correlation_id(cid.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    if let Ok(value) = HeaderValue::from_str(&cid) {
        response.headers_mut().insert(CORRELATION_ID_HEADER, value);
    }
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let labels = [
        ("listener", listener.to_string()),
        ("route", route),
        ("method", method.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!(names::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(names::HTTP_DURATION, &labels).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: "pulp::access",
            method,
            path,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "{listener}"
        )
    });
    response
}

/// The method as a label: the standard ones, else `other` (a label per made-up method
/// would let any client grow the metrics without bound).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
