//! Chooses the model rules' numbers (`min_probability`, `score`, `max_score` of MODEL_SPAM and
//! MODEL_NOT_SPAM) without looking at the hold-out.
//!
//! ```text
//! cargo run --release --example policy_tune -- ../shared/datasets [policies [L2 [RATE [EPOCHS]]]]
//! ```
//!
//! The Indonesian TRAIN split is cut again: lines whose SHA-256(`source`) has a second byte
//! below 64 (about a quarter of TRAIN) are the TUNE part, the rest INNER-TRAIN. A model is
//! trained on INNER-TRAIN (plus, for the English rows, the other two videos), every TUNE line
//! and English line is screened by the rules alone and scored by that model, and every
//! combination in a small grid is tried arithmetically. Printed: the best combinations that keep
//! precision >= 0.98 and the ham rates within the issue's bars, by recall. The HOLD-OUT split is
//! never read.

use std::path::PathBuf;
use std::sync::Arc;

use saring::policy::cli::{Case, Label};
use saring::policy::dataset::{Split, examples, read_labelled};
use saring::policy::eval::{JUDOL_FILE, YOUTUBE_FILES};
use saring::policy::model::{Threshold, TrainConfig, bounded_score, train};
use saring::policy::{Outcome, Policy};
use sha2::{Digest, Sha256};

/// One screened line: the rules' score, the outcome the rules force (if any), p, the label.
struct Line {
    rules: f64,
    /// The part of `rules` from abuse rules (`outcome = "hold"`).
    abuse: f64,
    forced: Option<Outcome>,
    p: f64,
    spam: bool,
}

fn is_tune(c: &Case) -> bool {
    c.source
        .as_deref()
        .is_some_and(|s| Sha256::digest(s.as_bytes())[1] < 64)
}

