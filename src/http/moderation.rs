//! The moderators' API: queues, a comment's full record, decisions with optimistic
//! concurrency, thread close/reopen and policy reload. Every route needs a bearer token.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, FieldText};
use super::extract::{ApiJson, CommentPath, Moderator, ReqLang, ThreadPath};
use super::messages::Text;
use super::moderation_bodies as bodies;
use crate::domain::values::{CommentId, ModeratorName, ThreadKey};
use crate::domain::{ModeratorAction, input};
use crate::projections::QueueName;
use crate::service::QueueItem;

/// Routes of the moderator API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/mod/queue", get(queue))
        .route("/api/v1/mod/comments/{id}", get(comment))
        .route("/api/v1/mod/comments/{id}/decision", post(decision))
        .route("/api/v1/mod/threads/{key}/close", post(close))
        .route("/api/v1/mod/threads/{key}/reopen", post(reopen))
        .route("/api/v1/mod/policy/reload", post(reload_policy))
        .route("/api/v1/mod/policy", get(policy_info))
        .route("/api/v1/mod/bans", get(list_bans).post(place_ban))
        .route("/api/v1/mod/bans/{id}/lift", post(lift_ban))
        .route("/api/v1/mod/bulk", post(bulk))
        .route(
            "/api/v1/mod/threads/{key}/premoderation",
            post(premoderation),
        )
        .route("/api/v1/mod/threads/premoderated", get(premoderated))
        .route("/api/v1/mod/audit", get(audit))
        .route("/api/v1/mod/audit/moderators", get(audit_moderators))
        .route("/api/v1/mod/audit/rules", get(audit_rules))
        .route("/api/v1/mod/privacy/export", get(privacy_export))
        .route("/api/v1/mod/privacy/erase", post(privacy_erase))
        .route("/api/v1/mod/waves", get(waves))
        .route("/api/v1/mod/waves/{id}", get(wave))
}

