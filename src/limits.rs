//! Rate limits on comments and on captcha issuance, with memory that stays bounded.
//!
//! Every limit is a GCRA token bucket from `governor`: a sustained rate plus a burst. Comments are
//! limited per client address (IPv4 whole, IPv6 by its /64, since one household or phone gets a
//! whole /64), per subnet (IPv4 /24, IPv6 /56), per network (IPv6 /48), per email (case-folded),
//! per thread, and by a global ceiling; captchas and reader reports per address.
//!
//! The wider groups exist because an attacker with one routed IPv6 /48 holds 65,536 /64s and an
//! IPv4 /24 holds 256 addresses: limited only per address, one network could pass for thousands
//! of readers. Each group has its own, more generous bucket, so the readers of one carrier or
//! campus still fit while one network cannot flood.
//!
//! Memory: each keyed map holds one small entry per recently seen key. [`Limiters::retain_recent`]
//! (the app calls it on a timer) drops every key whose bucket is full again, so after a flood the
//! maps shrink back to the keys active in the last period. Between sweeps a map never grows past
//! [`LimitsConfig::max_keys`]: when full, it is swept at once (at most once a second). If a
//! comment map is still full of live keys, that limit is skipped and the comment is admitted as
//! [`Admission::HoldForModeration`] ([`HoldReason::KeyMapFull`]): the new reader is heard, the
//! flooders' buckets are kept (emptying the map would give them a fresh burst), and nothing
//! reaches the public page unseen. The captcha and report maps, which admit no content, are
//! emptied instead (a full map fails open for the new reader rather than refusing everyone). Keys are fixed-size (an address group
//! or a 16-byte digest), so a long email or thread key cannot make an entry large.
//!
//! The global ceiling fails open too, but not blindly: a comment that every per-client limit let
//! through and only the ceiling would refuse is admitted as [`Admission::HoldForModeration`], so
//! the service stores it held for a moderator instead of answering `429`. A flood from thousands
//! of addresses then fills the moderators' queue, not the public pages, and the innocent reader
//! who arrives during the flood is still heard.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A sustained rate with a burst, written in configuration as `"1 per 15s"`,
/// `"2 per 1m, burst 4"`, `"50 per second, burst 200"`, or `"off"`.
///
/// `count per period` is the long-run allowance: one more event is allowed every
/// `period / count`. `burst` is how many may come at once after a quiet spell (default: `count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Rate {
    /// No limit at all (for load tests, or when a proxy in front already limits).
    Off,
    /// At most `count` per `per_seconds` seconds in the long run, `burst` at once.
    Limit {
        /// Events per period (at least 1).
        count: u32,
        /// The period in seconds (at least 1).
        per_seconds: u64,
        /// Events allowed back to back after a quiet spell (at least 1).
        burst: u32,
    },
}

impl Rate {
    /// `count` per `per_seconds` seconds, with a burst of `count`.
    pub const fn per(count: u32, per_seconds: u64) -> Rate {
        Rate::Limit {
            count,
            per_seconds,
            burst: count,
        }
    }

    /// The same rate with another burst.
    pub const fn with_burst(self, burst: u32) -> Rate {
        match self {
            Rate::Off => Rate::Off,
            Rate::Limit {
                count, per_seconds, ..
            } => Rate::Limit {
                count,
                per_seconds,
                burst,
            },
        }
    }

    /// The governor quota, or `None` when off. Zeros are read as 1 so that a hand-built
    /// `Rate::Limit` can never panic or divide by zero.
    fn quota(self) -> Option<Quota> {
        let Rate::Limit {
            count,
            per_seconds,
            burst,
        } = self
        else {
            return None;
        };
        let interval = Duration::from_secs(per_seconds.max(1)) / count.max(1);
        let interval = interval.max(Duration::from_nanos(1));
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(interval).map(|q| q.allow_burst(burst))
    }
}

/// A rate that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rate {0:?}: expected e.g. \"1 per 15s\", \"2 per 1m, burst 4\", \"20 per second\" or \"off\""
)]
pub struct RateParseError(pub String);

const MAX_COUNT: u32 = 1_000_000;
const MAX_PERIOD_SECS: u64 = 7 * 86_400;

impl FromStr for Rate {
    type Err = RateParseError;

    fn from_str(text: &str) -> Result<Rate, RateParseError> {
        let err = || RateParseError(text.chars().take(80).collect());
        let lower = text.trim().to_ascii_lowercase();
        if matches!(lower.as_str(), "off" | "none" | "unlimited") {
            return Ok(Rate::Off);
        }
        let (main, burst) = match lower.split_once(',') {
            Some((main, burst)) => (main.trim(), Some(burst.trim())),
            None => (lower.as_str(), None),
        };
        let (count, period) = main.split_once(" per ").ok_or_else(err)?;
        let count: u32 = count.trim().parse().map_err(|_| err())?;
        let per_seconds = parse_period(period.trim()).ok_or_else(err)?;
        let burst = match burst {
            None => count,
            Some(b) => b
                .strip_prefix("burst")
                .ok_or_else(err)?
                .trim()
                .parse()
                .map_err(|_| err())?,
        };
        let valid = |n: u32| (1..=MAX_COUNT).contains(&n);
        if !valid(count) || !valid(burst) || !(1..=MAX_PERIOD_SECS).contains(&per_seconds) {
            return Err(err());
        }
        Ok(Rate::Limit {
            count,
            per_seconds,
            burst,
        })
    }
}

