//! The audit log: every moderator decision, wave decision, ban, thread change and policy
//! activation, who and when, read from the event log itself (nothing is written twice).
//!
//! A bounded window in memory: at start the last [`AUDIT_SCAN_POSITIONS`] log positions are read
//! (not the whole log, which the projections database exists to avoid), then new events every
//! few seconds; at most [`MAX_AUDIT_ENTRIES`] entries are kept, the oldest dropped first. The
//! status before and after a comment decision is folded from the comment's own stream when a
//! page is shown, so it is exact however old the comment is.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde::Serialize;
use uuid::Uuid;

use super::{Service, codec};
use crate::domain::{Actor, DomainEvent, comment};
use crate::store::StoreError;

/// Log positions read back at start.
pub const AUDIT_SCAN_POSITIONS: u64 = 200_000;
/// Entries kept in memory.
pub const MAX_AUDIT_ENTRIES: usize = 50_000;
/// Entries one page shows at most.
pub const MAX_AUDIT_PAGE: usize = 200;

/// One audited fact.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Log position (the paging cursor).
    pub position: u64,
    /// The event type.
    pub event: String,
    /// The moderator's name, or `system`.
    pub by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The reason given, if any.
    pub reason: String,
    /// The comment, for a decision.
    #[schema(value_type = Option<String>)]
    pub comment: Option<Uuid>,
    /// The thread, for a thread change.
    pub thread: Option<String>,
    /// What changed, for bans and settings (`email lama@contoh.id`, `on`, a policy version).
    pub detail: Option<String>,
    /// Stream and revision, to fold the comment's status before and after.
    #[serde(skip)]
    stream: String,
    #[serde(skip)]
    revision: u64,
}

/// An entry as a page shows it: with the comment's author and its status around the decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditLine {
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The comment's author email (moderators only).
    pub author: Option<String>,
    /// The comment's status before the decision.
    #[schema(value_type = Option<String>)]
    pub before: Option<&'static str>,
    /// And after it.
    #[schema(value_type = Option<String>)]
    pub after: Option<&'static str>,
}

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this moderator's entries.
    pub moderator: Option<crate::domain::values::ModeratorName>,
    /// Only this comment's.
    pub comment: Option<crate::domain::values::CommentId>,
    /// Only decisions on comments of this author email.
    pub author: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Entries with a position below this (the previous page's last).
    pub before_position: Option<u64>,
}

/// Figures of one moderator over the window.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ModeratorFigures {
    /// Comment decisions made.
    pub decisions: u64,
    /// Of those, how many a colleague later decided otherwise.
    pub reversed_by_colleagues: u64,
    /// Median seconds from a comment's arrival to this moderator's decision.
    pub median_seconds_to_decision: Option<i64>,
}

/// The in-memory window.
#[derive(Debug, Default)]
pub struct Audit {
    inner: RwLock<Window>,
}

#[derive(Debug, Default)]
struct Window {
    entries: VecDeque<AuditEntry>,
    next_position: Option<u64>,
    /// The matched rules of comments screened in the window, and the direction of the last
    /// moderator decision on each; at most [`MAX_AUDIT_ENTRIES`] comments, oldest dropped.
    screened: HashMap<Uuid, Screened>,
    screened_order: VecDeque<Uuid>,
}

#[derive(Debug, Default)]
struct Screened {
    /// Rule id and whether it pushed towards spam (a positive score).
    rules: Vec<(String, bool)>,
    /// `Some(true)`: a moderator last made it visible; `Some(false)`: took it down.
    visible_by_moderator: Option<bool>,
}

/// Figures of one rule over the window.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RuleFigures {
    /// The rule id.
    pub rule: String,
    /// Comments it matched.
    pub hits: u64,
    /// Of those, how many a moderator decided against it: approved although the rule scored
    /// towards spam, or took down although it scored towards publishing.
    pub overturned: u64,
}

