//! Many writers on shared and separate streams through two store handles (two replicas' worth of
//! connections on PostgreSQL), several subscribers: every subscriber sees every acknowledged event
//! exactly once, all in one and the same global order.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use saring::store::conformance::Store;
use saring::store::{ExpectedRevision, NewEvent, RecordedEvent};
use serde_json::json;
use uuid::Uuid;

const WRITERS: u64 = 24;
const APPENDS_PER_WRITER: u64 = 60;
const SHARED_STREAMS: u64 = 3;
const SUBSCRIBERS: usize = 4;
const DEADLINE: Duration = Duration::from_secs(120);

async fn many_writers_and_subscribers(a: Store, b: Store) {
    let run = Uuid::new_v4().simple().to_string();
    // Subscribers start before the writers, from the beginning, on both handles.
    let mut subscriptions = Vec::new();
    for i in 0..SUBSCRIBERS {
        let store = if i % 2 == 0 { &a } else { &b };
        subscriptions.push(store.subscribe_all(0).await.expect("subscribe"));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = if w % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let run = run.clone();
        writers.push(tokio::spawn(async move {
            let own = format!("conc-{run}-own-{w}");
            let mut acked = Vec::new();
            let mut own_next = ExpectedRevision::NoStream;
            for i in 0..APPENDS_PER_WRITER {
                let event = NewEvent::new("Written", json!({ "w": w, "i": i }));
                let id = event.id;
                if i % 2 == 0 {
                    let r = store
                        .append(&own, own_next, vec![event])
                        .await
                        .expect("append to own stream");
                    own_next = ExpectedRevision::Exact(r.next_revision);
                } else {
                    let shared = format!("conc-{run}-shared-{}", i % SHARED_STREAMS);
                    store
                        .append(&shared, ExpectedRevision::Any, vec![event])
                        .await
                        .expect("append to shared stream");
                }
                acked.push(id);
            }
            acked
        }));
    }
    let mut acked: HashSet<Uuid> = HashSet::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    let total = (WRITERS * APPENDS_PER_WRITER) as usize;
    assert_eq!(acked.len(), total);

    let mut orders: Vec<Vec<RecordedEvent>> = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    for (n, mut sub) in subscriptions.into_iter().enumerate() {
        let mut seen = Vec::new();
        let mut ids = HashSet::new();
        while seen.len() < total {
            let event = tokio::time::timeout_at(deadline, sub.next())
                .await
                .unwrap_or_else(|_| panic!("subscriber {n} saw {} of {total}", seen.len()))
                .expect("subscription ended")
                .expect("subscription failed");
            if !event.stream.starts_with(&format!("conc-{run}-")) {
                continue;
            }
            assert!(
                ids.insert(event.id),
                "subscriber {n} saw {} twice",
                event.id
            );
            assert!(
                acked.contains(&event.id),
                "subscriber {n} saw an unknown event"
            );
            if let Some(last) = seen.last() {
                let last: &RecordedEvent = last;
                assert!(
                    last.position < event.position,
                    "subscriber {n} went backwards"
                );
            }
            seen.push(event);
        }
        orders.push(seen);
    }
    let first: Vec<Uuid> = orders[0].iter().map(|e| e.id).collect();
    for (n, order) in orders.iter().enumerate().skip(1) {
        let ids: Vec<Uuid> = order.iter().map(|e| e.id).collect();
        assert_eq!(
            ids, first,
            "subscriber {n} saw another order than subscriber 0"
        );
    }
    // The stored order is the same one, and every stream's revisions are dense.
    let mut stored = Vec::new();
    let mut next = orders[0][0].position;
    loop {
        let page = a.read_all(next, 1000).await.expect("read_all");
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        stored.extend(
            page.into_iter()
                .filter(|e| e.stream.starts_with(&format!("conc-{run}-"))),
        );
    }
    let stored_ids: Vec<Uuid> = stored.iter().map(|e| e.id).collect();
    assert_eq!(
        stored_ids, first,
        "read_all order differs from the subscribers'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_many_writers_and_subscribers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Store =
        Arc::new(saring::store::sqlite::SqliteStore::open(dir.path()).expect("open"));
    many_writers_and_subscribers(Arc::clone(&store), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_many_writers_and_subscribers() {
    let Some(url) = crate::conformance::postgres_test_database("postgres concurrency").await else {
        return;
    };
    // Two stores on one database: two writer tasks competing for the append lock, as two
    // replicas do.
    let a: Store = Arc::new(
        saring::store::postgres::PostgresStore::connect(&url)
            .await
            .expect("connect"),
    );
    let b: Store = Arc::new(
        saring::store::postgres::PostgresStore::connect(&url)
            .await
            .expect("connect"),
    );
    many_writers_and_subscribers(a, b).await;
}
