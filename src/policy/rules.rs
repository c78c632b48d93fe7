//! Compiled rules and the matchers behind them.

use std::collections::HashSet;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::{Description, Outcome};

/// Compiled size limit of one regular expression, so a policy cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lazy-DFA cache limit per regular expression.
const REGEX_DFA_LIMIT: usize = 2 << 20;

/// The fields of a submission a rule can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The comment text.
    Body,
    /// The name the author typed.
    AuthorName,
    /// The author's email address.
    AuthorEmail,
    /// The author's website.
    AuthorUrl,
    /// The client's IP address.
    ClientIp,
    /// The browser's user agent.
    UserAgent,
}

impl Field {
    /// All fields, in the order rules are reported.
    pub const ALL: [Field; 6] = [
        Field::Body,
        Field::AuthorName,
        Field::AuthorEmail,
        Field::AuthorUrl,
        Field::ClientIp,
        Field::UserAgent,
    ];

    /// The name used in policy files and verdicts.
    pub fn name(self) -> &'static str {
        match self {
            Field::Body => "body",
            Field::AuthorName => "author_name",
            Field::AuthorEmail => "author_email",
            Field::AuthorUrl => "author_url",
            Field::ClientIp => "client_ip",
            Field::UserAgent => "user_agent",
        }
    }

    /// Parses a field name from a policy file.
    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A small set of fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(u8);

impl FieldSet {
    /// Adds a field.
    pub fn insert(&mut self, f: Field) {
        self.0 |= f.bit();
    }
    /// Whether the set has a field.
    pub fn contains(self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }
    fn of(fields: &[Field]) -> FieldSet {
        let mut s = FieldSet::default();
        for f in fields {
            s.insert(*f);
        }
        s
    }
}

/// A domain in ASCII (punycode) form, lower case, without a trailing dot.
pub type Domain = String;

/// Domains matched on label boundaries: `example.com` matches `www.example.com`, not
/// `badexample.com`.
#[derive(Clone, Debug, Default)]
pub struct DomainSet(HashSet<Domain>);

impl DomainSet {
    /// Adds a domain.
    pub fn insert(&mut self, d: Domain) {
        self.0.insert(d);
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The entry that `host` is equal to or a subdomain of, if any.
    pub fn matches(&self, host: &str) -> bool {
        let mut h = host;
        // At most a handful of labels: hosts are bounded by linkify and by our own cut.
        for _ in 0..16 {
            if self.0.contains(h) {
                return true;
            }
            match h.find('.') {
                Some(p) => h = &h[p + 1..],
                None => return false,
            }
        }
        false
    }
}

/// Normalises a domain from a list or a link: lower case, no `*.`/`.` prefix, no trailing dot,
/// IDN converted to punycode. `None` when it is not a plausible host name.
pub fn compile_domain(s: &str) -> Option<Domain> {
    let s = s
        .trim()
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.');
    if s.is_empty()
        || s.len() > 253
        || s.contains(|c: char| c.is_whitespace() || c == '/' || c == '@')
    {
        return None;
    }
    let ascii = idna::domain_to_ascii(s).ok()?;
    (!ascii.is_empty()).then_some(ascii)
}

/// Email addresses and email domains.
#[derive(Clone, Debug, Default)]
pub struct EmailSet {
    /// Whole addresses, lower case.
    pub exact: HashSet<String>,
    /// Domains (and their subdomains).
    pub domains: DomainSet,
}

/// What an author's history must show for a history rule to fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryCheck {
    /// No approved comment yet.
    FirstTime,
    /// At least `min` approved comments, none marked spam, no spam from the address group, and
    /// the reader's known-reader token for the email (when the caller knows it).
    Trusted,
    /// The email's record would be trusted (`min` approved, no spam) but the reader showed no
    /// valid known-reader token for it: someone may be borrowing a regular reader's email.
    TrustedUnverified,
    /// At least `min` comments by this author marked spam.
    AuthorSpam,
    /// At least `min` comments from this address marked spam.
    IpSpam,
    /// At least `min` comments with this author URL marked spam.
    UrlSpam,
    /// At least `min` earlier comments by this author with the same body.
    SameBodySameAuthor,
    /// The same body in at least `min` other threads recently.
    SameBodyThreads,
}

