//! What the proof of work costs the server and a script, measured in one run:
//! the server's check of a token with and without a stamp, and native solve time per difficulty.
//!
//! cargo run --release --example pow_cost

use std::hint::black_box;
use std::time::Instant;

use chrono::Utc;
use rand::SeedableRng;
use rand::rngs::StdRng;
use saring::captcha::{Attempt, Captcha, CaptchaConfig};
use saring::i18n::Lang;
use saring::pow::{self, Difficulty};

fn main() {
    let captcha = Captcha::new(
        vec![7u8; 32],
        CaptchaConfig::default(),
        saring::http::messages::sum_words,
    );
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(1);
    let ch = captcha.issue_at(
        now,
        Some("t"),
        Lang::En,
        Difficulty { sum: 16, skip: 19 },
        &mut rng,
    );
    let answer = saring::captcha::solve_question(&ch.question)
        .expect("a solvable question")
        .to_string();
    let stamp = pow::solve(&ch.pow.salt, 16).to_string();
    let with = Attempt {
        token: &ch.token,
        answer: &answer,
        stamp: &stamp,
        thread: "t",
        stamp_required: true,
    };
    let without = Attempt {
        stamp: "",
        stamp_required: false,
        ..with
    };
    let n = 200_000;
    let time = |a: &Attempt<'_>| {
        let t = Instant::now();
        for _ in 0..n {
            black_box(captcha.verify_attempt(black_box(a), now).is_ok());
        }
        t.elapsed().as_nanos() as f64 / f64::from(n)
    };
    let (plain, stamped) = (time(&without), time(&with));
    println!(
        "verify without stamp: {plain:.0} ns, with stamp: {stamped:.0} ns ({:.2}x)",
        stamped / plain
    );

    println!("| difficulty | native solve, median of 31 (ms) | hashes/s |");
    println!("|---|---|---|");
    for bits in [12u8, 14, 16, 18] {
        let mut times: Vec<f64> = (0..31)
            .map(|i| {
                let salt = format!("{:032x}", i * 7919 + u32::from(bits));
                let t = Instant::now();
                black_box(pow::solve(&salt, bits));
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        // The median of a geometric count is about ln 2 · 2^bits.
        let rate = std::f64::consts::LN_2 * f64::from(1u32 << bits) / (median / 1000.0);
        println!("| {bits} | {median:.2} | {:.1} M |", rate / 1e6);
    }
}
