//! The one error type of the HTTP API: every refusal is JSON `{error: {code, message, fields}}`
//! in the request's language, with the status code a client can act on.
//!
//! [`ErrorKind`] is the one table of what can go wrong: each kind names its status and its
//! stable `code` once, and the README's error table is checked against it (a test below). The
//! sentences are in [`super::messages`].

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::messages::{self, Text};
use crate::captcha::{CaptchaError, Challenge};
use crate::i18n::Lang;

/// Declares [`ErrorKind`] with its status and code, so the table exists exactly once.
macro_rules! error_kinds {
    ($($(#[$doc:meta])* $kind:ident => $status:ident, $code:literal;)*) => {
        /// Every kind of error the API answers, with its status and code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $($(#[$doc])* $kind,)*
        }

        impl ErrorKind {
            /// Every kind, in the order of the table.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)*];

            /// The HTTP status.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorKind::$kind => StatusCode::$status,)*
                }
            }

            /// The stable snake_case code clients switch on.
            pub fn code(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $code,)*
                }
            }
        }
    };
}

error_kinds! {
    /// The body is not JSON, not a form, or not UTF-8.
    InvalidBody => BAD_REQUEST, "invalid_body";
    /// The thread key has other characters or is too long.
    InvalidThread => BAD_REQUEST, "invalid_thread";
    /// One query parameter is wrong; `fields` says which.
    InvalidQuery => BAD_REQUEST, "invalid_query";
    /// A request the endpoint cannot read (e.g. a repeated query parameter).
    InvalidRequest => BAD_REQUEST, "invalid_request";
    /// No valid moderator bearer token.
    Unauthorized => UNAUTHORIZED, "unauthorized";
    /// A wrong captcha answer.
    CaptchaWrong => FORBIDDEN, "captcha_wrong";
    /// An expired captcha token.
    CaptchaExpired => FORBIDDEN, "captcha_expired";
    /// A malformed, forged, burnt or foreign captcha token.
    CaptchaInvalid => FORBIDDEN, "captcha_invalid";
    /// The token asks for a proof-of-work stamp (`captcha_pow`) and the request has none.
    CaptchaPowMissing => FORBIDDEN, "captcha_pow_missing";
    /// The stamp does not reach the token's difficulty, or is not a number.
    CaptchaPowWrong => FORBIDDEN, "captcha_pow_wrong";
    /// Neither the sum's answer nor a "skip the sum" stamp, and the author is not trusted.
    CaptchaUnanswered => FORBIDDEN, "captcha_unanswered";
    /// A console form without its session's CSRF token, or sent from another site.
    CsrfInvalid => FORBIDDEN, "csrf_invalid";
    /// No such comment or route.
    NotFound => NOT_FOUND, "not_found";
    /// A method the path does not take.
    MethodNotAllowed => METHOD_NOT_ALLOWED, "method_not_allowed";
    /// The captcha token already produced a comment.
    CaptchaUsed => CONFLICT, "captcha_used";
    /// The thread is closed to new comments.
    ThreadClosed => CONFLICT, "thread_closed";
    /// The moderator's `expected_version` is behind.
    StaleVersion => CONFLICT, "stale_version";
    /// The action does not apply to the comment's status.
    IllegalTransition => CONFLICT, "illegal_transition";
    /// The comment is deleted; only restore applies.
    CommentDeleted => CONFLICT, "comment_deleted";
    /// Approving, or clearing as not spam, a comment whose body the retention pass purged.
    BodyPurged => CONFLICT, "body_purged";
    /// Closing a closed thread or reopening an open one.
    ThreadState => CONFLICT, "thread_state";
    /// A second report from one reader.
    AlreadyReported => CONFLICT, "already_reported";
    /// Reporting a hidden comment.
    NotReportable => CONFLICT, "not_reportable";
    /// The comment's stream holds as many events as the store keeps for one stream.
    StreamFull => CONFLICT, "stream_full";
    /// A ban of the same author or address is in force already.
    BanExists => CONFLICT, "ban_exists";
    /// As many bans as the service keeps are in force.
    TooManyBans => CONFLICT, "too_many_bans";
    /// A body over the limit.
    PayloadTooLarge => PAYLOAD_TOO_LARGE, "payload_too_large";
    /// Neither JSON nor a form.
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type";
    /// JSON of the wrong shape.
    InvalidBodyShape => UNPROCESSABLE_ENTITY, "invalid_body";
    /// Input rules failed; `fields` says which.
    InvalidInput => UNPROCESSABLE_ENTITY, "invalid_input";
    /// The policy forced a reject (recorded for the audit).
    CommentRejected => UNPROCESSABLE_ENTITY, "comment_rejected";
    /// A policy reload found invalid files; the old policy stays.
    PolicyInvalid => UNPROCESSABLE_ENTITY, "policy_invalid";
    /// A rate limit or the failed-login throttle.
    RateLimited => TOO_MANY_REQUESTS, "rate_limited";
    /// Something failed on the server; the cause is logged.
    Internal => INTERNAL_SERVER_ERROR, "internal";
    /// Busy: a timeout, full connection caps, or a stream that kept changing.
    Unavailable => SERVICE_UNAVAILABLE, "unavailable";
    /// The event store is away for now.
    StoreUnavailable => SERVICE_UNAVAILABLE, "store_unavailable";
    /// Readers' data cannot be erased on this store (it does not seal submissions).
    PrivacyUnsupported => NOT_IMPLEMENTED, "privacy_unsupported";
}

