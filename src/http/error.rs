//! The one error type of the HTTP API: every refusal is JSON `{error: {code, message, fields}}`
//! in the request's language, with the status code a client can act on.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::captcha::{CaptchaError, Challenge};
use crate::i18n::Lang;

/// An API error. Internal causes are logged, never sent to the client.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable snake_case code clients switch on.
    pub code: &'static str,
    /// A sentence for people, in the request's language.
    pub message: String,
    /// Messages per field, for `422`.
    pub fields: Option<BTreeMap<String, String>>,
    /// Seconds to wait, for `429` (also sent as `Retry-After`).
    pub retry_after: Option<u64>,
    /// A fresh captcha, for `403` and replays, so the reader keeps their text.
    pub captcha: Option<Challenge>,
    /// The current state of a resource, for `409` on a stale version.
    pub current: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status, a code and a message in the request's language.
    pub fn new(status: StatusCode, code: &'static str, lang: Lang, id: &str, en: &str) -> ApiError {
        ApiError {
            status,
            code,
            message: lang.pick(id, en).to_string(),
            fields: None,
            retry_after: None,
            captcha: None,
            current: None,
        }
    }

    /// `404 not_found`.
    pub fn not_found(lang: Lang) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            lang,
            "Tidak ditemukan.",
            "Not found.",
        )
    }

    /// `500 internal`: logs the cause, tells the client nothing about it.
    pub fn internal(lang: Lang, cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            lang,
            "Terjadi kesalahan di server. Silakan coba lagi.",
            "Something went wrong on the server. Please try again.",
        )
    }

    /// An event-store failure: `503 store_unavailable` with a `Retry-After` while the database
    /// is away (the request may simply be repeated), `500 internal` otherwise.
    pub fn store(lang: Lang, e: &crate::store::StoreError) -> ApiError {
        if !e.is_unavailable() {
            return ApiError::internal(lang, e);
        }
        // Log the whole chain: the cause says why (refused, reset, timed out).
        let mut causes = String::new();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            causes.push_str(": ");
            causes.push_str(&s.to_string());
            source = s.source();
        }
        tracing::warn!(error = %e, causes, "event store unavailable");
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            lang,
            "Basis data sedang tidak tersedia. Silakan coba lagi sebentar lagi.",
            "The database is unavailable for the moment. Please try again shortly.",
        );
        error.retry_after = Some(2);
        error
    }

    /// `401 unauthorized`.
    pub fn unauthorized(lang: Lang) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            lang,
            "Token moderator tidak ada atau tidak valid.",
            "Missing or invalid moderator token.",
        )
    }

    /// `429 rate_limited` with the wait in seconds.
    pub fn rate_limited(lang: Lang, retry_after: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", lang, "", "");
        e.message = match lang {
            Lang::Id => format!("Terlalu sering. Silakan coba lagi dalam {retry_after} detik."),
            Lang::En => format!("Too many requests. Please try again in {retry_after} seconds."),
        };
        e.retry_after = Some(retry_after);
        e
    }

    /// `403` for a failed captcha, with a fresh challenge.
    pub fn captcha(lang: Lang, error: &CaptchaError, fresh: Challenge) -> ApiError {
        let mut e = match error {
            CaptchaError::WrongAnswer => ApiError::new(
                StatusCode::FORBIDDEN,
                "captcha_wrong",
                lang,
                "Jawaban hitungan salah. Silakan jawab soal yang baru.",
                "Wrong answer to the sum. Please answer the new one.",
            ),
            CaptchaError::Expired => ApiError::new(
                StatusCode::FORBIDDEN,
                "captcha_expired",
                lang,
                "Soal hitungan sudah kedaluwarsa. Silakan jawab soal yang baru.",
                "The sum has expired. Please answer the new one.",
            ),
            _ => ApiError::new(
                StatusCode::FORBIDDEN,
                "captcha_invalid",
                lang,
                "Soal hitungan tidak valid. Silakan jawab soal yang baru.",
                "The captcha is not valid. Please answer the new one.",
            ),
        };
        e.captcha = Some(fresh);
        e
    }

    /// `400 invalid_query`: one query parameter is wrong; the field message says how.
    pub fn invalid_param(lang: Lang, field: &str, id: &str, en: &str) -> ApiError {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_string(), lang.pick(id, en).to_string());
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            lang,
            "Parameter tidak valid.",
            "Invalid parameter.",
        )
        .with_fields(fields)
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
    let lang = super::extract::lang_of(&parts);
    // Handlers' `ReqLang` reads it from here rather than negotiating a second time.
    parts.extensions.insert(super::extract::ReqLang(lang));
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
        let lang = super::extract::lang_of(&request.into_parts().0);
        let mut response = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            lang,
            "Permintaan terlalu besar (paling banyak 64 KiB).",
            "The request is too large (at most 64 KiB).",
        )
        .into_response();
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
    let (code, id, en) = match status {
        StatusCode::NOT_FOUND => ("not_found", "Tidak ditemukan.", "Not found."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "Metode HTTP ini tidak diizinkan di sini.",
            "This HTTP method is not allowed here.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "unavailable",
            "Layanan sedang sibuk. Silakan coba lagi.",
            "The service is busy. Please try again.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "Permintaan terlalu besar (paling banyak 64 KiB).",
            "The request is too large (at most 64 KiB).",
        ),
        s if s.is_server_error() => (
            "internal",
            "Terjadi kesalahan di server. Silakan coba lagi.",
            "Something went wrong on the server. Please try again.",
        ),
        _ => (
            "invalid_request",
            "Permintaan tidak valid.",
            "Invalid request.",
        ),
    };
    let mut error = ApiError::new(status, code, lang, id, en);
    if let Some(v) = response.headers().get(header::ALLOW) {
        error.message = format!("{} ({})", error.message, v.to_str().unwrap_or_default());
    }
    error.into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
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
        let mut resp = (self.status, axum::Json(body)).into_response();
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
