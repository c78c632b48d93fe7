//! Hot reload: the policy in force, swapped atomically when its files change.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use parking_lot::Mutex;
use tokio::sync::watch;

use super::{Policy, PolicyError};

/// How long the files must be quiet before a reload: editors write in several steps.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The policy in force, shared by the comment service, the moderator reload endpoint, SIGHUP and
/// the file watcher. Reads are wait-free ([`ArcSwap`]); a broken edit keeps the old policy.
pub struct PolicyHandle {
    dir: PathBuf,
    current: ArcSwap<Policy>,
    /// Tells subscribers (the lead's `PolicyActivated` recorder) about every new version.
    tx: watch::Sender<Arc<Policy>>,
    last_error: Mutex<Option<String>>,
    /// Serialises reloads so two triggers at once cannot activate versions out of order.
    reloading: Mutex<()>,
}

impl std::fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyHandle")
            .field("dir", &self.dir)
            .field("version", &self.current.load().version())
            .finish()
    }
}

impl PolicyHandle {
    /// Loads the policy at `dir` (a folder or a policy file); fails if it is invalid.
    pub fn load(dir: PathBuf) -> Result<Arc<PolicyHandle>, PolicyError> {
        let policy = Arc::new(Policy::load(&dir)?);
        let (tx, _) = watch::channel(policy.clone());
        Ok(Arc::new(PolicyHandle {
            dir,
            current: ArcSwap::new(policy),
            tx,
            last_error: Mutex::new(None),
            reloading: Mutex::new(()),
        }))
    }

    /// The policy in force now.
    pub fn current(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Reads the files again. On success the new policy is in force (subscribers are told if
    /// its version changed) and returned; on error the old policy stays and the error is kept for
    /// [`PolicyHandle::last_error`].
    pub fn reload(&self) -> Result<Arc<Policy>, PolicyError> {
        let _guard = self.reloading.lock();
        match Policy::load(&self.dir) {
            Ok(p) => {
                *self.last_error.lock() = None;
                let old = self.current.load();
                if old.version() == p.version() {
                    return Ok(old.clone());
                }
                let p = Arc::new(p);
                self.current.store(p.clone());
                self.tx.send_replace(p.clone());
                Ok(p)
            }
            Err(e) => {
                *self.last_error.lock() = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// A receiver that sees every newly activated policy.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Policy>> {
        self.tx.subscribe()
    }

    /// The error of the last failed reload, cleared by a successful one.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    /// Watches the policy's folders and reloads (debounced) when a file changes. Reloading
    /// stops when the returned guard is dropped.
    pub fn watch_files(self: &Arc<Self>) -> Result<WatchGuard, PolicyError> {
        let (tx, rx) = mpsc::channel::<()>();
        let watch_err = |e: notify::Error| PolicyError::Watch {
            file: self.dir.clone(),
            message: e.to_string(),
        };
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res
                && !ev.kind.is_access()
            {
                let _ = tx.send(());
            }
        })
        .map_err(watch_err)?;
        let mut dirs: Vec<PathBuf> = self
            .current()
            .files()
            .iter()
            .filter_map(|f| f.parent().map(PathBuf::from))
            .collect();
        if self.dir.is_dir() {
            dirs.push(self.dir.clone());
        }
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            let d = if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d.clone()
            };
            watcher
                .watch(&d, RecursiveMode::NonRecursive)
                .map_err(watch_err)?;
        }
        let weak = Arc::downgrade(self);
        let thread = std::thread::Builder::new()
            .name("policy-watch".into())
            .spawn(move || {
                // Ends when the watcher (and with it the sender) is dropped by the guard.
                while rx.recv().is_ok() {
                    while rx.recv_timeout(DEBOUNCE).is_ok() {}
                    let Some(handle) = weak.upgrade() else { break };
                    match handle.reload() {
                        Ok(p) => tracing::info!(version = p.version(), "policy reloaded"),
                        Err(e) => {
                            tracing::warn!(error = %e, "policy edit refused; old policy stays")
                        }
                    }
                }
            })
            .map_err(|e| PolicyError::Watch {
                file: self.dir.clone(),
                message: e.to_string(),
            })?;
        Ok(WatchGuard {
            _watcher: watcher,
            _thread: thread,
        })
    }
}

/// Keeps the file watcher alive; dropping it stops watching.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
    _thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for WatchGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchGuard")
    }
}
