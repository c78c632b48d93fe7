//! Settings: command-line flags, then `SARING_*` environment variables, then an optional
//! `saring.toml`, then defaults that work on a fresh machine.
//!
//! Flags and variables are parsed by clap ([`ServeArgs`]); the file by serde ([`FileConfig`]);
//! [`Settings::resolve`] merges them into the one struct the application is built from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use serde::Deserialize;

use crate::limits::LimitsConfig;

/// Flags of `saring serve`; each doubles as an environment variable. Its `Debug` shows the
/// moderator tokens, the captcha secret and a store password as `<redacted>`.
#[derive(Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, env = "SARING_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Folder for the embedded store, snapshots and the captcha key (default ./data).
    #[arg(long, env = "SARING_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Event store: empty for the embedded SQLite store, or esdb://host:2113?tls=false for
    /// EventStoreDB/KurrentDB (also esdb+discover:// and kurrentdb://).
    #[arg(long, env = "SARING_STORE")]
    pub store: Option<String>,
    /// Folder of the policy files (default ./policies).
    #[arg(long, env = "SARING_POLICIES")]
    pub policies: Option<PathBuf>,
    /// The settings file (default ./saring.toml when it exists).
    #[arg(long, env = "SARING_CONFIG")]
    pub config: Option<PathBuf>,
    /// Moderator tokens as name:token,name2:token2 (kept only as hashes in memory).
    #[arg(long, env = "SARING_MODERATOR_TOKENS", hide_env_values = true)]
    pub moderator_tokens: Option<String>,
    /// CIDRs of proxies whose X-Forwarded-For is believed, comma-separated.
    #[arg(long, env = "SARING_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Origins of the sites allowed by CORS and as form redirect targets, comma-separated
    /// (e.g. https://berita.example.id).
    #[arg(long, env = "SARING_SITE_ORIGINS")]
    pub site_origins: Option<String>,
    /// `off` disables rate limits (load tests, browser tests); anything else keeps them.
    #[arg(long, env = "SARING_RATE_LIMITS")]
    pub rate_limits: Option<String>,
    /// Secret for captcha tokens (default: generated once into the data folder). Several
    /// replicas behind one load balancer must share it.
    #[arg(long, env = "SARING_CAPTCHA_SECRET", hide_env_values = true)]
    pub captcha_secret: Option<String>,
    /// Proof-of-work difficulty asked with the sum, in leading zero bits (0 turns it off);
    /// overrides `[captcha] pow_difficulty`.
    #[arg(long, env = "SARING_POW_DIFFICULTY")]
    pub pow_difficulty: Option<u8>,
    /// Log format: `text` (default) or `json`.
    #[arg(long, env = "SARING_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// `off`: the filter ignores what the site's moderators taught; overrides `[policy] learn`.
    #[arg(long, env = "SARING_LEARN")]
    pub learn: Option<String>,
    /// `off`: policy files are not watched, only reloaded by the API, SIGHUP or another
    /// replica's reload; overrides `[policy] watch`.
    #[arg(long, env = "SARING_POLICY_WATCH")]
    pub policy_watch: Option<String>,
}

/// Settings of the policy's handling (`[policy]`); the rules themselves live in the policy folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// Whether the filter reads what the site's moderators taught (the `SITE_LEARNED` line).
    pub learn: bool,
    /// Whether edits of the policy files are picked up by themselves. Off, a deployment that
    /// copies files one by one is never half-read: reload once it is done (API or SIGHUP on
    /// any replica; the others follow through the log).
    pub watch: bool,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            learn: true,
            watch: true,
        }
    }
}

/// An on/off setting's value: `off`, `false`, `0` or `no` turn it off; anything else on.
fn switch(value: Option<&str>) -> Option<bool> {
    value.map(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "false" | "0" | "no"
        )
    })
}

/// A moderator whose token is given as an argon2 hash in `saring.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct ModeratorEntry {
    /// The moderator's name, recorded on every decision (checked as the file is read).
    pub name: crate::domain::values::ModeratorName,
    /// The token's argon2 hash (`$argon2id$...`), as printed by `saring hash-token`.
    pub token_hash: String,
}

