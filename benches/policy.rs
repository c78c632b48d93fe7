//! Screening throughput with the default policy on 500-character comments, one core: with its
//! learned model on (`screen_500_chars`, what the service runs), with the model switched off
//! (`screen_500_chars_rules_only`), and the model alone (`model_500_chars`).
//!
//! ```text
//! cargo bench --bench policy
//! ```
//! The bar is 20,000 comments a second (50 µs a comment); docs/policy.md has the measured figure.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use saring::policy::normalize::normalize;
use saring::policy::{Policy, ScreenInput, body_fingerprint};

/// Cuts or repeats `s` to exactly `n` characters.
fn chars(s: &str, n: usize) -> String {
    s.chars().cycle().take(n).collect()
}

fn comments() -> Vec<(&'static str, String)> {
    vec![
        (
            "ham_id",
            chars(
                "Saya setuju dengan tulisan ini. Jalan di kampung kami juga rusak parah sejak musim hujan tahun lalu, dan sampai sekarang belum ada perbaikan dari dinas. Semoga pemerintah daerah membaca berita ini dan segera turun tangan, karena warga sudah lama menunggu. ",
                500,
            ),
        ),
        (
            "ham_en",
            chars(
                "I read the whole report and the numbers in the second chart do not add up; the council should publish the raw data so readers can check it themselves. Still, thanks to the reporter for following this story for so long. ",
                500,
            ),
        ),
        (
            "news_talk",
            chars(
                "Polisi menggerebek markas judi online di Medan, korban judol makin banyak. Burung murai saya gacor, slot parkir penuh, depo kereta dipindah. ",
                500,
            ),
        ),
        (
            "styled_spam",
            chars(
                "𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖 bikin hari makin berwarna, wd terus! s l o t  g.a.c.o.r link alternatif https://heylink.me/garuda88 ",
                500,
            ),
        ),
        (
            "link_spam",
            chars(
                "Nice article, thanks for sharing! https://cheap-seo.example.xyz/page?id=1 visit www.example-loans.online and wa.me/6281234567890 ",
                500,
            ),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = match Policy::load(&root.join("policies")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let all = comments();
    let mut g = c.benchmark_group("screen_500_chars");
    for (name, body) in &all {
        g.throughput(Throughput::Elements(1));
        g.bench_function(*name, |b| {
            b.iter(|| {
                policy.screen(black_box(&ScreenInput {
                    body,
                    author_name: "Pembaca Setia",
                    author_email: "pembaca@example.com",
                    ..Default::default()
                }))
            })
        });
    }
    // The mix: one of each, as a stream of comments.
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("mix", |b| {
        b.iter(|| {
            for (_, body) in &all {
                black_box(policy.screen(&ScreenInput {
                    body,
                    author_name: "Pembaca",
                    author_email: "p@example.com",
                    ..Default::default()
                }));
            }
        })
    });
    g.finish();
    let mut rules_only = match Policy::load(&root.join("policies")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let model = rules_only
        .model()
        .expect("the default policy ships a model");
    rules_only.set_model(None);
    let mut g = c.benchmark_group("screen_500_chars_rules_only");
    g.throughput(Throughput::Elements(1));
    for (name, body) in &all {
        g.bench_function(*name, |b| {
            b.iter(|| {
                rules_only.screen(black_box(&ScreenInput {
                    body,
                    author_name: "Pembaca Setia",
                    author_email: "pembaca@example.com",
                    ..Default::default()
                }))
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("model_500_chars");
    g.throughput(Throughput::Elements(1));
    for (name, body) in &all {
        let n = normalize(body);
        let a = normalize("Pembaca Setia");
        g.bench_function(*name, |b| {
            b.iter(|| {
                model
                    .score(Some((&n, body.as_str())), Some((&a, "Pembaca Setia")))
                    .probability
            })
        });
    }
    g.finish();
    let file = root.join("policies/model/judol.bin");
    c.bench_function("model_load", |b| {
        b.iter(|| saring::policy::model::Model::load(black_box(&file)).expect("loads"))
    });
    c.bench_function("fingerprint_500_chars", |b| {
        b.iter(|| body_fingerprint(black_box(&all[0].1)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
