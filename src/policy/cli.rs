//! Bodies of `saring policy check` and `saring policy test`, and the evaluation they share with
//! `examples/policy_eval.rs`.
//!
//! `test` reads CSV (a header names the columns; the YouTube Spam Collection's `CONTENT`,
//! `AUTHOR` and `CLASS` work as they are) or JSON lines (`body`, `author_name`, `author_email`,
//! `author_url`, optional `label` of `spam`, `ham` or `hold`), writes one JSON verdict a line, and
//! when labels exist writes a report shaped like SpamAssassin's statistics tables.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Outcome, Policy, PolicyError, ScreenInput, Verdict};

/// Largest test file read, so a wrong path to a huge file fails fast.
const MAX_TEST_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// `saring policy check [DIR]`: validates the policy and prints its rule counts by kind.
pub fn check(dir: &Path, out: &mut dyn Write) -> Result<(), PolicyError> {
    let p = Policy::load(dir)?;
    let s = p.summary();
    let w =
        |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(PolicyError::Output);
    w(out, format!("policy {} ok (version {})", s.name, s.version))?;
    w(
        out,
        format!(
            "thresholds: hold >= {}, spam >= {}",
            s.thresholds.hold, s.thresholds.spam
        ),
    )?;
    w(
        out,
        format!("rules: {} ({} sub-rules)", s.rules, s.sub_rules),
    )?;
    for (kind, n) in &s.by_kind {
        w(out, format!("  {kind:<14} {n}"))?;
    }
    w(
        out,
        format!("word and phrase patterns: {}", s.word_patterns),
    )?;
    for (list, n) in &s.lists {
        w(out, format!("  list {list:<18} {n} entries"))?;
    }
    Ok(())
}

/// What a labelled case is expected to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Not spam: must be accepted.
    Ham,
    /// Spam: must be held or marked spam.
    Spam,
    /// Not spam but must be held (abuse): counts as positive in "spam or hold".
    Hold,
}

impl Label {
    fn parse(s: &str) -> Option<Label> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spam" | "1" | "true" => Some(Label::Spam),
            "ham" | "0" | "false" => Some(Label::Ham),
            "hold" | "abuse" => Some(Label::Hold),
            _ => None,
        }
    }

    /// Whether "spam or hold" is the right answer.
    pub fn positive(self) -> bool {
        self != Label::Ham
    }
}

/// One comment of a test file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Case {
    /// The comment text.
    #[serde(alias = "content", alias = "CONTENT", alias = "text")]
    pub body: String,
    /// The author's name.
    #[serde(default, alias = "author", alias = "AUTHOR")]
    pub author_name: String,
    /// The author's email.
    #[serde(default, alias = "email")]
    pub author_email: String,
    /// The author's website.
    #[serde(default, alias = "url")]
    pub author_url: Option<String>,
    /// The expected answer, when known.
    #[serde(default, deserialize_with = "de_label")]
    pub label: Option<Label>,
    /// Where the comment came from (the Indonesian set's `source`); decides its split.
    #[serde(default)]
    pub source: Option<String>,
    /// 1-based line of the case in its file.
    #[serde(skip)]
    pub line: usize,
}

fn de_label<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Label>, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Label::parse(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("label {s:?}: use spam, ham or hold"))),
        Some(serde_json::Value::Number(n)) => Label::parse(&n.to_string())
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("label: use 1 (spam) or 0 (ham)")),
        Some(serde_json::Value::Bool(b)) => Ok(Some(if b { Label::Spam } else { Label::Ham })),
        Some(_) => Err(serde::de::Error::custom("label: use spam, ham or hold")),
    }
}

impl Case {
    /// The submission to screen (no history: history rules stay silent).
    pub fn input(&self) -> ScreenInput<'_> {
        ScreenInput {
            body: &self.body,
            author_name: &self.author_name,
            author_email: &self.author_email,
            author_url: self.author_url.as_deref().filter(|u| !u.is_empty()),
            ..ScreenInput::default()
        }
    }
}

/// Reads a CSV or JSON-lines test file (decided by extension, else by the first character).
pub fn read_cases(file: &Path) -> Result<Vec<Case>, PolicyError> {
    let meta = std::fs::metadata(file).map_err(|e| PolicyError::io(file, e))?;
    if meta.len() > MAX_TEST_FILE_BYTES {
        return Err(PolicyError::at_line(file, 1, "test file too large"));
    }
    let bytes = std::fs::read(file).map_err(|e| PolicyError::io(file, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        PolicyError::at_offset(file, &text, off, "not valid UTF-8")
    })?;
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = match ext.as_str() {
        "csv" => false,
        "jsonl" | "json" | "ndjson" => true,
        _ => text.trim_start().starts_with('{'),
    };
    if json {
        read_jsonl(file, &text)
    } else {
        read_csv(file, &text)
    }
}