/// Settings of the captcha.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptchaSettings {
    /// Smallest operand.
    pub min_operand: u32,
    /// Largest operand.
    pub max_operand: u32,
    /// Seconds a challenge stays valid.
    pub ttl_seconds: u64,
    /// Proof of work asked with the sum, in leading zero bits of SHA-256 (default 16; 0 turns
    /// the stamp off). `SARING_POW_DIFFICULTY` overrides it.
    pub pow_difficulty: u8,
    /// Bits added for "skip the sum" (default 3: eight times the work).
    pub pow_skip_extra: u8,
    /// Bits added per risk signal: a busy address group, a busy thread, a site-wide wave, earlier
    /// spam from the group (default 2).
    pub pow_step: u8,
    /// Highest difficulty ever asked (default 24).
    pub pow_max: u8,
    /// Comments from one address group within the window that count as busy (default 5).
    pub pow_busy_address: u32,
    /// Comments into one thread within the window that count as busy (default 60).
    pub pow_busy_thread: u32,
    /// Comments on the site within the window that count as a wave (default 600).
    pub pow_busy_site: u32,
}

impl Default for CaptchaSettings {
    fn default() -> Self {
        CaptchaSettings {
            min_operand: 1,
            max_operand: 10,
            ttl_seconds: 600,
            pow_difficulty: 16,
            pow_skip_extra: 3,
            pow_step: 2,
            pow_max: 24,
            pow_busy_address: 5,
            pow_busy_thread: 60,
            pow_busy_site: 600,
        }
    }
}

/// Settings of the public threads.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThreadSettings {
    /// Replies nest to this depth; deeper replies hang under the deepest allowed ancestor.
    pub max_depth: usize,
    /// Top-level comments per page.
    pub per_page: usize,
    /// Reader reports that send a visible comment to the reported queue.
    pub flag_threshold: u32,
    /// Seconds browsers and CDNs may cache a thread page (`Cache-Control: max-age`).
    pub cache_seconds: u32,
    /// Threads refuse new comments this many days after their first visible comment; 0: never.
    pub close_after_days: u32,
}

impl Default for ThreadSettings {
    fn default() -> Self {
        ThreadSettings {
            max_depth: 3,
            per_page: 20,
            flag_threshold: 3,
            cache_seconds: 0,
            close_after_days: 0,
        }
    }
}

/// The optional `saring.toml`: the same settings as the flags, plus the nested tables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// See [`ServeArgs::listen`].
    pub listen: Option<SocketAddr>,
    /// See [`ServeArgs::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`ServeArgs::store`].
    pub store: Option<String>,
    /// See [`ServeArgs::policies`].
    pub policies: Option<PathBuf>,
    /// See [`ServeArgs::trusted_proxies`]: a list of CIDRs.
    pub trusted_proxies: Vec<String>,
    /// See [`ServeArgs::site_origins`]: a list of origins.
    pub site_origins: Vec<String>,
    /// See [`ServeArgs::rate_limits`]: `false` disables them.
    pub rate_limits_enabled: Option<bool>,
    /// Moderators with argon2-hashed tokens.
    pub moderators: Vec<ModeratorEntry>,
    /// Captcha settings.
    pub captcha: CaptchaSettings,
    /// Rate limits.
    pub limits: Option<LimitsConfig>,
    /// Thread settings.
    pub threads: ThreadSettings,
    /// Connection limits and timeouts.
    pub connections: crate::serve::ConnLimits,
    /// Write a projection snapshot after this many new events.
    pub snapshot_every: Option<u64>,
    /// ... but at most once in this many seconds.
    pub snapshot_min_seconds: Option<u64>,
    /// The moderation console: accounts, sessions, article links (`[console]`).
    pub console: crate::console::ConsoleConfig,
    /// Cache budgets in front of the projection database (`[projections]`).
    pub projections: crate::service::view::ProjectionSettings,
    /// The policy's handling: site learning, file watching (`[policy]`).
    pub policy: PolicySettings,
    /// Signed webhooks (`[webhooks]`).
    pub webhooks: crate::service::webhooks::WebhookConfig,
    /// Spam waves (`[waves]`).
    pub waves: crate::service::waves::WaveConfig,
    /// Retention of readers' data (`[privacy]`).
    pub privacy: PrivacySettings,
    /// See [`Settings::sqlite_memory_bytes`].
    pub sqlite_memory_bytes: Option<u64>,
}

