//! The shared conformance suite against SQLite (always), and against KurrentDB and PostgreSQL when
//! a server is given (`SARING_TEST_ESDB`, `SARING_TEST_PG`).

use std::sync::Arc;

use saring::store::conformance::{self, Store};
use saring::store::kurrent::KurrentStore;
use saring::store::postgres::{PostgresStore, create_test_database};
use saring::store::sqlite::SqliteStore;

/// A fresh SQLite store in its own temporary folder, kept alive as long as the store.
struct TempStore {
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

fn sqlite_store() -> TempStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("open sqlite store"));
    TempStore { store, _dir: dir }
}

macro_rules! sqlite_checks {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let t = sqlite_store();
                    let store: Store = t.store.clone();
                    if let Err(e) = conformance::$name(store).await {
                        panic!("sqlite: {e}");
                    }
                }
            )*
        }
    };
}

sqlite_checks!(
    ordering,
    concurrent_expected_revision,
    no_stream_is_idempotency,
    stream_exists,
    exact_revision,
    read_stream_from_and_max,
    read_all_from_and_max,
    subscription_catches_up_then_goes_live,
    subscription_resumes_from_checkpoint,
    large_and_non_ascii_events,
    metadata_round_trip,
    invalid_requests,
    stream_limit,
);

/// Every check of the suite is listed above, so a check added later cannot be forgotten here.
#[test]
fn sqlite_runs_every_check() {
    let listed = [
        "ordering",
        "concurrent_expected_revision",
        "no_stream_is_idempotency",
        "stream_exists",
        "exact_revision",
        "read_stream_from_and_max",
        "read_all_from_and_max",
        "subscription_catches_up_then_goes_live",
        "subscription_resumes_from_checkpoint",
        "large_and_non_ascii_events",
        "metadata_round_trip",
        "invalid_requests",
        "stream_limit",
    ];
    let all: Vec<&str> = conformance::checks().iter().map(|c| c.name).collect();
    assert_eq!(
        all, listed,
        "update sqlite_checks! in tests/store/conformance.rs"
    );
}

/// The same suite on one shared store: checks must not depend on an empty store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_shared_store_runs_whole_suite() {
    let t = sqlite_store();
    let store: Store = t.store.clone();
    let result = conformance::run_all(|| {
        let s = Arc::clone(&store);
        async move { s }
    })
    .await;
    if let Err(e) = result {
        panic!("sqlite (shared): {e}");
    }
    assert_eq!(store.backend_name(), "sqlite");
}
/// The server `SARING_TEST_ESDB` names, or `None` after saying `SKIPPED` (to run `what`).
fn esdb(what: &str) -> Option<String> {
    let conn = std::env::var("SARING_TEST_ESDB").ok();
    if conn.is_none() {
        // Straight to stderr: the test harness captures `println!`, and a skip must be seen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: set SARING_TEST_ESDB=esdb://... to run {what}"
        );
    }
    conn
}

/// The suite against a KurrentDB/EventStoreDB server named by `SARING_TEST_ESDB`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kurrentdb_conformance() {
    let Some(conn) = esdb("the EventStoreDB conformance suite") else {
        return;
    };
    // Through sealing, as the service opens it: the suite's events pass the sealed store.
    let store: Store = saring::store::open_store(Some(&conn), std::path::Path::new("."))
        .await
        .expect("connect to SARING_TEST_ESDB");
    assert!(
        store.privacy_keys().is_some(),
        "KurrentDB seals submissions"
    );
    let result = conformance::run_all(|| {
        let s = Arc::clone(&store);
        async move { s }
    })
    .await;
    if let Err(e) = result {
        panic!("kurrentdb: {e}");
    }
}

/// With `SARING_TEST_ESDB`: KurrentDB's key streams are shared by replicas and erased for all
/// (`conformance::shared_keys`), and no read of the log carries a key stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kurrentdb_keys_are_shared_by_replicas_and_erased_for_all() {
    let Some(conn) = esdb("the KurrentDB key store checks") else {
        return;
    };
    use saring::privacy::keys::Keys;
    use saring::store::EventStore;
    use saring::store::kurrent_keys::KurrentKeys;
    let replica = || {
        let log = KurrentStore::connect(&conn).expect("connect to SARING_TEST_ESDB");
        (
            log.clone(),
            Keys::new(Box::new(KurrentKeys::new(log.client()))),
        )
    };
    let ((log, a), (_, b), (_, fresh)) = (replica(), replica(), replica());
    let budi = tokio::task::spawn_blocking(move || {
        conformance::shared_keys(&a, &b, &fresh).unwrap();
        a.key_for("email:budi-kurrent@contoh.id").unwrap().0
    })
    .await
    .unwrap();
    let key_stream = format!("{}{budi}", saring::store::kurrent_keys::KEY_STREAM_PREFIX);
    assert!(
        log.read_stream(&key_stream, 0, 10)
            .await
            .unwrap()
            .is_empty(),
        "the log's reads never carry a key"
    );
    let refused = log
        .append(
            &key_stream,
            saring::store::ExpectedRevision::Any,
            vec![saring::store::NewEvent::new("X", serde_json::json!({}))],
        )
        .await;
    assert!(refused.is_err(), "the event store writes no key stream");
}

/// A store on a fresh database of the server named by `SARING_TEST_PG`, or `None` (after saying
/// `SKIPPED` on stderr) when it is unset.
pub async fn postgres_store(what: &str) -> Option<Arc<PostgresStore>> {
    let url = postgres_test_database(what).await?;
    Some(Arc::new(
        PostgresStore::connect(&url)
            .await
            .expect("connect to the test database"),
    ))
}

/// The URL of a fresh database on the `SARING_TEST_PG` server, or `None` when it is unset.
pub async fn postgres_test_database(what: &str) -> Option<String> {
    let Ok(admin) = std::env::var("SARING_TEST_PG") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {what}: set SARING_TEST_PG=postgres://user@host:port/db to run it"
        );
        return None;
    };
    Some(
        create_test_database(&admin)
            .await
            .expect("create a test database on SARING_TEST_PG"),
    )
}

macro_rules! postgres_checks {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = postgres_store(concat!("postgres ", stringify!($name))).await
                    else {
                        return;
                    };
                    let store: Store = store;
                    if let Err(e) = conformance::$name(store).await {
                        panic!("postgres: {e}");
                    }
                }
            )*
        }
    };
}

postgres_checks!(
    ordering,
    concurrent_expected_revision,
    no_stream_is_idempotency,
    stream_exists,
    exact_revision,
    read_stream_from_and_max,
    read_all_from_and_max,
    subscription_catches_up_then_goes_live,
    subscription_resumes_from_checkpoint,
    large_and_non_ascii_events,
    metadata_round_trip,
    invalid_requests,
    stream_limit,
);

/// The whole suite on one shared PostgreSQL store, as a long-running service would use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_shared_store_runs_whole_suite() {
    let Some(store) = postgres_store("postgres shared store").await else {
        return;
    };
    let store: Store = store;
    let result = conformance::run_all(|| {
        let s = Arc::clone(&store);
        async move { s }
    })
    .await;
    if let Err(e) = result {
        panic!("postgres (shared): {e}");
    }
    assert_eq!(store.backend_name(), "postgres");
}
