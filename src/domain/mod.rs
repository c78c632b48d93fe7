//! The product in pure logic: what can happen to a comment and to a thread, and what may not.
//!
//! Deciders in the style of event sourcing: `decide(&state, command) -> Result<Vec<Event>, Error>`
//! says which facts a command produces (or why it is illegal), and `evolve(state, &event) -> state`
//! folds facts into state. No I/O and no clock: time arrives inside commands as data.

pub mod ban;
pub mod codec;
pub mod comment;
pub mod events;
pub mod input;
pub mod premoderation;
pub mod thread;
pub mod values;
pub mod verdict;

pub use comment::{CommentCommand, CommentError, CommentState, CommentStatus, ModeratorAction};
pub use events::{Actor, ClientFacts, DomainEvent, PRIVACY_STREAM, Submission};
pub use thread::{ThreadCommand, ThreadError, ThreadState};
pub use values::{AddressGroup, CommentId, Email, ThreadKey, ValueError};

/// Stream name of a comment's life.
pub fn comment_stream(id: impl Into<uuid::Uuid>) -> String {
    format!("comment-{}", id.into())
}

/// Stream name of a thread's settings.
pub fn thread_stream(key: &str) -> String {
    format!("thread-{key}")
}

/// Stream holding every policy version that was put in force.
pub const POLICY_STREAM: &str = "policy";
