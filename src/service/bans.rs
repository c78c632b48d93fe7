//! Bans in the service: the folded `bans` stream kept in memory with its lookup index, the
//! check every submission passes, and placing and lifting bans through the command shell.
//!
//! The list is folded from the store at start and after each of this process's own appends;
//! [`Service::refresh_bans`] also runs on a timer so that bans placed on another replica take
//! effect here within seconds. The follower that feeds the projections is not involved: the
//! projections ignore ban events.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde::Serialize;
use uuid::Uuid;

use super::view::View;
use super::{CommandError, CommandKind, DecisionRefusal, Service, codec};
use crate::domain::ban::{
    self, BANS_STREAM, Ban, BanCommand, BanError, BanIndex, BanState, BanSubject, BanTarget,
};
use crate::domain::values::CommentId;
use crate::domain::{ModeratorAction, input};
use crate::store::StoreError;
use crate::store::projection_db::ProjectionDbError;

/// Comments one ban moves to spam at most when asked to; a ban on a large address range
/// should not turn into an unbounded burst of appends. The answer says how many are left.
pub const MAX_SPAMMED_PER_BAN: usize = 2_000;

/// Events read from the bans stream per store call.
const READ_PAGE: usize = 500;

/// The in-memory ban list.
#[derive(Debug, Default)]
pub struct Bans {
    inner: RwLock<Folded>,
}

#[derive(Debug, Default)]
struct Folded {
    state: BanState,
    index: BanIndex,
    /// The next recorded revision to read (events this version cannot decode count too).
    next_revision: u64,
}

/// A ban as the API and the console show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Ban)]
pub struct BanView {
    /// The ban's id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// `email`, `email_domain`, `address`, `cidr`, `url_domain` or `name`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// What it matches, normalised.
    pub value: String,
    /// The moderator's reason.
    pub reason: String,
    /// When it ends; `null`: until lifted.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it is in force now (false once expired).
    pub active: bool,
    /// Whether the author's comments were moved to spam when it was placed.
    pub spam_existing: bool,
    /// Who placed it.
    pub by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

impl BanView {
    fn of(b: &Ban, now: DateTime<Utc>) -> BanView {
        BanView {
            id: b.id,
            kind: b.target.kind(),
            value: b.target.value(),
            reason: b.reason.clone(),
            expires_at: b.expires_at,
            active: b.active_at(now),
            spam_existing: b.spam_existing,
            by: match &b.by {
                crate::domain::Actor::Moderator(n) => n.clone(),
                crate::domain::Actor::System => "system".into(),
            },
            at: b.at,
        }
    }
}

/// A ban to place, as a moderator asked for it.
#[derive(Debug, Clone)]
pub struct PlaceBan {
    /// What it matches.
    pub target: BanTarget,
    /// Why (private; at most [`input::MAX_REASON_CHARS`] characters are kept).
    pub reason: String,
    /// When it ends; `None`: until lifted.
    pub expires_at: Option<DateTime<Utc>>,
    /// Move the author's visible and pending comments to spam now.
    pub spam_existing: bool,
}

/// What placing a ban did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlacedBan {
    /// The ban.
    pub ban: BanView,
    /// Comments moved to spam.
    pub spammed: usize,
    /// Matching comments not moved: beyond [`MAX_SPAMMED_PER_BAN`], or decided by a colleague
    /// at the same moment.
    pub spam_left: usize,
}

/// A ban command that did not go through.
pub type BanFailure = CommandError<BanError>;

impl Service {
    /// Reads the bans stream from where this process left off and folds what is new.
    pub async fn refresh_bans(&self) -> Result<(), StoreError> {
        loop {
            let from = self.bans.inner.read().next_revision;
            let page = self
                .store()
                .read_stream(BANS_STREAM, from, READ_PAGE)
                .await?;
            if page.is_empty() {
                return Ok(());
            }
            let mut folded = self.bans.inner.write();
            // Another refresh may have folded this page meanwhile.
            for recorded in &page {
                if recorded.revision < folded.next_revision {
                    continue;
                }
                if let Some(event) = codec::decode_recorded(recorded) {
                    folded.state = ban::evolve(std::mem::take(&mut folded.state), &event);
                }
                folded.next_revision = recorded.revision + 1;
            }
            folded.index = BanIndex::build(&folded.state);
        }
    }

    /// The id of a ban in force that matches this author, if any.
    pub fn ban_matching(&self, who: &BanSubject<'_>, now: DateTime<Utc>) -> Option<Uuid> {
        self.bans.inner.read().index.find(who, now)
    }

    /// Bans placed and not lifted (expired ones until the next ban drops them), newest first,
    /// whose value or reason contains `query` (case-insensitively; empty matches all).
    pub fn list_bans(&self, query: &str, now: DateTime<Utc>) -> Vec<BanView> {
        let needle = query.trim().to_lowercase();
        let folded = self.bans.inner.read();
        let mut list: Vec<BanView> = folded
            .state
            .bans
            .values()
            .filter(|b| {
                needle.is_empty()
                    || b.target.value().to_lowercase().contains(&needle)
                    || b.reason.to_lowercase().contains(&needle)
                    || b.target.kind() == needle
            })
            .map(|b| BanView::of(b, now))
            .collect();
        list.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
        list
    }

