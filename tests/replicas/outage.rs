//! PostgreSQL stopped for about ten seconds under load, then started again: the replicas answer
//! `503 store_unavailable` (a JSON error) meanwhile, recover without a restart, and every
//! acknowledged comment is there afterwards on both. Needs `PG_THROWAWAY_DIR` (the throw-away
//! cluster of `scripts/pg-throwaway.sh`), since the test stops and starts that server itself.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::replica::*;

/// How long the database stays away.
const OUTAGE: Duration = Duration::from_secs(10);

fn pg_throwaway(command: &str, dir: &str) {
    let status = std::process::Command::new(manifest_dir().join("scripts/pg-throwaway.sh"))
        .args([command, dir])
        .status()
        .expect("run scripts/pg-throwaway.sh");
    assert!(status.success(), "pg-throwaway.sh {command} failed");
}

#[derive(Default)]
struct Tally {
    acked: Vec<String>,
    unavailable: [usize; 2],
    other: Vec<String>,
}

/// One reader posting through `replica` (0 or 1) until `stop` is set.
async fn writer(
    base: String,
    client: reqwest::Client,
    replica: usize,
    n: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    use std::sync::atomic::Ordering;
    let thread = "berita-padam";
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let c: Value = client
            .get(format!("{base}/api/v1/captcha?thread={thread}"))
            .send()
            .await
            .expect("captcha")
            .json()
            .await
            .expect("captcha json");
        let answer = solve(c["question"].as_str().expect("question"));
        let resp = client
            .post(format!("{base}/api/v1/threads/{thread}/comments"))
            .json(&json!({
                "author_name": "Pembaca", "author_email": format!("padam{n}-{i}@contoh.id"),
                "body": format!("{HAM} Saat padam {n}-{i}."),
                "captcha_token": c["token"], "captcha_answer": answer.to_string(),
            }))
            .send()
            .await
            .expect("post");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        {
            let mut t = tally.lock();
            match status {
                StatusCode::CREATED => t.acked.push(v["id"].as_str().expect("id").to_string()),
                StatusCode::SERVICE_UNAVAILABLE
                    if v["error"]["code"] == "store_unavailable"
                        && v["error"]["message"]
                            .as_str()
                            .is_some_and(|m| !m.is_empty()) =>
                {
                    t.unavailable[replica] += 1;
                }
                _ => t.other.push(format!("{status} {v}")),
            }
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // A client backing off as `Retry-After` asks (shortened), not a synchronisation.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_is_503_then_recovers_without_losing_comments() {
    let Ok(cluster) = std::env::var("PG_THROWAWAY_DIR") else {
        eprintln!(
            "SKIPPED: the database outage test: start a cluster with \
             `eval \"$(scripts/pg-throwaway.sh start)\"` (sets PG_THROWAWAY_DIR and SARING_TEST_PG)"
        );
        return;
    };
    let _gate = PG_GATE.write().await;
    let Some(db) = fresh_database("the database outage").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let replicas = [
        Replica::start(&db, &dir.path().join("a"), None),
        Replica::start(&db, &dir.path().join("b"), None),
    ];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let app = &replicas[n % 2].app;
            tokio::spawn(writer(
                app.base.clone(),
                app.client.clone(),
                n % 2,
                n,
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    eventually("comments are acknowledged before the outage", || async {
        (tally.lock().acked.len() >= 20).then_some(())
    })
    .await;

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || pg_throwaway("halt", &c))
        .await
        .expect("halt");
    let down = tokio::time::Instant::now();
    eventually(
        "both replicas answer 503 while the database is away",
        || async {
            let t = tally.lock();
            (t.unavailable[0] > 0 && t.unavailable[1] > 0).then_some(())
        },
    )
    .await;
    // Reads are served from the projections in memory meanwhile.
    let (status, _) = replicas[0]
        .app
        .get("/api/v1/threads/berita-padam/comments")
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep_until(down + OUTAGE).await; // the length of the outage, not a wait for an event
    let acked_before_restart = tally.lock().acked.len();
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || pg_throwaway("resume", &c))
        .await
        .expect("resume");

    eventually("both replicas accept comments again", || async {
        let acked = tally.lock().acked.len();
        (acked >= acked_before_restart + 20).then_some(())
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let t = std::mem::take(&mut *tally.lock());
    assert!(
        t.other.is_empty(),
        "answers other than 201 and 503: {:?}",
        t.other
    );
    let acked = t.acked;
    eprintln!(
        "outage: {} comments acknowledged, {} / {} answers 503 on the two replicas",
        acked.len(),
        t.unavailable[0],
        t.unavailable[1]
    );
    for r in &replicas {
        let app = &r.app;
        let mut found = eventually("every acknowledged comment is shown", || async {
            let ids = all_thread_ids(app, "berita-padam").await;
            let pending = all_queue_ids(app, "pending").await;
            let all: Vec<String> = ids.into_iter().chain(pending).collect();
            acked.iter().all(|id| all.contains(id)).then_some(all)
        })
        .await;
        found.sort();
        let before = found.len();
        found.dedup();
        assert_eq!(before, found.len(), "a comment is shown twice");
    }
}
