//! Console sessions: a bounded in-memory map keyed by the SHA-256 of a random 256-bit id (the
//! cookie holds the id, the map only its hash, so a memory dump yields no usable cookie), each
//! with its moderator's name, its CSRF token, an idle and an absolute lifetime, and the last
//! decision it may undo. Logout removes the entry, so the cookie is dead server-side at once.
//!
//! Sessions are per process: a restart logs everyone out, which for a handful of moderators is
//! cheaper than persisting secrets.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::ModeratorAction;

/// The cookie's name.
pub const COOKIE: &str = "saring_console";

/// A decision the session may undo: what was done and the version it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// The comment decided.
    pub id: crate::domain::values::CommentId,
    /// The status before the decision (`pending`, `published`, ...).
    pub before: crate::domain::CommentStatus,
    /// The action taken.
    pub action: ModeratorAction,
    /// The comment's version right after the decision.
    pub version_after: u64,
}

struct Entry {
    name: crate::domain::values::ModeratorName,
    csrf: String,
    created: Instant,
    last_seen: Instant,
    undo: Option<Undo>,
}

/// What a request learns of its session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The moderator's name.
    pub name: crate::domain::values::ModeratorName,
    /// The CSRF token to put in forms and compare against.
    pub csrf: String,
    /// The decision it may undo.
    pub undo: Option<Undo>,
}

impl SessionInfo {
    /// Whether `sent` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        self.csrf.len() == sent.len() && bool::from(self.csrf.as_bytes().ct_eq(sent.as_bytes()))
    }
}

/// All sessions of this process.
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Entry>>,
    idle: Duration,
    absolute: Duration,
    max: usize,
}

fn key(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

impl Sessions {
    /// An empty store with the given lifetimes and bound.
    pub fn new(idle: Duration, absolute: Duration, max: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            absolute,
            max: max.max(1),
        }
    }

    fn alive(&self, e: &Entry, now: Instant) -> bool {
        now < e.last_seen + self.idle && now < e.created + self.absolute
    }

    /// Starts a session for `name`; returns the cookie value.
    pub fn create(&self, name: &crate::domain::values::ModeratorName, now: Instant) -> String {
        let cookie = random_token();
        let mut map = self.map.lock();
        if map.len() >= self.max {
            map.retain(|_, e| now < e.last_seen + self.idle && now < e.created + self.absolute);
            if map.len() >= self.max
                && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.last_seen).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            key(&cookie),
            Entry {
                name: name.clone(),
                csrf: random_token(),
                created: now,
                last_seen: now,
                undo: None,
            },
        );
        cookie
    }

    /// The live session of a cookie, refreshing its idle time; an expired one is removed.
    pub fn get(&self, cookie: &str, now: Instant) -> Option<SessionInfo> {
        if cookie.len() > 100 {
            return None;
        }
        let k = key(cookie);
        let mut map = self.map.lock();
        let entry = map.get_mut(&k)?;
        if !(now < entry.last_seen + self.idle && now < entry.created + self.absolute) {
            map.remove(&k);
            return None;
        }
        entry.last_seen = now;
        Some(SessionInfo {
            name: entry.name.clone(),
            csrf: entry.csrf.clone(),
            undo: entry.undo.clone(),
        })
    }

    /// Ends a session (logout).
    pub fn remove(&self, cookie: &str) {
        self.map.lock().remove(&key(cookie));
    }

    /// Remembers the session's last decision, replacing the previous one.
    pub fn set_undo(&self, cookie: &str, undo: Option<Undo>) {
        if let Some(e) = self.map.lock().get_mut(&key(cookie)) {
            e.undo = undo;
        }
    }

    /// Drops expired sessions; called on a timer-free path (every login) so no task is needed.
    pub fn purge(&self, now: Instant) {
        let mut map = self.map.lock();
        map.retain(|_, e| self.alive(e, now));
    }

    /// Sessions held now.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ani() -> crate::domain::values::ModeratorName {
        crate::domain::values::ModeratorName::parse("ani").unwrap()
    }

    fn store() -> Sessions {
        Sessions::new(Duration::from_secs(60), Duration::from_secs(600), 3)
    }

    #[test]
    fn a_session_lives_until_idle_absolute_or_logout() {
        let s = store();
        let t = Instant::now();
        let c = s.create(&ani(), t);
        assert_eq!(s.get(&c, t + Duration::from_secs(59)).unwrap().name, ani());
        // Used at 59 s, so still alive at 118 s; dead 60 s after the last use.
        assert!(s.get(&c, t + Duration::from_secs(118)).is_some());
        assert!(s.get(&c, t + Duration::from_secs(179)).is_none());
        let c = s.create(&ani(), t);
        let mut at = t;
        while at + Duration::from_secs(50) < t + Duration::from_secs(600) {
            at += Duration::from_secs(50);
            assert!(s.get(&c, at).is_some());
        }
        assert!(
            s.get(&c, t + Duration::from_secs(600)).is_none(),
            "absolute"
        );
        let c = s.create(&ani(), t);
        s.remove(&c);
        assert!(s.get(&c, t).is_none());
    }

    #[test]
    fn the_map_stays_bounded_and_the_cookie_is_not_the_key() {
        let s = store();
        let t = Instant::now();
        let cookies: Vec<String> = (0..10).map(|_| s.create(&ani(), t)).collect();
        assert!(s.len() <= 3);
        assert!(s.get(cookies.last().unwrap(), t).is_some());
        assert!(!s.map.lock().keys().any(|k| k == cookies[9].as_bytes()));
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let s = store();
        let c = s.create(&ani(), Instant::now());
        let info = s.get(&c, Instant::now()).unwrap();
        assert!(info.csrf_ok(&info.csrf.clone()));
        assert!(!info.csrf_ok(""));
        assert!(!info.csrf_ok(&info.csrf[1..]));
        assert_ne!(info.csrf, c);
    }
}