/// `15s`, `1m`, `2 minutes`, `second`, `1h`: a number (default 1) and a unit.
fn parse_period(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = if number.is_empty() {
        1
    } else {
        number.parse().ok()?
    };
    let unit_secs = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    number.checked_mul(unit_secs)
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rate::Off => f.write_str("off"),
            Rate::Limit {
                count,
                per_seconds,
                burst,
            } => {
                let period = if per_seconds % 3600 == 0 {
                    format!("{}h", per_seconds / 3600)
                } else if per_seconds % 60 == 0 {
                    format!("{}m", per_seconds / 60)
                } else {
                    format!("{per_seconds}s")
                };
                write!(f, "{count} per {period}")?;
                if burst != count {
                    write!(f, ", burst {burst}")?;
                }
                Ok(())
            }
        }
    }
}

impl TryFrom<String> for Rate {
    type Error = RateParseError;
    fn try_from(s: String) -> Result<Rate, RateParseError> {
        s.parse()
    }
}

impl From<Rate> for String {
    fn from(rate: Rate) -> String {
        rate.to_string()
    }
}

/// The rate limits, as written in `saring.toml` under `[limits]`; fields left out keep their
/// defaults.
///
/// The defaults follow established practice and the readers of the seed site:
/// - `per_address = "1 per 30s, burst 3"`: Isso allows 2 comments a minute per address, the
///   sustained rate here. The burst of 3 is there because Indonesian mobile carriers put many
///   readers behind one carrier-grade NAT address, and a reader in a conversation may reply
///   twice quickly; a bot on one address still gets only 2 a minute.
/// - `per_subnet = "1 per 3s, burst 30"` (IPv4 /24, IPv6 /56): a /56 is one customer site and a
///   /24 a carrier's block of carrier-grade NAT addresses; 20 a minute and 30 at once is far above
///   what the readers behind one block write to one site, and ten times below the global ceiling.
/// - `per_network = "1 per 1s, burst 60"` (IPv6 /48): the unit an organisation or a hosting
///   customer is routed; it keeps one /48 from filling the global ceiling on its own.
/// - `per_email = "1 per 15s"`: WordPress's comment-flood rule, one comment per 15 seconds from
///   the same person. Emails are case-folded, so `Ani@X.id` and `ani@x.id` are one person.
/// - `per_thread = "1 per 2s, burst 30"`: a hot article gets a burst of 30 at once and 30 a
///   minute after that, far above what real readers of a regional site write, low enough that a
///   coordinated flood of one article's thread does not bury it.
/// - `global = "20 per second, burst 200"`: 72,000 comments an hour, more than any single news
///   site receives, but a ceiling on what a botnet can push into the store and the moderators'
///   queue.
/// - `captcha_per_address = "1 per 2s, burst 30"`: fetching a challenge is cheap but unbounded
///   fetching is a way to harvest tokens; 30 at once and 30 a minute covers a CGNAT address.
/// - `report_per_address = "1 per 10s, burst 10"`: a reader reports a handful of comments on a
///   page at most; a report costs a stream read and an append, so a flood of them from one
///   address (or /64) is the cheapest way to load the store.
/// - `max_keys = 200000` per map: about 10 MiB each at most, swept when full.
///
/// For load tests use [`LimitsConfig::unlimited`] (or set each rate to `"off"`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Comments per client address (IPv4 address, IPv6 /64).
    pub per_address: Rate,
    /// Comments per subnet (IPv4 /24, IPv6 /56).
    pub per_subnet: Rate,
    /// Comments per IPv6 network (/48); IPv4 has no such level.
    pub per_network: Rate,
    /// Comments per email address, case-folded.
    pub per_email: Rate,
    /// Comments per thread.
    pub per_thread: Rate,
    /// Comments over the whole service.
    pub global: Rate,
    /// Captcha challenges per client address.
    pub captcha_per_address: Rate,
    /// Reader reports (flags) per client address.
    pub report_per_address: Rate,
    /// Most keys remembered in each keyed map between sweeps.
    pub max_keys: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            per_address: Rate::per(1, 30).with_burst(3),
            per_subnet: Rate::per(1, 3).with_burst(30),
            per_network: Rate::per(1, 1).with_burst(60),
            per_email: Rate::per(1, 15),
            per_thread: Rate::per(1, 2).with_burst(30),
            global: Rate::per(20, 1).with_burst(200),
            captcha_per_address: Rate::per(1, 2).with_burst(30),
            report_per_address: Rate::per(1, 10).with_burst(10),
            max_keys: 200_000,
        }
    }
}

impl LimitsConfig {
    /// No limits at all: for load tests and benchmarks.
    pub fn unlimited() -> Self {
        LimitsConfig {
            per_address: Rate::Off,
            per_subnet: Rate::Off,
            per_network: Rate::Off,
            per_email: Rate::Off,
            per_thread: Rate::Off,
            global: Rate::Off,
            captcha_per_address: Rate::Off,
            report_per_address: Rate::Off,
            ..LimitsConfig::default()
        }
    }
}

/// Which limit refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Too many comments from this address (or IPv6 /64).
    Address,
    /// Too many comments from this IPv4 /24 or IPv6 /56.
    Subnet,
    /// Too many comments from this IPv6 /48.
    Network,
    /// Too many comments with this email.
    Email,
    /// Too many comments in this thread.
    Thread,
    /// Too many captcha challenges for this address.
    Captcha,
    /// Too many reports from this address.
    Report,
}

