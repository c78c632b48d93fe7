//! The page side: the widget script, the demo article, and the no-JavaScript path (a
//! server-rendered thread with a plain form that posts WordPress-style fields and comes back to
//! the article at the new comment).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;

use super::AppState;
use super::embed_html::{
    self, EmbedCaptcha, EmbedError, EmbedPage, EmbedThread, FormValues, PostedNotice,
};
use super::error::{ApiError, FieldText};
use super::extract::{ApiForm, ClientIp, ReqLang};
use super::messages::Text;
use crate::captcha::Challenge;
use crate::domain::CommentStatus;
use crate::domain::values::{CommentId, ThreadKey};
use crate::i18n::Lang;
use crate::projections::Order;
use crate::service::SubmitRequest;

/// Routes of the page side.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/widget.js", get(widget))
        .route("/demo", get(demo))
        .route("/threads/{key}/embed", get(embed))
        .route("/comments", post(form_post))
}

#[utoipa::path(get, path = "/widget.js", tag = "public",
    responses((status = 200, description = "The widget script", content_type = "application/javascript")))]
async fn widget() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        embed_html::WIDGET_JS,
    )
        .into_response()
}

#[utoipa::path(get, path = "/demo", tag = "public",
    responses((status = 200, description = "A demo article page", content_type = "text/html")))]
async fn demo() -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(embed_html::DEMO_HTML),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct EmbedQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
    page: Option<u32>,
    posted: Option<String>,
    /// WordPress's name for "reply to this comment".
    replytocom: Option<String>,
}

/// Whether a redirect target is one of ours: a configured site origin or a path on this server.
fn allowed_return(state: &AppState, url: &str) -> bool {
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c == '\\') {
        return false;
    }
    if url.starts_with('/') && !url.starts_with("//") {
        return true;
    }
    state.site_origins.iter().any(|o| {
        url == o
            || url
                .strip_prefix(o.as_str())
                .is_some_and(|rest| rest.starts_with(['/', '?', '#']))
    })
}

/// What the page needs besides the error and the reader's values.
struct PageParts<'a> {
    thread: &'a str,
    lang: Lang,
    page: u32,
    return_to: Option<&'a str>,
    posted: Option<PostedNotice>,
}

/// The page's HTML; a failed read of the projections is a `503`, not a page without comments.
async fn render(
    state: &AppState,
    parts: PageParts<'_>,
    challenge: Option<&Challenge>,
    form: FormValues<'_>,
    error: Option<EmbedError<'_>>,
) -> Result<String, ApiError> {
    let settings = state.service.thread_settings();
    let cached = state
        .threads
        .page(
            state.service.view(),
            parts.thread,
            Order::Oldest,
            parts.page.max(1) as usize,
            settings.per_page,
            settings.max_depth,
        )
        .await?;
    let thread: EmbedThread = serde_json::from_slice(&cached.body).unwrap_or_default();
    Ok(embed_html::render_embed(&EmbedPage {
        thread: parts.thread,
        lang: parts.lang,
        now: Utc::now(),
        comments: &thread.comments,
        total: thread.total,
        next_page: thread.next,
        closed: thread.closed,
        captcha: challenge.map(|c| EmbedCaptcha {
            token: &c.token,
            question: &c.question,
            prompt: &c.prompt,
        }),
        form,
        error,
        posted: parts.posted,
        return_to: parts.return_to,
    }))
}

/// The embed page's Content-Security-Policy: no scripts at all, its own inline style, forms
/// posted here (and redirected back to a site origin), and framed only by this server's own pages
/// (the demo article) and the site origins, so another site cannot frame the form to trick
/// readers into posting.
pub fn embed_csp(site_origins: &[String]) -> String {
    let origins: String = site_origins.iter().map(|o| format!(" {o}")).collect();
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
         form-action 'self'{origins}; base-uri 'none'; frame-ancestors 'self'{origins}"
    )
}

fn html(state: &AppState, status: StatusCode, body: String) -> Response {
    let mut resp = (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&embed_csp(&state.site_origins)) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

#[utoipa::path(get, path = "/threads/{key}/embed", tag = "public",
    params(("key" = String, Path, description = "The thread key"), ("lang" = Option<String>, Query, description = "id or en"),
        ("return" = Option<String>, Query, description = "Where the form returns to"),
        ("page" = Option<u32>, Query, description = "Page number")),
    responses((status = 200, description = "The thread and a plain form", content_type = "text/html"),
        (status = "default", description = "The page with the error, or the API's JSON error for a request no page fits",
            content((String = "text/html"), (crate::http::openapi::ErrorBody = "application/json")))))]
