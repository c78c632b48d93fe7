//! The console's handlers: login and logout, the queue page, a card, decisions, undo and bulk.
//!
//! Each handler reads one [`Req`] (language, client address, session, CSRF header, whether the
//! script asked for JSON), so every route refuses the same way: no session sends a page to the
//! login form (a script gets `401`), a wrong or missing CSRF token is `403 csrf_invalid`.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use futures::StreamExt;
use maud::Markup;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::pages::{self, Card, Chrome, Conflict, Filters};
use super::sessions::{COOKIE, SessionInfo, Undo};
use super::{Console, SecureCookies};
use crate::domain::values::{CommentId, ModeratorName, ThreadKey};
use crate::domain::{CommentStatus, ModeratorAction, input};
use crate::http::error::{ApiError, FieldText};
use crate::http::extract::{ClientIp, Moderator};
use crate::http::lang::lang_of;
use crate::http::messages::{self, Text, console_words};
use crate::i18n::Lang;
use crate::projections::search::{ConsoleQueue, Cursor, QueueFilter, SortOrder};
use crate::service::{CommandError, DecisionRefusal, ModeratorView};

/// Cards per page.
const PAGE_SIZE: usize = 20;
/// Comments one bulk request may decide.
pub const MAX_BULK: usize = 500;
/// Bulk decisions run at once (each is a store read and an append).
const BULK_CONCURRENCY: usize = 8;
/// Longest filter value accepted.
const MAX_FILTER_CHARS: usize = 254;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

/// The console's routes with their layers.
pub fn router(console: Console) -> Router {
    use axum::middleware::from_fn;
    let timeout = console.app.request_timeout;
    Router::new()
        .route("/admin", get(queue_page))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/console.js", get(script))
        .route("/admin/console.css", get(style))
        .route("/admin/comments/{id}", get(comment_page))
        .route("/admin/comments/{id}/decision", post(decision))
        .route("/admin/undo", post(undo))
        .route("/admin/bulk", post(bulk))
        .route("/admin/bans", get(bans_page).post(place_ban))
        .route("/admin/bans/{id}/lift", post(lift_ban))
        .route("/admin/premoderation", post(set_premoderation))
        .route("/admin/audit", get(audit_page))
        .route("/admin/waves", get(waves_page))
        .layer(from_fn(security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::http::MAX_BODY_BYTES,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(from_fn(crate::http::error::refuse_declared_oversize))
        .layer(from_fn(crate::http::error::json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(console)
}

async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// What every console handler needs to know of its request.
struct Req {
    lang: Lang,
    ip: IpAddr,
    https: bool,
    cookie: Option<String>,
    session: Option<SessionInfo>,
    /// The script's fetches ask for JSON; forms get pages and redirects.
    json: bool,
    csrf_header: Option<String>,
    /// A moderator named by a valid bearer token (scripts; no CSRF needed: not ambient).
    bearer: Option<ModeratorName>,
    /// Path and query without `lang`.
    here: String,
    /// Whether an `Origin` header names another site.
    foreign_origin: bool,
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

fn without_lang(uri: &axum::http::Uri) -> String {
    let query: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
        .collect();
    if query.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), query.join("&"))
    }
}

impl FromRequestParts<Console> for Req {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, c: &Console) -> Result<Self, Self::Rejection> {
        let lang = lang_of(parts);
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, c).await;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip());
        let forwarded_https = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        let trusted_peer =
            peer.is_some_and(|p| c.app.trusted_proxies.iter().any(|n| n.contains(&p)));
        let https = match c.config.secure_cookies {
            SecureCookies::Always => true,
            SecureCookies::Never => false,
            SecureCookies::Auto => trusted_peer && forwarded_https,
        };
        let cookie = cookie_value(&parts.headers);
        let session = cookie
            .as_deref()
            .and_then(|v| c.sessions.get(v, Instant::now()));
        let json = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        let csrf_header = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bearer = if parts.headers.contains_key(header::AUTHORIZATION) {
            match Moderator::from_request_parts(parts, c).await {
                Ok(Moderator(name)) => Some(name),
                Err(e) => return Err(e.into_response()),
            }
        } else {
            None
        };
        // Defence in depth beside SameSite=Strict and the CSRF token: a browser names the
        // page that sent a form in `Origin`; one from another host is refused. A proxy that
        // rewrites `Host` passes the original in `X-Forwarded-Host`, which is accepted too.
        let hosts: Vec<&str> = [header::HOST.as_str(), "x-forwarded-host"]
            .iter()
            .filter_map(|h| parts.headers.get(*h).and_then(|v| v.to_str().ok()))
            .collect();
        let foreign_origin = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|o| {
                let rest = o.split_once("://").map_or(o, |(_, r)| r);
                o != "null" && !hosts.contains(&rest)
            });
        Ok(Req {
            lang,
            ip,
            https,
            cookie,
            session,
            json,
            csrf_header,
            bearer,
            here: without_lang(&parts.uri),
            foreign_origin,
        })
    }
}