impl Scope {
    /// A short stable name, for error codes and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Address => "address",
            Scope::Subnet => "subnet",
            Scope::Network => "network",
            Scope::Email => "email",
            Scope::Thread => "thread",
            Scope::Captcha => "captcha",
            Scope::Report => "report",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: which limit, and how long until trying again can succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rate limited per {scope}; retry after {} s", retry_after.as_secs())]
pub struct RateLimited {
    /// The limit that refused.
    pub scope: Scope,
    /// Whole seconds (at least 1) until a retry can pass this limit.
    pub retry_after: Duration,
}

impl RateLimited {
    /// The value for the `Retry-After` header.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }
}

/// How a comment that no limit refused is to be admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a comment over the global ceiling must be held for moderation"]
pub enum Admission {
    /// Within every limit: the policy's verdict stands.
    Normal,
    /// Not refused, but not to be published unseen: store the comment held for a moderator
    /// (unless the policy classed it worse), rather than refuse every new reader.
    HoldForModeration(HoldReason),
}

/// Why a comment is admitted only for moderation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldReason {
    /// Within every per-client limit, but over the global ceiling.
    GlobalCeiling,
    /// This limit's key map is full of live keys (a flood from more clients than it remembers),
    /// so it could neither count the comment nor refuse it.
    KeyMapFull(Scope),
}

/// Sizes of the keyed maps, exported as metrics by the app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KeyCounts {
    /// Address groups remembered for comments.
    pub address: usize,
    /// Subnets (IPv4 /24, IPv6 /56) remembered for comments.
    pub subnet: usize,
    /// IPv6 /48 networks remembered for comments.
    pub network: usize,
    /// Emails remembered.
    pub email: usize,
    /// Threads remembered.
    pub thread: usize,
    /// Address groups remembered for captchas.
    pub captcha: usize,
    /// Address groups remembered for reports.
    pub report: usize,
}

impl KeyCounts {
    /// All keys together.
    pub fn total(&self) -> usize {
        self.address
            + self.subnet
            + self.network
            + self.email
            + self.thread
            + self.captcha
            + self.report
    }
}

/// The address group a limit applies to: the IPv4 address itself or the IPv6 /64 (IPv4-mapped
/// IPv6 counts as IPv4). Also useful wherever "the same client" is meant.
pub fn address_group(ip: IpAddr) -> IpNet {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpNet::V4(Ipv4Net::from(v4)),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpNet::V6(Ipv6Net::new(prefix.into(), 64).unwrap_or_else(|_| Ipv6Net::from(v6)))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6(u64),
}

impl AddressKey {
    /// The address itself (IPv4) or its /64 (IPv6).
    fn of(ip: IpAddr) -> AddressKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddressKey::V4(v4.into()),
            IpAddr::V6(v6) => AddressKey::V6((u128::from(v6) >> 64) as u64),
        }
    }

    /// The IPv4 /24 or the IPv6 /56 around `ip`.
    fn subnet(ip: IpAddr) -> AddressKey {
        match AddressKey::of(ip) {
            AddressKey::V4(v4) => AddressKey::V4(v4 & !0xff),
            AddressKey::V6(top) => AddressKey::V6(top & !0xff),
        }
    }

    /// The IPv6 /48 around `ip`; IPv4 has no level above the /24, so none.
    fn network(ip: IpAddr) -> Option<AddressKey> {
        match AddressKey::of(ip) {
            AddressKey::V4(_) => None,
            AddressKey::V6(top) => Some(AddressKey::V6(top & !0xffff)),
        }
    }
}

/// A fixed-size stand-in for an email or thread key.
type DigestKey = [u8; 16];

fn digest_key(text: &str) -> DigestKey {
    let full = Sha256::digest(text.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&full[..16]);
    key
}

type KeyedLimiter<K, C> = RateLimiter<K, SharedStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// governor's dashmap store behind an `Arc`, so the scope can ask whether a key is already
/// remembered (governor's limiter has no such question) without counting it.
struct SharedStore<K: std::hash::Hash + Eq + Clone>(std::sync::Arc<DashMapStateStore<K>>);

impl<K: std::hash::Hash + Eq + Clone> StateStore for SharedStore<K> {
    type Key = K;
    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl<K: std::hash::Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for SharedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.0, drop_below);
    }
    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0);
    }
    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&*self.0)
    }
    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&*self.0)
    }
}

/// A keyed limiter and a handle on its map.
struct Keyed<K: std::hash::Hash + Eq + Clone, C: Clock> {
    limiter: KeyedLimiter<K, C>,
    map: std::sync::Arc<DashMapStateStore<K>>,
}