async fn embed(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    Path(key): Path<String>,
    Query(q): Query<EmbedQuery>,
) -> Result<Response, ApiError> {
    // A page for a key that cannot be one is a page that does not exist.
    let key = ThreadKey::parse(&key).map_err(|_| ApiError::NotFound)?;
    let return_to = q.return_to.as_deref().filter(|u| allowed_return(&state, u));
    let challenge = state.service.issue_captcha(ip, Some(&key), lang).await.ok();
    let posted = match q.posted.as_deref() {
        Some("pending") => Some(PostedNotice { pending: true }),
        Some("published") => Some(PostedNotice { pending: false }),
        _ => None,
    };
    let parts = PageParts {
        thread: key.as_str(),
        lang,
        page: q.page.unwrap_or(1),
        return_to,
        posted,
    };
    let parent = q
        .replytocom
        .as_deref()
        .filter(|p| CommentId::parse(p).is_ok())
        .unwrap_or("");
    let form = FormValues {
        parent,
        ..FormValues::default()
    };
    Ok(html(
        &state,
        StatusCode::OK,
        render(&state, parts, challenge.as_ref(), form, None).await?,
    ))
}

/// The WordPress comment form's fields, plus the captcha and honeypot.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct WpForm {
    author: String,
    email: String,
    url: String,
    comment: String,
    #[serde(rename = "comment_post_ID")]
    comment_post_id: String,
    comment_parent: String,
    captcha_token: String,
    captcha_answer: String,
    /// A stamp, when a script-enhanced page added one; the plain form has none.
    captcha_pow: String,
    honeypot: String,
    redirect_to: String,
    lang: String,
}

#[utoipa::path(post, path = "/comments", tag = "public",
    request_body(content = Object, description = "WordPress comment-form fields", content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To the comment on the article"),
        (status = "default", description = "The embed page with the messages, or the API's JSON error for a body that is no form",
            content((String = "text/html"), (crate::http::openapi::ErrorBody = "application/json")))))]
async fn form_post(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiForm(form): ApiForm<WpForm>,
) -> Result<Response, ApiError> {
    let lang = Lang::parse(&form.lang).unwrap_or(lang);
    let thread = match ThreadKey::parse(form.comment_post_id.trim()) {
        Ok(thread) => thread,
        // Rendered here, in the form's own language, not the one negotiated from the headers.
        Err(e) => {
            return Ok(ApiError::InvalidInput {
                fields: vec![(
                    "comment_post_ID".to_string(),
                    FieldText::Problem(e.problem(), "thread"),
                )],
                text: Some(Text::FormThread),
            }
            .render(lang));
        }
    };
    let return_to =
        Some(form.redirect_to.trim()).filter(|u| !u.is_empty() && allowed_return(&state, u));
    let req = SubmitRequest {
        thread: thread.clone(),
        author_name: form.author.clone(),
        author_email: form.email.clone(),
        author_url: form.url.clone(),
        body: form.comment.clone(),
        parent_id: form.comment_parent.clone(),
        captcha_token: form.captcha_token.clone(),
        captcha_answer: form.captcha_answer.clone(),
        captcha_pow: form.captcha_pow.clone(),
        via_form: true,
        reader_token: String::new(),
        honeypot: form.honeypot.clone(),
        client_ip: ip,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect()),
        lang,
    };
    match state.service.submit(req).await {
        Ok(outcome) => {
            let posted = if outcome.status == CommentStatus::Published {
                CommentStatus::Published
            } else {
                CommentStatus::Pending
            }
            .as_str();
            let target = match return_to {
                Some(article) => format!(
                    "{}#comment-{}",
                    article.split('#').next().unwrap_or(article),
                    outcome.id
                ),
                None => format!(
                    "/threads/{thread}/embed?lang={}&posted={posted}#comment-{}",
                    lang.tag(),
                    outcome.id
                ),
            };
            let location = HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static("/"));
            Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
        }
        Err(e) => {
            let mut api = super::public::charge_fresh_captcha(&state, ip, e.into());
            // The page shows the same words as the API, with a fresh challenge and the text kept.
            let fresh = api.fresh_captcha_mut().and_then(|fresh| fresh.take());
            let had_fresh = fresh.is_some();
            let challenge = match fresh {
                Some(c) => Some(*c),
                None => state
                    .service
                    .issue_captcha(ip, Some(&thread), lang)
                    .await
                    .ok(),
            };
            let message = api.message(lang);
            let mut fields: Vec<(String, String)> = api
                .fields(lang)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (api_to_form_field(&k).to_string(), v))
                .collect();
            if had_fresh {
                // Beside the answer box as well, so screen readers announce it there.
                fields.push(("captcha".to_string(), message.clone()));
            }
            let error = EmbedError {
                message: &message,
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            };
            let values = FormValues {
                author: &form.author,
                email: &form.email,
                url: &form.url,
                comment: &form.comment,
                parent: &form.comment_parent,
            };
            let parts = PageParts {
                thread: thread.as_str(),
                lang,
                page: 1,
                return_to,
                posted: None,
            };
            let mut resp = html(
                &state,
                api.status(),
                render(&state, parts, challenge.as_ref(), values, Some(error)).await?,
            );
            if let Some(secs) = api.retry_after()
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(resp)
        }
    }
}

/// The form's field name for an API field name, so messages sit beside the right input.
fn api_to_form_field(api: &str) -> &str {
    match api {
        "author_name" => "author",
        "author_email" => "email",
        "author_url" => "url",
        "body" => "comment",
        "parent_id" => "comment_parent",
        other => other,
    }
}
