//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and the request types' `ToSchema` derives, served at `GET /api/v1/openapi.json`.
//!
//! Every answer is a typed body whose schema is derived from the type sent: the public ones
//! (the captcha challenge, the `201` to a new comment, the thread page with its comments,
//! counts, reports and reader tokens) and the moderator ones (`http::moderation_bodies`, which
//! wrap the service's queue items, comment records, bans, audit lines and waves); two tests
//! compare each schema's properties with a serialised value, the error shape ([`ErrorBody`],
//! which every `ApiError` is serialised from) and the privacy export (`privacy::ReaderExport`)
//! included. CI runs schemathesis
//! against a live server to check that every answer matches the document (`.ci/run`), and a
//! test checks that every route in the router's
//! source is in the document. The moderation console's HTML pages (`/admin/...`) are for a
//! browser with a session, not an API, and are left out on purpose ([`NOT_DOCUMENTED`]).

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;

/// Route prefixes of the router that the document leaves out, with the reason in the module
/// doc: the console's pages.
pub const NOT_DOCUMENTED: &[&str] = &["/admin"];

/// The error shape, derived from the type every refusal is serialised from.
pub use super::error::{ErrorBody, ErrorDetail};

/// The public answers built from typed bodies, whose schemas are derived from them.
pub use super::public::{Counts, Flagged, ReaderToken};
/// A captcha challenge (`GET /api/v1/captcha`): the schema is derived from the type sent.
pub use crate::captcha::Challenge as CaptchaChallenge;

/// The public comment, the `201` answer and the thread page: schemas derived from the types sent.
pub use crate::projections::{PublicComment, ThreadPage};
pub use crate::service::SubmitOutcome as Created;

