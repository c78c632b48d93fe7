//! The background indexer of the published queue's text index. The fold's transaction only
//! records which comments' entries in `published_text` are stale (rows of `text_pending`, in
//! the same transaction as the rows and the position); this thread moves them into the index in
//! batches of about a second (or [`GATHER_ROWS`] rows). So the fold a post's `201` waits for
//! no longer flushes an FTS5 segment per batch (and automerge no longer rewrites them every few
//! batches), and at any moment, a SIGKILL included, `text_pending` plus the index describe the
//! published set: search reads both.
//!
//! The index lives in a file of its own, written through its own connection (the one this
//! thread holds while it works), so its rounds and merges never hold the fold's writer; only
//! the short deletion of the pending rows a round took does (`projection_db`'s `text_file`).
//! FTS5's automatic merging is off for the live index: inside a round it merged whole levels of
//! segments in the round's transaction (300–450 ms at 1,000,000 comments). After each round this
//! thread merges in short steps of their own instead, handing the index's connection between
//! steps to a fold that indexes itself (one that found too many rows pending).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;

/// How long the indexer gathers after the first pending row before it indexes.
pub(crate) const GATHER: Duration = Duration::from_secs(1);

/// Pending rows after which the indexer does not wait for the rest of [`GATHER`].
pub(crate) const GATHER_ROWS: usize = 4096;

/// Pending rows the indexer moves per round (so the deletion of the rows taken, on the fold's
/// writer, stays short).
pub(crate) const INDEX_BATCH: i64 = 8192;

/// One round of indexing on the index file's connection: moves at most [`INDEX_BATCH`] pending
/// rows into the index and answers how many are left.
pub(crate) type IndexFn = Box<dyn FnMut(&mut Connection) -> rusqlite::Result<usize> + Send>;

/// One step of merging the index's segments on the index file's connection, in a transaction
/// of its own; answers whether there was anything to merge.
pub(crate) type MergeFn = Box<dyn FnMut(&mut Connection) -> rusqlite::Result<bool> + Send>;

/// What the fold and the indexer share: the rows pending (as far as the fold has said) and
/// whether to stop.
#[derive(Default)]
struct Signal {
    pending: usize,
    stop: bool,
}

/// The indexer's thread, stopped and joined when dropped.
pub(crate) struct TextIndexer {
    shared: Arc<(Mutex<Signal>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl TextIndexer {
    /// Starts the thread, which indexes through `index` whenever rows are pending, skipping rounds while `paused`
    /// (bulk mode: nothing is pending then), and after each round merges through `merge` until
    /// nothing is left to merge. `pending` is what the file holds at start. If the
    /// thread cannot start, the fold's own bound ([`super::projection_db`]'s inline indexing)
    /// still keeps the pending rows few.
    pub(crate) fn start(
        text: Arc<Mutex<Connection>>,
        index: IndexFn,
        merge: MergeFn,
        pending: usize,
        paused: Arc<AtomicBool>,
    ) -> Option<TextIndexer> {
        let shared = Arc::new((
            Mutex::new(Signal {
                pending,
                stop: false,
            }),
            Condvar::new(),
        ));
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("saring-text-indexer".into())
            .spawn(move || run(&theirs, &text, index, merge, &paused));
        match thread {
            Ok(t) => Some(TextIndexer {
                shared,
                thread: Some(t),
            }),
            Err(e) => {
                tracing::warn!("no background text indexer (the fold indexes inline): {e}");
                None
            }
        }
    }

    /// Says that a committed fold left `rows` more pending rows.
    pub(crate) fn wake(&self, rows: usize) {
        let (lock, cv) = &*self.shared;
        let mut s = lock.lock();
        s.pending += rows;
        cv.notify_one();
    }
}

fn run(
    shared: &(Mutex<Signal>, Condvar),
    text: &Mutex<Connection>,
    mut index: IndexFn,
    mut merge: MergeFn,
    paused: &AtomicBool,
) {
    let (lock, cv) = shared;
    loop {
        {
            let mut s = lock.lock();
            cv.wait_while(&mut s, |s| s.pending == 0 && !s.stop);
            if s.stop {
                return;
            }
            let gathered = Instant::now() + GATHER;
            cv.wait_while_until(&mut s, |s| s.pending < GATHER_ROWS && !s.stop, gathered);
            if s.stop {
                return;
            }
        }
        if paused.load(Ordering::Acquire) {
            lock.lock().pending = 0;
            continue;
        }
        // Bound first: a guard in the match's scrutinee would live through its arms, and the
        // merges below take the connection again.
        let indexed = index(&mut text.lock());
        match indexed {
            // What is left (rows the fold added meanwhile are in it) is what the next round
            // takes, at once if it is a batch's worth.
            Ok(left) => {
                lock.lock().pending = left;
                merge_until_done(shared, text, &mut merge);
            }
            Err(e) => {
                tracing::warn!("text indexer failed (retried in a second): {e}");
                let mut s = lock.lock();
                let retry = Instant::now() + GATHER;
                cv.wait_while_until(&mut s, |s| !s.stop, retry);
                if s.stop {
                    return;
                }
            }
        }
    }
}

/// Merges the index's segments one short step at a time, giving the connection up between
/// steps to whoever waits for it (a fold indexing itself), until there is nothing left to
/// merge, a batch's worth of rows is pending, or the thread stops.
fn merge_until_done(
    shared: &(Mutex<Signal>, Condvar),
    text: &Mutex<Connection>,
    merge: &mut MergeFn,
) {
    loop {
        {
            let s = shared.0.lock();
            if s.stop || s.pending >= GATHER_ROWS {
                return;
            }
        }
        let mut conn = text.lock();
        let more = merge(&mut conn);
        // Fair: a fold waiting meanwhile gets the connection before this thread's next step.
        parking_lot::MutexGuard::unlock_fair(conn);
        match more {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!("text index merge failed (tried again after the next round): {e}");
                return;
            }
        }
    }
}

impl Drop for TextIndexer {
    fn drop(&mut self) {
        {
            let (lock, cv) = &*self.shared;
            lock.lock().stop = true;
            cv.notify_one();
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("text indexer thread panicked");
        }
    }
}
