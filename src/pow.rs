//! Proof of work on the captcha token: the stamp's arithmetic, the difficulty that follows risk,
//! and the windowed counters that measure the risk.
//!
//! A challenge is a `salt` (the token's random nonce in hex, so the token's HMAC binds it) and a
//! `difficulty` in leading zero bits. A stamp is a decimal number `n` such that
//! `SHA-256(salt || n)` starts with at least `difficulty` zero bits. SHA-256 because every
//! browser has it natively (`crypto.subtle.digest`); see `docs/edge.md` for what a GPU gains.
//!
//! Everything here is pure: the clock comes in as `now_ms`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stamp is a `u64` in decimal: at most 20 digits; longer input is refused unread.
pub const MAX_STAMP_CHARS: usize = 20;
/// No difficulty above this is ever issued: 2^28 hashes is minutes on a phone already.
pub const MAX_DIFFICULTY: u8 = 28;

/// How a reader got past the captcha, as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaptchaPath {
    /// Answered the sum (through the widget, with the stamp when one was asked).
    Sum,
    /// Left the sum out and paid with a stamp at the higher "skip" difficulty.
    Skip,
    /// A trusted author (approved before on this site): neither sum nor stamp asked.
    Trusted,
    /// The plain HTML form without JavaScript: the sum alone, no stamp.
    NoJs,
}

impl CaptchaPath {
    /// The name used in policy files, metrics and the evidence of a verdict.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptchaPath::Sum => "sum",
            CaptchaPath::Skip => "skip",
            CaptchaPath::Trusted => "trusted",
            CaptchaPath::NoJs => "nojs",
        }
    }

    /// The path named `name` in a policy file.
    pub fn parse(name: &str) -> Option<CaptchaPath> {
        [
            CaptchaPath::Sum,
            CaptchaPath::Skip,
            CaptchaPath::Trusted,
            CaptchaPath::NoJs,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    }
}

/// The proof-of-work facts of one submission, for the policy. Recorded in `CommentSubmitted`
/// so a backtest replays `captcha_path` rules on what the live filter saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PowFacts {
    /// Which way the reader came through.
    pub path: CaptchaPath,
    /// The difficulty the token asked for the sum path (0: none asked).
    pub difficulty: u8,
    /// Leading zero bits the stamp achieved (0 without a stamp).
    pub bits: u8,
}

impl PowFacts {
    /// Whether a stamp came with the submission. A stamp that is sent must reach the token's
    /// difficulty (or it is refused before this), so any stamp recorded was solved.
    pub fn solved(&self) -> bool {
        self.bits > 0
    }
}

/// The challenge half of `GET /api/v1/captcha`: what the widget's worker hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PowChallenge {
    /// Always `SHA-256`.
    #[schema(value_type = String)]
    pub algorithm: &'static str,
    /// Hex text the stamp is appended to before hashing.
    pub salt: String,
    /// Leading zero bits asked with the sum (0: no stamp needed).
    pub difficulty: u8,
    /// Leading zero bits asked when the sum is skipped.
    pub skip_difficulty: u8,
}

/// Leading zero bits of a digest.
pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in digest {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

/// The zero bits `stamp` earns against `salt`; `None` when the stamp is not a plain decimal
/// `u64` (no sign, no spaces inside, at most 20 digits). One SHA-256 of about 50 bytes: the
/// check costs the server well under a microsecond.
pub fn stamp_bits(salt: &str, stamp: &str) -> Option<u32> {
    let stamp = stamp.trim();
    if stamp.is_empty()
        || stamp.len() > MAX_STAMP_CHARS
        || !stamp.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: u64 = stamp.parse().ok()?;
    Some(bits_of(salt, n))
}

fn bits_of(salt: &str, n: u64) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(n.to_string().as_bytes());
    leading_zero_bits(&hasher.finalize())
}

/// Finds a stamp for `salt` at `difficulty`, the way the widget's worker does (counting up from
/// 0). For the load generator and tests; expected cost 2^difficulty hashes.
pub fn solve(salt: &str, difficulty: u8) -> u64 {
    let want = u32::from(difficulty);
    let mut n = 0u64;
    // A u64 is never exhausted at difficulty <= 64: the loop ends long before.
    while bits_of(salt, n) < want {
        n = n.wrapping_add(1);
    }
    n
}

