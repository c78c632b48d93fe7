//! Every verdict of the policy (with its model, and with the model switched off) on labelled
//! files, one JSON line per comment, for checking that a change meant only to be faster leaves
//! every verdict as it was: run it before and after and `diff` the outputs. The aggregate
//! figures of `saring policy eval` can stay the same while single verdicts move; this cannot.
//!
//! ```text
//! cargo run --release --example policy_verdicts -- FILE... > verdicts.jsonl
//! cargo run --release --example policy_verdicts -- \
//!     ../shared/datasets/indonesian-judol/judol-youtube-dev.jsonl \
//!     ../shared/datasets/youtube-spam-collection/*.csv tests/data/policy-cases.jsonl
//! ```
//!
//! The policy is `policies/` (or `SARING_POLICY_DIR`). Each line holds the file, the case's line,
//! whether the model was on, the model's exact probability (its `f64` bits: the same features give
//! the same bits), and the whole verdict (outcome, score, every hit with its span,
//! matched text and the model's evidence).

use std::io::Write;
use std::path::{Path, PathBuf};

use saring::policy::cli::read_cases;
use saring::policy::{Policy, ScreenInput};

fn main() {
    let files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        eprintln!("usage: policy_verdicts FILE...");
        std::process::exit(2);
    }
    let dir = std::env::var("SARING_POLICY_DIR").unwrap_or_else(|_| "policies".into());
    let with = Policy::load(Path::new(&dir)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut without = Policy::load(Path::new(&dir)).expect("loads twice");
    without.set_model(None);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for file in &files {
        let cases = read_cases(file).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        for (i, c) in cases.iter().enumerate() {
            let input = ScreenInput {
                body: &c.body,
                author_name: &c.author_name,
                author_email: &c.author_email,
                author_url: c.author_url.as_deref(),
                ..Default::default()
            };
            for (model, policy) in [(true, &with), (false, &without)] {
                // The probability in full, not only the rounded score it gives.
                let p = policy.model_probability(&input).map(f64::to_bits);
                let line = serde_json::json!({
                    "file": name,
                    "case": i + 1,
                    "model": model,
                    "p_bits": p,
                    "verdict": policy.screen(&input),
                });
                if writeln!(out, "{line}").is_err() {
                    std::process::exit(1);
                }
            }
        }
    }
    if out.flush().is_err() {
        std::process::exit(1);
    }
}
