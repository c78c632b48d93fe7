//! The public API used by readers and site widgets: captcha, posting, threads, counts, reports.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, CommentPath, IfNoneMatch, ReqLang, ThreadPath};
use super::messages::Text;
use crate::domain::comment::CommentStatus;
use crate::domain::values::{CommentId, ThreadKey};
use crate::projections::Order;
use crate::service::{SubmitOutcome, SubmitRequest};

/// Routes of the public API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/captcha", get(captcha))
        .route(
            "/api/v1/threads/{thread}/comments",
            get(thread).post(post_comment),
        )
        .route("/api/v1/counts", get(counts))
        .route("/api/v1/comments/{id}/flag", post(flag))
        .route("/api/v1/reader-token", post(reader_token))
}

/// `200` to a redeemed claim.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReaderToken {
    /// The known-reader token for the comment's email, kept by the widget.
    pub reader_token: String,
}

/// `200` to `GET /api/v1/counts`: visible comments per thread asked for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Visible comments per thread key (every key asked for, 0 when it has none).
    pub counts: BTreeMap<String, usize>,
}

/// `202` to a report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Flagged {
    /// Always `true`: the report was accepted.
    pub flagged: bool,
}

/// A claim from a `201` answer, traded for a known-reader token once a moderator approved.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReaderClaim {
    /// The comment the claim came with.
    #[serde(default)]
    comment_id: String,
    /// The `reader_claim` of that answer.
    #[serde(default)]
    claim: String,
}

#[utoipa::path(post, path = "/api/v1/reader-token", tag = "public",
    params(("lang" = Option<String>, Query, description = "id or en")),
    request_body = ReaderClaim,
    responses((status = 200, description = "A known-reader token for the comment's email", body = ReaderToken),
        (status = "default", description = "An error in the API's shape (404 until a moderator approved the comment)", body = crate::http::openapi::ErrorBody)))]
async fn reader_token(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<ReaderClaim>,
) -> Result<Response, ApiError> {
    // One answer for a wrong claim, an unknown comment and one not approved (yet): the
    // widget simply asks again on a later visit.
    let id = CommentId::parse(c.comment_id.trim()).map_err(|_| ApiError::NotFound)?;
    match state.service.redeem_reader_claim(id, &c.claim).await {
        Ok(Some(token)) => Ok((
            [(header::CACHE_CONTROL, "no-store")],
            Json(ReaderToken {
                reader_token: token,
            }),
        )
            .into_response()),
        Ok(None) => Err(ApiError::NotFound),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CaptchaQuery {
    thread: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/captcha", tag = "public",
    params(("thread" = String, Query, description = "The thread key the token is bound to"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "A fresh challenge", body = crate::http::openapi::CaptchaChallenge), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn captcha(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    Query(q): Query<CaptchaQuery>,
) -> Result<Response, ApiError> {
    // A token is always bound to a thread: one fetched for nothing in particular used to work on
    // every thread, so a farm of them served any article.
    let thread =
        ThreadKey::parse(q.thread.as_deref().unwrap_or("")).map_err(|_| ApiError::InvalidThread)?;
    let challenge = state
        .service
        .issue_captcha(ip, Some(&thread), lang)
        .await
        .map_err(|l| ApiError::RateLimited {
            retry_after: l.retry_after_secs(),
        })?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(challenge)).into_response())
}

/// The JSON body of a new comment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewComment {
    #[serde(default)]
    author_name: String,
    #[serde(default)]
    author_email: String,
    #[serde(default)]
    author_url: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    captcha_token: String,
    #[serde(default)]
    /// A string such as `" 6 "` or a number.
    #[schema(value_type = Value)]
    captcha_answer: serde_json::Value,
    /// The proof-of-work stamp: a decimal number, as a string or a JSON number.
    #[serde(default)]
    captcha_pow: serde_json::Value,
    #[serde(default)]
    honeypot: Option<String>,
    /// The known-reader token from an earlier answer (`reader_token`), kept by the widget.
    #[serde(default)]
    reader_token: Option<String>,
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(300).collect())
}

