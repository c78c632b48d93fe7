//! A small fixed pool of threads for the read side's blocking work: projection database
//! queries, thread page renders and the policy's screening of a post.
//!
//! Not tokio's blocking pool: that one grows to hundreds of threads under load, and every
//! thread that screens a comment keeps its own regex caches (several MiB with the shipped
//! policy) and allocator heaps, so memory grew with the number of concurrent requests (measured:
//! 31 blocking threads and 270 MiB more after 200 posts by 32 writers). A fixed pool bounds
//! both, and as many threads as the projection database has reader connections keeps every
//! thread busy without queueing for a connection.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Jobs waiting for a thread before callers wait for room (backpressure, bounded memory).
const QUEUE: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

/// Why a job gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The pool has stopped (its owner is being dropped).
    #[error("the read pool has stopped")]
    Stopped,
    /// The job panicked; the panic was logged by the panic hook.
    #[error("a read job panicked")]
    Panicked,
}

/// The pool: a bounded queue and a fixed number of threads taking from it.
pub struct ReadPool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl ReadPool {
    /// A pool of `threads` threads named `saring-read-N`; they end when the pool is dropped.
    pub fn new(threads: usize) -> ReadPool {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        // One receiver shared by the threads: the one holding the lock waits for the next job,
        // the others wait for the lock.
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("saring-read-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().blocking_recv();
                        match job {
                            Some(job) => job(),
                            None => return,
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a read thread"),
            }
        }
        ReadPool {
            jobs: tx,
            threads: started,
        }
    }

    /// Runs `f` on a pool thread and waits for its answer without blocking the async worker
    /// (on tokio's blocking pool if no pool thread could be started).
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = move || {
            // A panic drops `tx`, which answers the caller with `Panicked`.
            if let Ok(out) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                let _ = tx.send(out);
            }
        };
        if self.threads == 0 {
            tokio::task::spawn_blocking(job)
                .await
                .map_err(|_| PoolError::Panicked)?;
        } else {
            self.jobs
                .send(Box::new(job))
                .await
                .map_err(|_| PoolError::Stopped)?;
        }
        rx.await.map_err(|_| PoolError::Panicked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pool_threads_and_a_panic_is_an_error_not_a_lost_thread() {
        let pool = ReadPool::new(2);
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("saring-read-")));
        for _ in 0..3 {
            assert!(matches!(
                pool.run(|| -> u32 { panic!("a failing read") }).await,
                Err(PoolError::Panicked)
            ));
        }
        // Both threads survived the panics.
        let answers = futures::future::join_all((0..8u32).map(|i| pool.run(move || i * 2))).await;
        let answers: Vec<u32> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (0..8).map(|i| i * 2).collect::<Vec<_>>());
    }
}
