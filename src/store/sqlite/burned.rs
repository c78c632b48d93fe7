//! Burnt captcha tokens in the embedded database, so that a token answered wrongly stays refused
//! after a restart (see [`crate::captcha::Captcha::verify_and_burn`]).
//!
//! As on PostgreSQL (`store::burned_pg`) this is state with an expiry, not a fact, so it is a
//! plain table rather than events: `captcha_burned(nonce BLOB PRIMARY KEY, expires_at INTEGER)`
//! (Unix milliseconds, the token's own expiry), created by the schema migration to version 2.
//! Rows past their expiry are ignored by every query and deleted by the next burn once
//! [`PURGE_EVERY`] has passed, so the table holds at most the wrong answers of one token
//! lifetime, which the per-address captcha limit bounds.
//!
//! A burn is written by the store's one writer thread, in the same transaction (and fsync) as the
//! appends waiting with it, so it never contends with the writer for SQLite's write lock; a
//! lookup is one primary-key read on a reader connection.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Inner, Message, db_err};
use crate::captcha::SharedBurnedTokens;
use crate::store::StoreError;

/// Least time between two deletions of expired rows, in milliseconds.
pub const PURGE_EVERY: i64 = 10_000;

/// One burn travelling to the writer thread.
pub(super) struct BurnRequest {
    pub(super) nonce: [u8; 16],
    pub(super) expires_ms: i64,
    pub(super) now_ms: i64,
    pub(super) reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// The writer's side: records one burn inside the open transaction and answers whether the
/// token had been burnt already; deletes expired rows when `purge_due`.
pub(super) fn write_burn(
    conn: &Connection,
    req: &BurnRequest,
    purge_due: bool,
) -> Result<bool, rusqlite::Error> {
    if purge_due {
        conn.prepare_cached("DELETE FROM captcha_burned WHERE expires_at <= ?1")?
            .execute(params![req.now_ms])?;
    }
    let prior: Option<i64> = conn
        .prepare_cached("SELECT expires_at FROM captcha_burned WHERE nonce = ?1")?
        .query_row(params![&req.nonce[..]], |r| r.get(0))
        .optional()?;
    conn.prepare_cached(
        "INSERT INTO captcha_burned (nonce, expires_at) VALUES (?1, ?2) \
         ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at",
    )?
    .execute(params![&req.nonce[..], req.expires_ms])?;
    Ok(prior.is_some_and(|expires| expires > req.now_ms))
}

/// The burnt-token table of one embedded store, as the captcha sees it.
pub(super) struct SqliteBurnedTokens {
    pub(super) inner: Arc<Inner>,
}

#[async_trait]
impl SharedBurnedTokens for SqliteBurnedTokens {
    async fn is_burned(&self, nonce: &[u8; 16], now_ms: i64) -> Result<bool, StoreError> {
        let nonce = *nonce;
        self.inner
            .with_reader(move |conn| {
                conn.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM captcha_burned \
                     WHERE nonce = ?1 AND expires_at > ?2)",
                )
                .and_then(|mut stmt| stmt.query_row(params![&nonce[..], now_ms], |r| r.get(0)))
                .map_err(db_err)
            })
            .await
    }

    async fn burn(
        &self,
        nonce: &[u8; 16],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let sender = self.inner.sender.lock().clone().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Message::Burn(BurnRequest {
                nonce: *nonce,
                expires_ms,
                now_ms,
                reply,
            }))
            .await
            .map_err(|_| StoreError::Closed)?;
        drop(sender);
        answer.await.map_err(|_| StoreError::Closed)?
    }
}
