//! The request's language, negotiated once: `?lang=`, else `Accept-Language`, else Indonesian.
//!
//! Its own module so that the error shape ([`super::error`]) and the extractors
//! ([`super::extract`]) both use it without importing each other.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri, header};

use crate::i18n::Lang;

/// The language of the request: `?lang=`, else `Accept-Language`, else Indonesian.
#[derive(Debug, Clone, Copy)]
pub struct ReqLang(pub Lang);

/// Reads one query parameter without failing on the others.
fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

/// The request's language from its URI and headers.
pub fn lang_from(uri: &Uri, headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(query_param(uri, "lang"), accept)
}

/// The request's language from its parts.
pub fn lang_of(parts: &Parts) -> Lang {
    lang_from(&parts.uri, &parts.headers)
}

impl<S: Send + Sync> FromRequestParts<S> for ReqLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The error-shaping middleware has usually negotiated it already.
        Ok(parts
            .extensions
            .get::<ReqLang>()
            .copied()
            .unwrap_or_else(|| ReqLang(lang_of(parts))))
    }
}