impl Req {
    fn chrome<'a>(&'a self, s: &'a SessionInfo) -> Chrome<'a> {
        Chrome {
            lang: self.lang,
            name: s.name.as_str(),
            csrf: &s.csrf,
            here: self.here.clone(),
            can_undo: s.undo.is_some(),
        }
    }

    fn to_login(&self) -> Response {
        if self.json {
            return ApiError::Unauthorized.render(self.lang);
        }
        Redirect::to(&format!("/admin/login?lang={}", self.lang.tag())).into_response()
    }

    /// The session of a state-changing request whose CSRF token (field or header) matches.
    fn checked(&self, field: Option<&str>) -> Result<&SessionInfo, Box<Response>> {
        let Some(s) = &self.session else {
            return Err(Box::new(self.to_login()));
        };
        let sent = field.or(self.csrf_header.as_deref()).unwrap_or("");
        if self.foreign_origin || !s.csrf_ok(sent) {
            return Err(Box::new(self.fail(ApiError::CsrfInvalid {
                foreign_site: false,
            })));
        }
        Ok(s)
    }

    /// An error as JSON for the script, as a page for a form.
    fn fail(&self, e: ApiError) -> Response {
        if self.json {
            return e.render(self.lang);
        }
        let title = console_words(self.lang).common.refused;
        let chrome = self.session.as_ref().map(|s| self.chrome(s));
        let mut text = e.message(self.lang);
        for detail in e.fields(self.lang).iter().flat_map(|f| f.values()) {
            text.push(' ');
            text.push_str(detail);
        }
        html_response(
            e.status(),
            pages::message(self.lang, title, &text, chrome.as_ref()),
        )
    }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

fn session_cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let cookie = cookie::Cookie::build((COOKIE, value.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/admin")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age).unwrap_or(i64::MAX),
        ))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Where a form goes back to: a console path only, never another site.
fn safe_return(to: Option<&str>, lang: Lang) -> String {
    match to {
        Some(t)
            if (t == "/admin"
                || t.starts_with("/admin?")
                || t.starts_with("/admin/comments/")
                || t.starts_with("/admin/waves"))
                && !t.contains(['\\', '\r', '\n']) =>
        {
            t.to_string()
        }
        _ => format!("/admin?lang={}", lang.tag()),
    }
}

/// Form fields as pairs: repeated names (bulk `item`) are kept, unlike a struct.
fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .take(MAX_BULK + 16)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn parse_action(s: &str) -> Option<ModeratorAction> {
    serde_json::from_value(Value::String(s.to_string())).ok()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
        .into_response()
}

async fn login_page(State(c): State<Console>, req: Req) -> Response {
    if req.session.is_some() {
        return Redirect::to(&format!("/admin?lang={}", req.lang.tag())).into_response();
    }
    html_response(
        StatusCode::OK,
        pages::login(req.lang, None, "", c.accounts.is_empty()),
    )
}

async fn login(State(c): State<Console>, req: Req, body: Bytes) -> Response {
    let lang = req.lang;
    let fields = parse_form(&body);
    let name = field(&fields, "name").unwrap_or("").trim().to_string();
    let password = field(&fields, "password").unwrap_or("");
    if req.foreign_origin {
        return req.fail(ApiError::CsrfInvalid { foreign_site: true });
    }
    if let Err(wait) = c.logins.attempt(req.ip, &name) {
        metrics::counter!("saring_console_login_throttled_total").increment(1);
        let text = messages::login_throttled(lang, wait);
        let mut resp = html_response(
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(lang, Some(&text), &name, c.accounts.is_empty()),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    match c.accounts.verify(&name, password).await {
        Ok(Some(account)) => {
            let now = Instant::now();
            c.sessions.purge(now);
            let value = c.sessions.create(&account, now);
            tracing::info!(moderator = %account, "console login");
            let mut resp = Redirect::to(&format!("/admin?lang={}", lang.tag())).into_response();
            resp.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&value, c.config.session_absolute_seconds, req.https),
            );
            resp
        }
        Ok(None) => {
            metrics::counter!("saring_console_login_failures_total").increment(1);
            html_response(
                StatusCode::UNAUTHORIZED,
                pages::login(
                    lang,
                    Some(console_words(lang).login.wrong),
                    &name,
                    c.accounts.is_empty(),
                ),
            )
        }
        Err(e) => req.fail(ApiError::internal(e)),
    }
}

async fn logout(State(c): State<Console>, req: Req, body: Bytes) -> Response {
    let fields = parse_form(&body);
    if let Err(r) = req.checked(field(&fields, "csrf")) {
        return *r;
    }
    if let Some(v) = &req.cookie {
        c.sessions.remove(v);
    }
    let mut resp = Redirect::to(&format!("/admin/login?lang={}", req.lang.tag())).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0, req.https));
    resp
}

