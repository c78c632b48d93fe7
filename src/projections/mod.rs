//! Projections: pure folds of the event log into what readers and moderators see.
//!
//! [`Projections::apply`] takes one stored event at a time, in global order, and never performs
//! I/O or reads a clock (times come from the events). The service's runner feeds it from the
//! store's subscription and writes what each batch changed to the projection database
//! (`crate::store::projection_db`); the HTTP layer reads it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{CommentStatus, DomainEvent};

pub mod authors;
pub mod learned;
pub mod render;
pub mod restore;
pub mod search;
pub mod threads;
pub mod waves;

pub use authors::AuthorHistory;
pub use threads::{Order, PublicComment, ThreadPage};

/// What a projection needs to know of a stored event besides its data.
#[derive(Debug, Clone, Copy)]
pub struct EventPosition<'a> {
    /// The stream it was appended to.
    pub stream: &'a str,
    /// Its revision in that stream.
    pub revision: u64,
    /// Its global position.
    pub position: u64,
}

/// One comment as the projections keep it. Holds private fields (email) for moderators; the
/// public thread only ever copies the public ones.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommentRecord {
    /// The comment id.
    pub id: Uuid,
    /// The thread key.
    pub thread: String,
    /// The comment replied to.
    pub parent_id: Option<Uuid>,
    /// Display name.
    pub author_name: String,
    /// Private email (lowercased), for moderators and author history.
    pub author_email: String,
    /// Author website.
    pub author_url: Option<String>,
    /// Private client address key (IPv4, or IPv6 /64), for the spam record.
    pub ip_key: String,
    /// The body rendered as safe HTML.
    pub body_html: String,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// Current status; `None` between submission and the filter's outcome.
    pub status: Option<CommentStatus>,
    /// Status before a deletion.
    pub status_before_delete: Option<CommentStatus>,
    /// Global position of the submission: the thread order and the queues' order.
    pub seq: u64,
    /// Stream revision of the last event: the moderators' `expected_version`.
    pub version: u64,
    /// The filter's score.
    pub score: f64,
    /// The filter's outcome (`accept`, `hold`, `spam`, `reject`).
    pub outcome: Option<crate::domain::verdict::Outcome>,
    /// Reader reports so far.
    pub reports: u32,
    /// Submitted without its known-reader token under an email that already had approved
    /// comments here: a moderator's spam verdict on it counts against the address and the
    /// website but not against that email, so someone who borrows a regular reader's address
    /// cannot spoil the reader's record (issue 9's "poisoning"). Fixed at submission, so a
    /// reversal undoes exactly what the verdict counted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub borrowed: bool,
    /// The author's personal data was erased at their request: name, email, website, address
    /// and body are empty and the body shows [`render::ERASED_HTML`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

/// One thread: its settings and its visible comments in submission order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ThreadRecord {
    /// Closed to new comments.
    pub closed: bool,
    /// Visible comments by submission position.
    pub visible: BTreeMap<u64, Uuid>,
    /// Bumped on every change readers can see, so cached pages know they are stale.
    pub generation: u64,
}

/// The moderation queues, each oldest first by the position that put the comment there.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Queues {
    /// Held for a moderator.
    pub pending: BTreeMap<u64, Uuid>,
    /// Classed as spam.
    pub spam: BTreeMap<u64, Uuid>,
    /// Visible but reported by enough readers.
    pub reported: BTreeMap<u64, Uuid>,
    /// Refused (by the filter's forced reject or a moderator), kept for the audit.
    #[serde(default)]
    pub rejected: BTreeMap<u64, Uuid>,
}

/// A moderation queue's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueName {
    /// Held comments.
    Pending,
    /// Reported comments.
    Reported,
    /// Spam.
    Spam,
    /// Refused comments, for the audit.
    Rejected,
}

/// Policy activations kept for moderators; older ones stay in the log.
pub const MAX_POLICY_HISTORY: usize = 100;

/// One policy version put in force.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PolicyActivation {
    /// The hash of the policy files.
    pub version: String,
    /// When it was put in force.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

