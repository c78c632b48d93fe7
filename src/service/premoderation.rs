//! Thread settings beyond close and reopen: threads whose every new comment is held for a
//! moderator, and the site-wide "close threads N days after their first comment".
//!
//! The pre-moderated threads are the folded [`PREMODERATION_STREAM`], kept in memory and read
//! again from the last revision after this process's own changes and on the ban timer, like
//! the bans (see [`super::bans`]).

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use super::{CommandError, CommandKind, Screened, Service, codec};
use crate::domain::premoderation::{
    self, PREMODERATION_STREAM, PremoderationError, PremoderationState,
};
use crate::domain::values::ThreadKey;
use crate::policy::Outcome;
use crate::store::StoreError;
use crate::store::projection_db::ProjectionDbError;

/// The id of the pseudo-rule a verdict carries when its thread is pre-moderated.
pub const THREAD_PREMODERATED_RULE: &str = super::hold_rules::THREAD_PREMODERATED.id;

/// The in-memory set of pre-moderated threads.
#[derive(Debug, Default)]
pub struct Premoderated {
    inner: RwLock<(PremoderationState, u64)>,
}

/// A pre-moderation change that did not go through.
pub type PremoderationFailure = CommandError<PremoderationError>;

impl Service {
    /// Reads the pre-moderation stream from where this process left off.
    pub async fn refresh_premoderation(&self) -> Result<(), StoreError> {
        loop {
            let from = self.premoderated.inner.read().1;
            let page = self
                .store()
                .read_stream(PREMODERATION_STREAM, from, 500)
                .await?;
            if page.is_empty() {
                return Ok(());
            }
            let mut folded = self.premoderated.inner.write();
            for recorded in &page {
                if recorded.revision < folded.1 {
                    continue;
                }
                if let Some(event) = codec::decode_recorded(recorded) {
                    folded.0 = premoderation::evolve(std::mem::take(&mut folded.0), &event);
                }
                folded.1 = recorded.revision + 1;
            }
        }
    }

    /// Whether every new comment of `thread` is held.
    pub fn is_premoderated(&self, thread: &str) -> bool {
        self.premoderated.inner.read().0.threads.contains(thread)
    }

    /// The pre-moderated threads, in key order.
    pub fn premoderated_threads(&self) -> Vec<String> {
        self.premoderated
            .inner
            .read()
            .0
            .threads
            .iter()
            .cloned()
            .collect()
    }

    /// Holds (`on`) or stops holding every new comment of `thread`.
    pub async fn set_premoderation(
        &self,
        thread: &ThreadKey,
        on: bool,
        moderator: &crate::domain::values::ModeratorName,
    ) -> Result<(), PremoderationFailure> {
        self.shell
            .execute(
                PREMODERATION_STREAM,
                CommandKind::Retry,
                premoderation::evolve,
                |loaded| {
                    premoderation::decide(&loaded.state, thread.as_str(), on, moderator, Utc::now())
                },
            )
            .await?;
        self.refresh_premoderation().await?;
        Ok(())
    }

    /// Whether the site's "close after N days" has closed `thread` at `now`: its first visible
    /// comment is older than `close_after_days`. An error if that comment could not be read (a
    /// thread is never taken for open because its first comment was not found).
    pub async fn closed_by_age(
        &self,
        thread: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ProjectionDbError> {
        let days = self.thread_settings().close_after_days;
        if days == 0 {
            return Ok(false);
        }
        // An indexed lookup, but still a file read that can wait on the disk: on the read pool.
        let thread = thread.to_owned();
        let first = self
            .view()
            .query(move |p| p.first_visible_at(&thread))
            .await?;
        Ok(first.is_some_and(|at| now - at > chrono::Duration::days(i64::from(days))))
    }
}

/// In a pre-moderated thread a comment the policy would publish is held, with the reason in
/// its verdict; spam and reject stay as they are. Trusted authors are held too: that is what
/// the moderator asked for.
pub(super) fn hold_premoderated(screened: &mut Screened, premoderated: bool) {
    if !premoderated || screened.verdict.outcome != Outcome::Accept {
        return;
    }
    super::hold_rules::THREAD_PREMODERATED.hold(&mut screened.verdict, None);
    metrics::counter!("saring_comments_held_by_thread_total").increment(1);
}
