//! Cost of the spam-wave fold on the submission path: the shapes of one body, and folding one
//! submission while the fold tracks its most text shapes (each new body is compared with every
//! one). Run with `cargo bench --bench waves`.

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use saring::projections::waves::{MAX_TEXT_SHAPES, Observation, WaveRules, WaveState};
use uuid::Uuid;

const WORDS: &[&str] = &[
    "jalan",
    "desa",
    "banjir",
    "warga",
    "pemerintah",
    "harga",
    "beras",
    "naik",
    "sekolah",
    "anak",
    "guru",
    "rumah",
    "sakit",
    "dokter",
    "pasar",
    "ikan",
    "nelayan",
    "laut",
    "hujan",
    "musim",
    "panen",
    "padi",
    "petani",
    "kota",
    "bupati",
    "dana",
    "bantuan",
    "cepat",
    "lambat",
    "terima",
    "kasih",
    "berita",
    "semoga",
    "segera",
    "diperbaiki",
    "setuju",
    "tidak",
    "benar",
];

fn body(rng: &mut StdRng) -> String {
    let n = rng.random_range(12..40);
    (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn waves(c: &mut Criterion) {
    let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("valid");
    let mut rng = StdRng::seed_from_u64(7);
    let sample = "Lowongan kerja dari rumah, gaji 3 juta per bulan tanpa pengalaman. Daftar di \
                  https://kerja1.lowongan-cepat.example/info sekarang juga, 𝐆𝐀𝐂𝐎𝐑𝟖𝟖 bonus";
    let hosts = vec!["kerja1.lowongan-cepat.example".to_string()];
    c.bench_function("Observation::of/one 150-character body", |b| {
        b.iter(|| Observation::of(Uuid::nil(), "berita-1", t0, black_box(sample), &hosts))
    });

    let mut state = WaveState::new(WaveRules::default());
    let mut n: u128 = 1;
    for _ in 0..MAX_TEXT_SHAPES {
        let text = body(&mut rng);
        state.observe(&Observation::of(Uuid::from_u128(n), "t", t0, &text, &[]));
        n += 1;
    }
    let bodies: Vec<String> = (0..1_000).map(|_| body(&mut rng)).collect();
    let mut i = 0usize;
    c.bench_function(
        "WaveState::observe/new body against 1,000 text shapes",
        |b| {
            b.iter(|| {
                let obs = Observation::of(
                    Uuid::from_u128(n),
                    "t",
                    t0 + Duration::seconds(1),
                    &bodies[i % bodies.len()],
                    &[],
                );
                n += 1;
                i += 1;
                black_box(state.observe(&obs))
            })
        },
    );
}

criterion_group!(benches, waves);
criterion_main!(benches);
