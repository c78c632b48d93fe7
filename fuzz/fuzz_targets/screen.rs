//! Screening arbitrary bytes (as UTF-8, lossily) with the shipped default policy must never
//! panic. Run from the repository root: `cargo +nightly fuzz run screen`.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use saring::policy::{History, Policy, ScreenInput, body_fingerprint};

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| match Policy::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")) {
        Ok(p) => p,
        Err(e) => panic!("default policy: {e}"),
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Split the input between fields so each is exercised.
    let (a, b) = text.split_at(text.char_indices().nth(text.chars().count() / 3).map_or(0, |(i, _)| i));
    let v = policy().screen(&ScreenInput {
        body: &text,
        author_name: a,
        author_email: b,
        author_url: Some(b),
        user_agent: Some(a),
        honeypot: None,
        solve_time_ms: Some(data.len() as u64),
        client_ip: None,
        history: data.first().map(|&x| History { author_approved: u32::from(x % 4), same_body_threads: u32::from(x / 64), ..Default::default() }),
        pow: None,
    });
    assert!(v.score.is_finite());
    let _ = body_fingerprint(&text);
});