impl<K: std::hash::Hash + Eq + Clone, C: Clock> Keyed<K, C> {
    fn new(quota: Quota, clock: C) -> Self {
        let map = std::sync::Arc::new(DashMapStateStore::<K>::default());
        Keyed {
            limiter: RateLimiter::new(quota, SharedStore(map.clone()), clock),
            map,
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, C: Clock> std::ops::Deref for Keyed<K, C> {
    type Target = KeyedLimiter<K, C>;
    fn deref(&self) -> &KeyedLimiter<K, C> {
        &self.limiter
    }
}
type DirectLimiter<C> =
    RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One keyed limit with its emergency sweep.
struct KeyedScope<K: std::hash::Hash + Eq + Clone, C: Clock> {
    /// Replaced by an empty one when the map is full of live keys (see [`KeyedScope::check`]).
    limiter: parking_lot::RwLock<Keyed<K, C>>,
    quota: Quota,
    scope: Scope,
    /// When the map was last swept because it was full; only one request sweeps, at most once a
    /// second, so a flood cannot turn every request into a full scan.
    last_sweep: Mutex<Option<C::Instant>>,
}

impl<K: std::hash::Hash + Eq + Clone, C: Clock + Clone> KeyedScope<K, C> {
    fn new(rate: Rate, scope: Scope, clock: &C) -> Option<Self> {
        let quota = rate.quota()?;
        Some(KeyedScope {
            limiter: parking_lot::RwLock::new(Keyed::new(quota, clock.clone())),
            quota,
            scope,
            last_sweep: Mutex::new(None),
        })
    }

    /// Counts `key` like [`KeyedScope::check`], but a map still full of live keys after the sweep
    /// is left as it is: a key it already holds is counted (and refused) as usual, a new one is
    /// answered [`KeyCheck::MapFull`] and the caller holds the comment.
    fn check_or_full(&self, key: &K, clock: &C, max_keys: usize) -> Result<KeyCheck, RateLimited> {
        if self.limiter.read().len() >= max_keys {
            self.sweep_if_due(clock);
            let limiter = self.limiter.read();
            if limiter.len() >= max_keys && !limiter.map.contains_key(key) {
                metrics::counter!("saring_limit_keys_full_total", "scope" => self.scope.as_str())
                    .increment(1);
                return Ok(KeyCheck::MapFull);
            }
        }
        self.limiter
            .read()
            .check_key(key)
            .map(|()| KeyCheck::Counted)
            .map_err(|not_until| refusal(self.scope, not_until.wait_time_from(clock.now())))
    }

    fn check(&self, key: &K, clock: &C, max_keys: usize) -> Result<(), RateLimited> {
        if self.limiter.read().len() >= max_keys {
            self.sweep_if_due(clock);
            let mut limiter = self.limiter.write();
            if limiter.len() >= max_keys {
                // Full of live keys: forget them all rather than refuse every new reader (the
                // map used to fail closed, so a flood of fresh addresses locked everyone out).
                // The flooders get a fresh burst too; the global and group limits still hold.
                metrics::counter!("saring_limit_keys_evicted_total", "scope" => self.scope.as_str())
                    .increment(limiter.len() as u64);
                *limiter = Keyed::new(self.quota, clock.clone());
            }
        }
        self.limiter
            .read()
            .check_key(key)
            .map_err(|not_until| refusal(self.scope, not_until.wait_time_from(clock.now())))
    }

    fn sweep_if_due(&self, clock: &C) {
        let Some(mut last) = self.last_sweep.try_lock() else {
            return;
        };
        let now = clock.now();
        let due =
            last.is_none_or(|at| Duration::from(now.duration_since(at)) >= Duration::from_secs(1));
        if due {
            *last = Some(now);
            self.limiter.read().retain_recent();
        }
    }

    fn retain_recent(&self) {
        let limiter = self.limiter.read();
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.limiter.read().len()
    }
}

/// What a comment limit's check found, when it did not refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyCheck {
    /// Counted against the key's bucket.
    Counted,
    /// The map is full of live keys; the comment was not counted here.
    MapFull,
}

/// Whole seconds, rounded up, never below one: a client told "0" would retry at once.
fn refusal(scope: Scope, wait: Duration) -> RateLimited {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    RateLimited {
        scope,
        retry_after: Duration::from_secs(secs.max(1)),
    }
}

/// All the limiters of one server. Cheap to check from many tasks at once (sharded maps, atomic
/// buckets). `C` is the clock; tests pass governor's `FakeRelativeClock` to move time by hand.
pub struct Limiters<C: Clock + Clone = DefaultClock> {
    clock: C,
    address: Option<KeyedScope<AddressKey, C>>,
    subnet: Option<KeyedScope<AddressKey, C>>,
    network: Option<KeyedScope<AddressKey, C>>,
    email: Option<KeyedScope<DigestKey, C>>,
    thread: Option<KeyedScope<DigestKey, C>>,
    global: Option<DirectLimiter<C>>,
    captcha: Option<KeyedScope<AddressKey, C>>,
    report: Option<KeyedScope<AddressKey, C>>,
    max_keys: usize,
}

impl<C: Clock + Clone> fmt::Debug for Limiters<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiters")
            .field("key_counts", &self.key_counts())
            .finish_non_exhaustive()
    }
}