#[derive(Deserialize, Default)]
struct QueueQuery {
    queue: Option<String>,
    q: Option<String>,
    thread: Option<String>,
    email: Option<String>,
    address: Option<String>,
    domain: Option<String>,
    order: Option<String>,
    after: Option<String>,
    notice: Option<String>,
}

fn invalid(field: &str, text: Text) -> ApiError {
    ApiError::InvalidQuery {
        field: field.to_string(),
        hint: FieldText::Text(text),
    }
}

/// The address filter as the projections store it: an address becomes its group.
fn address_key(typed: &str) -> String {
    let t = typed.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
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

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

async fn queue_page(State(c): State<Console>, req: Req, Query(q): Query<QueueQuery>) -> Response {
    let lang = req.lang;
    let Some(session) = &req.session else {
        return req.to_login();
    };
    let queue = match q.queue.as_deref().unwrap_or("pending") {
        "" => ConsoleQueue::Pending,
        other => match ConsoleQueue::parse(other) {
            Some(queue) => queue,
            None => {
                return req.fail(invalid("queue", Text::ConsoleQueue));
            }
        },
    };
    let fields = [&q.q, &q.thread, &q.email, &q.address, &q.domain];
    if fields.iter().any(|f| {
        f.as_deref()
            .is_some_and(|v| v.chars().count() > MAX_FILTER_CHARS)
    }) {
        return req.fail(invalid("q", Text::FilterTooLong));
    }
    let order = match q.order.as_deref() {
        None | Some("" | "oldest") => SortOrder::Oldest,
        Some("newest") => SortOrder::Newest,
        Some(_) => {
            return req.fail(invalid("order", Text::Order));
        }
    };
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => match Cursor::decode(a) {
            Some(c) => Some(c),
            None => {
                return req.fail(invalid("after", Text::Cursor));
            }
        },
    };
    let filter = QueueFilter {
        thread: non_empty(&q.thread),
        email: non_empty(&q.email),
        address: non_empty(&q.address).map(|a| address_key(&a)),
        domain: non_empty(&q.domain),
        text: non_empty(&q.q),
    };
    let filters = Filters {
        q: q.q.clone().unwrap_or_default(),
        thread: q.thread.clone().unwrap_or_default(),
        email: q.email.clone().unwrap_or_default(),
        address: q.address.clone().unwrap_or_default(),
        domain: q.domain.clone().unwrap_or_default(),
        newest: order == SortOrder::Newest,
    };
    let now = Utc::now();
    let wanted = filter.clone();
    let read = c
        .app
        .service
        .view()
        .query(move |p| {
            let stats: Vec<_> = ConsoleQueue::ALL
                .into_iter()
                .map(|queue| (queue, p.queue_stats(queue)))
                .collect();
            let page = p.queue_search(queue, &wanted, order, after, PAGE_SIZE);
            let ids: Vec<CommentId> = page.items.iter().map(|r| CommentId::from(r.id)).collect();
            (stats, ids, page.next, page.matching)
        })
        .await;
    let (stats, ids, next, matching) = match read {
        Ok(read) => read,
        Err(e) => return req.fail(e.into()),
    };
    let mut cards = Vec::with_capacity(ids.len());
    for id in ids {
        match load_card(&c, id, None).await {
            Ok(Some(card)) => cards.push(card),
            Ok(None) => {}
            Err(e) => return req.fail(e.into()),
        }
    }
    let base = |after: Option<&Cursor>| {
        let mut url = form_urlencoded::Serializer::new(String::from("/admin?"));
        url.append_pair("queue", queue.as_str());
        for (k, v) in [
            ("q", &filters.q),
            ("thread", &filters.thread),
            ("email", &filters.email),
            ("address", &filters.address),
            ("domain", &filters.domain),
        ] {
            if !v.is_empty() {
                url.append_pair(k, v);
            }
        }
        if filters.newest {
            url.append_pair("order", "newest");
        }
        if let Some(a) = after {
            url.append_pair("after", &a.encode());
        }
        url.append_pair("lang", lang.tag());
        url.finish()
    };
    let notice = q.notice.as_deref().and_then(|n| notice_text(lang, n));
    let page = pages::QueuePage {
        queue,
        stats,
        filters: &filters,
        cards,
        matching,
        next: next.as_ref().map(|n| base(Some(n))),
        notice,
        now,
        return_to: base(after.as_ref()),
    };
    html_response(StatusCode::OK, pages::queue(&req.chrome(session), &page))
}

fn notice_text(lang: Lang, code: &str) -> Option<String> {
    let w = &console_words(lang).queue;
    let text = match code {
        "undone" => w.undone,
        "nothing" => w.nothing_to_undo,
        "requeue" => w.requeue_refused,
        _ => return None,
    };
    Some(text.to_string())
}

