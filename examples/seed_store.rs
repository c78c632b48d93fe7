//! Bulk seeding for measurements: appends N submitted comments straight to the SQLite event
//! store of a data folder (no HTTP, no captcha), over a number of threads, with ~300-character
//! Indonesian bodies like `loadgen`'s. The events are the ones the service writes for a
//! submission (the decider's events, encoded by the service's codec, with the actor and one
//! correlation id per comment in the metadata); with `--policies` each comment is screened by
//! that policy, so its verdict (rules, descriptions, version) is the one the server would store.
//!
//! Fast because batched: `--batch` comments are appended at once, so the store's writer thread
//! commits them in a few group transactions (one fsync each), while the next batch is built.
//! Start the server on the folder afterwards: its first start folds the log into
//! `projections.sqlite3`; later starts open that file.
//!
//! ```text
//! cargo run --release --example seed_store -- --data-dir ./data-1m --comments 1000000 \
//!     --threads 50000 --batch 1024 --policies policies
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta};
use clap::Parser;
use saring::captcha::comment_id_from_nonce;
use saring::domain::comment::{self, CommentCommand, CommentState, SubmitContext};
use saring::domain::{ClientFacts, Submission, comment_stream};
use saring::policy::{Outcome, Policy, Verdict, body_fingerprint};
use saring::service::codec::encode_command;
use saring::service::screen_input;
use saring::store::{EventStore, ExpectedRevision, NewEvent, sqlite::SqliteStore};
use uuid::Uuid;

/// Comments one run may ask for.
const MAX_COMMENTS: u64 = 20_000_000;

/// Comments one batch may hold (the store's writer commits at most 2,048 appends at once).
const MAX_BATCH: u64 = 8192;

/// Batches built or being committed at once.
const IN_FLIGHT: usize = 3;

/// Progress is printed every so many comments.
const REPORT_EVERY: u64 = 100_000;

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
    /// Comments appended at once (the store commits them in group transactions).
    #[arg(long, default_value_t = 1024)]
    batch: u64,
    /// Screen every comment with the policy in this folder (e.g. `policies`), as the server
    /// would; without it each verdict is an accept with no rules, version `seed`.
    #[arg(long)]
    policies: Option<PathBuf>,
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

/// One comment's events, encoded as the service encodes them (one correlation id per command,
/// the actor in the metadata), ready to append to its new stream.
fn comment_events(
    i: u64,
    args: &Args,
    policy: Option<&Policy>,
) -> anyhow::Result<(String, Vec<NewEvent>)> {
    let submitted_at = DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap_or_default();
    // Made as the server makes it, from a captcha's nonce and issue time (its 4 s solve before
    // the submission), so a seeded store's id index is ordered as a real one's.
    let id = comment_id_from_nonce(
        Uuid::new_v4().as_bytes(),
        submitted_at - TimeDelta::milliseconds(4000),
    );
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
        submitted_at,
        erased: false,
    };
    let (verdict, fingerprint) = match policy {
        // What the server's filter would write for this comment (no history: a first comment).
        Some(p) => {
            let ip = submission.client.ip.parse().ok();
            let verdict = p.screen(&screen_input(&submission, ip, None, None));
            (verdict, body_fingerprint(&submission.body))
        }
        None => (
            Verdict {
                outcome: Outcome::Accept,
                score: 0.0,
                rules: vec![],
                policy_version: "seed".into(),
            },
            i,
        ),
    };
    let events = comment::decide(
        &CommentState::default(),
        CommentCommand::Submit {
            submission: Box::new(submission),
            verdict: Box::new(verdict),
            fingerprint,
            context: SubmitContext {
                thread_closed: false,
                parent: None,
            },
        },
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let encoded = encode_command(&events)?;
    Ok((comment_stream(id), encoded))
}

/// Builds and appends comments `from..to`, every append in flight at once, so the store's
/// writer commits them in a few group transactions (one fsync each) instead of one each.
async fn seed_batch(
    store: Arc<SqliteStore>,
    args: Arc<Args>,
    policy: Option<Arc<Policy>>,
    from: u64,
    to: u64,
) -> anyhow::Result<()> {
    let comments = (from..to)
        .map(|i| comment_events(i, &args, policy.as_deref()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let appends = comments.into_iter().map(|(stream, events)| {
        let store = store.clone();
        async move {
            store
                .append(&stream, ExpectedRevision::NoStream, events)
                .await
        }
    });
    futures::future::try_join_all(appends).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    anyhow::ensure!(
        args.comments <= MAX_COMMENTS,
        "at most {MAX_COMMENTS} comments"
    );
    anyhow::ensure!(
        (1..=MAX_BATCH).contains(&args.batch),
        "--batch must be 1 to {MAX_BATCH}"
    );
    let policy = match &args.policies {
        Some(dir) => Some(Arc::new(Policy::load(dir)?)),
        None => None,
    };
    std::fs::create_dir_all(&args.data_dir)?;
    let store = Arc::new(SqliteStore::open(&args.data_dir)?);
    let start = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    let mut next_report = REPORT_EVERY;
    let mut from = 0;
    while from < args.comments {
        let to = (from + args.batch).min(args.comments);
        // A few batches in flight: one being built on a worker while others are committed.
        while running.len() >= IN_FLIGHT {
            running.join_next().await.transpose()?.transpose()?;
        }
        running.spawn(seed_batch(
            store.clone(),
            args.clone(),
            policy.clone(),
            from,
            to,
        ));
        from = to;
        if from >= next_report {
            next_report += REPORT_EVERY;
            eprintln!(
                "{from} comments, {:.0}/s",
                from as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    while let Some(done) = running.join_next().await {
        done??;
    }
    store.close();
    eprintln!(
        "seeded {} comments in {:.1} s ({:.0}/s)",
        args.comments,
        start.elapsed().as_secs_f64(),
        args.comments as f64 / start.elapsed().as_secs_f64().max(1e-9)
    );
    Ok(())
}
