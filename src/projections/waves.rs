//! Spam waves: near-identical bodies, one link domain or one brand arriving across several
//! threads within minutes, grouped so a moderator sees (and decides) one wave instead of a
//! hundred cards.
//!
//! A pure fold: no clock and no I/O. Each [`Observation`] carries its own time (the
//! submission's), and the state only ever looks at those times, so replaying the log gives the
//! same waves on every replica. Three kinds of shape:
//!
//! - **text**: a MinHash of word pairs over the policy's normalised text
//!   ([`crate::policy::normalize`]: de-styled, look-alikes folded, lower case), with digits
//!   and links masked, so `Daftar di sl0t88 bonus 100rb` and `Daftar di 𝐒𝐋𝐎𝐓𝟗𝟗 bonus 50rb`
//!   are the same text. Two bodies share a text shape when at least [`SAME_TEXT`] of the
//!   [`MINHASH_SIZE`] minimums agree (an estimated Jaccard similarity of one half). Bodies of
//!   fewer than [`MIN_WORDS`] words have no text shape: "Setuju!" in five threads is not a wave;
//! - **domain**: the registrable part of each linked host (`promo.gacor.xyz` → `gacor.xyz`);
//! - **brand**: a disguised word, the shape the policy's `disguised_word` rules look for
//!   (`𝐕𝐈𝐒𝐈𝟒𝐃`, `A L E X I S 1 7`), normalised (`visi4d`, `alexis17`).
//!
//! A shape becomes a wave when [`WaveRules::min_comments`] comments of it in at least
//! [`WaveRules::min_threads`] threads arrive within [`WaveRules::window_seconds`]. Later comments
//! of the shape join the wave until a moderator decides it. A shape that reaches the threshold
//! with comments already in an undecided wave joins that wave, so one campaign with a link and
//! a brand is one wave with two shapes, not two waves.
//!
//! Every map is bounded: [`MAX_SHAPES`] shapes (shapes quiet for a window go first, then the
//! quietest without a wave), [`MAX_WAVES`] waves (decided ones go first), [`MAX_MEMBERS`]
//! members listed per wave (later ones are only counted) and [`MAX_SEEN`] comment ids
//! remembered, so folding the same comment twice (the service's own submission, then the log)
//! counts it once.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::ModeratorAction;
use crate::policy::normalize;

/// MinHash values per text signature.
pub const MINHASH_SIZE: usize = 16;
/// Agreeing MinHash values that make two texts the same shape.
pub const SAME_TEXT: usize = 8;
/// Words a body needs to have a text shape.
pub const MIN_WORDS: usize = 5;
/// Shapes tracked at most (all kinds).
pub const MAX_SHAPES: usize = 5_000;
/// Text shapes tracked at most (each new body is compared with every one of them).
pub const MAX_TEXT_SHAPES: usize = 1_000;
/// Recent comments kept per shape before it becomes a wave.
pub const MAX_RECENT: usize = 32;
/// Waves kept, decided or not.
pub const MAX_WAVES: usize = 200;
/// Members listed per wave; later ones are counted only.
pub const MAX_MEMBERS: usize = 2_000;
/// Comment ids remembered so a comment is folded once.
pub const MAX_SEEN: usize = 50_000;
/// Domains and brands taken from one comment at most.
pub const MAX_KEYS_PER_COMMENT: usize = 4;
/// A text shape's label once the reader whose comment gave it was erased (`ReaderErased`):
/// the label was that comment's masked words.
pub const ERASED_LABEL: &str = "[dihapus atas permintaan penulis / erased at the author's request]";

/// Characters of a text shape's label.
const LABEL_CHARS: usize = 120;

/// When a shape becomes a wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WaveRules {
    /// Comments of one shape (default 5).
    pub min_comments: usize,
    /// In at least this many threads (default 3).
    pub min_threads: usize,
    /// Within this many seconds (default 600).
    pub window_seconds: i64,
}

impl Default for WaveRules {
    fn default() -> Self {
        WaveRules {
            min_comments: 5,
            min_threads: 3,
            window_seconds: 600,
        }
    }
}

/// The kind of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    /// Near-identical text.
    Text,
    /// One link domain.
    Domain,
    /// One brand token.
    Brand,
}

/// What a wave's comments have in common, as a moderator reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Shape {
    /// Text, domain or brand.
    pub kind: ShapeKind,
    /// The domain, the brand, or the first comment's masked text (digits as `0`, links as
    /// `<link>`).
    pub value: String,
}

/// A body's text shape: its MinHash and a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSignature {
    /// The minimum of each of [`MINHASH_SIZE`] hash functions over the word pairs.
    pub minhash: [u64; MINHASH_SIZE],
    /// The masked words, cut to 120 characters.
    pub label: String,
}