impl Limiters {
    /// Limiters on the real monotonic clock.
    pub fn new(cfg: &LimitsConfig) -> Limiters {
        Limiters::with_clock(cfg, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limiters<C> {
    /// Limiters on the given clock.
    pub fn with_clock(cfg: &LimitsConfig, clock: C) -> Limiters<C> {
        Limiters {
            address: KeyedScope::new(cfg.per_address, Scope::Address, &clock),
            subnet: KeyedScope::new(cfg.per_subnet, Scope::Subnet, &clock),
            network: KeyedScope::new(cfg.per_network, Scope::Network, &clock),
            email: KeyedScope::new(cfg.per_email, Scope::Email, &clock),
            thread: KeyedScope::new(cfg.per_thread, Scope::Thread, &clock),
            global: cfg
                .global
                .quota()
                .map(|q| RateLimiter::direct_with_clock(q, clock.clone())),
            captcha: KeyedScope::new(cfg.captcha_per_address, Scope::Captcha, &clock),
            report: KeyedScope::new(cfg.report_per_address, Scope::Report, &clock),
            max_keys: cfg.max_keys.max(1),
            clock,
        }
    }

    /// Counts one comment from `ip` with `email` (ignored when empty) into `thread`.
    ///
    /// The most specific limit is checked first (address, subnet, network, then email, thread,
    /// global) and the first refusal stops the check, so one noisy client spends its own
    /// allowance, not the thread's or everyone's. A comment that passes one limit and is refused
    /// by a later one still counts against the earlier: an attempt is an attempt.
    ///
    /// The global ceiling never refuses: over it the answer is
    /// [`Admission::HoldForModeration`] (and the comment spends no global allowance), so a flood
    /// from many addresses cannot lock every other reader out. A key map full of live keys does
    /// not refuse either: that limit is skipped and the comment held. Every other limit refuses
    /// with [`RateLimited`].
    pub fn check_comment(
        &self,
        ip: IpAddr,
        email: &str,
        thread: &str,
    ) -> Result<Admission, RateLimited> {
        // The first map found full decides the reason; later limits are still checked, so a
        // full address map does not switch off the email or thread limits.
        let mut full = None;
        let mut count = |scope: Scope, checked: Result<KeyCheck, RateLimited>| {
            if checked? == KeyCheck::MapFull {
                full.get_or_insert(scope);
            }
            Ok::<(), RateLimited>(())
        };
        if let Some(address) = &self.address {
            count(
                Scope::Address,
                address.check_or_full(&AddressKey::of(ip), &self.clock, self.max_keys),
            )?;
        }
        if let Some(subnet) = &self.subnet {
            count(
                Scope::Subnet,
                subnet.check_or_full(&AddressKey::subnet(ip), &self.clock, self.max_keys),
            )?;
        }
        if let (Some(network), Some(key)) = (&self.network, AddressKey::network(ip)) {
            count(
                Scope::Network,
                network.check_or_full(&key, &self.clock, self.max_keys),
            )?;
        }
        if let Some(limit) = &self.email {
            let email = email.trim();
            if !email.is_empty() {
                let folded = email.to_lowercase();
                count(
                    Scope::Email,
                    limit.check_or_full(&digest_key(&folded), &self.clock, self.max_keys),
                )?;
            }
        }
        if let Some(limit) = &self.thread {
            count(
                Scope::Thread,
                limit.check_or_full(&digest_key(thread), &self.clock, self.max_keys),
            )?;
        }
        if let Some(scope) = full {
            // Held comments spend no global allowance, as over the ceiling.
            return Ok(Admission::HoldForModeration(HoldReason::KeyMapFull(scope)));
        }
        if let Some(global) = &self.global
            && global.check().is_err()
        {
            return Ok(Admission::HoldForModeration(HoldReason::GlobalCeiling));
        }
        Ok(Admission::Normal)
    }

    /// Counts one captcha challenge issued to `ip`.
    pub fn check_captcha(&self, ip: IpAddr) -> Result<(), RateLimited> {
        match &self.captcha {
            Some(limit) => limit.check(&AddressKey::of(ip), &self.clock, self.max_keys),
            None => Ok(()),
        }
    }

    /// Counts one reader report from `ip`.
    pub fn check_report(&self, ip: IpAddr) -> Result<(), RateLimited> {
        match &self.report {
            Some(limit) => limit.check(&AddressKey::of(ip), &self.clock, self.max_keys),
            None => Ok(()),
        }
    }

    /// Forgets every key whose bucket is full again and releases the memory. Call it on a timer
    /// (every 10 to 60 seconds); it scans each map once.
    pub fn retain_recent(&self) {
        for scope in [
            &self.address,
            &self.subnet,
            &self.network,
            &self.captcha,
            &self.report,
        ]
        .into_iter()
        .flatten()
        {
            scope.retain_recent();
        }
        for scope in [&self.email, &self.thread].into_iter().flatten() {
            scope.retain_recent();
        }
    }

    /// How many keys each map holds now.
    pub fn key_counts(&self) -> KeyCounts {
        KeyCounts {
            address: self.address.as_ref().map_or(0, KeyedScope::len),
            subnet: self.subnet.as_ref().map_or(0, KeyedScope::len),
            network: self.network.as_ref().map_or(0, KeyedScope::len),
            email: self.email.as_ref().map_or(0, KeyedScope::len),
            thread: self.thread.as_ref().map_or(0, KeyedScope::len),
            captcha: self.captcha.as_ref().map_or(0, KeyedScope::len),
            report: self.report.as_ref().map_or(0, KeyedScope::len),
        }
    }

    /// Sets the gauge `saring_ratelimit_keys{map=address|subnet|network|email|thread|captcha|report}` to the current
    /// key counts (a no-op until the app installs a metrics recorder).
    pub fn record_metrics(&self) {
        let counts = self.key_counts();
        for (map, n) in [
            ("address", counts.address),
            ("subnet", counts.subnet),
            ("network", counts.network),
            ("email", counts.email),
            ("thread", counts.thread),
            ("captcha", counts.captcha),
            ("report", counts.report),
        ] {
            metrics::gauge!("saring_ratelimit_keys", "map" => map).set(n as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn only(f: impl FnOnce(&mut LimitsConfig)) -> LimitsConfig {
        let mut cfg = LimitsConfig::unlimited();
        f(&mut cfg);
        cfg
    }

    fn limiters(cfg: &LimitsConfig) -> (Limiters<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (Limiters::with_clock(cfg, clock.clone()), clock)
    }

    #[test]
    fn limiters_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Limiters>();
    }

    #[test]
    fn rates_read_and_print() {
        assert_eq!("1 per 15s".parse(), Ok(Rate::per(1, 15)));
        assert_eq!(
            "2 per 1m, burst 4".parse(),
            Ok(Rate::per(2, 60).with_burst(4))
        );
        assert_eq!("20 per second".parse(), Ok(Rate::per(20, 1)));
        assert_eq!(
            " 3 PER 2 minutes ,burst 5".parse(),
            Ok(Rate::per(3, 120).with_burst(5))
        );
        assert_eq!("off".parse(), Ok(Rate::Off));
        for bad in [
            "",
            "1",
            "0 per 1s",
            "1 per 0s",
            "1 per fortnight",
            "1 per 15s, 4",
            "1 per 15s, burst 0",
            "-1 per 1s",
            "99999999999 per 1s",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
        for rate in [
            Rate::per(1, 15),
            Rate::per(1, 30).with_burst(3),
            Rate::per(20, 3600),
            Rate::per(2, 90),
            Rate::Off,
        ] {
            assert_eq!(rate.to_string().parse(), Ok(rate));
        }
        assert_eq!(
            Rate::per(1, 30).with_burst(3).to_string(),
            "1 per 30s, burst 3"
        );
    }

    #[test]
    fn config_from_toml_keeps_defaults_for_missing_fields() {
        let cfg: LimitsConfig =
            toml::from_str("per_email = \"1 per 1m\"\nglobal = \"off\"").unwrap();
        assert_eq!(cfg.per_email, Rate::per(1, 60));
        assert_eq!(cfg.global, Rate::Off);
        assert_eq!(cfg.per_address, LimitsConfig::default().per_address);
        assert!(toml::from_str::<LimitsConfig>("per_email = \"often\"").is_err());
        assert!(toml::from_str::<LimitsConfig>("per_mail = \"1 per 1s\"").is_err());
        let written = toml::to_string(&LimitsConfig::default()).unwrap();
        assert!(written.contains("per_email = \"1 per 15s\""), "{written}");
        assert_eq!(
            toml::from_str::<LimitsConfig>(&written).unwrap(),
            LimitsConfig::default()
        );
    }

    #[test]
    fn defaults_refuse_a_second_comment_from_one_email_within_15s() {
        let (l, clock) = limiters(&LimitsConfig::default());
        assert!(
            l.check_comment(ip("192.0.2.1"), "ani@example.id", "a")
                .is_ok()
        );
        let err = l
            .check_comment(ip("192.0.2.2"), "ani@example.id", "b")
            .unwrap_err();
        assert_eq!(err.scope, Scope::Email);
        assert_eq!(err.retry_after, Duration::from_secs(15));
        clock.advance(Duration::from_secs(15));
        assert!(
            l.check_comment(ip("192.0.2.2"), "ani@example.id", "b")
                .is_ok()
        );
    }

    #[test]
    fn email_is_case_folded_and_trimmed() {
        let (l, _) = limiters(&only(|c| c.per_email = Rate::per(1, 15)));
        assert!(
            l.check_comment(ip("192.0.2.1"), "Ani@Example.ID", "a")
                .is_ok()
        );
        let err = l
            .check_comment(ip("192.0.2.9"), " ani@example.id ", "b")
            .unwrap_err();
        assert_eq!(err.scope, Scope::Email);
        // No email, no email limit.
        assert!(l.check_comment(ip("192.0.2.1"), "", "a").is_ok());
        assert!(l.check_comment(ip("192.0.2.1"), "  ", "a").is_ok());
        assert!(
            l.check_comment(ip("192.0.2.1"), "budi@example.id", "a")
                .is_ok()
        );
    }

    #[test]
    fn address_burst_then_sustained_rate() {
        let (l, clock) = limiters(&only(|c| c.per_address = Rate::per(1, 30).with_burst(3)));
        for _ in 0..3 {
            assert!(l.check_comment(ip("198.51.100.4"), "", "t").is_ok());
        }
        let err = l.check_comment(ip("198.51.100.4"), "", "t").unwrap_err();
        assert_eq!(err.scope, Scope::Address);
        assert_eq!(err.retry_after, Duration::from_secs(30));
        // Another address is unaffected.
        assert!(l.check_comment(ip("198.51.100.5"), "", "t").is_ok());
        clock.advance(Duration::from_secs(20));
        let err = l.check_comment(ip("198.51.100.4"), "", "t").unwrap_err();
        assert_eq!(err.retry_after, Duration::from_secs(10));
        clock.advance(Duration::from_secs(10));
        assert!(l.check_comment(ip("198.51.100.4"), "", "t").is_ok());
        assert!(l.check_comment(ip("198.51.100.4"), "", "t").is_err());
    }

    #[test]
    fn ipv6_grouped_by_64_and_mapped_ipv4_is_ipv4() {
        let (l, _) = limiters(&only(|c| c.per_address = Rate::per(1, 15)));
        assert!(l.check_comment(ip("2001:db8:1:2::1"), "", "t").is_ok());
        let err = l
            .check_comment(ip("2001:db8:1:2:ffff:eeee:dddd:9"), "", "t")
            .unwrap_err();
        assert_eq!(err.scope, Scope::Address);
        assert!(l.check_comment(ip("2001:db8:1:3::1"), "", "t").is_ok());
        assert!(l.check_comment(ip("203.0.113.7"), "", "t").is_ok());
        assert!(l.check_comment(ip("::ffff:203.0.113.7"), "", "t").is_err());
        assert_eq!(
            address_group(ip("2001:db8:1:2:ffff::9")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_group(ip("::ffff:203.0.113.7")).to_string(),
            "203.0.113.7/32"
        );
    }

    #[test]
    fn thread_limit() {
        let (l, _) = limiters(&only(|c| c.per_thread = Rate::per(1, 2).with_burst(30)));
        for i in 0..30u32 {
            let addr = IpAddr::from((0xC000_0200u32 + i).to_be_bytes());
            assert!(l.check_comment(addr, "", "kendal/1").is_ok());
        }
        let err = l
            .check_comment(ip("192.0.2.200"), "", "kendal/1")
            .unwrap_err();
        assert_eq!(err.scope, Scope::Thread);
        assert_eq!(err.retry_after, Duration::from_secs(2));
        assert!(l.check_comment(ip("192.0.2.200"), "", "kendal/2").is_ok());
    }

    #[test]
    fn over_the_global_ceiling_comments_are_held_not_refused() {
        let (l, clock) = limiters(&only(|c| c.global = Rate::per(20, 1).with_burst(2)));
        assert_eq!(
            l.check_comment(ip("192.0.2.1"), "", "a"),
            Ok(Admission::Normal)
        );
        assert_eq!(
            l.check_comment(ip("192.0.2.2"), "", "b"),
            Ok(Admission::Normal)
        );
        for _ in 0..50 {
            assert_eq!(
                l.check_comment(ip("192.0.2.3"), "", "c"),
                Ok(Admission::HoldForModeration(HoldReason::GlobalCeiling))
            );
        }
        // Held comments spent nothing: after one interval (50 ms) the next is normal again.
        clock.advance(Duration::from_millis(50));
        assert_eq!(
            l.check_comment(ip("192.0.2.3"), "", "c"),
            Ok(Admission::Normal)
        );
        assert_eq!(
            l.check_comment(ip("192.0.2.4"), "", "c"),
            Ok(Admission::HoldForModeration(HoldReason::GlobalCeiling))
        );
    }

    #[test]
    fn sub_second_waits_round_up() {
        let (l, clock) = limiters(&only(|c| c.per_thread = Rate::per(20, 1).with_burst(1)));
        assert!(l.check_comment(ip("192.0.2.1"), "", "a").is_ok());
        let err = l.check_comment(ip("192.0.2.2"), "", "a").unwrap_err();
        assert_eq!(err.scope, Scope::Thread);
        // The real wait is 50 ms; a Retry-After of 0 would invite an instant retry.
        assert_eq!(err.retry_after, Duration::from_secs(1));
        assert_eq!(err.retry_after_secs(), 1);
        clock.advance(Duration::from_millis(50));
        assert!(l.check_comment(ip("192.0.2.2"), "", "a").is_ok());
    }

    #[test]
    fn refused_address_does_not_spend_the_global_allowance() {
        let (l, _) = limiters(&only(|c| {
            c.per_address = Rate::per(1, 15);
            c.global = Rate::per(1, 60).with_burst(3);
        }));
        assert!(l.check_comment(ip("192.0.2.1"), "", "a").is_ok());
        for _ in 0..100 {
            assert_eq!(
                l.check_comment(ip("192.0.2.1"), "", "a").unwrap_err().scope,
                Scope::Address
            );
        }
        assert_eq!(
            l.check_comment(ip("192.0.2.2"), "", "a"),
            Ok(Admission::Normal)
        );
        assert_eq!(
            l.check_comment(ip("192.0.2.3"), "", "a"),
            Ok(Admission::Normal)
        );
        assert_eq!(
            l.check_comment(ip("192.0.2.4"), "", "a"),
            Ok(Admission::HoldForModeration(HoldReason::GlobalCeiling))
        );
        // Over the ceiling the finer limits still refuse.
        assert_eq!(
            l.check_comment(ip("192.0.2.1"), "", "a").unwrap_err().scope,
            Scope::Address
        );
    }

    #[test]
    fn captcha_per_address() {
        let (l, _) = limiters(&only(|c| {
            c.captcha_per_address = Rate::per(1, 2).with_burst(30)
        }));
        for _ in 0..30 {
            assert!(l.check_captcha(ip("2001:db8::1")).is_ok());
        }
        let err = l.check_captcha(ip("2001:db8::2")).unwrap_err();
        assert_eq!(err.scope, Scope::Captcha);
        assert_eq!(err.retry_after, Duration::from_secs(2));
        // Comments are limited separately.
        assert!(l.check_comment(ip("2001:db8::1"), "", "t").is_ok());
    }

    #[test]
    fn unlimited_never_refuses_or_remembers() {
        let (l, _) = limiters(&LimitsConfig::unlimited());
        for _ in 0..1000 {
            assert!(l.check_comment(ip("127.0.0.1"), "load@test", "t").is_ok());
            assert!(l.check_captcha(ip("127.0.0.1")).is_ok());
        }
        assert_eq!(l.key_counts().total(), 0);
    }

    #[test]
    fn a_million_addresses_are_forgotten_after_the_period() {
        let cfg = only(|c| {
            c.per_address = Rate::per(1, 15).with_burst(2);
            c.max_keys = 2_000_000;
        });
        let (l, clock) = limiters(&cfg);
        for i in 0..1_000_000u32 {
            let addr = IpAddr::from((0x0A00_0000u32 + i).to_be_bytes());
            assert!(l.check_comment(addr, "", "t").is_ok());
        }
        assert_eq!(l.key_counts().address, 1_000_000);
        // Within the period every key still matters.
        clock.advance(Duration::from_secs(10));
        l.retain_recent();
        assert_eq!(l.key_counts().address, 1_000_000);
        clock.advance(Duration::from_secs(30));
        l.retain_recent();
        assert_eq!(l.key_counts(), KeyCounts::default());
    }

    #[test]
    fn a_full_map_holds_new_readers_for_moderation_and_keeps_the_flooders_counted() {
        let (l, clock) = limiters(&only(|c| {
            c.per_address = Rate::per(1, 15);
            c.per_email = Rate::per(1, 15);
            c.max_keys = 10;
        }));
        for i in 0..10u8 {
            assert_eq!(
                l.check_comment(IpAddr::from([192, 0, 2, i]), "", "t"),
                Ok(Admission::Normal)
            );
        }
        // A known address over its limit is still refused: its bucket was kept.
        assert_eq!(
            l.check_comment(IpAddr::from([192, 0, 2, 3]), "", "t")
                .unwrap_err()
                .scope,
            Scope::Address
        );
        // A new reader is heard, held; nobody is forgotten, nobody refused for the full map.
        let held = Ok(Admission::HoldForModeration(HoldReason::KeyMapFull(
            Scope::Address,
        )));
        assert_eq!(l.check_comment(ip("198.51.100.1"), "", "t"), held);
        assert_eq!(l.check_comment(ip("198.51.100.2"), "", "t"), held);
        assert_eq!(l.key_counts().address, 10);
        // The limits whose maps have room still refuse: one email cannot post twice.
        assert_eq!(
            l.check_comment(ip("198.51.100.3"), "a@contoh.id", "t"),
            held
        );
        assert_eq!(
            l.check_comment(ip("198.51.100.4"), "A@contoh.id", "t")
                .unwrap_err()
                .scope,
            Scope::Email
        );
        // Once the flood's buckets are full again (governor forgets a key one emission
        // interval after that), the sweep makes room and counting resumes.
        clock.advance(Duration::from_secs(31));
        assert_eq!(
            l.check_comment(ip("198.51.100.1"), "", "t"),
            Ok(Admission::Normal)
        );
        assert_eq!(l.key_counts().address, 1);
        assert_eq!(
            l.check_comment(ip("198.51.100.1"), "", "t")
                .unwrap_err()
                .scope,
            Scope::Address
        );
    }

    #[test]
    fn full_captcha_and_report_maps_are_emptied_for_the_new_reader() {
        let (l, _) = limiters(&only(|c| {
            c.captcha_per_address = Rate::per(1, 15);
            c.max_keys = 10;
        }));
        for i in 0..10u8 {
            assert!(l.check_captcha(IpAddr::from([192, 0, 2, i])).is_ok());
        }
        assert!(l.check_captcha(ip("198.51.100.1")).is_ok());
        assert_eq!(l.key_counts().captcha, 1);
        assert!(l.check_captcha(ip("198.51.100.1")).is_err());
    }

    #[test]
    fn one_ipv6_48_cannot_pass_for_thousands_of_readers() {
        let (l, clock) = limiters(&only(|c| {
            c.per_address = Rate::per(1, 30).with_burst(3);
            c.per_subnet = Rate::per(1, 3).with_burst(30);
            c.per_network = Rate::per(1, 1).with_burst(60);
        }));
        // Every /64 of one /56 is a fresh address, but the /56 has 30 at once.
        let in_56 = |i: u16| IpAddr::from([0x2001, 0xdb8, 7, i, 0, 0, 0, 1]);
        for i in 0..30 {
            assert!(l.check_comment(in_56(i), "", "t").is_ok(), "{i}");
        }
        let refused = l.check_comment(in_56(30), "", "t").unwrap_err();
        assert_eq!(refused.scope, Scope::Subnet);
        // Other /56s of the same /48 fill the /48's burst of 60.
        let mut admitted = 0;
        let mut last = None;
        for i in 1..=100u16 {
            let addr = IpAddr::from([0x2001, 0xdb8, 7, i << 8, 0, 0, 0, 1]);
            match l.check_comment(addr, "", "t") {
                Ok(_) => admitted += 1,
                Err(e) => last = Some(e.scope),
            }
        }
        assert_eq!(
            admitted, 30,
            "the /48 had 60 in all, 30 spent by the first /56"
        );
        assert_eq!(last, Some(Scope::Network));
        // A reader on another /48 is untouched.
        assert!(l.check_comment(ip("2001:db8:8::1"), "", "t").is_ok());
        // The network refills at its sustained rate.
        clock.advance(Duration::from_secs(1));
        assert!(
            l.check_comment(
                IpAddr::from([0x2001, 0xdb8, 7, 0x7700, 0, 0, 0, 1]),
                "",
                "t"
            )
            .is_ok()
        );
    }

    #[test]
    fn ipv4_24_has_its_own_limit_and_no_network_level() {
        let (l, _) = limiters(&only(|c| {
            c.per_subnet = Rate::per(1, 3).with_burst(5);
            c.per_network = Rate::per(1, 60).with_burst(1);
        }));
        for i in 0..5u8 {
            assert!(
                l.check_comment(IpAddr::from([203, 0, 113, i]), "", "t")
                    .is_ok()
            );
        }
        let refused = l
            .check_comment(IpAddr::from([203, 0, 113, 200]), "", "t")
            .unwrap_err();
        assert_eq!(refused.scope, Scope::Subnet);
        // The neighbouring /24 is another subnet, and IPv4 is never limited per /48.
        for i in 0..5u8 {
            assert!(
                l.check_comment(IpAddr::from([203, 0, 114, i]), "", "t")
                    .is_ok()
            );
        }
        // IPv4-mapped IPv6 is the same IPv4 subnet.
        assert_eq!(
            l.check_comment(ip("::ffff:203.0.113.9"), "", "t")
                .unwrap_err()
                .scope,
            Scope::Subnet
        );
        assert_eq!(l.key_counts().network, 0);
    }

    #[test]
    fn reports_per_address() {
        let (l, clock) = limiters(&only(|c| {
            c.report_per_address = Rate::per(1, 10).with_burst(2)
        }));
        assert!(l.check_report(ip("203.0.113.1")).is_ok());
        assert!(l.check_report(ip("203.0.113.1")).is_ok());
        let refused = l.check_report(ip("203.0.113.1")).unwrap_err();
        assert_eq!(refused.scope, Scope::Report);
        assert_eq!(refused.retry_after_secs(), 10);
        // Comments are a separate allowance, and other addresses are untouched.
        assert!(l.check_comment(ip("203.0.113.1"), "", "t").is_ok());
        assert!(l.check_report(ip("203.0.113.2")).is_ok());
        clock.advance(Duration::from_secs(10));
        assert!(l.check_report(ip("203.0.113.1")).is_ok());
    }

    #[test]
    fn long_keys_do_not_make_large_entries() {
        let (l, _) = limiters(&only(|c| c.per_email = Rate::per(1, 15)));
        let huge = "a".repeat(60_000) + "@example.id";
        assert!(l.check_comment(ip("192.0.2.1"), &huge, "t").is_ok());
        assert_eq!(
            l.check_comment(ip("192.0.2.1"), &huge.to_uppercase(), "t")
                .unwrap_err()
                .scope,
            Scope::Email
        );
    }
}