/// An error and its cause, as one line: `error: cause: cause of the cause`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// An API error. Internal causes are logged, never sent to the client.
#[derive(Debug)]
pub struct ApiError {
    /// What went wrong: the status and code come from here.
    pub kind: ErrorKind,
    /// A sentence for people, in the request's language.
    pub message: String,
    /// Messages per field, for `422`.
    pub fields: Option<BTreeMap<String, String>>,
    /// Seconds to wait, for `429` (also sent as `Retry-After`).
    pub retry_after: Option<u64>,
    /// A fresh captcha, for `403` and replays, so the reader keeps their text.
    pub captcha: Option<Box<Challenge>>,
    /// The current state of a resource, for `409` on a stale version.
    pub current: Option<serde_json::Value>,
}

impl ApiError {
    /// An error of `kind` with its default sentence in `lang`.
    pub fn of(kind: ErrorKind, lang: Lang) -> ApiError {
        ApiError {
            kind,
            message: messages::error(kind, lang).to_string(),
            fields: None,
            retry_after: None,
            captcha: None,
            current: None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The same error with another sentence.
    pub fn with_message(mut self, message: impl Into<String>) -> ApiError {
        self.message = message.into();
        self
    }

    /// `404 not_found`.
    pub fn not_found(lang: Lang) -> ApiError {
        ApiError::of(ErrorKind::NotFound, lang)
    }

    /// `500 internal`: logs the cause with its whole chain, tells the client nothing about it.
    pub fn internal(lang: Lang, cause: &dyn std::error::Error) -> ApiError {
        tracing::error!(error = chain(cause), "internal error");
        ApiError::of(ErrorKind::Internal, lang)
    }

    /// An event-store failure: `503 store_unavailable` with a `Retry-After` while the database
    /// is away (the request may simply be repeated), `500 internal` otherwise.
    /// A stream at the store's limit answers `409 stream_full`: a fact about the comment, not a
    /// failure of the server.
    pub fn store(lang: Lang, e: &crate::store::StoreError) -> ApiError {
        if let crate::store::StoreError::StreamFull { stream, limit } = e {
            tracing::warn!(stream, limit, "a command met a full stream");
            return ApiError::of(ErrorKind::StreamFull, lang);
        }
        if !e.is_unavailable() {
            return ApiError::internal(lang, e);
        }
        // The whole chain says why (refused, reset, timed out).
        tracing::warn!(error = chain(e), "event store unavailable");
        let mut error = ApiError::of(ErrorKind::StoreUnavailable, lang);
        error.retry_after = Some(2);
        error
    }

    /// A failed read of the projection database: `503 store_unavailable` with a
    /// `Retry-After` (the cause is logged where it failed), never an empty answer that looks
    /// true.
    pub fn projections(lang: Lang, e: &crate::store::projection_db::ProjectionDbError) -> ApiError {
        tracing::warn!(
            error = chain(e),
            "answered 503: the projection database cannot be read"
        );
        let mut error = ApiError::of(ErrorKind::StoreUnavailable, lang);
        error.retry_after = Some(2);
        error
    }

    /// `400 invalid_thread`: the one refusal of a thread key anywhere in the JSON API (a path,
    /// the captcha's or the counts' query), with the input rule's sentence under `thread`.
    pub fn invalid_thread(lang: Lang) -> ApiError {
        let problem = crate::domain::ValueError::ThreadKey.problem();
        let mut fields = BTreeMap::new();
        fields.insert(
            "thread".to_string(),
            super::messages::field_problem(problem, "thread", lang),
        );
        ApiError::of(ErrorKind::InvalidThread, lang).with_fields(fields)
    }

    /// `401 unauthorized`.
    pub fn unauthorized(lang: Lang) -> ApiError {
        ApiError::of(ErrorKind::Unauthorized, lang)
    }

    /// `429 rate_limited` with the wait in seconds.
    pub fn rate_limited(lang: Lang, retry_after: u64) -> ApiError {
        let mut e = ApiError::of(ErrorKind::RateLimited, lang)
            .with_message(messages::rate_limited(lang, retry_after));
        e.retry_after = Some(retry_after);
        e
    }

    /// `403` for a failed captcha, with a fresh challenge.
    pub fn captcha(lang: Lang, error: &CaptchaError, fresh: Box<Challenge>) -> ApiError {
        let kind = match error {
            CaptchaError::WrongAnswer => ErrorKind::CaptchaWrong,
            CaptchaError::Expired => ErrorKind::CaptchaExpired,
            CaptchaError::PowMissing => ErrorKind::CaptchaPowMissing,
            CaptchaError::PowWrong => ErrorKind::CaptchaPowWrong,
            CaptchaError::Unanswered => ErrorKind::CaptchaUnanswered,
            _ => ErrorKind::CaptchaInvalid,
        };
        let mut e = ApiError::of(kind, lang);
        e.captcha = Some(fresh);
        e
    }

    /// `400 invalid_query`: one query parameter is wrong; the field message says how.
    pub fn invalid_param(lang: Lang, field: &str, hint: Text) -> ApiError {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_string(), hint.get(lang).to_string());
        ApiError::of(ErrorKind::InvalidQuery, lang).with_fields(fields)
    }

    /// Attaches field messages.
    pub fn with_fields(mut self, fields: BTreeMap<String, String>) -> ApiError {
        self.fields = Some(fields);
        self
    }
}

/// Gives every refusal the API's JSON shape, including those no handler wrote: unknown routes
/// (404), wrong methods (405), malformed query strings (400), timeouts (503). Responses that
/// already carry a body type (JSON errors, HTML pages) pass untouched.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let lang = super::lang::lang_of(&parts);
    // Handlers' `ReqLang` reads it from here rather than negotiating a second time.
    parts.extensions.insert(super::lang::ReqLang(lang));
    let response = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    reshape(response, lang)
}