/// How long an erasure waits for the projections to show it before answering.
const ERASURE_VISIBLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The reader's email of a data request, parsed as a comment's `author_email` is (then folded
/// to the case Saring compares in); a bad one is refused with that field's words.
fn reader_email(raw: &str) -> Result<crate::domain::values::Email, ApiError> {
    crate::privacy::normalise_email(raw).map_err(|e| ApiError::invalid_email("email", e))
}

#[derive(Deserialize)]
struct PrivacyQuery {
    email: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/mod/privacy/export", tag = "moderator", security(("moderator" = [])),
    params(("email" = String, Query, description = "The reader's email"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Everything stored about the reader: comments with bodies, states and histories, reports received, bans", body = crate::privacy::ReaderExport), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn privacy_export(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    Query(q): Query<PrivacyQuery>,
) -> Result<Response, ApiError> {
    let email = reader_email(q.email.as_deref().unwrap_or(""))?;
    let export = crate::privacy::export(
        state.service.store().as_ref(),
        &email,
        Some(&crate::domain::Actor::from(&name)),
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(export).into_response())
}

#[utoipa::path(post, path = "/api/v1/mod/privacy/erase", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    request_body(content = crate::http::openapi::EraseRequest, content_type = "application/json"),
    responses((status = 200, description = "Erased: the reader's comments show as deleted at the author's request", body = crate::http::openapi::Erasure), (status = "default", description = "An error in the API's shape (501 privacy_unsupported on stores that do not seal)", body = crate::http::openapi::ErrorBody)))]
async fn privacy_erase(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    ApiJson(req): ApiJson<bodies::EraseRequest>,
) -> Result<Response, ApiError> {
    let email = reader_email(&req.email)?;
    let erased = crate::privacy::erase(
        state.service.store().as_ref(),
        &email,
        &crate::domain::Actor::from(&name),
        chrono::Utc::now(),
    )
    .await?;
    if let Some(position) = erased.last_position {
        state
            .service
            .view()
            .wait_for(position, ERASURE_VISIBLE_WAIT)
            .await;
        // A spam wave labelled with the reader's words loses them now, not at the next
        // refresh (within seconds; the refresh retries a failure).
        if let Err(e) = state.service.refresh_waves().await {
            tracing::warn!(error = %e, "refreshing the spam waves after an erasure failed");
        }
    }
    Ok(Json(bodies::Erasure::from(&erased)).into_response())
}

#[derive(Deserialize)]
struct QueueQuery {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/mod/queue", tag = "moderator", security(("moderator" = [])),
    params(("status" = Option<String>, Query, description = "pending, reported, spam or rejected"),
        ("cursor" = Option<String>, Query, description = "From the previous page's `next`"),
        ("limit" = Option<String>, Query, description = "1 to 500"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Oldest first", body = crate::http::openapi::Queue), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn queue(
    State(state): State<AppState>,
    _moderator: Moderator,
    Query(q): Query<QueueQuery>,
) -> Result<Response, ApiError> {
    let name = match q.status.as_deref().unwrap_or("pending") {
        "pending" => QueueName::Pending,
        "reported" => QueueName::Reported,
        "spam" => QueueName::Spam,
        "rejected" => QueueName::Rejected,
        _ => {
            return Err(ApiError::invalid_param("status", Text::QueueStatus));
        }
    };
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| ApiError::invalid_param("cursor", Text::Cursor))?,
        ),
    };
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_param("limit", Text::Limit));
            }
        },
    };
    let (items, next, total) = state
        .service
        .view()
        .query(move |p| {
            let (records, next) = p.queue_page(name, cursor, limit);
            let total = p.queue_len(name);
            (
                records.iter().map(QueueItem::from).collect::<Vec<_>>(),
                next,
                total,
            )
        })
        .await?;
    Ok(Json(bodies::Queue {
        status: name,
        total,
        items,
        next: next.map(|n| n.to_string()),
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/mod/comments/{id}", tag = "moderator", security(("moderator" = [])),
    params(("id" = String, Path, description = "The comment id"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "The full record: verdict, rules, history", body = crate::service::ModeratorView), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn comment(
    State(state): State<AppState>,
    _moderator: Moderator,
    CommentPath(id): CommentPath,
) -> Result<Response, ApiError> {
    match state.service.moderator_view(id).await {
        Ok(Some(view)) => Ok(Json(view).into_response()),
        Ok(None) => Err(ApiError::NotFound),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct DecisionBody {
    #[schema(value_type = String, example = "approve")]
    action: ModeratorAction,
    #[serde(default)]
    reason: String,
    expected_version: u64,
}

#[utoipa::path(post, path = "/api/v1/mod/comments/{id}/decision", tag = "moderator", security(("moderator" = [])),
    params(("id" = String, Path, description = "The comment id"), ("lang" = Option<String>, Query, description = "id or en")),
    request_body = DecisionBody,
    responses((status = 200, description = "Decided", body = crate::http::openapi::Decided), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn decision(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    CommentPath(id): CommentPath,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Response, ApiError> {
    if body.reason.chars().count() > input::MAX_REASON_CHARS {
        return Err(ApiError::invalid_param("reason", Text::ReasonTooLong));
    }
    let decided = state
        .service
        .decide(id, body.action, &name, &body.reason, body.expected_version)
        .await?;
    Ok(Json(decided).into_response())
}

async fn set_closed(
    state: AppState,
    name: ModeratorName,
    key: ThreadKey,
    close: bool,
) -> Result<Response, ApiError> {
    state.service.set_thread_closed(&key, close, &name).await?;
    Ok(Json(bodies::ThreadState {
        thread: key,
        closed: close,
    })
    .into_response())
}

#[utoipa::path(post, path = "/api/v1/mod/threads/{key}/close", tag = "moderator", security(("moderator" = [])),
    params(("key" = String, Path, description = "The thread key"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Closed", body = crate::http::openapi::ThreadState), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn close(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    ThreadPath(key): ThreadPath,
) -> Result<Response, ApiError> {
    set_closed(state, name, key, true).await
}

#[utoipa::path(post, path = "/api/v1/mod/threads/{key}/reopen", tag = "moderator", security(("moderator" = [])),
    params(("key" = String, Path, description = "The thread key"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Reopened", body = crate::http::openapi::ThreadState), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn reopen(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    ThreadPath(key): ThreadPath,
) -> Result<Response, ApiError> {
    set_closed(state, name, key, false).await
}

#[utoipa::path(post, path = "/api/v1/mod/policy/reload", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "The new policy", body = bodies::PolicyReloaded), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn reload_policy(
    State(state): State<AppState>,
    Moderator(name): Moderator,
) -> Result<Response, ApiError> {
    match crate::service::reload_policy(state.service.policy()).await {
        Ok(policy) => {
            tracing::info!(moderator = %name, version = policy.version(), "policy reloaded");
            Ok(Json(bodies::PolicyReloaded {
                version: policy.version().to_string(),
                summary: policy.summary(),
            })
            .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/mod/policy", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "The policy in force", body = crate::http::openapi::PolicyInfo), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn policy_info(State(state): State<AppState>, _moderator: Moderator) -> Response {
    let policy = state.service.policy().current();
    let history = state.service.view().read(|p| p.policy_history());
    Json(bodies::PolicyInfo {
        version: policy.version().to_string(),
        summary: policy.summary(),
        last_error: state.service.policy().last_error(),
        history,
    })
    .into_response()
}

/// `422 invalid_input` for one field, with a catalogue text.
fn field_error(field: &str, text: Text) -> ApiError {
    ApiError::invalid_field(field, text)
}

/// A ban as the API takes it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct BanBody {
    /// `email`, `email_domain`, `address`, `cidr`, `url_domain` or `name`.
    pub kind: String,
    /// What to ban.
    pub value: String,
    /// Why (private), at most 500 characters.
    #[serde(default)]
    pub reason: String,
    /// Hours until the ban ends (1 to 87,600); absent with `expires_at` absent: until lifted.
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
    /// When the ban ends (RFC 3339), instead of `expires_in_hours`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Move the author's visible and pending comments to spam now.
    #[serde(default)]
    pub spam_existing: bool,
}

/// Longest ban: ten years.
const MAX_BAN_HOURS: u32 = 87_600;

impl BanBody {
    /// The ban to place, or the field that is wrong.
    pub fn to_request(&self) -> Result<crate::service::bans::PlaceBan, ApiError> {
        let target =
            crate::domain::ban::BanTarget::parse(&self.kind, &self.value).map_err(|e| {
                let field = if e == crate::domain::ban::BanInputError::UnknownKind {
                    "kind"
                } else {
                    "value"
                };
                ApiError::InvalidInput {
                    fields: vec![(field.to_string(), FieldText::Ban(e))],
                    text: None,
                }
            })?;
        if self.reason.chars().count() > input::MAX_REASON_CHARS {
            return Err(ApiError::invalid_param("reason", Text::ReasonTooLong));
        }
        let expires_at = match (self.expires_in_hours, self.expires_at) {
            (Some(_), Some(_)) => {
                return Err(field_error("expires_at", Text::ExpiryTwice));
            }
            (Some(h), None) if (1..=MAX_BAN_HOURS).contains(&h) => {
                Some(chrono::Utc::now() + chrono::Duration::hours(i64::from(h)))
            }
            (Some(_), None) => {
                return Err(field_error("expires_in_hours", Text::BanHours));
            }
            (None, at) => at,
        };
        Ok(crate::service::bans::PlaceBan {
            target,
            reason: self.reason.clone(),
            expires_at,
            spam_existing: self.spam_existing,
        })
    }
}

#[derive(Deserialize)]
struct BanQuery {
    q: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/mod/bans", tag = "moderator", security(("moderator" = [])),
    params(("q" = Option<String>, Query, description = "Words of the value or the reason, or a kind"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Bans placed and not lifted, newest first", body = bodies::BanList), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn list_bans(
    State(state): State<AppState>,
    _moderator: Moderator,
    Query(q): Query<BanQuery>,
) -> Result<Response, ApiError> {
    let query = q.q.unwrap_or_default();
    if query.chars().count() > crate::domain::ban::MAX_BAN_VALUE_CHARS {
        return Err(field_error("q", Text::BanQueryTooLong));
    }
    let bans = state.service.list_bans(&query, chrono::Utc::now());
    Ok(Json(bodies::BanList {
        total: bans.len(),
        bans,
    })
    .into_response())
}

#[utoipa::path(post, path = "/api/v1/mod/bans", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    request_body = BanBody,
    responses((status = 201, description = "Placed; `spammed` comments moved to spam", body = crate::service::bans::PlacedBan), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn place_ban(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    ApiJson(body): ApiJson<BanBody>,
) -> Result<Response, ApiError> {
    let request = body.to_request()?;
    let placed = state.service.place_ban(request, &name).await?;
    tracing::info!(moderator = %name, ban = %placed.ban.id, kind = placed.ban.kind, "ban placed");
    Ok((axum::http::StatusCode::CREATED, Json(placed)).into_response())
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct LiftBody {
    #[serde(default)]
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/mod/bans/{id}/lift", tag = "moderator", security(("moderator" = [])),
    params(("id" = String, Path, description = "The ban id"), ("lang" = Option<String>, Query, description = "id or en")),
    request_body = LiftBody,
    responses((status = 200, description = "Lifted", body = bodies::Lifted), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn lift_ban(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<LiftBody>(&body)
            .map_err(|_| ApiError::InvalidBodyShape { detail: None })?
            .reason
    };
    if reason.chars().count() > input::MAX_REASON_CHARS {
        return Err(ApiError::invalid_param("reason", Text::ReasonTooLong));
    }
    state.service.lift_ban(id, &name, &reason).await?;
    Ok(Json(bodies::Lifted { id, lifted: true }).into_response())
}

/// Comments one bulk request decides at most.
pub const MAX_BULK: usize = 500;
/// Bulk decisions run at once (each is a store read and an append).
const BULK_CONCURRENCY: usize = 8;

#[derive(Deserialize, utoipa::ToSchema)]
struct BulkItem {
    id: String,
    expected_version: u64,
}

/// "Everything pending from this author / address group / website domain / with this text".
#[derive(Clone, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkSelector {
    /// The author's email.
    #[serde(default)]
    pub email: Option<String>,
    /// An address or address group (an IPv4 address, an IPv6 address or its /64).
    #[serde(default)]
    pub address: Option<String>,
    /// The domain of the author's website (subdomains too).
    #[serde(default)]
    pub domain: Option<String>,
    /// A comment id: every pending comment with exactly its text.
    #[serde(default)]
    pub same_text_as: Option<String>,
    /// A spam wave's id (`GET /api/v1/mod/waves`): every comment of the wave the action can
    /// still change (pending ones; published ones too for reject, spam and delete), up to
    /// 2,000, and the wave is recorded as decided. Alone: no other selector field with it.
    #[serde(default)]
    pub wave: Option<String>,
    /// Only in this thread.
    #[serde(default)]
    pub thread: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct BulkBody {
    #[schema(value_type = String, example = "spam")]
    action: ModeratorAction,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    items: Option<Vec<BulkItem>>,
    #[serde(default)]
    selector: Option<BulkSelector>,
}

/// Comments a selector picked (id and version, at most [`MAX_BULK`]) and how many matched.
pub type Selected = (Vec<(CommentId, u64)>, usize);

/// One comment a bulk request asks to decide: its id (or, when the text given is no comment
/// id, that text, echoed back in its `not_found` line) and the version the moderator saw (none
/// when a console form left it out).
pub type BulkAsk = (Result<CommentId, String>, Option<u64>);

/// A bulk item's id as given, parsed at the edge: a comment id, or the text itself.
pub fn bulk_target(raw: String) -> Result<CommentId, String> {
    CommentId::parse(&raw).map_err(|_| raw)
}

impl BulkSelector {
    /// [`Self::resolve`] on the blocking pool: it reads the pending queue page by page from the
    /// projection database. The outer error is a failed read (answer `503`, not a selection of
    /// nothing), the inner one the name of the wrong field.
    pub async fn resolve_in(
        &self,
        view: &std::sync::Arc<crate::service::view::View>,
    ) -> Result<Result<Selected, &'static str>, crate::store::projection_db::ProjectionDbError>
    {
        let selector = self.clone();
        view.query(move |p| selector.resolve(p)).await
    }

    /// The pending comments it names, oldest first, with their versions; at most [`MAX_BULK`],
    /// and how many matched in all. The error is the name of the field that is wrong.
    pub fn resolve(&self, p: &crate::service::view::Reader<'_>) -> Result<Selected, &'static str> {
        use crate::projections::search::QueueFilter;
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let too_long = |v: &Option<String>| v.as_deref().is_some_and(|v| v.chars().count() > 254);
        for (name, v) in [
            ("email", &self.email),
            ("address", &self.address),
            ("domain", &self.domain),
            ("thread", &self.thread),
        ] {
            if too_long(v) {
                return Err(name);
            }
        }
        let text = match clean(&self.same_text_as) {
            None => None,
            Some(id) => {
                let id = CommentId::parse(&id).map_err(|_| "same_text_as")?;
                Some(
                    p.comment(id.uuid())
                        .map(|r| r.body_html)
                        .ok_or("same_text_as")?,
                )
            }
        };
        let filter = QueueFilter {
            thread: clean(&self.thread),
            email: clean(&self.email),
            address: clean(&self.address).map(|a| address_key(&a)),
            domain: clean(&self.domain),
            text: None,
        };
        if filter.email.is_none()
            && filter.address.is_none()
            && filter.domain.is_none()
            && text.is_none()
        {
            return Err("selector");
        }
        let mut found: Vec<(chrono::DateTime<chrono::Utc>, Uuid, u64)> = Vec::new();
        p.scan_queue(
            crate::projections::search::ConsoleQueue::Pending,
            &filter,
            |r| {
                if text.as_ref().is_none_or(|t| &r.body_html == t) {
                    found.push((r.created_at, r.id, r.version));
                }
                true
            },
        );
        found.sort_unstable();
        let total = found.len();
        Ok((
            found
                .into_iter()
                .take(MAX_BULK)
                .map(|(_, id, v)| (CommentId::from(id), v))
                .collect(),
            total,
        ))
    }
}

/// The address filter as the projections store it: an address becomes its group.
pub fn address_key(typed: &str) -> String {
    let t = typed.trim();
    if let Ok(ip) = t.parse::<std::net::IpAddr>() {
        return crate::limits::address_group(ip).to_string();
    }
    if let Ok(net) = t.parse::<ipnet::IpNet>() {
        if net.prefix_len() >= 64 || matches!(net, ipnet::IpNet::V4(_)) {
            return crate::limits::address_group(net.network()).to_string();
        }
        return net.to_string();
    }
    t.to_string()
}

/// One line of a bulk answer.
fn bulk_line(
    id: CommentId,
    outcome: Result<crate::service::DecisionOutcome, crate::service::DecisionError>,
    lang: crate::i18n::Lang,
) -> bodies::BulkLine {
    use crate::service::{CommandError, DecisionRefusal};
    match outcome {
        Ok(d) => bodies::BulkLine {
            status: Some(d.status),
            version: Some(d.version),
            ..bodies::BulkLine::bare(id.to_string(), "done", 200)
        },
        Err(CommandError::Refused(DecisionRefusal::Stale(current))) => {
            let last = current
                .history
                .iter()
                .rev()
                .find(|h| h.actor.starts_with("moderator:"))
                .or(current.history.last());
            bodies::BulkLine {
                status: Some(current.status),
                version: Some(current.version),
                by: last.map(|h| h.actor.trim_start_matches("moderator:").to_string()),
                event: last.map(|h| h.event.clone()),
                ..bodies::BulkLine::bare(id.to_string(), "stale", 409)
            }
        }
        Err(e) => {
            let err = ApiError::from(e);
            let result = if err.status() == axum::http::StatusCode::NOT_FOUND {
                "not_found"
            } else {
                err.code()
            };
            bodies::BulkLine {
                message: Some(err.message(lang)),
                ..bodies::BulkLine::bare(id.to_string(), result, err.status().as_u16())
            }
        }
    }
}

/// Decides each of `items` (id and the version the moderator saw), a few at a time; the
/// answers come back in the order asked.
pub async fn decide_many(
    service: &crate::service::Service,
    items: Vec<BulkAsk>,
    action: ModeratorAction,
    moderator: &ModeratorName,
    reason: &str,
    lang: crate::i18n::Lang,
) -> Vec<bodies::BulkLine> {
    use futures::StreamExt;
    futures::stream::iter(items)
        .map(|(target, expected)| async move {
            let id = match target {
                Ok(id) => id,
                Err(raw) => return bodies::BulkLine::bare(raw, "not_found", 404),
            };
            let Some(expected) = expected else {
                return bodies::BulkLine {
                    message: Some(Text::ExpectedVersionRequired.get(lang).to_string()),
                    ..bodies::BulkLine::bare(id.to_string(), "invalid", 400)
                };
            };
            let outcome = service
                .decide(id, action, moderator, reason, expected)
                .await;
            bulk_line(id, outcome, lang)
        })
        .buffered(BULK_CONCURRENCY)
        .collect()
        .await
}

#[utoipa::path(post, path = "/api/v1/mod/bulk", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    request_body = BulkBody,
    responses((status = 200, description = "One result per comment: done, stale (409) or not_found (404)", body = bodies::BulkAnswer), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn bulk(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    Moderator(name): Moderator,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Response, ApiError> {
    if body.reason.chars().count() > input::MAX_REASON_CHARS {
        return Err(ApiError::invalid_param("reason", Text::ReasonTooLong));
    }
    let wave_reason = body
        .selector
        .as_ref()
        .and_then(|s| s.wave.as_deref())
        .map(|w| format!("wave {}", w.trim()));
    let (items, matched) = match (body.items, body.selector) {
        (Some(items), None) => {
            if items.is_empty() || items.len() > MAX_BULK {
                return Err(field_error("items", Text::BulkItems));
            }
            let n = items.len();
            (
                items
                    .into_iter()
                    .map(|i| (bulk_target(i.id), Some(i.expected_version)))
                    .collect::<Vec<_>>(),
                n,
            )
        }
        (None, Some(selector)) if selector.wave.is_some() => {
            let found =
                wave_items(&state.service, &selector, body.action, &name, &body.reason).await?;
            let n = found.len();
            (
                found.into_iter().map(|(id, v)| (Ok(id), Some(v))).collect(),
                n,
            )
        }
        (None, Some(selector)) => {
            let resolved = selector.resolve_in(state.service.view()).await?;
            match resolved {
                Ok((found, total)) => (
                    found.into_iter().map(|(id, v)| (Ok(id), Some(v))).collect(),
                    total,
                ),
                Err(field) => {
                    return Err(field_error(field, Text::BulkSelector));
                }
            }
        }
        _ => {
            return Err(field_error("items", Text::BulkItemsOrSelector));
        }
    };
    let reason = if body.reason.is_empty() {
        wave_reason.unwrap_or_else(|| "bulk".to_string())
    } else {
        body.reason
    };
    let results = decide_many(&state.service, items, body.action, &name, &reason, lang).await;
    let done = results.iter().filter(|r| r.result == "done").count();
    Ok(Json(bodies::BulkAnswer {
        action: body.action,
        matched,
        done,
        results,
    })
    .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PremoderationBody {
    /// `true`: hold every new comment of the thread; `false`: screen them as usual again.
    on: bool,
}

#[utoipa::path(post, path = "/api/v1/mod/threads/{key}/premoderation", tag = "moderator", security(("moderator" = [])),
    params(("key" = String, Path, description = "The thread key"), ("lang" = Option<String>, Query, description = "id or en")),
    request_body = PremoderationBody,
    responses((status = 200, description = "The thread's setting now", body = bodies::Premoderation), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn premoderation(
    State(state): State<AppState>,
    Moderator(name): Moderator,
    ThreadPath(key): ThreadPath,
    ApiJson(body): ApiJson<PremoderationBody>,
) -> Result<Response, ApiError> {
    use crate::domain::premoderation::PremoderationError;
    match state.service.set_premoderation(&key, body.on, &name).await {
        Ok(()) => Ok(Json(bodies::Premoderation {
            thread: key,
            premoderated: body.on,
        })
        .into_response()),
        Err(crate::service::CommandError::Refused(e)) => Err(ApiError::ThreadState {
            text: match e {
                PremoderationError::Unchanged if body.on => Text::PremoderatedAlready,
                PremoderationError::Unchanged => Text::NotPremoderated,
                PremoderationError::TooMany => Text::TooManyPremoderated,
            },
        }),
        Err(crate::service::CommandError::Failed(f)) => Err(f.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/mod/threads/premoderated", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "The pre-moderated threads and the close-after setting", body = bodies::Premoderated), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn premoderated(State(state): State<AppState>, _moderator: Moderator) -> Response {
    Json(bodies::Premoderated {
        threads: state.service.premoderated_threads(),
        close_after_days: state.service.thread_settings().close_after_days,
    })
    .into_response()
}

/// The audit query as the API and the console take it.
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    /// A moderator's name.
    pub moderator: Option<String>,
    /// A comment id.
    pub comment: Option<String>,
    /// An author email.
    pub author: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
    /// The previous page's `next`.
    pub before: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<String>,
}

impl AuditQuery {
    /// The filter and the page size, or the field that is wrong.
    pub fn parse(&self) -> Result<(crate::service::audit::AuditFilter, usize), ApiError> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let bad = |field: &str| field_error(field, Text::AuditValue);
        for (name, v) in [("moderator", &self.moderator), ("author", &self.author)] {
            if v.as_deref().is_some_and(|v| v.chars().count() > 254) {
                return Err(bad(name));
            }
        }
        let time = |v: &Option<String>, name: &str| match text(v) {
            None => Ok(None),
            Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
                .map(|t| Some(t.with_timezone(&chrono::Utc)))
                .map_err(|_| bad(name)),
        };
        let comment = match text(&self.comment) {
            None => None,
            Some(c) => Some(CommentId::parse(&c).map_err(|_| bad("comment"))?),
        };
        let before_position = match text(&self.before) {
            None => None,
            Some(b) => Some(b.parse::<u64>().map_err(|_| bad("before"))?),
        };
        let limit = match text(&self.limit) {
            None => 50,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=crate::service::audit::MAX_AUDIT_PAGE).contains(&n) => n,
                _ => return Err(bad("limit")),
            },
        };
        Ok((
            crate::service::audit::AuditFilter {
                moderator: text(&self.moderator)
                    .map(|m| ModeratorName::parse(&m))
                    .transpose()
                    .map_err(|_| bad("moderator"))?,
                comment,
                author: text(&self.author),
                since: time(&self.since, "since")?,
                until: time(&self.until, "until")?,
                before_position,
            },
            limit,
        ))
    }
}

#[utoipa::path(get, path = "/api/v1/mod/audit", tag = "moderator", security(("moderator" = [])),
    params(("moderator" = Option<String>, Query, description = "A moderator's name"),
        ("comment" = Option<String>, Query, description = "A comment id"),
        ("author" = Option<String>, Query, description = "An author email"),
        ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query, description = "RFC 3339"),
        ("before" = Option<String>, Query, description = "The previous page's `next`"),
        ("limit" = Option<String>, Query, description = "1 to 200"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Newest first", body = bodies::AuditPage), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn audit(
    State(state): State<AppState>,
    _moderator: Moderator,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let (filter, limit) = q.parse()?;
    let lines = state.service.audit_page(&filter, limit).await?;
    let next = (lines.len() == limit)
        .then(|| lines.last().map(|l| l.entry.position.to_string()))
        .flatten();
    Ok(Json(bodies::AuditPage {
        entries: lines,
        next,
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/mod/audit/moderators", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Per-moderator figures over the audit window", body = bodies::ModeratorList), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn audit_moderators(
    State(state): State<AppState>,
    _moderator: Moderator,
) -> Result<Response, ApiError> {
    state.service.refresh_audit().await?;
    let moderators = state
        .service
        .moderator_figures()?
        .into_iter()
        .map(|(name, figures)| bodies::ModeratorLine { name, figures })
        .collect();
    Ok(Json(bodies::ModeratorList { moderators }).into_response())
}

#[utoipa::path(get, path = "/api/v1/mod/audit/rules", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Per-rule figures over the audit window", body = bodies::RuleList), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn audit_rules(
    State(state): State<AppState>,
    _moderator: Moderator,
) -> Result<Response, ApiError> {
    state.service.refresh_audit().await?;
    Ok(Json(bodies::RuleList {
        rules: state.service.rule_figures(),
    })
    .into_response())
}

/// Records a moderator's decision on the wave a selector names and returns the comments it
/// applies to (id and version), for the bulk path to decide one by one; the API's and the
/// console's bulk both come here.
pub async fn wave_items(
    service: &crate::service::Service,
    selector: &BulkSelector,
    action: ModeratorAction,
    moderator: &ModeratorName,
    reason: &str,
) -> Result<Vec<(CommentId, u64)>, ApiError> {
    use crate::service::waves::WaveRefusal;
    let others = [
        &selector.email,
        &selector.address,
        &selector.domain,
        &selector.same_text_as,
        &selector.thread,
    ];
    if others
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
    {
        return Err(field_error("selector", Text::WaveAlone));
    }
    let id = selector
        .wave
        .as_deref()
        .map(str::trim)
        .and_then(|w| Uuid::parse_str(w).ok())
        .ok_or_else(|| field_error("wave", Text::WaveId))?;
    match service.decide_wave(id, action, moderator, reason).await {
        Ok(items) => {
            tracing::info!(moderator = %moderator, wave = %id, action = action.as_str(), comments = items.len(), "wave decided");
            Ok(items)
        }
        Err(crate::service::CommandError::Refused(WaveRefusal::NotFound)) => {
            Err(ApiError::NotFound)
        }
        Err(crate::service::CommandError::Refused(WaveRefusal::Action)) => {
            Err(field_error("action", Text::WaveAction))
        }
        Err(crate::service::CommandError::Refused(WaveRefusal::Decided { by, action })) => {
            let current = serde_json::json!({ "wave": id, "by": by, "action": action.as_str() });
            Err(ApiError::StaleVersion {
                current: Some(current),
                wave: Some((by, action)),
            })
        }
        Err(crate::service::CommandError::Failed(f)) => Err(f.into()),
    }
}

#[derive(Deserialize)]
struct WavesQuery {
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/mod/waves", tag = "moderator", security(("moderator" = [])),
    params(("limit" = Option<String>, Query, description = "1 to 100 (default 50)"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Spam waves, newest first: shapes, comments, threads, statuses, samples", body = crate::http::openapi::WaveList), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn waves(
    State(state): State<AppState>,
    _moderator: Moderator,
    Query(q): Query<WavesQuery>,
) -> Result<Response, ApiError> {
    let limit = match q.limit.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=crate::service::waves::MAX_WAVE_LIST).contains(&n) => n,
            _ => {
                return Err(field_error("limit", Text::WaveLimit));
            }
        },
    };
    state.service.refresh_waves().await?;
    let waves = state.service.wave_summaries(None, limit).await?;
    let config = state.service.wave_config();
    Ok(Json(bodies::WaveList {
        waves,
        hold: config.hold,
        rules: config.rules(),
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/mod/waves/{id}", tag = "moderator", security(("moderator" = [])),
    params(("id" = String, Path, description = "The wave id"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "One wave", body = crate::service::waves::WaveSummary), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn wave(
    State(state): State<AppState>,
    _moderator: Moderator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    state.service.refresh_waves().await?;
    let mut found = state.service.wave_summaries(Some(id), 1).await?;
    match found.pop() {
        Some(w) => Ok(Json(w).into_response()),
        None => Err(ApiError::NotFound),
    }
}
