//! Spam and abuse screening: policy files, text normalisation, scored rules and verdicts.
//!
//! A [`Policy`] is compiled once from `policies/*.toml` (plus the word and domain lists beside
//! them) and is immutable afterwards; [`Policy::screen`] is pure (no I/O, no clock), so the same
//! submission and policy always give the same [`Verdict`]. [`reload::PolicyHandle`] swaps
//! policies at run time; [`cli`] holds the bodies of `saring policy check|test`. The rule kinds
//! and the normalisation order are documented in `docs/policy.md`.

pub mod cli;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod follow;
pub mod learned;
mod load;
pub mod model;
pub mod normalize;
pub mod reload;
mod rules;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use crate::domain::verdict::{Description, Evidence, History, Outcome, RuleHit, Verdict};
pub use error::PolicyError;
pub use reload::{PolicyHandle, WatchGuard};
pub use rules::Field;

use normalize::{MAX_SCREENED_BYTES, Normalized, normalize, truncate};
use rules::{DomainSet, HistoryCheck, Kind, Rule, build_regex, build_regex_set, compile_domain};

/// Scores at which a comment is held for a moderator or treated as spam.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Thresholds {
    /// A total at or above this is held.
    pub hold: f64,
    /// A total at or above this is spam.
    pub spam: f64,
}

/// Counts of a policy's rules, for `policy check` and the moderator page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PolicySummary {
    /// The policy's name.
    pub name: String,
    /// Its version hash.
    pub version: String,
    /// Thresholds in force.
    pub thresholds: Thresholds,
    /// Number of enabled rules (sub-rules included).
    pub rules: usize,
    /// Number of `__` sub-rules.
    pub sub_rules: usize,
    /// Rules per kind.
    pub by_kind: BTreeMap<String, usize>,
    /// Entries per named list.
    pub lists: BTreeMap<String, usize>,
    /// Word and phrase patterns compiled into the literal matcher.
    pub word_patterns: usize,
}

/// One submission to screen.
#[derive(Clone, Debug, Default)]
pub struct ScreenInput<'a> {
    /// The comment text as submitted.
    pub body: &'a str,
    /// The author's name.
    pub author_name: &'a str,
    /// The author's email address.
    pub author_email: &'a str,
    /// The author's website, if given.
    pub author_url: Option<&'a str>,
    /// The client's address.
    pub client_ip: Option<IpAddr>,
    /// The browser's user agent.
    pub user_agent: Option<&'a str>,
    /// The hidden honeypot field, if the form had one.
    pub honeypot: Option<&'a str>,
    /// How long the captcha took to solve.
    pub solve_time_ms: Option<u64>,
    /// The author's history; `None` (unknown, as in `policy test`) keeps history rules silent.
    pub history: Option<History>,
    /// How the captcha was passed and the proof of work behind it; `None` when unknown.
    pub pow: Option<crate::pow::PowFacts>,
}

/// A compiled, immutable policy. Cheap to share (`Arc`), safe to use from many threads.
#[derive(Debug)]
pub struct Policy {
    name: String,
    version: String,
    thresholds: Thresholds,
    obfuscation: f64,
    own_domains: DomainSet,
    rules: Vec<Rule>,
    /// Meta rules in an order where each comes after the rules it reads.
    meta_order: Vec<usize>,
    words: Option<WordEngine>,
    regexes: Option<RegexEngine>,
    /// Fields that words/regex rules read, so only those get normalised.
    text_fields: Vec<Field>,
    phone: Regex,
    lists: BTreeMap<String, usize>,
    files: Vec<PathBuf>,
    /// Learned models used by `model` rules; `None` when switched off for a comparison.
    models: Vec<Option<Arc<model::Model>>>,
}

/// The rule id under which what the site's moderators taught shows in a verdict.
pub const SITE_LEARNED: &str = "SITE_LEARNED";

/// What a model rule found: its bounded score and the features behind it.
#[derive(Clone, Debug)]
struct ModelHit {
    score: f64,
    evidence: Vec<Evidence>,
}

#[derive(Debug)]
struct WordEngine {
    ac: AhoCorasick,
    /// For each pattern, the rules that listed it.
    rules: Vec<Vec<usize>>,
}

#[derive(Debug)]
struct RegexEngine {
    set: RegexSet,
    each: Vec<Regex>,
    rule_of: Vec<usize>,
}

/// A match before it is turned into a [`RuleHit`].
#[derive(Clone, Debug)]
struct Hit {
    field: Field,
    span: Option<(usize, usize)>,
    note: Option<String>,
    obfuscated: bool,
}

