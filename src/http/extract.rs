//! Extractors that give every handler the same shape of input and of refusal: the request's
//! language, the client address (trusted-proxy aware), JSON and form bodies whose failures are
//! API errors, and the authenticated moderator.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
pub use super::lang::ReqLang;
use crate::domain::values::{CommentId, ThreadKey};

/// The `If-None-Match` header, if any: taken alone so the hot thread-read path does not copy
/// the whole header map.
#[derive(Debug, Clone, Default)]
pub struct IfNoneMatch(pub Option<axum::http::HeaderValue>);

impl IfNoneMatch {
    /// Whether the client already holds the representation with this strong ETag.
    pub fn matches(&self, etag: &str) -> bool {
        self.0
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(IfNoneMatch(
            parts.headers.get(header::IF_NONE_MATCH).cloned(),
        ))
    }
}

/// The client's address: the socket peer, or the right-most untrusted `X-Forwarded-For` hop
/// when the peer is a trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        let hops: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .take(16)
            .collect();
        Ok(ClientIp(crate::clientip::client_ip(
            peer,
            &hops,
            &state.trusted_proxies,
        )))
    }
}

/// A JSON body whose failures are [`ApiError`]s.
pub struct ApiJson<T>(pub T);

fn body_error(status: StatusCode, detail: &str) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        _ => {
            // The parser's own words name the field and position; they hold no secrets.
            let detail = Some(detail.chars().take(200).collect());
            // Well-formed JSON of the wrong shape is 422, as axum reports it; the rest is 400.
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                ApiError::InvalidBodyShape { detail }
            } else {
                ApiError::InvalidBody { detail }
            }
        }
    }
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| ApiJson(j.0))
            .map_err(|rejection| {
                let detail = match &rejection {
                    JsonRejection::JsonDataError(e) => e.body_text(),
                    JsonRejection::JsonSyntaxError(e) => e.body_text(),
                    other => other.body_text(),
                };
                body_error(rejection.status(), &detail)
            })
    }
}

/// A form body whose failures are [`ApiError`]s.
pub struct ApiForm<T>(pub T);

impl<T, S> FromRequest<S> for ApiForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // `serde_urlencoded` replaces bytes that are not UTF-8 with U+FFFD without a word, so
        // a mangled post would be stored as something its author never wrote; refuse it.
        let (parts, body) = req.into_parts();
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|r| body_error(r.status(), &r.body_text()))?;
        if !form_is_utf8(&bytes) {
            return Err(ApiError::InvalidBody { detail: None });
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|f| ApiForm(f.0))
            .map_err(|rejection| {
                let detail = match &rejection {
                    FormRejection::FailedToDeserializeForm(e) => e.body_text(),
                    other => other.body_text(),
                };
                body_error(rejection.status(), &detail)
            })
    }
}

/// Whether every name and value of an `application/x-www-form-urlencoded` body decodes to
/// UTF-8 (a `+` is a space and cannot break that, so only the percent-escapes matter).
fn form_is_utf8(body: &[u8]) -> bool {
    body.split(|b| *b == b'&')
        .flat_map(|pair| pair.splitn(2, |b| *b == b'='))
        .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok())
}

/// The thread key of a `{thread}` or `{key}` path segment, parsed once here; anything else is
/// `400 invalid_thread` ([`ApiError::InvalidThread`]).
#[derive(Debug, Clone)]
pub struct ThreadPath(pub ThreadKey);

impl<S: Send + Sync> FromRequestParts<S> for ThreadPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::InvalidThread)?;
        ThreadKey::parse(&raw)
            .map(ThreadPath)
            .map_err(|_| ApiError::InvalidThread)
    }
}

/// The comment id of an `{id}` path segment, parsed once here; anything that is not one names
/// no comment, so it is `404 not_found` like an unknown id.
#[derive(Debug, Clone, Copy)]
pub struct CommentPath(pub CommentId);

impl<S: Send + Sync> FromRequestParts<S> for CommentPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        CommentId::parse(&raw)
            .map(CommentPath)
            .map_err(|_| ApiError::NotFound)
    }
}

/// An authenticated moderator's name.
#[derive(Debug, Clone)]
pub struct Moderator(pub crate::domain::values::ModeratorName);

impl<S> FromRequestParts<S> for Moderator
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let state = AppState::from_ref(state);
        let now = std::time::Instant::now();
        if let Some(wait) = state.auth.failures.blocked(ip, now) {
            metrics::counter!("saring_moderator_auth_throttled_total").increment(1);
            return Err(ApiError::RateLimited { retry_after: wait });
        }
        // RFC 9110: the scheme is case-insensitive (`bearer`, `BEARER`).
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let Some(token) = token else {
            return Err(ApiError::Unauthorized);
        };
        match state.auth.verify_async(token).await {
            Ok(Some(name)) => Ok(Moderator(name)),
            Ok(None) => {
                state.auth.failures.failed(ip, now);
                metrics::counter!("saring_moderator_auth_failures_total").increment(1);
                Err(ApiError::Unauthorized)
            }
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::form_is_utf8;

    #[test]
    fn a_form_with_bytes_that_are_not_utf8_is_told_apart() {
        assert!(form_is_utf8(b"name=Budi+S&body=halo%20dunia%E2%9C%93"));
        assert!(form_is_utf8(b""));
        assert!(!form_is_utf8(b"body=%FF%FE"));
        assert!(!form_is_utf8(b"body=\xff"));
        assert!(!form_is_utf8(b"%C0=x"));
    }
}
