//! What the site's moderators taught the filter: folds their `spam`, `not_spam`, `approve` and
//! `reject` decisions into a [`LearnedModel`] that `fn screen` reads beside the shipped policy.
//!
//! Only decisions made by a moderator teach: the filter's own verdicts (`Actor::System`), reader
//! reports and imported statuses never reach [`fold`]. The comment's text and author name come
//! from its projection record; the event's global position is the decision's sequence number, so
//! a later decision on the same comment replaces an earlier one and replaying the log rebuilds
//! the same model. The author is keyed by a digest of the email, never the email itself.

use crate::domain::{Actor, DomainEvent};
use crate::policy::learned::{Decision, LearnedModel, Taught};

use super::CommentRecord;

/// The decision a moderator's event carries, or `None` for every other event.
pub fn moderator_decision(event: &DomainEvent) -> Option<Decision> {
    let (by, decision) = match event {
        DomainEvent::CommentMarkedSpam { by, .. } => (by, Decision::Spam),
        DomainEvent::CommentMarkedNotSpam { by, .. } => (by, Decision::NotSpam),
        DomainEvent::CommentApproved { by, .. } => (by, Decision::Approve),
        DomainEvent::CommentRejected { by, .. } => (by, Decision::Reject),
        _ => return None,
    };
    matches!(by, Actor::Moderator(_)).then_some(decision)
}

/// A stable digest of the author's email: the model needs only equality of authors, and a
/// snapshot should not carry the address.
fn author_key(email: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(email.as_bytes());
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Folds one moderator decision on `rec` (the comment as the projections know it) at global
/// `position` into `model`.
pub fn fold(model: &mut LearnedModel, rec: &CommentRecord, position: u64, decision: Decision) {
    let body = super::render::plain_text(&rec.body_html);
    let id = rec.id.to_string();
    let author = author_key(&rec.author_email);
    model.apply(&Taught {
        seq: position,
        comment_id: &id,
        author_key: &author,
        body: &body,
        author_name: &rec.author_name,
        decision,
    });
}