fn read_jsonl(file: &Path, text: &str) -> Result<Vec<Case>, PolicyError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        let mut c: Case = serde_json::from_str(t).map_err(|e| PolicyError::Invalid {
            file: file.to_path_buf(),
            line: i + 1,
            column: e.column().max(1),
            message: e.to_string(),
        })?;
        c.line = i + 1;
        out.push(c);
    }
    Ok(out)
}

fn read_csv(file: &Path, text: &str) -> Result<Vec<Case>, PolicyError> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line() as usize);
        PolicyError::at_line(file, line, e.to_string())
    };
    let headers = r.headers().map_err(csv_err)?.clone();
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let Some(body) = find(&["body", "content", "comment", "text", "comment_content"]) else {
        return Err(PolicyError::at_line(
            file,
            1,
            "no body column: name one body, content, comment or text",
        ));
    };
    let author = find(&["author_name", "author", "name", "comment_author"]);
    let email = find(&["author_email", "email", "comment_author_email"]);
    let url = find(&["author_url", "url", "comment_author_url"]);
    let label = find(&["label", "class", "is_spam"]);
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(csv_err)?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").to_string();
        let label = match label.and_then(|i| rec.get(i)) {
            None => None,
            Some(s) if s.trim().is_empty() => None,
            Some(s) => Some(Label::parse(s).ok_or_else(|| {
                PolicyError::at_line(
                    file,
                    line,
                    format!("label {s:?}: use spam/1, ham/0 or hold"),
                )
            })?),
        };
        let u = get(url);
        out.push(Case {
            body: get(Some(body)),
            author_name: get(author),
            author_email: get(email),
            author_url: (!u.is_empty()).then_some(u),
            label,
            source: None,
            line,
        });
    }
    Ok(out)
}

/// A screened case: what the policy said and what the label says.
#[derive(Clone, Debug)]
pub struct Scored {
    /// The verdict.
    pub verdict: Verdict,
    /// The label, if any.
    pub label: Option<Label>,
    /// Whether a rule forced the outcome to hold or above regardless of the score.
    pub forced: bool,
}

impl Scored {
    /// "Spam or hold" at a given hold threshold.
    pub fn positive_at(&self, threshold: f64) -> bool {
        self.forced || self.verdict.score >= threshold
    }
}

/// Screens every case.
pub fn screen_all(policy: &Policy, cases: &[Case]) -> Vec<Scored> {
    let hold = policy.thresholds().hold;
    cases
        .iter()
        .map(|c| {
            let verdict = policy.screen(&c.input());
            let forced = verdict.outcome >= Outcome::Hold && verdict.score < hold;
            Scored {
                verdict,
                label: c.label,
                forced,
            }
        })
        .collect()
}

/// Precision, recall and F1 of "spam or hold" against ham.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Positives found.
    pub tp: usize,
    /// Ham flagged.
    pub fp: usize,
    /// Ham accepted.
    pub tn: usize,
    /// Positives missed.
    pub fn_: usize,
    /// tp / (tp + fp); 1 when nothing was flagged.
    pub precision: f64,
    /// tp / (tp + fn); 1 when there was nothing to find.
    pub recall: f64,
    /// Harmonic mean of the two.
    pub f1: f64,
}

/// Metrics at a hold threshold, over the labelled cases.
pub fn metrics(scored: &[Scored], threshold: f64) -> Metrics {
    let mut m = Metrics::default();
    for s in scored {
        let Some(label) = s.label else { continue };
        match (label.positive(), s.positive_at(threshold)) {
            (true, true) => m.tp += 1,
            (true, false) => m.fn_ += 1,
            (false, true) => m.fp += 1,
            (false, false) => m.tn += 1,
        }
    }
    m.precision = if m.tp + m.fp == 0 {
        1.0
    } else {
        m.tp as f64 / (m.tp + m.fp) as f64
    };
    m.recall = if m.tp + m.fn_ == 0 {
        1.0
    } else {
        m.tp as f64 / (m.tp + m.fn_) as f64
    };
    m.f1 = if m.precision + m.recall == 0.0 {
        0.0
    } else {
        2.0 * m.precision * m.recall / (m.precision + m.recall)
    };
    m
}

/// One line of `policy test` output.
#[derive(Serialize)]
struct OutLine<'a> {
    line: usize,
    verdict: Outcome,
    score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Label>,
    rules: Vec<OutRule<'a>>,
}

#[derive(Serialize)]
struct OutRule<'a> {
    id: &'a str,
    score: f64,
    field: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    matched: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    obfuscated: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    evidence: &'a [super::Evidence],
}

