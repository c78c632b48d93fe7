//! `saring policy check|test` until the binary wires them: the same library calls, one line each.
//!
//! ```text
//! cargo run --example policy_cli -- check policies
//! cargo run --example policy_cli -- test policies tests/data/policy-cases.jsonl > verdicts.jsonl
//! ```

use std::path::Path;

use saring::policy::cli;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (stdout, stderr) = (&mut std::io::stdout(), &mut std::io::stderr());
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["check"] => cli::check(Path::new("policies"), stdout),
        ["check", dir] => cli::check(Path::new(dir), stdout),
        ["test", dir, file] => cli::test(Path::new(dir), Path::new(file), stdout, stderr),
        _ => {
            eprintln!("usage: policy_cli check [DIR] | test DIR FILE");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