/// A card from the store (original text, verdict, history) and the projections (author,
/// parent, reported).
async fn load_card(
    c: &Console,
    id: CommentId,
    conflict: Option<Conflict>,
) -> Result<Option<Card>, crate::store::StoreError> {
    let Some(view) = c.app.service.moderator_view(id).await? else {
        return Ok(None);
    };
    Ok(Some(card_from(c, view, conflict).await?))
}

/// The card's projection facts are read on the read pool (the author record is a query over
/// the author's comments, not a lookup), and a failed read fails the card (`503`) rather than
/// showing an author without history or a reply without its parent.
async fn card_from(
    c: &Console,
    view: ModeratorView,
    conflict: Option<Conflict>,
) -> Result<Card, crate::store::StoreError> {
    let (email, parent_id, id) = (view.author_email.clone(), view.parent_id, view.id);
    let (author, parent, reported) = c
        .app
        .service
        .view()
        .query(move |p| {
            let author = p.author_record(&email);
            let parent = parent_id
                .and_then(|pid| p.comment(pid))
                .map(|r| (r.author_name, r.body_html));
            let reported = p.is_reported(id);
            (author, parent, reported)
        })
        .await?;
    let article = c.config.article_link(&view.thread);
    let premoderated = c.app.service.is_premoderated(&view.thread);
    Ok(Card {
        view,
        reported,
        author,
        parent,
        article,
        conflict,
        premoderated,
    })
}

/// Who made the comment's latest decision, for a conflict notice.
fn latest_decision(view: &ModeratorView) -> Conflict {
    let last = view
        .history
        .iter()
        .rev()
        .find(|h| h.actor.starts_with("moderator:"))
        .or(view.history.last());
    Conflict {
        by: last.map_or_else(|| "system".into(), |h| h.actor.clone()),
        event: last.map_or_else(String::new, |h| h.event.clone()),
    }
}

async fn comment_page(State(c): State<Console>, req: Req, Path(id): Path<String>) -> Response {
    let Some(session) = &req.session else {
        return req.to_login();
    };
    let Ok(id) = CommentId::parse(&id) else {
        return req.fail(ApiError::NotFound);
    };
    match load_card(&c, id, None).await {
        Ok(Some(card)) => {
            if req.json {
                let html =
                    pages::card(req.lang, &session.csrf, &card, "/admin", Utc::now()).into_string();
                return axum::Json(json!({ "id": id, "status": card.view.status, "version": card.view.version, "card": html })).into_response();
            }
            html_response(
                StatusCode::OK,
                pages::card_page(&req.chrome(session), &card, Utc::now()),
            )
        }
        Ok(None) => req.fail(ApiError::NotFound),
        Err(e) => req.fail(e.into()),
    }
}

/// The result of one decision, for a card or a bulk line.
enum Decided {
    Done(Box<ModeratorView>, CommentStatus),
    Stale(Box<ModeratorView>),
    Failed(ApiError),
}

async fn decide_one(
    c: &Console,
    name: &ModeratorName,
    id: CommentId,
    action: ModeratorAction,
    expected: u64,
    reason: &str,
) -> Decided {
    // The status before, for undo: read at the version the moderator saw.
    let before = match c.app.service.moderator_view(id).await {
        Ok(Some(v)) if v.version == expected => v.status,
        Ok(Some(v)) => return Decided::Stale(Box::new(v)),
        Ok(None) => return Decided::Failed(ApiError::NotFound),
        Err(e) => return Decided::Failed(e.into()),
    };
    match c
        .app
        .service
        .decide(id, action, name, reason, expected)
        .await
    {
        Ok(_) => match c.app.service.moderator_view(id).await {
            Ok(Some(view)) => Decided::Done(Box::new(view), before),
            Ok(None) => Decided::Failed(ApiError::NotFound),
            Err(e) => Decided::Failed(e.into()),
        },
        Err(CommandError::Refused(DecisionRefusal::Stale(current))) => Decided::Stale(current),
        Err(e) => Decided::Failed(e.into()),
    }
}

