//! The console's settings: the `[console]` table of `saring.toml` (accounts, session lifetimes,
//! the article link pattern), with `SARING_ARTICLE_URL` and `SARING_CONSOLE_SECURE_COOKIES`
//! read from the environment over it.

use serde::Deserialize;

/// One moderator account of the console: a name and an argon2 password hash.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// The moderator's name, recorded on every decision made in the console.
    pub name: String,
    /// `$argon2id$...`, as printed by `saring moderator add NAME`.
    pub password_hash: String,
}

/// Whether the session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    /// When the request came over https: `X-Forwarded-Proto: https` from a trusted proxy.
    #[default]
    Auto,
    /// Always (the service is only reached over https).
    Always,
    /// Never (plain-http development).
    Never,
}

/// The `[console]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Moderator accounts (`[[console.accounts]]`).
    pub accounts: Vec<AccountEntry>,
    /// Article link pattern with `{thread}`, e.g. `https://berita.example.id/{thread}`.
    pub article_url: Option<String>,
    /// A session unused for this long ends (default 30 minutes).
    pub session_idle_seconds: u64,
    /// A session ends this long after login whatever happens (default 12 hours).
    pub session_absolute_seconds: u64,
    /// Sessions held at once; the oldest goes first when full (default 1,000).
    pub max_sessions: usize,
    /// Failed logins allowed per address group and per name per 15 minutes (default 10).
    pub login_attempts: u32,
    /// `auto` (default), `always` or `never`.
    pub secure_cookies: SecureCookies,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            accounts: Vec::new(),
            article_url: None,
            session_idle_seconds: 30 * 60,
            session_absolute_seconds: 12 * 60 * 60,
            max_sessions: 1000,
            login_attempts: 10,
            secure_cookies: SecureCookies::Auto,
        }
    }
}

/// Why the console's settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleConfigError {
    /// The article pattern is not an http(s) URL with `{thread}`.
    #[error("article_url must be an http(s) URL containing {{thread}}, got {0:?}")]
    ArticleUrl(String),
    /// An account has no name, a duplicate name or a hash that is not argon2.
    #[error("console account {0:?}: {1}")]
    Account(String, &'static str),
    /// `SARING_CONSOLE_SECURE_COOKIES` holds something else than auto, always, never.
    #[error("SARING_CONSOLE_SECURE_COOKIES must be auto, always or never")]
    SecureCookies,
}

impl ConsoleConfig {
    /// Applies `SARING_ARTICLE_URL` and `SARING_CONSOLE_SECURE_COOKIES` from the environment.
    pub fn with_env(mut self) -> Result<ConsoleConfig, ConsoleConfigError> {
        if let Ok(url) = std::env::var("SARING_ARTICLE_URL")
            && !url.trim().is_empty()
        {
            self.article_url = Some(url.trim().to_string());
        }
        if let Ok(v) = std::env::var("SARING_CONSOLE_SECURE_COOKIES") {
            self.secure_cookies = match v.trim() {
                "auto" | "" => SecureCookies::Auto,
                "always" => SecureCookies::Always,
                "never" => SecureCookies::Never,
                _ => return Err(ConsoleConfigError::SecureCookies),
            };
        }
        Ok(self)
    }

    /// Checks the values a typo could break, so the server refuses to start instead.
    pub fn validate(&self) -> Result<(), ConsoleConfigError> {
        if let Some(url) = &self.article_url {
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://"))
                || !url.contains("{thread}")
                || url.contains(['"', '<', '>', ' '])
            {
                return Err(ConsoleConfigError::ArticleUrl(url.clone()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for a in &self.accounts {
            if crate::domain::values::ModeratorName::parse(&a.name).is_err() {
                return Err(ConsoleConfigError::Account(
                    a.name.clone(),
                    "a name of 1 to 64 characters without control characters",
                ));
            }
            if !seen.insert(a.name.as_str()) {
                return Err(ConsoleConfigError::Account(
                    a.name.clone(),
                    "a duplicate name",
                ));
            }
            if argon2::PasswordHash::new(&a.password_hash).is_err() {
                return Err(ConsoleConfigError::Account(
                    a.name.clone(),
                    "password_hash is not an argon2 hash (use `saring moderator add NAME`)",
                ));
            }
        }
        Ok(())
    }

    /// The article link of a thread, when a pattern is set.
    pub fn article_link(&self, thread: &str) -> Option<String> {
        self.article_url
            .as_ref()
            .map(|p| p.replace("{thread}", thread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_article_pattern_or_hash_is_refused() {
        let bad = ConsoleConfig {
            article_url: Some("berita.id/{thread}".into()),
            ..ConsoleConfig::default()
        };
        assert!(bad.validate().is_err());
        let no_placeholder = ConsoleConfig {
            article_url: Some("https://berita.id/".into()),
            ..ConsoleConfig::default()
        };
        assert!(no_placeholder.validate().is_err());
        let hash = ConsoleConfig {
            accounts: vec![AccountEntry {
                name: "ani".into(),
                password_hash: "plain".into(),
            }],
            ..ConsoleConfig::default()
        };
        assert!(hash.validate().is_err());
        let ok = ConsoleConfig {
            article_url: Some("https://berita.id/{thread}".into()),
            ..ConsoleConfig::default()
        };
        ok.validate().unwrap();
        assert_eq!(
            ok.article_link("a-1").as_deref(),
            Some("https://berita.id/a-1")
        );
    }
}