/// How difficulty follows risk. The defaults are in `docs/edge.md` with the measured cost of each
/// difficulty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowSettings {
    /// Difficulty asked with the sum when nothing is suspicious (0 turns the stamp off).
    pub difficulty: u8,
    /// Bits added when the reader skips the sum (each bit doubles the work).
    pub skip_extra: u8,
    /// Bits added per risk signal.
    pub step: u8,
    /// Never more than this.
    pub max: u8,
    /// Comments from one address group within the window that make it "busy".
    pub busy_address: u32,
    /// Comments into one thread within the window that make it "busy".
    pub busy_thread: u32,
    /// Comments on the whole site within the window that make a "wave".
    pub busy_site: u32,
    /// Length of the counting window in seconds.
    pub window_secs: u32,
}

impl Default for PowSettings {
    fn default() -> Self {
        PowSettings {
            difficulty: 16,
            skip_extra: 3,
            step: 2,
            max: 24,
            busy_address: 5,
            busy_thread: 60,
            busy_site: 600,
            window_secs: 600,
        }
    }
}

/// What is known about the risk of a challenge when it is issued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskSignals {
    /// Comments from the reader's address group within the window.
    pub address_recent: u32,
    /// Comments into the thread within the window.
    pub thread_recent: u32,
    /// Comments on the site within the window.
    pub site_recent: u32,
    /// Comments from the address group marked spam (all time, from the projections).
    pub address_spam: u32,
}

/// The two difficulties of one challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Difficulty {
    /// Asked with the sum.
    pub sum: u8,
    /// Asked without it.
    pub skip: u8,
}

impl PowSettings {
    /// The difficulty for a challenge with `signals`: the base, plus `step` for each of a busy
    /// address group, a busy thread, a site-wide wave and earlier spam from the group, capped at
    /// `max`. With the stamp off (`difficulty` 0) risk adds nothing to the sum path, but skipping
    /// the sum still costs `skip_extra` bits and more.
    pub fn difficulty_for(&self, signals: &RiskSignals) -> Difficulty {
        let max = self.max.min(MAX_DIFFICULTY);
        let raised = [
            signals.address_recent >= self.busy_address.max(1),
            signals.thread_recent >= self.busy_thread.max(1),
            signals.site_recent >= self.busy_site.max(1),
            signals.address_spam > 0,
        ]
        .into_iter()
        .filter(|r| *r)
        .count() as u8;
        let extra = raised.saturating_mul(self.step);
        // A `max` below the base would silently switch the stamp off; the base wins.
        let max = max.max(self.difficulty.min(MAX_DIFFICULTY));
        let sum = if self.difficulty == 0 {
            0
        } else {
            self.difficulty.saturating_add(extra).min(max)
        };
        let skip_from = if self.difficulty == 0 { extra } else { sum };
        let skip = skip_from
            .saturating_add(self.skip_extra.max(1))
            .min(MAX_DIFFICULTY);
        Difficulty { sum, skip }
    }
}

/// Comments per key in fixed windows, for the risk signals. Keys are 64-bit digests of an
/// address group or a thread key. Bounded: when full, expired windows are dropped, and if it is
/// still full a new key is not counted (the site-wide count still sees it).
#[derive(Debug)]
pub struct RecentCounts {
    /// Digest → (window start in Unix ms, comments in that window).
    counts: HashMap<u64, (i64, u32)>,
    capacity: usize,
    window_ms: i64,
}

impl RecentCounts {
    /// Counts in windows of `window_secs`, remembering at most `capacity` keys.
    pub fn new(window_secs: u32, capacity: usize) -> RecentCounts {
        RecentCounts {
            counts: HashMap::new(),
            capacity: capacity.max(1),
            window_ms: i64::from(window_secs.max(1)) * 1000,
        }
    }

