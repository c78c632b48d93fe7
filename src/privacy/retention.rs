//! Retention: the bodies of comments that have been spam or rejected for `purge_spam_days`
//! days are purged (a `BodyPurged` event on the comment's stream, which the projections and the
//! privacy export honour), and the network facts (address group, user agent) of comments whose
//! UTC day is `network_days` days old are dropped (a `NetworkFactsDropped` event on the
//! comment's stream, then the day keys that sealed them are deleted). The pass takes "now" as a
//! parameter, so it runs the same from the service's hourly task, from
//! `saring privacy retention --now ...` and from tests.
//!
//! A purged body is made unreadable in the log too: its body key is deleted before the
//! `BodyPurged` is appended ([`EventStore::shred_bodies`]). What stays readable is in
//! docs/privacy.md: bodies sealed before body keys existed (and unsealed ones) still open with
//! the author's key, and so do the network facts of submissions sealed before day keys.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::{DomainEvent, comment, comment_stream};
use crate::store::{EventStore, StoreError};

use super::SCAN_PAGE;

/// Comments whose body keys one request deletes at most.
const SHRED_CHUNK: usize = 1_000;

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

/// The first UTC day whose network facts are kept at `now` with `network_days = days`: a
/// day's facts go once the whole day is `days` days old, so they are kept at least `days` and
/// less than `days + 1` days (plus the time to the next hourly pass).
pub fn first_kept_day(now: DateTime<Utc>, days: u32) -> NaiveDate {
    (now - Duration::days(i64::from(days))).date_naive()
}

/// What the network tracker knows of one comment.
#[derive(Debug, Clone, Copy)]
struct Network {
    day: NaiveDate,
    /// The submission read with an address group or a user agent.
    has_facts: bool,
    /// Dropped already, or erased with the rest of the author's data.
    done: bool,
}

/// Folds the comment events of the log into which comments still show network facts that
/// are due to be dropped. Pure, like [`PurgeTracker`].
#[derive(Debug, Default)]
pub struct NetworkTracker {
    comments: HashMap<Uuid, Network>,
}

impl NetworkTracker {
    /// Folds one event of comment `id`'s stream.
    pub fn observe(&mut self, id: Uuid, event: &DomainEvent) {
        match event {
            DomainEvent::CommentSubmitted(s) => {
                self.comments.insert(
                    id,
                    Network {
                        day: s.submitted_at.date_naive(),
                        has_facts: !s.client.ip.is_empty() || s.client.user_agent.is_some(),
                        done: s.erased,
                    },
                );
            }
            DomainEvent::NetworkFactsDropped { .. } | DomainEvent::ReaderErased { .. } => {
                if let Some(n) = self.comments.get_mut(&id) {
                    n.done = true;
                }
            }
            _ => {}
        }
    }

