//! A comment's life as a decider: submitted, screened, published or held or spam, then decided by
//! moderators and reported by readers.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::events::{Actor, DomainEvent, Submission};
use crate::domain::verdict::{Outcome, Verdict};

/// Reports stored per comment, one event each; later reports are accepted and counted (a metric)
/// but not stored.
///
/// Far above any sensible `[threads] flag_threshold` (3 by default): by the hundredth distinct
/// reader the comment has long been in the moderators' reported queue, and another report adds
/// nothing a moderator acts on. Without a cap a flood of reports from many addresses grew the
/// stream until the service could no longer read it whole, and every decision on the comment
/// failed. With it a comment's stream stays near a hundred events, cheap to fold on every
/// command, and its decisions stay far below the store's stream limit
/// (`store::MAX_STREAM_EVENTS`, 10,000).
pub const MAX_STORED_REPORTS: usize = 100;

/// Where a comment stands. Only `Published` is visible to readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentStatus {
    /// Waiting for a moderator.
    Pending,
    /// Visible in the thread.
    Published,
    /// Classed as spam; in the spam queue.
    Spam,
    /// Refused; kept for the audit.
    Rejected,
    /// Deleted by a moderator; restorable.
    Deleted,
}

impl CommentStatus {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentStatus::Pending => "pending",
            CommentStatus::Published => "published",
            CommentStatus::Spam => "spam",
            CommentStatus::Rejected => "rejected",
            CommentStatus::Deleted => "deleted",
        }
    }
}

impl std::fmt::Display for CommentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a moderator can decide about a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeratorAction {
    /// Make it visible.
    Approve,
    /// Refuse it.
    Reject,
    /// Class it as spam (feeds the author's spam record).
    Spam,
    /// Undo a spam classification; the comment becomes visible.
    NotSpam,
    /// Remove it (restorable).
    Delete,
    /// Bring a deleted comment back to its earlier status.
    Restore,
    /// Put a decided comment back in the pending queue (undo of a decision on a pending one).
    Requeue,
}

impl ModeratorAction {
    /// The name used in the API (and in metrics and messages).
    pub fn as_str(self) -> &'static str {
        match self {
            ModeratorAction::Approve => "approve",
            ModeratorAction::Reject => "reject",
            ModeratorAction::Spam => "spam",
            ModeratorAction::NotSpam => "not_spam",
            ModeratorAction::Delete => "delete",
            ModeratorAction::Restore => "restore",
            ModeratorAction::Requeue => "requeue",
        }
    }
}

/// The folded state of one comment stream. `None` fields mean "not yet submitted".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommentState {
    /// The submission, once received.
    pub submission: Option<Submission>,
    /// Current status.
    pub status: Option<CommentStatus>,
    /// Status before deletion, for restore.
    pub status_before_delete: Option<CommentStatus>,
    /// The latest verdict of the filter.
    pub verdict: Option<Verdict>,
    /// Private reporter hashes, one per reader; at most [`MAX_STORED_REPORTS`].
    pub reporters: BTreeSet<String>,
    /// Whether reports already sent it to the reported queue (cleared by a moderator decision).
    pub reported: bool,
    /// Number of events folded so far; the stream revision is `events - 1`.
    pub events: u64,
    /// The retention pass purged the body (`BodyPurged`): the submission's body is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_purged: bool,
}

impl CommentState {
    /// The stream revision of the last event, which moderators send back as `expected_version`.
    pub fn version(&self) -> Option<u64> {
        self.events.checked_sub(1)
    }

    /// Whether readers can see it.
    pub fn is_visible(&self) -> bool {
        self.status == Some(CommentStatus::Published)
    }

    /// Whether the stored reports reached [`MAX_STORED_REPORTS`]: later reports are not stored,
    /// so moderators see the count as "100+".
    pub fn reports_capped(&self) -> bool {
        self.reporters.len() >= MAX_STORED_REPORTS
    }
}

/// Facts about other aggregates that a submission depends on, loaded by the shell.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitContext {
    /// Whether the thread is closed to new comments.
    pub thread_closed: bool,
    /// For a reply: the parent's thread and whether it is visible; `None` if the parent is unknown.
    pub parent: Option<(String, bool)>,
}