/// `saring policy test [--policy DIR] FILE`: one JSON verdict a line to `out`; with labels, the
/// statistics report to `report`.
pub fn test(
    policy_dir: &Path,
    file: &Path,
    out: &mut dyn Write,
    report: &mut dyn Write,
) -> Result<(), PolicyError> {
    let policy = Policy::load(policy_dir)?;
    let cases = read_cases(file)?;
    let scored = screen_all(&policy, &cases);
    for (c, s) in cases.iter().zip(&scored) {
        let line = OutLine {
            line: c.line,
            verdict: s.verdict.outcome,
            score: s.verdict.score,
            label: c.label,
            rules: s
                .verdict
                .rules
                .iter()
                .map(|r| OutRule {
                    id: &r.id,
                    score: r.score,
                    field: &r.field,
                    matched: r.matched.as_deref(),
                    obfuscated: r.obfuscated,
                    evidence: &r.evidence,
                })
                .collect(),
        };
        let json = serde_json::to_string(&line)
            .map_err(|e| PolicyError::Output(std::io::Error::other(e)))?;
        writeln!(out, "{json}").map_err(PolicyError::Output)?;
    }
    if scored.iter().any(|s| s.label.is_some()) {
        write_report(&policy, &file.display().to_string(), &scored, report)
            .map_err(PolicyError::Output)?;
    }
    Ok(())
}

/// Writes the statistics report: a summary per threshold and each rule's hits on spam and ham,
/// in the shape of SpamAssassin's `STATISTICS` files.
pub fn write_report(
    policy: &Policy,
    name: &str,
    scored: &[Scored],
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let labelled: Vec<&Scored> = scored.iter().filter(|s| s.label.is_some()).collect();
    let pos = labelled
        .iter()
        .filter(|s| s.label.is_some_and(Label::positive))
        .count();
    let neg = labelled.len() - pos;
    let t = policy.thresholds();
    writeln!(
        w,
        "# STATISTICS REPORT FOR SARING POLICY {} ({})",
        policy.name(),
        policy.version()
    )?;
    writeln!(
        w,
        "# Corpus: {name}: {} labelled: {pos} spam or hold, {neg} ham",
        labelled.len()
    )?;
    writeln!(
        w,
        "# Positive = verdict hold or spam (forced outcomes count at every threshold)."
    )?;
    writeln!(w, "#")?;
    let mut thresholds = vec![
        t.hold - 2.0,
        t.hold - 1.0,
        t.hold,
        t.hold + 1.0,
        t.hold + 2.0,
        t.spam,
    ];
    thresholds.dedup();
    for th in thresholds {
        let m = metrics(scored, th);
        let pct = |a: usize, b: usize| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        let marker = if (th - t.hold).abs() < 1e-9 {
            "  (policy hold threshold)"
        } else {
            ""
        };
        writeln!(w, "# SUMMARY for threshold {th:.1}:{marker}")?;
        writeln!(
            w,
            "# Correctly non-spam: {:6}  {:6.2}%",
            m.tn,
            pct(m.tn, neg)
        )?;
        writeln!(
            w,
            "# Correctly spam:     {:6}  {:6.2}%",
            m.tp,
            pct(m.tp, pos)
        )?;
        writeln!(
            w,
            "# False positives:    {:6}  {:6.2}%",
            m.fp,
            pct(m.fp, neg)
        )?;
        writeln!(
            w,
            "# False negatives:    {:6}  {:6.2}%",
            m.fn_,
            pct(m.fn_, pos)
        )?;
        writeln!(
            w,
            "# Precision: {:.3}  Recall: {:.3}  F1: {:.3}",
            m.precision, m.recall, m.f1
        )?;
        writeln!(w, "#")?;
    }
    // Per-rule hits.
    let mut hits: BTreeMap<&str, (usize, usize, f64)> = BTreeMap::new();
    for s in &labelled {
        for r in &s.verdict.rules {
            let e = hits.entry(r.id.as_str()).or_insert((0, 0, r.score));
            if s.label.is_some_and(Label::positive) {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    let mut rows: Vec<(&str, usize, usize, f64)> = hits
        .into_iter()
        .map(|(k, (s, h, sc))| (k, s, h, sc))
        .collect();
    rows.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then(a.0.cmp(b.0)));
    writeln!(w, "OVERALL%   SPAM%     HAM%     S/O    SCORE  NAME")?;
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    writeln!(
        w,
        "{:7}  {:7}  {:7}  {:6.3}  {:6.2}  (all messages)",
        labelled.len(),
        pos,
        neg,
        pos as f64 / labelled.len().max(1) as f64,
        0.0
    )?;
    for (id, s, h, sc) in rows {
        let so = pct(s, pos) / (pct(s, pos) + pct(h, neg)).max(1e-9);
        writeln!(
            w,
            "{:7.3}  {:7.3}  {:7.3}  {:6.3}  {:6.2}  {id}",
            pct(s + h, labelled.len()),
            pct(s, pos),
            pct(h, neg),
            so,
            sc
        )?;
    }
    Ok(())
}

/// One stored submission for `saring policy backtest`, read by the caller from the event log.
#[derive(Clone, Debug)]
pub struct BacktestCase<'a> {
    /// The comment's id, echoed in the output.
    pub comment_id: &'a str,
    /// The submission as it was stored (with the history the caller can rebuild, or `None`).
    pub input: ScreenInput<'a>,
    /// The outcome recorded when the comment was screened.
    pub recorded: Outcome,
    /// What moderators decided last, if anything: approved → `Accept`, held/pending → `Hold`,
    /// marked spam → `Spam`, rejected → `Reject`.
    pub moderator: Option<Outcome>,
}

/// Totals of a backtest.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct BacktestSummary {
    /// Submissions replayed.
    pub total: usize,
    /// Submissions whose outcome the candidate policy changes.
    pub changed: usize,
    /// Counts of `recorded -> candidate` outcome pairs that changed.
    pub transitions: BTreeMap<String, usize>,
    /// Submissions with a moderator decision.
    pub moderated: usize,
    /// Of those, how many the recorded outcome agreed with (accepted exactly when approved).
    pub recorded_agrees: usize,
    /// Of those, how many the candidate outcome agrees with.
    pub candidate_agrees: usize,
}

