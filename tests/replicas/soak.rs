//! Many writers across two replicas: every acknowledged comment ends up exactly once in both
//! replicas' views, and subscribers on the database see every global position exactly once, in
//! order. A short run is part of `cargo test`; the 60-second run of issue 12 is ignored by default:
//! `cargo test --test replicas soak_60s -- --ignored --nocapture`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use reqwest::StatusCode;
use saring::store::EventStore;
use saring::store::postgres::PostgresStore;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::replica::*;

const WRITERS: usize = 64;
const THREADS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    soak(Duration::from_secs(6)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "60 s; run with --ignored"]
async fn soak_60s() {
    soak(Duration::from_secs(60)).await;
}

/// One acknowledged comment: its id and the status the poster was told.
#[derive(Debug, Clone)]
struct Ack {
    id: String,
    status: String,
}

/// Posts through the whole reader flow until `until`; every answer must be `201`.
async fn writer(
    base: String,
    client: reqwest::Client,
    n: usize,
    until: tokio::time::Instant,
    acks: Arc<Mutex<Vec<Ack>>>,
) {
    let thread = format!("soak-{}", n % THREADS);
    let mut i = 0u64;
    while tokio::time::Instant::now() < until {
        i += 1;
        let c: Value = client
            .get(format!("{base}/api/v1/captcha?thread={thread}"))
            .send()
            .await
            .expect("captcha request")
            .json()
            .await
            .expect("captcha json");
        let answer = solve(c["question"].as_str().expect("question"));
        let resp = client
            .post(format!("{base}/api/v1/threads/{thread}/comments"))
            .json(&json!({
                "author_name": format!("Penulis {n}"),
                "author_email": format!("penulis{n}-{i}@contoh.id"),
                "body": format!("{HAM} Catatan {n} nomor {i}."),
                "captcha_token": c["token"], "captcha_answer": answer.to_string(),
            }))
            .send()
            .await
            .expect("post");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "writer {n}: {v}");
        acks.lock().push(Ack {
            id: v["id"].as_str().expect("id").to_string(),
            status: v["status"].as_str().expect("status").to_string(),
        });
    }
}

/// Collects the positions a subscription delivers until it has reached `stop` (set at the end).
async fn follower(store: Arc<PostgresStore>, stop: tokio::sync::watch::Receiver<u64>) -> Vec<u64> {
    let mut events = store.subscribe_all(0).await.expect("subscribe");
    let mut seen = Vec::new();
    loop {
        let target = *stop.borrow();
        if target > 0 && seen.last().is_some_and(|p| *p >= target) {
            return seen;
        }
        tokio::select! {
            Some(e) = events.next() => seen.push(e.expect("event").position),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// The highest global position stored: positions are dense from 1, so also the event count.
async fn last_position(db: &str) -> u64 {
    let (client, conn) = tokio_postgres::connect(db, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(conn);
    let last: i64 = client
        .query_one("SELECT COALESCE(MAX(position), 0) FROM saring_events", &[])
        .await
        .expect("max position")
        .get(0);
    drop(client);
    let _ = driver.await;
    u64::try_from(last).expect("positive")
}

async fn soak(length: Duration) {
    let _gate = PG_GATE.read().await;
    let Some(db) = fresh_database("soak on two replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let replicas = [
        Replica::start(&db, &dir.path().join("a"), None),
        Replica::start(&db, &dir.path().join("b"), None),
    ];
    // Two subscribers of our own on the same database, beside the replicas' followers.
    let store = Arc::new(PostgresStore::connect(&db).await.expect("connect"));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(0u64);
    let followers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(follower(store.clone(), stop_rx.clone())))
        .collect();

    let acks = Arc::new(Mutex::new(Vec::new()));
    let until = tokio::time::Instant::now() + length;
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let r = &replicas[n % 2].app;
            tokio::spawn(writer(
                r.base.clone(),
                r.client.clone(),
                n,
                until,
                acks.clone(),
            ))
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let acks = acks.lock().clone();
    assert!(!acks.is_empty());

    // Every event is stored: the last position is the number of events.
    let last = last_position(&db).await;
    let _ = stop_tx.send(last);
    for (i, f) in followers.into_iter().enumerate() {
        let seen = f.await.expect("follower");
        let want: Vec<u64> = (1..=last).collect();
        assert!(
            seen == want,
            "subscriber {i} skipped or repeated a position ({} seen, last {last})",
            seen.len()
        );
    }

    for (name, r) in ["a", "b"].iter().zip(&replicas) {
        let app = &r.app;
        eventually(
            "the replica's follower reaches the last position",
            || async { (position(app).await >= last).then_some(()) },
        )
        .await;
        let mut found: HashMap<String, Vec<&str>> = HashMap::new();
        for t in 0..THREADS {
            for id in all_thread_ids(app, &format!("soak-{t}")).await {
                found.entry(id).or_default().push("published");
            }
        }
        for queue in ["pending", "spam"] {
            for id in all_queue_ids(app, queue).await {
                found.entry(id).or_default().push(queue);
            }
        }
        for ack in &acks {
            let places = found.get(&ack.id).map(Vec::as_slice).unwrap_or_default();
            // The poster sees spam as pending; moderators see which.
            let right_place = match ack.status.as_str() {
                "published" => places == ["published"],
                _ => places == ["pending"] || places == ["spam"],
            };
            assert!(
                right_place,
                "replica {name}: acknowledged comment {} ({}) found as {places:?}",
                ack.id, ack.status
            );
        }
        assert_eq!(
            found.len(),
            acks.len(),
            "replica {name} shows comments nobody posted"
        );
    }
    eprintln!(
        "soak: {} comments acknowledged by two replicas in {length:?}, {last} events",
        acks.len()
    );
}
