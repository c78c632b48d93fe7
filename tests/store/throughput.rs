//! A quick appends-per-second figure for SQLite and PostgreSQL side by side, with 1, 8 and 64
//! writers. Ignored by default (it measures, it does not check); run with
//! `cargo test --test store throughput -- --ignored --nocapture` (with `SARING_TEST_PG` set to
//! include PostgreSQL). `benches/store.rs` has the release-build figures for SQLite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use saring::store::conformance::Store;
use saring::store::{ExpectedRevision, NewEvent};
use serde_json::json;

const RUN: Duration = Duration::from_secs(3);

async fn appends_per_second(store: Store, writers: u64) -> f64 {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < RUN {
                let e = NewEvent::new(
                    "CommentSubmitted",
                    json!({ "n": n, "body": "Tinggalkan balasan: semoga cepat surut." }),
                );
                store
                    .append(
                        &format!("tp-{run}-{w}-{n}"),
                        ExpectedRevision::NoStream,
                        vec![e],
                    )
                    .await
                    .expect("append");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("writer");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn throughput() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite: Store =
        Arc::new(saring::store::sqlite::SqliteStore::open(dir.path()).expect("open"));
    let pg: Option<Store> =
        match crate::conformance::postgres_test_database("postgres throughput").await {
            Some(url) => Some(Arc::new(
                saring::store::postgres::PostgresStore::connect(&url)
                    .await
                    .expect("connect"),
            )),
            None => None,
        };
    for writers in [1, 8, 64] {
        let s = appends_per_second(Arc::clone(&sqlite), writers).await;
        let p = match &pg {
            Some(pg) => format!("{:.0}", appends_per_second(Arc::clone(pg), writers).await),
            None => "skipped".into(),
        };
        println!("THROUGHPUT writers={writers} sqlite={s:.0}/s postgres={p}/s");
    }
}