impl Policy {
    /// Loads and compiles a policy: `dir` is a folder with `policy.toml` or `default.toml`, or a
    /// policy file itself. Every file is validated; errors carry file, line and column.
    pub fn load(dir: &Path) -> Result<Policy, PolicyError> {
        let l = load::load(dir)?;
        let main = load::main_file(dir);
        let err = |msg: String| PolicyError::at_line(&main, 1, msg);

        // Word patterns: one automaton for every word rule.
        let mut patterns: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut pattern_rules: Vec<Vec<usize>> = Vec::new();
        let mut regex_src = Vec::new();
        let mut regex_rule = Vec::new();
        for (ri, r) in l.rules.iter().enumerate() {
            match &r.kind {
                Kind::Words(ws) => {
                    for w in ws {
                        let mut variants = vec![w.clone()];
                        // A phrase also matches written as one word ("slotgacor").
                        if w.contains(' ') {
                            variants.push(w.replace(' ', ""));
                        }
                        for v in variants {
                            let pi = *index.entry(v.clone()).or_insert_with(|| {
                                patterns.push(v);
                                pattern_rules.push(Vec::new());
                                patterns.len() - 1
                            });
                            if !pattern_rules[pi].contains(&ri) {
                                pattern_rules[pi].push(ri);
                            }
                        }
                    }
                }
                Kind::Regex(p) => {
                    regex_src.push(p.clone());
                    regex_rule.push(ri);
                }
                _ => {}
            }
        }
        let words = if patterns.is_empty() {
            None
        } else {
            // A DFA rather than the NFA the builder picks for more than 100 patterns: the same
            // matches, read one table look-up a byte (the lists are a few hundred entries, so
            // the table stays well under a megabyte).
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns)
                .map_err(|e| err(format!("word lists: {e}")))?;
            Some(WordEngine {
                ac,
                rules: pattern_rules,
            })
        };
        let regexes = if regex_src.is_empty() {
            None
        } else {
            let set = build_regex_set(&regex_src).map_err(|e| err(format!("regex set: {e}")))?;
            let each = regex_src
                .iter()
                .map(|p| build_regex(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("regex: {e}")))?;
            Some(RegexEngine {
                set,
                each,
                rule_of: regex_rule,
            })
        };
        let mut text_fields = vec![Field::Body, Field::AuthorName];
        for r in &l.rules {
            if matches!(r.kind, Kind::Words(_) | Kind::Regex(_)) {
                for f in [Field::AuthorEmail, Field::AuthorUrl, Field::UserAgent] {
                    if r.fields.contains(f) && !text_fields.contains(&f) {
                        text_fields.push(f);
                    }
                }
            }
        }
        let meta_order = meta_order(&l.rules);
        // Indonesian mobile numbers (08xx / +62 8xx) and long international numbers, with
        // separators allowed between digits.
        let phone = build_regex(
            r"(?:(?:\+|\b)62|\b0)[ .-]?8[1-9](?:[ .-]?\d){6,11}\b|\+\d{1,3}(?:[ .-]?\d){7,12}\b",
        )
        .map_err(|e| err(format!("phone pattern: {e}")))?;
        Ok(Policy {
            name: l.name,
            version: l.version,
            thresholds: l.thresholds,
            obfuscation: l.obfuscation,
            own_domains: l.own_domains,
            rules: l.rules,
            meta_order,
            words,
            regexes,
            text_fields,
            phone,
            lists: l.lists,
            files: l.files,
            models: l.models.into_iter().map(Some).collect(),
        })
    }

    /// The hosts the links of a body point to (bare links too, as the link rules see them),
    /// the site's own domains left out: what the spam-wave fold groups by
    /// ([`crate::projections::waves`]).
    pub fn link_hosts(&self, body: &str) -> Vec<String> {
        self.link_hosts_in(body, &normalize(body))
    }

    /// [`Policy::link_hosts`] given the body already normalised (`normalize(body)`).
    pub fn link_hosts_in(&self, body: &str, normalized: &Normalized) -> Vec<String> {
        extract_links(body, normalized, &self.own_domains)
            .into_iter()
            .map(|l| l.host)
            .collect()
    }

    /// The version: a hex hash of the contents (and relative names) of every file loaded.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The policy's name from `[policy] name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Every file the policy was read from (for the file watcher).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Rule ids in file order, sub-rules included.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// The description of one rule, by id.
    pub fn description_of(&self, id: &str) -> Option<&Description> {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .map(|r| &r.description)
    }

    /// Every enabled rule's description by rule id: what its `PolicyActivated` event carries,
    /// so verdicts can be stored without repeating them.
    pub fn descriptions(&self) -> BTreeMap<String, Description> {
        self.rules
            .iter()
            .map(|r| (r.id.clone(), r.description.clone()))
            .collect()
    }

    /// Counts of rules by kind.
    pub fn summary(&self) -> PolicySummary {
        let mut by_kind = BTreeMap::new();
        for r in &self.rules {
            *by_kind.entry(r.kind_name.clone()).or_insert(0) += 1;
        }
        PolicySummary {
            name: self.name.clone(),
            version: self.version.clone(),
            thresholds: self.thresholds,
            rules: self.rules.len(),
            sub_rules: self.rules.iter().filter(|r| r.sub).count(),
            by_kind,
            lists: self.lists.clone(),
            word_patterns: self.words.as_ref().map_or(0, |w| w.ac.patterns_len()),
        }
    }

    /// Screens one submission. Pure: no I/O, no clock, no randomness.
    pub fn screen(&self, input: &ScreenInput<'_>) -> Verdict {
        self.screen_with(input, None)
    }

    /// Screens one submission with what the site's moderators taught (`learned`) on top of the
    /// policy. The learned part shows as its own rule, [`SITE_LEARNED`], so a moderator sees
    /// which part of the score came from the shipped policy and which from the site.
    pub fn screen_with(
        &self,
        input: &ScreenInput<'_>,
        learned: Option<&learned::LearnedModel>,
    ) -> Verdict {
        self.screen_texts(input, learned, self.texts(input, None))
    }

    /// [`Policy::screen_with`] given the body already normalised (`normalize(input.body)`): a
    /// submission's body is normalised once, for the screening, its fingerprint, its link
    /// hosts and its wave shape alike, rather than once for each (it was the largest part of
    /// the screening's CPU).
    pub fn screen_normalized(
        &self,
        input: &ScreenInput<'_>,
        learned: Option<&learned::LearnedModel>,
        body: &Normalized,
    ) -> Verdict {
        self.screen_texts(input, learned, self.texts(input, Some(body)))
    }

    fn screen_texts(
        &self,
        input: &ScreenInput<'_>,
        learned: Option<&learned::LearnedModel>,
        texts: Vec<(Field, Normalized)>,
    ) -> Verdict {
        let mut hits: Vec<Option<Hit>> = vec![None; self.rules.len()];
        self.match_words(&texts, &mut hits);
        self.match_regexes(&texts, &mut hits);
        let body = texts
            .iter()
            .find(|(f, _)| *f == Field::Body)
            .map(|(_, n)| n);
        self.match_others(input, &texts, body, &mut hits);
        let mut model_hits: Vec<Option<ModelHit>> = vec![None; self.rules.len()];
        self.match_models(input, &texts, &mut hits, &mut model_hits);
        for &i in &self.meta_order {
            if let Kind::Meta {
                all_of,
                any_of,
                at_least,
                of,
                none_of,
            } = &self.rules[i].kind
            {
                let none = none_of.iter().all(|&d| hits[d].is_none());
                let all = none && all_of.iter().all(|&d| hits[d].is_some());
                let any = any_of.is_empty() || any_of.iter().any(|&d| hits[d].is_some());
                let least =
                    of.is_empty() || of.iter().filter(|&&d| hits[d].is_some()).count() >= *at_least;
                if all && any && least {
                    let parts: Vec<&str> = all_of
                        .iter()
                        .chain(any_of)
                        .chain(of)
                        .filter(|&&d| hits[d].is_some())
                        .map(|&d| self.rules[d].id.as_str())
                        .collect();
                    // A meta rule shows the span of the first part that has one.
                    let first = all_of
                        .iter()
                        .chain(any_of)
                        .chain(of)
                        .filter_map(|&d| hits[d].as_ref())
                        .find(|h| h.span.is_some());
                    hits[i] = Some(Hit {
                        field: first.map_or(Field::Body, |h| h.field),
                        span: first.and_then(|h| h.span),
                        note: Some(parts.join(" + ")),
                        obfuscated: false,
                    });
                }
            }
        }
        let site = learned
            .map(|l| l.score(input.body, input.author_name))
            .filter(|(s, _)| s.abs() >= 0.01);
        self.decide(input, hits, model_hits, site)
    }

    /// Replaces the model of every `model` rule (`None` switches them off), for evaluations
    /// that compare the policy with and without its model, or with a model trained on other
    /// data. The version gets a suffix so such a policy is never mistaken for the files' one.
    pub fn set_model(&mut self, model: Option<Arc<model::Model>>) {
        let tag = match &model {
            None => "-nomodel".to_string(),
            Some(m) => {
                let digest = sha2::Sha256::digest(m.to_bytes());
                format!("-model{}", hex::encode(&digest[..4]))
            }
        };
        for m in &mut self.models {
            *m = model.clone();
        }
        if let Some(p) = self.version.find('-') {
            self.version.truncate(p);
        }
        self.version.push_str(&tag);
    }

    /// The model the policy's `model` rules use (the first, when files name several).
    pub fn model(&self) -> Option<Arc<model::Model>> {
        self.models.iter().flatten().next().cloned()
    }

    /// The outcome a rule forces, if any (`hold` for abuse rules, `spam` for a gambling domain).
    pub fn rule_outcome(&self, id: &str) -> Option<Outcome> {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.outcome)
    }

    /// Whether any rule uses a model.
    pub fn has_model(&self) -> bool {
        !self.models.is_empty()
    }

    /// The spam probability the policy's first model gives a submission (for tuning tools).
    pub fn model_probability(&self, input: &ScreenInput<'_>) -> Option<f64> {
        let m = self.models.first()?.as_ref()?;
        let texts = self.texts(input, None);
        let (body, author) = model_fields(input, &texts);
        Some(m.probability(body, author))
    }

    fn match_models(
        &self,
        input: &ScreenInput<'_>,
        texts: &[(Field, Normalized)],
        hits: &mut [Option<Hit>],
        out: &mut [Option<ModelHit>],
    ) {
        if self.models.is_empty() {
            return;
        }
        let (body, author) = model_fields(input, texts);
        // Each model is scored once, however many rules read it.
        let mut scored: Vec<Option<model::Scoring<'_, '_>>> =
            (0..self.models.len()).map(|_| None).collect();
        for (ri, rule) in self.rules.iter().enumerate() {
            let Kind::Model {
                model: mi,
                threshold,
                max_score,
            } = &rule.kind
            else {
                continue;
            };
            let Some(m) = self.models[*mi].as_ref() else {
                continue;
            };
            let scoring = scored[*mi].get_or_insert_with(|| m.score(body, author));
            let p = scoring.probability;
            let Some(score) = model::bounded_score(p, *threshold, rule.score, *max_score) else {
                continue;
            };
            let towards_spam = matches!(threshold, model::Threshold::AtLeast(_));
            let evidence: Vec<Evidence> = scoring
                .explain(5, towards_spam)
                .into_iter()
                .map(|c| {
                    let (field, text) = match c.group {
                        model::features::Group::Body => (Field::Body, body),
                        model::features::Group::Author => (Field::AuthorName, author),
                    };
                    let (n, original) = (text.map(|t| t.0), text.map_or("", |t| t.1));
                    let span = c
                        .span
                        .and_then(|(s, e)| n.and_then(|n| n.original_span(s, e)));
                    Evidence {
                        feature: c.name,
                        field: field.name().to_string(),
                        span,
                        matched: span
                            .and_then(|(s, e)| original.get(s..e))
                            .map(|t| truncate(t, 120).to_string()),
                        weight: c.weight,
                    }
                })
                .collect();
            let first = evidence.iter().find(|e| e.span.is_some());
            hits[ri] = Some(Hit {
                field: first
                    .and_then(|e| Field::parse(&e.field))
                    .unwrap_or(Field::Body),
                span: first.and_then(|e| e.span),
                note: Some(format!("p = {p:.3}")),
                obfuscated: false,
            });
            out[ri] = Some(ModelHit {
                score: (score * 1000.0).round() / 1000.0,
                evidence,
            });
        }
    }

    fn decide(
        &self,
        input: &ScreenInput<'_>,
        hits: Vec<Option<Hit>>,
        mut model_hits: Vec<Option<ModelHit>>,
        site: Option<(f64, usize)>,
    ) -> Verdict {
        let mut score = 0.0;
        let mut forced: Option<Outcome> = None;
        let mut out = Vec::new();
        for (ri, (rule, hit)) in self.rules.iter().zip(hits).enumerate() {
            let Some(hit) = hit else { continue };
            if rule.sub {
                continue;
            }
            let learned = model_hits[ri].take();
            let extra = if hit.obfuscated {
                rule.obfuscation.unwrap_or(self.obfuscation)
            } else {
                0.0
            };
            let s = learned.as_ref().map_or(rule.score, |m| m.score) + extra;
            score += s;
            if let Some(o) = rule.outcome {
                forced = Some(forced.map_or(o, |f| f.max(o)));
            }
            let original = field_text(input, hit.field);
            let matched = match (hit.span, hit.note) {
                (_, Some(note)) => Some(note),
                (Some((a, b)), None) => original.get(a..b).map(|t| truncate(t, 120).to_string()),
                (None, None) => None,
            };
            out.push(RuleHit {
                id: rule.id.clone(),
                score: s,
                field: hit.field.name().to_string(),
                span: hit.span,
                matched,
                obfuscated: hit.obfuscated,
                description: rule.description.clone(),
                evidence: learned.map(|m| m.evidence).unwrap_or_default(),
            });
        }
        if let Some((s, seen)) = site {
            let s = (s * 1000.0).round() / 1000.0;
            score += s;
            out.push(RuleHit {
                id: SITE_LEARNED.to_string(),
                score: s,
                field: Field::Body.name().to_string(),
                span: None,
                matched: Some(format!("{seen} features the moderators have seen")),
                obfuscated: false,
                description: Description {
                    id: "Dipelajari dari keputusan moderator situs ini".into(),
                    en: "Learned from this site's moderator decisions".into(),
                },
                evidence: Vec::new(),
            });
        }
        // Avoid -0.0 and float noise in stored verdicts.
        let score = (score * 1000.0).round() / 1000.0 + 0.0;
        let by_score = if score >= self.thresholds.spam {
            Outcome::Spam
        } else if score >= self.thresholds.hold {
            Outcome::Hold
        } else {
            Outcome::Accept
        };
        let outcome = match forced {
            Some(f) => f.max(by_score),
            None => by_score,
        };
        Verdict {
            outcome,
            score,
            rules: out,
            policy_version: self.version.clone(),
        }
    }

    /// The normalised text of every field a rule reads; the body's is `body` when given.
    fn texts(
        &self,
        input: &ScreenInput<'_>,
        body: Option<&Normalized>,
    ) -> Vec<(Field, Normalized)> {
        self.text_fields
            .iter()
            .filter_map(|&f| {
                let t = field_text(input, f);
                (!t.is_empty()).then(|| {
                    let n = match (f, body) {
                        (Field::Body, Some(n)) => n.clone(),
                        _ => normalize(t),
                    };
                    (f, n)
                })
            })
            .collect()
    }

    fn match_words(&self, texts: &[(Field, Normalized)], hits: &mut [Option<Hit>]) {
        let Some(engine) = &self.words else { return };
        for (field, n) in texts {
            let mut found: Vec<usize> = Vec::new();
            let views: &[&str] = if n.words != n.text {
                &[&n.text, &n.words]
            } else {
                &[&n.text]
            };
            for view in views {
                for m in engine.ac.find_overlapping_iter(*view) {
                    if !on_letter_boundaries(view, m.start(), m.end()) {
                        continue;
                    }
                    for &ri in &engine.rules[m.pattern().as_usize()] {
                        if hits[ri].is_none() && self.rules[ri].fields.contains(*field) {
                            hits[ri] = Some(Hit {
                                field: *field,
                                span: n.original_span(m.start(), m.end()),
                                note: None,
                                obfuscated: false,
                            });
                            found.push(ri);
                        }
                    }
                }
            }
            if found.is_empty() || !(n.changed() || n.words != n.text) {
                continue;
            }
            // Which of these rules also match the undisguised text?
            let mut plain_rules = Vec::new();
            for m in engine.ac.find_overlapping_iter(&n.plain) {
                if on_letter_boundaries(&n.plain, m.start(), m.end()) {
                    plain_rules.extend(engine.rules[m.pattern().as_usize()].iter().copied());
                }
            }
            for ri in found {
                if let Some(h) = hits[ri].as_mut() {
                    h.obfuscated = !plain_rules.contains(&ri);
                }
            }
        }
    }

    fn match_regexes(&self, texts: &[(Field, Normalized)], hits: &mut [Option<Hit>]) {
        let Some(engine) = &self.regexes else { return };
        for (field, n) in texts {
            let matched = engine.set.matches(&n.text);
            if !matched.matched_any() {
                continue;
            }
            // The plain view is searched only when a rule it decides on has matched.
            let changed = n.changed();
            let mut plain = None;
            for i in matched.iter() {
                let ri = engine.rule_of[i];
                if hits[ri].is_some() || !self.rules[ri].fields.contains(*field) {
                    continue;
                }
                let span = engine.each[i]
                    .find(&n.text)
                    .and_then(|m| n.original_span(m.start(), m.end()));
                let obfuscated = changed
                    && !plain
                        .get_or_insert_with(|| engine.set.matches(&n.plain))
                        .matched(i);
                hits[ri] = Some(Hit {
                    field: *field,
                    span,
                    note: None,
                    obfuscated,
                });
            }
        }
    }

    fn match_others(
        &self,
        input: &ScreenInput<'_>,
        texts: &[(Field, Normalized)],
        body: Option<&Normalized>,
        hits: &mut [Option<Hit>],
    ) {
        let links = body
            .map(|b| extract_links(input.body, b, &self.own_domains))
            .unwrap_or_default();
        let url_host = input
            .author_url
            .and_then(url_host)
            .filter(|h| !self.own_domains.matches(h));
        // What the raw-text rules read, one pass per field on first use.
        let mut raw: [Option<RawFacts>; 2] = [None, None];
        let mut disguises: Vec<(Field, usize, normalize::Disguises)> = Vec::new();
        for (ri, rule) in self.rules.iter().enumerate() {
            if hits[ri].is_some() {
                continue;
            }
            let body_hit = |span: Option<(usize, usize)>, note: Option<String>| {
                Some(Hit {
                    field: Field::Body,
                    span,
                    note,
                    obfuscated: false,
                })
            };
            hits[ri] = match &rule.kind {
                Kind::Words(_) | Kind::Regex(_) | Kind::Meta { .. } | Kind::Model { .. } => None,
                Kind::LinkCount { min } => (links.len() >= *min && *min > 0)
                    .then(|| {
                        body_hit(
                            links.first().and_then(|l| l.span),
                            Some(format!("{} links", links.len())),
                        )
                    })
                    .flatten(),
                Kind::LinkDomain(set) => {
                    self.link_hit(rule, &links, url_host.as_deref(), |h| set.matches(h))
                }
                Kind::LinkOther(set) => {
                    self.link_hit(rule, &links, url_host.as_deref(), |h| !set.matches(h))
                }
                Kind::LinkIdn => self.link_hit(rule, &links, url_host.as_deref(), |h| {
                    h.split('.').any(|l| l.starts_with("xn--"))
                }),
                Kind::Email(set) => {
                    let e = input.author_email.trim().to_lowercase();
                    let domain = e.rsplit_once('@').map(|(_, d)| d).and_then(compile_domain);
                    let hit = set.exact.contains(&e)
                        || domain.as_deref().is_some_and(|d| set.domains.matches(d));
                    (hit && rule.fields.contains(Field::AuthorEmail)).then_some(Hit {
                        field: Field::AuthorEmail,
                        span: Some((0, input.author_email.len())),
                        note: None,
                        obfuscated: false,
                    })
                }
                Kind::Ip(nets) => input
                    .client_ip
                    .filter(|ip| nets.iter().any(|n| n.contains(ip)))
                    .map(|ip| Hit {
                        field: Field::ClientIp,
                        span: None,
                        note: Some(ip.to_string()),
                        obfuscated: false,
                    }),
                Kind::Honeypot => input
                    .honeypot
                    .filter(|h| !h.trim().is_empty())
                    .map(|_| Hit {
                        field: Field::Body,
                        span: None,
                        note: Some("honeypot filled".into()),
                        obfuscated: false,
                    }),
                Kind::CaptchaPath(path) => input.pow.filter(|f| f.path == *path).and_then(|f| {
                    body_hit(
                        None,
                        Some(format!(
                            "{}, difficulty {}, {} bits",
                            f.path.as_str(),
                            f.difficulty,
                            f.bits
                        )),
                    )
                }),
                Kind::SolveTime { below_ms } => input
                    .solve_time_ms
                    .filter(|t| t < below_ms)
                    .and_then(|t| body_hit(None, Some(format!("{t} ms")))),
                Kind::History { check, min } => input.history.and_then(|h| {
                    let (fired, n) = match check {
                        HistoryCheck::FirstTime => (h.author_approved == 0, 0),
                        HistoryCheck::Trusted => (h.trusted(*min), h.author_approved),
                        HistoryCheck::TrustedUnverified => (
                            h.record_trusted(*min) && h.known_reader == Some(false),
                            h.author_approved,
                        ),
                        HistoryCheck::AuthorSpam => (h.author_spam >= *min, h.author_spam),
                        HistoryCheck::IpSpam => (h.ip_spam >= *min, h.ip_spam),
                        HistoryCheck::UrlSpam => (h.url_spam >= *min, h.url_spam),
                        HistoryCheck::SameBodySameAuthor => {
                            (h.same_body_same_author >= *min, h.same_body_same_author)
                        }
                        HistoryCheck::SameBodyThreads => {
                            (h.same_body_threads >= *min, h.same_body_threads)
                        }
                    };
                    fired.then(|| Hit {
                        field: Field::AuthorEmail,
                        span: None,
                        note: Some(format!("{check:?} {n}")),
                        obfuscated: false,
                    })
                }),
                Kind::Shouting { min_letters, ratio } => raw_facts(&mut raw, input, Field::Body)
                    .shouting(*min_letters, *ratio)
                    .and_then(|r| body_hit(None, Some(format!("{:.0}% capitals", r * 100.0)))),
                Kind::CharRun { min } => body.and_then(|b| {
                    char_run(&b.text, *min).and_then(|(s, e)| body_hit(b.original_span(s, e), None))
                }),
                Kind::Length { min, max } => {
                    let n = if input.body.len() > MAX_SCREENED_BYTES {
                        usize::MAX
                    } else {
                        input.body.chars().count()
                    };
                    let short = min.is_some_and(|m| n < m);
                    let long = max.is_some_and(|m| n > m);
                    (short || long)
                        .then(|| {
                            body_hit(
                                None,
                                Some(if n == usize::MAX {
                                    "very long".into()
                                } else {
                                    format!("{n} characters")
                                }),
                            )
                        })
                        .flatten()
                }
                Kind::MixedScript => on_raw_fields(rule, input, &mut raw, |f| f.mixed_script),
                Kind::Styled { min } => on_raw_fields(rule, input, &mut raw, |f| f.styled(*min)),
                Kind::DisguisedWord { min, islands } => texts.iter().find_map(|(field, n)| {
                    if !rule.fields.contains(*field) {
                        return None;
                    }
                    // One search a field answers every disguise rule with the same `min`.
                    let d = match disguises.iter().find(|(f, m, _)| f == field && m == min) {
                        Some((_, _, d)) => *d,
                        None => {
                            let original = truncate(field_text(input, *field), MAX_SCREENED_BYTES);
                            let d = normalize::disguises(original, n, *min);
                            disguises.push((*field, *min, d));
                            d
                        }
                    };
                    let found = if *islands { d.disguised } else { d.mixed };
                    found.map(|span| Hit {
                        field: *field,
                        span: Some(span),
                        note: None,
                        obfuscated: false,
                    })
                }),
                Kind::Phone => body.and_then(|b| {
                    self.phone
                        .find(&b.text)
                        .and_then(|m| body_hit(b.original_span(m.start(), m.end()), None))
                }),
            };
        }
    }

    fn link_hit(
        &self,
        rule: &Rule,
        links: &[Link],
        url_host: Option<&str>,
        pred: impl Fn(&str) -> bool,
    ) -> Option<Hit> {
        if rule.fields.contains(Field::Body)
            && let Some(l) = links.iter().find(|l| pred(&l.host))
        {
            return Some(Hit {
                field: Field::Body,
                span: l.span,
                note: Some(l.host.clone()),
                obfuscated: false,
            });
        }
        if rule.fields.contains(Field::AuthorUrl)
            && let Some(h) = url_host.filter(|h| pred(h))
        {
            return Some(Hit {
                field: Field::AuthorUrl,
                span: None,
                note: Some(h.to_string()),
                obfuscated: false,
            });
        }
        None
    }
}

