//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and the request types' `ToSchema` derives, served at `GET /api/v1/openapi.json`.
//!
//! Every public answer is a typed body whose schema is derived from the type sent: the captcha
//! challenge, the `201` to a new comment, the thread page with its comments, counts, reports and
//! reader tokens (a test compares each schema's properties with a serialised value). The
//! moderator bodies are still assembled with `serde_json::json!` or serialised from service
//! types without a schema, so their shapes are written down here as schema types; CI runs schemathesis against a live server to check that
//! every answer matches them (`.ci/run`), and a test checks that every route in the router's
//! source is in the document. The moderation console's HTML pages (`/admin/...`) are for a
//! browser with a session, not an API, and are left out on purpose ([`NOT_DOCUMENTED`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;

/// Route prefixes of the router that the document leaves out, with the reason in the module
/// doc: the console's pages.
pub const NOT_DOCUMENTED: &[&str] = &["/admin"];

/// Every error: `{error: {code, message, fields?, retry_after?}}`, with a fresh `captcha` on
/// captcha failures and the `current` state on a stale moderator decision.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// What went wrong.
    error: ErrorDetail,
    /// A fresh challenge, on `403` captcha failures and a replayed token.
    captcha: Option<CaptchaChallenge>,
    /// The comment as it is now, on `409 stale_version`.
    #[schema(value_type = Option<Object>)]
    current: Option<serde_json::Value>,
}

/// The `error` member of [`ErrorBody`].
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// A stable snake_case code (see the README's error table).
    code: String,
    /// A sentence for people, in the request's language.
    message: String,
    /// A message per field that failed.
    fields: Option<BTreeMap<String, String>>,
    /// Seconds to wait, also sent as `Retry-After`.
    retry_after: Option<u64>,
}

/// The public answers built from typed bodies, whose schemas are derived from them.
pub use super::public::{Counts, Flagged, ReaderToken};
/// A captcha challenge (`GET /api/v1/captcha`): the schema is derived from the type sent.
pub use crate::captcha::Challenge as CaptchaChallenge;

/// The public comment, the `201` answer and the thread page: schemas derived from the types sent.
pub use crate::projections::{PublicComment, ThreadPage};
pub use crate::service::SubmitOutcome as Created;

/// A moderation queue page.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Queue {
    status: String,
    total: u64,
    /// Comments with their private fields and the version to decide on.
    #[schema(value_type = Vec<Object>)]
    items: Vec<serde_json::Value>,
    /// The cursor of the next page.
    next: Option<String>,
}

/// A spam wave (`GET /api/v1/mod/waves/{id}`, and each of the list's `waves`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WaveSummary {
    /// The id, for the bulk selector `{"wave": id}`.
    id: String,
    /// What its comments share: `{kind: text|domain|brand, value}`.
    #[schema(value_type = Vec<Object>)]
    shapes: Vec<serde_json::Value>,
    /// Its comments.
    comments: u64,
    /// Its threads.
    thread_count: u64,
    /// The first 20 thread keys.
    threads: Vec<String>,
    /// RFC 3339.
    first_seen: String,
    /// RFC 3339.
    last_seen: String,
    /// RFC 3339: when it became a wave.
    started_at: String,
    /// Waiting for a moderator.
    open: bool,
    /// New comments of its shape are held (`[waves] hold`).
    holding: bool,
    /// `{action, by, at}` once decided.
    #[schema(value_type = Option<Object>)]
    decided: Option<serde_json::Value>,
    /// Its comments by status now.
    #[schema(value_type = Object)]
    statuses: serde_json::Value,
    /// Its first three comments: `{id, thread, author_name, body_html, status}`.
    #[schema(value_type = Vec<Object>)]
    samples: Vec<serde_json::Value>,
}

/// The spam waves (`GET /api/v1/mod/waves`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WaveList {
    /// Newest first.
    waves: Vec<WaveSummary>,
    /// Whether hold mode is on.
    hold: bool,
    /// `{min_comments, min_threads, window_seconds}`.
    #[schema(value_type = Object)]
    rules: serde_json::Value,
}

