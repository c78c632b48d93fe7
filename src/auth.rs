//! Moderator authentication by bearer token.
//!
//! Tokens from the environment are kept only as SHA-256 hashes and compared in constant time;
//! tokens in `saring.toml` are argon2 hashes. Argon2 is slow on purpose, so it runs on the
//! blocking pool (never on an async worker), at most [`MAX_ARGON_AT_ONCE`] at a time; a token that
//! passed it once is remembered by its SHA-256, and one that failed it recently is too, so a
//! repeated guess costs a hash lookup. Failed attempts are counted per address
//! ([`FailureThrottle`]): past the limit the address is answered `429` until its window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ModeratorEntry;
use crate::domain::values::ModeratorName;

/// Remembered argon2 successes; a handful of moderators never need more.
const MAX_CACHED: usize = 64;
/// Remembered argon2 failures, so the same wrong token is not hashed again.
const MAX_FAILED_CACHED: usize = 4096;
/// Argon2 verifications running at once: a flood of guesses cannot take the blocking pool.
pub const MAX_ARGON_AT_ONCE: usize = 2;
/// The shortest moderator token accepted: 24 characters of a random token are out of reach of
/// online guessing, 8 were not.
pub const MIN_TOKEN_CHARS: usize = 24;

/// Why a token could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The blocking verification task did not complete.
    #[error("the token check did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Checks bearer tokens and names the moderator they belong to.
pub struct ModeratorAuth {
    plain: Vec<(ModeratorName, [u8; 32])>,
    argon: Arc<Vec<(ModeratorName, String)>>,
    verified: Mutex<HashMap<[u8; 32], ModeratorName>>,
    failed: Mutex<HashMap<[u8; 32], ()>>,
    argon_slots: tokio::sync::Semaphore,
    /// Failed attempts per address.
    pub failures: FailureThrottle,
}

impl std::fmt::Debug for ModeratorAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModeratorAuth")
            .field("moderators", &self.len())
            .finish_non_exhaustive()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Inserts into a bounded map, forgetting everything when it is full: a cache, not a record.
fn remember<V>(map: &Mutex<HashMap<[u8; 32], V>>, max: usize, key: [u8; 32], value: V) {
    let mut map = map.lock();
    if map.len() >= max {
        map.clear();
    }
    map.insert(key, value);
}

/// Checks `token` against every argon2 hash: the slow part, for the blocking pool.
fn verify_argon(argon: &[(ModeratorName, String)], token: &str) -> Option<ModeratorName> {
    argon.iter().find_map(|(name, hash)| {
        let parsed = PasswordHash::new(hash).ok()?;
        Argon2::default()
            .verify_password(token.as_bytes(), &parsed)
            .is_ok()
            .then(|| name.clone())
    })
}

impl ModeratorAuth {
    /// Builds the checker; plain tokens are hashed at once and the plain text dropped.
    pub fn new(
        tokens: &[(ModeratorName, SecretString)],
        hashed: &[ModeratorEntry],
    ) -> ModeratorAuth {
        ModeratorAuth {
            plain: tokens
                .iter()
                .map(|(n, t)| (n.clone(), digest(t.expose_secret())))
                .collect(),
            argon: Arc::new(
                hashed
                    .iter()
                    .map(|m| (m.name.clone(), m.token_hash.clone()))
                    .collect(),
            ),
            verified: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            argon_slots: tokio::sync::Semaphore::new(MAX_ARGON_AT_ONCE),
            failures: FailureThrottle::default(),
        }
    }

    /// Number of configured moderators.
    pub fn len(&self) -> usize {
        self.plain.len() + self.argon.len()
    }

    /// Whether no moderator is configured (the moderator API then refuses everyone).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer that needs no argon2: `Some(Some(name))` known, `Some(None)` known bad,
    /// `None` when the argon2 hashes must be asked.
    fn quick(&self, token: &str, d: &[u8; 32]) -> Option<Option<ModeratorName>> {
        if token.chars().count() < MIN_TOKEN_CHARS || token.len() > 512 {
            return Some(None);
        }
        // Check every entry so timing does not reveal which one matched.
        let mut found: Option<&ModeratorName> = None;
        for (name, h) in &self.plain {
            if bool::from(h.ct_eq(d)) {
                found = Some(name);
            }
        }
        if let Some(name) = found {
            return Some(Some(name.clone()));
        }
        if let Some(name) = self.verified.lock().get(d) {
            return Some(Some(name.clone()));
        }
        if self.argon.is_empty() || self.failed.lock().contains_key(d) {
            return Some(None);
        }
        None
    }

    /// The moderator's name if the token is valid, blocking the calling thread for argon2 if
    /// needed; for tools and tests. The server uses [`ModeratorAuth::verify_async`].
    pub fn verify(&self, token: &str) -> Option<ModeratorName> {
        let d = digest(token);
        if let Some(answer) = self.quick(token, &d) {
            return answer;
        }
        let found = verify_argon(&self.argon, token);
        self.record(d, found.as_ref());
        found
    }

