//! `GET /health`, `GET /ready` and `GET /metrics`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::Caller;
use crate::routes::blocking;
use crate::server::AppState;

/// Liveness: the process answers. No authentication, no I/O.
pub async fn health() -> &'static str {
    "ok\n"
}

/// Readiness: the data directory accepts a write.
pub async fn ready(State(state): State<AppState>, _caller: Caller) -> Response {
    let store = state.store.clone();
    match blocking(move || store.check_writable()).await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "not ready: the data directory is not writable");
            (StatusCode::SERVICE_UNAVAILABLE, "storage is not writable\n").into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>, _caller: Caller) -> Response {
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
