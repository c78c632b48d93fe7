//! Rebuilding the projections from the rows the projection database keeps, and comparing two
//! projections for `saring projections check`.
//!
//! The database stores only what cannot be derived (comment records, thread flags, the reported
//! queue, recent body sightings, the policy history and the learned model); the thread lists,
//! the other queues and the author counts follow from the comments' statuses and are derived
//! here, so the file never holds two copies that could disagree. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CommentRecord, PolicyActivation, Projections, ThreadRecord};
use crate::domain::CommentStatus;

/// One remembered posting of a body, as `AuthorHistory::record_submission` was given it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSighting {
    /// The body's fingerprint.
    pub fingerprint: u64,
    /// The thread it was posted to.
    pub thread: String,
    /// The author's (lowercased) email.
    pub author: String,
    /// When it was submitted.
    pub at: DateTime<Utc>,
}

/// Everything the projection database keeps, read back in order.
#[derive(Debug, Clone, Default)]
pub struct StoredParts {
    /// Position of the last event applied.
    pub position: u64,
    /// Events applied.
    pub events_applied: u64,
    /// Every comment record.
    pub comments: Vec<CommentRecord>,
    /// Every thread's key, closed flag and generation.
    pub threads: Vec<(String, bool, u64)>,
    /// The reported queue (queue position, comment).
    pub reported: BTreeMap<u64, Uuid>,
    /// Recent body sightings, oldest first.
    pub sightings: Vec<StoredSighting>,
    /// The policy version in force.
    pub policy_version: Option<String>,
    /// The recent policy activations, oldest first.
    pub policy_history: Vec<PolicyActivation>,
    /// The learned model.
    pub learned: crate::policy::learned::LearnedModel,
}

impl Projections {
    /// The projections the stored rows stand for: equal to the fold of the log up to
    /// `parts.position` (which `saring projections check` verifies).
    pub fn restore(parts: StoredParts) -> Projections {
        let mut p = Projections {
            position: parts.position,
            events_applied: parts.events_applied,
            policy_version: parts.policy_version,
            policy_history: parts.policy_history,
            learned: parts.learned,
            ..Projections::default()
        };
        for (key, closed, generation) in parts.threads {
            p.threads.insert(
                key,
                ThreadRecord {
                    closed,
                    generation,
                    visible: BTreeMap::new(),
                },
            );
        }
        // Sightings before statuses: `record_submission` only reads its own arguments.
        for s in &parts.sightings {
            p.authors
                .record_submission(s.fingerprint, &s.thread, &s.author, s.at);
        }
        let mut comments = parts.comments;
        comments.sort_unstable_by_key(|c| c.seq);
        for rec in comments {
            let seq = rec.seq;
            match rec.status {
                Some(CommentStatus::Published) => {
                    p.threads
                        .entry(rec.thread.clone())
                        .or_default()
                        .visible
                        .insert(seq, rec.id);
                }
                Some(CommentStatus::Pending) => {
                    p.queues.pending.insert(seq, rec.id);
                }
                Some(CommentStatus::Spam) => {
                    p.queues.spam.insert(seq, rec.id);
                }
                Some(CommentStatus::Rejected) => {
                    p.queues.rejected.insert(seq, rec.id);
                }
                _ => {}
            }
            if rec.status.is_some() {
                p.authors.status_changed(&rec, None, rec.status);
            }
            p.comments.insert(rec.id, rec);
        }
        p.queues.reported = parts.reported;
        p
    }

    /// How `self` differs from `other`, one line per differing part (at most `limit` comment
    /// lines); empty when they are equal.
    pub fn differences(&self, other: &Projections, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.position != other.position {
            out.push(format!("position {} vs {}", self.position, other.position));
        }
        if self.comments.len() != other.comments.len() {
            out.push(format!(
                "{} comments vs {}",
                self.comments.len(),
                other.comments.len()
            ));
        }
        let mut ids: Vec<&Uuid> = self.comments.keys().chain(other.comments.keys()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut shown = 0;
        for id in ids {
            if self.comments.get(id) != other.comments.get(id) {
                shown += 1;
                if shown <= limit {
                    out.push(format!("comment {id} differs"));
                }
            }
        }
        if shown > limit {
            out.push(format!("… {} more comments differ", shown - limit));
        }
        if self.threads != other.threads {
            let differing = self
                .threads
                .iter()
                .filter(|(k, t)| other.threads.get(*k) != Some(t))
                .count()
                + other
                    .threads
                    .keys()
                    .filter(|k| !self.threads.contains_key(*k))
                    .count();
            out.push(format!("{differing} threads differ"));
        }
        for (name, a, b) in [
            ("pending", &self.queues.pending, &other.queues.pending),
            ("spam", &self.queues.spam, &other.queues.spam),
            ("reported", &self.queues.reported, &other.queues.reported),
            ("rejected", &self.queues.rejected, &other.queues.rejected),
        ] {
            if a != b {
                out.push(format!("{name} queue: {} vs {} entries", a.len(), b.len()));
            }
        }
        if self.authors != other.authors {
            out.push("author history differs".into());
        }
        if self.policy_version != other.policy_version
            || self.policy_history != other.policy_history
        {
            out.push("policy history differs".into());
        }
        if self.learned != other.learned {
            out.push("learned model differs".into());
        }
        out
    }
}