    /// The comments submitted before `first_kept` (see [`first_kept_day`]) that still show
    /// network facts, in no particular order.
    pub fn due(&self, first_kept: NaiveDate) -> Vec<Uuid> {
        self.comments
            .iter()
            .filter(|(_, n)| !n.done && n.has_facts && n.day < first_kept)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Comments whose body was purged.
    pub purged: usize,
    /// Body keys deleted with them (fewer than `purged` when some were sealed before body
    /// keys existed, or a pass cut short deleted them already).
    pub body_keys_deleted: usize,
    /// Comments whose network facts were dropped.
    pub network_dropped: usize,
    /// Day keys deleted.
    pub day_keys_deleted: usize,
    /// The log position of the last event appended, for a caller that waits for projections.
    #[serde(skip)]
    pub last_position: Option<u64>,
}

/// Why a retention pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key file failed.
    #[error(transparent)]
    Keys(#[from] super::keys::KeyError),
}

/// Applies every retention setting that is on (not `0`) at `now` in one pass over the log:
/// purges old spam and rejected bodies, drops the network facts of comments from days
/// `network_days` old (a `NetworkFactsDropped` each, so projections and moderator views forget
/// them), and then deletes those days' keys, so the sealed facts no longer open in the log,
/// in an export or in a backup made afterwards. The events come before the keys' deletion: a
/// pass cut short leaves keys, and the next pass, which reads the facts again, finishes.
pub async fn apply(
    store: &dyn EventStore,
    settings: &crate::config::PrivacySettings,
    now: DateTime<Utc>,
) -> Result<RetentionReport, RetentionError> {
    let (purge_days, network_days) = (settings.purge_spam_days, settings.network_days);
    let mut report = RetentionReport::default();
    if purge_days == 0 && network_days == 0 {
        return Ok(report);
    }
    let mut purge = PurgeTracker::default();
    let mut network = NetworkTracker::default();
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
                purge.observe(id, &event, recorded.recorded_at);
                network.observe(id, &event);
            }
        }
    }
    if purge_days > 0 {
        let mut due = purge.due(now, purge_days);
        due.sort_unstable();
        // The keys first: a pass cut short after them leaves comments still due (no
        // `BodyPurged` yet), and the next pass appends it; the other way round, a comment
        // marked purged would keep a body that opens.
        for chunk in due.chunks(SHRED_CHUNK) {
            let streams: Vec<String> = chunk.iter().map(|id| comment_stream(*id)).collect();
            report.body_keys_deleted += store.shred_bodies(&streams).await?;
        }
        for id in due {
            let event = DomainEvent::BodyPurged { at: now };
            report.last_position = Some(super::append(store, &comment_stream(id), event).await?);
            report.purged += 1;
        }
    }
    if network_days > 0 {
        let first_kept = first_kept_day(now, network_days);
        let mut due = network.due(first_kept);
        due.sort_unstable();
        for id in due {
            let event = DomainEvent::NetworkFactsDropped { at: now };
            report.last_position = Some(super::append(store, &comment_stream(id), event).await?);
            report.network_dropped += 1;
        }
        if let Some(keys) = store.privacy_keys() {
            report.day_keys_deleted =
                tokio::task::spawn_blocking(move || keys.delete_days_before(first_kept))
                    .await
                    .map_err(|e| StoreError::Backend(format!("deleting day keys: {e}")))??;
        }
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

    fn submitted(day: i64, ip: &str) -> DomainEvent {
        DomainEvent::CommentSubmitted(crate::domain::Submission {
            comment_id: Uuid::from_u128(1),
            thread: "t".into(),
            parent_id: None,
            author_name: "Sari".into(),
            author_email: "sari@contoh.id".into(),
            author_url: None,
            body: "Halo".into(),
            client: crate::domain::ClientFacts {
                ip: ip.into(),
                user_agent: None,
            },
            captcha_solve_ms: 1,
            pow: None,
            known_reader: None,
            lang: crate::i18n::Lang::Id,
            submitted_at: at(day),
            erased: false,
        })
    }

    #[test]
    fn network_facts_are_due_once_their_whole_day_is_old_enough_and_only_once() {
        let (old, new, dropped, erased, bare) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
            Uuid::from_u128(5),
        );
        let mut t = NetworkTracker::default();
        t.observe(old, &submitted(0, "203.0.113.9"));
        t.observe(new, &submitted(20, "203.0.113.9"));
        t.observe(dropped, &submitted(0, "203.0.113.9"));
        t.observe(dropped, &DomainEvent::NetworkFactsDropped { at: at(31) });
        t.observe(erased, &submitted(0, "203.0.113.9"));
        t.observe(
            erased,
            &DomainEvent::ReaderErased {
                by: Actor::Moderator("ayu".into()),
                at: at(1),
            },
        );
        t.observe(bare, &submitted(0, ""));
        let day0 = at(0).date_naive();
        let next_midnight = day0
            .succ_opt()
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        // Day 0 ends at the next midnight; 30 days after that its facts are due, not before.
        assert!(
            t.due(first_kept_day(
                next_midnight + Duration::days(30) - Duration::seconds(1),
                30
            ))
            .is_empty()
        );
        assert_eq!(
            t.due(first_kept_day(next_midnight + Duration::days(30), 30)),
            vec![old]
        );
        let mut later = t.due(first_kept_day(at(60), 30));
        later.sort_unstable();
        assert_eq!(later, vec![old, new]);
    }

    proptest! {
        /// A comment's network facts are due at `now` exactly when the whole UTC day it was
        /// submitted on ended at least `days` days before `now`, and never once dropped.
        #[test]
        fn network_facts_are_due_once_their_day_has_ended_days_ago(
            submitted_secs in 0i64..10_000_000, later_secs in 0i64..10_000_000,
            days in 0u32..60, dropped in any::<bool>(),
        ) {
            let id = Uuid::from_u128(1);
            let submitted_at = at(0) + Duration::seconds(submitted_secs);
            let now = submitted_at + Duration::seconds(later_secs);
            let mut event = submitted(0, "203.0.113.9");
            if let DomainEvent::CommentSubmitted(s) = &mut event {
                s.submitted_at = submitted_at;
            }
            let mut t = NetworkTracker::default();
            t.observe(id, &event);
            if dropped {
                t.observe(id, &DomainEvent::NetworkFactsDropped { at: now });
            }
            let day_end = submitted_at.date_naive().succ_opt().unwrap().and_hms_opt(0, 0, 0)
                .unwrap().and_utc();
            let expected = !dropped && day_end + Duration::days(i64::from(days)) <= now;
            prop_assert_eq!(t.due(first_kept_day(now, days)) == vec![id], expected);
        }

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