/// The moderator answers, typed bodies whose schemas are derived from them.
pub use super::moderation_bodies::{
    AuditPage, BanList, BulkAnswer, BulkLine, EraseRequest, Erasure, Lifted, ModeratorLine,
    ModeratorList, PolicyInfo, PolicyReloaded, Premoderated, Premoderation, Queue, Ready, RuleList,
    ThreadState, WaveList,
};
/// Moderator answers sent as the service computes them.
pub use crate::service::DecisionOutcome as Decided;
pub use crate::service::waves::WaveSummary;

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
        let captcha = crate::captcha::Captcha::new(
            vec![7u8; 32],
            Default::default(),
            crate::http::messages::sum_words,
        );
        let challenge = captcha.issue(
            chrono::Utc::now(),
            Some("berita-1"),
            crate::i18n::Lang::Id,
            &mut rand::rng(),
        );
        assert_eq!(properties(&doc, "CaptchaChallenge"), keys(&challenge));
        assert_eq!(properties(&doc, "PowChallenge"), keys(&challenge.pow));
        let counts = Counts {
            counts: std::collections::BTreeMap::from([("berita-1".to_string(), 2)]),
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
        // Every error is serialised from `ErrorBody`; the richest has every optional part.
        let error = crate::http::error::ErrorBody {
            error: crate::http::error::ErrorDetail {
                code: "invalid_input",
                message: "m".into(),
                fields: Some(std::collections::BTreeMap::from([(
                    "body".into(),
                    "f".into(),
                )])),
                retry_after: Some(2),
            },
            captcha: Some(challenge.clone()),
            current: Some(serde_json::json!({ "id": "x" })),
        };
        assert_eq!(properties(&doc, "ErrorBody"), keys(&error));
        assert_eq!(properties(&doc, "ErrorDetail"), keys(&error.error));
        // And the sparest leaves out what it does not carry rather than sending nulls.
        let sparse = serde_json::to_value(
            crate::http::error::ApiError::NotFound.body(crate::i18n::Lang::En),
        )
        .unwrap();
        assert_eq!(keys(&sparse), BTreeSet::from(["error".to_string()]));
        assert_eq!(
            keys(&sparse["error"]),
            BTreeSet::from(["code".to_string(), "message".to_string()])
        );
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

    /// Every property name a schema allows, following `$ref` and `allOf` (a flattened field).
    fn all_properties(doc: &serde_json::Value, schema: &serde_json::Value) -> BTreeSet<String> {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/schemas/");
            return all_properties(doc, &doc["components"]["schemas"][name]);
        }
        let mut out: BTreeSet<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            out.extend(all_properties(doc, part));
        }
        out
    }

    /// Component `name` allows exactly the fields of `value`.
    #[track_caller]
    fn holds(doc: &serde_json::Value, name: &str, value: &impl serde::Serialize) {
        let schema = &doc["components"]["schemas"][name];
        assert!(schema.is_object(), "{name} is a component");
        assert_eq!(all_properties(doc, schema), keys(value), "{name}");
    }

    /// The `200` (or `201`) schema of an operation, as a component name.
    fn answer(doc: &serde_json::Value, method: &str, path: &str) -> String {
        let responses = &doc["paths"][path][method]["responses"];
        let ok = if responses["201"].is_object() {
            &responses["201"]
        } else {
            &responses["200"]
        };
        ok["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} answers a component: {ok}"))
            .trim_start_matches("#/components/schemas/")
            .to_string()
    }

    #[test]
    fn typed_moderator_bodies_have_the_schemas_of_what_is_sent() {
        use crate::domain::{CommentStatus, ModeratorAction};
        use crate::service::{HistoryEntry, ModeratorView, QueueItem};
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).expect("the document is JSON");
        let now = chrono::Utc::now();
        let id = uuid::Uuid::new_v4();
        let thread = crate::domain::values::ThreadKey::parse("berita-1").unwrap();
        let item = QueueItem {
            id,
            thread: "berita-1".into(),
            status: CommentStatus::Pending,
            author_name: "Sari".into(),
            author_email: "sari@contoh.id".into(),
            body_html: "<p>Halo</p>".into(),
            created_at: now,
            score: 2.5,
            reports: 1,
            version: 3,
        };
        holds(&doc, "QueueItem", &item);
        let queue = Queue {
            status: crate::projections::QueueName::Pending,
            total: 1,
            items: vec![item],
            next: Some("4".into()),
        };
        holds(&doc, &answer(&doc, "get", "/api/v1/mod/queue"), &queue);
        let history = HistoryEntry {
            version: 1,
            event: "CommentSubmitted".into(),
            actor: "reader".into(),
            at: now,
            reason: Some("r".into()),
        };
        holds(&doc, "CommentHistoryEntry", &history);
        let view = ModeratorView {
            id,
            thread: "berita-1".into(),
            parent_id: Some(id),
            status: CommentStatus::Pending,
            version: 1,
            author_name: "Sari".into(),
            author_email: "sari@contoh.id".into(),
            author_url: Some("https://contoh.id".into()),
            client_ip: "203.0.113.0".into(),
            user_agent: Some("ua".into()),
            body: "Halo".into(),
            body_html: "<p>Halo</p>".into(),
            created_at: now,
            captcha_solve_ms: 1200,
            verdict: None,
            reports: 0,
            reports_capped: false,
            history: vec![history],
        };
        holds(
            &doc,
            &answer(&doc, "get", "/api/v1/mod/comments/{id}"),
            &view,
        );
        let decided = Decided {
            id,
            status: CommentStatus::Published,
            version: 2,
        };
        holds(
            &doc,
            &answer(&doc, "post", "/api/v1/mod/comments/{id}/decision"),
            &decided,
        );
        let state = ThreadState {
            thread: thread.clone(),
            closed: true,
        };
        holds(
            &doc,
            &answer(&doc, "post", "/api/v1/mod/threads/{key}/close"),
            &state,
        );
        holds(
            &doc,
            &answer(&doc, "post", "/api/v1/mod/threads/{key}/reopen"),
            &state,
        );
        let premoderation = Premoderation {
            thread,
            premoderated: true,
        };
        holds(
            &doc,
            &answer(&doc, "post", "/api/v1/mod/threads/{key}/premoderation"),
            &premoderation,
        );
        let premoderated = Premoderated {
            threads: vec!["berita-1".into()],
            close_after_days: 30,
        };
        holds(
            &doc,
            &answer(&doc, "get", "/api/v1/mod/threads/premoderated"),
            &premoderated,
        );
        let policy = crate::policy::Policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        )
        .expect("the shipped policy loads");
        let info = PolicyInfo {
            version: policy.version().into(),
            summary: policy.summary(),
            last_error: Some("e".into()),
            history: vec![crate::projections::PolicyActivation {
                version: "v".into(),
                at: now,
            }],
        };
        holds(&doc, &answer(&doc, "get", "/api/v1/mod/policy"), &info);
        holds(&doc, "PolicySummary", &info.summary);
        holds(&doc, "Thresholds", &info.summary.thresholds);
        holds(&doc, "PolicyActivation", &info.history[0]);
        let reloaded = PolicyReloaded {
            version: policy.version().into(),
            summary: policy.summary(),
        };
        holds(
            &doc,
            &answer(&doc, "post", "/api/v1/mod/policy/reload"),
            &reloaded,
        );
        let ban = crate::service::bans::BanView {
            id,
            kind: "email",
            value: "spam@contoh.id".into(),
            reason: "spam".into(),
            expires_at: Some(now),
            active: true,
            spam_existing: true,
            by: "sari".into(),
            at: now,
        };
        holds(&doc, "Ban", &ban);
        // The richest export: a screened comment with every optional part, a report, a ban.
        let export = crate::privacy::ReaderExport {
            email: crate::domain::values::Email::parse("sari@contoh.id").expect("a valid email"),
            exported_at: now,
            comments: vec![crate::privacy::ExportedComment {
                submission: crate::domain::Submission {
                    comment_id: id,
                    thread: "berita-1".into(),
                    parent_id: Some(id),
                    author_name: "Sari".into(),
                    author_email: "sari@contoh.id".into(),
                    author_url: Some("https://contoh.id".into()),
                    body: "Halo".into(),
                    client: crate::domain::ClientFacts {
                        ip: "203.0.113.0".into(),
                        user_agent: Some("ua".into()),
                    },
                    captcha_solve_ms: 1200,
                    pow: Some(crate::pow::PowFacts {
                        path: crate::pow::CaptchaPath::Sum,
                        difficulty: 10,
                        bits: 12,
                    }),
                    known_reader: Some(true),
                    lang: crate::i18n::Lang::Id,
                    submitted_at: now,
                    erased: true,
                },
                status: Some("published"),
                history: vec![crate::privacy::HistoryEntry {
                    event: "CommentScreened".into(),
                    at: now,
                    by: Some("system".into()),
                    reason: Some("r".into()),
                    outcome: Some(serde_json::json!({ "outcome": "publish" })),
                }],
            }],
            reports_received: vec![crate::privacy::ReceivedReport {
                comment: id,
                reason: "kasar".into(),
                at: now,
            }],
            bans: vec![crate::privacy::BanAbout {
                id,
                reason: "spam".into(),
                by: "sari".into(),
                at: now,
                expires_at: Some(now),
                lifted: false,
            }],
            notes: vec!["n"],
        };
        holds(
            &doc,
            &answer(&doc, "get", "/api/v1/mod/privacy/export"),
            &export,
        );
        holds(&doc, "ExportedComment", &export.comments[0]);
        holds(&doc, "Submission", &export.comments[0].submission);
        holds(&doc, "ClientFacts", &export.comments[0].submission.client);
        holds(&doc, "ExportHistoryEntry", &export.comments[0].history[0]);
        holds(&doc, "ReceivedReport", &export.reports_received[0]);
        holds(&doc, "BanAbout", &export.bans[0]);
        let placed = crate::service::bans::PlacedBan {
            ban: ban.clone(),
            spammed: 2,
            spam_left: 0,
        };
        holds(&doc, &answer(&doc, "post", "/api/v1/mod/bans"), &placed);
        let bans = BanList {
            total: 1,
            bans: vec![ban],
        };
        holds(&doc, &answer(&doc, "get", "/api/v1/mod/bans"), &bans);
        holds(
            &doc,
            &answer(&doc, "post", "/api/v1/mod/bans/{id}/lift"),
            &Lifted { id, lifted: true },
        );
        // The richest bulk line (a stale one) uses every field but `message`; a failure adds it.
        let stale = BulkLine {
            status: Some(CommentStatus::Spam),
            version: Some(4),
            by: Some("budi".into()),
            event: Some("CommentMarkedSpam".into()),
            message: Some("m".into()),
            ..BulkLine::bare(id.to_string(), "stale", 409)
        };
        holds(&doc, "BulkLine", &stale);
        let bare = serde_json::to_value(BulkLine::bare("x".into(), "not_found", 404)).unwrap();
        let required = &doc["components"]["schemas"]["BulkLine"]["required"];
        let required: BTreeSet<String> = required
            .as_array()
            .expect("BulkLine requires fields")
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            required,
            keys(&bare),
            "a bare line has exactly the required fields"
        );
        let bulk = BulkAnswer {
            action: ModeratorAction::Spam,
            matched: 1,
            done: 0,
            results: vec![stale],
        };
        holds(&doc, &answer(&doc, "post", "/api/v1/mod/bulk"), &bulk);
        let line = crate::service::audit::AuditLine {
            entry: crate::service::audit::AuditEntry::example(),
            author: Some("sari@contoh.id".into()),
            before: Some("pending"),
            after: Some("published"),
        };
        holds(&doc, "AuditLine", &line);
        let page = AuditPage {
            entries: vec![line],
            next: Some("7".into()),
        };
        holds(&doc, &answer(&doc, "get", "/api/v1/mod/audit"), &page);
        let figures = ModeratorLine {
            name: "sari".into(),
            figures: crate::service::audit::ModeratorFigures {
                decisions: 3,
                reversed_by_colleagues: 1,
                median_seconds_to_decision: Some(60),
            },
        };
        holds(&doc, "ModeratorLine", &figures);
        holds(
            &doc,
            &answer(&doc, "get", "/api/v1/mod/audit/moderators"),
            &ModeratorList {
                moderators: vec![figures],
            },
        );
        let rule = crate::service::audit::RuleFigures {
            rule: "links".into(),
            hits: 3,
            overturned: 1,
        };
        holds(&doc, "RuleFigures", &rule);
        holds(
            &doc,
            &answer(&doc, "get", "/api/v1/mod/audit/rules"),
            &RuleList { rules: vec![rule] },
        );
        let sample = crate::service::waves::WaveSample {
            id,
            thread: "berita-1".into(),
            author_name: "Sari".into(),
            body_html: "<p>Halo</p>".into(),
            status: CommentStatus::Spam,
        };
        holds(&doc, "WaveSample", &sample);
        let shape = crate::projections::waves::Shape {
            kind: crate::projections::waves::ShapeKind::Domain,
            value: "contoh.id".into(),
        };
        holds(&doc, "Shape", &shape);
        let decision = crate::projections::waves::WaveDecision {
            action: ModeratorAction::Spam,
            by: "sari".into(),
            at: now,
        };
        holds(&doc, "WaveDecision", &decision);
        let wave = WaveSummary {
            id,
            shapes: vec![shape],
            comments: 5,
            thread_count: 3,
            threads: vec!["berita-1".into()],
            first_seen: now,
            last_seen: now,
            started_at: now,
            open: false,
            holding: false,
            decided: Some(decision),
            statuses: std::collections::BTreeMap::from([(CommentStatus::Spam, 5)]),
            samples: vec![sample],
        };
        holds(&doc, &answer(&doc, "get", "/api/v1/mod/waves/{id}"), &wave);
        let rules = crate::projections::waves::WaveRules::default();
        holds(&doc, "WaveRules", &rules);
        holds(
            &doc,
            &answer(&doc, "get", "/api/v1/mod/waves"),
            &WaveList {
                waves: vec![wave],
                hold: true,
                rules,
            },
        );
        holds(
            &doc,
            &answer(&doc, "post", "/api/v1/mod/privacy/erase"),
            &Erasure {
                comments: 2,
                key_deleted: true,
            },
        );
        let ready = Ready {
            ready: true,
            store: "sqlite",
            policy_version: "v".into(),
            position: Some(9),
            head: Some(12),
        };
        holds(&doc, &answer(&doc, "get", "/readyz"), &ready);
    }
}
