//! Screening time of a 500-character comment with and without the learned model, interleaved in
//! one process and taking the best of many rounds, so a busy shared machine disturbs the
//! comparison less than it disturbs criterion's separate runs.
//!
//! ```text
//! cargo run --release --example policy_speed -- [ROUNDS]
//! ```

use std::hint::black_box;
use std::time::Instant;

use saring::policy::{Policy, ScreenInput};

fn chars(s: &str, n: usize) -> String {
    s.chars().cycle().take(n).collect()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let with = Policy::load(std::path::Path::new("policies")).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut without = Policy::load(std::path::Path::new("policies")).expect("loads twice");
    without.set_model(None);
    let bodies = [
        (
            "Indonesian ham",
            chars(
                "Saya setuju dengan tulisan ini. Jalan di kampung kami juga rusak parah sejak musim hujan tahun lalu, dan sampai sekarang belum ada perbaikan dari dinas. Semoga pemerintah daerah membaca berita ini dan segera turun tangan, karena warga sudah lama menunggu. ",
                500,
            ),
        ),
        (
            "English ham",
            chars(
                "I read the whole report and the numbers in the second chart do not add up; the council should publish the raw data so readers can check it themselves. Still, thanks to the reporter for following this story for so long. ",
                500,
            ),
        ),
        (
            "news talk",
            chars(
                "Polisi menggerebek markas judi online di Medan, korban judol makin banyak. Burung murai saya gacor, slot parkir penuh, depo kereta dipindah. ",
                500,
            ),
        ),
        (
            "styled spam",
            chars(
                "𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖 bikin hari makin berwarna, wd terus! s l o t  g.a.c.o.r link alternatif https://heylink.me/garuda88 ",
                500,
            ),
        ),
        (
            "link spam",
            chars(
                "Nice article, thanks for sharing! https://cheap-seo.example.xyz/page?id=1 visit www.example-loans.online and wa.me/6281234567890 ",
                500,
            ),
        ),
    ];
    println!("| comment (500 chars) | rules only | rules + model | per second with the model |");
    println!("|---|---|---|---|");
    const N: u32 = 500;
    for (name, body) in &bodies {
        let input = ScreenInput {
            body,
            author_name: "Pembaca Setia",
            author_email: "pembaca@example.com",
            ..Default::default()
        };
        let (mut best_with, mut best_without) = (f64::MAX, f64::MAX);
        for _ in 0..rounds {
            let t = Instant::now();
            for _ in 0..N {
                black_box(without.screen(black_box(&input)));
            }
            best_without = best_without.min(t.elapsed().as_secs_f64() / f64::from(N));
            let t = Instant::now();
            for _ in 0..N {
                black_box(with.screen(black_box(&input)));
            }
            best_with = best_with.min(t.elapsed().as_secs_f64() / f64::from(N));
        }
        println!(
            "| {name} | {:.1} µs | {:.1} µs | {:.0} |",
            best_without * 1e6,
            best_with * 1e6,
            1.0 / best_with
        );
    }
}
