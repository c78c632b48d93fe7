//! Any request body on any endpoint that takes one, through the real router (the JSON and form
//! extractors, then the handlers and their input rules) must be answered with a 4xx or a success,
//! never a panic or a 5xx, and every refusal under `/api/` must be a JSON error body.
//! Run from the repository root: `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none http_bodies`.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, header};
use libfuzzer_sys::fuzz_target;
use saring::app::Application;
use saring::config::{Settings, parse_moderator_tokens};
use tower::ServiceExt;

const TOKEN: &str = "fuzz-moderator-token-0123456789";

/// The endpoints that read a body, with whether they need the moderator's bearer token.
const ENDPOINTS: &[(&str, bool)] = &[
    ("/api/v1/threads/berita-1/comments", false),
    ("/comments", false),
    (
        "/api/v1/comments/00000000-0000-4000-8000-000000000001/flag",
        false,
    ),
    ("/api/v1/reader-token", false),
    (
        "/api/v1/mod/comments/00000000-0000-4000-8000-000000000001/decision",
        true,
    ),
    ("/api/v1/mod/bulk", true),
    ("/api/v1/mod/bans", true),
    ("/api/v1/mod/threads/berita-1/close", true),
    ("/api/v1/mod/threads/berita-1/premoderation", true),
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "text/plain",
    "multipart/form-data; boundary=x",
];

struct World {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _data: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let data = tempfile::tempdir().expect("a temporary folder");
        let mut settings = Settings::for_data_dir(data.path());
        settings.policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        settings.moderator_tokens =
            parse_moderator_tokens(&format!("fuzz:{TOKEN}")).expect("a token list");
        // Refusals by rate limit would hide the handlers behind a 429 after a few inputs.
        settings.limits = None;
        let app = runtime
            .block_on(Application::build(settings))
            .expect("the application builds");
        // Its follower runs on this runtime, so only while it is driven: catch up first.
        runtime.block_on(app.caught_up());
        World {
            router: app.router(),
            runtime,
            _data: data,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let [endpoint, content_type, rest @ ..] = data else {
        return;
    };
    let (path, moderator) = ENDPOINTS[usize::from(*endpoint) % ENDPOINTS.len()];
    let content_type = CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()];
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type);
    if moderator {
        request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let request = request
        .body(Body::from(rest.to_vec()))
        .expect("a valid request");
    let world = world();
    let (status, body_type, body) = world.runtime.block_on(async {
        let response = world
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let body_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("the body is read");
        (status, body_type, body)
    });
    assert!(
        !status.is_server_error(),
        "{path} answered {status} to {} bytes of {content_type}",
        rest.len()
    );
    if status.is_client_error() && path.starts_with("/api/") {
        assert!(
            body_type.starts_with("application/json")
                && serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
            "{path} refused with a non-JSON body ({body_type})"
        );
    }
});
