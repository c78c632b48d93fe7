//! What a site's moderators taught: a pure, bounded fold of their decisions into hashed
//! feature counts, read beside the shipped model.
//!
//! Every moderator decision (`spam`, `reject` teach spam; `not_spam`, `approve` teach ham)
//! arrives with the comment's text, its author key and the event's sequence number in the log.
//! The state keeps, per comment, only the decision with the highest sequence number (a
//! last-writer-wins register), so applying the same events in any order gives the same state,
//! and a reversal (`not_spam` after `spam` on the same comment) replaces what the first decision
//! taught instead of adding to it. Counts are integers, so adding and removing in any order is
//! exact.
//!
//! Bounds: at most [`MAX_COMMENTS`] comments are remembered (those with the highest sequence
//! numbers, which again does not depend on the order of arrival); one author's comments count
//! together for at most [`AUTHOR_SHARE`] comments' worth, so one account cannot teach alone; and
//! the score the site's counts give is at most [`MAX_LEARNED_SCORE`] either way, so a mistaken
//! decision is cheap and a `not_spam` undoes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::model::features::{Extractor, FeatureConfig, Group};
use super::normalize::normalize;

/// Most comments remembered.
pub const MAX_COMMENTS: usize = 2_000;
/// Comments' worth one author's decisions count for at most.
pub const AUTHOR_SHARE: u64 = 3;
/// Largest score, up or down, the learned counts add to a verdict.
pub const MAX_LEARNED_SCORE: f64 = 6.0;
/// Mean per-feature evidence that counts for nothing: what an ordinary comment shares with
/// any campaign written in the same language.
const DEAD_ZONE: f64 = 0.3;
/// Fixed-point unit of one comment's weight.
const UNIT: u64 = 1_000_000;
/// Pseudo-count on both sides of every feature: a feature seen once is weak evidence.
const PRIOR: f64 = 2.0;
/// Most distinct features remembered of one comment: with [`MAX_COMMENTS`], bounds the count
/// table to two million entries.
const MAX_FEATURES: usize = 1_000;

/// A moderator's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Marked spam.
    Spam,
    /// Marked not spam.
    NotSpam,
    /// Approved (published).
    Approve,
    /// Rejected.
    Reject,
}

impl Decision {
    fn spam(self) -> bool {
        matches!(self, Decision::Spam | Decision::Reject)
    }
}

/// One decision as the fold reads it.
#[derive(Clone, Debug)]
pub struct Taught<'a> {
    /// Position of the event in the log: later decisions win.
    pub seq: u64,
    /// The comment decided on.
    pub comment_id: &'a str,
    /// Who wrote it (an opaque key such as a hash of the email).
    pub author_key: &'a str,
    /// The comment text.
    pub body: &'a str,
    /// The author's name.
    pub author_name: &'a str,
    /// The decision.
    pub decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    seq: u64,
    author: String,
    spam: bool,
    /// Distinct (group, bucket) features, sorted.
    features: Vec<(u8, u32)>,
}

/// The site's learned counts. Build it by folding decisions with [`LearnedModel::apply`].
///
/// Serialised (for projection snapshots) as its feature settings and the remembered comments
/// only: the count table and the author index are derived from them and rebuilt on load, which
/// keeps snapshots smaller and makes a loaded model equal to the folded one by construction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct LearnedModel {
    config: FeatureConfig,
    comments: BTreeMap<String, Remembered>,
    /// Comments by author key.
    by_author: BTreeMap<String, BTreeSet<String>>,
    /// Per feature: weighted spam and ham counts, in [`UNIT`]s.
    counts: HashMap<(u8, u32), [u64; 2]>,
}

impl Default for LearnedModel {
    fn default() -> Self {
        LearnedModel::new(FeatureConfig::default())
    }
}

/// The serialised form of [`LearnedModel`].
#[derive(Serialize, Deserialize)]
struct Stored {
    bits: u8,
    ngram_min: u8,
    ngram_max: u8,
    hash_key: u64,
    /// Absent in state stored before the flag: such state is rebuilt with the current default
    /// (the counts are derived from the remembered comments on load, so nothing is lost).
    #[serde(default)]
    name_words: bool,
    comments: BTreeMap<String, Remembered>,
}

impl From<LearnedModel> for Stored {
    fn from(m: LearnedModel) -> Self {
        Stored {
            bits: m.config.bits,
            ngram_min: m.config.ngram_min,
            ngram_max: m.config.ngram_max,
            hash_key: m.config.hash_key,
            name_words: m.config.name_words,
            comments: m.comments,
        }
    }
}

impl From<Stored> for LearnedModel {
    fn from(s: Stored) -> Self {
        let mut m = LearnedModel::new(FeatureConfig {
            bits: s.bits,
            ngram_min: s.ngram_min,
            ngram_max: s.ngram_max,
            hash_key: s.hash_key,
            name_words: s.name_words,
        });
        // Integer counts: inserting in any order rebuilds the same table.
        for (id, r) in s.comments.into_iter().take(MAX_COMMENTS) {
            m.insert(id, r);
        }
        m
    }
}

