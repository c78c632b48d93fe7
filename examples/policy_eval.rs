//! The same table as `saring policy eval`, as an example (kept so older notes' commands work):
//! the policy with and without its model on the Indonesian HOLD-OUT split and on the English
//! videos left out one at a time. See `src/policy/eval.rs` for what is measured and how.
//!
//! ```text
//! cargo run --release --example policy_eval -- ../shared/datasets [policies] [--fold-english]
//! ```

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fold = args.iter().any(|a| a == "--fold-english");
    let args: Vec<String> = args.into_iter().filter(|a| !a.starts_with("--")).collect();
    let Some(datasets) = args.first().map(PathBuf::from) else {
        eprintln!("usage: policy_eval DATASETS_DIR [POLICY_DIR]");
        std::process::exit(2);
    };
    let policy = args
        .get(1)
        .map_or_else(|| PathBuf::from("policies"), PathBuf::from);
    let result = saring::policy::eval::evaluate(&datasets, &policy, fold)
        .and_then(|r| saring::policy::eval::write_report(&r, &mut std::io::stdout()));
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