/// A rule's matcher.
#[derive(Clone, Debug)]
pub enum Kind {
    /// Words and phrases (normalised) on letter boundaries.
    Words(Vec<String>),
    /// A regular expression over the normalised text.
    Regex(String),
    /// At least `min` links in the body.
    LinkCount { min: usize },
    /// A link (body or author URL) to one of these domains.
    LinkDomain(DomainSet),
    /// A link to a domain that is neither the site's own nor in these domains.
    LinkOther(DomainSet),
    /// A link whose host is an internationalised (punycode) name, e.g. a Cyrillic look-alike.
    LinkIdn,
    /// The author's email address or its domain.
    Email(EmailSet),
    /// The client's address in one of these networks.
    Ip(Vec<ipnet::IpNet>),
    /// The hidden form field was filled in.
    Honeypot,
    /// The captcha was solved faster than a person can read it.
    SolveTime { below_ms: u64 },
    /// The reader came past the captcha this way (sum, skip, trusted or nojs); a submission
    /// with no captcha facts (a backtest, `policy test`) never matches.
    CaptchaPath(crate::pow::CaptchaPath),
    /// Something in the author's history.
    History { check: HistoryCheck, min: u32 },
    /// Mostly capital letters.
    Shouting { min_letters: usize, ratio: f64 },
    /// The same character many times in a row.
    CharRun { min: usize },
    /// Body length (in characters) out of bounds.
    Length {
        min: Option<usize>,
        max: Option<usize>,
    },
    /// Latin mixed with look-alike scripts inside one word.
    MixedScript,
    /// At least `min` styled letters (mathematical, fullwidth, circled, bracketed ...).
    Styled { min: usize },
    /// A phone number.
    Phone,
    /// A word of at least `min` letters or digits that was disguised: spelled out one letter at
    /// a time with digits in it, written in a mix of styles (bold with italic, Latin with a
    /// Cyrillic look-alike, plain letters with styled digits), or written in styled letters
    /// inside otherwise plain text. The shape of a promoted brand name.
    /// With `islands` false (kind `mixed_word`), only the mixed and spelled-out words count.
    DisguisedWord { min: usize, islands: bool },
    /// The learned model (`policy.models[model]`): fires when the spam probability is at or
    /// above `min_probability`, or (for a rule that lowers the score) at or below
    /// `max_probability`. Its score runs from the rule's `score` at the threshold to
    /// `max_score` at certainty, never beyond.
    Model {
        model: usize,
        threshold: super::model::Threshold,
        max_score: f64,
    },
    /// A combination of other rules.
    Meta {
        all_of: Vec<usize>,
        any_of: Vec<usize>,
        at_least: usize,
        of: Vec<usize>,
        none_of: Vec<usize>,
    },
}

impl Kind {
    /// The fields a kind reads when the rule does not say.
    pub fn default_fields(&self) -> FieldSet {
        match self {
            Kind::Words(_)
            | Kind::Regex(_)
            | Kind::Phone
            | Kind::MixedScript
            | Kind::Styled { .. }
            | Kind::DisguisedWord { .. } => FieldSet::of(&[Field::Body]),
            Kind::LinkDomain(_) | Kind::LinkOther(_) | Kind::LinkIdn => {
                FieldSet::of(&[Field::Body, Field::AuthorUrl])
            }
            Kind::Email(_) => FieldSet::of(&[Field::AuthorEmail]),
            Kind::Ip(_) => FieldSet::of(&[Field::ClientIp]),
            _ => FieldSet::of(&[Field::Body]),
        }
    }
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Unique id, e.g. `JUDI_BRAND`.
    pub id: String,
    /// What it means, in Indonesian and English.
    pub description: Description,
    /// The kind name as written in the file (for summaries).
    pub kind_name: String,
    /// The matcher.
    pub kind: Kind,
    /// The fields it reads.
    pub fields: FieldSet,
    /// Score added when it matches (0 for `__` sub-rules).
    pub score: f64,
    /// Extra score when it matches only after normalisation (policy default when `None`).
    pub obfuscation: Option<f64>,
    /// Forced outcome.
    pub outcome: Option<Outcome>,
    /// A `__` sub-rule: used by meta rules, scores nothing alone.
    pub sub: bool,
}

/// Rewrites `\b` to an ASCII word boundary. Unicode word boundaries make the regex engine give
/// up its fast DFA on any non-ASCII input and fall back to a much slower one (hundreds of
/// milliseconds on a 32 kB comment); the text rules see is folded to ASCII letters anyway.
fn ascii_boundaries(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('b') if !in_class => out.push_str("(?-u:\\b)"),
                Some('B') if !in_class => out.push_str("(?-u:\\B)"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
            continue;
        }
        match c {
            '[' => in_class = true,
            ']' => in_class = false,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Builds one size-limited, case-insensitive regular expression.
pub fn build_regex(p: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&ascii_boundaries(p))
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .nest_limit(64)
        .build()
}

/// Builds a size-limited set of regular expressions.
pub fn build_regex_set(ps: &[String]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(ps.iter().map(|p| ascii_boundaries(p)))
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT * 8)
        .dfa_size_limit(REGEX_DFA_LIMIT * 4)
        .nest_limit(64)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_boundaries_become_ascii_outside_classes() {
        assert_eq!(ascii_boundaries(r"\bslot\b"), r"(?-u:\b)slot(?-u:\b)");
        assert_eq!(ascii_boundaries(r"[\b]\\b"), r"[\b]\\b");
        assert_eq!(ascii_boundaries(r"\d\B"), r"\d(?-u:\B)");
    }
}