/// What SQLite may hold in memory, all its connections together (page caches mostly), unless
/// `sqlite_memory_bytes` or `SARING_SQLITE_MEMORY_BYTES` says otherwise. Every connection
/// keeps up to its `cache_size` of pages, and at 1,000,000 comments the log's, the projection
/// file's and the key file's connections filled theirs to 57 MiB while serving, a quarter of the
/// server's RSS; the pages past this budget come back from the OS page cache, which holds
/// them anyway (docs/loadtest.md, "Where the server's memory goes").
pub const DEFAULT_SQLITE_MEMORY_BYTES: u64 = 24 * 1024 * 1024;

/// Retention of readers' data (`[privacy]`, docs/privacy.md); off by default.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// Purge the body of a comment that has been spam or rejected for this many days (`0`:
    /// never). `SARING_PRIVACY_PURGE_SPAM_DAYS` overrides it.
    pub purge_spam_days: u32,
    /// Drop the address group and user agent of a comment once its UTC day is this many days
    /// old (`0`: never): its day key is deleted and moderator views forget them.
    /// `SARING_PRIVACY_NETWORK_DAYS` overrides it.
    pub network_days: u32,
}

impl PrivacySettings {
    /// Applies `SARING_PRIVACY_PURGE_SPAM_DAYS` and `SARING_PRIVACY_NETWORK_DAYS`; a value
    /// that is no whole number of days is refused rather than ignored, since ignoring it would
    /// keep data the operator meant to drop.
    fn with_env(mut self) -> Result<PrivacySettings, ConfigError> {
        if let Ok(v) = std::env::var("SARING_PRIVACY_PURGE_SPAM_DAYS") {
            self.purge_spam_days = v.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "SARING_PRIVACY_PURGE_SPAM_DAYS",
                message: format!("{v:?} is not a number of days (0 turns purging off)"),
            })?;
        }
        if let Ok(v) = std::env::var("SARING_PRIVACY_NETWORK_DAYS") {
            self.network_days = v.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "SARING_PRIVACY_NETWORK_DAYS",
                message: format!(
                    "{v:?} is not a number of days (0 keeps address groups and user agents)"
                ),
            })?;
        }
        Ok(self)
    }
}

/// Why the settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The settings file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The settings file is not valid.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A setting has an invalid value.
    #[error("invalid setting {name}: {message}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Everything the application is built from. Its `Debug` shows the moderator tokens, the
/// captcha secret and a store password as `<redacted>`.
#[derive(Clone)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data folder.
    pub data_dir: PathBuf,
    /// Event store: `None` (or `sqlite`) for the embedded store in the data folder, else a
    /// KurrentDB/EventStoreDB connection string.
    pub store: Option<String>,
    /// Policy folder.
    pub policies: PathBuf,
    /// Moderators given by plain token (from the environment): name and token.
    pub moderator_tokens: Vec<(crate::domain::values::ModeratorName, SecretString)>,
    /// Moderators given by argon2 hash (from the file).
    pub moderator_hashes: Vec<ModeratorEntry>,
    /// Trusted proxies.
    pub trusted_proxies: Vec<IpNet>,
    /// Allowed site origins (scheme://host[:port], no trailing slash).
    pub site_origins: Vec<String>,
    /// Rate limits, or `None` when disabled.
    pub limits: Option<LimitsConfig>,
    /// Captcha secret from the configuration; `None` generates one in the data folder.
    pub captcha_secret: Option<SecretString>,
    /// Captcha settings.
    pub captcha: CaptchaSettings,
    /// Thread settings.
    pub threads: ThreadSettings,
    /// Connection limits and timeouts.
    pub connections: crate::serve::ConnLimits,
    /// Events between projection snapshots.
    pub snapshot_every: u64,
    /// Least seconds between projection snapshots.
    pub snapshot_min_seconds: u64,
    /// Whether logs are JSON lines.
    pub json_logs: bool,
    /// The moderation console's settings.
    pub console: crate::console::ConsoleConfig,
    /// Cache budgets in front of the projection database.
    pub projections: crate::service::view::ProjectionSettings,
    /// Site learning and policy file watching.
    pub policy: PolicySettings,
    /// Signed webhooks.
    pub webhooks: crate::service::webhooks::WebhookConfig,
    /// Spam waves: thresholds and hold mode.
    pub waves: crate::service::waves::WaveConfig,
    /// Retention of readers' data.
    pub privacy: PrivacySettings,
    /// SQLite's memory budget in bytes for the whole process (SQLite's soft heap limit: past
    /// it, connections reuse their own cached pages instead of allocating more); `0` lifts it.
    pub sqlite_memory_bytes: u64,
}

