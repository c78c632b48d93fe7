//! What sealing costs: appends and reads of `CommentSubmitted` through the embedded store with
//! sealing (as the service opens it) against the bare SQLite store, 64 appends in flight.
//!
//! `cargo run --release --example privacy_cost -- 20000` (figures in docs/privacy.md).

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use saring::store::sqlite::SqliteStore;
use saring::store::{EventStore, ExpectedRevision, NewEvent};
use serde_json::json;

fn submission(i: usize, authors: usize) -> NewEvent {
    let id = uuid::Uuid::new_v4();
    NewEvent::new(
        "CommentSubmitted",
        json!({
            "type": "CommentSubmitted", "comment_id": id, "thread": format!("berita-{}", i % 100),
            "parent_id": null, "author_name": format!("Pembaca {}", i % authors),
            "author_email": format!("pembaca{}@contoh.id", i % authors), "author_url": null,
            "body": "Terima kasih atas beritanya. Semoga jalan desa cepat diperbaiki sebelum musim hujan.",
            "client": {"ip": format!("10.0.{}.{}", (i >> 8) % 256, i % 256), "user_agent": "Mozilla/5.0"},
            "captcha_solve_ms": 4000, "lang": "id", "submitted_at": "2026-12-03T06:00:00Z",
        }),
    )
}

async fn run(store: Arc<dyn EventStore>, n: usize, authors: usize) -> (f64, f64) {
    let start = Instant::now();
    futures::stream::iter((0..n).map(|i| {
        let store = store.clone();
        async move {
            store
                .append(
                    &format!("comment-{i}"),
                    ExpectedRevision::NoStream,
                    vec![submission(i, authors)],
                )
                .await
                .expect("append")
        }
    }))
    .buffer_unordered(64)
    .collect::<Vec<_>>()
    .await;
    let append = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut from = 0;
    let mut read = 0;
    loop {
        let page = store.read_all(from, 4096).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        read += page.len();
    }
    assert_eq!(read, n);
    (append, n as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    for (label, authors) in [
        ("every comment a new author", n),
        ("1,000 returning authors", 1_000),
    ] {
        let bare = tempfile::tempdir().expect("dir");
        let sealed = tempfile::tempdir().expect("dir");
        let (a0, r0) = run(
            Arc::new(SqliteStore::open(bare.path()).expect("open")),
            n,
            authors,
        )
        .await;
        let store = saring::store::open_store(None, sealed.path())
            .await
            .expect("open");
        let (a1, r1) = run(store, n, authors).await;
        println!(
            "{label}: appends/s bare {a0:.0}, sealed {a1:.0}; reads/s bare {r0:.0}, sealed {r1:.0} ({n} comments)"
        );
    }
}
