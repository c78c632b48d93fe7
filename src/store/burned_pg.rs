//! Burnt captcha tokens in PostgreSQL, shared by every replica on the database: a token answered
//! wrongly on one replica is refused on all (see [`crate::captcha::Captcha::verify_and_burn`]).
//!
//! This is state with an expiry, not a fact, so it is a plain table rather than events:
//! `captcha_burned(nonce bytea PRIMARY KEY, expires_at bigint)` (Unix milliseconds, the token's
//! own expiry), created by the store's schema migration. Rows past their expiry are ignored by
//! every query and deleted by the next burn once [`PURGE_EVERY`] has passed, so the table holds
//! at most the wrong answers of one token lifetime (ten minutes by default), which the
//! per-address captcha limit bounds.

use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use deadpool_postgres::Pool;

use super::StoreError;
use super::postgres::{pg_err, pool_err, with_timeout};
use crate::captcha::SharedBurnedTokens;

/// Least time between two deletions of expired rows by one process, in milliseconds.
pub const PURGE_EVERY: i64 = 10_000;

/// The shared table, reached through the PostgreSQL store's connection pool.
pub struct PgBurnedTokens {
    pool: Pool,
    /// When this process last deleted expired rows (Unix ms); a hint, so a race costs one extra
    /// `DELETE` at most.
    last_purge: AtomicI64,
}

impl std::fmt::Debug for PgBurnedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBurnedTokens").finish_non_exhaustive()
    }
}

impl PgBurnedTokens {
    /// The table behind `pool` (the store has created it).
    pub(crate) fn new(pool: Pool) -> PgBurnedTokens {
        PgBurnedTokens {
            pool,
            last_purge: AtomicI64::new(0),
        }
    }
}

#[async_trait]
impl SharedBurnedTokens for PgBurnedTokens {
    async fn is_burned(&self, nonce: &[u8; 16], now_ms: i64) -> Result<bool, StoreError> {
        with_timeout(async {
            let client = self.pool.get().await.map_err(pool_err)?;
            let stmt = client
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM captcha_burned \
                     WHERE nonce = $1 AND expires_at > $2)",
                )
                .await
                .map_err(pg_err)?;
            let row = client
                .query_one(&stmt, &[&nonce.as_slice(), &now_ms])
                .await
                .map_err(pg_err)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn burn(
        &self,
        nonce: &[u8; 16],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        with_timeout(async {
            let client = self.pool.get().await.map_err(pool_err)?;
            let last = self.last_purge.load(Ordering::Relaxed);
            if now_ms.saturating_sub(last) >= PURGE_EVERY
                && self
                    .last_purge
                    .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                client
                    .execute(
                        "DELETE FROM captcha_burned WHERE expires_at <= $1",
                        &[&now_ms],
                    )
                    .await
                    .map_err(pg_err)?;
            }
            // The CTE's SELECT sees the table as it was before the insert, so it tells whether
            // another attempt had burnt the token already.
            let stmt = client
                .prepare_cached(
                    "WITH prior AS (SELECT expires_at FROM captcha_burned WHERE nonce = $1), \
                     ins AS (INSERT INTO captcha_burned (nonce, expires_at) VALUES ($1, $2) \
                       ON CONFLICT (nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at) \
                     SELECT COALESCE((SELECT expires_at > $3 FROM prior), false)",
                )
                .await
                .map_err(pg_err)?;
            let row = client
                .query_one(&stmt, &[&nonce.as_slice(), &expires_ms, &now_ms])
                .await
                .map_err(pg_err)?;
            Ok(row.get(0))
        })
        .await
    }
}
