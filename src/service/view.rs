//! The in-memory read side: the projections behind a lock, plus the position they have reached
//! so a request can wait until its own write is visible.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::projections::Projections;

/// Shared read side. The lock is a synchronous one on purpose: it is only ever held for a fold
/// step, a lookup or collecting what a batch changed (never for the file), and
/// never across an `.await`.
pub struct View {
    projections: RwLock<Projections>,
    position: watch::Sender<u64>,
    ready: AtomicBool,
}

impl View {
    /// A view starting from the stored projections (or empty ones).
    pub fn new(projections: Projections) -> View {
        let pos = projections.position;
        View {
            projections: RwLock::new(projections),
            position: watch::channel(pos).0,
            ready: AtomicBool::new(false),
        }
    }

    /// Runs `f` with read access.
    pub fn read<T>(&self, f: impl FnOnce(&Projections) -> T) -> T {
        f(&self.projections.read())
    }

    /// Runs `f` with write access and publishes the new position.
    pub fn write<T>(&self, f: impl FnOnce(&mut Projections) -> T) -> T {
        let (out, pos) = {
            let mut p = self.projections.write();
            let out = f(&mut p);
            (out, p.position)
        };
        self.position.send_replace(pos);
        out
    }

    /// The position of the last applied event.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// A receiver that changes whenever events are applied (the policy follower's wake-up).
    pub fn subscribe_position(&self) -> watch::Receiver<u64> {
        self.position.subscribe()
    }

    /// Waits until the projections include `position`, or the timeout passes; returns whether
    /// they do. Lets a POST answer only once the author's own comment is visible to them.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let mut rx = self.position.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the projections have caught up with the log once since start (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the view caught up.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}