#[utoipa::path(post, path = "/api/v1/threads/{thread}/comments", tag = "public",
    params(("thread" = String, Path, description = "The site's key for the article"), ("lang" = Option<String>, Query, description = "id or en")),
    request_body = NewComment,
    responses((status = 201, description = "Stored: published or awaiting moderation", body = crate::http::openapi::Created), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn post_comment(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    ThreadPath(thread): ThreadPath,
    headers: HeaderMap,
    ApiJson(c): ApiJson<NewComment>,
) -> Result<Response, ApiError> {
    // Answers may come as a number or a string; anything else is simply wrong.
    let answer = match &c.captcha_answer {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let stamp = match &c.captcha_pow {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Null => String::new(),
        // Anything else is a stamp that cannot be right, not a missing one.
        _ => "x".to_string(),
    };
    let req = SubmitRequest {
        thread,
        author_name: c.author_name,
        author_email: c.author_email,
        author_url: c.author_url.unwrap_or_default(),
        body: c.body,
        parent_id: c.parent_id.unwrap_or_default(),
        captcha_token: c.captcha_token,
        captcha_answer: answer,
        captcha_pow: stamp,
        via_form: false,
        reader_token: c.reader_token.unwrap_or_default(),
        honeypot: c.honeypot.unwrap_or_default(),
        client_ip: ip,
        user_agent: user_agent(&headers),
        lang,
    };
    let outcome = state
        .service
        .submit(req)
        .await
        .map_err(|e| charge_fresh_captcha(&state, ip, e.into()))?;
    Ok(created(outcome))
}

/// The poster learns only "published" or "pending" (awaiting moderation): telling them their
/// comment was classed spam would be a free oracle for tuning spam against the policy.
/// Counts the fresh challenge an error answer carries against the same per-address limit as
/// `GET /api/v1/captcha`; when it is spent the error goes out without one (the error itself is
/// never refused). Without this, posting wrong answers in a loop farmed thousands of valid
/// tokens a second while the captcha endpoint answered `429`.
pub fn charge_fresh_captcha(state: &AppState, ip: std::net::IpAddr, mut e: ApiError) -> ApiError {
    if let Some(fresh) = e.fresh_captcha_mut()
        && fresh.is_some()
        && let Some(limits) = state.service.limits()
        && limits.check_captcha(ip).is_err()
    {
        *fresh = None;
    }
    e
}

fn created(mut outcome: SubmitOutcome) -> Response {
    if outcome.status != CommentStatus::Published {
        outcome.status = CommentStatus::Pending;
    }
    let location = format!("/api/v1/mod/comments/{}", outcome.id);
    let mut resp = (StatusCode::CREATED, Json(outcome)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

#[derive(Deserialize)]
struct ThreadQuery {
    order: Option<String>,
    page: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/threads/{thread}/comments", tag = "public",
    params(("thread" = String, Path, description = "The site's key for the article"),
        ("order" = Option<String>, Query, description = "oldest or newest"),
        ("page" = Option<String>, Query, description = "Page number from 1"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "A page of the thread", body = crate::http::openapi::ThreadPage),
        (status = 304, description = "Not modified (If-None-Match)"), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn thread(
    State(state): State<AppState>,
    ThreadPath(thread): ThreadPath,
    Query(q): Query<ThreadQuery>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let order = match q.order.as_deref() {
        None | Some("oldest") | Some("") => Order::Oldest,
        Some("newest") => Order::Newest,
        Some(_) => {
            return Err(ApiError::invalid_param("order", Text::Order));
        }
    };
    let page = match q.page.as_deref() {
        None | Some("") => 1,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if (1..=100_000).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_param("page", Text::Page));
            }
        },
    };
    let settings = state.service.thread_settings();
    let cached = state
        .threads
        .page(
            state.service.view(),
            thread.as_str(),
            order,
            page,
            settings.per_page,
            settings.max_depth,
        )
        .await?;
    let cache_control = cache_control(settings.cache_seconds);
    let not_modified = if_none_match.matches(&cached.etag);
    let etag = HeaderValue::from_str(&cached.etag).unwrap_or(HeaderValue::from_static("\"0\""));
    if not_modified {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache_control)],
        )
            .into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache_control),
        ],
        cached.body,
    )
        .into_response())
}

/// `Cache-Control` of public reads: cacheable, revalidated after `seconds`.
fn cache_control(seconds: u32) -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={seconds}, must-revalidate"))
        .unwrap_or(HeaderValue::from_static("no-cache"))
}

#[derive(Deserialize)]
struct CountsQuery {
    threads: Option<String>,
}

/// Threads one counts request may ask for.
const MAX_COUNT_THREADS: usize = 200;

#[utoipa::path(get, path = "/api/v1/counts", tag = "public",
    params(("threads" = Option<String>, Query, description = "Comma-separated thread keys, at most 200"), ("lang" = Option<String>, Query, description = "id or en")),
    responses((status = 200, description = "Visible comments per thread", body = crate::http::openapi::Counts), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn counts(
    State(state): State<AppState>,
    Query(q): Query<CountsQuery>,
) -> Result<Response, ApiError> {
    let keys: Vec<&str> = q
        .threads
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|k| !k.is_empty())
        .collect();
    if keys.len() > MAX_COUNT_THREADS {
        return Err(ApiError::invalid_param("threads", Text::TooManyThreads));
    }
    let owned: Vec<ThreadKey> = keys
        .iter()
        .map(|k| ThreadKey::parse(k))
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::InvalidThread)?;
    let counts: BTreeMap<String, usize> = state
        .service
        .view()
        .query(move |p| {
            owned
                .into_iter()
                .map(|k| {
                    let n = p.visible_count(k.as_str());
                    (String::from(k), n)
                })
                .collect()
        })
        .await?;
    Ok((
        [(
            header::CACHE_CONTROL,
            cache_control(state.service.thread_settings().cache_seconds),
        )],
        Json(Counts { counts }),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
struct FlagBody {
    #[serde(default)]
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/comments/{id}/flag", tag = "public",
    params(("id" = String, Path, description = "The comment id"), ("lang" = Option<String>, Query, description = "id or en")),
    request_body(content = Object, description = "`{reason?}`, or no body", content_type = "application/json"),
    responses((status = 202, description = "Reported", body = crate::http::openapi::Flagged), (status = "default", description = "An error in the API's shape", body = crate::http::openapi::ErrorBody)))]
async fn flag(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    CommentPath(id): CommentPath,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: an empty report is as valid as one with a reason.
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<FlagBody>(&body)
            .map_err(|e| ApiError::InvalidBody {
                detail: Some(e.to_string()),
            })?
            .reason
    };
    state.service.flag(id, ip, &reason).await?;
    Ok((StatusCode::ACCEPTED, Json(Flagged { flagged: true })).into_response())
}
