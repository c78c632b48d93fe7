//! The one error type of the HTTP API: every refusal is JSON `{error: {code, message, fields}}`
//! in the request's language, with the status code a client can act on.
//!
//! [`ApiError`] has one variant per refusal, declared in ONE table below with its status and
//! its stable `code` (the README's error table is checked against it by a test). Its
//! field-less twin [`ErrorKind`] is generated from the same table, for the message catalogue
//! and the console. The variants carry facts, not words: the sentences are in
//! [`super::messages`] and are rendered in the request's language when the error is answered,
//! so the service's refusals convert with `From` (`?` in handlers) without knowing the language.
//! [`IntoResponse`] renders the default language and leaves the error in the response's
//! extensions; the [`json_errors`] middleware, which has negotiated the language, renders it
//! again in that language when it is another.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::messages::{self, Text};
use crate::captcha::{CaptchaError, Challenge};
use crate::domain::ban::BanInputError;
use crate::domain::input::{FieldErrors, FieldProblem};
use crate::domain::{CommentStatus, ModeratorAction};
use crate::i18n::Lang;

/// A cause kept inside an error, for the logs.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Declares [`ApiError`] and [`ErrorKind`] with each variant's status and code, so the table
/// exists exactly once.
macro_rules! api_errors {
    ($($(#[$doc:meta])* $variant:ident $({ $($(#[$fmeta:meta])* $field:ident : $fty:ty),* $(,)? })?
        => $status:ident, $code:literal;)*) => {
        /// An API error: one variant per refusal, each with its status and code. Internal
        /// causes are logged, never sent to the client.
        #[derive(Debug, thiserror::Error)]
        pub enum ApiError {
            $($(#[$doc])* #[error($code)] $variant $({ $($(#[$fmeta])* $field: $fty),* })?,)*
        }

        /// Every kind of error the API answers, with its status and code: [`ApiError`]
        /// without its payload.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorKind {
            /// Every kind, in the order of the table.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant,)*];

            /// The HTTP status.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorKind::$variant => StatusCode::$status,)*
                }
            }

            /// The stable snake_case code clients switch on.
            pub fn code(self) -> &'static str {
                match self {
                    $(ErrorKind::$variant => $code,)*
                }
            }
        }

        impl ApiError {
            /// The error's kind: its row of the table.
            pub fn kind(&self) -> ErrorKind {
                match self {
                    $(ApiError::$variant { .. } => ErrorKind::$variant,)*
                }
            }
        }
    };
}