/// A decision's result.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Decided {
    id: String,
    status: String,
    version: u64,
}

/// A thread's state after close or reopen.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ThreadState {
    thread: String,
    closed: bool,
}

/// The body of `POST /api/v1/mod/privacy/erase`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EraseRequest {
    /// The reader's email.
    email: String,
}

/// What an erasure did.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Erasure {
    /// Comments now shown as deleted at the author's request.
    comments: u64,
    /// Whether a key was deleted (`false`: none was left).
    key_deleted: bool,
}

/// The policy in force.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PolicyInfo {
    version: String,
    #[schema(value_type = Object)]
    summary: serde_json::Value,
    /// The last failed reload's error, if any (on `GET` only).
    last_error: Option<String>,
    /// Earlier versions (on `GET` only).
    #[schema(value_type = Option<Vec<Object>>)]
    history: Option<Vec<serde_json::Value>>,
}

/// `GET /readyz`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Ready {
    ready: bool,
    store: String,
    policy_version: String,
    /// The log position, for a moderator only.
    position: Option<u64>,
}

/// Adds the moderators' bearer scheme.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "moderator",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document's parts.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Saring",
        description = "Comment moderation and spam captcha for news sites. Every error is \
                       `{error: {code, message, fields?, retry_after?}}` in the request's \
                       language (`?lang=id|en`, else `Accept-Language`, else Indonesian)."
    ),
    paths(
        super::public::captcha,
        super::public::post_comment,
        super::public::thread,
        super::public::counts,
        super::public::flag,
        super::public::reader_token,
        super::form::widget,
        super::form::demo,
        super::form::embed,
        super::form::form_post,
        super::moderation::queue,
        super::moderation::comment,
        super::moderation::decision,
        super::moderation::close,
        super::moderation::reopen,
        super::moderation::reload_policy,
        super::moderation::policy_info,
        super::moderation::list_bans,
        super::moderation::place_ban,
        super::moderation::lift_ban,
        super::moderation::bulk,
        super::moderation::premoderation,
        super::moderation::premoderated,
        super::moderation::audit,
        super::moderation::audit_moderators,
        super::moderation::audit_rules,
        super::moderation::privacy_export,
        super::moderation::privacy_erase,
        super::moderation::waves,
        super::moderation::wave,
        super::ops::healthz,
        super::ops::readyz,
        super::ops::metrics,
        openapi_json,
    ),
    components(schemas(ErrorBody, ErrorDetail, CaptchaChallenge, PublicComment)),
    modifiers(&BearerScheme),
    tags(
        (name = "public", description = "What readers and the widget use"),
        (name = "moderator", description = "Needs `Authorization: Bearer <moderator token>`"),
        (name = "operations", description = "Health, readiness, metrics")
    )
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        DOCUMENT.as_str(),
    )
        .into_response()
}

