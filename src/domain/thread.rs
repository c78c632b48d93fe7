//! A thread's settings as a decider: open or closed to new comments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{Actor, DomainEvent};

/// The folded state of a `thread-<key>` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadState {
    /// Whether new comments are refused.
    pub closed: bool,
    /// Number of events folded; the stream revision is `events - 1`.
    pub events: u64,
}

/// What a moderator can ask of a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadCommand {
    /// Refuse new comments.
    Close {
        /// The thread key.
        thread: String,
        /// Who.
        moderator: crate::domain::values::ModeratorName,
        /// When.
        now: DateTime<Utc>,
    },
    /// Accept new comments again.
    Reopen {
        /// The thread key.
        thread: String,
        /// Who.
        moderator: crate::domain::values::ModeratorName,
        /// When.
        now: DateTime<Utc>,
    },
}

/// Why a thread command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThreadError {
    /// Closing a closed thread.
    #[error("the thread is already closed")]
    AlreadyClosed,
    /// Reopening an open thread.
    #[error("the thread is not closed")]
    NotClosed,
}

/// Decides which events a thread command produces.
pub fn decide(
    state: &ThreadState,
    command: ThreadCommand,
) -> Result<Vec<DomainEvent>, ThreadError> {
    match command {
        ThreadCommand::Close {
            thread,
            moderator,
            now,
        } => {
            if state.closed {
                return Err(ThreadError::AlreadyClosed);
            }
            Ok(vec![DomainEvent::ThreadClosed {
                thread,
                by: Actor::from(&moderator),
                at: now,
            }])
        }
        ThreadCommand::Reopen {
            thread,
            moderator,
            now,
        } => {
            if !state.closed {
                return Err(ThreadError::NotClosed);
            }
            Ok(vec![DomainEvent::ThreadReopened {
                thread,
                by: Actor::from(&moderator),
                at: now,
            }])
        }
    }
}

/// Folds one event into the thread state.
pub fn evolve(mut state: ThreadState, event: &DomainEvent) -> ThreadState {
    match event {
        DomainEvent::ThreadClosed { .. } => {
            state.closed = true;
            state.events += 1;
        }
        DomainEvent::ThreadReopened { .. } => {
            state.closed = false;
            state.events += 1;
        }
        _ => {}
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid")
    }

    #[test]
    fn close_then_reopen_and_refuse_repeats() {
        let close = || ThreadCommand::Close {
            thread: "t".into(),
            moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
            now: now(),
        };
        let reopen = || ThreadCommand::Reopen {
            thread: "t".into(),
            moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
            now: now(),
        };
        let open = ThreadState::default();
        assert_eq!(decide(&open, reopen()), Err(ThreadError::NotClosed));
        let closed = decide(&open, close()).unwrap().iter().fold(open, evolve);
        assert!(closed.closed);
        assert_eq!(decide(&closed, close()), Err(ThreadError::AlreadyClosed));
        let again = decide(&closed, reopen())
            .unwrap()
            .iter()
            .fold(closed, evolve);
        assert!(!again.closed);
        assert_eq!(again.events, 2);
    }
}
