//! The learned rule kind: a hashed-feature logistic regression over the normalised text.
//!
//! The model reads what the other rules read: the body and the author name after
//! [`normalize`](crate::policy::normalize) (styled alphabets decoded, look-alikes folded, spaced
//! letters joined), and turns them into hashed features ([`features`]): words, word pairs,
//! character 3–5-grams inside words, the shape of tokens with digits (`garuda88` is letters then
//! two digits, `2019` is four digits), which tokens were written in styled letters or spelled out,
//! and the same for the author name under its own prefix. A weight per bucket, summed and passed
//! through the logistic function, gives the probability that the comment is spam.
//!
//! Why written by hand: the model needs deterministic training (the same data must give the same
//! file, byte for byte, so a shipped model can be rebuilt and checked), sparse hashed input of
//! 2^18 features, and a small stable file format that this crate controls. The Rust crates for
//! this (`linfa-logistic` is the best kept) fit dense `ndarray` matrices with an L-BFGS solver
//! from `argmin`: a dense 30,000 × 262,144 matrix does not fit in memory, their saved form is
//! serde of f64 arrays tied to crate versions, and they bring a large dependency tree for about
//! 150 lines of arithmetic. Logistic regression by AdaGrad SGD is short and well understood.

pub mod features;
mod file;
pub mod train;

use std::path::Path;

use features::{Extractor, FeatureConfig, Group};

use super::normalize::{Normalized, normalize};

pub use train::{Example, Progress, TrainConfig, train};

/// Largest model file read.
const MAX_MODEL_BYTES: u64 = 16 * 1024 * 1024;

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("cannot read the model: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with the model magic.
    #[error("not a Saring model file (no SARINGLR header)")]
    NotAModel,
    /// The file is shorter than its header says.
    #[error("model file truncated: {found} bytes, expected {expected}")]
    Truncated {
        /// Bytes the header asks for.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// A format version this build cannot read.
    #[error("model format version {found}; this build reads versions 1 to {supported}: retrain it")]
    Version {
        /// The file's version.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// The header's settings are impossible.
    #[error("model file has a bad header: {0}")]
    Config(String),
    /// The checksum does not match the contents.
    #[error("model file is corrupt: checksum mismatch")]
    Checksum,
    /// The file is larger than any model.
    #[error("model file larger than {MAX_MODEL_BYTES} bytes")]
    TooLarge,
}

/// A trained model: feature settings, bias and quantised weights.
#[derive(Clone, PartialEq)]
pub struct Model {
    config: FeatureConfig,
    bias: f32,
    scale: f32,
    weights: Vec<i16>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("config", &self.config)
            .field("bias", &self.bias)
            .field("scale", &self.scale)
            .field("weights", &self.weights.len())
            .finish()
    }
}

/// The features of one comment as the model reads them: (bucket, value) pairs, each field's
/// distinct features scaled to unit length so a long comment does not outweigh a short one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vector {
    pub entries: Vec<(u32, f64)>,
}

/// Distinct buckets per group, sorted, from a feature list (training: a fixed order).
fn distinct(features: &[features::Feature]) -> [Vec<u32>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for f in features {
        out[f.group as usize].push(f.bucket);
    }
    for g in &mut out {
        g.sort_unstable();
        g.dedup();
    }
    out
}

/// Distinct buckets per group in order of first appearance, through a bit set: cheaper than
/// sorting on the screening path, where the sum is of integers and the order does not matter.
fn distinct_unsorted(features: &[features::Feature], buckets: usize) -> [Vec<u32>; 2] {
    let mut out = [
        Vec::with_capacity(features.len()),
        Vec::with_capacity(features.len() / 8),
    ];
    // One bit per bucket, reused for the second field after clearing only the bits set.
    let mut seen = vec![0u64; buckets.div_ceil(64)];
    for (g, list) in out.iter_mut().enumerate() {
        for f in features.iter().filter(|f| f.group as usize == g) {
            let (i, bit) = (f.bucket as usize >> 6, 1u64 << (f.bucket & 63));
            if seen[i] & bit == 0 {
                seen[i] |= bit;
                list.push(f.bucket);
            }
        }
        for &b in list.iter() {
            seen[b as usize >> 6] = 0;
        }
    }
    out
}

fn extract(
    config: FeatureConfig,
    body: Option<(&Normalized, &str)>,
    author: Option<(&Normalized, &str)>,
) -> Vec<features::Feature> {
    let mut x = Extractor::new(config);
    if let Some((n, o)) = body {
        x.field(Group::Body, n, o);
    }
    if let Some((n, o)) = author {
        x.field(Group::Author, n, o);
    }
    x.out
}

pub(crate) fn vectorize(config: &FeatureConfig, body: &str, author: &str) -> Vector {
    let (nb, na) = (normalize(body), normalize(author));
    let f = extract(
        *config,
        (!body.is_empty()).then_some((&nb, body)),
        (!author.is_empty()).then_some((&na, author)),
    );
    let groups = distinct(&f);
    let mut entries = Vec::with_capacity(groups[0].len() + groups[1].len());
    for g in &groups {
        let x = 1.0 / (g.len().max(1) as f64).sqrt();
        entries.extend(g.iter().map(|&b| (b, x)));
    }
    Vector { entries }
}