/// Runs a check over what one pass read from the raw text of the body and author name, as the
/// rule's fields say.
fn on_raw_fields(
    rule: &Rule,
    input: &ScreenInput<'_>,
    raw: &mut [Option<RawFacts>; 2],
    f: impl Fn(&RawFacts) -> Option<(usize, usize)>,
) -> Option<Hit> {
    for field in [Field::Body, Field::AuthorName] {
        if !rule.fields.contains(field) {
            continue;
        }
        if let Some(span) = f(raw_facts(raw, input, field)) {
            return Some(Hit {
                field,
                span: Some(span),
                note: None,
                obfuscated: false,
            });
        }
    }
    None
}

/// The raw facts of the body (`raw[0]`) or author name (`raw[1]`), read on first use.
fn raw_facts<'r>(
    raw: &'r mut [Option<RawFacts>; 2],
    input: &ScreenInput<'_>,
    field: Field,
) -> &'r RawFacts {
    let slot = usize::from(field != Field::Body);
    raw[slot].get_or_insert_with(|| {
        RawFacts::read(truncate(field_text(input, field), MAX_SCREENED_BYTES))
    })
}

/// What the capitals, styled-letter and mixed-script rules read from a field's raw text, from
/// one pass over its characters (each rule used to make its own).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct RawFacts {
    /// Letters, and capitals among them ([`shouting`]).
    letters: usize,
    upper: usize,
    /// Styled stand-ins, and the span from the first to the last ([`styled`]).
    styled: usize,
    styled_span: Option<(usize, usize)>,
    /// [`mixed_script_word`]'s answer.
    mixed_script: Option<(usize, usize)>,
}

