//! The model's features: hashed words, word pairs, character n-grams and token shapes of the
//! normalised (de-styled) text, with the author name as a field of its own.
//!
//! Every feature is a short key (a group prefix plus text) hashed with a fixed-key FNV-1a into
//! `2^bits` buckets, so the same text gives the same buckets on every machine and in every run
//! (the standard library's hasher is randomised per process, which would make a saved model
//! meaningless). Each occurrence also remembers the byte range of the normalised text it came
//! from, so an explanation can point at the original text through the normaliser's span map.

use crate::policy::normalize::{Normalized, ascii_alnum_runs};

/// Most tokens of one field that give features: bounds the cost of one screening (the text is
/// already cut to 16 KiB by the normaliser; 600 tokens is far more than a comment needs).
pub const MAX_TOKENS: usize = 600;

/// Which field a feature came from. Body and author features are normalised separately, so a
/// long comment does not drown the author name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// The comment text.
    Body = 0,
    /// The author's name.
    Author = 1,
}

/// The settings that decide which bucket a text lands in. Stored in the model file: a model is
/// only valid with the exact settings it was trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureConfig {
    /// log2 of the number of buckets.
    pub bits: u8,
    /// Shortest character n-gram.
    pub ngram_min: u8,
    /// Longest character n-gram.
    pub ngram_max: u8,
    /// Key mixed into every hash.
    pub hash_key: u64,
    /// Whether the author name gives word, word-pair and character n-gram features (which name
    /// it is) beside its shape, styling and spelling (how it is written). Off since model file
    /// version 2: learned from YouTube handles, a name's words and n-grams memorised handles
    /// (`<sar`, `sari>`) and scored a news reader called "Sari" at p = 0.665 with a thank-you
    /// note, and the hold-out's judol recall was lower with them (0.962 against 0.970 at the
    /// same precision; docs/policy.md, "The model").
    pub name_words: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bits: 18,
            ngram_min: 3,
            ngram_max: 5,
            hash_key: 0x5341_5249_4e47_4d31, // "SARINGM1"
            name_words: false,
        }
    }
}

impl FeatureConfig {
    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        1usize << self.bits
    }
}

/// What a feature is about; with its span, enough to rebuild a readable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A word.
    Word,
    /// Two words in a row.
    Pair,
    /// The letters-and-digits shape of a word.
    Shape,
    /// A word written in styled or look-alike letters.
    Styled,
    /// The shape of a styled word.
    StyledShape,
    /// A word spelled out letter by letter.
    Spelled,
    /// A character n-gram; whether it starts at the word's start and ends at its end.
    Char {
        /// Starts with the word-start mark.
        lead: bool,
        /// Ends with the word-end mark.
        trail: bool,
    },
    /// How many words were styled (a step of [`STEPS`]).
    StyledCount(u8),
    /// How many words were spelled out (a step of [`STEPS`]).
    SpelledCount(u8),
    /// How many words the field has (a step of [`LENGTHS`]).
    Tokens(u8),
}

/// Steps of the styled and spelled counts.
pub const STEPS: [&str; 5] = ["0", "1", "2", "3-5", "6+"];
/// Steps of the word count.
pub const LENGTHS: [&str; 5] = ["0", "1-3", "4-10", "11-30", "31+"];

/// One feature occurrence: 16 bytes, no strings on the screening path.
#[derive(Clone, Copy, Debug)]
pub struct Feature {
    /// The bucket.
    pub bucket: u32,
    /// The field it came from.
    pub group: Group,
    /// What it is about.
    pub kind: Kind,
    /// Byte range in the field's normalised text (empty for counts).
    pub start: u32,
    /// End of that range.
    pub end: u32,
}

impl Feature {
    /// The range in the normalised text, when the feature is about a piece of text.
    pub fn span(&self) -> Option<(usize, usize)> {
        (self.end > self.start).then_some((self.start as usize, self.end as usize))
    }

