//! The moderator API's answers as typed bodies: what `http::moderation` (and `/readyz`) send,
//! and what the OpenAPI document derives their schemas from, so the two cannot drift. Where a
//! service or projection type is what is sent (a queue item, a comment's full record, a ban, a
//! wave, an audit line), it is used as it is; these structs are the envelopes around them.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::values::ThreadKey;
use crate::domain::{CommentStatus, ModeratorAction};
use crate::projections::waves::WaveRules;
use crate::projections::{PolicyActivation, QueueName};
use crate::service::QueueItem;
use crate::service::audit::{AuditLine, ModeratorFigures, RuleFigures};
use crate::service::bans::BanView;
use crate::service::waves::WaveSummary;

/// A moderation queue page (`GET /api/v1/mod/queue`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Queue {
    /// The queue shown: `pending`, `reported`, `spam` or `rejected`.
    #[schema(value_type = String, example = "pending")]
    pub status: QueueName,
    /// Comments in the queue.
    pub total: usize,
    /// Oldest first, with their private fields and the version to decide on.
    pub items: Vec<QueueItem>,
    /// The cursor of the next page.
    pub next: Option<String>,
}

/// A thread's state after close or reopen.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadState {
    /// The thread key.
    #[schema(value_type = String)]
    pub thread: ThreadKey,
    /// Whether new comments are refused.
    pub closed: bool,
}

/// A thread's pre-moderation after `POST .../premoderation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Premoderation {
    /// The thread key.
    #[schema(value_type = String)]
    pub thread: ThreadKey,
    /// Whether every new comment of the thread is held.
    pub premoderated: bool,
}

/// The pre-moderated threads (`GET /api/v1/mod/threads/premoderated`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Premoderated {
    /// Their keys.
    pub threads: Vec<String>,
    /// Threads close by themselves this many days after their first comment (0: never).
    pub close_after_days: u32,
}

/// The policy in force (`GET /api/v1/mod/policy`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyInfo {
    /// Its version hash.
    pub version: String,
    /// Counts of its rules, lists and thresholds.
    pub summary: crate::policy::PolicySummary,
    /// The last failed reload's error, if any.
    pub last_error: Option<String>,
    /// The versions put in force, oldest first.
    pub history: Vec<PolicyActivation>,
}

/// The policy a reload put in force (`POST /api/v1/mod/policy/reload`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyReloaded {
    /// Its version hash.
    pub version: String,
    /// Counts of its rules, lists and thresholds.
    pub summary: crate::policy::PolicySummary,
}

/// The bans placed and not lifted (`GET /api/v1/mod/bans`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BanList {
    /// How many are listed.
    pub total: usize,
    /// Newest first.
    pub bans: Vec<BanView>,
}

/// A lifted ban.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lifted {
    /// The ban's id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// Always `true`.
    pub lifted: bool,
}

/// The answer to a bulk decision (`POST /api/v1/mod/bulk`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAnswer {
    /// The action applied.
    #[schema(value_type = String, example = "spam")]
    pub action: ModeratorAction,
    /// Comments the items or the selector named (a selector may match more than it decides).
    pub matched: usize,
    /// Of the results, how many are `done`.
    pub done: usize,
    /// One line per comment, in the order asked.
    pub results: Vec<BulkLine>,
}

/// One comment of a bulk decision. `done` and `stale` lines carry the comment's status and
/// version now (and `stale` the colleague and the event that came first); failures carry a
/// message instead.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkLine {
    /// The comment id as asked.
    pub id: String,
    /// `done`, `stale`, `not_found`, `invalid` or another error code.
    pub result: &'static str,
    /// The HTTP status the single decision would have had.
    pub code: u16,
    /// The comment's status now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub status: Option<CommentStatus>,
    /// The comment's version now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Who decided first (on `stale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What they recorded (on `stale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Why it failed, in the request's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl BulkLine {
    /// A line with only the id, the result and the status code.
    pub fn bare(id: String, result: &'static str, code: u16) -> Self {
        BulkLine {
            id,
            result,
            code,
            status: None,
            version: None,
            by: None,
            event: None,
            message: None,
        }
    }
}

/// An audit page (`GET /api/v1/mod/audit`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditLine>,
    /// The `before` of the next page, when this one is full.
    pub next: Option<String>,
}

/// One moderator's figures over the audit window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModeratorLine {
    /// The moderator's name.
    pub name: String,
    /// Their figures.
    #[serde(flatten)]
    pub figures: ModeratorFigures,
}

/// Per-moderator figures (`GET /api/v1/mod/audit/moderators`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ModeratorList {
    /// One line per moderator.
    pub moderators: Vec<ModeratorLine>,
}

/// Per-rule figures (`GET /api/v1/mod/audit/rules`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    /// One line per rule.
    pub rules: Vec<RuleFigures>,
}

/// The spam waves (`GET /api/v1/mod/waves`).
#[derive(Debug, Serialize, ToSchema)]
pub struct WaveList {
    /// Newest first.
    pub waves: Vec<WaveSummary>,
    /// Whether hold mode is on.
    pub hold: bool,
    /// When a shape becomes a wave.
    pub rules: WaveRules,
}

/// The body of `POST /api/v1/mod/privacy/erase`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct EraseRequest {
    /// The reader's email.
    pub email: String,
}

/// What an erasure did (`POST /api/v1/mod/privacy/erase`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Erasure {
    /// Comments now shown as deleted at the author's request.
    pub comments: usize,
    /// Whether a key was deleted (`false`: none was left).
    pub key_deleted: bool,
}

impl From<&crate::privacy::Erasure> for Erasure {
    fn from(e: &crate::privacy::Erasure) -> Self {
        Erasure {
            comments: e.comments,
            key_deleted: e.key_deleted,
        }
    }
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Whether the projections have caught up with the log.
    pub ready: bool,
    /// The event store's backend.
    pub store: &'static str,
    /// The policy in force.
    pub policy_version: String,
    /// The log position the projections reached, for a moderator only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The position of the last event in the log, for a moderator only, absent while the log
    /// is empty or when the store could not be asked: with `position`, how far a catch-up has
    /// to go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
}