async fn decision(
    State(c): State<Console>,
    req: Req,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let lang = req.lang;
    let fields = parse_form(&body);
    let session = match req.checked(field(&fields, "csrf")) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(id) = CommentId::parse(&id) else {
        return req.fail(ApiError::NotFound);
    };
    let Some(action) = field(&fields, "action").and_then(parse_action) else {
        return req.fail(invalid("action", Text::UnknownAction));
    };
    let Some(expected) = field(&fields, "expected_version").and_then(|v| v.parse::<u64>().ok())
    else {
        return req.fail(invalid("expected_version", Text::ExpectedVersionRequired));
    };
    let reason = field(&fields, "reason").unwrap_or("");
    if reason.chars().count() > input::MAX_REASON_CHARS {
        return req.fail(invalid("reason", Text::ReasonTooLong));
    }
    let back = safe_return(field(&fields, "return_to"), lang);
    match decide_one(&c, &session.name, id, action, expected, reason).await {
        Decided::Done(view, before) => {
            if let Some(cookie) = &req.cookie {
                c.sessions.set_undo(
                    cookie,
                    Some(Undo {
                        id,
                        before,
                        action,
                        version_after: view.version,
                    }),
                );
            }
            if req.json {
                return axum::Json(
                    json!({ "ok": true, "id": id, "status": view.status, "version": view.version }),
                )
                .into_response();
            }
            Redirect::to(&back).into_response()
        }
        Decided::Stale(current) => conflict_response(&c, &req, session, *current).await,
        Decided::Failed(e) => req.fail(e),
    }
}

async fn conflict_response(
    c: &Console,
    req: &Req,
    session: &SessionInfo,
    current: ModeratorView,
) -> Response {
    let lang = req.lang;
    let conflict = latest_decision(&current);
    let by = pages::actor_name(&conflict.by).to_string();
    let what = console_words(lang).event.of(&conflict.event);
    let card = match card_from(c, current, Some(conflict)).await {
        Ok(card) => card,
        Err(e) => return req.fail(e.into()),
    };
    let now = Utc::now();
    if req.json {
        let html = pages::card(lang, &session.csrf, &card, "/admin", now).into_string();
        let message = messages::decided_first(lang, &by, what);
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({
                "ok": false,
                "error": { "code": "stale_version", "message": message },
                "by": by,
                "status": card.view.status,
                "version": card.view.version,
                "card": html,
            })),
        )
            .into_response();
    }
    html_response(
        StatusCode::CONFLICT,
        pages::card_page(&req.chrome(session), &card, now),
    )
}

/// The action that takes a comment back to where it was before `u`, if the domain has one.
fn inverse(u: &Undo) -> Option<ModeratorAction> {
    use ModeratorAction as A;
    if u.action == A::Delete {
        return Some(A::Restore);
    }
    Some(match u.before {
        CommentStatus::Published => A::Approve,
        CommentStatus::Spam => A::Spam,
        CommentStatus::Rejected => A::Reject,
        CommentStatus::Deleted => A::Delete,
        CommentStatus::Pending => A::Requeue,
    })
}

async fn undo(State(c): State<Console>, req: Req, body: Bytes) -> Response {
    let lang = req.lang;
    let fields = parse_form(&body);
    let session = match req.checked(field(&fields, "csrf")) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let back = |notice: &str, extra: Option<CommentId>| {
        let to = match extra {
            Some(id) => format!("/admin/comments/{id}?lang={}", lang.tag()),
            None => format!("/admin?lang={}&notice={notice}", lang.tag()),
        };
        Redirect::to(&to).into_response()
    };
    let Some(u) = session.undo.clone() else {
        if req.json {
            return (
                StatusCode::CONFLICT,
                axum::Json(json!({ "ok": false, "error": { "code": "nothing_to_undo", "message": notice_text(lang, "nothing") } })),
            )
                .into_response();
        }
        return back("nothing", None);
    };
    let cookie = req.cookie.clone().unwrap_or_default();
    let Some(action) = inverse(&u) else {
        c.sessions.set_undo(&cookie, None);
        return match load_card(&c, u.id, None).await {
            Ok(Some(card)) if req.json => {
                let html =
                    pages::card(lang, &session.csrf, &card, "/admin", Utc::now()).into_string();
                axum::Json(json!({ "ok": true, "undone": false, "id": u.id, "status": card.view.status, "version": card.view.version, "message": notice_text(lang, "requeue"), "card": html })).into_response()
            }
            Ok(Some(_)) => back("requeue", Some(u.id)),
            Ok(None) => req.fail(ApiError::NotFound),
            Err(e) => req.fail(e.into()),
        };
    };
    let reason = "undo";
    match decide_one(&c, &session.name, u.id, action, u.version_after, reason).await {
        Decided::Done(view, _) => {
            c.sessions.set_undo(&cookie, None);
            if req.json {
                let card = match card_from(&c, *view, None).await {
                    Ok(card) => card,
                    Err(e) => return req.fail(e.into()),
                };
                let html =
                    pages::card(lang, &session.csrf, &card, "/admin", Utc::now()).into_string();
                return axum::Json(json!({ "ok": true, "undone": true, "id": u.id, "status": card.view.status, "version": card.view.version, "message": notice_text(lang, "undone"), "card": html })).into_response();
            }
            back("undone", None)
        }
        Decided::Stale(current) => {
            c.sessions.set_undo(&cookie, None);
            conflict_response(&c, &req, session, *current).await
        }
        Decided::Failed(e) => req.fail(e),
    }
}