/// What `Debug` prints in place of a secret.
const REDACTED: &str = "<redacted>";

/// A secret that may be absent, for `Debug`: whether it is set, never what it is.
fn redacted<T>(secret: &Option<T>) -> Option<&'static str> {
    secret.as_ref().map(|_| REDACTED)
}

/// A store connection string with its password (`scheme://user:password@host`, or a
/// `password=` parameter) replaced by `<redacted>`.
fn redact_store(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let (start, end) = (scheme_end + 3 + colon + 1, scheme_end + 3 + at);
            out.replace_range(start..end, REDACTED);
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(p) = lower.find("password=") {
        let start = p + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, REDACTED);
    }
    out
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("store", &self.store.as_deref().map(redact_store))
            .field("policies", &self.policies)
            .field("config", &self.config)
            .field("moderator_tokens", &redacted(&self.moderator_tokens))
            .field("trusted_proxies", &self.trusted_proxies)
            .field("site_origins", &self.site_origins)
            .field("rate_limits", &self.rate_limits)
            .field("captcha_secret", &redacted(&self.captcha_secret))
            .field("log_format", &self.log_format)
            .field("learn", &self.learn)
            .field("policy_watch", &self.policy_watch)
            .finish()
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let moderators: Vec<(&str, &str)> = self
            .moderator_tokens
            .iter()
            .map(|(name, _)| (name.as_str(), REDACTED))
            .collect();
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("store", &self.store.as_deref().map(redact_store))
            .field("policies", &self.policies)
            .field("moderator_tokens", &moderators)
            .field("moderator_hashes", &self.moderator_hashes)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("site_origins", &self.site_origins)
            .field("limits", &self.limits)
            .field("captcha_secret", &redacted(&self.captcha_secret))
            .field("captcha", &self.captcha)
            .field("threads", &self.threads)
            .field("connections", &self.connections)
            .field("snapshot_every", &self.snapshot_every)
            .field("snapshot_min_seconds", &self.snapshot_min_seconds)
            .field("json_logs", &self.json_logs)
            .field("policy", &self.policy)
            .field("sqlite_memory_bytes", &self.sqlite_memory_bytes)
            .finish()
    }
}

