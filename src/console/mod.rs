//! The moderation console at `/admin`: server-rendered pages for moderators, with sessions,
//! CSRF tokens, queues, comment cards and decisions. Every action is a plain form post; the
//! small script `console.js` adds keyboard shortcuts and in-place updates on top.
//!
//! Templates are [maud] rather than askama: maud's `html!` escapes every interpolated value
//! unless it is explicitly wrapped in `PreEscaped`, the templates are Rust checked at compile
//! time with no template files to ship or find at run time, and it adds no build step. The one
//! `PreEscaped` use is the body HTML produced by `projections::render`, which escapes itself.
//!
//! Security: a strict Content-Security-Policy (`script-src 'self'`, `style-src 'self'`, no inline
//! code), `frame-ancestors 'none'`, `no-store`; the session cookie is `HttpOnly;
//! SameSite=Strict; Path=/admin` (and `Secure` behind https); every state-changing request needs
//! the session's CSRF token (form field `csrf` or header `X-CSRF-Token`), compared in constant
//! time.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;

use crate::http::AppState;

pub mod accounts;
mod audit_page;
mod bans_page;
pub mod config;
pub mod highlight;
pub mod login_limit;
mod pages;
mod routes;
pub mod sessions;
mod waves_page;

pub use config::{AccountEntry, ConsoleConfig, SecureCookies};

/// What the console's handlers reach: the application's state and the console's own parts.
#[derive(Clone)]
pub struct Console(Arc<ConsoleParts>);

/// The parts of [`Console`].
pub struct ConsoleParts {
    /// The application (service, trusted proxies, bearer tokens).
    pub app: AppState,
    /// Moderator accounts.
    pub accounts: accounts::Accounts,
    /// Live sessions.
    pub sessions: sessions::Sessions,
    /// Login attempt limits.
    pub logins: login_limit::LoginLimiter,
    /// The settings.
    pub config: ConsoleConfig,
}

impl std::ops::Deref for Console {
    type Target = ConsoleParts;
    fn deref(&self) -> &ConsoleParts {
        &self.0
    }
}

impl FromRef<Console> for AppState {
    fn from_ref(console: &Console) -> AppState {
        console.app.clone()
    }
}

/// The console's routes, with their own layers, ready to merge into the application's router.
pub fn router(app: AppState, config: &ConsoleConfig) -> Router {
    let console = Console(Arc::new(ConsoleParts {
        app,
        accounts: accounts::Accounts::new(config.accounts.clone()),
        sessions: sessions::Sessions::new(
            Duration::from_secs(config.session_idle_seconds.max(1)),
            Duration::from_secs(config.session_absolute_seconds.max(1)),
            config.max_sessions,
        ),
        logins: login_limit::LoginLimiter::new(config.login_attempts),
        config: config.clone(),
    }));
    routes::router(console)
}
