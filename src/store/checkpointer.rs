//! A background checkpointer for a SQLite file in WAL mode: it copies the write-ahead log into
//! the database file from its own thread and connection, so the writer's commits never run a
//! checkpoint themselves (SQLite otherwise runs one inside the commit that crosses
//! `wal_autocheckpoint`, with its two `fsync`s, and whoever waits for that commit waits for them).
//! Used by the embedded log and by the projection file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` every interval on its connection, until dropped
/// (stopped and joined). PASSIVE never blocks the writer or readers; it copies what it can.
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing through `conn` (a connection of its own to the file) every
    /// `interval`, skipping rounds while `paused` is set. If the thread cannot start, the
    /// writer's own automatic checkpoints still bound the write-ahead log.
    pub(crate) fn start(
        name: &str,
        conn: Connection,
        interval: Duration,
        paused: Arc<AtomicBool>,
    ) -> Checkpointer {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                crate::background::lower_this_thread();
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    if paused.load(Ordering::Acquire) {
                        continue;
                    }
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!("background checkpoint failed: {e}");
                    }
                }
            });
        match thread {
            Ok(t) => Checkpointer {
                stop: Some(stop),
                thread: Some(t),
            },
            Err(e) => Checkpointer::none(&e),
        }
    }

    /// No background checkpointer (its connection could not be opened, or its thread not
    /// started): logged, and the writer's own automatic checkpoints bound the log.
    pub(crate) fn none(why: &dyn std::fmt::Display) -> Checkpointer {
        tracing::warn!("no background checkpointer: {why}");
        Checkpointer {
            stop: None,
            thread: None,
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("checkpoint thread panicked");
        }
    }
}
