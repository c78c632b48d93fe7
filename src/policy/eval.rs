//! `saring policy eval DATASETS`: precision, recall and false-positive rates of the policy with
//! and without its model, on data the rules and the model were not tuned or trained on.
//!
//! - Indonesian (`indonesian-judol/judol-youtube-dev.jsonl`): the HOLD-OUT split of
//!   [`super::dataset`]. The shipped model is trained on the TRAIN split only, and the rules were
//!   tuned by reading TRAIN lines only, so the HOLD-OUT rows are honest.
//! - English (`youtube-spam-collection/`, three videos), each video on its own. The shipped
//!   model is trained on Indonesian TRAIN only, so no English line was trained on; the English
//!   rules were written after reading all three videos, which the README says plainly. With
//!   `--fold-english` (for a model that was trained on English too), each video is instead
//!   screened with a fold model trained here, with the shipped recipe
//!   ([`TrainConfig::default`]), on Indonesian TRAIN and the other two videos.
//!
//! A comment counts as flagged when its outcome is hold or spam (forced outcomes included).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::cli::{Case, Label, Scored, metrics, screen_all};
use super::dataset::{Split, examples, read_labelled};
use super::model::{Model, TrainConfig, train};
use super::{Outcome, Policy, PolicyError};

/// The Indonesian file inside the datasets folder.
pub const JUDOL_FILE: &str = "indonesian-judol/judol-youtube-dev.jsonl";
/// The English files inside the datasets folder.
pub const YOUTUBE_FILES: [&str; 3] = [
    "youtube-spam-collection/Youtube01-Psy.csv",
    "youtube-spam-collection/Youtube02-KatyPerry.csv",
    "youtube-spam-collection/Youtube03-LMFAO.csv",
];

/// Rates of one set of screened comments.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// Comments screened.
    pub comments: usize,
    /// Spam among them.
    pub spam: usize,
    /// Ham among them.
    pub ham: usize,
    /// Of the flagged (held or spam), the share that is spam.
    pub precision: f64,
    /// Of the spam, the share flagged.
    pub recall: f64,
    /// Of the ham, the share flagged (held or spam).
    pub fpr: f64,
    /// Of the ham, the share sent to the spam queue.
    pub ham_spam: f64,
    /// Of the ham, the share held.
    pub ham_held: f64,
    /// Precision when a comment counts as flagged only for spam reasons: held by the score
    /// without the abuse rules (those with `outcome = "hold"`), or sent to spam. An insult held
    /// for a moderator is not a spam verdict.
    pub spam_precision: f64,
    /// Recall in the same sense.
    pub spam_recall: f64,
}

/// Whether a verdict is a spam verdict: sent to spam, or held by the score of the rules that are
/// not abuse holds.
fn spam_verdict(policy: &Policy, s: &Scored) -> bool {
    if s.verdict.outcome >= Outcome::Spam {
        return true;
    }
    let abuse: f64 = s
        .verdict
        .rules
        .iter()
        .filter(|r| policy.rule_outcome(&r.id) == Some(Outcome::Hold))
        .map(|r| r.score)
        .sum();
    s.verdict.score - abuse >= policy.thresholds().hold - 1e-9
}

/// Rates at the policy's hold threshold.
pub fn rates(policy: &Policy, scored: &[Scored]) -> Rates {
    let hold = policy.thresholds().hold;
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for s in scored {
        let Some(l) = s.label else { continue };
        match (l.positive(), spam_verdict(policy, s)) {
            (true, true) => tp += 1,
            (true, false) => fn_ += 1,
            (false, true) => fp += 1,
            _ => {}
        }
    }
    let m = metrics(scored, hold);
    let ham: Vec<&Scored> = scored
        .iter()
        .filter(|x| x.label == Some(Label::Ham))
        .collect();
    let n = ham.len().max(1) as f64;
    let spam_q = ham
        .iter()
        .filter(|x| x.verdict.outcome >= Outcome::Spam)
        .count();
    let held = ham
        .iter()
        .filter(|x| x.positive_at(hold) && x.verdict.outcome < Outcome::Spam)
        .count();
    Rates {
        comments: scored.len(),
        spam: m.tp + m.fn_,
        ham: ham.len(),
        precision: m.precision,
        recall: m.recall,
        fpr: m.fp as f64 / n,
        ham_spam: spam_q as f64 / n,
        ham_held: held as f64 / n,
        spam_precision: tp as f64 / (tp + fp).max(1) as f64,
        spam_recall: tp as f64 / (tp + fn_).max(1) as f64,
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The data set.
    pub set: String,
    /// `rules only`, `rules + model` ...
    pub policy: String,
    /// The figures.
    pub rates: Rates,
}

/// Everything `eval` measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The table's rows.
    pub rows: Vec<Row>,
    /// Notes printed under the table (what was skipped, which model).
    pub notes: Vec<String>,
}

fn screened(policy: &Policy, cases: &[&Case]) -> Vec<Scored> {
    let owned: Vec<Case> = cases.iter().map(|c| (*c).clone()).collect();
    screen_all(policy, &owned)
}