api_errors! {
    /// The body is not JSON, not a form, or not UTF-8; `detail` is the parser's own words.
    InvalidBody {
        /// The parser's or loader's own words.
        detail: Option<String>,
    } => BAD_REQUEST, "invalid_body";
    /// The thread key has other characters or is too long.
    InvalidThread => BAD_REQUEST, "invalid_thread";
    /// One query parameter is wrong; `fields` says which.
    InvalidQuery {
        /// The parameter.
        field: String,
        /// What it should be.
        hint: FieldText,
    } => BAD_REQUEST, "invalid_query";
    /// A request the endpoint cannot read (e.g. a repeated query parameter).
    InvalidRequest => BAD_REQUEST, "invalid_request";
    /// No valid moderator bearer token.
    Unauthorized => UNAUTHORIZED, "unauthorized";
    /// A wrong captcha answer.
    CaptchaWrong {
        /// A fresh challenge, so the reader keeps their text.
        fresh: Option<Box<Challenge>>,
    } => FORBIDDEN, "captcha_wrong";
    /// An expired captcha token.
    CaptchaExpired {
        /// A fresh challenge, so the reader keeps their text.
        fresh: Option<Box<Challenge>>,
    } => FORBIDDEN, "captcha_expired";
    /// A malformed, forged, burnt or foreign captcha token.
    CaptchaInvalid {
        /// A fresh challenge, so the reader keeps their text.
        fresh: Option<Box<Challenge>>,
    } => FORBIDDEN, "captcha_invalid";
    /// The token asks for a proof-of-work stamp (`captcha_pow`) and the request has none.
    CaptchaPowMissing {
        /// A fresh challenge, so the reader keeps their text.
        fresh: Option<Box<Challenge>>,
    } => FORBIDDEN, "captcha_pow_missing";
    /// The stamp does not reach the token's difficulty, or is not a number.
    CaptchaPowWrong {
        /// A fresh challenge, so the reader keeps their text.
        fresh: Option<Box<Challenge>>,
    } => FORBIDDEN, "captcha_pow_wrong";
    /// Neither the sum's answer nor a "skip the sum" stamp, and the author is not trusted.
    CaptchaUnanswered {
        /// A fresh challenge, so the reader keeps their text.
        fresh: Option<Box<Challenge>>,
    } => FORBIDDEN, "captcha_unanswered";
    /// A console form without its session's CSRF token, or (`foreign_site`) sent from another
    /// site.
    CsrfInvalid {
        /// Sent from another site.
        foreign_site: bool,
    } => FORBIDDEN, "csrf_invalid";
    /// No such comment or route.
    NotFound => NOT_FOUND, "not_found";
    /// A method the path does not take; `allow` is the framework's `Allow` header.
    MethodNotAllowed {
        /// The methods the path takes.
        allow: Option<String>,
    } => METHOD_NOT_ALLOWED, "method_not_allowed";
    /// The captcha token already produced a comment.
    CaptchaUsed {
        /// A fresh challenge, so the reader keeps their text.
        fresh: Option<Box<Challenge>>,
    } => CONFLICT, "captcha_used";
    /// The thread is closed to new comments.
    ThreadClosed => CONFLICT, "thread_closed";
    /// The moderator's `expected_version` is behind; `current` is the state now, `wave` the
    /// moderator and action that decided a wave first.
    StaleVersion {
        /// The state now.
        current: Option<serde_json::Value>,
        /// Who decided the wave first, and how.
        wave: Option<(String, ModeratorAction)>,
    } => CONFLICT, "stale_version";
    /// The action does not apply to the comment's status (named when known).
    IllegalTransition {
        /// The action and the status, when known.
        transition: Option<(ModeratorAction, CommentStatus)>,
    } => CONFLICT, "illegal_transition";
    /// The comment is deleted; only restore applies.
    CommentDeleted => CONFLICT, "comment_deleted";
    /// Approving, or clearing as not spam, a comment whose body the retention pass purged.
    BodyPurged => CONFLICT, "body_purged";
    /// Closing a closed thread, reopening an open one, or the like; `text` says which.
    ThreadState {
        /// The sentence.
        text: Text,
    } => CONFLICT, "thread_state";
    /// A second report from one reader.
    AlreadyReported => CONFLICT, "already_reported";
    /// Reporting a hidden comment.
    NotReportable => CONFLICT, "not_reportable";
    /// The comment's stream holds as many events as the store keeps for one stream.
    StreamFull => CONFLICT, "stream_full";
    /// A ban of the same author or address is in force already (`existing` is its id).
    BanExists {
        /// The ban in force's id.
        existing: uuid::Uuid,
    } => CONFLICT, "ban_exists";
    /// As many bans as the service keeps are in force.
    TooManyBans => CONFLICT, "too_many_bans";
    /// A body over the limit.
    PayloadTooLarge => PAYLOAD_TOO_LARGE, "payload_too_large";
    /// Neither JSON nor a form.
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type";
    /// JSON of the wrong shape; `detail` is the parser's own words.
    InvalidBodyShape {
        /// The parser's or loader's own words.
        detail: Option<String>,
    } => UNPROCESSABLE_ENTITY, "invalid_body";
    /// Input rules failed; `fields` says which, `text` replaces the default sentence.
    InvalidInput {
        /// The message per field.
        fields: Vec<(String, FieldText)>,
        /// The sentence.
        text: Option<Text>,
    } => UNPROCESSABLE_ENTITY, "invalid_input";
    /// The policy forced a reject (recorded for the audit).
    CommentRejected => UNPROCESSABLE_ENTITY, "comment_rejected";
    /// A policy reload found invalid files; the old policy stays. `detail` is the loader's
    /// chain (file and line).
    PolicyInvalid {
        /// The parser's or loader's own words.
        detail: String,
    } => UNPROCESSABLE_ENTITY, "policy_invalid";
    /// A rate limit or the failed-login throttle.
    RateLimited {
        /// Seconds to wait (also sent as `Retry-After`).
        retry_after: u64,
    } => TOO_MANY_REQUESTS, "rate_limited";
    /// Something failed on the server; the cause is logged.
    Internal {
        /// What failed.
        #[source]
        cause: Cause,
    } => INTERNAL_SERVER_ERROR, "internal";
    /// Busy: a timeout, full connection caps, or a stream that kept changing.
    Unavailable {
        /// Seconds to wait (also sent as `Retry-After`).
        retry_after: Option<u64>,
    } => SERVICE_UNAVAILABLE, "unavailable";
    /// The event store or the projection database is away for now.
    StoreUnavailable {
        /// What failed.
        #[source]
        cause: Cause,
    } => SERVICE_UNAVAILABLE, "store_unavailable";
    /// The event store's disk is full: nothing was stored; the operator must make room.
    StorageFull {
        /// What failed.
        #[source]
        cause: Cause,
    } => SERVICE_UNAVAILABLE, "storage_full";
    /// Readers' data cannot be erased on this store (it does not seal submissions).
    PrivacyUnsupported => NOT_IMPLEMENTED, "privacy_unsupported";
}

