//! What a comment costs in the event log, by event type.
//!
//! Without `--data-dir` it screens three typical comments (an ordinary one, one held for a
//! link, a gambling spam) with the policy in `--policies`, runs them through the comment
//! decider and encodes their events exactly as the service does (codec, schema version, the
//! actor and one correlation id per command in the metadata), and prints the bytes of each
//! event's data and metadata. With `--data-dir` it reads the log of a data folder (the
//! server stopped, or any copy) and prints, per event type, the count and mean bytes, and the
//! file's bytes per stored comment.
//!
//! ```text
//! cargo run --release --example event_sizes -- --policies policies
//! cargo run --release --example event_sizes -- --data-dir ./data
//! ```

use std::path::PathBuf;

use chrono::DateTime;
use clap::Parser;
use rusqlite::{Connection, OpenFlags};
use saring::domain::comment::{self, CommentCommand, CommentState, SubmitContext};
use saring::domain::{ClientFacts, Submission};
use saring::policy::{Policy, body_fingerprint};
use saring::service::codec::encode;
use saring::service::screen_input;
use saring::store::EventMetadata;
use uuid::Uuid;

/// Command-line options.
#[derive(Parser, Debug)]
struct Args {
    /// The policy folder the sample comments are screened with.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// A data folder whose log (`saring.db`) to measure instead of the samples.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also print each sample event's data.
    #[arg(long)]
    show: bool,
}

/// The sample comments: (label, author name, body).
const SAMPLES: [(&str, &str, &str); 3] = [
    (
        "ordinary",
        "Sari Wulandari",
        "Terima kasih atas beritanya. Semoga jalan desa cepat diperbaiki sebelum musim hujan, \
         warga RT 03 sudah lama menunggu perbaikan itu dan anak-anak harus berjalan memutar ke \
         sekolah setiap pagi.",
    ),
    (
        "held (link)",
        "Budi",
        "Informasi lengkapnya ada di https://blog-warga.example.net/jalan-desa kalau mau baca.",
    ),
    (
        "spam",
        "GARUDA88 resmi",
        "Daftar sekarang di GARUDA88 link alternatif, pasti maxwin, wd 5jt tiap hari! Hubungi \
         wa.me/6281234567890",
    ),
];

/// Bytes the SQLite log stores per event besides data and metadata: the stream name
/// (`comment-<uuid>`, in the row and again in the stream index), the event id, the type name
/// and four integers; an estimate for the samples, measured from the file with `--data-dir`.
fn envelope_bytes(event_type: &str) -> usize {
    let stream = "comment-".len() + 36;
    2 * stream + 16 + event_type.len() + 4 * 8
}

fn samples(args: &Args) -> anyhow::Result<()> {
    let policy = Policy::load(&args.policies)?;
    println!("policy {} ({})", policy.name(), policy.version());
    println!(
        "{:<12} | {:<18} | {:>10} | {:>14} | {:>18}",
        "comment", "event", "data B", "metadata B", "envelope B (est.)"
    );
    for (label, name, body) in SAMPLES {
        let id = Uuid::new_v4();
        let submission = Submission {
            comment_id: id,
            thread: "berita-2026-12-03-jalan-desa".into(),
            parent_id: None,
            author_name: name.into(),
            author_email: "pembaca@contoh.id".into(),
            author_url: None,
            body: body.into(),
            client: ClientFacts {
                ip: "203.0.113.7".into(),
                user_agent: Some(
                    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile".into(),
                ),
            },
            captcha_solve_ms: 5200,
            pow: None,
            known_reader: Some(false),
            lang: saring::i18n::Lang::Id,
            submitted_at: DateTime::from_timestamp(1_764_700_000, 0).unwrap_or_default(),
            erased: false,
        };
        let ip = submission.client.ip.parse().ok();
        let described = policy.screen(&screen_input(&submission, ip, Some(""), None));
        // As the service stores it since schema 3: rule descriptions left to the policy
        // version's PolicyActivated.
        let mut verdict = described.clone();
        verdict.strip_descriptions(|id| policy.description_of(id));
        let inline = serde_json::to_vec(&saring::domain::DomainEvent::CommentScreened {
            verdict: described,
            fingerprint: Some(body_fingerprint(&submission.body)),
            at: submission.submitted_at,
        })?
        .len();
        let fingerprint = body_fingerprint(&submission.body);
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
        let correlation_id = Some(Uuid::new_v4());
        let mut total = 0;
        let mut saved = 0;
        for e in &events {
            let new = encode(e)?.with_metadata(EventMetadata {
                actor: Some(e.actor().label()),
                correlation_id,
                causation_id: None,
            });
            let data = serde_json::to_vec(&new.data)?.len();
            let meta = serde_json::to_vec(&new.metadata)?.len();
            let env = envelope_bytes(&new.event_type);
            total += data + meta + env;
            if new.event_type == "CommentScreened" {
                saved = inline.saturating_sub(data);
            }
            if args.show {
                println!("{}", new.data);
            }
            println!(
                "{label:<12} | {:<18} | {data:>10} | {meta:>14} | {env:>18}",
                new.event_type
            );
        }
        println!(
            "{label:<12} | {:<18} | {total:>10} (data + metadata + envelope; {} with the \
             descriptions inline, as before schema 3)",
            "= comment",
            total + saved
        );
    }
    Ok(())
}

fn from_log(dir: &std::path::Path) -> anyhow::Result<()> {
    let path = dir.join("saring.db");
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT event_type, count(*), sum(length(data)), sum(length(metadata)), \
         sum(length(stream)) FROM events GROUP BY event_type ORDER BY count(*) DESC",
    )?;
    println!(
        "{:<24} | {:>10} | {:>12} | {:>14} | {:>12}",
        "event", "count", "data B mean", "metadata B mean", "stream B mean"
    );
    let mut comments = 0i64;
    let mut payload = 0i64;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (event_type, n, data, meta, stream) = row?;
        if event_type == "CommentSubmitted" || event_type == "CommentImported" {
            comments += n;
        }
        payload += data + meta;
        println!(
            "{event_type:<24} | {n:>10} | {:>12} | {:>14} | {:>12}",
            data / n.max(1),
            meta / n.max(1),
            stream / n.max(1)
        );
    }
    let file: u64 = ["saring.db", "saring.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    let per = |b: f64| b / comments.max(1) as f64;
    println!(
        "{comments} comments: log file {:.0} B/comment, of which event data and metadata {:.0} B",
        per(file as f64),
        per(payload as f64)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match &args.data_dir {
        Some(dir) => from_log(dir),
        None => samples(&args),
    }
}
