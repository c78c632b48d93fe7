//! Operations endpoints: liveness, readiness (projections caught up) and Prometheus metrics.
//! The server answers both from its start; `/readyz` says 503 while the follower catches up
//! with what the log gained while it was stopped.
//!
//! `/healthz` and readiness status are public, for load balancers; `/metrics` and the log
//! position in `/readyz` need a moderator token (Prometheus sends it with `authorization:
//! credentials_file`), because hidden-comment counts and failed logins are not the public's.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::ApiError;
use super::extract::Moderator;

/// Routes for operators.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready: the projections caught up with the log since start; `position` for a moderator", body = crate::http::openapi::Ready),
        (status = 503, description = "Not ready yet: the follower is still catching up with the log (the server already serves what it folded); `position` for a moderator shows its progress", body = crate::http::openapi::Ready)))]
async fn readyz(State(state): State<AppState>, moderator: Result<Moderator, ApiError>) -> Response {
    let view = state.service.view();
    // How far the log has grown tells an outsider how busy (and how moderated) the site is.
    let moderator = moderator.is_ok();
    // Read before the head, so a moderator never sees the position ahead of it.
    let position = moderator.then(|| view.position());
    let head = if moderator {
        // Readiness must answer even when the store does not: a load balancer asks it.
        match state.service.store().head_position().await {
            Ok(head) => head,
            Err(e) => {
                tracing::warn!(error = %e, "readyz: the log's head could not be read");
                None
            }
        }
    } else {
        None
    };
    let body = super::moderation_bodies::Ready {
        ready: view.is_ready(),
        store: state.service.store().backend_name(),
        policy_version: state.service.policy().current().version().to_string(),
        position,
        head,
    };
    let status = if view.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(("moderator" = [])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn metrics(State(state): State<AppState>, _: Moderator) -> Response {
    if let Some(l) = state.service.limits() {
        l.record_metrics();
    }
    metrics::gauge!("saring_thread_cache_pages").set(state.threads.len() as f64);
    metrics::gauge!("saring_thread_cache_bytes").set(state.threads.bytes() as f64);
    // A failed read leaves the gauges at their last values (and is counted in
    // `saring_projection_read_errors_total`); the other metrics are still worth answering.
    if let Ok((comments, threads, authors)) = state.service.view().query(|p| p.sizes()).await {
        metrics::gauge!("saring_comments").set(comments as f64);
        metrics::gauge!("saring_threads").set(threads as f64);
        metrics::gauge!("saring_author_history_keys").set(authors as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