/// Every projection, folded together so one pass over the log builds them all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Projections {
    /// Position of the last event applied (0 before any).
    pub position: u64,
    /// Every comment by id.
    pub comments: HashMap<Uuid, CommentRecord>,
    /// Every thread that has comments or settings.
    pub threads: HashMap<String, ThreadRecord>,
    /// The moderation queues.
    pub queues: Queues,
    /// Approved and spam counts by author, address and URL; recent bodies for duplicates.
    pub authors: AuthorHistory,
    /// The policy version last put in force.
    pub policy_version: Option<String>,
    /// The most recent policy activations, oldest first (at most [`MAX_POLICY_HISTORY`]).
    #[serde(default)]
    pub policy_history: Vec<PolicyActivation>,
    /// What the site's moderators taught the filter (see [`learned`]); bounded by
    /// [`crate::policy::learned::MAX_COMMENTS`].
    #[serde(default)]
    pub learned: crate::policy::learned::LearnedModel,
    /// Events applied (for metrics and the projection database).
    pub events_applied: u64,
}

impl Projections {
    /// Folds one stored event. Events at or before the current position are ignored, so
    /// replaying an overlap after a restart is harmless.
    pub fn apply(&mut self, at: EventPosition<'_>, event: &DomainEvent) {
        if at.position <= self.position && self.events_applied > 0 {
            return;
        }
        self.position = at.position;
        self.events_applied += 1;
        let comment_id = crate::domain::comment::id_from_stream(at.stream);
        if let (Some(decision), Some(rec)) = (
            learned::moderator_decision(event),
            comment_id.and_then(|id| self.comments.get(&id)),
        ) {
            learned::fold(&mut self.learned, rec, at.position, decision);
        }
        match event {
            DomainEvent::CommentSubmitted(s) => {
                let record = CommentRecord {
                    id: s.comment_id,
                    thread: s.thread.clone(),
                    parent_id: s.parent_id,
                    author_name: s.author_name.clone(),
                    author_email: s.author_email.to_lowercase(),
                    author_url: s.author_url.clone(),
                    ip_key: s.client.ip.clone(),
                    body_html: if s.erased {
                        render::ERASED_HTML.to_string()
                    } else {
                        render::body_html(&s.body)
                    },
                    created_at: s.submitted_at,
                    status: None,
                    status_before_delete: None,
                    seq: at.position,
                    version: at.revision,
                    score: 0.0,
                    outcome: None,
                    reports: 0,
                    borrowed: s.known_reader == Some(false)
                        && self
                            .authors
                            .counts(authors::CountKind::Email, &s.author_email.to_lowercase())
                            .approved
                            > 0,
                    erased: s.erased,
                };
                self.threads.entry(s.thread.clone()).or_default();
                self.comments.insert(s.comment_id, record);
            }
            DomainEvent::CommentScreened {
                verdict,
                fingerprint,
                ..
            } => {
                if let Some(rec) = comment_id.and_then(|id| self.comments.get_mut(&id)) {
                    rec.score = verdict.score;
                    rec.outcome = Some(verdict.outcome);
                    rec.version = at.revision;
                    // An erased reader's sightings go with the erasure (the follower forgets
                    // them at `ReaderErased`); a fold that opens the submission already erased
                    // records none.
                    if let Some(fp) = fingerprint.filter(|_| !rec.erased) {
                        self.authors.record_submission(
                            fp,
                            &rec.thread,
                            &rec.author_email,
                            rec.created_at,
                        );
                    }
                }
            }
            DomainEvent::CommentPublished { .. }
            | DomainEvent::CommentApproved { .. }
            | DomainEvent::CommentMarkedNotSpam { .. } => {
                self.set_status(comment_id, Some(CommentStatus::Published), at);
            }
            DomainEvent::CommentHeld { .. } | DomainEvent::CommentRequeued { .. } => {
                self.set_status(comment_id, Some(CommentStatus::Pending), at)
            }
            DomainEvent::CommentMarkedSpam { .. } => {
                self.set_status(comment_id, Some(CommentStatus::Spam), at)
            }
            DomainEvent::CommentRejected { .. } => {
                self.set_status(comment_id, Some(CommentStatus::Rejected), at);
            }
            DomainEvent::CommentDeleted { .. } => {
                if let Some(rec) = comment_id.and_then(|id| self.comments.get_mut(&id)) {
                    rec.status_before_delete = rec.status;
                }
                self.set_status(comment_id, Some(CommentStatus::Deleted), at);
            }
            DomainEvent::CommentRestored { .. } => {
                let before = comment_id
                    .and_then(|id| self.comments.get(&id))
                    .and_then(|r| r.status_before_delete)
                    .unwrap_or(CommentStatus::Pending);
                self.set_status(comment_id, Some(before), at);
            }
            DomainEvent::CommentFlagged { .. } => {
                if let Some(rec) = comment_id.and_then(|id| self.comments.get_mut(&id)) {
                    rec.reports += 1;
                    rec.version = at.revision;
                }
            }
            DomainEvent::CommentReportedQueued { .. } => {
                if let Some(rec) = comment_id.and_then(|id| self.comments.get_mut(&id)) {
                    rec.version = at.revision;
                    if rec.status == Some(CommentStatus::Published) {
                        self.queues.reported.insert(at.position, rec.id);
                    }
                }
            }
            DomainEvent::CommentImported { .. } => {
                if let Some(rec) = comment_id.and_then(|id| self.comments.get_mut(&id)) {
                    rec.version = at.revision;
                }
            }
            DomainEvent::ThreadClosed { thread, .. }
            | DomainEvent::ThreadReopened { thread, .. } => {
                let t = self.threads.entry(thread.clone()).or_default();
                t.closed = matches!(event, DomainEvent::ThreadClosed { .. });
                t.generation += 1;
            }
            // Bans, pre-moderated threads and waves are folded by the service itself
            // (src/service/bans.rs, src/service/premoderation.rs, src/service/waves.rs).
            DomainEvent::BanPlaced { .. }
            | DomainEvent::BanLifted { .. }
            | DomainEvent::ThreadPremoderationSet { .. }
            | DomainEvent::WaveDecided { .. } => {}
            DomainEvent::ReaderErased { .. } => self.redact(comment_id, at),
            DomainEvent::BodyPurged { .. } => {
                if let Some(rec) = comment_id.and_then(|id| self.comments.get_mut(&id)) {
                    rec.version = at.revision;
                    // An erased comment already shows the erasure, which says more.
                    if !rec.erased {
                        rec.body_html = render::PURGED_HTML.to_string();
                    }
                }
            }
            DomainEvent::NetworkFactsDropped { .. } => self.drop_network_facts(comment_id, at),
            DomainEvent::ReaderDataExported { .. } => {}
            DomainEvent::PolicyActivated { version, at, .. } => {
                self.policy_version = Some(version.clone());
                if self.policy_history.len() == MAX_POLICY_HISTORY {
                    self.policy_history.remove(0);
                }
                self.policy_history.push(PolicyActivation {
                    version: version.clone(),
                    at: *at,
                });
            }
        }
    }

