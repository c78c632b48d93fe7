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
//! appends waiting with it, so it never contends with the writer for SQLite's write lock.
//!
//! A lookup (one for every right answer, so one per comment) is answered from memory: the data
//! folder is locked to one process, so the unexpired rows read once (at the first lookup) plus
//! the burns this process makes are all the table can hold ([`Remembered`]). Only while more
//! than [`REMEMBERED_MAX`] tokens would be remembered does a lookup read the table again (one
//! primary-key read on a reader connection, a hop to the blocking pool), until the ones not
//! remembered have expired.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Inner, Message, db_err};
use crate::captcha::SharedBurnedTokens;
use crate::store::StoreError;

/// Least time between two deletions of expired rows, in milliseconds.
pub const PURGE_EVERY: i64 = 10_000;

/// Burnt tokens remembered at most (about 40 bytes each): ten minutes of wrong answers at 400 a
/// second, beyond what the per-address captcha limit lets through.
pub const REMEMBERED_MAX: usize = 250_000;

/// The unexpired rows of `captcha_burned` as this process knows them (see the module's
/// documentation).
#[derive(Default)]
pub(super) struct Remembered {
    state: parking_lot::Mutex<Known>,
}

struct Known {
    /// Whether the rows written before this process started have been read.
    loaded: bool,
    /// Nonce → expiry (Unix milliseconds).
    nonces: HashMap<[u8; 16], i64>,
    /// Until when some unexpired burn is in the table but not in `nonces` (it was full): until
    /// then a lookup missing here reads the table.
    unsure_until_ms: i64,
    /// No remembered burn expires before this (a lower bound): a full memory is swept only
    /// once one may have.
    earliest_expiry_ms: i64,
    /// When the full memory was last swept, so that a flood of wrong answers arriving while it
    /// is full costs one walk of it per [`PURGE_EVERY`], not one per answer (each walk holds the
    /// lock every right answer's lookup takes).
    swept_ms: Option<i64>,
}

impl Default for Known {
    fn default() -> Self {
        Known {
            loaded: false,
            nonces: HashMap::new(),
            unsure_until_ms: 0,
            earliest_expiry_ms: i64::MAX,
            swept_ms: None,
        }
    }
}

impl Known {
    fn remember(&mut self, nonce: [u8; 16], expires_ms: i64, now_ms: i64) {
        if self.nonces.len() >= REMEMBERED_MAX
            && !self.nonces.contains_key(&nonce)
            && now_ms >= self.earliest_expiry_ms
            && self.swept_ms.is_none_or(|at| now_ms - at >= PURGE_EVERY)
        {
            self.nonces.retain(|_, expires| *expires > now_ms);
            self.earliest_expiry_ms = self.nonces.values().copied().min().unwrap_or(i64::MAX);
            self.swept_ms = Some(now_ms);
        }
        if self.nonces.len() < REMEMBERED_MAX || self.nonces.contains_key(&nonce) {
            let known = self.nonces.entry(nonce).or_insert(expires_ms);
            *known = (*known).max(expires_ms);
            self.earliest_expiry_ms = self.earliest_expiry_ms.min(*known);
        } else {
            self.unsure_until_ms = self.unsure_until_ms.max(expires_ms);
        }
    }

    /// `Some(answer)` when memory knows; `None` when the table must be read.
    fn answer(&self, nonce: &[u8; 16], now_ms: i64) -> Option<bool> {
        if !self.loaded {
            return None;
        }
        if self.nonces.get(nonce).is_some_and(|e| *e > now_ms) {
            return Some(true);
        }
        (now_ms >= self.unsure_until_ms).then_some(false)
    }
}

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
        if let Some(known) = self.inner.burnt.state.lock().answer(nonce, now_ms) {
            return Ok(known);
        }
        if !self.inner.burnt.state.lock().loaded {
            self.load(now_ms).await?;
            if let Some(known) = self.inner.burnt.state.lock().answer(nonce, now_ms) {
                return Ok(known);
            }
        }
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
        // Remembered before it is written, so a right answer with the same token racing this
        // wrong one is refused at least as surely as the table would refuse it.
        self.inner
            .burnt
            .state
            .lock()
            .remember(*nonce, expires_ms, now_ms);
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

impl SqliteBurnedTokens {
    /// Reads the unexpired rows into memory, once (those written before this process started;
    /// its own burns are remembered as they are made).
    async fn load(&self, now_ms: i64) -> Result<(), StoreError> {
        let rows: Vec<([u8; 16], i64)> = self
            .inner
            .with_reader(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT nonce, expires_at FROM captcha_burned WHERE expires_at > ?1",
                    )
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(params![now_ms], |r| {
                        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(db_err)?;
                let mut found = Vec::new();
                for row in rows {
                    let (nonce, expires) = row.map_err(db_err)?;
                    // A nonce of another length is no token of ours: never matched anyway.
                    if let Ok(nonce) = <[u8; 16]>::try_from(nonce.as_slice()) {
                        found.push((nonce, expires));
                    }
                }
                Ok(found)
            })
            .await?;
        let mut known = self.inner.burnt.state.lock();
        if !known.loaded {
            for (nonce, expires) in rows {
                known.remember(nonce, expires, now_ms);
            }
            known.loaded = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_memory_sends_lookups_to_the_table_until_the_unremembered_expire() {
        let mut known = Known {
            loaded: true,
            ..Known::default()
        };
        for i in 0..REMEMBERED_MAX {
            let mut nonce = [0u8; 16];
            nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
            known.remember(nonce, 1_000, 0);
        }
        let late = [0xff; 16];
        known.remember(late, 2_000, 0);
        assert_eq!(known.answer(&[0; 16], 10), Some(true));
        assert_eq!(
            known.answer(&late, 10),
            None,
            "not remembered: ask the table"
        );
        // Once the remembered ones expire, the next burn makes room.
        known.remember(late, 2_000, 1_500);
        assert_eq!(known.answer(&late, 1_600), Some(true));
        assert_eq!(known.answer(&[0xee; 16], 2_000), Some(false));
    }
}