/// A field's message, kept as a fact and rendered in the request's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldText {
    /// An input rule's problem with a field (the rule's field name gives the limit).
    Problem(FieldProblem, &'static str),
    /// A catalogue text.
    Text(Text),
    /// A ban's kind or value that cannot be banned.
    Ban(BanInputError),
}

impl FieldText {
    /// The message in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            FieldText::Problem(problem, field) => messages::field_problem(*problem, field, lang),
            FieldText::Text(text) => text.get(lang).to_string(),
            FieldText::Ban(e) => messages::ban_input(e.clone(), lang).to_string(),
        }
    }
}

/// Every error as it is sent: `{error: {code, message, fields?, retry_after?}}`, with a fresh
/// `captcha` on captcha failures and the `current` state on a conflict.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
    /// A fresh challenge, on `403` captcha failures and a replayed token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captcha: Option<Challenge>,
    /// The comment as it is now on `409 stale_version` (or the wave's decision), the ban in
    /// force on `409 ban_exists`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<serde_json::Value>,
}

/// The `error` member of [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code (see the README's error table).
    pub code: &'static str,
    /// A sentence for people, in the request's language.
    pub message: String,
    /// A message per field that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// Seconds to wait, also sent as `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
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

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind().status()
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// `500 internal`: logs the cause with its whole chain, tells the client nothing about it.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        let error = ApiError::Internal {
            cause: Box::new(cause),
        };
        tracing::error!(error = chain(&error), "internal error");
        error
    }

    /// `503 store_unavailable`: logs the cause with its whole chain as a warning.
    fn store_unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        let error = ApiError::StoreUnavailable {
            cause: Box::new(cause),
        };
        tracing::warn!(error = chain(&error), "answered 503: a database is away");
        error
    }

    /// `400 invalid_query`: one query parameter is wrong; the field message says how.
    pub fn invalid_param(field: &str, hint: Text) -> ApiError {
        ApiError::InvalidQuery {
            field: field.to_string(),
            hint: FieldText::Text(hint),
        }
    }

    /// `400 invalid_query` for an email given as a parameter (the privacy tools' `email`),
    /// with the words a comment's `author_email` gets for the same problem (empty, too long,
    /// not `local@domain.tld`), since both are parsed by [`crate::domain::values::Email`].
    pub fn invalid_email(field: &str, refusal: crate::domain::ValueError) -> ApiError {
        ApiError::InvalidQuery {
            field: field.to_string(),
            hint: FieldText::Problem(refusal.problem(), "author_email"),
        }
    }

    /// `422 invalid_input` for one field, with a catalogue text.
    pub fn invalid_field(field: &str, text: Text) -> ApiError {
        ApiError::InvalidInput {
            fields: vec![(field.to_string(), FieldText::Text(text))],
            text: None,
        }
    }

    /// `403` for a failed captcha, with a fresh challenge.
    pub fn captcha(error: &CaptchaError, fresh: Box<Challenge>) -> ApiError {
        let fresh = Some(fresh);
        match error {
            CaptchaError::WrongAnswer => ApiError::CaptchaWrong { fresh },
            CaptchaError::Expired => ApiError::CaptchaExpired { fresh },
            CaptchaError::PowMissing => ApiError::CaptchaPowMissing { fresh },
            CaptchaError::PowWrong => ApiError::CaptchaPowWrong { fresh },
            CaptchaError::Unanswered => ApiError::CaptchaUnanswered { fresh },
            _ => ApiError::CaptchaInvalid { fresh },
        }
    }

    /// The fresh challenge the error carries, to take away when the address has spent its
    /// captcha budget.
    pub fn fresh_captcha_mut(&mut self) -> Option<&mut Option<Box<Challenge>>> {
        match self {
            ApiError::CaptchaWrong { fresh }
            | ApiError::CaptchaExpired { fresh }
            | ApiError::CaptchaInvalid { fresh }
            | ApiError::CaptchaPowMissing { fresh }
            | ApiError::CaptchaPowWrong { fresh }
            | ApiError::CaptchaUnanswered { fresh }
            | ApiError::CaptchaUsed { fresh } => Some(fresh),
            _ => None,
        }
    }

    /// The sentence for people, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let kind = self.kind();
        match self {
            ApiError::InvalidBody {
                detail: Some(detail),
            }
            | ApiError::InvalidBodyShape {
                detail: Some(detail),
            }
            | ApiError::PolicyInvalid { detail } => messages::with_detail(lang, kind, detail),
            ApiError::CsrfInvalid { foreign_site: true } => Text::ForeignSite.get(lang).into(),
            ApiError::MethodNotAllowed { allow: Some(allow) } => {
                format!("{} ({allow})", messages::error(kind, lang))
            }
            ApiError::StaleVersion {
                wave: Some((by, action)),
                ..
            } => messages::wave_decided(lang, by, *action),
            ApiError::IllegalTransition {
                transition: Some((action, status)),
            } => messages::illegal_transition(lang, *action, *status),
            ApiError::ThreadState { text }
            | ApiError::InvalidInput {
                text: Some(text), ..
            } => text.get(lang).into(),
            ApiError::RateLimited { retry_after } => messages::rate_limited(lang, *retry_after),
            _ => messages::error(kind, lang).into(),
        }
    }

    /// The messages per field, in `lang`.
    pub fn fields(&self, lang: Lang) -> Option<BTreeMap<String, String>> {
        let one = |field: &str, text: &FieldText| {
            Some(BTreeMap::from([(field.to_string(), text.render(lang))]))
        };
        match self {
            ApiError::InvalidThread => one(
                "thread",
                &FieldText::Problem(crate::domain::ValueError::ThreadKey.problem(), "thread"),
            ),
            ApiError::InvalidQuery { field, hint } => one(field, hint),
            ApiError::InvalidInput { fields, .. } => Some(
                fields
                    .iter()
                    .map(|(f, text)| (f.clone(), text.render(lang)))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Seconds to wait before repeating the request.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after } => Some(*retry_after),
            ApiError::Unavailable { retry_after } => *retry_after,
            ApiError::StoreUnavailable { .. } => Some(2),
            ApiError::StorageFull { .. } => Some(30),
            _ => None,
        }
    }

    /// The body as it is sent in `lang`.
    pub fn body(&self, lang: Lang) -> ErrorBody {
        let (captcha, current) = match self {
            ApiError::CaptchaWrong { fresh }
            | ApiError::CaptchaExpired { fresh }
            | ApiError::CaptchaInvalid { fresh }
            | ApiError::CaptchaPowMissing { fresh }
            | ApiError::CaptchaPowWrong { fresh }
            | ApiError::CaptchaUnanswered { fresh }
            | ApiError::CaptchaUsed { fresh } => (fresh.as_deref().cloned(), None),
            ApiError::StaleVersion { current, .. } => (None, current.clone()),
            ApiError::BanExists { existing } => (None, Some(serde_json::json!({ "id": existing }))),
            _ => (None, None),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.message(lang),
                fields: self.fields(lang),
                retry_after: self.retry_after(),
            },
            captcha,
            current,
        }
    }

    /// The response in `lang`.
    pub fn render(&self, lang: Lang) -> Response {
        let mut resp = (self.status(), axum::Json(self.body(lang))).into_response();
        if let Some(secs) = self.retry_after()
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// An event-store failure: `503 store_unavailable` with a `Retry-After` while the database is
/// away (the request may simply be repeated), `503 storage_full` when its disk is full,
/// `500 internal` otherwise. A stream at the store's
/// limit answers `409 stream_full`: a fact about the comment, not a failure of the server.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        if let crate::store::StoreError::StreamFull { stream, limit } = &e {
            tracing::warn!(stream, limit, "a command met a full stream");
            return ApiError::StreamFull;
        }
        if e.is_storage_full() {
            let error = ApiError::StorageFull { cause: Box::new(e) };
            tracing::error!(
                error = chain(&error),
                "answered 503: the event store's disk is full; nothing was stored"
            );
            error
        } else if e.is_unavailable() {
            ApiError::store_unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

/// A failed read of the projection database: `503 store_unavailable` with a `Retry-After`,
/// never an empty answer that looks true.
impl From<crate::store::projection_db::ProjectionDbError> for ApiError {
    fn from(e: crate::store::projection_db::ProjectionDbError) -> ApiError {
        ApiError::store_unavailable(e)
    }
}

/// An operational failure: the store's own mapping, or `503 unavailable` for a stream that
/// stayed contended, which a repeat may get through.
impl From<crate::service::StoreFailure> for ApiError {
    fn from(failure: crate::service::StoreFailure) -> ApiError {
        use crate::service::StoreFailure;
        match failure {
            StoreFailure::Store(e) => e.into(),
            StoreFailure::Contended { stream, attempts } => {
                tracing::warn!(stream, attempts, "command gave up on a contended stream");
                ApiError::Unavailable {
                    retry_after: Some(1),
                }
            }
        }
    }
}

/// A command's refusal (its own `From`) or failure.
impl<R> From<crate::service::CommandError<R>> for ApiError
where
    ApiError: From<R>,
{
    fn from(e: crate::service::CommandError<R>) -> ApiError {
        match e {
            crate::service::CommandError::Refused(r) => r.into(),
            crate::service::CommandError::Failed(f) => f.into(),
        }
    }
}

impl From<crate::service::SubmitRefusal> for ApiError {
    fn from(refusal: crate::service::SubmitRefusal) -> ApiError {
        use crate::service::SubmitRefusal;
        match refusal {
            SubmitRefusal::Invalid(fields) => ApiError::InvalidInput {
                fields: field_problems(&fields),
                text: None,
            },
            SubmitRefusal::Captcha { error, fresh } => ApiError::captcha(&error, fresh),
            SubmitRefusal::Replayed { fresh } => ApiError::CaptchaUsed { fresh: Some(fresh) },
            SubmitRefusal::RateLimited(l) => ApiError::RateLimited {
                retry_after: l.retry_after_secs(),
            },
            SubmitRefusal::ThreadClosed => ApiError::ThreadClosed,
            SubmitRefusal::Rejected { .. } | SubmitRefusal::Banned => ApiError::CommentRejected,
        }
    }
}

/// The input rules' problems as field messages.
fn field_problems(errors: &FieldErrors) -> Vec<(String, FieldText)> {
    errors
        .iter()
        .map(|(f, p)| (f.to_string(), FieldText::Problem(p, f)))
        .collect()
}

impl From<crate::service::DecisionRefusal> for ApiError {
    fn from(refusal: crate::service::DecisionRefusal) -> ApiError {
        use crate::domain::{CommentError, ThreadError};
        use crate::service::DecisionRefusal;
        match refusal {
            DecisionRefusal::NotFound | DecisionRefusal::Flag(CommentError::NotFound) => {
                ApiError::NotFound
            }
            DecisionRefusal::Stale(current) => ApiError::StaleVersion {
                current: serde_json::to_value(current).ok(),
                wave: None,
            },
            DecisionRefusal::Illegal(CommentError::Deleted) => ApiError::CommentDeleted,
            DecisionRefusal::Illegal(CommentError::BodyPurged) => ApiError::BodyPurged,
            DecisionRefusal::Illegal(CommentError::IllegalTransition { action, status }) => {
                ApiError::IllegalTransition {
                    transition: Some((action, status)),
                }
            }
            DecisionRefusal::Illegal(_) => ApiError::IllegalTransition { transition: None },
            DecisionRefusal::Flag(CommentError::AlreadyReported) => ApiError::AlreadyReported,
            DecisionRefusal::Flag(_) => ApiError::NotReportable,
            DecisionRefusal::RateLimited(l) => ApiError::RateLimited {
                retry_after: l.retry_after_secs(),
            },
            DecisionRefusal::Thread(ThreadError::AlreadyClosed) => ApiError::ThreadState {
                text: Text::ThreadAlreadyClosed,
            },
            DecisionRefusal::Thread(ThreadError::NotClosed) => ApiError::ThreadState {
                text: Text::ThreadNotClosed,
            },
        }
    }
}

impl From<crate::domain::ban::BanError> for ApiError {
    fn from(refusal: crate::domain::ban::BanError) -> ApiError {
        use crate::domain::ban::BanError;
        match refusal {
            BanError::Duplicate(existing) => ApiError::BanExists { existing },
            BanError::TooMany => ApiError::TooManyBans,
            BanError::NotFound => ApiError::NotFound,
            BanError::ExpiryPast => ApiError::invalid_field("expires_at", Text::ExpiryPast),
        }
    }
}

impl From<crate::privacy::PrivacyError> for ApiError {
    fn from(e: crate::privacy::PrivacyError) -> ApiError {
        use crate::privacy::PrivacyError as P;
        match e {
            P::Unsupported { .. } => ApiError::PrivacyUnsupported,
            P::Store(e) => e.into(),
            P::Keys(e) => ApiError::internal(e),
        }
    }
}

impl From<crate::service::ReloadError> for ApiError {
    fn from(e: crate::service::ReloadError) -> ApiError {
        match e {
            crate::service::ReloadError::Join(e) => ApiError::internal(e),
            crate::service::ReloadError::Policy(err) => ApiError::PolicyInvalid {
                detail: chain(&err),
            },
        }
    }
}

/// An error waiting to be rendered in the request's language by [`json_errors`].
#[derive(Clone)]
struct Unrendered(Arc<ApiError>);

/// Gives every refusal the API's JSON shape in the request's language, including those no
/// handler wrote: unknown routes (404), wrong methods (405), malformed query strings (400),
/// timeouts (503). Responses that already carry a body type (HTML pages) pass untouched.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let lang = super::lang::lang_of(&parts);
    // Handlers' `ReqLang` reads it from here rather than negotiating a second time.
    parts.extensions.insert(super::lang::ReqLang(lang));
    let mut response = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    if let Some(Unrendered(error)) = response.extensions_mut().remove::<Unrendered>() {
        if lang == Lang::default() {
            return response;
        }
        // The headers the layers inside added (CORS, ...) stay; only the words change.
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        let (_, body) = error.render(lang).into_parts();
        return Response::from_parts(parts, body);
    }
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
        let mut response = ApiError::PayloadTooLarge.render(lang);
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
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
            allow: response
                .headers()
                .get(header::ALLOW)
                .map(|v| v.to_str().unwrap_or_default().to_string()),
        },
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable { retry_after: None },
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        s if s.is_server_error() => ApiError::Internal {
            cause: Box::new(FrameworkAnswered(s)),
        },
        _ => ApiError::InvalidRequest,
    };
    // The status stays the one the framework chose (e.g. a 408 keeps 408).
    let mut response = error.render(lang);
    *response.status_mut() = status;
    response
}

