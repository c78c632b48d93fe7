//! PostgreSQL going away: requests fail as `Unavailable` (the HTTP layer's `503`), and the store
//! recovers by itself, its subscriptions without a gap.

use std::time::Duration;

use futures::StreamExt;
use saring::store::postgres::PostgresStore;
use saring::store::{EventStore, ExpectedRevision, NewEvent, StoreError};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

/// Nothing listens on port 1: connecting is refused, which must read as unavailable (not as a
/// bad request or an internal failure). Runs without a server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_unavailable() {
    match PostgresStore::connect("postgres://saring@127.0.0.1:1/saring").await {
        Err(e @ StoreError::Unavailable { .. }) => {
            assert!(std::error::Error::source(&e).is_some(), "the cause is kept");
        }
        Err(e) => panic!("expected Unavailable, got {e}"),
        Ok(_) => panic!("connected to a closed port"),
    }
}

/// Every connection of the store is killed by the server (as a restart does): appends fail at
/// most for a moment, then succeed without a restart, and a live subscription goes on without
/// a gap or a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_survived() {
    let Some(url) = crate::conformance::postgres_test_database("postgres outage").await else {
        return;
    };
    let admin = std::env::var("SARING_TEST_PG").expect("set when a database was made");
    let db = url.rsplit('/').next().expect("database name").to_string();
    let store = PostgresStore::connect(&url).await.expect("connect");
    let mut sub = store.subscribe_all(0).await.expect("subscribe");
    let mut acked = Vec::new();
    for round in 0..3u64 {
        let r = store
            .append(
                "outage",
                ExpectedRevision::Any,
                vec![NewEvent::new("Before", json!(round))],
            )
            .await
            .expect("append while the database is there");
        acked.push(r.position);
        // Kill every connection to the test database: the pool's, the listener's.
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("admin connection");
        let driver = tokio::spawn(conn);
        client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .await
            .expect("terminate backends");
        drop(client);
        let _ = driver.await;
        // The next append may fail as unavailable (its connection was killed), never otherwise,
        // and succeeds again within the deadline.
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match store
                .append(
                    "outage",
                    ExpectedRevision::Any,
                    vec![NewEvent::new("After", json!(round))],
                )
                .await
            {
                Ok(r) => {
                    acked.push(r.position);
                    break;
                }
                Err(e) if e.is_unavailable() => {
                    assert!(tokio::time::Instant::now() < deadline, "no recovery: {e}");
                    tokio::task::yield_now().await;
                }
                Err(e) => panic!("expected Unavailable while reconnecting, got {e}"),
            }
        }
    }
    let mut seen = Vec::new();
    while seen.len() < acked.len() {
        let e = tokio::time::timeout(DEADLINE, sub.next())
            .await
            .expect("the subscription goes on after the outage")
            .expect("not ended")
            .expect("no error");
        seen.push(e.position);
    }
    assert_eq!(
        seen, acked,
        "the subscription saw every acknowledged event once, in order"
    );
    store.close().await;
}