impl LearnedModel {
    /// An empty model using the shipped model's feature settings.
    pub fn new(config: FeatureConfig) -> Self {
        LearnedModel {
            config,
            comments: BTreeMap::new(),
            by_author: BTreeMap::new(),
            counts: HashMap::new(),
        }
    }

    /// Comments remembered.
    pub fn len(&self) -> usize {
        self.comments.len()
    }

    /// Whether nothing was taught.
    pub fn is_empty(&self) -> bool {
        self.comments.is_empty()
    }

    fn features(&self, body: &str, author: &str) -> Vec<(u8, u32)> {
        let mut x = Extractor::new(self.config);
        let (nb, na) = (normalize(body), normalize(author));
        x.field(Group::Body, &nb, body);
        x.field(Group::Author, &na, author);
        let mut f: Vec<(u8, u32)> = x.out.iter().map(|f| (f.group as u8, f.bucket)).collect();
        f.sort_unstable();
        f.dedup();
        f.truncate(MAX_FEATURES);
        f
    }

    /// One comment's weight: a full unit, shared out when its author decided many.
    fn weight(&self, author: &str) -> u64 {
        let n = self
            .by_author
            .get(author)
            .map_or(1, |s| s.len() as u64)
            .max(1);
        UNIT * AUTHOR_SHARE.min(n) / n
    }

    fn add_author(&mut self, author: &str, sign: bool) {
        let Some(ids) = self.by_author.get(author) else {
            return;
        };
        let w = self.weight(author);
        let ids: Vec<String> = ids.iter().cloned().collect();
        for id in ids {
            let Some(r) = self.comments.get(&id) else {
                continue;
            };
            let side = usize::from(!r.spam);
            for f in r.features.clone() {
                let c = self.counts.entry(f).or_insert([0, 0]);
                if sign {
                    c[side] += w;
                } else {
                    c[side] -= w;
                    if c == &[0, 0] {
                        self.counts.remove(&f);
                    }
                }
            }
        }
    }

    fn remove(&mut self, id: &str) {
        let Some(author) = self.comments.get(id).map(|r| r.author.clone()) else {
            return;
        };
        self.add_author(&author, false);
        self.comments.remove(id);
        if let Some(s) = self.by_author.get_mut(&author) {
            s.remove(id);
            if s.is_empty() {
                self.by_author.remove(&author);
            }
        }
        self.add_author(&author, true);
    }

    fn insert(&mut self, id: String, r: Remembered) {
        let author = r.author.clone();
        self.add_author(&author, false);
        self.comments.insert(id.clone(), r);
        self.by_author.entry(author.clone()).or_default().insert(id);
        self.add_author(&author, true);
    }

    /// Folds one decision in. Pure apart from `self`; the result does not depend on the order
    /// in which decisions arrive, only on which ones did.
    pub fn apply(&mut self, t: &Taught<'_>) {
        if let Some(r) = self.comments.get(t.comment_id)
            && r.seq >= t.seq
        {
            return; // an older or repeated decision: the later one stands
        }
        if !self.comments.contains_key(t.comment_id) && self.comments.len() >= MAX_COMMENTS {
            // Full: the new decision must be later than the oldest remembered one.
            let oldest = self
                .comments
                .iter()
                .min_by_key(|(id, r)| (r.seq, (*id).clone()))
                .map(|(id, r)| (id.clone(), r.seq));
            match oldest {
                Some((id, seq)) if seq < t.seq => self.remove(&id),
                _ => return,
            }
        }
        self.remove(t.comment_id);
        let features = self.features(t.body, t.author_name);
        self.insert(
            t.comment_id.to_string(),
            Remembered {
                seq: t.seq,
                author: t.author_key.to_string(),
                spam: t.decision.spam(),
                features,
            },
        );
    }

    /// The score the site's decisions give a comment, within ±[`MAX_LEARNED_SCORE`], and the
    /// number of its features the site has seen. Features seen on both sides cancel out.
    pub fn score(&self, body: &str, author_name: &str) -> (f64, usize) {
        if self.counts.is_empty() {
            return (0.0, 0);
        }
        let f = self.features(body, author_name);
        let mut sum = 0.0;
        let mut seen = 0usize;
        for k in &f {
            if let Some([s, h]) = self.counts.get(k) {
                seen += 1;
                let (s, h) = (*s as f64 / UNIT as f64, *h as f64 / UNIT as f64);
                sum += ((s + PRIOR) / (h + PRIOR)).ln();
            }
        }
        if seen == 0 {
            return (0.0, 0);
        }
        // Mean evidence over ALL the comment's features (unseen ones count 0), so a comment that
        // shares a few common features with a campaign gets little; squashed into the bound.
        // With only spam taught there is no ham side to cancel the common n-grams of the
        // language ("di ", "kak"), which give an ordinary comment a mean of about 0.3: that much
        // is a dead zone, and only evidence beyond it counts.
        let mean = sum / f.len().max(1) as f64;
        let s = MAX_LEARNED_SCORE * (2.5 * (mean - DEAD_ZONE).max(0.0)).tanh();
        (s.clamp(-MAX_LEARNED_SCORE, MAX_LEARNED_SCORE), seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn campaign(i: usize) -> String {
        format!("mantap main di 𝐙𝐎𝐑𝐁𝐀𝐊𝐈𝐓𝐀𝟕𝟕 langsung wd {i} juta, gacor")
    }

    fn t<'a>(seq: u64, id: &'a str, author: &'a str, body: &'a str, d: Decision) -> Taught<'a> {
        Taught {
            seq,
            comment_id: id,
            author_key: author,
            body,
            author_name: "",
            decision: d,
        }
    }