impl RawFacts {
    fn read(text: &str) -> RawFacts {
        let mut f = RawFacts::default();
        if text.is_ascii() {
            // No styled letters and no second script: only the capitals to count.
            for b in text.bytes().filter(u8::is_ascii_alphabetic) {
                f.letters += 1;
                f.upper += usize::from(b.is_ascii_uppercase());
            }
            return f;
        }
        // The mixed-script search's state, as in `mixed_script_word`.
        let mut start = 0;
        let (mut in_word, mut latin, mut other) = (false, false, false);
        for (i, c) in text.char_indices() {
            let class = char_class(c);
            if class & ALPHABETIC != 0 {
                f.letters += 1;
                f.upper += usize::from(class & UPPERCASE != 0);
            }
            if class & STYLED != 0 {
                f.styled += 1;
                let first = f.styled_span.map_or(i, |(s, _)| s);
                f.styled_span = Some((first, i + c.len_utf8()));
            }
            if f.mixed_script.is_some() {
                continue;
            }
            if class & ALPHANUMERIC != 0 {
                if !in_word {
                    start = i;
                    in_word = true;
                }
                latin |= class & LATIN != 0;
                other |= class & LOOKALIKE_SCRIPT != 0;
            } else {
                if latin && other {
                    f.mixed_script = Some((start, i));
                }
                in_word = false;
                latin = false;
                other = false;
            }
        }
        if f.mixed_script.is_none() && latin && other {
            f.mixed_script = Some((start, text.len()));
        }
        f
    }

