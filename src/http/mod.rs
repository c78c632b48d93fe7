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
pub mod moderation;
pub mod ops;
pub mod public;
pub mod thread_cache;

/// Largest request body accepted, as the comment service issue asks: a 5,000-character comment
/// in any script fits many times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The comment service.
    pub service: Arc<Service>,
    /// Moderator tokens.
    pub auth: Arc<ModeratorAuth>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Site origins allowed by CORS and as form redirect targets.
    pub site_origins: Arc<Vec<String>>,
    /// Ready-to-send thread pages.
    pub threads: Arc<thread_cache::ThreadCache>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
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
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A request that takes this long is stuck (a store outage); free its resources.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(30),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        )
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::ACCEPT_LANGUAGE,
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(3600))
}
