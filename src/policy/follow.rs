//! Policy reloads that reach every replica. Each activation is a `PolicyActivated` event in the
//! log; a replica that sees the log's version move to one it does not run reloads its own policy
//! folder, and if that still gives another version it says so (a warning, and the gauge
//! `saring_policy_drift` at 1) instead of running something else silently.
//!
//! The event carries the version (a hash of the files), not the files: a policy folder holds
//! word lists and a model file of several megabytes, the folder stays the one place an operator
//! edits and checks (`saring policy check`), and a replica never runs rules it cannot show on its
//! own disk. So every replica needs the same files (a shared volume, or the same deployment),
//! and the log tells each when to read them again.

use std::sync::Arc;

use tokio::sync::watch;

use super::reload::PolicyHandle;

/// The gauge: 1 while this replica runs a policy other than the log's last activation, which
/// its own folder could not reproduce; 0 otherwise.
pub const DRIFT_GAUGE: &str = "saring_policy_drift";

/// What one look at the log's policy version calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing new: the log shows what was seen last time.
    Wait,
    /// The log shows the version in force here.
    InStep,
    /// The log moved to another version: read the folder again.
    Reload(String),
}

/// Decides the step from the version the log shows now, the one it showed at the last look, and
/// the one in force here. Pure, so the rules are tested without a store or files.
///
/// Only a *change* of the log's version triggers a reload: a local edit runs ahead of the log
/// until its own `PolicyActivated` is applied, and must not be undone in the meantime.
pub fn step(logged: Option<&str>, seen: Option<&str>, mine: &str) -> Step {
    match logged {
        None => Step::Wait,
        Some(v) if v == mine => Step::InStep,
        Some(v) if Some(v) != seen => Step::Reload(v.to_owned()),
        Some(_) => Step::Wait,
    }
}

/// Follows the log's policy version for as long as it runs. `applied` changes whenever the
/// projections apply events, `logged` reads the version of the last `PolicyActivated` they
/// hold. Reloads run on the blocking pool (compiling the rules is CPU work).
pub async fn follow_log<F>(handle: Arc<PolicyHandle>, mut applied: watch::Receiver<u64>, logged: F)
where
    F: Fn() -> Option<String> + Send,
{
    metrics::gauge!(DRIFT_GAUGE).set(0.0);
    let mut local = handle.subscribe();
    let mut seen = logged();
    loop {
        if !next_change(&mut applied, &mut local).await {
            return;
        }
        let now = logged();
        let mine = handle.current().version().to_owned();
        match step(now.as_deref(), seen.as_deref(), &mine) {
            Step::Wait => {}
            Step::InStep => metrics::gauge!(DRIFT_GAUGE).set(0.0),
            Step::Reload(want) => reload_towards(&handle, &want).await,
        }
        seen = now;
    }
}

/// Waits for the projections or the local policy to change; false once either side is gone.
async fn next_change(
    applied: &mut watch::Receiver<u64>,
    local: &mut watch::Receiver<Arc<super::Policy>>,
) -> bool {
    tokio::select! {
        r = applied.changed() => r.is_ok(),
        r = local.changed() => r.is_ok(),
    }
}

async fn reload_towards(handle: &Arc<PolicyHandle>, want: &str) {
    let h = handle.clone();
    let result = tokio::task::spawn_blocking(move || h.reload()).await;
    let have = match result {
        Ok(Ok(p)) => p.version().to_owned(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, logged = want, "another replica activated a policy; this replica's folder does not load");
            metrics::gauge!(DRIFT_GAUGE).set(1.0);
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "policy reload task failed");
            return;
        }
    };
    if have == want {
        tracing::info!(
            version = want,
            "policy reloaded: another replica activated it"
        );
        metrics::gauge!(DRIFT_GAUGE).set(0.0);
    } else {
        tracing::warn!(
            logged = want,
            ours = %have,
            "another replica activated a policy this replica's folder does not have: \
             give every replica the same policy files"
        );
        metrics::gauge!(DRIFT_GAUGE).set(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_a_change_of_the_log_to_a_foreign_version_reloads() {
        assert_eq!(step(None, None, "a"), Step::Wait);
        assert_eq!(step(Some("a"), Some("b"), "a"), Step::InStep);
        assert_eq!(step(Some("b"), Some("a"), "a"), Step::Reload("b".into()));
        assert_eq!(step(Some("b"), None, "a"), Step::Reload("b".into()));
        // A local edit ahead of its own event: the log still shows what it showed.
        assert_eq!(step(Some("a"), Some("a"), "new"), Step::Wait);
    }

    proptest! {
        #[test]
        fn a_version_seen_once_never_reloads_twice(logged in "[ab]", mine in "[abc]") {
            // After a look, `seen` is what the log showed: the same log shows nothing new.
            let s = step(Some(&logged), Some(&logged), &mine);
            prop_assert!(matches!(s, Step::Wait | Step::InStep));
        }
    }
}
