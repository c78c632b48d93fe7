//! Background threads that yield the CPU to requests.
//!
//! On a small machine the follower folding a backlog, the WAL checkpointers and the key
//! thread can keep more than one core busy; the kernel then shares the cores fairly between
//! them and the async workers, so a request's task, once woken, waits in the run queue behind
//! them for a time slice (docs/loadtest.md, "Reads while the follower folds a backlog").
//! Those threads lower their own scheduling priority (a higher nice value, per thread on
//! Linux) at their start, so the scheduler runs the request workers first and gives the
//! background the rest. Nothing is skipped or dropped: the background work only runs later
//! while requests want the CPU.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;

/// How far above the process's own nice value background threads go by default
/// (`SARING_BACKGROUND_NICE`). At 10 a background thread gets about a tenth of the CPU a
/// request worker gets while both want it (the kernel's weights for nice 10 and nice 0 are
/// 110 and 1024), and all of it while the workers are idle.
pub const DEFAULT_NICE: i32 = 10;

/// The nice increment threads started from now take; process-wide, set once at start.
static NICE: AtomicI32 = AtomicI32::new(DEFAULT_NICE);

/// Sets how far (0 to 19; 0 leaves background threads at the requests' priority) background
/// threads started after this call lower themselves below the thread that starts them.
pub fn set_nice(nice: i32) {
    NICE.store(nice.clamp(0, 19), Ordering::Relaxed);
}

/// How far background threads lower their priority.
pub fn nice() -> i32 {
    NICE.load(Ordering::Relaxed)
}

/// Lowers the calling thread's priority by the background increment (relative, so a server
/// started under `nice` keeps the same gap; capped at 19, the lowest), to be called first
/// thing on a background thread. Only that thread changes (Linux applies `setpriority` to a
/// thread id alone). A failure is logged and the thread runs at the inherited priority:
/// slower requests under load, nothing incorrect.
pub fn lower_this_thread() {
    let step = nice();
    if step == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let me = Some(rustix::thread::gettid());
        let target = getpriority_process(me).map_or(step, |now| (now + step).min(19));
        if let Err(e) = setpriority_process(me, target) {
            tracing::warn!(error = %e, target, "cannot lower a background thread's priority");
        }
    }
}

/// A job for a [`Lane`].
type Job = Box<dyn FnOnce() + Send>;

/// One named background thread at the background priority that runs blocking jobs in turn,
/// for work that would otherwise go to tokio's blocking pool (whose threads also serve
/// requests' blocking work, and so cannot be lowered for one job and raised again: an
/// unprivileged process may not lower a nice value).
#[derive(Debug)]
pub struct Lane {
    jobs: mpsc::Sender<Job>,
    name: String,
}

/// A job gave no result: it panicked, or the lane's thread has ended.
#[derive(Debug, thiserror::Error)]
#[error("a job on the background thread {0:?} panicked or the thread is gone")]
pub struct LaneGone(String);

impl Lane {
    /// Starts the lane's thread under `name`.
    pub fn start(name: &str) -> std::io::Result<Lane> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                lower_this_thread();
                while let Ok(job) = queue.recv() {
                    // A panicking job fails alone (its caller sees `LaneGone`), as a job on
                    // the blocking pool would; the thread goes on with the next.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        Ok(Lane {
            jobs,
            name: name.to_string(),
        })
    }

    /// Runs `job` on the lane's thread and waits (without holding an async worker) for its
    /// result.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LaneGone> {
        let (done, result) = tokio::sync::oneshot::channel();
        let gone = || LaneGone(self.name.clone());
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(job());
            }))
            .map_err(|_| gone())?;
        result.await.map_err(|_| gone())
    }
}

/// The nice value of each of this process's threads, by thread name, from
/// `/proc/self/task/*/stat` (Linux): what the kernel holds, for tests and diagnostics.
pub fn thread_nices() -> Vec<(String, i32)> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| name_and_nice(&t.ok()?.path().join("stat")))
        .collect()
}

/// The calling thread's nice value as the kernel holds it (Linux).
pub fn this_thread_nice() -> Option<i32> {
    name_and_nice(std::path::Path::new("/proc/thread-self/stat")).map(|(_, nice)| nice)
}

/// A thread's name and nice value from its `stat` file.
fn name_and_nice(stat: &std::path::Path) -> Option<(String, i32)> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let name = stat[open + 1..close].to_string();
    // Fields after the name start at the 3rd (state); nice is the 19th.
    let nice = stat[close + 2..]
        .split_whitespace()
        .nth(19 - 3)?
        .parse()
        .ok()?;
    Some((name, nice))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_lane_runs_its_jobs_at_the_background_priority_and_leaves_other_threads_alone() {
        let mine = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let lowered = (mine + DEFAULT_NICE).min(19);
        let lane = Lane::start("saring-lane-ut").unwrap();
        let seen = lane
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen, lowered);
        let nices = thread_nices();
        assert!(
            nices.contains(&("saring-lane-ut".to_string(), lowered)),
            "{nices:?}"
        );
        assert_eq!(
            this_thread_nice(),
            Some(mine),
            "the calling thread keeps its priority"
        );
    }
}