/// The cause of a `5xx` no handler wrote.
#[derive(Debug, thiserror::Error)]
#[error("the framework answered {0}")]
struct FrameworkAnswered(StatusCode);

/// Renders in the default language and leaves the error for [`json_errors`], which knows the
/// request's language.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.render(Lang::default());
        response.extensions_mut().insert(Unrendered(Arc::new(self)));
        response
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
    fn an_internal_error_keeps_its_cause_as_its_source() {
        let e = ApiError::internal(std::io::Error::other("disk full"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(chain(&e), "internal: disk full");
        // The cause is for the logs only.
        let body = serde_json::to_value(e.body(Lang::En)).unwrap();
        assert!(!body.to_string().contains("disk full"), "{body}");
    }

    #[test]
    fn a_full_disk_is_a_503_storage_full_with_a_retry_not_an_internal_error() {
        let full = crate::store::StoreError::StorageFull {
            backend: "sqlite",
            source: std::sync::Arc::new(std::io::Error::other("database or disk is full")),
        };
        let e = ApiError::from(full);
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after(), Some(30));
        let en = serde_json::to_value(e.body(Lang::En)).unwrap();
        let id = serde_json::to_value(e.body(Lang::Id)).unwrap();
        assert_eq!(en["error"]["code"], "storage_full");
        assert!(
            en["error"]["message"]
                .as_str()
                .unwrap()
                .contains("nothing was saved")
        );
        assert!(
            id["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tidak tersimpan")
        );
        assert!(
            !en.to_string().contains("disk is full"),
            "the cause is for the logs: {en}"
        );
        // Any other database failure stays an internal error.
        let other = crate::store::StoreError::Backend("sqlite: malformed".into());
        assert_eq!(
            ApiError::from(other).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn an_error_is_rendered_in_the_language_asked_for() {
        let e = ApiError::RateLimited { retry_after: 7 };
        let id = serde_json::to_value(e.body(Lang::Id)).unwrap();
        let en = serde_json::to_value(e.body(Lang::En)).unwrap();
        assert_eq!(en["error"]["code"], "rate_limited");
        assert_eq!(en["error"]["retry_after"], 7);
        assert!(
            en["error"]["message"]
                .as_str()
                .unwrap()
                .contains("7 seconds")
        );
        assert!(id["error"]["message"].as_str().unwrap().contains("7 detik"));
        assert!(en.get("captcha").is_none() && en.get("current").is_none());
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
