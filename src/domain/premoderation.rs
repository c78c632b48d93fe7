//! Pre-moderated threads as a decider: a moderator can hold every new comment of one thread for
//! review (a sensitive article, a court case) and end that again.
//!
//! One stream for all threads ([`PREMODERATION_STREAM`]) rather than a setting in each
//! `thread-<key>` stream, so the service reads one short stream at start instead of every
//! thread's.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::events::{Actor, DomainEvent};

/// The stream of every pre-moderation change.
pub const PREMODERATION_STREAM: &str = "thread-premoderation";

/// Threads pre-moderated at once; far more than a newsroom marks by hand.
pub const MAX_PREMODERATED: usize = 2_000;

/// The folded state: the threads whose new comments are held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PremoderationState {
    /// Thread keys.
    pub threads: BTreeSet<String>,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PremoderationError {
    /// The thread is already in the asked state.
    #[error("the thread is already so")]
    Unchanged,
    /// [`MAX_PREMODERATED`] threads are pre-moderated.
    #[error("too many pre-moderated threads")]
    TooMany,
}

/// Decides whether `thread` becomes pre-moderated (`on`) or not.
pub fn decide(
    state: &PremoderationState,
    thread: &str,
    on: bool,
    moderator: &crate::domain::values::ModeratorName,
    now: DateTime<Utc>,
) -> Result<Vec<DomainEvent>, PremoderationError> {
    if state.threads.contains(thread) == on {
        return Err(PremoderationError::Unchanged);
    }
    if on && state.threads.len() >= MAX_PREMODERATED {
        return Err(PremoderationError::TooMany);
    }
    Ok(vec![DomainEvent::ThreadPremoderationSet {
        thread: thread.to_string(),
        on,
        by: Actor::from(moderator),
        at: now,
    }])
}

/// Folds one event.
pub fn evolve(mut state: PremoderationState, event: &DomainEvent) -> PremoderationState {
    if let DomainEvent::ThreadPremoderationSet { thread, on, .. } = event {
        if *on {
            state.threads.insert(thread.clone());
        } else {
            state.threads.remove(thread);
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_then_off_and_no_repeats() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let s = PremoderationState::default();
        assert_eq!(
            decide(
                &s,
                "t",
                false,
                &crate::domain::values::ModeratorName::parse("ayu").unwrap(),
                now
            ),
            Err(PremoderationError::Unchanged)
        );
        let on = decide(
            &s,
            "t",
            true,
            &crate::domain::values::ModeratorName::parse("ayu").unwrap(),
            now,
        )
        .unwrap()
        .iter()
        .fold(s, evolve);
        assert!(on.threads.contains("t"));
        assert_eq!(
            decide(
                &on,
                "t",
                true,
                &crate::domain::values::ModeratorName::parse("ayu").unwrap(),
                now
            ),
            Err(PremoderationError::Unchanged)
        );
        let off = decide(
            &on,
            "t",
            false,
            &crate::domain::values::ModeratorName::parse("budi").unwrap(),
            now,
        )
        .unwrap()
        .iter()
        .fold(on, evolve);
        assert!(off.threads.is_empty());
    }
}
