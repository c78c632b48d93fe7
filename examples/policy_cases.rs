//! Screens a labelled JSON-lines file and prints every case the policy gets wrong.
//!
//! ```text
//! cargo run --example policy_cases -- tests/data/policy-cases.jsonl [POLICY_DIR] [--all]
//! ```

use std::path::PathBuf;

use saring::policy::Policy;
use saring::policy::cli::{read_cases, screen_all};

fn main() {
    let all = std::env::args().any(|a| a == "--all");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(file) = args.first().map(PathBuf::from) else {
        eprintln!("usage: policy_cases FILE [POLICY_DIR]");
        std::process::exit(2);
    };
    let dir = args
        .get(1)
        .map_or_else(|| PathBuf::from("policies"), PathBuf::from);
    let (policy, cases) = match (Policy::load(&dir), read_cases(&file)) {
        (Ok(p), Ok(c)) => (p, c),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let hold = policy.thresholds().hold;
    let mut wrong = 0;
    for (c, s) in cases.iter().zip(screen_all(&policy, &cases)) {
        let want = c.label.is_some_and(|l| l.positive());
        let bad = want != s.positive_at(hold);
        if bad {
            wrong += 1;
        }
        if bad || all {
            let ids: Vec<String> = s
                .verdict
                .rules
                .iter()
                .map(|r| format!("{}{}", r.id, if r.obfuscated { "*" } else { "" }))
                .collect();
            println!(
                "line {}: want {:?} got {:?} score {} {:?} | {} | {}",
                c.line, c.label, s.verdict.outcome, s.verdict.score, ids, c.author_name, c.body
            );
        }
    }
    println!("{wrong} of {} cases wrong", cases.len());
}