impl TextSignature {
    /// How many MinHash values agree (0 to [`MINHASH_SIZE`]).
    pub fn agreement(&self, other: &TextSignature) -> usize {
        self.minhash
            .iter()
            .zip(other.minhash.iter())
            .filter(|(a, b)| a == b)
            .count()
    }

    /// Whether the two are the same text shape.
    pub fn same_text(&self, other: &TextSignature) -> bool {
        self.agreement(other) >= SAME_TEXT
    }
}

/// One submission as the fold sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The comment.
    pub comment: Uuid,
    /// Its thread.
    pub thread: String,
    /// When it was submitted (from the event).
    pub at: DateTime<Utc>,
    /// Its text shape, if long enough.
    pub text: Option<TextSignature>,
    /// Registrable link domains, at most [`MAX_KEYS_PER_COMMENT`].
    pub domains: Vec<String>,
    /// Brand tokens, at most [`MAX_KEYS_PER_COMMENT`].
    pub brands: Vec<String>,
}

impl Observation {
    /// The observation of a body, given the hosts it links to (the site's own left out by the
    /// caller, which knows the policy's own domains).
    pub fn of(
        comment: Uuid,
        thread: &str,
        at: DateTime<Utc>,
        body: &str,
        link_hosts: &[String],
    ) -> Observation {
        Observation::of_normalized(
            comment,
            thread,
            at,
            body,
            &normalize::normalize(body),
            link_hosts,
        )
    }

    /// [`Observation::of`] given the body already normalised (`normalize(body)`), as the
    /// screening has it.
    pub fn of_normalized(
        comment: Uuid,
        thread: &str,
        at: DateTime<Utc>,
        body: &str,
        normalized: &normalize::Normalized,
        link_hosts: &[String],
    ) -> Observation {
        let mut domains: Vec<String> = Vec::new();
        for host in link_hosts {
            let d = registrable(host);
            if !d.is_empty() && !domains.contains(&d) && domains.len() < MAX_KEYS_PER_COMMENT {
                domains.push(d);
            }
        }
        Observation {
            comment,
            thread: thread.to_string(),
            at,
            text: text_signature_of(normalized),
            domains,
            brands: brand_token_of(body, normalized).into_iter().collect(),
        }
    }
}

/// The registrable part of a host: its last two labels, or three under a short second-level
/// label of a country domain (`news.co.id` → `news.co.id`, `a.b.news.co.id` → `news.co.id`).
pub fn registrable(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let keep = match labels.as_slice() {
        [.., second, tld] if tld.len() == 2 && second.len() <= 3 && labels.len() >= 3 => 3,
        _ => 2,
    };
    let start = labels.len().saturating_sub(keep);
    labels[start..].join(".")
}