    /// The moderator's name if the token is valid; argon2 runs on the blocking pool.
    pub async fn verify_async(&self, token: &str) -> Result<Option<ModeratorName>, AuthError> {
        let d = digest(token);
        if let Some(answer) = self.quick(token, &d) {
            return Ok(answer);
        }
        // The semaphore is never closed, so acquiring only waits.
        let _slot = self.argon_slots.acquire().await;
        // Another request may have settled this very token while we waited.
        if let Some(answer) = self.quick(token, &d) {
            return Ok(answer);
        }
        let (argon, owned) = (self.argon.clone(), token.to_string());
        let found = tokio::task::spawn_blocking(move || verify_argon(&argon, &owned)).await?;
        self.record(d, found.as_ref());
        Ok(found)
    }

    fn record(&self, d: [u8; 32], found: Option<&ModeratorName>) {
        match found {
            Some(name) => remember(&self.verified, MAX_CACHED, d, name.clone()),
            None => remember(&self.failed, MAX_FAILED_CACHED, d, ()),
        }
    }
}

/// Failed attempts allowed per address and window before it is answered `429`.
pub const MAX_FAILURES: u32 = 10;
/// The window over which failures are counted.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; when full, expired windows are dropped, then the oldest.
const MAX_TRACKED: usize = 10_000;

/// Counts failed moderator logins per address group (an IPv6 /64, an IPv4 address).
#[derive(Debug, Default)]
pub struct FailureThrottle {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// The group an address is counted under: one IPv6 /64 is one client.
fn group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::from(o)
        }
    }
}

impl FailureThrottle {
    /// Seconds `ip` must wait before trying again, or `None` if it may try now.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let windows = self.windows.lock();
        let (start, count) = windows.get(&group(ip))?;
        let end = *start + FAILURE_WINDOW;
        (*count >= MAX_FAILURES && now < end).then(|| (end - now).as_secs().max(1))
    }

    /// Counts a failed attempt from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows.lock();
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&group(ip)) {
            windows.retain(|_, (start, _)| now < *start + FAILURE_WINDOW);
            if windows.len() >= MAX_TRACKED
                && let Some(oldest) = windows.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| *k)
            {
                windows.remove(&oldest);
            }
        }
        let entry = windows.entry(group(ip)).or_insert((now, 0));
        if now >= entry.0 + FAILURE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Addresses tracked now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.windows.lock().len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Hashes a token with argon2id for `saring.toml` (`saring hash-token`).
pub fn hash_token(token: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    Ok(Argon2::default()
        .hash_password(token.as_bytes(), &salt)?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> ModeratorName {
        ModeratorName::parse(n).unwrap()
    }

    #[test]
    fn plain_and_argon2_tokens_name_their_moderator() {
        let hash = hash_token("rahasia-budi-123-panjang-sekali").unwrap();
        let auth = ModeratorAuth::new(
            &[(
                name("ayu"),
                SecretString::from("rahasia-ayu-123-panjang-sekali"),
            )],
            &[ModeratorEntry {
                name: name("budi"),
                token_hash: hash,
            }],
        );
        assert_eq!(
            auth.verify("rahasia-ayu-123-panjang-sekali"),
            Some(name("ayu"))
        );
        assert_eq!(
            auth.verify("rahasia-budi-123-panjang-sekali"),
            Some(name("budi"))
        );
        assert_eq!(
            auth.verify("rahasia-budi-123-panjang-sekali"),
            Some(name("budi")),
            "cached"
        );
        assert_eq!(auth.verify("salah"), None);
        assert_eq!(auth.verify(""), None);
        assert!(!format!("{auth:?}").contains("rahasia"));
    }

    #[test]
    fn short_tokens_are_refused_without_hashing() {
        let auth = ModeratorAuth::new(&[(name("ayu"), SecretString::from("pendek-12"))], &[]);
        assert_eq!(auth.verify("pendek-12"), None);
    }

    #[test]
    fn a_wrong_token_is_hashed_once_then_remembered() {
        let hash = hash_token("rahasia-budi-123-panjang-sekali").unwrap();
        let auth = ModeratorAuth::new(
            &[],
            &[ModeratorEntry {
                name: name("budi"),
                token_hash: hash,
            }],
        );
        let wrong = "tebakan-yang-salah-sekali-123";
        assert_eq!(auth.verify(wrong), None);
        assert!(auth.failed.lock().contains_key(&digest(wrong)));
        assert_eq!(auth.quick(wrong, &digest(wrong)), Some(None));
    }

    #[test]
    fn failures_past_the_limit_block_the_address_group_until_the_window_ends() {
        let t = FailureThrottle::default();
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(t.blocked(a, now), None);
            t.failed(a, now);
        }
        assert!(t.blocked(same_64, now).is_some());
        assert_eq!(t.blocked(other, now), None);
        assert_eq!(t.blocked(a, now + FAILURE_WINDOW), None);
    }

    #[test]
    fn the_throttle_stays_bounded_under_many_addresses() {
        let t = FailureThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 500) {
            t.failed(IpAddr::from(i.to_be_bytes()), now);
        }
        assert!(t.len() <= MAX_TRACKED);
    }
}