#[derive(Deserialize)]
struct BulkItem {
    id: String,
    expected_version: u64,
}

#[derive(Deserialize)]
struct BulkBody {
    action: String,
    #[serde(default)]
    csrf: Option<String>,
    items: Vec<BulkItem>,
}

async fn bulk(State(c): State<Console>, req: Req, headers: HeaderMap, body: Bytes) -> Response {
    let lang = req.lang;
    let is_json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let (action, csrf, mut items, return_to, wave) = if is_json_body {
        match serde_json::from_slice::<BulkBody>(&body) {
            Ok(b) => (
                b.action,
                b.csrf,
                b.items
                    .into_iter()
                    .map(|i| {
                        (
                            crate::http::moderation::bulk_target(i.id),
                            Some(i.expected_version),
                        )
                    })
                    .collect::<Vec<_>>(),
                None,
                None,
            ),
            Err(e) => {
                let detail = Some(e.to_string().chars().take(200).collect());
                return ApiError::InvalidBodyShape { detail }.render(lang);
            }
        }
    } else {
        let fields = parse_form(&body);
        let mut items: Vec<crate::http::moderation::BulkAsk> = fields
            .iter()
            .filter(|(k, _)| k == "item")
            .map(|(_, v)| {
                let (id, version) = match v.split_once(':') {
                    Some((id, ver)) => (id.to_string(), ver.parse::<u64>().ok()),
                    None => (v.clone(), None),
                };
                (crate::http::moderation::bulk_target(id), version)
            })
            .collect();
        // "Everything pending from this author / address / domain / with this text".
        let selector = crate::http::moderation::BulkSelector {
            email: field(&fields, "select_email").map(String::from),
            address: field(&fields, "select_address").map(String::from),
            domain: field(&fields, "select_domain").map(String::from),
            same_text_as: field(&fields, "select_text").map(String::from),
            thread: None,
            wave: None,
        };
        let selecting = [
            &selector.email,
            &selector.address,
            &selector.domain,
            &selector.same_text_as,
        ]
        .iter()
        .any(|v| v.is_some());
        if items.is_empty() && selecting {
            match selector.resolve_in(c.app.service.view()).await {
                Err(e) => return req.fail(e.into()),
                Ok(Ok((found, _))) => {
                    items = found.into_iter().map(|(id, v)| (Ok(id), Some(v))).collect();
                }
                Ok(Err(field)) => {
                    return req.fail(invalid(field, Text::ConsoleSelector));
                }
            }
        }
        (
            field(&fields, "action").unwrap_or("").to_string(),
            field(&fields, "csrf").map(String::from),
            items,
            field(&fields, "return_to").map(String::from),
            // A wave's decision is recorded, so it is resolved after the CSRF check below.
            field(&fields, "select_wave").map(String::from),
        )
    };
    // A bearer token names the moderator for scripts; otherwise a session with its CSRF token.
    let (name, session) = match &req.bearer {
        Some(name) => (name.clone(), None),
        None => match req.checked(csrf.as_deref()) {
            Ok(s) => (s.name.clone(), Some(s)),
            Err(r) => return *r,
        },
    };
    let Some(action) = parse_action(&action) else {
        return req.fail(invalid("action", Text::UnknownAction));
    };
    let mut comment_reason = "bulk".to_string();
    let max = match wave {
        Some(wave) if items.is_empty() => {
            comment_reason = format!("wave {}", wave.trim());
            let selector = crate::http::moderation::BulkSelector {
                wave: Some(wave),
                ..Default::default()
            };
            let reason = console_words(lang).waves.reason;
            match crate::http::moderation::wave_items(
                &c.app.service,
                &selector,
                action,
                &name,
                reason,
            )
            .await
            {
                // A wave whose comments were all decided one by one already: nothing to do,
                // but the wave is closed now.
                Ok(found) if found.is_empty() => {
                    return Redirect::to(&format!(
                        "/admin/waves?lang={}&notice=closed",
                        lang.tag()
                    ))
                    .into_response();
                }
                Ok(found) => {
                    items = found.into_iter().map(|(id, v)| (Ok(id), Some(v))).collect();
                }
                Err(e) => return req.fail(e),
            }
            crate::service::waves::MAX_WAVE_DECISION
        }
        _ => MAX_BULK,
    };
    if items.is_empty() || items.len() > max {
        return req.fail(invalid("items", Text::ConsoleItems));
    }
    let results: Vec<Value> = futures::stream::iter(items)
        .map(|(target, expected)| {
            let (c, name, reason) = (&c, &name, comment_reason.as_str());
            async move {
                let id = match target {
                    Ok(id) => id,
                    Err(raw_id) => return json!({ "id": raw_id, "result": "not_found" }),
                };
                let Some(expected) = expected else {
                    return json!({ "id": id, "result": "invalid", "message": Text::ExpectedVersionRequired.get(lang) });
                };
                match decide_one(c, name, id, action, expected, reason).await {
                    Decided::Done(v, _) => json!({ "id": id, "result": "done", "status": v.status, "version": v.version }),
                    Decided::Stale(v) => {
                        let who = latest_decision(&v);
                        json!({ "id": id, "result": "stale", "status": v.status, "version": v.version,
                                "by": pages::actor_name(&who.by), "event": who.event })
                    }
                    Decided::Failed(e) if e.status() == StatusCode::NOT_FOUND => json!({ "id": id, "result": "not_found" }),
                    Decided::Failed(e) => json!({ "id": id, "result": e.code(), "message": e.message(lang) }),
                }
            }
        })
        .buffered(BULK_CONCURRENCY)
        .collect()
        .await;
    // A bulk decision replaces the single undo: undoing 500 comments is not one keystroke.
    if let (Some(cookie), Some(_)) = (&req.cookie, session) {
        c.sessions.set_undo(cookie, None);
    }
    if req.json || req.bearer.is_some() || is_json_body {
        let done = results.iter().filter(|r| r["result"] == "done").count();
        return axum::Json(
            json!({ "action": pages::action_name(action), "done": done, "results": results }),
        )
        .into_response();
    }
    let Some(session) = session else {
        return req.to_login();
    };
    let words = console_words(lang);
    let lines: Vec<(String, String)> = results
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let text = match r["result"].as_str().unwrap_or_default() {
                "done" => words.queue.bulk_done.to_string(),
                "stale" => format!(
                    "{} {} {}",
                    words.queue.bulk_decided_by,
                    r["by"].as_str().unwrap_or_default(),
                    words.event.of(r["event"].as_str().unwrap_or_default())
                ),
                "not_found" => words.queue.bulk_not_found.to_string(),
                other => format!("{other}: {}", r["message"].as_str().unwrap_or_default()),
            };
            (id, text)
        })
        .collect();
    let back = safe_return(return_to.as_deref(), lang);
    html_response(
        StatusCode::OK,
        pages::bulk_result(&req.chrome(session), &lines, &back),
    )
}