/// The SQLite budget: `SARING_SQLITE_MEMORY_BYTES`, else the file's, else the default.
fn sqlite_memory_bytes(from_file: Option<u64>) -> Result<u64, ConfigError> {
    match std::env::var("SARING_SQLITE_MEMORY_BYTES") {
        Ok(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name: "SARING_SQLITE_MEMORY_BYTES",
            message: format!("{v:?} is not a number of bytes (0 lifts the budget)"),
        }),
        Err(_) => Ok(from_file.unwrap_or(DEFAULT_SQLITE_MEMORY_BYTES)),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

/// Parses `name:token,name2:token2`.
pub fn parse_moderator_tokens(
    s: &str,
) -> Result<Vec<(crate::domain::values::ModeratorName, SecretString)>, ConfigError> {
    split_list(s)
        .into_iter()
        .map(|pair| match pair.split_once(':') {
            Some((name, token)) if token.chars().count() >= crate::auth::MIN_TOKEN_CHARS => {
                let name = crate::domain::values::ModeratorName::parse(name).map_err(|e| {
                    ConfigError::Invalid {
                        name: "SARING_MODERATOR_TOKENS",
                        message: e.to_string(),
                    }
                })?;
                Ok((name, SecretString::from(token.to_string())))
            }
            _ => Err(ConfigError::Invalid {
                name: "SARING_MODERATOR_TOKENS",
                message: format!(
                    "expected name:token pairs separated by commas, each token at least {} characters",
                    crate::auth::MIN_TOKEN_CHARS
                ),
            }),
        })
        .collect()
}

fn parse_origins(list: Vec<String>) -> Result<Vec<String>, ConfigError> {
    list.into_iter()
        .map(|o| {
            let o = o.trim_end_matches('/').to_string();
            // Prefix stripping rather than byte offsets, which panicked inside `http://é.id`; a
            // non-ASCII host must be written in punycode (`xn--9ca.id`), as browsers send it.
            let host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .unwrap_or("");
            if !host.is_empty() && host.is_ascii() && !host.contains('/') {
                Ok(o)
            } else {
                Err(ConfigError::Invalid {
                    name: "SARING_SITE_ORIGINS",
                    message: format!(
                        "{o:?} is not an origin like https://news.example.id (write international names in punycode)"
                    ),
                })
            }
        })
        .collect()
}

impl Settings {
    /// Merges flags and variables over the file over defaults.
    pub fn resolve(args: ServeArgs) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => Some(load_file(path)?),
            None if Path::new("saring.toml").exists() => Some(load_file(Path::new("saring.toml"))?),
            None => None,
        }
        .unwrap_or_default();

        let store = args.store.or(file.store).filter(|s| !s.trim().is_empty());
        let trusted = match args.trusted_proxies {
            Some(s) => s,
            None => file.trusted_proxies.join(","),
        };
        let trusted_proxies =
            crate::clientip::parse_trusted(&trusted).map_err(|e| ConfigError::Invalid {
                name: "SARING_TRUSTED_PROXIES",
                message: e.to_string(),
            })?;
        let origins = match args.site_origins {
            Some(s) => split_list(&s),
            None => file.site_origins,
        };
        let limits_on = match args.rate_limits.as_deref().map(str::trim) {
            Some("off" | "false" | "0" | "no") => false,
            Some(_) => true,
            None => file.rate_limits_enabled.unwrap_or(true),
        };
        let moderator_tokens = match args.moderator_tokens {
            Some(s) => parse_moderator_tokens(&s)?,
            None => Vec::new(),
        };
        let mut captcha = file.captcha;
        if let Some(d) = args.pow_difficulty {
            captcha.pow_difficulty = d;
        }
        if captcha.min_operand > captcha.max_operand
            || captcha.max_operand > 1000
            || captcha.ttl_seconds == 0
        {
            return Err(ConfigError::Invalid {
                name: "captcha",
                message: "need min_operand <= max_operand <= 1000 and ttl_seconds > 0".into(),
            });
        }
        if captcha.pow_difficulty > crate::pow::MAX_DIFFICULTY
            || captcha.pow_max > crate::pow::MAX_DIFFICULTY
        {
            return Err(ConfigError::Invalid {
                name: "captcha",
                message: format!(
                    "pow_difficulty and pow_max are at most {}",
                    crate::pow::MAX_DIFFICULTY
                ),
            });
        }
        Ok(Settings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("data")),
            store,
            policies: args
                .policies
                .or(file.policies)
                .unwrap_or_else(|| PathBuf::from("policies")),
            moderator_tokens,
            moderator_hashes: file.moderators,
            trusted_proxies,
            site_origins: parse_origins(origins)?,
            limits: limits_on.then(|| file.limits.unwrap_or_default()),
            captcha_secret: args.captcha_secret.map(SecretString::from),
            captcha,
            threads: file.threads,
            connections: file.connections,
            snapshot_every: file.snapshot_every.unwrap_or(10_000).max(1),
            snapshot_min_seconds: file.snapshot_min_seconds.unwrap_or(60),
            json_logs: args.log_format.as_deref() == Some("json"),
            console: console_settings(file.console)?,
            projections: file
                .projections
                .with_env()
                .map_err(|(name, message)| ConfigError::Invalid { name, message })?,
            policy: PolicySettings {
                learn: switch(args.learn.as_deref()).unwrap_or(file.policy.learn),
                watch: switch(args.policy_watch.as_deref()).unwrap_or(file.policy.watch),
            },
            webhooks: file.webhooks.with_env(),
            waves: file.waves.with_env(),
            privacy: file.privacy.with_env()?,
            sqlite_memory_bytes: sqlite_memory_bytes(file.sqlite_memory_bytes)?,
        })
    }

    /// Settings for tests and tools: the defaults, a data folder and an ephemeral port.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            ..Settings::defaults()
        }
    }

    /// The defaults, as a fresh machine with no flags, variables or file gets them.
    pub fn defaults() -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            store: None,
            policies: PathBuf::from("policies"),
            moderator_tokens: Vec::new(),
            moderator_hashes: Vec::new(),
            trusted_proxies: Vec::new(),
            site_origins: Vec::new(),
            limits: Some(LimitsConfig::default()),
            captcha_secret: None,
            captcha: CaptchaSettings::default(),
            threads: ThreadSettings::default(),
            connections: crate::serve::ConnLimits::default(),
            snapshot_every: 10_000,
            snapshot_min_seconds: 60,
            json_logs: false,
            console: crate::console::ConsoleConfig::default(),
            projections: crate::service::view::ProjectionSettings::default(),
            policy: PolicySettings::default(),
            webhooks: crate::service::webhooks::WebhookConfig::default(),
            waves: crate::service::waves::WaveConfig::default(),
            privacy: PrivacySettings::default(),
            sqlite_memory_bytes: DEFAULT_SQLITE_MEMORY_BYTES,
        }
    }

    /// The captcha configuration.
    pub fn captcha_config(&self) -> crate::captcha::CaptchaConfig {
        crate::captcha::CaptchaConfig {
            min_operand: self.captcha.min_operand,
            max_operand: self.captcha.max_operand,
            ttl: Duration::from_secs(self.captcha.ttl_seconds),
            pow: crate::pow::PowSettings {
                difficulty: self.captcha.pow_difficulty,
                skip_extra: self.captcha.pow_skip_extra,
                step: self.captcha.pow_step,
                max: self.captcha.pow_max,
                busy_address: self.captcha.pow_busy_address,
                busy_thread: self.captcha.pow_busy_thread,
                busy_site: self.captcha.pow_busy_site,
                window_secs: 600,
            },
            ..crate::captcha::CaptchaConfig::default()
        }
    }
}