    /// A readable name (`word:gacor`, `char:<ga`, `styled:garuda88`), from the field's
    /// normalised text.
    pub fn name(&self, text: &str) -> String {
        let t = self.span().and_then(|(s, e)| text.get(s..e)).unwrap_or("");
        match self.kind {
            Kind::Word => format!("word:{t}"),
            Kind::Pair => format!("pair:{t}"),
            Kind::Shape => format!("shape:{}", shape(t).unwrap_or_default()),
            Kind::Styled => format!("styled:{t}"),
            Kind::StyledShape => {
                format!("styled-shape:{}", shape(t).unwrap_or_else(|| "a".into()))
            }
            Kind::Spelled => format!("spelled:{t}"),
            Kind::Char { lead, trail } => format!(
                "char:{}{t}{}",
                if lead { "<" } else { "" },
                if trail { ">" } else { "" }
            ),
            Kind::StyledCount(k) => format!("styled-count:{}", STEPS[usize::from(k)]),
            Kind::SpelledCount(k) => format!("spelled-count:{}", STEPS[usize::from(k)]),
            Kind::Tokens(k) => format!("tokens:{}", LENGTHS[usize::from(k)]),
        }
    }
}

/// Fixed-key FNV-1a 64 over `parts`, finished with a bit mixer so the low bits are well spread.
fn hash(key: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ key;
    for p in parts {
        h = fnv_part(h, p);
    }
    finish(h)
}

/// FNV-1a over one part, then the part separator (so ("ab","c") and ("a","bc") differ).
fn fnv_part(mut h: u64, p: &[u8]) -> u64 {
    h = fnv_bytes(h, p);
    h ^= 0xff;
    h.wrapping_mul(0x0000_0100_0000_01b3)
}

fn fnv_bytes(mut h: u64, p: &[u8]) -> u64 {
    for &b in p {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64 finaliser, so the low bits (the bucket) are well spread.
fn finish(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Collects features.
pub struct Extractor {
    config: FeatureConfig,
    mask: u64,
    /// The features found so far.
    pub out: Vec<Feature>,
}

/// A token of the normalised text: a run of letters or digits.
struct Token<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    if !text.is_ascii() {
        return unicode_tokens(text).collect();
    }
    // ASCII (most comments): letters and digits are bytes, no characters to decode.
    let mut out = Vec::with_capacity(text.len() / 4 + 1);
    out.extend(
        ascii_alnum_runs(text)
            .take(MAX_TOKENS)
            .map(|(start, end)| Token {
                text: &text[start..end],
                start,
                end,
            }),
    );
    out
}

fn unicode_tokens(text: &str) -> impl Iterator<Item = Token<'_>> {
    let mut iter = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(i, c)) = iter.peek() {
            if c.is_alphanumeric() {
                let start = i;
                let mut end = i;
                while let Some(&(j, d)) = iter.peek() {
                    if !d.is_alphanumeric() {
                        break;
                    }
                    end = j + d.len_utf8();
                    iter.next();
                }
                return Some(Token {
                    text: &text[start..end],
                    start,
                    end,
                });
            }
            iter.next();
        }
        None
    })
    .take(MAX_TOKENS)
}

/// The shape of a token: letters as `a`, digits as `9`, runs collapsed (`garuda88` → `a9`),
/// plus the length of a trailing digit run. Brand names are letters with digits; years and
/// prices are digits only, and get their own shape (`9:4` for `2019`).
fn shape(token: &str) -> Option<String> {
    let mut buf = Vec::new();
    shape_into(token, &mut buf).then(|| String::from_utf8_lossy(&buf).into_owned())
}

/// [`shape`] written into `out` (cleared first), without allocating on the screening path;
/// `false` (and `out` empty) for a token without digits, which has no shape.
fn shape_into(token: &str, out: &mut Vec<u8>) -> bool {
    out.clear();
    // Most tokens are words without digits: they have no shape, said without building one.
    if !token.chars().any(char::is_numeric) {
        return false;
    }
    let mut last = 0u8;
    let mut trailing_digits = 0usize;
    let mut count = 0usize;
    for c in token.chars() {
        count += 1;
        let k = if c.is_numeric() {
            trailing_digits += 1;
            b'9'
        } else {
            trailing_digits = 0;
            b'a'
        };
        if k != last {
            out.push(k);
            last = k;
        }
    }
    // Both counts are capped below 10, so each is one digit.
    let n = if out == b"9" {
        count.min(9)
    } else {
        trailing_digits.min(4)
    };
    out.push(b':');
    out.push(b'0' + n as u8);
    true
}

/// How a token looked before normalisation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    /// As typed: the same letters, case aside.
    Plain,
    /// Written in styled or look-alike letters (the original is non-ASCII, the token ASCII).
    Styled,
    /// Spelled out with spaces, dots or brackets between the letters.
    Spelled,
}