    /// [`shouting`] of the text.
    fn shouting(&self, min_letters: usize, ratio: f64) -> Option<f64> {
        let r = self.upper as f64 / self.letters.max(1) as f64;
        (self.letters >= min_letters && r >= ratio).then_some(r)
    }

    /// [`styled`] of the text.
    fn styled(&self, min: usize) -> Option<(usize, usize)> {
        (self.styled >= min.max(1))
            .then_some(self.styled_span)
            .flatten()
    }
}

/// Bits of [`char_class`].
const ALPHABETIC: u8 = 1;
const UPPERCASE: u8 = 2;
const ALPHANUMERIC: u8 = 4;
/// An alphanumeric character of the Latin script (ASCII digits are of none).
const LATIN: u8 = 8;
/// An alphanumeric character of a script with Latin look-alikes (Cyrillic, Greek, Armenian,
/// Cherokee).
const LOOKALIKE_SCRIPT: u8 = 16;
const STYLED: u8 = 32;

/// Classes of the mathematical alphanumerics (U+1D400–U+1D7FF), the styled letters most
/// styled spam is written in, filled on first use from [`char_class_slow`].
static MATH_CLASSES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// What the raw-text rules ask of a character, as bits: a table look-up for ASCII and the
/// mathematical alphanumerics, the Unicode tables otherwise.
fn char_class(c: char) -> u8 {
    let u = c as u32;
    if c.is_ascii() {
        return ascii_class(c as u8);
    }
    if !(0x1D400..0x1D800).contains(&u) {
        return char_class_slow(c);
    }
    MATH_CLASSES.get_or_init(|| {
        (0x1D400..0x1D800)
            .map(|u| char::from_u32(u).map_or(0, char_class_slow))
            .collect()
    })[(u - 0x1D400) as usize]
}