    /// Folds one stored event, or, for an event this build cannot decode (`None`: written by a
    /// newer one), only moves the position and its comment's version (the moderators'
    /// `expected_version` is the stream's last recorded revision).
    pub fn apply_recorded(&mut self, at: EventPosition<'_>, event: Option<&DomainEvent>) {
        match event {
            Some(event) => self.apply(at, event),
            None => {
                self.position = self.position.max(at.position);
                if let Some(rec) = crate::domain::comment::id_from_stream(at.stream)
                    .and_then(|id| self.comments.get_mut(&id))
                {
                    rec.version = rec.version.max(at.revision);
                }
            }
        }
    }

    /// Forgets what a comment's record copied of its author (after `ReaderErased`): the
    /// author counts lose the comment's contribution (a key left at zero is dropped), and the
    /// record keeps its place in the thread and the queues with every personal field empty and
    /// the body replaced by [`render::ERASED_HTML`], so replies stay where they were.
    fn redact(&mut self, id: Option<Uuid>, at: EventPosition<'_>) {
        let Some(rec) = id.and_then(|id| self.comments.get_mut(&id)) else {
            return;
        };
        rec.version = at.revision;
        if !rec.erased {
            self.authors.status_changed(rec, rec.status, None);
            rec.author_name.clear();
            rec.author_email.clear();
            rec.author_url = None;
            rec.ip_key.clear();
            rec.body_html = render::ERASED_HTML.to_string();
            // Said of the email's history, which is gone with it.
            rec.borrowed = false;
            rec.erased = true;
        }
        // Bumped even for a record that was erased from its submission on (folded after the
        // key was gone: a rebuild, `projections check`), so that every fold of one log counts
        // the same generations as the one that saw the key deleted.
        self.threads
            .entry(rec.thread.clone())
            .or_default()
            .generation += 1;
    }