#[derive(Serialize)]
struct BacktestLine<'a> {
    comment_id: &'a str,
    recorded: Outcome,
    candidate: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    moderator: Option<Outcome>,
    score: f64,
    rules: Vec<&'a str>,
}

/// `saring policy backtest`: screens every stored submission with the candidate policy, writes
/// one JSON line per comment whose outcome would change, and returns the totals (print them with
/// [`write_backtest_summary`]).
pub fn backtest<'a>(
    policy: &Policy,
    cases: impl IntoIterator<Item = BacktestCase<'a>>,
    out: &mut dyn Write,
) -> Result<BacktestSummary, PolicyError> {
    let agrees = |o: Outcome, m: Outcome| (o == Outcome::Accept) == (m == Outcome::Accept);
    let mut s = BacktestSummary::default();
    for c in cases {
        let v = policy.screen(&c.input);
        s.total += 1;
        if let Some(m) = c.moderator {
            s.moderated += 1;
            s.recorded_agrees += usize::from(agrees(c.recorded, m));
            s.candidate_agrees += usize::from(agrees(v.outcome, m));
        }
        if v.outcome != c.recorded {
            s.changed += 1;
            *s.transitions
                .entry(format!("{} -> {}", name(c.recorded), name(v.outcome)))
                .or_insert(0) += 1;
            let line = BacktestLine {
                comment_id: c.comment_id,
                recorded: c.recorded,
                candidate: v.outcome,
                moderator: c.moderator,
                score: v.score,
                rules: v.rules.iter().map(|r| r.id.as_str()).collect(),
            };
            let json = serde_json::to_string(&line)
                .map_err(|e| PolicyError::Output(std::io::Error::other(e)))?;
            writeln!(out, "{json}").map_err(PolicyError::Output)?;
        }
    }
    Ok(s)
}

fn name(o: Outcome) -> &'static str {
    match o {
        Outcome::Accept => "accept",
        Outcome::Hold => "hold",
        Outcome::Spam => "spam",
        Outcome::Reject => "reject",
    }
}

/// Prints a backtest's totals as a short table.
pub fn write_backtest_summary(s: &BacktestSummary, w: &mut dyn Write) -> Result<(), PolicyError> {
    let mut run = || -> std::io::Result<()> {
        writeln!(
            w,
            "replayed {} submissions; {} would change",
            s.total, s.changed
        )?;
        for (t, n) in &s.transitions {
            writeln!(w, "  {t:<18} {n}")?;
        }
        if s.moderated > 0 {
            let pct = |n: usize| 100.0 * n as f64 / s.moderated as f64;
            writeln!(
                w,
                "agreement with {} moderator decisions (accepted exactly when approved):",
                s.moderated
            )?;
            writeln!(w, "  recorded policy  {:6.2}%", pct(s.recorded_agrees))?;
            writeln!(w, "  candidate policy {:6.2}%", pct(s.candidate_agrees))?;
        }
        Ok(())
    };
    run().map_err(PolicyError::Output)
}