fn console_settings(
    file: crate::console::ConsoleConfig,
) -> Result<crate::console::ConsoleConfig, ConfigError> {
    let invalid = |e: crate::console::config::ConsoleConfigError| ConfigError::Invalid {
        name: "console",
        message: e.to_string(),
    };
    let console = file.with_env().map_err(invalid)?;
    console.validate().map_err(invalid)?;
    Ok(console)
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let args = ServeArgs {
            moderator_tokens: Some("ayu:rahasia-ayu-sangat-panjang-123".into()),
            captcha_secret: Some("kunci-captcha-rahasia".into()),
            store: Some("postgres://saring:sandi-db@db.contoh.id:5432/saring".into()),
            config: Some("/dev/null".into()),
            ..Default::default()
        };
        let settings = Settings::resolve(args.clone()).unwrap();
        for printed in [
            format!("{args:?}"),
            format!("{settings:?}"),
            format!("{settings:#?}"),
        ] {
            for secret in ["rahasia-ayu", "kunci-captcha", "sandi-db"] {
                assert!(!printed.contains(secret), "{secret} in {printed}");
            }
            assert!(printed.contains("<redacted>"), "{printed}");
            assert!(
                printed.contains("db.contoh.id"),
                "the host stays: {printed}"
            );
        }
        assert!(
            format!("{settings:?}").contains("ayu"),
            "moderator names stay"
        );
    }

    #[test]
    fn store_passwords_are_redacted_in_either_form() {
        assert_eq!(
            redact_store("postgresql://u:p%40ss@h:5432/db?sslmode=disable"),
            "postgresql://u:<redacted>@h:5432/db?sslmode=disable"
        );
        assert_eq!(
            redact_store("host=h user=u password=geheim dbname=d"),
            "host=h user=u password=<redacted> dbname=d"
        );
        assert_eq!(
            redact_store("esdb://h:2113?tls=false"),
            "esdb://h:2113?tls=false"
        );
        assert_eq!(redact_store("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn defaults_work_on_a_fresh_machine() {
        let s = Settings::resolve(ServeArgs {
            config: Some("/dev/null".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(s.store.is_none());
        assert!(s.limits.is_some());
    }

    #[test]
    fn flags_win_and_lists_parse() {
        let s = Settings::resolve(ServeArgs {
            config: Some("/dev/null".into()),
            store: Some("esdb://localhost:2113?tls=false".into()),
            moderator_tokens: Some(
                "ayu:token-satu-123-abcdefghijk, budi:token-dua-456-abcdefghijkl".into(),
            ),
            trusted_proxies: Some("10.0.0.0/8, 127.0.0.1".into()),
            site_origins: Some("https://berita.contoh.id/".into()),
            rate_limits: Some("off".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(s.store.as_deref().is_some_and(|s| s.starts_with("esdb://")));
        assert_eq!(s.moderator_tokens.len(), 2);
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(s.site_origins, ["https://berita.contoh.id"]);
        assert!(s.limits.is_none());
    }

    #[test]
    fn bad_values_are_specific_errors() {
        let bad = |args: ServeArgs| {
            Settings::resolve(ServeArgs {
                config: Some("/dev/null".into()),
                ..args
            })
            .unwrap_err()
            .to_string()
        };
        assert!(
            bad(ServeArgs {
                moderator_tokens: Some("ayu:only-twenty-3-chars!".into()),
                ..Default::default()
            })
            .contains("at least 24 characters")
        );
        assert!(
            bad(ServeArgs {
                site_origins: Some("http://é.id".into()),
                ..Default::default()
            })
            .contains("SARING_SITE_ORIGINS")
        );
        assert!(
            bad(ServeArgs {
                moderator_tokens: Some("nocolon".into()),
                ..Default::default()
            })
            .contains("SARING_MODERATOR_TOKENS")
        );
        assert!(
            bad(ServeArgs {
                site_origins: Some("berita.id".into()),
                ..Default::default()
            })
            .contains("SARING_SITE_ORIGINS")
        );
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The shipped example documents every setting; it must stay loadable and true to the defaults.
    #[test]
    fn the_example_settings_file_loads_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("saring.example.toml");
        let s = Settings::resolve(ServeArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap();
        let defaults = Settings::resolve(ServeArgs {
            config: Some("/dev/null".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.listen, defaults.listen);
        assert_eq!(s.limits, defaults.limits);
        assert_eq!(s.threads.max_depth, defaults.threads.max_depth);
        assert_eq!(s.snapshot_every, defaults.snapshot_every);
        assert!(
            s.policy.learn && s.policy.watch,
            "the example keeps both on"
        );
    }

    #[test]
    fn policy_switches_come_from_the_file_and_the_variables_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saring.toml");
        std::fs::write(&path, "[policy]\nlearn = false\nwatch = false\n").unwrap();
        let from_file = Settings::resolve(ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert!(!from_file.policy.learn && !from_file.policy.watch);
        let overridden = Settings::resolve(ServeArgs {
            config: Some(path.clone()),
            learn: Some("on".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(overridden.policy.learn && !overridden.policy.watch);
        let off = Settings::resolve(ServeArgs {
            config: Some("/dev/null".into()),
            learn: Some("off".into()),
            policy_watch: Some("off".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(!off.policy.learn && !off.policy.watch);
        std::fs::write(&path, "[policy]\nlearn = \"maybe\"\n").unwrap();
        let e = Settings::resolve(ServeArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("learn"), "{e}");
    }

    #[test]
    fn the_sqlite_memory_budget_defaults_to_24_mib_and_comes_from_the_file() {
        let defaults = Settings::resolve(ServeArgs {
            config: Some("/dev/null".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(defaults.sqlite_memory_bytes, 24 * 1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saring.toml");
        std::fs::write(&path, "sqlite_memory_bytes = 0\n").unwrap();
        let lifted = Settings::resolve(ServeArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(lifted.sqlite_memory_bytes, 0);
    }
}