    #[test]
    fn a_few_spam_decisions_raise_the_next_comment_and_undoing_them_restores_it() {
        let mut m = LearnedModel::new(FeatureConfig::default());
        let bodies: Vec<String> = (0..5).map(campaign).collect();
        let ids: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        let next = campaign(9);
        let before = m.score(&next, "").0;
        for i in 0..5 {
            m.apply(&t(
                i as u64,
                &ids[i],
                &format!("a{i}"),
                &bodies[i],
                Decision::Spam,
            ));
        }
        let after = m.score(&next, "").0;
        assert!(after > before + 2.0, "{before} -> {after}");
        let ordinary = m
            .score("jalan di kampung kami rusak parah sejak musim hujan", "")
            .0;
        assert!(ordinary < 1.0, "ordinary comment scored {ordinary}");
        for i in 0..5 {
            m.apply(&t(
                10 + i as u64,
                &ids[i],
                &format!("a{i}"),
                &bodies[i],
                Decision::NotSpam,
            ));
        }
        assert!(m.score(&next, "").0 <= before + 1e-9);
    }

    #[test]
    fn one_author_cannot_teach_alone() {
        let bodies: Vec<String> = (0..30).map(campaign).collect();
        let ids: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        let mut one = LearnedModel::new(FeatureConfig::default());
        let mut many = LearnedModel::new(FeatureConfig::default());
        for i in 0..30 {
            one.apply(&t(i as u64, &ids[i], "same", &bodies[i], Decision::Spam));
            many.apply(&t(
                i as u64,
                &ids[i],
                &format!("a{i}"),
                &bodies[i],
                Decision::Spam,
            ));
        }
        let probe = campaign(99);
        assert!(one.score(&probe, "").0 < many.score(&probe, "").0);
    }

    fn decision() -> impl Strategy<Value = Decision> {
        prop_oneof![
            Just(Decision::Spam),
            Just(Decision::NotSpam),
            Just(Decision::Approve),
            Just(Decision::Reject)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn decisions_in_any_order_give_the_same_model(
            events in prop::collection::vec((0usize..6, 0usize..3, 0usize..4, decision()), 1..24),
            seed in any::<u64>(),
        ) {
            let bodies = ["judi slot gacor zorba77", "berita bagus sekali", "main di kilat88 wd", "polisi tangkap bandar"];
            let ids: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
            let authors: Vec<String> = (0..3).map(|i| format!("a{i}")).collect();
            let taught: Vec<Taught<'_>> = events
                .iter()
                .enumerate()
                .map(|(seq, (c, a, b, d))| t(seq as u64, &ids[*c], &authors[*a], bodies[*b], *d))
                .collect();
            let mut forward = LearnedModel::new(FeatureConfig::default());
            for x in &taught {
                forward.apply(x);
            }
            // A shuffled order, from the seed.
            let mut order: Vec<usize> = (0..taught.len()).collect();
            let mut s = seed;
            for i in (1..order.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut shuffled = LearnedModel::new(FeatureConfig::default());
            for &i in &order {
                shuffled.apply(&taught[i]);
            }
            prop_assert_eq!(&forward, &shuffled);
            let probe = forward.score("main di zorba77 gacor", "").0;
            prop_assert!(probe.abs() <= MAX_LEARNED_SCORE);
        }

        #[test]
        fn a_reversal_removes_what_the_decision_taught(c in 0usize..4, d in decision()) {
            let bodies = ["judi slot gacor zorba77", "berita bagus sekali", "main di kilat88 wd", "polisi tangkap bandar"];
            let mut base = LearnedModel::new(FeatureConfig::default());
            base.apply(&t(0, "x", "a", bodies[(c + 1) % 4], Decision::Approve));
            let mut taught = base.clone();
            taught.apply(&t(1, "y", "b", bodies[c], d));
            // A later decision on the same comment replaces the first one entirely.
            let opposite = if d.spam() { Decision::NotSpam } else { Decision::Spam };
            taught.apply(&t(2, "y", "b", bodies[c], opposite));
            let mut direct = base.clone();
            direct.apply(&t(2, "y", "b", bodies[c], opposite));
            prop_assert_eq!(taught, direct);
        }
    }
}