/// Measures the policy at `policy_dir` on the data sets under `datasets`.
pub fn evaluate(
    datasets: &Path,
    policy_dir: &Path,
    fold_english: bool,
) -> Result<Report, PolicyError> {
    let mut policy = Policy::load(policy_dir)?;
    let shipped = policy.model();
    let mut report = Report::default();
    match &shipped {
        Some(m) => report.notes.push(format!(
            "policy {} version {}; model sha256 {}",
            policy.name(),
            policy.version(),
            hex::encode(Sha256::digest(m.to_bytes()))
        )),
        None => report.notes.push(format!(
            "policy {} version {} has no model rule: only the rules are measured",
            policy.name(),
            policy.version()
        )),
    }
    let judol = datasets.join(JUDOL_FILE);
    let id_sets = if judol.is_file() {
        read_labelled(&[judol])?
    } else {
        report.notes.push(format!(
            "{} not found: Indonesian rows skipped",
            judol.display()
        ));
        Vec::new()
    };
    let id_train: Vec<&Case> = id_sets
        .iter()
        .flat_map(|s| s.cases.iter())
        .filter(|c| Split::Train.keeps(c))
        .collect();
    let id_hold: Vec<&Case> = id_sets
        .iter()
        .flat_map(|s| s.cases.iter())
        .filter(|c| Split::Holdout.keeps(c))
        .collect();

    let configs: Vec<(&str, Option<Arc<Model>>)> = match &shipped {
        Some(m) => vec![("rules only", None), ("rules + model", Some(m.clone()))],
        None => vec![("rules only", None)],
    };
    let mut pooled: Vec<Vec<Scored>> = vec![Vec::new(); configs.len()];
    if !id_hold.is_empty() {
        for (ci, (name, m)) in configs.iter().enumerate() {
            policy.set_model(m.clone());
            let tr = screened(&policy, &id_train);
            report.rows.push(Row {
                set: "Indonesian TRAIN (tuned and trained on)".into(),
                policy: (*name).into(),
                rates: rates(&policy, &tr),
            });
            let ho = screened(&policy, &id_hold);
            report.rows.push(Row {
                set: "**Indonesian HOLD-OUT**".into(),
                policy: (*name).into(),
                rates: rates(&policy, &ho),
            });
            pooled[ci].extend(ho);
        }
    }

    let yt: Vec<PathBuf> = YOUTUBE_FILES.iter().map(|f| datasets.join(f)).collect();
    if yt.iter().all(|f| f.is_file()) {
        let videos = read_labelled(&yt)?;
        let mut english: Vec<Vec<Scored>> = vec![Vec::new(); configs.len()];
        for (vi, video) in videos.iter().enumerate() {
            let name = video
                .path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            let test: Vec<&Case> = video.cases.iter().collect();
            for (ci, (label, m)) in configs.iter().enumerate() {
                let model = match m {
                    None => None,
                    Some(shipped) if !fold_english => Some(shipped.clone()),
                    Some(_) => {
                        // The fold model: Indonesian TRAIN and the other videos, never this one.
                        let others = videos
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != vi)
                            .flat_map(|(_, v)| v.cases.iter());
                        let ex = examples(id_train.iter().copied().chain(others));
                        Some(Arc::new(train(&ex, &TrainConfig::default(), &mut |_| {})))
                    }
                };
                let label = if model.is_some() && fold_english {
                    "rules + fold model"
                } else {
                    label
                };
                policy.set_model(model);
                let s = screened(&policy, &test);
                report.rows.push(Row {
                    set: format!("English {name}"),
                    policy: label.into(),
                    rates: rates(&policy, &s),
                });
                english[ci].extend(s);
            }
        }
        for (ci, (label, m)) in configs.iter().enumerate() {
            report.rows.push(Row {
                set: "**English, three videos**".into(),
                policy: if m.is_some() && fold_english {
                    "rules + fold model".into()
                } else {
                    (*label).into()
                },
                rates: rates(&policy, &english[ci]),
            });
            pooled[ci].extend(english[ci].iter().cloned());
        }
    } else {
        report.notes.push(format!(
            "{} not found: English rows skipped",
            datasets.join("youtube-spam-collection").display()
        ));
    }
    for (ci, (label, _)) in configs.iter().enumerate() {
        if !pooled[ci].is_empty() {
            report.rows.push(Row {
                set: "**pooled** (Indonesian HOLD-OUT + English)".into(),
                policy: (*label).into(),
                rates: rates(&policy, &pooled[ci]),
            });
        }
    }
    Ok(report)
}

/// Writes the report as a Markdown table.
pub fn write_report(r: &Report, w: &mut dyn Write) -> Result<(), PolicyError> {
    let mut run = || -> std::io::Result<()> {
        writeln!(
            w,
            "| set | policy | comments | spam | ham | precision | recall | spam precision | spam recall | ham held or spam (FPR) | ham marked spam | ham held |"
        )?;
        writeln!(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")?;
        for row in &r.rows {
            let x = &row.rates;
            writeln!(
                w,
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2}% | {:.2}% | {:.2}% |",
                row.set,
                row.policy,
                x.comments,
                x.spam,
                x.ham,
                x.precision,
                x.recall,
                x.spam_precision,
                x.spam_recall,
                100.0 * x.fpr,
                100.0 * x.ham_spam,
                100.0 * x.ham_held
            )?;
        }
        writeln!(w)?;
        writeln!(
            w,
            "precision and recall: flagged = held or spam, whatever the reason. spam precision and recall: flagged = sent to spam, or held by the score without the abuse rules (outcome = \"hold\"), so an insult held for a moderator is not counted as a spam verdict."
        )?;
        for n in &r.notes {
            writeln!(w, "{n}")?;
        }
        Ok(())
    };
    run().map_err(PolicyError::Output)
}