/// [`char_class`] of an ASCII character, without the Unicode tables: ASCII letters are
/// alphabetic and Latin, digits alphanumeric and of no script, and nothing is styled.
fn ascii_class(b: u8) -> u8 {
    if b.is_ascii_alphabetic() {
        ALPHABETIC | ALPHANUMERIC | LATIN | if b.is_ascii_uppercase() { UPPERCASE } else { 0 }
    } else if b.is_ascii_digit() {
        ALPHANUMERIC
    } else {
        0
    }
}

/// [`char_class`] from the Unicode tables.
fn char_class_slow(c: char) -> u8 {
    use unicode_script::{Script, UnicodeScript};
    let mut class = 0;
    if c.is_alphabetic() {
        class |= ALPHABETIC;
        if c.is_uppercase() {
            class |= UPPERCASE;
        }
    }
    if c.is_alphanumeric() {
        class |= ALPHANUMERIC;
        if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                class |= LATIN;
            }
        } else {
            match c.script() {
                Script::Latin => class |= LATIN,
                Script::Cyrillic | Script::Greek | Script::Armenian | Script::Cherokee => {
                    class |= LOOKALIKE_SCRIPT
                }
                _ => {}
            }
        }
    }
    if is_styled(c) {
        class |= STYLED;
    }
    class
}