/// Refuses at once a request whose declared `Content-Length` is over [`super::MAX_BODY_BYTES`]:
/// waiting for a body that will be refused anyway let a client hold a request open for the
/// whole request timeout. The connection is closed, as the unread body cannot be skipped.
pub async fn refuse_declared_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::MAX_BODY_BYTES as u64) {
        let lang = super::lang::lang_of(&request.into_parts().0);
        let mut response = ApiError::of(ErrorKind::PayloadTooLarge, lang).into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}

fn reshape(response: Response, lang: Lang) -> Response {
    let status = response.status();
    let typed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let is_api_shaped =
        typed.is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_api_shaped {
        return response;
    }
    let kind = match status {
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorKind::MethodNotAllowed,
        StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::PayloadTooLarge,
        s if s.is_server_error() => ErrorKind::Internal,
        _ => ErrorKind::InvalidRequest,
    };
    // The status stays the one the framework chose (e.g. a 408 keeps 408).
    let mut error = ApiError::of(kind, lang);
    if let Some(v) = response.headers().get(header::ALLOW) {
        error.message = format!("{} ({})", error.message, v.to_str().unwrap_or_default());
    }
    let mut response = error.into_response();
    *response.status_mut() = status;
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.kind.code(), "message": self.message });
        if let Some(fields) = &self.fields {
            error["fields"] = json!(fields);
        }
        if let Some(secs) = self.retry_after {
            error["retry_after"] = json!(secs);
        }
        let mut body = json!({ "error": error });
        if let Some(c) = &self.captcha {
            body["captcha"] = json!(c);
        }
        if let Some(current) = self.current {
            body["current"] = current;
        }
        let mut resp = (self.kind.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The (status, code) pairs of the README's error table.
    fn readme_table() -> BTreeSet<(u16, String)> {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("### Input errors")
            .nth(1)
            .expect("the README has an error table")
            .split("\n## ")
            .next()
            .unwrap_or_default();
        let mut pairs = BTreeSet::new();
        for row in section.lines().filter(|l| l.starts_with("| ")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let Ok(status) = cells[1].parse::<u16>() else {
                continue;
            };
            for code in cells[2].split(',') {
                pairs.insert((status, code.trim().trim_matches('`').to_string()));
            }
        }
        pairs
    }

    #[test]
    fn the_readme_error_table_lists_exactly_the_error_kinds() {
        let table: BTreeSet<(u16, String)> = ErrorKind::ALL
            .iter()
            .map(|k| (k.status().as_u16(), k.code().to_string()))
            .collect();
        let readme = readme_table();
        let missing: Vec<_> = table.difference(&readme).collect();
        let extra: Vec<_> = readme.difference(&table).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "not in the README: {missing:?}; in the README only: {extra:?}"
        );
    }

    #[test]
    fn every_kind_has_its_own_status_and_code_pair() {
        let pairs: BTreeSet<_> = ErrorKind::ALL
            .iter()
            .map(|k| (k.status(), k.code()))
            .collect();
        assert_eq!(pairs.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn a_cause_is_logged_with_its_whole_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("connection refused"));
        assert_eq!(chain(&e), "outer: connection refused");
    }
}
