//! Author history: how many of an author's comments were approved or marked spam (by email, by
//! client address, by website), and which bodies were posted recently, for duplicate detection.
//! The policy engine uses it as trust and as the site's own spam record.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::CommentRecord;
use crate::domain::CommentStatus;
use crate::domain::verdict::History;

/// How long a body counts as "recent" for duplicate detection: spam waves run within hours.
const DUPLICATE_WINDOW_HOURS: i64 = 24;
/// At most this many recent bodies are kept, whatever the window says, so a flood of distinct
/// submissions cannot grow memory without bound.
const MAX_RECENT_BODIES: usize = 200_000;
/// At most this many sightings are kept per body.
const MAX_SIGHTINGS_PER_BODY: usize = 32;

/// Approved and spam counts of one key (an email, an address or a URL).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Comments now visible.
    pub approved: u32,
    /// Comments now classed as spam.
    pub spam: u32,
}

/// One posting of a body: when, where and by whom. Thread and author are kept as short keyed
/// digests rather than strings: there is one sighting per recent comment, and only equality is
/// ever asked of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Sighting {
    at: DateTime<Utc>,
    thread: u64,
    author: u64,
}

/// A stable 64-bit digest (stable across runs and builds, unlike `std`'s hasher, because
/// snapshots keep it).
pub fn digest(text: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(text.as_bytes());
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The author-history projection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuthorHistory {
    by_email: HashMap<String, Counts>,
    by_address: HashMap<String, Counts>,
    by_url: HashMap<String, Counts>,
    /// Sightings by body fingerprint.
    recent: HashMap<u64, Vec<Sighting>>,
    /// Fingerprints in arrival order, for pruning by age and by count.
    order: VecDeque<(DateTime<Utc>, u64)>,
}

fn bump(map: &mut HashMap<String, Counts>, key: &str, f: impl FnOnce(&mut Counts)) {
    if key.is_empty() {
        return;
    }
    f(map.entry(key.to_string()).or_default());
}

impl AuthorHistory {
    /// Remembers a submitted body for duplicate detection and prunes old ones.
    pub fn record_submission(
        &mut self,
        fingerprint: u64,
        thread: &str,
        author: &str,
        at: DateTime<Utc>,
    ) {
        let key = fingerprint;
        let sightings = self.recent.entry(key).or_default();
        if sightings.len() >= MAX_SIGHTINGS_PER_BODY {
            sightings.remove(0);
        }
        sightings.push(Sighting {
            at,
            thread: digest(thread),
            author: digest(author),
        });
        self.order.push_back((at, key));
        let horizon = at - Duration::hours(DUPLICATE_WINDOW_HOURS);
        while let Some((when, fp)) = self.order.front() {
            if *when >= horizon && self.order.len() <= MAX_RECENT_BODIES {
                break;
            }
            let (fp, when) = (*fp, *when);
            self.order.pop_front();
            if let Some(list) = self.recent.get_mut(&fp) {
                list.retain(|s| s.at > when);
                if list.is_empty() {
                    self.recent.remove(&fp);
                }
            }
        }
    }

    /// Adjusts the counts when a comment moves between statuses.
    pub fn status_changed(
        &mut self,
        rec: &CommentRecord,
        old: Option<CommentStatus>,
        new: Option<CommentStatus>,
    ) {
        let url = rec
            .author_url
            .as_deref()
            .map(normalise_url)
            .unwrap_or_default();
        for (status, delta) in [(old, -1i64), (new, 1i64)] {
            let apply = |c: &mut Counts| {
                let field = match status {
                    Some(CommentStatus::Published) => &mut c.approved,
                    Some(CommentStatus::Spam) => &mut c.spam,
                    _ => return,
                };
                *field = u32::try_from((i64::from(*field) + delta).max(0)).unwrap_or(u32::MAX);
            };
            if !(rec.borrowed && status == Some(CommentStatus::Spam)) {
                bump(&mut self.by_email, &rec.author_email, apply);
            }
            bump(&mut self.by_address, &rec.ip_key, apply);
            bump(&mut self.by_url, &url, apply);
        }
    }

    /// Comments from the address group `ip_key` that were marked spam (what the captcha's
    /// difficulty reads for an address with recent spam).
    pub fn address_spam(&self, ip_key: &str) -> u32 {
        self.by_address.get(ip_key).map_or(0, |c| c.spam)
    }

    /// The history the policy engine sees for a new submission.
    pub fn history(
        &self,
        email: &str,
        ip_key: &str,
        url: Option<&str>,
        fingerprint: u64,
        thread: &str,
        now: DateTime<Utc>,
    ) -> History {
        let email = email.to_lowercase();
        let get = |kind: CountKind, key: &str| self.counts(kind, key);
        let sightings = self.recent.get(&fingerprint).into_iter().flatten();
        history_of(
            get(CountKind::Email, &email),
            get(CountKind::Address, ip_key),
            url.map(normalise_url)
                .map_or_else(Counts::default, |u| get(CountKind::Url, &u)),
            sightings.map(|s| (s.at, s.thread, s.author)),
            &email,
            thread,
            now,
        )
    }

    /// The counts of one key (zero when unknown).
    pub fn counts(&self, kind: CountKind, key: &str) -> Counts {
        self.map(kind).get(key).copied().unwrap_or_default()
    }

    /// Sets the counts of one key (loading a stored key into a working set).
    pub fn set_counts(&mut self, kind: CountKind, key: &str, counts: Counts) {
        if key.is_empty() {
            return;
        }
        let map = match kind {
            CountKind::Email => &mut self.by_email,
            CountKind::Address => &mut self.by_address,
            CountKind::Url => &mut self.by_url,
        };
        map.insert(key.to_string(), counts);
    }

    /// Every key's counts, for writing a working set back.
    pub fn each_count(&self) -> impl Iterator<Item = (CountKind, &str, Counts)> {
        [CountKind::Email, CountKind::Address, CountKind::Url]
            .into_iter()
            .flat_map(move |kind| {
                self.map(kind)
                    .iter()
                    .map(move |(k, c)| (kind, k.as_str(), *c))
            })
    }

    fn map(&self, kind: CountKind) -> &HashMap<String, Counts> {
        match kind {
            CountKind::Email => &self.by_email,
            CountKind::Address => &self.by_address,
            CountKind::Url => &self.by_url,
        }
    }

    /// Number of distinct keys held, for metrics.
    pub fn len(&self) -> usize {
        self.by_email.len() + self.by_address.len() + self.by_url.len() + self.recent.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which key an author count is kept under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountKind {
    /// The author's lowercased email.
    Email,
    /// The client address group.
    Address,
    /// The author's website, normalised ([`normalise_url`]).
    Url,
}

impl CountKind {
    /// The number stored for the kind.
    pub fn code(self) -> i64 {
        match self {
            CountKind::Email => 0,
            CountKind::Address => 1,
            CountKind::Url => 2,
        }
    }

    /// The kind of a stored number.
    pub fn from_code(code: i64) -> Option<CountKind> {
        [CountKind::Email, CountKind::Address, CountKind::Url]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// The keys a comment's status counts under: its email, address group and normalised website
/// (empty ones are skipped, as [`AuthorHistory::status_changed`] skips them).
pub fn count_keys(email: &str, ip_key: &str, url: Option<&str>) -> Vec<(CountKind, String)> {
    [
        (CountKind::Email, email.to_lowercase()),
        (CountKind::Address, ip_key.to_string()),
        (CountKind::Url, url.map(normalise_url).unwrap_or_default()),
    ]
    .into_iter()
    .filter(|(_, k)| !k.is_empty())
    .collect()
}

/// The history the policy engine sees, from the three keys' counts and the sightings of the
/// body (`(time, thread digest, author digest)`, see [`digest`]). `email` is lowercased.
pub fn history_of(
    by_email: Counts,
    by_address: Counts,
    by_url: Counts,
    sightings: impl Iterator<Item = (DateTime<Utc>, u64, u64)>,
    email: &str,
    thread: &str,
    now: DateTime<Utc>,
) -> History {
    let horizon = now - Duration::hours(DUPLICATE_WINDOW_HOURS);
    let (author, thread) = (digest(email), digest(thread));
    let mut same_author = 0u32;
    let mut threads: Vec<u64> = Vec::new();
    for (_, s_thread, s_author) in sightings.filter(|(at, _, _)| *at >= horizon) {
        if s_author == author {
            same_author += 1;
        }
        if s_thread != thread && !threads.contains(&s_thread) {
            threads.push(s_thread);
        }
    }
    History {
        author_approved: by_email.approved,
        author_spam: by_email.spam,
        ip_spam: by_address.spam,
        url_spam: by_url.spam,
        same_body_same_author: same_author,
        same_body_threads: u32::try_from(threads.len()).unwrap_or(u32::MAX),
        known_reader: None,
    }
}

/// Sightings of one body kept at most (older ones of the same body are forgotten).
pub const SIGHTINGS_PER_BODY: usize = MAX_SIGHTINGS_PER_BODY;

/// URLs compare without scheme, `www.`, trailing slash and case, so trivial variations of one
/// spam site share a record.
pub fn normalise_url(url: &str) -> String {
    let lower = url.trim().to_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    rest.strip_prefix("www.")
        .unwrap_or(rest)
        .trim_end_matches('/')
        .to_string()
}
