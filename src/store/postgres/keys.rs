//! The sealing keys of a PostgreSQL store (`crate::privacy::keys`), in two tables of the same
//! database as the log (`saring_author_keys`, `saring_day_keys`, schema version 3), so every
//! replica seals and opens with the same keys and an erasure on one replica holds for all.
//!
//! Key creation is an `INSERT … ON CONFLICT DO NOTHING` followed by a read, in one
//! transaction: two replicas making the first key of one author at once both get the row
//! that won. A transaction's commit is durable (PostgreSQL's `synchronous_commit`, on by
//! default) before the key is handed out, so before the event sealed with it is appended.

use deadpool_postgres::Pool;

use super::{pg_err, pool_err, with_timeout};
use crate::privacy::keys::Owner;
use crate::store::StoreError;

fn table(owner: &Owner) -> (&'static str, &'static str, &str) {
    match owner {
        Owner::Author(a) => ("saring_author_keys", "author", a),
        Owner::Day(d) => ("saring_day_keys", "day", d),
    }
}

/// Reads the keys of these owners, making the missing ones from `fresh` (a key id and key per
/// owner, in order), in one transaction. Returns each owner's key id and key bytes.
pub(crate) async fn get_or_make(
    pool: &Pool,
    owners: &[Owner],
    fresh: Vec<(String, Vec<u8>)>,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    with_timeout(async {
        let mut client = pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let mut out = Vec::with_capacity(owners.len());
        let now = chrono::Utc::now().timestamp();
        for (owner, (id, key)) in owners.iter().zip(fresh) {
            let (table, column, name) = table(owner);
            let insert = format!(
                "INSERT INTO {table} ({column}, key_id, key, created) VALUES ($1, $2, $3, $4)
                 ON CONFLICT ({column}) DO NOTHING"
            );
            tx.execute(&insert, &[&name, &id, &key, &now])
                .await
                .map_err(pg_err)?;
            let select = format!("SELECT key_id, key FROM {table} WHERE {column} = $1");
            let row = tx.query_one(&select, &[&name]).await.map_err(pg_err)?;
            out.push((row.get(0), row.get(1)));
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(out)
    })
    .await
}

/// The key bytes of those key ids (authors' or days') that were not deleted, in one query.
pub(crate) async fn find_many(
    pool: &Pool,
    key_ids: &[String],
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let rows = client
            .query(
                "SELECT key_id, key FROM saring_author_keys WHERE key_id = ANY($1)
                 UNION ALL SELECT key_id, key FROM saring_day_keys WHERE key_id = ANY($1)",
                &[&key_ids],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    })
    .await
}

/// Whether an author digest has a key.
pub(crate) async fn has_author(pool: &Pool, author: &str) -> Result<bool, StoreError> {
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let row = client
            .query_opt(
                "SELECT 1 FROM saring_author_keys WHERE author = $1",
                &[&author],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.is_some())
    })
    .await
}

/// Deletes the rows the statement selects (`DELETE … RETURNING key_id`) and vacuums the table,
/// so the dead rows' space is marked for reuse at once rather than at the next autovacuum.
async fn delete(
    pool: &Pool,
    statement: &str,
    param: &str,
    table: &str,
) -> Result<Vec<String>, StoreError> {
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let rows = client.query(statement, &[&param]).await.map_err(pg_err)?;
        let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if !ids.is_empty() {
            client
                .batch_execute(&format!("VACUUM {table}"))
                .await
                .map_err(pg_err)?;
        }
        Ok(ids)
    })
    .await
}

/// Deletes an author digest's key and returns its id, if there was one.
pub(crate) async fn delete_author(pool: &Pool, author: &str) -> Result<Option<String>, StoreError> {
    let ids = delete(
        pool,
        "DELETE FROM saring_author_keys WHERE author = $1 RETURNING key_id",
        author,
        "saring_author_keys",
    )
    .await?;
    Ok(ids.into_iter().next())
}

/// Deletes the keys of the days before `first_kept` (`YYYY-MM-DD`) and returns their ids.
pub(crate) async fn delete_days_before(
    pool: &Pool,
    first_kept: &str,
) -> Result<Vec<String>, StoreError> {
    delete(
        pool,
        "DELETE FROM saring_day_keys WHERE day < $1 RETURNING key_id",
        first_kept,
        "saring_day_keys",
    )
    .await
}

/// The days that have a key (`YYYY-MM-DD`), oldest first.
pub(crate) async fn days(pool: &Pool) -> Result<Vec<String>, StoreError> {
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let rows = client
            .query("SELECT day FROM saring_day_keys ORDER BY day", &[])
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    })
    .await
}

/// The number of author keys.
pub(crate) async fn count_authors(pool: &Pool) -> Result<u64, StoreError> {
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let row = client
            .query_one("SELECT count(*) FROM saring_author_keys", &[])
            .await
            .map_err(pg_err)?;
        let n: i64 = row.get(0);
        Ok(n.max(0) as u64)
    })
    .await
}
