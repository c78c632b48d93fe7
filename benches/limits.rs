//! Cost of the checks every submission passes before the store: rate limits, captcha, client
//! address. Run with `cargo bench --bench limits`.

use std::hint::black_box;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use saring::captcha::{Captcha, CaptchaConfig, solve_question};
use saring::clientip::{client_ip, parse_trusted};
use saring::i18n::Lang;
use saring::limits::{Limiters, LimitsConfig, Rate};

fn addr(i: u32) -> IpAddr {
    IpAddr::from((0x0A00_0000 + i).to_be_bytes())
}

fn limits(c: &mut Criterion) {
    // Every limit on, but generous enough that the pass path is what is measured.
    let generous = Rate::per(1_000_000, 1);
    let cfg = LimitsConfig {
        per_address: generous,
        per_subnet: generous,
        per_network: generous,
        per_email: generous,
        per_thread: generous,
        global: generous,
        captcha_per_address: generous,
        report_per_address: generous,
        max_keys: 10_000_000,
    };
    let limiters = Limiters::new(&cfg);
    let emails: Vec<String> = (0..100_000)
        .map(|i| format!("Reader{i}@Example.id"))
        .collect();
    let mut i = 0u32;
    c.bench_function("check_comment/pass, 100k distinct keys", |b| {
        b.iter(|| {
            i = (i + 1) % 100_000;
            let email = &emails[i as usize];
            black_box(limiters.check_comment(addr(i), email, "kendal/123")).ok();
        })
    });

    let defaults = Limiters::new(&LimitsConfig::default());
    let _ = defaults.check_comment(addr(1), "a@b.id", "t");
    c.bench_function("check_comment/refused by address (defaults)", |b| {
        b.iter(|| black_box(defaults.check_comment(addr(1), "a@b.id", "t")).is_err())
    });

    c.bench_function("retain_recent/100k live keys", |b| {
        // Slow enough that no key goes stale during the run: every sweep scans them all.
        let l = Limiters::new(&LimitsConfig {
            captcha_per_address: Rate::per(1, 3600),
            ..cfg.clone()
        });
        for i in 0..100_000 {
            let _ = l.check_captcha(addr(i));
        }
        assert_eq!(l.key_counts().captcha, 100_000);
        b.iter(|| l.retain_recent())
    });
}

fn captcha(c: &mut Criterion) {
    let captcha = Captcha::new(
        vec![9; 32],
        CaptchaConfig::default(),
        saring::http::messages::sum_words,
    );
    let now = DateTime::<Utc>::from_timestamp(1_764_300_000, 0).unwrap_or_default();
    let mut rng = StdRng::seed_from_u64(1);
    c.bench_function("captcha/issue", |b| {
        b.iter(|| black_box(captcha.issue(now, Some("kendal/123"), Lang::Id, &mut rng)))
    });
    let challenge = captcha.issue(now, Some("kendal/123"), Lang::Id, &mut rng);
    let answer = solve_question(&challenge.question).unwrap_or(0).to_string();
    c.bench_function("captcha/verify", |b| {
        b.iter(|| black_box(captcha.verify(&challenge.token, &answer, "kendal/123", now)).is_ok())
    });
}

fn clientip(c: &mut Criterion) {
    let trusted = parse_trusted("10.0.0.0/8, 127.0.0.1, ::1").unwrap_or_default();
    let peer: IpAddr = [10, 0, 0, 3].into();
    c.bench_function("client_ip/3 hops", |b| {
        b.iter(|| {
            black_box(client_ip(
                peer,
                &["1.1.1.1, 198.51.100.7", "10.0.0.2"],
                &trusted,
            ))
        })
    });
}

criterion_group!(benches, limits, captcha, clientip);
criterion_main!(benches);
