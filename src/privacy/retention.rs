//! Retention: the bodies of comments that have been spam or rejected for `purge_spam_days`
//! days are purged (a `BodyPurged` event on the comment's stream, which the projections and the
//! privacy export honour). The pass takes "now" as a parameter, so it runs the same from the
//! service's hourly task, from `saring privacy retention --now ...` and from tests.
//!
//! What stays readable in the log is in docs/privacy.md: the sealed body of the
//! `CommentSubmitted` event still opens with the author's key.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::domain::{DomainEvent, comment, comment_stream};
use crate::store::{EventStore, StoreError};

use super::SCAN_PAGE;

/// What the tracker knows of one comment: whether it is spam or rejected now, since when, and
/// whether its body was purged already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tracked {
    /// When it last became spam or rejected, while it still is.
    dismissed_since: Option<DateTime<Utc>>,
    /// The same, kept across a deletion so a restore brings it back.
    before_delete: Option<DateTime<Utc>>,
    purged: bool,
}

/// Folds the comment events of the log, in order, into which comments are due for purging.
/// Pure: the caller reads the log and gives each event with the time it was recorded.
#[derive(Debug, Default)]
pub struct PurgeTracker {
    comments: HashMap<Uuid, Tracked>,
}

impl PurgeTracker {
    /// Folds one event of comment `id`'s stream, recorded at `at`.
    pub fn observe(&mut self, id: Uuid, event: &DomainEvent, at: DateTime<Utc>) {
        let t = self.comments.entry(id).or_default();
        match event {
            DomainEvent::CommentMarkedSpam { .. } | DomainEvent::CommentRejected { .. } => {
                t.dismissed_since = Some(at);
            }
            DomainEvent::CommentPublished { .. }
            | DomainEvent::CommentApproved { .. }
            | DomainEvent::CommentMarkedNotSpam { .. }
            | DomainEvent::CommentHeld { .. }
            | DomainEvent::CommentRequeued { .. } => t.dismissed_since = None,
            DomainEvent::CommentDeleted { .. } => {
                t.before_delete = t.dismissed_since.take();
            }
            DomainEvent::CommentRestored { .. } => t.dismissed_since = t.before_delete.take(),
            DomainEvent::BodyPurged { .. } => t.purged = true,
            _ => {}
        }
    }

    /// The comments spam or rejected since at least `days` days before `now` whose body is not
    /// purged yet, in no particular order.
    pub fn due(&self, now: DateTime<Utc>, days: u32) -> Vec<Uuid> {
        let cutoff = now - Duration::days(i64::from(days));
        self.comments
            .iter()
            .filter(|(_, t)| !t.purged && t.dismissed_since.is_some_and(|s| s <= cutoff))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Comments whose body was purged.
    pub purged: usize,
    /// The log position of the last event appended, for a caller that waits for projections.
    #[serde(skip)]
    pub last_position: Option<u64>,
}

/// Purges the bodies of comments that have been spam or rejected for at least `days` days at
/// `now`: one pass over the log, then one `BodyPurged` per due comment. Safe to repeat and to
/// cut short: a purged comment is not purged again.
pub async fn purge_spam_bodies(
    store: &dyn EventStore,
    days: u32,
    now: DateTime<Utc>,
) -> Result<RetentionReport, StoreError> {
    let mut tracker = PurgeTracker::default();
    let mut position = 0;
    loop {
        let page = store.read_all(position, SCAN_PAGE).await?;
        let Some(last) = page.last() else { break };
        position = last.position + 1;
        for recorded in &page {
            let Some(id) = comment::id_from_stream(&recorded.stream) else {
                continue;
            };
            if let Some(event) = crate::service::codec::decode_recorded(recorded) {
                tracker.observe(id, &event, recorded.recorded_at);
            }
        }
    }
    let mut due = tracker.due(now, days);
    due.sort_unstable();
    let mut report = RetentionReport::default();
    for id in due {
        report.last_position = Some(
            super::append(
                store,
                &comment_stream(id),
                DomainEvent::BodyPurged { at: now },
            )
            .await?,
        );
        report.purged += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::Actor;

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_780_000_000, 0).unwrap() + Duration::days(day)
    }

    fn spam(day: i64) -> DomainEvent {
        DomainEvent::CommentMarkedSpam {
            reason: String::new(),
            by: Actor::Moderator("ayu".into()),
            at: at(day),
        }
    }

    fn approved(day: i64) -> DomainEvent {
        DomainEvent::CommentApproved {
            by: Actor::Moderator("ayu".into()),
            reason: String::new(),
            at: at(day),
        }
    }

    #[test]
    fn only_comments_dismissed_long_enough_and_not_purged_are_due() {
        let (old, new, forgiven, done) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let mut t = PurgeTracker::default();
        t.observe(old, &spam(0), at(0));
        t.observe(new, &spam(25), at(25));
        t.observe(forgiven, &spam(0), at(0));
        t.observe(forgiven, &approved(1), at(1));
        t.observe(done, &spam(0), at(0));
        t.observe(done, &DomainEvent::BodyPurged { at: at(30) }, at(30));
        assert_eq!(t.due(at(30), 30), vec![old]);
        let mut later = t.due(at(55), 30);
        later.sort_unstable();
        assert_eq!(later, vec![old, new]);
        assert!(t.due(at(29), 30).is_empty(), "29 days are not 30");
    }

    proptest! {
        /// Whatever happened before, a comment approved last is never due, and one marked spam
        /// last is due exactly from `days` days after that.
        #[test]
        fn the_last_decision_counts(history in proptest::collection::vec(any::<bool>(), 1..20),
                                    days in 0u32..100) {
            let id = Uuid::from_u128(9);
            let mut t = PurgeTracker::default();
            for (i, is_spam) in history.iter().enumerate() {
                let day = i64::try_from(i).unwrap();
                t.observe(id, &if *is_spam { spam(day) } else { approved(day) }, at(day));
            }
            let last_day = i64::try_from(history.len() - 1).unwrap();
            let due_at = at(last_day + i64::from(days));
            let last_spam = *history.last().unwrap();
            prop_assert_eq!(t.due(due_at, days) == vec![id], last_spam);
            prop_assert!(t.due(due_at - Duration::seconds(1), days).is_empty());
        }
    }
}