#[derive(Deserialize)]
struct BansQuery {
    q: Option<String>,
    kind: Option<String>,
    value: Option<String>,
    notice: Option<String>,
}

fn bans_notice(lang: Lang, code: &str) -> Option<String> {
    let w = &console_words(lang).bans;
    let text = match code {
        "placed" => w.placed,
        "lifted" => w.lifted,
        _ => return None,
    };
    Some(text.to_string())
}

async fn bans_page(State(c): State<Console>, req: Req, Query(q): Query<BansQuery>) -> Response {
    let Some(session) = &req.session else {
        return req.to_login();
    };
    let lang = req.lang;
    let fields = [&q.q, &q.kind, &q.value];
    if fields.iter().any(|f| {
        f.as_deref()
            .is_some_and(|v| v.chars().count() > MAX_FILTER_CHARS)
    }) {
        return req.fail(invalid("q", Text::FilterTooLong));
    }
    let now = Utc::now();
    let bans = c.app.service.list_bans(q.q.as_deref().unwrap_or(""), now);
    let mut notice = q.notice.as_deref().and_then(|n| bans_notice(lang, n));
    if let Some(spammed) = q.notice.as_deref().and_then(|n| n.strip_prefix("placed-"))
        && let Ok(n) = spammed.parse::<usize>()
    {
        notice = Some(messages::ban_placed(lang, n));
    }
    let page = super::bans_page::BansPage {
        bans: &bans,
        q: q.q.as_deref().unwrap_or(""),
        kind: q.kind.as_deref().unwrap_or("email"),
        value: q.value.as_deref().unwrap_or(""),
        notice,
        now,
    };
    html_response(
        StatusCode::OK,
        super::bans_page::bans(&req.chrome(session), &page),
    )
}

async fn place_ban(State(c): State<Console>, req: Req, body: Bytes) -> Response {
    let lang = req.lang;
    let fields = parse_form(&body);
    let session = match req.checked(field(&fields, "csrf")) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let hours = match field(&fields, "expires_in_hours").map(str::trim) {
        None | Some("") => None,
        Some(h) => match h.parse::<u32>() {
            Ok(h) => Some(h),
            Err(_) => {
                return req.fail(invalid("expires_in_hours", Text::BanHours));
            }
        },
    };
    let ban = crate::http::moderation::BanBody {
        kind: field(&fields, "kind").unwrap_or("").to_string(),
        value: field(&fields, "value").unwrap_or("").to_string(),
        reason: field(&fields, "reason").unwrap_or("").to_string(),
        expires_in_hours: hours,
        expires_at: None,
        spam_existing: field(&fields, "spam_existing").is_some(),
    };
    let request = match ban.to_request() {
        Ok(r) => r,
        Err(e) => return req.fail(e),
    };
    match c.app.service.place_ban(request, &session.name).await {
        Ok(placed) => {
            if req.json {
                return axum::Json(placed).into_response();
            }
            let notice = if ban.spam_existing {
                format!("placed-{}", placed.spammed)
            } else {
                "placed".into()
            };
            Redirect::to(&format!("/admin/bans?lang={}&notice={notice}", lang.tag()))
                .into_response()
        }
        Err(e) => req.fail(e.into()),
    }
}