/// The normalised body and author name with the (screened part of the) original texts, as a
/// model reads them.
type ModelField<'t> = Option<(&'t Normalized, &'t str)>;

fn model_fields<'t>(
    input: &ScreenInput<'t>,
    texts: &'t [(Field, Normalized)],
) -> (ModelField<'t>, ModelField<'t>) {
    let get = |f: Field| {
        texts
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, n)| (n, truncate(field_text(input, f), MAX_SCREENED_BYTES)))
    };
    (get(Field::Body), get(Field::AuthorName))
}

/// The original text of a field.
fn field_text<'a>(input: &ScreenInput<'a>, f: Field) -> &'a str {
    match f {
        Field::Body => input.body,
        Field::AuthorName => input.author_name,
        Field::AuthorEmail => input.author_email,
        Field::AuthorUrl => input.author_url.unwrap_or(""),
        Field::ClientIp => "",
        Field::UserAgent => input.user_agent.unwrap_or(""),
    }
}

/// Whether a match is a whole word: no letter right before or right after it.
fn on_letter_boundaries(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphabetic) && !after.is_some_and(char::is_alphabetic)
}

/// A link found in the body.
#[derive(Debug, Clone)]
struct Link {
    host: String,
    span: Option<(usize, usize)>,
}

/// Most links looked at in one body; more than this is spam anyway and only costs time.
const MAX_LINKS: usize = 64;

/// Links in the normalised body (bare ones too), except those to the site's own domains.
///
/// Links are found in the normalised text (so fullwidth or zero-width-split links are seen), but
/// the host is read from the original characters, NFKC-folded only: folding look-alikes would
/// turn an IDN host such as `bücher.example` (or a Cyrillic fake) into a different domain.
fn extract_links(original: &str, body: &Normalized, own: &DomainSet) -> Vec<Link> {
    let mut finder = linkify::LinkFinder::new();
    finder
        .url_must_have_scheme(false)
        .kinds(&[linkify::LinkKind::Url]);
    let mut out = Vec::new();
    for l in finder.links(&body.text).take(MAX_LINKS) {
        let span = body.original_span(l.start(), l.end());
        let from_original = span
            .and_then(|(s, e)| original.get(s..e))
            .map(normalize::fold_width)
            .and_then(|o| url_host(&o));
        let Some(host) = from_original.or_else(|| url_host(l.as_str())) else {
            continue;
        };
        // A scheme, `www.` or a path makes it a link; otherwise the host must look real.
        let explicit = l.as_str().contains("://")
            || l.as_str().starts_with("www.")
            || l.as_str().contains('/');
        if own.matches(&host) || !(explicit || plausible_bare_host(&host)) {
            continue;
        }
        out.push(Link { host, span });
    }
    out
}

/// Generic top-level domains accepted in links written without `http://` or `www.`.
const BARE_TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "xyz", "top", "site", "online", "club", "vip", "bet",
    "casino", "poker", "live", "store", "shop", "app", "dev", "link", "click", "pro", "win", "fun",
    "icu", "buzz", "lol", "asia", "mobi", "tv", "io", "ly", "gl", "gy", "me", "cc", "tk", "ml",
    "ga", "cf", "gq", "ws", "to", "sh", "ee", "bio", "page", "blog", "news", "website", "space",
    "tech", "world", "today", "cyou", "sbs", "monster", "bond", "cfd",
];

/// Whether a host written without scheme is plausibly a real one, not "2.126.521.750" or
/// "great.this" (sentences typed without a space after the full stop).
fn plausible_bare_host(host: &str) -> bool {
    let tld = host.rsplit('.').next().unwrap_or("");
    if host.starts_with("xn--") || tld.starts_with("xn--") {
        return true;
    }
    if !tld.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    if tld.len() == 2 {
        // A country code; "ha.ha.ha" is laughter, not a host.
        return host.split('.').any(|l| l.len() >= 3);
    }
    BARE_TLDS.contains(&tld)
}