    /// Counts one comment for `key` at `now_ms`.
    pub fn note(&mut self, key: u64, now_ms: i64) {
        let window = self.window_ms;
        if !self.counts.contains_key(&key) && self.counts.len() >= self.capacity {
            self.counts.retain(|_, (start, _)| now_ms - *start < window);
            if self.counts.len() >= self.capacity {
                return;
            }
        }
        let entry = self.counts.entry(key).or_insert((now_ms, 0));
        if now_ms - entry.0 >= window {
            *entry = (now_ms, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Comments counted for `key` in its current window (0 once the window has passed).
    pub fn get(&self, key: u64, now_ms: i64) -> u32 {
        match self.counts.get(&key) {
            Some((start, n)) if now_ms - *start < self.window_ms => *n,
            _ => 0,
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Forgets keys whose window has passed.
    pub fn purge(&mut self, now_ms: i64) {
        let window = self.window_ms;
        self.counts.retain(|_, (start, _)| now_ms - *start < window);
    }
}

/// The risk signals of one server: recent comments per address group, per thread and on the
/// whole site. Shared by every request; one short lock per comment and per challenge.
#[derive(Debug)]
pub struct RiskMeter {
    inner: parking_lot::Mutex<Meters>,
}

#[derive(Debug)]
struct Meters {
    groups: RecentCounts,
    threads: RecentCounts,
    site: RecentCounts,
}

impl Default for RiskMeter {
    /// Ten-minute windows, at most 100,000 address groups and 100,000 threads (a few MiB).
    fn default() -> Self {
        RiskMeter::new(600, 100_000)
    }
}

impl RiskMeter {
    /// Windows of `window_secs`, at most `capacity` keys per map.
    pub fn new(window_secs: u32, capacity: usize) -> RiskMeter {
        RiskMeter {
            inner: parking_lot::Mutex::new(Meters {
                groups: RecentCounts::new(window_secs, capacity),
                threads: RecentCounts::new(window_secs, capacity),
                site: RecentCounts::new(window_secs, 1),
            }),
        }
    }

    /// Counts one comment from address `group` into `thread` at `now`.
    pub fn note(&self, group: &str, thread: &str, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        let mut m = self.inner.lock();
        m.groups.note(key_of(b"group", group), now_ms);
        m.threads.note(key_of(b"thread", thread), now_ms);
        m.site.note(0, now_ms);
    }

    /// The signals for a challenge to `group` for `thread`, with the group's spam count.
    pub fn signals(
        &self,
        group: &str,
        thread: &str,
        address_spam: u32,
        now: DateTime<Utc>,
    ) -> RiskSignals {
        let now_ms = now.timestamp_millis();
        let m = self.inner.lock();
        RiskSignals {
            address_recent: m.groups.get(key_of(b"group", group), now_ms),
            thread_recent: m.threads.get(key_of(b"thread", thread), now_ms),
            site_recent: m.site.get(0, now_ms),
            address_spam,
        }
    }

    /// Forgets windows that have passed; called on the service's timer.
    pub fn purge(&self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        let mut m = self.inner.lock();
        m.groups.purge(now_ms);
        m.threads.purge(now_ms);
    }
}

/// A 64-bit digest of a key: the maps hold no address or thread text.
fn key_of(kind: &[u8], key: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(kind);
    hasher.update([0]);
    hasher.update(key.as_bytes());
    let d = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_bits_counted_across_bytes() {
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x00, 0x01]), 15);
        assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x20]), 18);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }

    #[test]
    fn a_solved_stamp_earns_its_bits_and_only_for_its_salt() {
        let n = solve("00ff", 10);
        assert!(stamp_bits("00ff", &n.to_string()).unwrap() >= 10);
        // The first stamp that works is the smallest: every smaller one falls short.
        assert!((0..n).all(|m| stamp_bits("00ff", &m.to_string()).unwrap() < 10));
        let elsewhere =
            (0..64).filter(|s| stamp_bits(&format!("salt{s}"), &n.to_string()).unwrap() >= 10);
        assert!(elsewhere.count() < 4, "2^-10 odds per other salt");
    }

    #[test]
    fn odd_stamps_are_refused_unread() {
        for bad in [
            "",
            " ",
            "-1",
            "1.0",
            "1 2",
            "0x10",
            "١٢",
            &"9".repeat(21),
            "18446744073709551616",
        ] {
            assert_eq!(stamp_bits("ab", bad), None, "{bad:?}");
        }
        assert!(stamp_bits("ab", " 12 ").is_some());
    }

    #[test]
    fn risk_raises_difficulty_step_by_step() {
        let s = PowSettings::default();
        let calm = s.difficulty_for(&RiskSignals::default());
        assert_eq!(calm, Difficulty { sum: 16, skip: 19 });
        let busy = s.difficulty_for(&RiskSignals {
            address_recent: 5,
            ..RiskSignals::default()
        });
        assert_eq!(busy.sum, 18);
        let everything = s.difficulty_for(&RiskSignals {
            address_recent: 99,
            thread_recent: 99,
            site_recent: 9999,
            address_spam: 1,
        });
        assert_eq!(everything.sum, 24);
        let off = PowSettings {
            difficulty: 0,
            ..PowSettings::default()
        };
        assert_eq!(
            off.difficulty_for(&RiskSignals::default()),
            Difficulty { sum: 0, skip: 3 }
        );
    }

    #[test]
    fn counts_reset_with_the_window_and_stay_bounded() {
        let mut c = RecentCounts::new(60, 2);
        c.note(1, 0);
        c.note(1, 59_999);
        assert_eq!(c.get(1, 59_999), 2);
        assert_eq!(c.get(1, 60_000), 0);
        c.note(1, 60_000);
        assert_eq!(c.get(1, 60_000), 1);
        c.note(2, 60_000);
        c.note(3, 60_000);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(3, 60_000), 0);
        // Once the old windows pass there is room again.
        c.note(3, 200_000);
        assert_eq!(c.get(3, 200_000), 1);
        c.purge(400_000);
        assert!(c.is_empty());
    }

    #[test]
    fn the_meter_tells_groups_and_threads_apart() {
        let m = RiskMeter::new(600, 10);
        let t0 = DateTime::from_timestamp(1_764_300_000, 0).unwrap();
        for _ in 0..3 {
            m.note("10.0.0.0/24", "a", t0);
        }
        m.note("10.0.1.0/24", "b", t0);
        let s = m.signals("10.0.0.0/24", "b", 2, t0);
        assert_eq!(
            s,
            RiskSignals {
                address_recent: 3,
                thread_recent: 1,
                site_recent: 4,
                address_spam: 2
            }
        );
        let later = t0 + chrono::TimeDelta::minutes(10);
        assert_eq!(
            m.signals("10.0.0.0/24", "a", 0, later),
            RiskSignals::default()
        );
    }

    proptest! {
        #[test]
        fn difficulty_is_monotone_and_capped(
            base in 0u8..40, extra in 0u8..10, step in 0u8..10, max in 0u8..40,
            a in 0u32..20, t in 0u32..200, site in 0u32..2000, spam in 0u32..3,
        ) {
            let s = PowSettings { difficulty: base, skip_extra: extra, step, max, ..PowSettings::default() };
            let signals = RiskSignals { address_recent: a, thread_recent: t, site_recent: site, address_spam: spam };
            let d = s.difficulty_for(&signals);
            prop_assert!(d.sum <= MAX_DIFFICULTY && d.skip <= MAX_DIFFICULTY);
            prop_assert!(d.skip > d.sum || d.sum == MAX_DIFFICULTY);
            prop_assert!(d.sum <= s.max.max(base).min(MAX_DIFFICULTY));
            prop_assert_eq!(d.sum == 0, base == 0);
            let worse = RiskSignals { address_recent: a + 20, thread_recent: t + 200, site_recent: site + 2000, address_spam: spam + 1 };
            let dw = s.difficulty_for(&worse);
            prop_assert!(dw.sum >= d.sum && dw.skip >= d.skip);
        }

        #[test]
        fn stamp_parsing_never_panics(salt in ".{0,40}", stamp in ".{0,40}") {
            let _ = stamp_bits(&salt, &stamp);
        }
    }
}
