//! The background indexer of the published queue's text index. The fold's transaction only
//! records which comments' entries in `published_text` are stale (rows of `text_pending`, in
//! the same transaction as the rows and the position); this thread moves them into the index in
//! batches of about a second (or [`GATHER_ROWS`] rows), each in one transaction that also deletes
//! the rows it indexed. So the fold a post's `201` waits for no longer flushes an FTS5 segment per
//! batch (and automerge no longer rewrites them every few batches), and at any moment, a SIGKILL
//! included, `text_pending` plus the index describe the published set: search reads both.

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

/// Pending rows the indexer moves per transaction (so one never holds the writer for long).
pub(crate) const INDEX_BATCH: i64 = 8192;

/// One round of indexing on the writer connection: moves at most [`INDEX_BATCH`] pending rows
/// into the index in one transaction and answers how many are left.
pub(crate) type IndexFn = Box<dyn FnMut(&mut Connection) -> rusqlite::Result<usize> + Send>;

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
    /// (bulk mode: nothing is pending then). `pending` is what the file holds at start. If the
    /// thread cannot start, the fold's own bound ([`super::projection_db`]'s inline indexing)
    /// still keeps the pending rows few.
    pub(crate) fn start(
        writer: Arc<Mutex<Connection>>,
        index: IndexFn,
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
            .spawn(move || run(&theirs, &writer, index, &paused));
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
    writer: &Mutex<Connection>,
    mut index: IndexFn,
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
        match index(&mut writer.lock()) {
            // What is left (rows the fold added meanwhile are in it) is what the next round
            // takes, at once if it is a batch's worth.
            Ok(left) => lock.lock().pending = left,
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