fn look(token: &Token<'_>, n: &Normalized, original: &str) -> Look {
    let Some((s, e)) = n.original_span(token.start, token.end) else {
        return Look::Plain;
    };
    let Some(o) = original.get(s..e) else {
        return Look::Plain;
    };
    if token.text.is_ascii() && !o.is_ascii() {
        Look::Styled
    } else if o.len() > token.text.len() && o.chars().any(|c| !c.is_alphanumeric()) {
        Look::Spelled
    } else {
        Look::Plain
    }
}

impl Extractor {
    /// An extractor.
    pub fn new(config: FeatureConfig) -> Self {
        Extractor {
            config,
            mask: (1u64 << config.bits) - 1,
            out: Vec::new(),
        }
    }

    /// The hash state after the group and `label` parts: shared by every feature of that
    /// label in a field, so each is hashed from there on ([`Extractor::emit_after`]).
    fn prefix(&self, group: Group, label: &[u8]) -> u64 {
        let gp: &[u8] = match group {
            Group::Body => b"b",
            Group::Author => b"a",
        };
        fnv_part(
            fnv_part(0xcbf2_9ce4_8422_2325 ^ self.config.hash_key, gp),
            label,
        )
    }

    /// As [`Extractor::emit`] with `parts` = the prefix's label, then `rest`: the same bucket.
    fn emit_after(
        &mut self,
        prefix: u64,
        group: Group,
        kind: Kind,
        rest: &[&[u8]],
        span: (usize, usize),
    ) {
        let h = finish(rest.iter().fold(prefix, |h, p| fnv_part(h, p)));
        self.push(h, group, kind, span);
    }

    fn emit(&mut self, group: Group, kind: Kind, parts: &[&[u8]], span: (usize, usize)) {
        let gp: &[u8] = match group {
            Group::Body => b"b",
            Group::Author => b"a",
        };
        let mut all: [&[u8]; 4] = [gp, b"", b"", b""];
        let k = parts.len().min(3);
        all[1..=k].copy_from_slice(&parts[..k]);
        let h = hash(self.config.hash_key, &all[..=k]);
        self.push(h, group, kind, span);
    }

    /// Records the feature whose key hashed to `h`, in its bucket.
    fn push(&mut self, h: u64, group: Group, kind: Kind, span: (usize, usize)) {
        self.out.push(Feature {
            bucket: (h & self.mask) as u32,
            group,
            kind,
            start: span.0 as u32,
            end: span.1 as u32,
        });
    }