/// One feature's part in a score, for explanations.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    /// A readable name: `word:gacor`, `char:<ga`, `styled:garuda88`, `shape:a9:2` ...
    pub name: String,
    /// The field it came from.
    pub group: Group,
    /// Byte range in that field's NORMALISED text, when it is about a piece of text.
    pub span: Option<(usize, usize)>,
    /// What it added to the log-odds.
    pub weight: f64,
}

impl Model {
    /// Reads and checks a model file.
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let len = std::fs::metadata(path)?.len();
        if len > MAX_MODEL_BYTES {
            return Err(ModelError::TooLarge);
        }
        Model::from_bytes(&std::fs::read(path)?)
    }

    /// Decodes a model file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        file::decode(bytes)
    }

    /// The model file's bytes (the same model always gives the same bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        file::encode(self)
    }

    /// The feature settings it was trained with.
    pub fn config(&self) -> FeatureConfig {
        self.config
    }

    /// Buckets with a non-zero weight (a measure of how much the model learned).
    pub fn nonzero_weights(&self) -> usize {
        self.weights.iter().filter(|w| **w != 0).count()
    }

    fn log_odds_of(&self, groups: &[Vec<u32>; 2]) -> f64 {
        let mut z = f64::from(self.bias);
        for g in groups {
            if g.is_empty() {
                continue;
            }
            // Integer sum: exact and order-free, then one scale per field.
            let sum: i64 = g.iter().map(|&b| i64::from(self.weights[b as usize])).sum();
            z += sum as f64 * f64::from(self.scale) / (g.len() as f64).sqrt();
        }
        z
    }

    /// Scores a comment from the normalised body and author name and the original texts they
    /// came from (either may be `None` when empty). The result explains itself on demand.
    pub fn score<'t>(
        &self,
        body: Option<(&'t Normalized, &'t str)>,
        author: Option<(&'t Normalized, &'t str)>,
    ) -> Scoring<'_, 't> {
        let features = extract(self.config, body, author);
        let groups = distinct_unsorted(&features, self.weights.len());
        let probability = sigmoid(self.log_odds_of(&groups));
        Scoring {
            model: self,
            texts: [body.map(|b| b.0), author.map(|a| a.0)],
            features,
            groups,
            probability,
        }
    }

    /// The spam probability of a comment (see [`Model::score`]).
    pub fn probability(
        &self,
        body: Option<(&Normalized, &str)>,
        author: Option<(&Normalized, &str)>,
    ) -> f64 {
        self.score(body, author).probability
    }

    /// The spam probability of raw texts (normalises them first): for tools and tests.
    pub fn probability_of(&self, body: &str, author: &str) -> f64 {
        let (nb, na) = (normalize(body), normalize(author));
        self.probability(
            (!body.is_empty()).then_some((&nb, body)),
            (!author.is_empty()).then_some((&na, author)),
        )
    }
}

/// A scored comment: its probability, and the features behind it for an explanation.
pub struct Scoring<'m, 't> {
    model: &'m Model,
    texts: [Option<&'t Normalized>; 2],
    features: Vec<features::Feature>,
    groups: [Vec<u32>; 2],
    /// The spam probability.
    pub probability: f64,
}

impl Scoring<'_, '_> {
    /// The `k` features that pushed the score furthest towards spam (`towards_spam`) or away
    /// from it, strongest first.
    pub fn explain(&self, k: usize, towards_spam: bool) -> Vec<Contribution> {
        let m = self.model;
        let sign = if towards_spam { 1.0 } else { -1.0 };
        let mut parts: Vec<(f64, Group, u32)> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let x = f64::from(m.scale) / (g.len().max(1) as f64).sqrt();
            let group = if gi == 0 { Group::Body } else { Group::Author };
            parts.extend(
                g.iter()
                    .map(|&b| (f64::from(m.weights[b as usize]) * x, group, b))
                    .filter(|p| p.0 * sign > 0.0),
            );
        }
        // Strongest first; ties by group and bucket so the order is stable.
        let cmp = |a: &(f64, Group, u32), b: &(f64, Group, u32)| {
            (b.0 * sign)
                .total_cmp(&(a.0 * sign))
                .then(a.1.cmp(&b.1))
                .then(a.2.cmp(&b.2))
        };
        if parts.len() > k {
            parts.select_nth_unstable_by(k, cmp);
            parts.truncate(k);
        }
        parts.sort_by(cmp);
        parts
            .into_iter()
            .map(|(w, group, bucket)| {
                let first = self
                    .features
                    .iter()
                    .find(|f| f.group == group && f.bucket == bucket);
                let text = self.texts[group as usize].map_or("", |n| n.text.as_str());
                Contribution {
                    name: first.map_or_else(|| format!("bucket:{bucket}"), |f| f.name(text)),
                    group,
                    span: first.and_then(|f| f.span()),
                    weight: (w * 1000.0).round() / 1000.0,
                }
            })
            .collect()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z.clamp(-40.0, 40.0)).exp())
}

