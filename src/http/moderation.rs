//! The moderators' API: queues, a comment's full record, decisions with optimistic
//! concurrency, thread close/reopen and policy reload. Every route needs a bearer token.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorKind};
use super::extract::{ApiJson, Moderator, ReqLang};
use super::messages::Text;
use super::public::decision_error;
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
    ReqLang(lang): ReqLang,
    _moderator: Moderator,
    Query(q): Query<QueueQuery>,
) -> Result<Response, ApiError> {
    let name = match q.status.as_deref().unwrap_or("pending") {
        "pending" => QueueName::Pending,
        "reported" => QueueName::Reported,
        "spam" => QueueName::Spam,
        "rejected" => QueueName::Rejected,
        _ => {
            return Err(ApiError::invalid_param(lang, "status", Text::QueueStatus));
        }
    };
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| ApiError::invalid_param(lang, "cursor", Text::Cursor))?,
        ),
    };
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_param(lang, "limit", Text::Limit));
            }
        },
    };
    let (items, next, total) = state.service.view().read(|p| {
        let (records, next) = p.queue_page(name, cursor, limit);
        let total = p.queue_len(name);
        (
            records.iter().map(QueueItem::from).collect::<Vec<_>>(),
            next,
            total,
        )
    });
    Ok(Json(serde_json::json!({
        "status": name,
        "total": total,
        "items": items,
        "next": next.map(|n| n.to_string()),
    }))
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/mod/comments/{id}", tag = "moderator", security(("moderator" = [])),
    params(("id" = String, Path, description = "The comment id"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "The full record: verdict, rules, history", body = Object), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn comment(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    _moderator: Moderator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found(lang))?;
    match state.service.moderator_view(id).await {
        Ok(Some(view)) => Ok(Json(view).into_response()),
        Ok(None) => Err(ApiError::not_found(lang)),
        Err(e) => Err(ApiError::store(lang, &e)),
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
    ReqLang(lang): ReqLang,
    Moderator(name): Moderator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found(lang))?;
    if body.reason.chars().count() > input::MAX_REASON_CHARS {
        return Err(ApiError::invalid_param(lang, "reason", Text::ReasonTooLong));
    }
    let decided = state
        .service
        .decide(id, body.action, &name, &body.reason, body.expected_version)
        .await
        .map_err(|e| decision_error(e, lang))?;
    Ok(Json(decided).into_response())
}

async fn set_closed(
    state: AppState,
    lang: crate::i18n::Lang,
    name: String,
    key: String,
    close: bool,
) -> Result<Response, ApiError> {
    if !input::is_valid_thread_key(&key) {
        return Err(ApiError::invalid_param(lang, "thread", Text::ThreadKey));
    }
    state
        .service
        .set_thread_closed(&key, close, &name)
        .await
        .map_err(|e| decision_error(e, lang))?;
    Ok(Json(serde_json::json!({ "thread": key, "closed": close })).into_response())
}

#[utoipa::path(post, path = "/api/v1/mod/threads/{key}/close", tag = "moderator", security(("moderator" = [])),
    params(("key" = String, Path, description = "The thread key"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Closed", body = crate::http::openapi::ThreadState), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn close(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    Moderator(name): Moderator,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    set_closed(state, lang, name, key, true).await
}

#[utoipa::path(post, path = "/api/v1/mod/threads/{key}/reopen", tag = "moderator", security(("moderator" = [])),
    params(("key" = String, Path, description = "The thread key"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Reopened", body = crate::http::openapi::ThreadState), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn reopen(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    Moderator(name): Moderator,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    set_closed(state, lang, name, key, false).await
}

#[utoipa::path(post, path = "/api/v1/mod/policy/reload", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "The new policy", body = crate::http::openapi::PolicyInfo), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn reload_policy(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    Moderator(name): Moderator,
) -> Result<Response, ApiError> {
    match crate::service::reload_policy(state.service.policy()).await {
        Ok(policy) => {
            tracing::info!(moderator = %name, version = policy.version(), "policy reloaded");
            Ok(Json(
                serde_json::json!({ "version": policy.version(), "summary": policy.summary() }),
            )
            .into_response())
        }
        Err(crate::service::ReloadError::Join(e)) => Err(ApiError::internal(lang, &e)),
        Err(crate::service::ReloadError::Policy(err)) => {
            let kind = ErrorKind::PolicyInvalid;
            Err(
                ApiError::of(kind, lang).with_message(super::messages::with_detail(
                    lang,
                    kind,
                    &super::error::chain(&err),
                )),
            )
        }
    }
}

#[utoipa::path(get, path = "/api/v1/mod/policy", tag = "moderator", security(("moderator" = [])),
    params(("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "The policy in force", body = crate::http::openapi::PolicyInfo), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn policy_info(State(state): State<AppState>, _moderator: Moderator) -> Response {
    let policy = state.service.policy().current();
    let history = state.service.view().read(|p| p.policy_history());
    Json(serde_json::json!({
        "version": policy.version(),
        "summary": policy.summary(),
        "last_error": state.service.policy().last_error(),
        "history": history,
    }))
    .into_response()
}