    /// Forgets a comment's address group (after `NetworkFactsDropped`): the address counts lose
    /// the comment's contribution, as if it had come from no address, and the record's
    /// `ip_key` is emptied, so no moderator view, ban or bulk action by address finds it.
    fn drop_network_facts(&mut self, id: Option<Uuid>, at: EventPosition<'_>) {
        let Some(rec) = id.and_then(|id| self.comments.get_mut(&id)) else {
            return;
        };
        rec.version = at.revision;
        if rec.ip_key.is_empty() {
            return;
        }
        let address_only = CommentRecord {
            author_email: String::new(),
            author_url: None,
            ..rec.clone()
        };
        self.authors
            .status_changed(&address_only, address_only.status, None);
        rec.ip_key.clear();
    }

    /// Moves a comment to a new status, keeping threads, queues and author counts in step. Any
    /// moderator decision also takes it out of the reported queue.
    fn set_status(&mut self, id: Option<Uuid>, new: Option<CommentStatus>, at: EventPosition<'_>) {
        let Some(rec) = id.and_then(|id| self.comments.get_mut(&id)) else {
            return;
        };
        let old = rec.status;
        rec.status = new;
        rec.version = at.revision;
        let seq = rec.seq;
        self.queues.reported.retain(|_, v| *v != rec.id);
        let thread = self.threads.entry(rec.thread.clone()).or_default();
        match old {
            Some(CommentStatus::Published) => {
                thread.visible.remove(&seq);
                thread.generation += 1;
            }
            Some(CommentStatus::Pending) => {
                self.queues.pending.remove(&seq);
            }
            Some(CommentStatus::Spam) => {
                self.queues.spam.remove(&seq);
            }
            Some(CommentStatus::Rejected) => {
                self.queues.rejected.remove(&seq);
            }
            _ => {}
        }
        match new {
            Some(CommentStatus::Published) => {
                thread.visible.insert(seq, rec.id);
                thread.generation += 1;
            }
            Some(CommentStatus::Pending) => {
                self.queues.pending.insert(seq, rec.id);
            }
            Some(CommentStatus::Spam) => {
                self.queues.spam.insert(seq, rec.id);
            }
            Some(CommentStatus::Rejected) => {
                self.queues.rejected.insert(seq, rec.id);
            }
            _ => {}
        }
        self.authors.status_changed(rec, old, new);
    }

    /// The comments of a queue after the cursor (a queue position), oldest first, at most `limit`.
    /// Returns the records and the cursor of the next page.
    pub fn queue_page(
        &self,
        queue: QueueName,
        after: Option<u64>,
        limit: usize,
    ) -> (Vec<&CommentRecord>, Option<u64>) {
        let map = match queue {
            QueueName::Pending => &self.queues.pending,
            QueueName::Reported => &self.queues.reported,
            QueueName::Spam => &self.queues.spam,
            QueueName::Rejected => &self.queues.rejected,
        };
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut items = Vec::with_capacity(limit.min(map.len()));
        let mut next = None;
        for (pos, id) in map.range(start..) {
            if items.len() == limit {
                next = items.last().map(|(p, _)| *p);
                break;
            }
            if let Some(rec) = self.comments.get(id) {
                items.push((*pos, rec));
            }
        }
        (items.into_iter().map(|(_, r)| r).collect(), next)
    }

    /// Number of visible comments of a thread.
    pub fn visible_count(&self, thread: &str) -> usize {
        self.threads.get(thread).map_or(0, |t| t.visible.len())
    }

    /// Whether a thread is closed.
    pub fn is_closed(&self, thread: &str) -> bool {
        self.threads.get(thread).is_some_and(|t| t.closed)
    }

    /// A comment's thread and whether it is visible, for reply checks.
    pub fn parent_facts(&self, id: Uuid) -> Option<(String, bool)> {
        self.comments
            .get(&id)
            .map(|r| (r.thread.clone(), r.status == Some(CommentStatus::Published)))
    }
}

#[cfg(test)]
mod tests;