/// The host of a URL (with or without scheme), in ASCII (punycode) form.
fn url_host(url: &str) -> Option<String> {
    // Hosts are at most 253 bytes; a longer author URL is not worth scanning.
    let rest = truncate(url, 2048).trim();
    let rest = match rest.find("://") {
        Some(p) if p < 12 => &rest[p + 3..],
        _ => rest.strip_prefix("//").unwrap_or(rest),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rfind(':') {
        Some(p) if host[p + 1..].chars().all(|c| c.is_ascii_digit()) => &host[..p],
        _ => host,
    };
    compile_domain(truncate(host, 253))
}

/// The share of capital letters, if the text has enough letters and enough capitals.
/// (The screening reads this from [`RawFacts`]; kept as the reference it is tested against.)
#[cfg(test)]
fn shouting(text: &str, min_letters: usize, ratio: f64) -> Option<f64> {
    let (mut letters, mut upper) = (0usize, 0usize);
    if text.is_ascii() {
        // The same counts without decoding characters (most comments are ASCII).
        for b in text.bytes().filter(u8::is_ascii_alphabetic) {
            letters += 1;
            upper += usize::from(b.is_ascii_uppercase());
        }
        let r = upper as f64 / letters.max(1) as f64;
        return (letters >= min_letters && r >= ratio).then_some(r);
    }
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if c.is_uppercase() {
            upper += 1;
        }
    }
    let r = upper as f64 / letters.max(1) as f64;
    (letters >= min_letters && r >= ratio).then_some(r)
}

/// The first run of at least `min` equal non-space characters.
fn char_run(text: &str, min: usize) -> Option<(usize, usize)> {
    let mut run_start = 0;
    let mut run_len = 0;
    let mut prev = None;
    for (i, c) in text.char_indices() {
        if Some(c) == prev && !c.is_whitespace() {
            run_len += 1;
        } else {
            run_start = i;
            run_len = 1;
            prev = Some(c);
        }
        if run_len >= min {
            let mut end = i + c.len_utf8();
            for (j, d) in text[end..].char_indices() {
                if d != c {
                    end += j;
                    return Some((run_start, end));
                }
            }
            end = text.len();
            return Some((run_start, end));
        }
    }
    None
}

/// The first word that mixes Latin letters with Cyrillic, Greek, Armenian or Cherokee ones.
/// (The screening reads this from [`RawFacts`]; kept as the reference it is tested against.)
#[cfg(test)]
fn mixed_script_word(text: &str) -> Option<(usize, usize)> {
    use unicode_script::{Script, UnicodeScript};
    // ASCII letters are all Latin: an ASCII text cannot mix scripts.
    if text.is_ascii() {
        return None;
    }
    let mut start = 0;
    let (mut in_word, mut latin, mut other) = (false, false, false);
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if c.is_alphanumeric() {
            if !in_word {
                start = i;
                in_word = true;
            }
            // ASCII needs no table lookup: letters are Latin, digits belong to no script.
            if c.is_ascii() {
                latin |= c.is_ascii_alphabetic();
                continue;
            }
            match c.script() {
                Script::Latin => latin = true,
                Script::Cyrillic | Script::Greek | Script::Armenian | Script::Cherokee => {
                    other = true
                }
                _ => {}
            }
        } else {
            if latin && other {
                return Some((start, i));
            }
            in_word = false;
            latin = false;
            other = false;
        }
    }
    None
}

/// Whether a character is a styled stand-in for a Latin letter or digit.
fn is_styled(c: char) -> bool {
    matches!(c as u32,
        0x1D400..=0x1D7FF        // mathematical alphanumerics (bold, script, fraktur, double-struck)
        | 0xFF10..=0xFF19 | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A // fullwidth
        | 0x2460..=0x24FF        // circled and bracketed
        | 0x1F100..=0x1F1E5      // enclosed supplement (squared, negative circled), not flags
        | 0x1D00..=0x1D2B        // small capitals
        | 0x2100..=0x214F        // letterlike symbols (ℓ, ℊ, ℍ)
        | 0x0332 | 0x0333 | 0x0335 | 0x0336 | 0x0338 | 0x0331 // combining underline / strike
    )
}

/// The span from the first to the last styled character, if there are at least `min`.
/// (The screening reads this from [`RawFacts`]; kept as the reference it is tested against.)
#[cfg(test)]
fn styled(text: &str, min: usize) -> Option<(usize, usize)> {
    // Every styled stand-in is outside ASCII.
    if text.is_ascii() {
        return None;
    }
    let mut count = 0;
    let mut first = None;
    let mut last = 0;
    for (i, c) in text.char_indices() {
        if is_styled(c) {
            count += 1;
            first.get_or_insert(i);
            last = i + c.len_utf8();
        }
    }
    (count >= min.max(1)).then(|| (first.unwrap_or(0), last))
}

/// Meta rules ordered so each comes after the meta rules it reads (cycles were refused at load).
fn meta_order(rules: &[Rule]) -> Vec<usize> {
    fn visit(rules: &[Rule], i: usize, seen: &mut [bool], out: &mut Vec<usize>) {
        if seen[i] {
            return;
        }
        seen[i] = true;
        if let Kind::Meta {
            all_of,
            any_of,
            of,
            none_of,
            ..
        } = &rules[i].kind
        {
            for &d in all_of.iter().chain(any_of).chain(of).chain(none_of) {
                visit(rules, d, seen, out);
            }
            out.push(i);
        }
    }
    let mut seen = vec![false; rules.len()];
    let mut out = Vec::new();
    for i in 0..rules.len() {
        visit(rules, i, &mut seen, &mut out);
    }
    out
}

/// A hash of the normalised body, for finding the same comment posted again (duplicates and
/// waves). Punctuation, spacing, case, styling and leetspeak do not change it. Stable across runs
/// and machines: FNV-1a 64, not the standard library's randomised hasher.
pub fn body_fingerprint(body: &str) -> u64 {
    body_fingerprint_of(&normalize(body))
}

/// [`body_fingerprint`] of a body already normalised.
pub fn body_fingerprint_of(n: &Normalized) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in n.words.chars().filter(|c| c.is_alphanumeric()) {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests;
