//! Background threads that yield the CPU to requests.
//!
//! A thread whose work nobody waits for (the WAL checkpointers) lowers its own scheduling
//! priority (a higher nice value, per thread on Linux) at its start, so that while requests
//! want the CPU the kernel runs the request workers first and gives the background the rest.
//! Nothing is skipped: the background work only runs later. Threads on a request's path stay
//! at the workers' priority: the follower's fold (a post's `201` waits for it) and the key
//! thread (it makes the keys posts seal with); lowering the fold cost posts a fifth of their
//! rate under mixed load (docs/loadtest.md, "Reads while the follower folds a backlog").

use std::sync::atomic::{AtomicI32, Ordering};

/// How far above the process's own nice value background threads go by default
/// (`SARING_BACKGROUND_NICE`). At 10 a background thread gets about a tenth of the CPU a
/// request worker gets while both want it (the kernel's weights for nice 10 and nice 0 are
/// 110 and 1024), and all it wants while the workers are idle.
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
    #[test]
    fn a_background_thread_lowers_its_own_priority_and_leaves_other_threads_alone() {
        let mine = this_thread_nice().expect("/proc/thread-self/stat");
        let lowered = (mine + nice()).min(19);
        let seen = std::thread::Builder::new()
            .name("saring-bg-test".into())
            .spawn(|| {
                lower_this_thread();
                (this_thread_nice(), thread_nices())
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(seen.0, Some(lowered));
        assert!(
            seen.1.contains(&("saring-bg-test".to_string(), lowered)),
            "{:?}",
            seen.1
        );
        assert_eq!(
            this_thread_nice(),
            Some(mine),
            "the spawning thread keeps its priority"
        );
    }
}