/// What can be asked of a comment.
#[derive(Debug, Clone, PartialEq)]
pub enum CommentCommand {
    /// A reader submits a comment which the filter has screened.
    Submit {
        /// The validated submission.
        submission: Box<Submission>,
        /// The filter's verdict on it.
        verdict: Box<Verdict>,
        /// Fingerprint of the normalised body, for duplicate detection.
        fingerprint: u64,
        /// The thread and parent facts.
        context: SubmitContext,
    },
    /// A moderator decides.
    Decide {
        /// Which decision.
        action: ModeratorAction,
        /// Who.
        moderator: crate::domain::values::ModeratorName,
        /// Why (may be empty).
        reason: String,
        /// When.
        now: DateTime<Utc>,
    },
    /// A reader reports a visible comment. Once [`MAX_STORED_REPORTS`] are stored, a report from
    /// a new reader is accepted without a `CommentFlagged` event (it may still send the comment
    /// back to the reported queue after a moderator kept it).
    Flag {
        /// Private hash of the reporter.
        reporter: String,
        /// What the reader wrote.
        reason: String,
        /// Reports that send a comment to the reported queue (at most [`MAX_STORED_REPORTS`]
        /// count, so a higher setting acts as the cap).
        threshold: u32,
        /// When.
        now: DateTime<Utc>,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentError {
    /// The comment stream already exists: the captcha token was used before.
    #[error("this comment was already submitted")]
    AlreadySubmitted,
    /// There is no such comment.
    #[error("no such comment")]
    NotFound,
    /// The thread is closed to new comments.
    #[error("the thread is closed")]
    ThreadClosed,
    /// The parent comment does not exist or is not visible.
    #[error("the comment replied to is not visible")]
    ParentNotVisible,
    /// The parent comment belongs to another thread.
    #[error("the comment replied to belongs to another thread")]
    ParentInOtherThread,
    /// The comment is deleted; only `restore` applies.
    #[error("the comment is deleted")]
    Deleted,
    /// The retention pass purged the body, so the comment cannot be shown to readers again
    /// (`approve` and `not_spam` would publish an empty comment).
    #[error("the comment's body was purged")]
    BodyPurged,
    /// The action does not apply to the current status (e.g. `restore` of a visible comment).
    #[error("cannot {action:?} a comment that is {status:?}")]
    IllegalTransition {
        /// Attempted action.
        action: ModeratorAction,
        /// Current status.
        status: CommentStatus,
    },
    /// Only visible comments can be reported.
    #[error("only visible comments can be reported")]
    NotReportable,
    /// This reader already reported this comment.
    #[error("you already reported this comment")]
    AlreadyReported,
}

/// Decides which events a command produces, or why it is illegal.
pub fn decide(
    state: &CommentState,
    command: CommentCommand,
) -> Result<Vec<DomainEvent>, CommentError> {
    match command {
        CommentCommand::Submit {
            submission,
            verdict,
            fingerprint,
            context,
        } => {
            if state.submission.is_some() {
                return Err(CommentError::AlreadySubmitted);
            }
            if context.thread_closed {
                return Err(CommentError::ThreadClosed);
            }
            if submission.parent_id.is_some() {
                match &context.parent {
                    None | Some((_, false)) => return Err(CommentError::ParentNotVisible),
                    Some((thread, true)) if *thread != submission.thread => {
                        return Err(CommentError::ParentInOtherThread);
                    }
                    Some(_) => {}
                }
            }
            let at = submission.submitted_at;
            let outcome = match verdict.outcome {
                Outcome::Accept => DomainEvent::CommentPublished { at },
                Outcome::Hold => DomainEvent::CommentHeld { at },
                Outcome::Spam => DomainEvent::CommentMarkedSpam {
                    by: Actor::System,
                    reason: "filter".into(),
                    at,
                },
                Outcome::Reject => DomainEvent::CommentRejected {
                    by: Actor::System,
                    reason: "filter".into(),
                    at,
                },
            };
            Ok(vec![
                DomainEvent::CommentSubmitted(*submission),
                DomainEvent::CommentScreened {
                    verdict: *verdict,
                    fingerprint: Some(fingerprint),
                    at,
                },
                outcome,
            ])
        }
        CommentCommand::Decide {
            action,
            moderator,
            reason,
            now,
        } => {
            let status = state.status.ok_or(CommentError::NotFound)?;
            let by = Actor::from(&moderator);
            let at = now;
            use CommentStatus as S;
            use ModeratorAction as A;
            let illegal = Err(CommentError::IllegalTransition { action, status });
            if status == S::Deleted && action != A::Restore {
                return Err(CommentError::Deleted);
            }
            if state.body_purged && matches!(action, A::Approve | A::NotSpam) {
                return Err(CommentError::BodyPurged);
            }
            let event = match (action, status) {
                (A::Approve, S::Pending | S::Spam | S::Rejected) => {
                    DomainEvent::CommentApproved { by, reason, at }
                }
                // Approving a reported visible comment clears it from the reported queue.
                (A::Approve, S::Published) if state.reported => {
                    DomainEvent::CommentApproved { by, reason, at }
                }
                (A::Reject, S::Pending | S::Published | S::Spam) => {
                    DomainEvent::CommentRejected { by, reason, at }
                }
                (A::Spam, S::Pending | S::Published | S::Rejected) => {
                    DomainEvent::CommentMarkedSpam { by, reason, at }
                }
                (A::NotSpam, S::Spam) => DomainEvent::CommentMarkedNotSpam { by, reason, at },
                (A::Delete, _) => DomainEvent::CommentDeleted { by, reason, at },
                (A::Restore, S::Deleted) => DomainEvent::CommentRestored { by, reason, at },
                (A::Requeue, S::Published | S::Spam | S::Rejected) => {
                    DomainEvent::CommentRequeued { by, reason, at }
                }
                _ => return illegal,
            };
            Ok(vec![event])
        }
        CommentCommand::Flag {
            reporter,
            reason,
            threshold,
            now,
        } => {
            if state.status.is_none() {
                return Err(CommentError::NotFound);
            }
            if !state.is_visible() {
                return Err(CommentError::NotReportable);
            }
            if state.reporters.contains(&reporter) {
                return Err(CommentError::AlreadyReported);
            }
            let mut events = Vec::new();
            if !state.reports_capped() {
                events.push(DomainEvent::CommentFlagged {
                    reporter,
                    reason,
                    at: now,
                });
            }
            let reports = state.reporters.len() + events.len();
            let threshold = usize::try_from(threshold)
                .unwrap_or(usize::MAX)
                .clamp(1, MAX_STORED_REPORTS);
            if !state.reported && reports >= threshold {
                events.push(DomainEvent::CommentReportedQueued {
                    reports: u32::try_from(reports).unwrap_or(u32::MAX),
                    at: now,
                });
            }
            Ok(events)
        }
    }
}

/// Folds one event into the state. Events of other aggregates leave it unchanged.
pub fn evolve(mut state: CommentState, event: &DomainEvent) -> CommentState {
    use CommentStatus as S;
    state.events += 1;
    match event {
        DomainEvent::CommentSubmitted(submission) => state.submission = Some(submission.clone()),
        DomainEvent::CommentScreened { verdict, .. } => state.verdict = Some(verdict.clone()),
        DomainEvent::CommentPublished { .. } => state.status = Some(S::Published),
        DomainEvent::CommentHeld { .. } | DomainEvent::CommentRequeued { .. } => {
            state.status = Some(S::Pending);
            state.reported = false;
        }
        DomainEvent::CommentApproved { .. } | DomainEvent::CommentMarkedNotSpam { .. } => {
            state.status = Some(S::Published);
            state.reported = false;
        }
        DomainEvent::CommentRejected { .. } => {
            state.status = Some(S::Rejected);
            state.reported = false;
        }
        DomainEvent::CommentMarkedSpam { .. } => {
            state.status = Some(S::Spam);
            state.reported = false;
        }
        DomainEvent::CommentFlagged { reporter, .. } => {
            state.reporters.insert(reporter.clone());
        }
        DomainEvent::CommentReportedQueued { .. } => state.reported = true,
        DomainEvent::CommentDeleted { .. } => {
            state.status_before_delete = state.status;
            state.status = Some(S::Deleted);
            state.reported = false;
        }
        DomainEvent::CommentRestored { .. } => {
            state.status = state.status_before_delete.take().or(Some(S::Pending));
        }
        DomainEvent::CommentImported { .. } => {}
        DomainEvent::ReaderErased { .. } => {
            if let Some(s) = &mut state.submission {
                s.redact();
            }
        }
        DomainEvent::BodyPurged { .. } => {
            if let Some(s) = &mut state.submission {
                s.body.clear();
            }
            state.body_purged = true;
        }
        DomainEvent::NetworkFactsDropped { .. } => {
            if let Some(s) = &mut state.submission {
                s.client = crate::domain::ClientFacts {
                    ip: String::new(),
                    user_agent: None,
                };
            }
        }
        DomainEvent::ReaderDataExported { .. }
        | DomainEvent::ThreadClosed { .. }
        | DomainEvent::ThreadReopened { .. }
        | DomainEvent::PolicyActivated { .. }
        | DomainEvent::BanPlaced { .. }
        | DomainEvent::BanLifted { .. }
        | DomainEvent::ThreadPremoderationSet { .. }
        | DomainEvent::WaveDecided { .. } => state.events -= 1,
    }
    state
}

/// The id of the comment whose stream an event name like `comment-<uuid>` refers to.
pub fn id_from_stream(stream: &str) -> Option<Uuid> {
    stream
        .strip_prefix("comment-")
        .and_then(|s| Uuid::parse_str(s).ok())
}

#[cfg(test)]
mod tests;
