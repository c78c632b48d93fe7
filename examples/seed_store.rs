//! Bulk seeding for measurements: appends N submitted-and-published comments straight to the
//! SQLite event store of a data folder (no HTTP, no captcha), over a number of threads, with
//! ~300-character Indonesian bodies like `loadgen`'s. Start the server on the folder afterwards:
//! its first start folds the log into `projections.sqlite3`; later starts load that file.
//!
//! ```text
//! cargo run --release --example seed_store -- --data-dir ./data-1m --comments 1000000
//! ```

use std::path::PathBuf;
use std::time::Instant;

use chrono::DateTime;
use clap::Parser;
use saring::domain::comment::{self, CommentCommand, CommentState, SubmitContext};
use saring::domain::{ClientFacts, Submission, comment_stream};
use saring::policy::{Outcome, Verdict};
use saring::store::{EventStore, ExpectedRevision, sqlite::SqliteStore};
use uuid::Uuid;

/// Comments one run may ask for.
const MAX_COMMENTS: u64 = 20_000_000;

/// Command-line options.
#[derive(Parser, Debug)]
struct Args {
    /// The data folder (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Comments to append.
    #[arg(long, default_value_t = 100_000)]
    comments: u64,
    /// Threads to spread them over.
    #[arg(long, default_value_t = 50_000)]
    threads: u64,
}

const WORDS: &[&str] = &[
    "jalan",
    "desa",
    "harga",
    "beras",
    "pasar",
    "warga",
    "pemerintah",
    "banjir",
    "sekolah",
    "guru",
    "rumah",
    "sakit",
    "kota",
    "listrik",
    "air",
    "bersih",
    "petani",
    "nelayan",
    "bupati",
    "anggaran",
    "semoga",
    "cepat",
    "diperbaiki",
    "terima",
    "kasih",
    "beritanya",
    "bagus",
];

fn body(i: u64) -> String {
    let mut s = format!("Komentar {i}: ");
    let mut x = i
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while s.len() < 300 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s.push_str(WORDS[(x >> 33) as usize % WORDS.len()]);
        s.push(' ');
    }
    s.trim_end().to_string() + "."
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.comments <= MAX_COMMENTS,
        "at most {MAX_COMMENTS} comments"
    );
    std::fs::create_dir_all(&args.data_dir)?;
    let store = SqliteStore::open(&args.data_dir)?;
    let start = Instant::now();
    for i in 0..args.comments {
        let id = Uuid::new_v4();
        let submission = Submission {
            comment_id: id,
            thread: format!("berita-{}", i % args.threads.max(1)),
            parent_id: None,
            author_name: format!("Pembaca {}", i % 5000),
            author_email: format!("pembaca{}@contoh.id", i % 20_000),
            author_url: None,
            body: body(i),
            client: ClientFacts {
                ip: format!("10.{}.{}.{}", (i >> 16) % 256, (i >> 8) % 256, i % 256),
                user_agent: Some("Mozilla/5.0 (seed)".into()),
            },
            captcha_solve_ms: 4000,
            pow: None,
            known_reader: None,
            lang: saring::i18n::Lang::Id,
            submitted_at: DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap_or_default(),
            erased: false,
        };
        let events = comment::decide(
            &CommentState::default(),
            CommentCommand::Submit {
                submission: Box::new(submission),
                verdict: Box::new(Verdict {
                    outcome: Outcome::Accept,
                    score: 0.0,
                    rules: vec![],
                    policy_version: "seed".into(),
                }),
                fingerprint: i,
                context: SubmitContext {
                    thread_closed: false,
                    parent: None,
                },
            },
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let encoded = events
            .iter()
            .map(saring::service::codec::encode)
            .collect::<Result<Vec<_>, _>>()?;
        store
            .append(&comment_stream(id), ExpectedRevision::NoStream, encoded)
            .await?;
        if (i + 1) % 100_000 == 0 {
            eprintln!(
                "{} comments, {:.0}/s",
                i + 1,
                (i + 1) as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "seeded {} comments in {:.1} s",
        args.comments,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
