//! Operations endpoints: liveness, readiness (projections caught up) and Prometheus metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// Routes for operators.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let view = state.service.view();
    let body = serde_json::json!({
        "ready": view.is_ready(),
        "position": view.position(),
        "store": state.service.store().backend_name(),
        "policy_version": state.service.policy().current().version(),
    });
    let status = if view.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Some(l) = state.service.limits() {
        l.record_metrics();
    }
    metrics::gauge!("saring_thread_cache_pages").set(state.threads.len() as f64);
    metrics::gauge!("saring_thread_cache_bytes").set(state.threads.bytes() as f64);
    let (comments, threads, authors) = state
        .service
        .view()
        .read(|p| (p.comments.len(), p.threads.len(), p.authors.len()));
    metrics::gauge!("saring_comments").set(comments as f64);
    metrics::gauge!("saring_threads").set(threads as f64);
    metrics::gauge!("saring_author_history_keys").set(authors as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