impl Window {
    /// Keeps what per-rule figures need from one event.
    fn note(&mut self, stream: &str, event: &DomainEvent) {
        let Some(id) = comment::id_from_stream(stream) else {
            return;
        };
        let visible = match event {
            DomainEvent::CommentScreened { verdict, .. } => {
                if self.screened.len() >= MAX_AUDIT_ENTRIES
                    && let Some(old) = self.screened_order.pop_front()
                {
                    self.screened.remove(&old);
                }
                self.screened_order.push_back(id);
                self.screened.insert(
                    id,
                    Screened {
                        rules: verdict
                            .rules
                            .iter()
                            .map(|r| (r.id.clone(), r.score > 0.0))
                            .collect(),
                        visible_by_moderator: None,
                    },
                );
                return;
            }
            DomainEvent::CommentApproved { by, .. }
            | DomainEvent::CommentMarkedNotSpam { by, .. } => (by, true),
            DomainEvent::CommentRejected { by, .. }
            | DomainEvent::CommentMarkedSpam { by, .. }
            | DomainEvent::CommentDeleted { by, .. } => (by, false),
            _ => return,
        };
        if let (Actor::Moderator(_), Some(s)) = (visible.0, self.screened.get_mut(&id)) {
            s.visible_by_moderator = Some(visible.1);
        }
    }
}

fn actor_name(a: &Actor) -> String {
    match a {
        Actor::Moderator(n) => n.clone(),
        Actor::System => "system".into(),
    }
}

/// The entry an event makes, if it is audited.
fn entry_of(recorded: &crate::store::RecordedEvent, event: &DomainEvent) -> Option<AuditEntry> {
    let base = |by: &Actor, at: DateTime<Utc>, reason: &str| AuditEntry {
        position: recorded.position,
        event: event.event_type().to_string(),
        by: actor_name(by),
        at,
        reason: reason.to_string(),
        comment: comment::id_from_stream(&recorded.stream),
        thread: None,
        detail: None,
        stream: recorded.stream.clone(),
        revision: recorded.revision,
    };
    let entry = match event {
        DomainEvent::CommentApproved { by, reason, at }
        | DomainEvent::CommentRejected { by, reason, at }
        | DomainEvent::CommentMarkedSpam { by, reason, at }
        | DomainEvent::CommentMarkedNotSpam { by, reason, at }
        | DomainEvent::CommentDeleted { by, reason, at }
        | DomainEvent::CommentRestored { by, reason, at }
        | DomainEvent::CommentRequeued { by, reason, at } => {
            // The filter's own spam and reject at submission are verdicts, not decisions.
            if !matches!(by, Actor::Moderator(_)) {
                return None;
            }
            base(by, *at, reason)
        }
        DomainEvent::ThreadClosed { thread, by, at }
        | DomainEvent::ThreadReopened { thread, by, at } => AuditEntry {
            thread: Some(thread.clone()),
            ..base(by, *at, "")
        },
        DomainEvent::ThreadPremoderationSet { thread, on, by, at } => AuditEntry {
            thread: Some(thread.clone()),
            detail: Some(if *on { "on" } else { "off" }.into()),
            ..base(by, *at, "")
        },
        DomainEvent::BanPlaced {
            id,
            target,
            reason,
            expires_at,
            by,
            at,
            ..
        } => AuditEntry {
            detail: Some(format!(
                "{id} {} {}{}",
                target.kind(),
                target.value(),
                expires_at.map_or(String::new(), |e| format!(" until {}", e.to_rfc3339()))
            )),
            ..base(by, *at, reason)
        },
        DomainEvent::BanLifted { id, reason, by, at } => AuditEntry {
            detail: Some(id.to_string()),
            ..base(by, *at, reason)
        },
        DomainEvent::ReaderErased { by, at } => base(by, *at, ""),
        DomainEvent::BodyPurged { at } | DomainEvent::NetworkFactsDropped { at } => {
            base(&Actor::System, *at, "")
        }
        DomainEvent::ReaderDataExported { comments, by, at } => AuditEntry {
            detail: Some(format!("{comments} comments")),
            ..base(by, *at, "")
        },
        DomainEvent::WaveDecided {
            wave,
            action,
            comments,
            reason,
            by,
            at,
        } => AuditEntry {
            detail: Some(format!("wave {wave}: {} × {comments}", action.as_str())),
            ..base(by, *at, reason)
        },
        DomainEvent::PolicyActivated { version, at, .. } => AuditEntry {
            detail: Some(version.clone()),
            ..base(&Actor::System, *at, "")
        },
        _ => return None,
    };
    Some(entry)
}

