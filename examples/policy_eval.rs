//! Reproduces the dataset table in docs/policy.md: the default policy on the YouTube Spam
//! Collection, per video, pooled, deduplicated, and cross-validated by video.
//!
//! ```text
//! cargo run --release --example policy_eval -- ../shared/datasets/youtube-spam-collection [policies] [--misses]
//! ```
//!
//! Cross-validation: the rules are fixed; the one tuned number is the hold threshold. For each
//! video, the threshold with the best F1 (precision at least 0.97) on the other two videos is
//! chosen and the third video is measured at it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use saring::policy::Policy;
use saring::policy::cli::{Scored, metrics, read_cases, screen_all};

const FILES: [&str; 3] = [
    "Youtube01-Psy.csv",
    "Youtube02-KatyPerry.csv",
    "Youtube03-LMFAO.csv",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let misses = args.iter().any(|a| a == "--misses");
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(dir) = pos.first().map(PathBuf::from) else {
        eprintln!("usage: policy_eval DATASET_DIR [POLICY_DIR] [--misses]");
        std::process::exit(2);
    };
    let policy_dir = pos
        .get(1)
        .map_or_else(|| PathBuf::from("policies"), PathBuf::from);
    if !dir.join(FILES[0]).is_file() {
        println!("dataset not found at {}; skipping", dir.display());
        return;
    }
    let policy = match Policy::load(&policy_dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let hold = policy.thresholds().hold;
    println!(
        "policy {} version {} (hold >= {hold})\n",
        policy.name(),
        policy.version()
    );

    let mut all: Vec<(String, Vec<Scored>, Vec<Scored>)> = Vec::new();
    for f in FILES {
        let cases = read_cases(&dir.join(f)).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
        let scored = screen_all(&policy, &cases);
        if misses {
            for (c, s) in cases.iter().zip(&scored) {
                let label_pos = c.label.is_some_and(|l| l.positive());
                if label_pos != s.positive_at(hold) {
                    let ids: Vec<&str> = s.verdict.rules.iter().map(|r| r.id.as_str()).collect();
                    println!(
                        "{} {f}:{} score {} {:?} | {} | {}",
                        if label_pos { "FN" } else { "FP" },
                        c.line,
                        s.verdict.score,
                        ids,
                        c.author_name,
                        c.body.replace('\n', " ")
                    );
                }
            }
        }
        // Deduplicated: the first of each exact CONTENT only.
        let mut seen = HashSet::new();
        let dedup: Vec<Scored> = cases
            .iter()
            .zip(&scored)
            .filter(|(c, _)| seen.insert(c.body.clone()))
            .map(|(_, s)| s.clone())
            .collect();
        all.push((f.trim_end_matches(".csv").to_string(), scored, dedup));
    }

    println!("| set | comments | spam | ham | precision | recall | F1 | FP | FN |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let row = |name: &str, s: &[Scored], th: f64| {
        let m = metrics(s, th);
        let spam = m.tp + m.fn_;
        let ham = m.tn + m.fp;
        println!(
            "| {name} | {} | {spam} | {ham} | {:.3} | {:.3} | {:.3} | {} | {} |",
            spam + ham,
            m.precision,
            m.recall,
            m.f1,
            m.fp,
            m.fn_
        );
    };
    for (name, s, _) in &all {
        row(name, s, hold);
    }
    let pooled: Vec<Scored> = all.iter().flat_map(|(_, s, _)| s.clone()).collect();
    row("**pooled**", &pooled, hold);
    for (name, _, d) in &all {
        row(&format!("{name} (dedup)"), d, hold);
    }
    let pooled_d: Vec<Scored> = all.iter().flat_map(|(_, _, d)| d.clone()).collect();
    row("**pooled (dedup)**", &pooled_d, hold);

    println!("\nCross-validated by video (hold threshold tuned on the other two videos):\n");
    println!(
        "| held-out video | tuned threshold | precision | recall | F1 | precision (dedup) | recall (dedup) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let candidates: Vec<f64> = (4..=20).map(|x| f64::from(x) * 0.5).collect();
    let mut cv_all = Vec::new();
    let mut cv_all_d = Vec::new();
    for i in 0..all.len() {
        let train: Vec<Scored> = all
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (_, s, _))| s.clone())
            .collect();
        let best = candidates
            .iter()
            .copied()
            .map(|t| (t, metrics(&train, t)))
            .filter(|(_, m)| m.precision >= 0.97)
            .max_by(|a, b| a.1.f1.total_cmp(&b.1.f1).then(b.0.total_cmp(&a.0)))
            .map_or(hold, |(t, _)| t);
        let m = metrics(&all[i].1, best);
        let md = metrics(&all[i].2, best);
        println!(
            "| {} | {best:.1} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            all[i].0, m.precision, m.recall, m.f1, md.precision, md.recall
        );
        cv_all.extend(all[i].1.iter().map(|s| (s.clone(), best)));
        cv_all_d.extend(all[i].2.iter().map(|s| (s.clone(), best)));
    }
    let pooled_cv = |v: &[(Scored, f64)]| {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for (s, t) in v {
            let p = s.label.is_some_and(|l| l.positive());
            match (p, s.positive_at(*t)) {
                (true, true) => tp += 1,
                (true, false) => fn_ += 1,
                (false, true) => fp += 1,
                _ => {}
            }
        }
        (
            tp as f64 / (tp + fp).max(1) as f64,
            tp as f64 / (tp + fn_).max(1) as f64,
        )
    };
    let (p, r) = pooled_cv(&cv_all);
    let (pd, rd) = pooled_cv(&cv_all_d);
    println!(
        "| **pooled** | – | {p:.3} | {r:.3} | {:.3} | {pd:.3} | {rd:.3} |",
        2.0 * p * r / (p + r).max(1e-9)
    );
    let _ = Path::new(".");
}
