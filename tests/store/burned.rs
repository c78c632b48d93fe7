//! The burnt-captcha tables: the one PostgreSQL replicas share (`store::burned_pg`), against a
//! real server: a burn is seen by another store handle (another replica's pool), a second burn
//! reports the first, expired rows stop counting and are deleted by a later burn; and the embedded
//! store's, which must outlive a restart.

use saring::store::EventStore;
use saring::store::burned_pg::PURGE_EVERY;
use saring::store::postgres::PostgresStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burnt_tokens_are_shared_and_expire() {
    let Some(url) = crate::conformance::postgres_test_database("postgres burnt tokens").await
    else {
        return;
    };
    let (one, other) = (
        PostgresStore::connect(&url).await.expect("connect"),
        PostgresStore::connect(&url).await.expect("connect"),
    );
    let (a, b) = (
        one.shared_burned_tokens()
            .expect("PostgreSQL shares burnt tokens"),
        other
            .shared_burned_tokens()
            .expect("PostgreSQL shares burnt tokens"),
    );
    let now = 1_800_000_000_000i64;
    let nonce = [7u8; 16];
    assert!(!b.is_burned(&nonce, now).await.expect("read"));
    assert!(
        !a.burn(&nonce, now + 600_000, now).await.expect("burn"),
        "a first burn"
    );
    assert!(
        b.is_burned(&nonce, now).await.expect("read"),
        "seen by the other replica"
    );
    assert!(
        b.burn(&nonce, now + 600_000, now + 1).await.expect("burn"),
        "burnt already"
    );
    assert!(
        !b.is_burned(&[8u8; 16], now).await.expect("read"),
        "another token is not"
    );
    // At and after its expiry it no longer counts.
    assert!(!a.is_burned(&nonce, now + 600_000).await.expect("read"));
    let later = now + 600_000 + PURGE_EVERY;
    assert!(
        !a.burn(&[9u8; 16], later + 600_000, later)
            .await
            .expect("burn")
    );

    // That burn came after PURGE_EVERY, so it deleted the expired row.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(conn);
    let rows: Vec<Vec<u8>> = client
        .query("SELECT nonce FROM captcha_burned ORDER BY nonce", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec![vec![9u8; 16]]);
    drop(client);
    let _ = driver.await;
}

/// The embedded store keeps its burnt tokens in its database (`store::sqlite::burned`): a burn
/// is seen after the store is closed and opened again, expired rows stop counting and are deleted
/// by a later burn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_keeps_burnt_tokens_across_a_reopen() {
    use saring::store::sqlite::{DB_FILE, SqliteStore, burned::PURGE_EVERY};
    let dir = tempfile::tempdir().expect("temporary folder");
    let now = 1_800_000_000_000i64;
    let nonce = [7u8; 16];
    {
        let store = SqliteStore::open(dir.path()).expect("open");
        let table = store
            .shared_burned_tokens()
            .expect("the embedded store keeps burnt tokens");
        assert!(!table.is_burned(&nonce, now).await.expect("read"));
        assert!(
            !table.burn(&nonce, now + 600_000, now).await.expect("burn"),
            "a first burn"
        );
        assert!(table.is_burned(&nonce, now).await.expect("read"));
        assert!(
            table
                .burn(&nonce, now + 600_000, now + 1)
                .await
                .expect("burn"),
            "burnt already"
        );
        store.close();
        assert!(
            table.burn(&[1u8; 16], now + 600_000, now).await.is_err(),
            "a closed store cannot burn"
        );
    }
    let store = SqliteStore::open(dir.path()).expect("reopen");
    let table = store.shared_burned_tokens().expect("burnt tokens");
    assert!(
        table.is_burned(&nonce, now + 1000).await.expect("read"),
        "still burnt after the restart"
    );
    assert!(
        !table.is_burned(&[8u8; 16], now).await.expect("read"),
        "another token is not"
    );
    // At and after its expiry it no longer counts.
    assert!(!table.is_burned(&nonce, now + 600_000).await.expect("read"));
    let later = now + 600_000 + PURGE_EVERY;
    assert!(
        !table
            .burn(&[9u8; 16], later + 600_000, later)
            .await
            .expect("burn")
    );
    store.close();
    // That burn came after PURGE_EVERY, so it deleted the expired row.
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("raw open");
    let rows: Vec<Vec<u8>> = conn
        .prepare("SELECT nonce FROM captcha_burned ORDER BY nonce")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows, vec![vec![9u8; 16]]);
}