fn status_of(state: &comment::CommentState) -> Option<&'static str> {
    state.status.map(crate::domain::CommentStatus::as_str)
}

impl Service {
    /// Reads the log from where the window ends (at start: [`AUDIT_SCAN_POSITIONS`] back).
    pub async fn refresh_audit(&self) -> Result<(), StoreError> {
        let mut from = match self.audit.inner.read().next_position {
            Some(p) => p,
            None => self.view().position().saturating_sub(AUDIT_SCAN_POSITIONS),
        };
        loop {
            // Submissions are never audit entries nor noted by the window: left unopened.
            let page = self
                .store()
                .read_all_skipping(from, 1_000, std::sync::Arc::new(|_: &str| true))
                .await?;
            let Some(last) = page.last() else {
                self.audit.inner.write().next_position = Some(from);
                return Ok(());
            };
            from = last.position + 1;
            let first = page[0].position;
            // Decoded, and the page freed, on the blocking pool: a page of a thousand events
            // takes milliseconds to decode and free, which on an async worker holds up every
            // request queued behind it (docs/loadtest.md, "Reads while the follower folds a
            // backlog"). Submissions are kept only if audited: the window notes none.
            let decoded: Vec<(String, DomainEvent, Option<AuditEntry>)> =
                tokio::task::spawn_blocking(move || {
                    page.iter()
                        .filter(|r| !crate::store::is_skipped_submission(r))
                        .filter_map(|r| {
                            let e = codec::decode_recorded(r)?;
                            let entry = entry_of(r, &e);
                            (entry.is_some() || !matches!(e, DomainEvent::CommentSubmitted(_)))
                                .then(|| (r.stream.clone(), e, entry))
                        })
                        .collect()
                })
                .await
                .map_err(|e| StoreError::Backend(format!("decoding the audit window: {e}")))?;
            let mut window = self.audit.inner.write();
            if window.next_position.is_some_and(|p| p > first) {
                // Another refresh read this page first.
                continue;
            }
            for (stream, e, _) in &decoded {
                window.note(stream, e);
            }
            let entries = decoded.into_iter().filter_map(|(_, _, entry)| entry);
            for e in entries {
                if window
                    .entries
                    .back()
                    .is_some_and(|b| b.position >= e.position)
                {
                    continue;
                }
                if window.entries.len() == MAX_AUDIT_ENTRIES {
                    window.entries.pop_front();
                }
                window.entries.push_back(e);
            }
            window.next_position = Some(from);
        }
    }

