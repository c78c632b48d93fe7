//! The sealing keys of a PostgreSQL store (`crate::privacy::keys`), in tables of the same
//! database as the log (`saring_author_keys`, `saring_day_keys`, schema version 3, and
//! `saring_body_keys`, schema version 4), so every replica seals and opens with the same keys
//! and an erasure or a purge on one replica holds for all. Body keys are numbered by an
//! identity column (never reused) and made many at a time with one `INSERT … SELECT unnest`.
//!
//! Key creation is an `INSERT … ON CONFLICT DO NOTHING` followed by a read, in one
//! transaction: two replicas making the first key of one author at once both get the row
//! that won. A transaction's commit is durable (PostgreSQL's `synchronous_commit`, on by
//! default) before the key is handed out, so before the event sealed with it is appended.

use deadpool_postgres::Pool;

use super::{pg_err, pool_err, with_timeout};
use crate::privacy::keys::Owner;
use crate::store::StoreError;

fn table(owner: &Owner) -> Option<(&'static str, &'static str, &str)> {
    match owner {
        Owner::Author(a) => Some(("saring_author_keys", "author", a)),
        Owner::Day(d) => Some(("saring_day_keys", "day", d)),
        Owner::Body => None,
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
        let mut body_slots = Vec::new();
        let mut body_fresh: Vec<Vec<u8>> = Vec::new();
        for (owner, (id, key)) in owners.iter().zip(fresh) {
            let Some((table, column, name)) = table(owner) else {
                body_slots.push(out.len());
                body_fresh.push(key);
                out.push((String::new(), Vec::new()));
                continue;
            };
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
        if !body_fresh.is_empty() {
            // Body keys have no owner: which row fills which slot does not matter.
            let rows = tx
                .query(
                    "INSERT INTO saring_body_keys (key) SELECT unnest($1::bytea[])
                     RETURNING id, key",
                    &[&body_fresh],
                )
                .await
                .map_err(pg_err)?;
            for (slot, row) in body_slots.into_iter().zip(rows.iter()) {
                let id: i64 = row.get(0);
                out[slot] = (id.to_string(), row.get(1));
            }
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

/// The body keys of those key ids that were not deleted, in one query.
pub(crate) async fn find_bodies(
    pool: &Pool,
    key_ids: &[String],
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let ids: Vec<i64> = key_ids.iter().filter_map(|id| id.parse().ok()).collect();
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let rows = client
            .query(
                "SELECT id, key FROM saring_body_keys WHERE id = ANY($1)",
                &[&ids],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0).to_string(), r.get(1)))
            .collect())
    })
    .await
}

/// Deletes these body keys and returns the ids of those that existed; vacuums like the
/// other deletions.
pub(crate) async fn delete_bodies(
    pool: &Pool,
    key_ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let ids: Vec<i64> = key_ids.iter().filter_map(|id| id.parse().ok()).collect();
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let rows = client
            .query(
                "DELETE FROM saring_body_keys WHERE id = ANY($1) RETURNING id",
                &[&ids],
            )
            .await
            .map_err(pg_err)?;
        if !rows.is_empty() {
            client
                .batch_execute("VACUUM saring_body_keys")
                .await
                .map_err(pg_err)?;
        }
        Ok(rows
            .iter()
            .map(|r| r.get::<_, i64>(0).to_string())
            .collect())
    })
    .await
}

/// Deletes these author keys by key id and returns the ids of those that existed; vacuums
/// like the other deletions.
pub(crate) async fn delete_author_keys(
    pool: &Pool,
    key_ids: &[String],
) -> Result<Vec<String>, StoreError> {
    with_timeout(async {
        let client = pool.get().await.map_err(pool_err)?;
        let rows = client
            .query(
                "DELETE FROM saring_author_keys WHERE key_id = ANY($1) RETURNING key_id",
                &[&key_ids],
            )
            .await
            .map_err(pg_err)?;
        if !rows.is_empty() {
            client
                .batch_execute("VACUUM saring_author_keys")
                .await
                .map_err(pg_err)?;
        }
        Ok(rows.iter().map(|r| r.get(0)).collect())
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