    /// Adds the features of one field: `n` is its normalisation, `original` the text it came from.
    pub fn field(&mut self, group: Group, n: &Normalized, original: &str) {
        // About four features a byte of text: one allocation instead of several doublings.
        self.out.reserve(n.text.len() * 4 + 16);
        let toks = tokens(&n.text);
        let (mut styled, mut spelled) = (0usize, 0usize);
        let (lo, hi) = (
            usize::from(self.config.ngram_min.max(1)),
            usize::from(self.config.ngram_max.max(self.config.ngram_min.max(1))),
        );
        // Word bytes with boundary marks and the token's shape, reused for every token.
        let mut marked: Vec<u8> = Vec::with_capacity(64);
        let mut starts: Vec<usize> = Vec::with_capacity(64);
        let mut sh: Vec<u8> = Vec::with_capacity(16);
        // The hash of the key and the group and `char:` parts, shared by every n-gram; each
        // n-gram then extends it character by character (the same value as `hash` of the three
        // parts, at a fraction of the cost).
        let prefix = self.prefix(group, b"char:");
        // The same for the other labels a token gives.
        let word_p = self.prefix(group, b"word:");
        let pair_p = self.prefix(group, b"pair:");
        let shape_p = self.prefix(group, b"shape:");
        let styled_p = self.prefix(group, b"styled:");
        let styled_shape_p = self.prefix(group, b"styled-shape:");
        let spelled_p = self.prefix(group, b"spelled:");
        // A name read by its form only gives no words, pairs or n-grams (see `name_words`).
        let words = group == Group::Body || self.config.name_words;
        for (i, t) in toks.iter().enumerate() {
            let span = (t.start, t.end);
            if words {
                self.emit_after(word_p, group, Kind::Word, &[t.text.as_bytes()], span);
            }
            if words && let Some(next) = toks.get(i + 1) {
                self.emit_after(
                    pair_p,
                    group,
                    Kind::Pair,
                    &[t.text.as_bytes(), next.text.as_bytes()],
                    (t.start, next.end),
                );
            }
            let has_shape = shape_into(t.text, &mut sh);
            if has_shape {
                self.emit_after(shape_p, group, Kind::Shape, &[&sh], span);
            }
            match look(t, n, original) {
                Look::Plain => {}
                Look::Styled => {
                    styled += 1;
                    self.emit_after(styled_p, group, Kind::Styled, &[t.text.as_bytes()], span);
                    let sh: &[u8] = if has_shape { &sh } else { b"a" };
                    self.emit_after(styled_shape_p, group, Kind::StyledShape, &[sh], span);
                }
                Look::Spelled => {
                    spelled += 1;
                    self.emit_after(spelled_p, group, Kind::Spelled, &[t.text.as_bytes()], span);
                }
            }
            if !words {
                continue;
            }
            // Character n-grams of `<token>`, on character boundaries.
            marked.clear();
            marked.push(b'<');
            if t.text.is_ascii() {
                // One byte a character (most tokens): the n-grams are byte windows.
                marked.extend_from_slice(t.text.as_bytes());
                marked.push(b'>');
                let len = t.text.len();
                for a in 0..marked.len() {
                    let rest = &marked[a..];
                    let mut h = fnv_bytes(prefix, &rest[..(lo - 1).min(rest.len())]);
                    for (k, &byte) in rest.iter().enumerate().take(hi).skip(lo - 1) {
                        h = fnv_bytes(h, &[byte]);
                        let b = a + k + 1;
                        let bucket = (finish(fnv_part(h, b"")) & self.mask) as u32;
                        // Map back to the token: the marks have no text of their own.
                        let s = t.start + a.saturating_sub(1).min(len);
                        let e = t.start + (b - 1).min(len);
                        self.out.push(Feature {
                            bucket,
                            group,
                            kind: Kind::Char {
                                lead: a == 0,
                                trail: b == marked.len(),
                            },
                            start: s.min(e) as u32,
                            end: e as u32,
                        });
                    }
                }
                continue;
            }
            starts.clear();
            starts.push(0);
            for c in t.text.chars() {
                starts.push(marked.len());
                let mut buf = [0u8; 4];
                marked.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            starts.push(marked.len());
            marked.push(b'>');
            starts.push(marked.len());
            // starts[k] is the byte offset of character k of the marked word; the last entry is
            // its length.
            let chars = starts.len() - 1;
            for a in 0..chars {
                let mut h = fnv_bytes(prefix, &marked[starts[a]..starts[(a + lo - 1).min(chars)]]);
                for len in lo..=hi {
                    let b = a + len;
                    if b > chars {
                        break;
                    }
                    h = fnv_bytes(h, &marked[starts[b - 1]..starts[b]]);
                    let bucket = (finish(fnv_part(h, b"")) & self.mask) as u32;
                    // Map back to the token: the marks have no text of their own.
                    let s = t.start + starts[a].saturating_sub(1).min(t.text.len());
                    let e = t.start + starts[b].saturating_sub(1).min(t.text.len());
                    let kind = Kind::Char {
                        lead: a == 0,
                        trail: b == chars,
                    };
                    self.out.push(Feature {
                        bucket,
                        group,
                        kind,
                        start: s.min(e) as u32,
                        end: e as u32,
                    });
                }
            }
        }
        // How much of the field was disguised, in coarse steps.
        let step = |k: usize| -> u8 {
            match k {
                0 => 0,
                1 => 1,
                2 => 2,
                3..=5 => 3,
                _ => 4,
            }
        };
        if styled > 0 {
            let k = step(styled);
            let key = STEPS[usize::from(k)].as_bytes();
            self.emit(
                group,
                Kind::StyledCount(k),
                &[b"styled-count:", key],
                (0, 0),
            );
        }
        if spelled > 0 {
            let k = step(spelled);
            let key = STEPS[usize::from(k)].as_bytes();
            self.emit(
                group,
                Kind::SpelledCount(k),
                &[b"spelled-count:", key],
                (0, 0),
            );
        }
        let k: u8 = match toks.len() {
            0 => 0,
            1..=3 => 1,
            4..=10 => 2,
            11..=30 => 3,
            _ => 4,
        };
        let key = LENGTHS[usize::from(k)].as_bytes();
        self.emit(group, Kind::Tokens(k), &[b"tokens:", key], (0, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::normalize::normalize;

    #[test]
    fn a_name_gives_its_form_not_its_words_unless_asked() {
        let name = "Sari Garuda88 𝐊𝐔𝐃𝐀";
        let n = normalize(name);
        let kinds = |config: FeatureConfig| -> Vec<Kind> {
            let mut x = Extractor::new(config);
            x.field(Group::Author, &n, name);
            x.out.iter().map(|f| f.kind).collect()
        };
        let identity = |k: &Kind| matches!(k, Kind::Word | Kind::Pair | Kind::Char { .. });
        let form = kinds(FeatureConfig::default());
        assert!(!form.iter().any(identity), "{form:?}");
        assert!(
            form.contains(&Kind::Shape),
            "the brand's digits still show: {form:?}"
        );
        assert!(
            form.contains(&Kind::Styled),
            "styled letters still show: {form:?}"
        );
        let words = kinds(FeatureConfig {
            name_words: true,
            ..FeatureConfig::default()
        });
        assert!(words.iter().any(identity), "{words:?}");
        // The body is always read for its words.
        let mut x = Extractor::new(FeatureConfig::default());
        x.field(Group::Body, &n, name);
        assert!(x.out.iter().any(|f| identity(&f.kind)));
    }

    #[test]
    fn shapes_tell_brands_from_years() {
        assert_eq!(shape("garuda88").as_deref(), Some("a9:2"));
        assert_eq!(shape("4d").as_deref(), Some("9a:0"));
        assert_eq!(shape("2019").as_deref(), Some("9:4"));
        assert_eq!(shape("gacor"), None);
    }

    #[test]
    fn styled_tokens_are_marked_and_spans_are_in_the_normalised_text() {
        let original = "main di 𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖 gacor";
        let n = normalize(original);
        let mut x = Extractor::new(FeatureConfig::default());
        x.field(Group::Body, &n, original);
        let f = x
            .out
            .iter()
            .find(|f| f.kind == Kind::Styled)
            .expect("styled brand feature");
        assert_eq!(f.name(&n.text), "styled:garuda88");
        let (s, e) = f.span().expect("span");
        let (os, oe) = n.original_span(s, e).expect("maps back");
        assert_eq!(&original[os..oe], "𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖");
        let names: Vec<String> = x.out.iter().map(|f| f.name(&n.text)).collect();
        for want in [
            "word:main",
            "pair:main di",
            "shape:a9:2",
            "char:<ga",
            "char:88>",
            "styled-count:1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
    }

    #[test]
    fn char_grams_hash_as_their_three_parts() {
        let text = "main di garuda88";
        let n = normalize(text);
        let mut x = Extractor::new(FeatureConfig::default());
        x.field(Group::Body, &n, text);
        let mask = (1u64 << FeatureConfig::default().bits) - 1;
        let mut checked = 0;
        for f in x.out.iter().filter(|f| matches!(f.kind, Kind::Char { .. })) {
            let name = f.name(&n.text);
            let gram = name.trim_start_matches("char:");
            let want = hash(
                FeatureConfig::default().hash_key,
                &[b"b", b"char:", gram.as_bytes()],
            );
            assert_eq!(u64::from(f.bucket), want & mask, "{name}");
            checked += 1;
        }
        assert!(checked > 20);
    }

    /// The character n-grams as first written: each gram built as its own string of the marked
    /// word's characters and hashed as its three parts. The extractor's shortcuts (one hash
    /// extended a character at a time, byte windows for ASCII tokens) must give exactly these
    /// features, in this order, or the shipped model would read a comment differently.
    fn reference_char_grams(text: &str, config: FeatureConfig) -> Vec<(u32, Kind, u32, u32)> {
        let mask = (1u64 << config.bits) - 1;
        let (lo, hi) = (
            usize::from(config.ngram_min.max(1)),
            usize::from(config.ngram_max.max(config.ngram_min.max(1))),
        );
        let mut out = Vec::new();
        for t in unicode_tokens(text) {
            let marked: Vec<String> = std::iter::once("<".to_string())
                .chain(t.text.chars().map(String::from))
                .chain(std::iter::once(">".to_string()))
                .collect();
            // Byte offset of each character of the token, and its end.
            let mut offsets: Vec<usize> = t.text.char_indices().map(|(i, _)| i).collect();
            offsets.push(t.text.len());
            let text_pos = |k: usize| offsets[k.saturating_sub(1).min(offsets.len() - 1)];
            for a in 0..marked.len() {
                for len in lo..=hi {
                    let b = a + len;
                    if b > marked.len() {
                        break;
                    }
                    let gram = marked[a..b].concat();
                    let h = hash(config.hash_key, &[b"b", b"char:", gram.as_bytes()]);
                    let (s, e) = (t.start + text_pos(a), t.start + text_pos(b));
                    let kind = Kind::Char {
                        lead: a == 0,
                        trail: b == marked.len(),
                    };
                    out.push(((h & mask) as u32, kind, s.min(e) as u32, e as u32));
                }
            }
        }
        out
    }

    fn char_grams(text: &str, config: FeatureConfig) -> Vec<(u32, Kind, u32, u32)> {
        let n = normalize(text);
        let mut x = Extractor::new(config);
        x.field(Group::Body, &n, text);
        x.out
            .iter()
            .filter(|f| matches!(f.kind, Kind::Char { .. }))
            .map(|f| (f.bucket, f.kind, f.start, f.end))
            .collect()
    }

    #[test]
    fn char_grams_are_the_reference_ones_for_ascii_and_other_tokens() {
        for text in [
            "main di garuda88 sekarang",
            "a ab abc abcd",
            "Сегодня 𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖 bücher ü 한국어 x",
            "",
        ] {
            let n = normalize(text);
            assert_eq!(
                char_grams(text, FeatureConfig::default()),
                reference_char_grams(&n.text, FeatureConfig::default()),
                "{text}"
            );
        }
    }

    #[test]
    fn a_shared_label_prefix_gives_the_bucket_of_the_whole_key() {
        for group in [Group::Body, Group::Author] {
            for (label, rest) in [
                (&b"word:"[..], &[&b"gacor"[..]][..]),
                (b"pair:", &[b"main", b"di"]),
                (b"styled-shape:", &[b"a9:2"]),
                (b"spelled:", &[b""]),
            ] {
                let mut x = Extractor::new(FeatureConfig::default());
                let mut parts = vec![label];
                parts.extend_from_slice(rest);
                x.emit(group, Kind::Word, &parts, (0, 0));
                let p = x.prefix(group, label);
                x.emit_after(p, group, Kind::Word, rest, (0, 0));
                assert_eq!(x.out[0].bucket, x.out[1].bucket, "{label:?} {rest:?}");
            }
        }
    }

    #[test]
    fn ascii_tokens_are_the_unicode_ones() {
        let long = "ab1 ".repeat(MAX_TOKENS + 5);
        for text in ["", "  main di, garuda88!! x", "a", "-x-", long.as_str()] {
            let fast: Vec<(&str, usize, usize)> = tokens(text)
                .iter()
                .map(|t| (t.text, t.start, t.end))
                .collect();
            let slow: Vec<(&str, usize, usize)> = unicode_tokens(text)
                .map(|t| (t.text, t.start, t.end))
                .collect();
            assert_eq!(fast, slow, "{text}");
        }
        assert_eq!(tokens(&long).len(), MAX_TOKENS);
    }

    #[test]
    fn shapes_are_written_without_allocating_the_same_as_named() {
        let mut buf = Vec::new();
        for (token, want) in [
            ("garuda88", Some("a9:2")),
            ("2019", Some("9:4")),
            ("12345678901", Some("9:9")),
            ("a1b22c333d4444e55555", Some("a9a9a9a9a9:4")),
            ("١٢٣abc", Some("9a:0")),
            ("gacor", None),
        ] {
            assert_eq!(shape_into(token, &mut buf), want.is_some(), "{token}");
            assert_eq!(shape(token).as_deref(), want, "{token}");
            assert_eq!(buf, want.unwrap_or("").as_bytes(), "{token}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        #[test]
        fn char_grams_match_the_reference_for_any_text(
            text in "[a-c0-9 <>.\u{e9}\u{430}\u{1d400}-\u{1d403}\u{ac00}\u{661}]{0,40}",
            lo in 1u8..4,
            extra in 0u8..4,
        ) {
            let config = FeatureConfig {
                bits: 12,
                ngram_min: lo,
                ngram_max: lo + extra,
                ..FeatureConfig::default()
            };
            let n = normalize(&text);
            proptest::prop_assert_eq!(
                char_grams(&text, config),
                reference_char_grams(&n.text, config)
            );
        }
    }

    #[test]
    fn the_hash_key_and_part_boundaries_change_the_bucket() {
        let parts: &[&[u8]] = &[b"b", b"word:", b"gacor"];
        assert_ne!(hash(1, parts), hash(2, parts), "the key is mixed in");
        assert_ne!(
            hash(1, &[b"ab", b"c"]),
            hash(1, &[b"a", b"bc"]),
            "parts are separated"
        );
    }
}
