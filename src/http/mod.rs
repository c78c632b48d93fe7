//! The HTTP surface: one module per area, each with a `router()`, merged here.
//!
//! Handlers translate requests into service calls and results into responses; no business rule
//! lives here.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use ipnet::IpNet;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::ModeratorAuth;
use crate::service::Service;

pub mod embed_html;
pub mod error;
pub mod extract;
pub mod form;
pub mod lang;
pub mod messages;
pub mod moderation;
pub mod moderation_bodies;
pub mod openapi;
pub mod ops;
pub mod public;
pub mod thread_cache;

/// Largest request body accepted, as the comment service issue asks: a 5,000-character comment
/// in any script fits many times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach. One `Arc`, because axum clones the state for every request
/// and every `State` extractor: one reference count instead of one per field.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    /// Wraps the parts.
    pub fn new(parts: AppParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct AppParts {
    /// The comment service.
    pub service: Arc<Service>,
    /// Moderator tokens.
    pub auth: ModeratorAuth,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Site origins allowed by CORS and as form redirect targets.
    pub site_origins: Vec<String>,
    /// Ready-to-send thread pages.
    pub threads: thread_cache::ThreadCache,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// How long a request may take before it is answered `503`.
    pub request_timeout: std::time::Duration,
}

/// All routes with their shared layers.
pub fn router(state: AppState) -> Router {
    let cors = cors(&state.site_origins);
    let api = Router::new().merge(public::router()).layer(cors);
    Router::new()
        .merge(api)
        .merge(moderation::router())
        .merge(form::router())
        .merge(ops::router())
        .merge(openapi::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A request that takes this long is stuck (a store outage, a body that never comes);
        // free its resources. Inside `json_errors`, so the `503` gets the API's JSON body.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            state.request_timeout,
        ))
        .layer(axum::middleware::from_fn(error::refuse_declared_oversize))
        .layer(axum::middleware::from_fn(error::json_errors))
        // The span names the path, never the query string: a query may carry a reader's
        // email (`/api/v1/mod/privacy/export?email=`), which must not reach the logs.
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        version = ?req.version(),
                    )
                })
                // A 5xx the service makes is logged where it is made, with its cause (an internal
                // error as an error); this line adds the path and latency. At warn, because a
                // `/readyz` 503 while the follower catches up after a start is expected, not an
                // error an operator's alert should fire on.
                .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        )
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Arc<[HeaderValue]> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    // A predicate over a shared list rather than `AllowOrigin::list`: the layer is cloned for
    // every request, and cloning a list allocates.
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            allowed.contains(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::ACCEPT_LANGUAGE,
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(3600))
}