/// The masked words of a normalised body: its text, links as `<link>`, every run of digits as
/// one `0`, punctuation dropped.
pub fn masked_words(n: &normalize::Normalized) -> Vec<String> {
    let mut out = Vec::new();
    // The normalised text rather than the word view: leetspeak mapping would turn the digits
    // of `100rb` into letters, which the mask is there to ignore.
    for token in n.text.split_whitespace() {
        if looks_like_link(token) {
            out.push("<link>".to_string());
            continue;
        }
        let mut word = String::new();
        let mut in_digits = false;
        for c in token.chars() {
            if c.is_numeric() {
                if !in_digits {
                    word.push('0');
                }
                in_digits = true;
            } else if c.is_alphanumeric() {
                word.push(c);
                in_digits = false;
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

fn looks_like_link(token: &str) -> bool {
    if token.contains("://") || token.starts_with("www.") {
        return true;
    }
    // `host.tld` or `host.tld/path`: letters on both sides of a dot, a TLD of letters.
    let host = token.split('/').next().unwrap_or("");
    let host = host.trim_end_matches(|c: char| !c.is_alphanumeric());
    match host.rsplit_once('.') {
        Some((name, tld)) => {
            !name.is_empty()
                && name.chars().last().is_some_and(char::is_alphanumeric)
                && tld.len() >= 2
                && tld.chars().all(|c| c.is_ascii_lowercase())
        }
        None => false,
    }
}

/// The text shape of a body, or `None` below [`MIN_WORDS`] words.
pub fn text_signature(body: &str) -> Option<TextSignature> {
    text_signature_of(&normalize::normalize(body))
}

/// [`text_signature`] of a body already normalised.
pub fn text_signature_of(n: &normalize::Normalized) -> Option<TextSignature> {
    let words = masked_words(n);
    if words.len() < MIN_WORDS {
        return None;
    }
    let mut minhash = [u64::MAX; MINHASH_SIZE];
    for pair in words.windows(2) {
        let h = fnv(pair[0].as_bytes()) ^ fnv(pair[1].as_bytes()).rotate_left(29);
        for (i, m) in minhash.iter_mut().enumerate() {
            let v = splitmix(h ^ SEEDS[i]);
            if v < *m {
                *m = v;
            }
        }
    }
    let mut label = words.join(" ");
    if let Some((cut, _)) = label.char_indices().nth(LABEL_CHARS) {
        label.truncate(cut);
        label.push('…');
    }
    Some(TextSignature { minhash, label })
}

/// The brand a body pushes: its first disguised word of at least four letters and digits,
/// normalised to lower-case letters and digits.
pub fn brand_token(body: &str) -> Option<String> {
    brand_token_of(body, &normalize::normalize(body))
}

/// [`brand_token`] given the body already normalised (`normalize(body)`, which reads only the
/// screened part of it, as this does).
pub fn brand_token_of(body: &str, n: &normalize::Normalized) -> Option<String> {
    let original = normalize::truncate(body, normalize::MAX_SCREENED_BYTES);
    let (start, end) = normalize::disguised_word(original, n, 4)?;
    let word = normalize::normalize(original.get(start..end)?);
    let token: String = word
        .text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(64)
        .collect();
    (token.len() >= 4).then_some(token)
}

/// Fixed seeds, so every replica and every restart computes the same signatures.
const SEEDS: [u64; MINHASH_SIZE] = [
    0x9e37_79b9_7f4a_7c15,
    0xbf58_476d_1ce4_e5b9,
    0x94d0_49bb_1331_11eb,
    0x2545_f491_4f6c_dd1d,
    0x1405_7b7e_f767_814f,
    0xd6e8_feb8_6659_fd93,
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
    0x1d8e_4e27_c47d_124f,
    0x7a0a_8e1b_7d3f_5b21,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
];

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A moderator's decision on a wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WaveDecision {
    /// What was decided for its comments.
    #[schema(value_type = String)]
    pub action: ModeratorAction,
    /// The moderator.
    pub by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

/// A wave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wave {
    /// Stable across replicas and restarts: derived from the shape and its first comment.
    pub id: Uuid,
    /// What its comments share (one or more shapes).
    pub shapes: Vec<Shape>,
    /// Its comments in arrival order, at most [`MAX_MEMBERS`].
    pub members: Vec<Uuid>,
    /// All its comments, also beyond [`MAX_MEMBERS`].
    pub comments: usize,
    /// The threads of the listed members.
    pub threads: BTreeSet<String>,
    /// The earliest submission time of a member.
    pub first_seen: DateTime<Utc>,
    /// The latest.
    pub last_seen: DateTime<Utc>,
    /// When it became a wave (the time of the comment that made it one).
    pub started_at: DateTime<Utc>,
    /// The moderator's decision; `None`: still open.
    pub decided: Option<WaveDecision>,
}

impl Wave {
    /// Whether it waits for a moderator.
    pub fn open(&self) -> bool {
        self.decided.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Text(u64),
    Domain(String),
    Brand(String),
}

#[derive(Debug, Clone)]
struct Entry {
    comment: Uuid,
    thread: String,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Track {
    shape: Shape,
    signature: Option<TextSignature>,
    recent: VecDeque<Entry>,
    last_seen: DateTime<Utc>,
    /// The open wave this shape feeds.
    wave: Option<Uuid>,
    /// The comment whose masked words are a text shape's label.
    label_from: Option<Uuid>,
}

/// The folded waves.
#[derive(Debug, Clone, Default)]
pub struct WaveState {
    rules: WaveRules,
    tracks: HashMap<Key, Track>,
    texts: usize,
    next_text: u64,
    waves: HashMap<Uuid, Wave>,
    /// Wave ids in start order, for eviction and listing.
    order: VecDeque<Uuid>,
    member_of: HashMap<Uuid, Uuid>,
    seen: HashSet<Uuid>,
    seen_order: VecDeque<Uuid>,
    /// Shapes not tracked because every slot was taken by a shape feeding an open wave.
    pub dropped: u64,
}

impl WaveState {
    /// An empty state with these rules (bounds clamped to sane values: at least two comments,
    /// one thread and ten seconds, at most a day).
    pub fn new(rules: WaveRules) -> WaveState {
        WaveState {
            rules: WaveRules {
                min_comments: rules.min_comments.clamp(2, MAX_RECENT),
                min_threads: rules.min_threads.clamp(1, MAX_RECENT),
                window_seconds: rules.window_seconds.clamp(10, 86_400),
            },
            ..WaveState::default()
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> WaveRules {
        self.rules
    }

    /// Shapes tracked now.
    pub fn shape_count(&self) -> usize {
        self.tracks.len()
    }

    /// Comment ids remembered now.
    pub fn seen_count(&self) -> usize {
        self.seen.len()
    }

    /// A wave by id.
    pub fn wave(&self, id: Uuid) -> Option<&Wave> {
        self.waves.get(&id)
    }

    /// Every wave kept, newest start first.
    pub fn waves(&self) -> Vec<&Wave> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.waves.get(id))
            .collect()
    }

    /// The wave a comment belongs to, if any.
    pub fn wave_of(&self, comment: Uuid) -> Option<Uuid> {
        self.member_of.get(&comment).copied()
    }

    /// The open wave whose shape `obs` has, if any: what hold mode holds.
    pub fn open_wave_for(&self, obs: &Observation) -> Option<Uuid> {
        self.keys_found(obs)
            .into_iter()
            .filter_map(|k| self.tracks.get(&k)?.wave)
            .find(|w| self.waves.get(w).is_some_and(Wave::open))
    }

    fn find_text(&self, sig: &TextSignature) -> Option<u64> {
        self.tracks
            .iter()
            .filter_map(|(k, t)| match (k, &t.signature) {
                (Key::Text(id), Some(s)) => Some((*id, s.agreement(sig))),
                _ => None,
            })
            .filter(|(_, agree)| *agree >= SAME_TEXT)
            // The closest, ties to the oldest: stable whatever the map's order.
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(id, _)| id)
    }

    /// The keys of `obs` that are tracked already.
    fn keys_found(&self, obs: &Observation) -> Vec<Key> {
        let mut keys = Vec::new();
        if let Some(sig) = &obs.text
            && let Some(id) = self.find_text(sig)
        {
            keys.push(Key::Text(id));
        }
        keys.extend(obs.domains.iter().map(|d| Key::Domain(d.clone())));
        keys.extend(obs.brands.iter().map(|b| Key::Brand(b.clone())));
        keys.retain(|k| self.tracks.contains_key(k));
        keys
    }

    /// Folds one submission; returns the ids of the waves it started.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Uuid> {
        if !self.remember(obs.comment) {
            return Vec::new();
        }
        let mut keys: Vec<Key> = Vec::new();
        if let Some(sig) = &obs.text {
            let key = match self.find_text(sig) {
                Some(id) => Some(Key::Text(id)),
                None => {
                    self.next_text += 1;
                    let key = Key::Text(self.next_text);
                    let shape = Shape {
                        kind: ShapeKind::Text,
                        value: sig.label.clone(),
                    };
                    self.make_room(obs.at, true)
                        .then(|| self.insert_track(key.clone(), shape, Some(sig.clone()), obs.at))
                        .flatten()
                        .inspect(|k| {
                            if let Some(t) = self.tracks.get_mut(k) {
                                t.label_from = Some(obs.comment);
                            }
                        })
                }
            };
            keys.extend(key);
        }
        for (kind, values) in [
            (ShapeKind::Domain, &obs.domains),
            (ShapeKind::Brand, &obs.brands),
        ] {
            for v in values.iter().take(MAX_KEYS_PER_COMMENT) {
                let key = match kind {
                    ShapeKind::Domain => Key::Domain(v.clone()),
                    _ => Key::Brand(v.clone()),
                };
                if self.tracks.contains_key(&key) {
                    keys.push(key);
                    continue;
                }
                let shape = Shape {
                    kind,
                    value: v.clone(),
                };
                if self.make_room(obs.at, false)
                    && let Some(k) = self.insert_track(key, shape, None, obs.at)
                {
                    keys.push(k);
                }
            }
        }
        // A domain named twice in one comment is still one comment of that shape.
        let mut unique: Vec<Key> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        let mut started = Vec::new();
        for key in unique {
            if let Some(id) = self.feed(&key, obs) {
                started.push(id);
            }
        }
        started
    }

    /// Records a moderator's decision: the wave closes and its shapes count afresh.
    pub fn decide(&mut self, wave: Uuid, decision: WaveDecision) {
        let Some(w) = self.waves.get_mut(&wave) else {
            return;
        };
        if w.decided.is_none() {
            w.decided = Some(decision);
        }
        for t in self.tracks.values_mut() {
            if t.wave == Some(wave) {
                t.wave = None;
                t.recent.clear();
            }
        }
    }

    /// Forgets the words of an erased reader's comment: a text shape labelled with its masked
    /// words, and every wave showing that label, get [`ERASED_LABEL`] instead. The shape keeps
    /// its MinHash (hashes, not words), so the wave goes on gathering its copies.
    pub fn forget_words_of(&mut self, comment: Uuid) {
        let mut labels = Vec::new();
        for t in self.tracks.values_mut() {
            if t.label_from == Some(comment) {
                labels.push(std::mem::replace(&mut t.shape.value, ERASED_LABEL.into()));
                if let Some(sig) = &mut t.signature {
                    sig.label = ERASED_LABEL.into();
                }
                t.label_from = None;
            }
        }
        if labels.is_empty() {
            return;
        }
        for w in self.waves.values_mut() {
            for s in &mut w.shapes {
                if s.kind == ShapeKind::Text && labels.contains(&s.value) {
                    s.value = ERASED_LABEL.into();
                }
            }
        }
    }

    /// Remembers a comment id; false when it was folded before.
    fn remember(&mut self, comment: Uuid) -> bool {
        if !self.seen.insert(comment) {
            return false;
        }
        self.seen_order.push_back(comment);
        if self.seen_order.len() > MAX_SEEN
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }

    fn insert_track(
        &mut self,
        key: Key,
        shape: Shape,
        signature: Option<TextSignature>,
        at: DateTime<Utc>,
    ) -> Option<Key> {
        if matches!(key, Key::Text(_)) {
            self.texts += 1;
        }
        self.tracks.insert(
            key.clone(),
            Track {
                shape,
                signature,
                recent: VecDeque::new(),
                last_seen: at,
                wave: None,
                label_from: None,
            },
        );
        Some(key)
    }

    /// Makes room for one more shape (a text one when `text`); false when every slot feeds an
    /// open wave.
    fn make_room(&mut self, now: DateTime<Utc>, text: bool) -> bool {
        let full =
            |s: &WaveState| s.tracks.len() >= MAX_SHAPES || (text && s.texts >= MAX_TEXT_SHAPES);
        if !full(self) {
            return true;
        }
        let horizon = now - Duration::seconds(self.rules.window_seconds);
        let quiet: Vec<Key> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.wave.is_none() && t.last_seen < horizon)
            .map(|(k, _)| k.clone())
            .collect();
        for k in quiet {
            self.remove_track(&k);
        }
        while full(self) {
            let quietest = self
                .tracks
                .iter()
                .filter(|(k, t)| {
                    t.wave.is_none()
                        && (!text || matches!(k, Key::Text(_)) || self.tracks.len() >= MAX_SHAPES)
                })
                .min_by_key(|(_, t)| t.last_seen)
                .map(|(k, _)| k.clone());
            match quietest {
                Some(k) => self.remove_track(&k),
                None => {
                    self.dropped += 1;
                    return false;
                }
            }
        }
        true
    }

    fn remove_track(&mut self, key: &Key) {
        if self.tracks.remove(key).is_some() && matches!(key, Key::Text(_)) {
            self.texts -= 1;
        }
    }

    /// Adds `obs` to the shape `key`; returns the id of a wave it started.
    fn feed(&mut self, key: &Key, obs: &Observation) -> Option<Uuid> {
        let rules = self.rules;
        let track = self.tracks.get_mut(key)?;
        if track.last_seen < obs.at {
            track.last_seen = obs.at;
        }
        if let Some(w) = track.wave
            && self.waves.get(&w).is_some_and(Wave::open)
        {
            self.join(w, obs.comment, &obs.thread, obs.at);
            return None;
        }
        track.wave = None;
        // Within one window of the newest comment of the shape: submissions folded from several
        // replicas need not come in time order, and a late old one must not stretch the window.
        let newest = track
            .recent
            .iter()
            .map(|e| e.at)
            .max()
            .map_or(obs.at, |n| n.max(obs.at));
        let horizon = newest - Duration::seconds(rules.window_seconds);
        track.recent.retain(|e| e.at > horizon);
        if obs.at <= horizon {
            return None;
        }
        track.recent.push_back(Entry {
            comment: obs.comment,
            thread: obs.thread.clone(),
            at: obs.at,
        });
        while track.recent.len() > MAX_RECENT {
            track.recent.pop_front();
        }
        let threads: HashSet<&str> = track.recent.iter().map(|e| e.thread.as_str()).collect();
        if track.recent.len() < rules.min_comments || threads.len() < rules.min_threads {
            return None;
        }
        let entries: Vec<Entry> = track.recent.drain(..).collect();
        let shape = track.shape.clone();
        // Comments already in an open wave: this shape is another face of that campaign.
        let existing = entries
            .iter()
            .filter_map(|e| self.member_of.get(&e.comment))
            .copied()
            .find(|w| self.waves.get(w).is_some_and(Wave::open));
        let (id, started) = match existing {
            Some(w) => {
                if let Some(wave) = self.waves.get_mut(&w)
                    && !wave.shapes.contains(&shape)
                {
                    wave.shapes.push(shape);
                }
                (w, false)
            }
            None => {
                let first = &entries[0];
                // Named by what a replay sees the same way (not by the text shape's counter,
                // which depends on where a replay starts), so a restart finds the same id.
                let what = match key {
                    Key::Text(_) => "text".to_string(),
                    Key::Domain(d) => format!("domain:{d}"),
                    Key::Brand(b) => format!("brand:{b}"),
                };
                let name = format!("{}/{what}", first.comment);
                let id = Uuid::new_v5(&WAVE_NAMESPACE, name.as_bytes());
                self.start(id, shape, obs.at, first.at);
                (id, true)
            }
        };
        if let Some(t) = self.tracks.get_mut(key) {
            t.wave = Some(id);
        }
        for e in &entries {
            self.join(id, e.comment, &e.thread, e.at);
        }
        started.then_some(id)
    }

    fn start(&mut self, id: Uuid, shape: Shape, at: DateTime<Utc>, first: DateTime<Utc>) {
        if self.waves.len() >= MAX_WAVES {
            let victim = self
                .order
                .iter()
                .find(|w| self.waves.get(w).is_some_and(|w| !w.open()))
                .or(self.order.front())
                .copied();
            if let Some(v) = victim {
                self.forget_wave(v);
            }
        }
        self.waves.insert(
            id,
            Wave {
                id,
                shapes: vec![shape],
                members: Vec::new(),
                comments: 0,
                threads: BTreeSet::new(),
                first_seen: first,
                last_seen: first,
                started_at: at,
                decided: None,
            },
        );
        self.order.push_back(id);
    }

    fn forget_wave(&mut self, id: Uuid) {
        if let Some(w) = self.waves.remove(&id) {
            for m in &w.members {
                self.member_of.remove(m);
            }
        }
        self.order.retain(|w| *w != id);
        for t in self.tracks.values_mut() {
            if t.wave == Some(id) {
                t.wave = None;
            }
        }
    }

    fn join(&mut self, wave: Uuid, comment: Uuid, thread: &str, at: DateTime<Utc>) {
        if self.member_of.contains_key(&comment) {
            return;
        }
        let Some(w) = self.waves.get_mut(&wave) else {
            return;
        };
        w.comments += 1;
        w.first_seen = w.first_seen.min(at);
        w.last_seen = w.last_seen.max(at);
        if w.members.len() < MAX_MEMBERS {
            w.members.push(comment);
            if !w.threads.contains(thread) {
                w.threads.insert(thread.to_string());
            }
            self.member_of.insert(comment, wave);
        }
    }
}

/// The namespace of wave ids (a v5 UUID of the first comment and the shape).
const WAVE_NAMESPACE: Uuid = Uuid::from_u128(0x5a71_9a0e_7a7e_4c1b_9f0d_3b2e_8c4a_1d60);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n + 1)
    }

    fn domain_obs(n: u128, thread: &str, secs: i64, domain: &str) -> Observation {
        Observation {
            comment: id(n),
            thread: thread.into(),
            at: t0() + Duration::seconds(secs),
            text: None,
            domains: vec![domain.into()],
            brands: vec![],
        }
    }

    const CAMPAIGN: &str = "Mau cuan tiap hari? Main di GACOR88 sekarang, bonus 100rb untuk member baru, link di bio ya kak";

    #[test]
    fn five_comments_in_three_threads_within_ten_minutes_make_one_wave() {
        let mut s = WaveState::new(WaveRules::default());
        let threads = ["a", "b", "c", "a"];
        for (i, t) in threads.iter().enumerate() {
            let started = s.observe(&domain_obs(i as u128, t, i as i64 * 60, "gacor.xyz"));
            assert!(started.is_empty(), "not yet after {}", i + 1);
        }
        let started = s.observe(&domain_obs(4, "b", 300, "gacor.xyz"));
        assert_eq!(started.len(), 1);
        let w = s.wave(started[0]).unwrap();
        assert_eq!(w.comments, 5);
        assert_eq!(w.threads.len(), 3);
        assert_eq!(w.shapes[0].value, "gacor.xyz");
        // A sixth joins the wave, and hold mode sees the shape.
        let next = domain_obs(5, "z", 900, "gacor.xyz");
        assert_eq!(s.open_wave_for(&next), Some(started[0]));
        assert!(s.observe(&next).is_empty());
        assert_eq!(s.wave(started[0]).unwrap().comments, 6);
        // Another domain is not part of it.
        assert_eq!(s.open_wave_for(&domain_obs(6, "z", 900, "other.id")), None);
    }

    #[test]
    fn two_threads_or_a_slow_trickle_are_not_a_wave() {
        let mut s = WaveState::new(WaveRules::default());
        for i in 0..10 {
            let t = if i % 2 == 0 { "a" } else { "b" };
            assert!(s.observe(&domain_obs(i, t, i as i64, "x.com")).is_empty());
        }
        let mut s = WaveState::new(WaveRules::default());
        for i in 0..10 {
            let t = ["a", "b", "c"][i as usize % 3];
            // One every four minutes: never five within ten.
            let obs = domain_obs(i, t, i as i64 * 240, "x.com");
            assert!(s.observe(&obs).is_empty());
        }
    }

    #[test]
    fn a_decided_wave_holds_nothing_and_its_shape_counts_afresh() {
        let mut s = WaveState::new(WaveRules::default());
        let mut wave = None;
        for i in 0..5 {
            let t = ["a", "b", "c"][i as usize % 3];
            wave = s
                .observe(&domain_obs(i, t, i as i64, "x.com"))
                .pop()
                .or(wave);
        }
        let wave = wave.expect("a wave");
        s.decide(
            wave,
            WaveDecision {
                action: ModeratorAction::Spam,
                by: "ayu".into(),
                at: t0(),
            },
        );
        assert!(!s.wave(wave).unwrap().open());
        let next = domain_obs(10, "a", 20, "x.com");
        assert_eq!(s.open_wave_for(&next), None);
        s.observe(&next);
        assert_eq!(
            s.wave(wave).unwrap().comments,
            5,
            "decided waves do not grow"
        );
    }

    #[test]
    fn near_identical_bodies_share_a_text_shape_and_ordinary_ones_do_not() {
        let a = text_signature(CAMPAIGN).unwrap();
        let styled = text_signature(
            "Mau cuan tiap hari? Main di 𝐆𝐀𝐂𝐎𝐑𝟗𝟗 sekarang, bonus 50rb untuk member baru, link di bio ya kak!!",
        )
        .unwrap();
        assert!(a.same_text(&styled), "{}", a.agreement(&styled));
        let linked = text_signature(
            "Mau cuan tiap hari? Main di https://gacor.example/daftar sekarang, bonus 100rb untuk member baru, link di bio ya kak",
        )
        .unwrap();
        assert!(a.same_text(&linked), "{}", a.agreement(&linked));
        let ham = text_signature(
            "Terima kasih atas beritanya. Semoga jalan desa cepat diperbaiki sebelum musim hujan.",
        )
        .unwrap();
        assert!(!a.same_text(&ham), "{}", a.agreement(&ham));
        assert_eq!(text_signature("Setuju sekali!"), None, "too short");
    }

    #[test]
    fn an_erased_first_comment_takes_its_words_out_of_the_wave_label() {
        let mut s = WaveState::new(WaveRules::default());
        let mut wave = None;
        for i in 0..5u128 {
            let t = ["a", "b", "c"][i as usize % 3];
            let body = if i == 0 {
                format!("{CAMPAIGN} salam dari Cibinongraya")
            } else {
                CAMPAIGN.to_string()
            };
            let obs = Observation::of(id(i), t, t0() + Duration::seconds(i as i64), &body, &[]);
            wave = s.observe(&obs).pop().or(wave);
        }
        let wave = wave.expect("a wave");
        let label = |s: &WaveState| s.wave(wave).unwrap().shapes[0].value.clone();
        assert!(label(&s).contains("cibinongraya"), "{}", label(&s));
        s.forget_words_of(id(3));
        assert!(
            label(&s).contains("cibinongraya"),
            "another comment's erasure changes nothing"
        );
        s.forget_words_of(id(0));
        assert_eq!(label(&s), ERASED_LABEL);
        // The shape still gathers its copies.
        let next = Observation::of(id(9), "d", t0() + Duration::seconds(9), CAMPAIGN, &[]);
        assert_eq!(s.open_wave_for(&next), Some(wave));
        s.observe(&next);
        assert_eq!(s.wave(wave).unwrap().comments, 6);
        assert_eq!(label(&s), ERASED_LABEL);
    }

    #[test]
    fn a_campaign_with_text_and_domain_is_one_wave_with_both_shapes() {
        let mut s = WaveState::new(WaveRules::default());
        let mut started = Vec::new();
        for i in 0..5u128 {
            let t = ["a", "b", "c", "d"][i as usize % 4];
            let obs = Observation::of(
                id(i),
                t,
                t0() + Duration::seconds(i as i64),
                &format!("{CAMPAIGN} https://promo{i}.gacor.xyz/daftar"),
                &[format!("promo{i}.gacor.xyz")],
            );
            started.extend(s.observe(&obs));
        }
        assert_eq!(started.len(), 1, "one wave");
        let w = s.wave(started[0]).unwrap();
        let kinds: Vec<ShapeKind> = w.shapes.iter().map(|s| s.kind).collect();
        assert!(
            kinds.contains(&ShapeKind::Text) && kinds.contains(&ShapeKind::Domain),
            "{kinds:?}"
        );
        assert_eq!(w.comments, 5);
    }

    #[test]
    fn brands_and_domains_are_read_as_a_moderator_would_name_them() {
        assert_eq!(registrable("promo.gacor.xyz"), "gacor.xyz");
        assert_eq!(registrable("a.b.news.co.id"), "news.co.id");
        assert_eq!(registrable("example.com"), "example.com");
        assert_eq!(
            brand_token("Parah! 𝐕𝐈𝐒𝐈𝟒𝐃 bikin nagih, mainnya gampang").as_deref(),
            Some("visi4d")
        );
        assert_eq!(
            brand_token("Terima kasih atas beritanya, sangat jelas."),
            None
        );
    }

    #[test]
    fn the_same_comment_twice_counts_once() {
        let mut s = WaveState::new(WaveRules::default());
        for _ in 0..10 {
            assert!(s.observe(&domain_obs(1, "a", 0, "x.com")).is_empty());
        }
        assert_eq!(s.seen_count(), 1);
    }

    fn arb_obs() -> impl Strategy<Value = Observation> {
        (
            0u128..400,
            0usize..6,
            0i64..4_000,
            prop::option::of(0usize..3),
            prop::collection::vec(0usize..50, 0..3),
        )
            .prop_map(|(n, thread, secs, text, domains)| {
                let texts = [
                    CAMPAIGN,
                    "Terima kasih atas beritanya. Semoga jalan desa cepat diperbaiki sebelum musim hujan.",
                    "Pemerintah daerah harus segera turun tangan membantu warga yang terdampak banjir",
                ];
                Observation {
                    comment: id(n),
                    thread: format!("t{thread}"),
                    at: t0() + Duration::seconds(secs),
                    text: text.and_then(|i| text_signature(texts[i])),
                    domains: domains.iter().map(|d| format!("d{d}.com")).collect(),
                    brands: vec![],
                }
            })
    }

    proptest! {
        #[test]
        fn the_fold_stays_within_its_bounds_and_waves_meet_the_rules(
            observations in prop::collection::vec(arb_obs(), 0..300),
        ) {
            let mut s = WaveState::new(WaveRules::default());
            for o in &observations {
                for w in s.observe(o) {
                    let wave = s.wave(w).unwrap();
                    prop_assert!(wave.comments >= 5);
                    prop_assert!(wave.threads.len() >= 3);
                    // Each face (shape) of a wave met the rule within one window, and a face
                    // joins a wave through a comment they share: a comment with a text and a
                    // link can start the text's wave and bring the link's earlier comments in.
                    let faces = i64::try_from(wave.shapes.len()).unwrap_or(i64::MAX);
                    prop_assert!(
                        wave.last_seen - wave.first_seen <= Duration::seconds(600 * faces),
                        "{} faces over {}", faces, wave.last_seen - wave.first_seen
                    );
                }
                prop_assert!(s.shape_count() <= MAX_SHAPES);
                prop_assert!(s.waves().len() <= MAX_WAVES);
            }
            for w in s.waves() {
                prop_assert!(w.members.len() <= MAX_MEMBERS);
                prop_assert_eq!(w.members.len(), w.comments);
                for m in &w.members {
                    prop_assert_eq!(s.wave_of(*m), Some(w.id));
                }
            }
        }

        #[test]
        fn a_campaign_across_three_threads_within_the_window_is_always_one_wave(
            n in 5usize..40,
            gaps in prop::collection::vec(0i64..20, 40),
            noise in prop::collection::vec(arb_obs(), 0..40),
        ) {
            let mut s = WaveState::new(WaveRules::default());
            for o in &noise {
                s.observe(o);
            }
            let mut at = 5_000i64;
            let mut started = Vec::new();
            for i in 0..n {
                at += gaps[i];
                let obs = domain_obs(1_000 + i as u128, ["x", "y", "z"][i % 3], at, "campaign.xyz");
                started.extend(s.observe(&obs));
            }
            prop_assert_eq!(started.len(), 1);
            prop_assert_eq!(s.wave(started[0]).unwrap().comments, n);
        }

        #[test]
        fn folding_is_the_same_whether_or_not_a_comment_is_seen_twice(
            observations in prop::collection::vec(arb_obs(), 0..120),
        ) {
            let mut once = WaveState::new(WaveRules::default());
            let mut twice = WaveState::new(WaveRules::default());
            for o in &observations {
                once.observe(o);
                twice.observe(o);
                twice.observe(o);
            }
            let a: Vec<_> = once.waves().into_iter().cloned().collect();
            let b: Vec<_> = twice.waves().into_iter().cloned().collect();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn digits_and_links_do_not_change_a_text_shape(
            a in 0u32..1_000_000, b in 0u32..1_000_000, host in "[a-z]{3,12}",
        ) {
            let x = text_signature(&format!("Bonus {a} ribu untuk pendaftar baru hari ini saja di situs kami")).unwrap();
            let y = text_signature(&format!("Bonus {b} ribu untuk pendaftar baru hari ini saja di https://{host}.com/x")).unwrap();
            prop_assert!(x.agreement(&y) >= SAME_TEXT);
        }
    }
}