async fn lift_ban(
    State(c): State<Console>,
    req: Req,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let lang = req.lang;
    let fields = parse_form(&body);
    let session = match req.checked(field(&fields, "csrf")) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return req.fail(ApiError::NotFound);
    };
    let reason = field(&fields, "reason").unwrap_or("");
    match c.app.service.lift_ban(id, &session.name, reason).await {
        Ok(()) if req.json => axum::Json(json!({ "ok": true, "id": id })).into_response(),
        Ok(()) => {
            Redirect::to(&format!("/admin/bans?lang={}&notice=lifted", lang.tag())).into_response()
        }
        Err(e) => req.fail(e.into()),
    }
}

async fn set_premoderation(State(c): State<Console>, req: Req, body: Bytes) -> Response {
    let lang = req.lang;
    let fields = parse_form(&body);
    let session = match req.checked(field(&fields, "csrf")) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(thread) = ThreadKey::parse(field(&fields, "thread").unwrap_or("")) else {
        return req.fail(ApiError::InvalidThread);
    };
    let on = field(&fields, "on") == Some("1");
    match c
        .app
        .service
        .set_premoderation(&thread, on, &session.name)
        .await
    {
        Ok(()) if req.json => {
            axum::Json(json!({ "ok": true, "thread": thread, "premoderated": on })).into_response()
        }
        Ok(()) => Redirect::to(&safe_return(field(&fields, "return_to"), lang)).into_response(),
        Err(CommandError::Refused(_)) => req.fail(ApiError::ThreadState {
            text: Text::ThreadSoAlready,
        }),
        Err(CommandError::Failed(f)) => req.fail(f.into()),
    }
}

async fn audit_page(
    State(c): State<Console>,
    req: Req,
    Query(q): Query<crate::http::moderation::AuditQuery>,
) -> Response {
    let Some(session) = &req.session else {
        return req.to_login();
    };
    let lang = req.lang;
    let (filter, limit) = match q.parse() {
        Ok(f) => f,
        Err(e) => return req.fail(e),
    };
    let lines = match c.app.service.audit_page(&filter, limit).await {
        Ok(l) => l,
        Err(e) => return req.fail(e.into()),
    };
    let next = (lines.len() == limit)
        .then(|| lines.last().map(|l| l.entry.position))
        .flatten()
        .map(|p| {
            let mut url = form_urlencoded::Serializer::new(String::from("/admin/audit?"));
            for (k, v) in [
                ("moderator", &q.moderator),
                ("comment", &q.comment),
                ("author", &q.author),
                ("since", &q.since),
                ("until", &q.until),
            ] {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    url.append_pair(k, v);
                }
            }
            url.append_pair("before", &p.to_string());
            url.append_pair("lang", lang.tag());
            url.finish()
        });
    let figures = match c.app.service.moderator_figures() {
        Ok(f) => f,
        Err(e) => return req.fail(e.into()),
    };
    let rules = c.app.service.rule_figures();
    html_response(
        StatusCode::OK,
        super::audit_page::audit(
            &req.chrome(session),
            &q,
            &lines,
            &figures,
            &rules,
            next.as_deref(),
        ),
    )
}

#[derive(Deserialize)]
struct WavesQuery {
    notice: Option<String>,
}

async fn waves_page(State(c): State<Console>, req: Req, Query(q): Query<WavesQuery>) -> Response {
    let Some(session) = &req.session else {
        return req.to_login();
    };
    let lang = req.lang;
    if let Err(e) = c.app.service.refresh_waves().await {
        return req.fail(e.into());
    }
    let waves = match c
        .app
        .service
        .wave_summaries(None, crate::service::waves::MAX_WAVE_LIST)
        .await
    {
        Ok(w) => w,
        Err(e) => return req.fail(e.into()),
    };
    let config = c.app.service.wave_config();
    let notice = match q.notice.as_deref() {
        Some("closed") => Some(console_words(lang).waves.closed.to_string()),
        _ => None,
    };
    let page = super::waves_page::WavesPage {
        waves: &waves,
        hold: config.hold,
        rules: config.rules(),
        notice,
        now: Utc::now(),
    };
    html_response(
        StatusCode::OK,
        super::waves_page::waves(&req.chrome(session), &page),
    )
}