    /// Places a ban; with `spam_existing`, moves the author's visible and pending comments to
    /// spam (each at the version the projections show, so a colleague's decision in between
    /// wins and is counted in `spam_left`). The comments are found before the ban is stored,
    /// so one posted in the moment between escapes the sweep (it also passed the ban check).
    pub async fn place_ban(
        &self,
        request: PlaceBan,
        moderator: &crate::domain::values::ModeratorName,
    ) -> Result<PlacedBan, BanFailure> {
        let id = Uuid::new_v4();
        let reason: String = request
            .reason
            .chars()
            .take(input::MAX_REASON_CHARS)
            .collect();
        // The sweep reads the published and pending queues page by page from the projection
        // database (blocking work, so off the async workers), and before the ban is stored: a
        // queue that cannot be read refuses the placing (`503`) with nothing stored, so the
        // moderator's retry places it and sweeps, instead of a stored ban whose sweep found
        // nothing to move (or a retry refused as a duplicate).
        let matching = if request.spam_existing {
            let (view, target) = (self.view().clone(), request.target.clone());
            let found = tokio::task::spawn_blocking(move || comments_matching(&view, &target))
                .await
                .map_err(|e| StoreError::Invalid(format!("the ban's sweep failed: {e}")))?
                .map_err(StoreError::from)?;
            Some(found)
        } else {
            None
        };
        let appended = self
            .shell
            .execute(BANS_STREAM, CommandKind::Retry, ban::evolve, |loaded| {
                ban::decide(
                    &loaded.state,
                    BanCommand::Place {
                        id,
                        target: request.target.clone(),
                        reason: reason.clone(),
                        expires_at: request.expires_at,
                        spam_existing: request.spam_existing,
                        moderator: moderator.clone(),
                        now: Utc::now(),
                    },
                )
            })
            .await?;
        self.refresh_bans().await?;
        metrics::counter!("saring_bans_placed_total", "kind" => request.target.kind()).increment(1);
        let now = Utc::now();
        let ban = appended
            .state
            .bans
            .get(&id)
            .map(|b| BanView::of(b, now))
            .ok_or_else(|| StoreError::Invalid("the placed ban is not in its own fold".into()))?;
        let (mut spammed, mut spam_left) = (0, 0);
        if let Some(matching) = matching {
            spam_left = matching.len().saturating_sub(MAX_SPAMMED_PER_BAN);
            for (comment, version) in matching.into_iter().take(MAX_SPAMMED_PER_BAN) {
                let reason = format!("ban {id}");
                match self
                    .decide(comment, ModeratorAction::Spam, moderator, &reason, version)
                    .await
                {
                    Ok(_) => spammed += 1,
                    Err(CommandError::Refused(
                        DecisionRefusal::Stale(_)
                        | DecisionRefusal::NotFound
                        | DecisionRefusal::Illegal(_),
                    )) => spam_left += 1,
                    Err(CommandError::Refused(other)) => {
                        tracing::warn!(%comment, error = %other, "a banned author's comment was not moved to spam");
                        spam_left += 1;
                    }
                    Err(CommandError::Failed(f)) => return Err(CommandError::Failed(f)),
                }
            }
        }
        Ok(PlacedBan {
            ban,
            spammed,
            spam_left,
        })
    }

    /// Lifts a ban.
    pub async fn lift_ban(
        &self,
        id: Uuid,
        moderator: &crate::domain::values::ModeratorName,
        reason: &str,
    ) -> Result<(), BanFailure> {
        let reason: String = reason.chars().take(input::MAX_REASON_CHARS).collect();
        self.shell
            .execute(BANS_STREAM, CommandKind::Retry, ban::evolve, |loaded| {
                ban::decide(
                    &loaded.state,
                    BanCommand::Lift {
                        id,
                        reason: reason.clone(),
                        moderator: moderator.clone(),
                        now: Utc::now(),
                    },
                )
            })
            .await?;
        self.refresh_bans().await?;
        metrics::counter!("saring_bans_lifted_total").increment(1);
        Ok(())
    }
}

/// Published and pending comments whose author the target names, with their versions,
/// oldest first; an error if a page of the queues could not be read.
fn comments_matching(
    view: &View,
    target: &BanTarget,
) -> Result<Vec<(CommentId, u64)>, ProjectionDbError> {
    let state = {
        let mut s = BanState::default();
        s.bans.insert(
            Uuid::nil(),
            Ban {
                id: Uuid::nil(),
                target: target.clone(),
                reason: String::new(),
                expires_at: None,
                spam_existing: false,
                by: crate::domain::Actor::System,
                at: Utc::now(),
            },
        );
        s
    };
    let index = BanIndex::build(&state);
    let now = Utc::now();
    view.read_or_fail(|p| {
        let mut found: Vec<(DateTime<Utc>, Uuid, u64)> = Vec::new();
        let every = crate::projections::search::QueueFilter::default();
        for queue in [
            crate::projections::search::ConsoleQueue::Published,
            crate::projections::search::ConsoleQueue::Pending,
        ] {
            p.scan_queue(queue, &every, |r| {
                let r = &r;
                let hit = {
                    let ip = r
                        .ip_key
                        .parse::<ipnet::IpNet>()
                        .map(|n| n.network())
                        .or_else(|_| r.ip_key.parse::<IpAddr>())
                        .ok();
                    let who = BanSubject {
                        email: &r.author_email,
                        name: &r.author_name,
                        url: r.author_url.as_deref(),
                        ip,
                    };
                    index.find(&who, now).is_some()
                };
                if hit {
                    found.push((r.created_at, r.id, r.version));
                }
                true
            });
        }
        found.sort_unstable();
        found
            .into_iter()
            .map(|(_, id, v)| (CommentId::from(id), v))
            .collect()
    })
}