fn main() {
    let all_args: Vec<String> = std::env::args().skip(1).collect();
    // `--id-only`: train on Indonesian lines only (the English rows are then never trained on).
    let id_only = all_args.iter().any(|a| a == "--id-only");
    let args: Vec<String> = all_args
        .into_iter()
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(datasets) = args.first().map(PathBuf::from) else {
        eprintln!("usage: policy_tune DATASETS_DIR [POLICY_DIR]");
        std::process::exit(2);
    };
    let policy_dir = args
        .get(1)
        .map_or_else(|| PathBuf::from("policies"), PathBuf::from);
    let mut policy = Policy::load(&policy_dir).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let th = policy.thresholds();
    let id = read_labelled(&[datasets.join(JUDOL_FILE)]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let train_part: Vec<&Case> = id[0]
        .cases
        .iter()
        .filter(|c| Split::Train.keeps(c))
        .collect();
    let inner: Vec<&Case> = train_part.iter().copied().filter(|c| !is_tune(c)).collect();
    let tune: Vec<&Case> = train_part.iter().copied().filter(|c| is_tune(c)).collect();
    let videos = read_labelled(&YOUTUBE_FILES.map(|f| datasets.join(f))).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    eprintln!(
        "inner-train {} lines, tune {} lines, English {} videos",
        inner.len(),
        tune.len(),
        videos.len()
    );

    let screen = |policy: &mut Policy, model, cases: &[&Case]| -> Vec<Line> {
        policy.set_model(None);
        let rules: Vec<(f64, f64, Option<Outcome>)> = cases
            .iter()
            .map(|c| {
                let v = policy.screen(&c.input());
                let abuse: f64 = v
                    .rules
                    .iter()
                    .filter(|r| policy.rule_outcome(&r.id) == Some(Outcome::Hold))
                    .map(|r| r.score)
                    .sum();
                let by_score = if v.score >= th.spam {
                    Outcome::Spam
                } else if v.score >= th.hold {
                    Outcome::Hold
                } else {
                    Outcome::Accept
                };
                (v.score, abuse, (v.outcome > by_score).then_some(v.outcome))
            })
            .collect();
        policy.set_model(Some(model));
        cases
            .iter()
            .zip(rules)
            .map(|(c, (rules, abuse, forced))| Line {
                rules,
                abuse,
                forced,
                p: policy.model_probability(&c.input()).unwrap_or(0.0),
                spam: c.label == Some(Label::Spam),
            })
            .collect()
    };

    // Optional: other training settings to compare (L2, learning rate, epochs).
    let mut cfg = TrainConfig::default();
    if let Some(x) = args.get(2).and_then(|a| a.parse().ok()) {
        cfg.l2 = x;
    }
    if let Some(x) = args.get(3).and_then(|a| a.parse().ok()) {
        cfg.learning_rate = x;
    }
    if let Some(x) = args.get(4).and_then(|a| a.parse().ok()) {
        cfg.epochs = x;
    }
    eprintln!("training with {cfg:?}");
    let english_training = videos
        .iter()
        .filter(|_| !id_only)
        .flat_map(|v| v.cases.iter());
    let m = Arc::new(train(
        &examples(inner.iter().copied().chain(english_training)),
        &cfg,
        &mut |_| {},
    ));
    let id_lines = screen(&mut policy, m, &tune);
    let mut en_lines = Vec::new();
    for vi in 0..videos.len() {
        let others = videos
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != vi && !id_only)
            .flat_map(|(_, v)| v.cases.iter());
        let m = Arc::new(train(
            &examples(inner.iter().copied().chain(others)),
            &cfg,
            &mut |_| {},
        ));
        let test: Vec<&Case> = videos[vi].cases.iter().collect();
        en_lines.extend(screen(&mut policy, m, &test));
    }

    // (spam precision, spam recall, ham held or spam, ham spam, precision of held or spam)
    let measure = |lines: &[Line], rules: &[(Threshold, f64, f64)]| {
        let (mut tp, mut fp, mut fn_, mut ham, mut ham_spam, mut ham_flagged) =
            (0usize, 0, 0, 0, 0, 0);
        let mut raw_tp = 0usize;
        for l in lines {
            let mut s = l.rules;
            for (t, score, max) in rules {
                s += bounded_score(l.p, *t, *score, *max).unwrap_or(0.0);
            }
            let mut o = if s >= th.spam {
                Outcome::Spam
            } else if s >= th.hold {
                Outcome::Hold
            } else {
                Outcome::Accept
            };
            if let Some(f) = l.forced {
                o = o.max(f);
            }
            let spam_verdict = o >= Outcome::Spam || s - l.abuse >= th.hold;
            match (l.spam, spam_verdict) {
                (true, true) => tp += 1,
                (true, false) => fn_ += 1,
                (false, true) => fp += 1,
                _ => {}
            }
            raw_tp += usize::from(l.spam && o >= Outcome::Hold);
            if !l.spam {
                ham += 1;
                ham_flagged += usize::from(o >= Outcome::Hold);
                ham_spam += usize::from(o >= Outcome::Spam);
            }
        }
        (
            tp as f64 / (tp + fp).max(1) as f64,
            tp as f64 / (tp + fn_).max(1) as f64,
            ham_flagged as f64 / ham.max(1) as f64,
            ham_spam as f64 / ham.max(1) as f64,
            raw_tp as f64 / (raw_tp + ham_flagged).max(1) as f64,
        )
    };
    let base = measure(&id_lines, &[]);
    let base_en = measure(&en_lines, &[]);
    println!("rules only: Indonesian TUNE {base:.4?}; English by video {base_en:.4?}");
    // MODEL_SPAM cannot hold a comment alone (its max_score stays under the hold threshold);
    // MODEL_SPAM_SURE adds the rest when the model is nearly certain.
    let mut found = Vec::new();
    for min_p in [0.3, 0.4, 0.5, 0.6, 0.7] {
        for score in [1.0, 2.0, 3.0] {
            for max in [3.0, 4.0, 4.5, 4.9] {
                for sure_p in [0.9, 0.95, 0.98, 0.99, 0.995, 0.999] {
                    for sure in [0.5, 1.0, 2.0, 3.0] {
                        for ham in [
                            (0.005, -1.0, -3.0),
                            (0.01, -1.0, -3.0),
                            (0.005, 0.0, -2.0),
                            (0.005, 0.0, 0.0),
                        ] {
                            let rules = [
                                (Threshold::AtLeast(min_p), score, max),
                                (Threshold::AtLeast(sure_p), sure, sure),
                                (Threshold::AtMost(ham.0), ham.1, ham.2),
                            ];
                            let i = measure(&id_lines, &rules);
                            let e = measure(&en_lines, &rules);
                            if i.0 >= 0.98
                                && i.2 <= 0.03
                                && i.3 <= 0.005
                                && e.4 >= 0.98
                                && e.1 >= 0.88
                            {
                                found.push((
                                    i.1 + 0.25 * e.1,
                                    (min_p, score, max),
                                    (sure_p, sure),
                                    ham,
                                    i,
                                    e,
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "best combinations (Indonesian TUNE and English by video: P, R, ham flagged, ham spam, precision of held or spam):"
    );
    for (_, sr, sure, hr, i, e) in found.iter().take(400) {
        println!(
            "MODEL_SPAM {sr:?} MODEL_SPAM_SURE {sure:?} MODEL_NOT_SPAM {hr:?}: ID {i:.4?} EN {e:.4?}"
        );
    }
}