    /// The entries matching `filter`, newest first, at most `limit`, with each decision's
    /// status before and after folded from its comment's stream.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        limit: usize,
    ) -> Result<Vec<AuditLine>, StoreError> {
        self.refresh_audit().await?;
        let author = filter.author.as_deref().map(str::to_lowercase);
        let picked: Vec<(AuditEntry, Option<String>)> = {
            let window = self.audit.inner.read();
            // A failed read is a `503`, not lines without their authors (which an author
            // filter would then drop as if they were someone else's).
            self.view().read_or_fail(|p| {
                window
                    .entries
                    .iter()
                    .rev()
                    .filter(|e| filter.before_position.is_none_or(|b| e.position < b))
                    .filter(|e| filter.moderator.as_ref().is_none_or(|m| e.by == m.as_str()))
                    .filter(|e| filter.comment.is_none_or(|c| e.comment == Some(c.uuid())))
                    .filter(|e| filter.since.is_none_or(|s| e.at >= s))
                    .filter(|e| filter.until.is_none_or(|u| e.at < u))
                    .map(|e| {
                        let email = e.comment.and_then(|c| p.comment(c)).map(|r| r.author_email);
                        (e, email)
                    })
                    .filter(|(_, email)| {
                        author
                            .as_deref()
                            .is_none_or(|a| email.as_deref() == Some(a))
                    })
                    .take(limit.min(MAX_AUDIT_PAGE))
                    .map(|(e, email)| (e.clone(), email))
                    .collect()
            })?
        };
        let mut lines = Vec::with_capacity(picked.len());
        for (entry, author) in picked {
            let (before, after) = if entry.comment.is_some() {
                let loaded = self.shell.load(&entry.stream, comment::evolve).await?;
                let mut state = comment::CommentState::default();
                let (mut before, mut after) = (None, None);
                for r in &loaded.recorded {
                    if r.revision > entry.revision {
                        break;
                    }
                    if r.revision == entry.revision {
                        before = status_of(&state);
                    }
                    if let Some(e) = codec::decode_recorded(r) {
                        state = comment::evolve(state, &e);
                    }
                    if r.revision == entry.revision {
                        after = status_of(&state);
                    }
                }
                (before, after)
            } else {
                (None, None)
            };
            lines.push(AuditLine {
                entry,
                author,
                before,
                after,
            });
        }
        Ok(lines)
    }

    /// Per-rule figures over the window, most hits first.
    pub fn rule_figures(&self) -> Vec<RuleFigures> {
        let window = self.audit.inner.read();
        let mut by_rule: HashMap<&str, RuleFigures> = HashMap::new();
        for s in window.screened.values() {
            for (rule, towards_spam) in &s.rules {
                let f = by_rule.entry(rule).or_insert_with(|| RuleFigures {
                    rule: rule.clone(),
                    ..RuleFigures::default()
                });
                f.hits += 1;
                if s.visible_by_moderator == Some(*towards_spam) {
                    f.overturned += 1;
                }
            }
        }
        let mut out: Vec<RuleFigures> = by_rule.into_values().collect();
        out.sort_by(|a, b| b.hits.cmp(&a.hits).then(a.rule.cmp(&b.rule)));
        out
    }

    /// Per-moderator figures over the window: decisions, reversals by colleagues, median time
    /// from arrival to decision; an error if the comments' arrival times could not be read
    /// (not medians computed without them).
    pub fn moderator_figures(&self) -> Result<Vec<(String, ModeratorFigures)>, StoreError> {
        let window = self.audit.inner.read();
        let decisions: Vec<&AuditEntry> = window
            .entries
            .iter()
            .filter(|e| e.comment.is_some())
            .collect();
        let mut figures: HashMap<String, ModeratorFigures> = HashMap::new();
        let mut waits: HashMap<String, Vec<i64>> = HashMap::new();
        // The next decision on the same comment, to see whether a colleague changed it.
        let mut later: HashMap<Uuid, &AuditEntry> = HashMap::new();
        let arrivals: HashMap<Uuid, DateTime<Utc>> = self.view().read_or_fail(|p| {
            decisions
                .iter()
                .filter_map(|e| e.comment)
                .filter_map(|c| p.comment(c).map(|r| (c, r.created_at)))
                .collect()
        })?;
        for e in decisions.iter().rev() {
            let Some(c) = e.comment else { continue };
            let f = figures.entry(e.by.clone()).or_default();
            f.decisions += 1;
            if let Some(next) = later.get(&c)
                && next.by != e.by
                && next.event != e.event
            {
                f.reversed_by_colleagues += 1;
            }
            if let Some(arrived) = arrivals.get(&c) {
                waits
                    .entry(e.by.clone())
                    .or_default()
                    .push((e.at - *arrived).num_seconds());
            }
            later.insert(c, e);
        }
        let mut out: Vec<(String, ModeratorFigures)> = figures
            .into_iter()
            .map(|(name, mut f)| {
                if let Some(w) = waits.get_mut(&name) {
                    w.sort_unstable();
                    f.median_seconds_to_decision = w.get(w.len() / 2).copied();
                }
                (name, f)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

#[cfg(test)]
impl AuditEntry {
    /// A decision entry with every field set, for tests outside this module (the OpenAPI
    /// document's schema is held to what an entry serialises to).
    pub fn example() -> Self {
        AuditEntry {
            position: 7,
            event: "CommentApproved".into(),
            by: "sari".into(),
            at: Utc::now(),
            reason: "ok".into(),
            comment: Some(Uuid::new_v4()),
            thread: Some("berita-1".into()),
            detail: Some("on".into()),
            stream: "comment-x".into(),
            revision: 1,
        }
    }
}