/// The route that serves the document.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_json))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(METHOD, path)` of every `.route(...)` call in the routers' sources: a route added to
    /// the router without an annotation fails the test below.
    fn routes_in_source() -> BTreeSet<(String, String)> {
        let sources = [
            include_str!("public.rs"),
            include_str!("form.rs"),
            include_str!("moderation.rs"),
            include_str!("ops.rs"),
            include_str!("openapi.rs"),
            include_str!("../console/routes.rs"),
        ];
        let route = regex::Regex::new(
            r#"\.route\(\s*"([^"]+)",\s*((?:get|post)\([^)]*\)(?:\.(?:get|post)\([^)]*\))*)"#,
        )
        .unwrap();
        let method = regex::Regex::new(r"(get|post)\(").unwrap();
        let mut routes = BTreeSet::new();
        for source in sources {
            for c in route.captures_iter(source) {
                for m in method.captures_iter(&c[2]) {
                    routes.insert((m[1].to_uppercase(), c[1].to_string()));
                }
            }
        }
        routes
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).expect("the document is JSON");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn every_route_of_the_router_is_in_the_document_and_nothing_else() {
        let routes: BTreeSet<_> = routes_in_source()
            .into_iter()
            .filter(|(_, p)| !NOT_DOCUMENTED.iter().any(|n| p.starts_with(n)))
            .collect();
        assert!(routes.len() >= 20, "the source scan found {routes:?}");
        let documented = documented();
        let missing: Vec<_> = routes.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routes).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "not documented: {missing:?}; documented but not routed: {extra:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_operation_documents_its_errors() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{method} {path}");
                if path.starts_with("/api/") && path != "/api/v1/openapi.json" {
                    let error = &responses["default"]["content"]["application/json"]["schema"];
                    assert_eq!(
                        error["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} documents the error shape"
                    );
                }
            }
        }
        let moderator = &doc["paths"]["/api/v1/mod/queue"]["get"]["security"];
        assert_eq!(
            moderator[0]["moderator"],
            serde_json::json!([]),
            "{moderator}"
        );
    }

    /// The property names of component `name` in the document.
    fn properties(doc: &serde_json::Value, name: &str) -> BTreeSet<String> {
        let schema = &doc["components"]["schemas"][name];
        schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has properties: {schema}"))
            .keys()
            .cloned()
            .collect()
    }

    fn keys(v: &impl serde::Serialize) -> BTreeSet<String> {
        let v = serde_json::to_value(v).expect("serialises");
        v.as_object().expect("an object").keys().cloned().collect()
    }

    #[test]
    fn typed_public_bodies_have_the_schemas_of_what_is_sent() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).expect("the document is JSON");
        let captcha = crate::captcha::Captcha::new(vec![7u8; 32], Default::default());
        let challenge = captcha.issue(
            chrono::Utc::now(),
            Some("berita-1"),
            crate::i18n::Lang::Id,
            &mut rand::rng(),
        );
        assert_eq!(properties(&doc, "CaptchaChallenge"), keys(&challenge));
        assert_eq!(properties(&doc, "PowChallenge"), keys(&challenge.pow));
        let counts = Counts {
            counts: BTreeMap::from([("berita-1".to_string(), 2)]),
        };
        assert_eq!(properties(&doc, "Counts"), keys(&counts));
        assert_eq!(
            properties(&doc, "Flagged"),
            keys(&Flagged { flagged: true })
        );
        let token = ReaderToken {
            reader_token: "t".into(),
        };
        assert_eq!(properties(&doc, "ReaderToken"), keys(&token));
        let comment = PublicComment {
            id: uuid::Uuid::new_v4(),
            parent_id: Some(uuid::Uuid::new_v4()),
            author_name: "Sari".into(),
            author_url: Some("https://contoh.id".into()),
            body_html: "<p>Halo</p>".into(),
            created_at: chrono::Utc::now(),
            pending: true,
            erased: true,
            replies: Vec::new(),
        };
        assert_eq!(properties(&doc, "PublicComment"), keys(&comment));
        let created = Created {
            id: comment.id,
            status: crate::domain::CommentStatus::Pending,
            comment: comment.clone(),
            reader_token: Some("t".into()),
            reader_claim: Some("c".into()),
        };
        assert_eq!(properties(&doc, "Created"), keys(&created));
        let page = ThreadPage {
            thread: "berita-1".into(),
            total: 1,
            closed: false,
            comments: vec![comment],
            page: 1,
            next: Some(2),
        };
        assert_eq!(properties(&doc, "ThreadPage"), keys(&page));
        // What a reader may leave out of their own answer is not required of every comment.
        let required = &doc["components"]["schemas"]["PublicComment"]["required"];
        for optional in ["pending", "erased", "parent_id", "author_url"] {
            assert!(
                !required
                    .as_array()
                    .is_some_and(|r| r.iter().any(|f| f == optional)),
                "{optional} is not required: {required}"
            );
        }
        let reader_token = &doc["paths"]["/api/v1/reader-token"]["post"]["responses"]["200"];
        assert_eq!(
            reader_token["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ReaderToken",
            "{reader_token}"
        );
    }
}