/// When a model rule fires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// The spam probability is at least this (`min_probability`): a rule that adds to the score.
    AtLeast(f64),
    /// The spam probability is at most this (`max_probability`): a rule that lowers the score
    /// of what the model is sure is not spam.
    AtMost(f64),
}

impl Threshold {
    /// How far `p` is past the threshold, from 0 (at it) to 1 (certainty), or `None` before it.
    pub fn strength(self, p: f64) -> Option<f64> {
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.5
        };
        match self {
            Threshold::AtLeast(t) if p >= t => Some(((p - t) / (1.0 - t).max(1e-9)).min(1.0)),
            Threshold::AtMost(t) if p <= t => Some(((t - p) / t.max(1e-9)).min(1.0)),
            _ => None,
        }
    }
}

/// A model rule's score for probability `p`: `score` at the threshold, rising in a straight line
/// to `max_score` at certainty; `None` when the rule does not fire. Always between `score` and
/// `max_score`, whatever `p` is.
pub fn bounded_score(p: f64, threshold: Threshold, score: f64, max_score: f64) -> Option<f64> {
    let t = threshold.strength(p)?;
    let s = score + (max_score - score) * t;
    let (lo, hi) = if score <= max_score {
        (score, max_score)
    } else {
        (max_score, score)
    };
    Some(s.clamp(lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Model {
        let ex = [
            Example {
                body: "main di GACOR77 pasti jp",
                author: "",
                spam: true,
            },
            Example {
                body: "berita bagus, terima kasih",
                author: "Budi",
                spam: false,
            },
        ];
        train(
            &ex,
            &TrainConfig {
                epochs: 5,
                features: FeatureConfig {
                    bits: 12,
                    ..FeatureConfig::default()
                },
                ..TrainConfig::default()
            },
            &mut |_| {},
        )
    }

    #[test]
    fn round_trips_through_bytes() {
        let m = tiny();
        let b = m.to_bytes();
        assert_eq!(Model::from_bytes(&b).expect("decodes"), m);
    }

    #[test]
    fn corrupt_truncated_and_foreign_files_are_refused() {
        let b = tiny().to_bytes();
        assert!(matches!(
            Model::from_bytes(&b[..b.len() - 1]),
            Err(ModelError::Truncated { .. })
        ));
        let mut flipped = b.clone();
        flipped[100] ^= 1;
        assert!(matches!(
            Model::from_bytes(&flipped),
            Err(ModelError::Checksum)
        ));
        let v3 = with_header(&b, 3, 0);
        assert!(matches!(
            Model::from_bytes(&v3),
            Err(ModelError::Version { found: 3, .. })
        ));
        let unknown_flag = with_header(&b, 2, 0b10);
        assert!(matches!(
            Model::from_bytes(&unknown_flag),
            Err(ModelError::Config(_))
        ));
    }

    /// `bytes` with another version and flags byte, and the checksum made right again.
    fn with_header(bytes: &[u8], version: u16, flags: u8) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        let mut out = bytes[..bytes.len() - 32].to_vec();
        out[8..10].copy_from_slice(&version.to_le_bytes());
        out[13] = flags;
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    #[test]
    fn a_version_1_file_still_reads_the_author_name_for_its_words() {
        // Version 1 had no flags: its models were trained on the name's words and n-grams, so
        // they are scored with them; version 2 writes what it was trained with.
        let m = tiny();
        assert!(!m.config.name_words);
        let v1 = Model::from_bytes(&with_header(&m.to_bytes(), 1, 0)).expect("version 1 reads");
        assert!(v1.config.name_words);
        assert_eq!(v1.weights, m.weights);
        let mut words = m.clone();
        words.config.name_words = true;
        let back = Model::from_bytes(&words.to_bytes()).expect("decodes");
        assert!(back.config.name_words);
        assert!(matches!(
            Model::from_bytes(&with_header(&m.to_bytes(), 1, 1)),
            Err(ModelError::Config(_))
        ));
        assert!(matches!(
            Model::from_bytes(b"hello world"),
            Err(ModelError::NotAModel)
        ));
    }

    #[test]
    fn explanations_point_at_the_words_that_made_the_score() {
        let m = tiny();
        let body = "main di GACOR77 sekarang";
        let n = normalize(body);
        let top = m.score(Some((&n, body)), None).explain(5, true);
        assert!(!top.is_empty());
        assert!(top.windows(2).all(|w| w[0].weight >= w[1].weight));
        for c in &top {
            if let Some((s, e)) = c.span {
                let (os, oe) = n.original_span(s, e).expect("maps back");
                assert!(body.get(os..oe).is_some(), "{c:?}");
            }
        }
    }
}
